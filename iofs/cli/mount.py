"""``iofs mount`` and ``mount.fuse.iofs`` (what mount(8) runs for ``mount -t fuse.iofs`` and
/etc/fstab).

``iofs mount`` checks everything it can before it mounts (mount point, /dev/fuse, privileges,
config) and reports a problem as one line on stderr with a non-zero status: 2 for a bad config or
usage, 1 for anything else. Without ``--foreground`` it starts the daemon in the background and
returns only once the mount answers requests; the daemon logs to a file (``--log``, by default
``<state dir>/<mount point>.log``) and keeps its pid beside it for ``iofs umount``.
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import time
from typing import Any

from ..system import proc
from ..system.mounts import mount_type
from ..system.preflight import PreflightError, preflight
from ..system.state import StateError, open_nofollow, remove_pid_file, state_path, write_pid_file
from ..vfs import config
from .daemon import serve, setup_logging
from .errors import EXIT_FAIL, EXIT_USAGE, CliError

READY_WAIT = 60.0  # seconds the command waits for the daemon to answer

# mount(8) options that mean nothing to iofs and are dropped
MOUNT_OPTIONS_IGNORED = {
    "rw", "defaults", "auto", "noauto", "user", "nouser", "users", "async", "sync", "atime",
    "noatime", "relatime", "strictatime", "diratime", "nodiratime", "dev", "nodev", "suid",
    "nosuid", "exec", "noexec", "_netdev", "nofail", "x-systemd.automount",
}


def mount_point(arg: str) -> str:
    """The mount point a command names: absolute, and through a symbolic link to where the
    kernel mounts (the path /proc/self/mountinfo shows). A path that is itself a mount point
    is not resolved: resolving asks the mount, and a hung daemon would hang the command."""
    if not arg.strip():
        raise CliError("the mount point is empty (give a directory)", EXIT_USAGE)
    path = os.path.abspath(arg)
    return path if mount_type(path) is not None else os.path.realpath(path)


def _open_log(path: str, status: int) -> Any:
    try:
        fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except StateError as exc:
        raise CliError(str(exc), status) from None
    return os.fdopen(fd, "a", buffering=1)


def load_tree(config_path: str | None, source: str | None) -> config.Tree:
    """The tree of ``--config`` (the default tree without it) or, with ``--source DIR``, the
    host directory DIR as the whole mount (with the options and faults of ``--config``, if
    given). ConfigError: one line, exit 2, before anything is mounted."""
    if source is None:
        return config.load(config_path)
    tree = config.load(config_path) if config_path else config.parse("", "--source")
    return config.with_source(tree, source)


def cmd_mount(args: argparse.Namespace) -> int:
    mountpoint = mount_point(args.mountpoint)
    tree = load_tree(args.config, args.source)
    config.check_mountpoint(tree, mountpoint)
    try:
        preflight(mountpoint, args.allow_other)
    except PreflightError as exc:
        raise CliError(str(exc)) from None
    if args.foreground:
        return _run_foreground(mountpoint, tree, args)
    return _start_background(mountpoint, args)


def _run_foreground(mountpoint: str, tree: config.Tree, args: argparse.Namespace) -> int:
    stream = _open_log(args.log, EXIT_USAGE) if args.log else sys.stderr
    setup_logging(args.debug, stream)
    failure: list[str] = []

    def ready(message: str | None) -> None:
        if message is not None:
            failure.append(message)
        if args.ready_fd is not None:
            os.write(args.ready_fd, b"ok\n" if message is None else f"error: {message}\n".encode())

    try:
        write_pid_file(mountpoint, os.getpid(), proc.start_time(os.getpid()))
    except StateError as exc:
        ready(str(exc))
        raise CliError(str(exc)) from None
    try:
        status = serve(mountpoint, tree, debug=args.debug, allow_other=args.allow_other, ready=ready)
    finally:
        remove_pid_file(mountpoint)
    if failure:
        raise CliError(failure[0])
    return status


def daemon_env() -> dict[str, str]:
    """The environment of the daemon, which runs in /: this one, with every PYTHONPATH entry
    made absolute against this command's working directory (``PYTHONPATH=.`` names the
    directory the user was in, not /), and, if this command found the iofs package through
    its working directory (``python -m iofs`` in a checkout), that directory first."""
    env = dict(os.environ)
    entries = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if here not in [os.path.abspath(p) for p in sys.path[1:] if p] and here not in entries:
        entries.insert(0, here)
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    return env


def _start_background(mountpoint: str, args: argparse.Namespace) -> int:
    try:
        logpath = os.path.abspath(args.log) if args.log else state_path(mountpoint, "log")
    except StateError as exc:
        raise CliError(str(exc)) from None
    r, w = os.pipe()
    cmd = [sys.executable, "-m", "iofs", "mount", mountpoint, "--foreground",
           "--ready-fd", str(w), "--log", logpath]
    if args.config:
        cmd += ["--config", os.path.abspath(args.config)]
    if args.source:
        cmd += ["--source", os.path.abspath(args.source)]
    cmd += ["--debug"] * args.debug + ["--allow-other"] * args.allow_other
    with _open_log(logpath, EXIT_USAGE if args.log else EXIT_FAIL) as logf:
        daemon = subprocess.Popen(cmd, pass_fds=(w,), start_new_session=True,
                                  stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, cwd="/",
                                  env=daemon_env())
    os.close(w)
    text = _await_ready(r, daemon)
    if text == "ok":
        return 0
    if text.startswith("error: "):
        daemon.wait(timeout=30)
        raise CliError(f"{text[len('error: '):]} (log: {logpath})")
    if daemon.poll() is None:
        daemon.terminate()
        raise CliError(f"the daemon did not answer within {READY_WAIT:.0f} s (log: {logpath})")
    raise CliError(f"the daemon exited with status {daemon.returncode} before mounting "
                   f"(log: {logpath})")


def _await_ready(r: int, daemon: subprocess.Popen) -> str:
    """The daemon's one-line answer on the ready pipe ("" if it closed it or exited)."""
    answer = b""
    with os.fdopen(r, "rb") as pipe:
        deadline = time.monotonic() + READY_WAIT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([pipe], [], [], 0.5)
            if ready:
                chunk = os.read(pipe.fileno(), 4096)
                if not chunk:
                    break
                answer += chunk
                if answer.endswith(b"\n"):
                    break
            elif daemon.poll() is not None:
                break
    text = answer.decode(errors="replace").strip()
    if not text:  # the pipe closed: the daemon is exiting, or gone
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    return text


def register(sub: Any) -> None:
    m = sub.add_parser("mount", help="mount a device tree (the default tree, or --config FILE)")
    m.add_argument("mountpoint")
    m.add_argument("--config", metavar="FILE", help="TOML device tree (default: the built-in tree)")
    m.add_argument("--source", metavar="DIR",
                   help="serve the host directory DIR as the whole mount (with --config: its "
                        "options and faults)")
    m.add_argument("--foreground", "-f", action="store_true", help="stay attached; Ctrl-C unmounts")
    m.add_argument("--debug", action="store_true", help="log every FUSE request")
    m.add_argument("--allow-other", action="store_true", help="let other users (and containers' users) in")
    m.add_argument("--log", metavar="FILE", help="daemon log file (background default: under the state dir)")
    m.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    m.set_defaults(func=cmd_mount)


def helper_command(argv: list[str]) -> list[str] | str:
    """The ``iofs`` arguments for ``mount.fuse.iofs SOURCE MOUNTPOINT [-o OPTIONS]``, or the
    one-line reason it cannot be run."""
    positional: list[str] = []
    options: list[str] = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "-o" and args:
            options += [o for o in args.pop(0).split(",") if o]
        elif a.startswith("-o") and len(a) > 2:
            options += [o for o in a[2:].split(",") if o]
        elif a in ("-n", "-s", "-f", "-v"):  # mount(8)'s: no mtab, sloppy, fake, verbose
            continue
        else:
            positional.append(a)
    if len(positional) != 2:
        return ("usage: mount.fuse.iofs SOURCE MOUNTPOINT "
                "[-o config=FILE,source=DIR,allow_other,debug,log=FILE]")
    cmd = ["mount", positional[1]]
    flags = {"config": "--config", "source": "--source", "log": "--log",
             "allow_other": "--allow-other", "debug": "--debug"}
    for opt in options:
        key, eq, value = opt.partition("=")
        if key in ("config", "source", "log") and eq:
            cmd += [flags[key], value]
        elif key in ("allow_other", "debug") and not eq:
            cmd.append(flags[key])
        elif key in MOUNT_OPTIONS_IGNORED and not eq:
            continue
        else:
            return (f"iofs: unknown mount option {opt!r} "
                    "(config=FILE, source=DIR, log=FILE, allow_other, debug)")
    return cmd


__all__ = ["cmd_mount", "load_tree", "mount_point", "daemon_env", "helper_command", "register"]
