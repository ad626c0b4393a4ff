"""The ``iofs`` command: mount, umount, drivers.

``iofs mount`` checks everything it can before it mounts (mount point, /dev/fuse, privileges,
config) and reports a problem as one line on stderr with a non-zero status: 2 for a bad config or
usage, 1 for anything else. Without ``--foreground`` it starts the daemon in the background and
returns only once the mount answers requests; the daemon logs to a file (``--log``, by default
``<state dir>/<mount point>.log``) and keeps its pid beside it for ``iofs umount``.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from typing import Callable, Iterator

from . import config

EXIT_USAGE = 2
EXIT_FAIL = 1
CAP_SYS_ADMIN = 21


class CliError(Exception):
    """A failure to report as one line; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.status = status


# ---- where a mount keeps its pid and log -------------------------------------------------------

def state_dir() -> str:
    """Where pid and log files live: /run/iofs for root, else a 0700 directory of the user's
    own (``$XDG_RUNTIME_DIR/iofs`` or ``/tmp/iofs-UID``). A directory that another user owns,
    or that others may write to, is refused: its files could be swapped under us."""
    uid = os.geteuid()
    if uid == 0:
        base = "/run/iofs"
    else:
        base = os.path.join(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/iofs-{uid}", "iofs")
    try:
        os.makedirs(base, mode=0o755 if uid == 0 else 0o700, exist_ok=True)
    except OSError:
        base = f"/tmp/iofs-{uid}"
        try:
            os.mkdir(base, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise CliError(f"cannot make the state directory {base}: {exc.strerror}") from None
    try:
        st = os.lstat(base)
    except OSError as exc:
        raise CliError(f"cannot use the state directory {base}: {exc.strerror}") from None
    others = 0o022 if uid == 0 else 0o077
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & others:
        raise CliError(f"state directory {base} is not a directory of yours that only you can "
                       "change: refusing to keep pid and log files there")
    return base


def open_nofollow(path: str, flags: int, mode: int = 0o644, status: int = EXIT_FAIL) -> int:
    """os.open that refuses a symlink at ``path`` (one line, CliError with ``status``)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CliError(f"{path} is a symbolic link: refusing to follow it", status) from None
        raise CliError(f"cannot open {path}: {exc.strerror}", status) from None


def open_log(path: str, status: int = EXIT_FAIL):
    """The log file at ``path`` for appending, never through a symlink. ``status``: the exit
    status if it cannot be opened (EXIT_USAGE for a path the user named with --log)."""
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600, status)
    return os.fdopen(fd, "a", buffering=1)


def _state_file(mountpoint: str, suffix: str) -> str:
    tag = mountpoint.strip("/").replace("/", "_")[-60:] or "root"
    digest = hashlib.sha1(mountpoint.encode()).hexdigest()[:8]
    return os.path.join(state_dir(), f"{tag}-{digest}.{suffix}")


def pid_file(mountpoint: str) -> str:
    return _state_file(mountpoint, "pid")


def log_file(mountpoint: str) -> str:
    return _state_file(mountpoint, "log")


# ---- checks before mounting --------------------------------------------------------------------

def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape") if "\\" in field else field


def _mountinfo(path: str) -> tuple[str, set[str]] | None:
    """(type, mount options) of the mount exactly at ``path`` (the topmost), or None."""
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) >= 6 and _unescape(fields[4]) == path:
            found = (right.split()[0] if right else "?", set(fields[5].split(",")))
    return found


def mount_type(path: str) -> str | None:
    """The filesystem type mounted exactly at ``path`` (from /proc/self/mountinfo), or None."""
    info = _mountinfo(path)
    return info[0] if info else None


def mount_options(path: str) -> set[str]:
    """The per-mount options (rw, nodev, nosuid, ...) of the mount at ``path``."""
    info = _mountinfo(path)
    return info[1] if info else set()


def _has_cap(cap: int) -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> cap & 1)
    except OSError:
        pass
    return True  # cannot tell: let the mount itself say


def preflight(mountpoint: str, allow_other: bool) -> None:
    """Raise CliError with one clear line if mounting at ``mountpoint`` cannot work."""
    try:
        os.stat(mountpoint)
    except FileNotFoundError:
        raise CliError(f"mount point {mountpoint} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            raise CliError(f"{mountpoint} is a mount whose daemon is gone "
                           f"(run: iofs umount {mountpoint})") from None
        raise CliError(f"cannot use mount point {mountpoint}: {exc.strerror}") from None
    if not os.path.isdir(mountpoint):
        raise CliError(f"mount point {mountpoint} is not a directory")
    kind = mount_type(mountpoint)
    if kind is not None and kind.startswith("fuse"):
        raise CliError(f"{mountpoint} is already mounted ({kind}; run: iofs umount {mountpoint})")
    if not os.path.exists("/dev/fuse"):
        raise CliError("/dev/fuse is missing (in a container: run with --device /dev/fuse)")
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as exc:
        raise CliError(f"cannot open /dev/fuse: {exc.strerror} "
                       "(in a container: run with --device /dev/fuse)") from None
    if os.geteuid() == 0:
        if not _has_cap(CAP_SYS_ADMIN):
            raise CliError("mounting needs CAP_SYS_ADMIN (in a container: run with --cap-add SYS_ADMIN)")
    else:
        if not os.access(mountpoint, os.W_OK):
            raise CliError(f"no write access to mount point {mountpoint} (fusermount3 requires it)")
        if shutil.which("fusermount3") is None:
            raise CliError("mounting as a non-root user needs fusermount3 (Debian package fuse3)")
        if allow_other and not _user_allow_other():
            raise CliError("--allow-other as a non-root user needs user_allow_other in /etc/fuse.conf")


def _user_allow_other() -> bool:
    try:
        with open("/etc/fuse.conf") as f:
            return any(line.strip() == "user_allow_other" for line in f)
    except OSError:
        return False


# ---- the daemon --------------------------------------------------------------------------------

def serve(mountpoint: str, tree: config.Tree, *, debug: bool, allow_other: bool,
          ready: Callable[[str | None], None]) -> int:
    """Mount and serve until unmounted or SIGINT/SIGTERM; ``ready(None)`` once requests are
    answered, ``ready(message)`` if the mount failed. Returns the exit status."""
    import pyfuse3
    import trio

    from .fs import MAX_WORKERS, IofsOperations

    _tune_malloc()
    ops = IofsOperations(tree)
    # nodev: a device node made with mknod can never be opened into a device of the host
    options = {"fsname=iofs", "subtype=iofs", "default_permissions", "nodev", "nosuid"}
    if allow_other:
        options.add("allow_other")
    if debug:
        options.add("debug")
    try:
        pyfuse3.init(ops, mountpoint, options)
    except RuntimeError as exc:
        ready(f"mounting {mountpoint} failed: {exc} (see the log for libfuse's reason)")
        return EXIT_FAIL
    log = logging.getLogger("iofs")
    if "nodev" not in mount_options(mountpoint):
        pyfuse3.close(unmount=True)
        ready(f"{mountpoint} was mounted without nodev: unmounted again")
        return EXIT_FAIL
    log.info("mounted %s (pid %d)", mountpoint, os.getpid())

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            async def on_signal() -> None:
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as sigs:
                    async for signum in sigs:
                        log.info("signal %d: unmounting", signum)
                        pyfuse3.terminate()
                        # Requests still sleeping in a driver (a blocked pipe read) would keep
                        # main() waiting forever: cancel them; the kernel fails them with
                        # ENOTCONN when the session closes.
                        nursery.cancel_scope.cancel()
                        return

            async def announce() -> None:
                # a stat from another thread returns once the loop answers FUSE_INIT and GETATTR
                await trio.to_thread.run_sync(os.stat, mountpoint)
                ready(None)

            nursery.start_soon(on_signal)
            nursery.start_soon(announce)
            # no cap on worker tasks: requests asleep in drivers must never stall the others
            # (WaitChannel bounds them per uid: max_sleeping)
            await pyfuse3.main(max_tasks=MAX_WORKERS)
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        pyfuse3.close(unmount=True)
        log.info("unmounted %s", mountpoint)
    return 0


def _tune_malloc() -> None:
    """Keep freed request-sized blocks in the heap instead of unmapping them.

    pyfuse3 hands every write request to Python as a new bytes of up to 1 MiB; with glibc's
    default thresholds each one is a fresh mmap whose pages fault in on every request.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 4 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 16 << 20)
    except (OSError, AttributeError):
        pass  # not glibc: defaults are fine, only slower


def _setup_logging(debug: bool, stream=None) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, stream=stream or sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )


def mount_point(arg: str) -> str:
    """The mount point a command names: absolute, and through a symbolic link to where the
    kernel mounts (the path /proc/self/mountinfo shows). A path that is itself a mount point
    is not resolved: resolving asks the mount, and a hung daemon would hang the command."""
    if not arg.strip():
        raise CliError("the mount point is empty (give a directory)", EXIT_USAGE)
    path = os.path.abspath(arg)
    return path if mount_type(path) is not None else os.path.realpath(path)


def cmd_mount(args: argparse.Namespace) -> int:
    mountpoint = mount_point(args.mountpoint)
    tree = config.load(args.config)  # ConfigError: exit 2 before anything is mounted
    preflight(mountpoint, args.allow_other)
    if args.foreground:
        return _run_foreground(mountpoint, tree, args)
    return _start_background(mountpoint, args)


def _run_foreground(mountpoint: str, tree: config.Tree, args: argparse.Namespace) -> int:
    stream = open_log(args.log, EXIT_USAGE) if args.log else sys.stderr
    _setup_logging(args.debug, stream)
    ready_fd = args.ready_fd
    failure: list[str] = []

    def ready(message: str | None) -> None:
        if message is not None:
            failure.append(message)
        if ready_fd is not None:
            os.write(ready_fd, b"ok\n" if message is None else f"error: {message}\n".encode())

    pidf = pid_file(mountpoint)
    try:
        with os.fdopen(open_nofollow(pidf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as f:
            f.write(f"{os.getpid()} {_start_time(os.getpid())}\n")
    except CliError as exc:
        ready(str(exc))
        raise
    try:
        status = serve(mountpoint, tree, debug=args.debug, allow_other=args.allow_other, ready=ready)
    finally:
        try:
            os.unlink(pidf)
        except OSError:
            pass
    if failure:
        raise CliError(failure[0])
    return status


def _daemon_env() -> dict[str, str]:
    """The environment of the daemon: this one, and if this command found the iofs package
    through its working directory (``python -m iofs`` in a checkout), that directory first on
    PYTHONPATH. The daemon runs in /, and would otherwise import another iofs (an installed
    one, or none at all) than the command that checked the config."""
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if here not in [os.path.abspath(p) for p in sys.path[1:] if p]:
        old = env.get("PYTHONPATH")
        env["PYTHONPATH"] = here + (os.pathsep + old if old else "")
    return env


def _start_background(mountpoint: str, args: argparse.Namespace) -> int:
    logpath = os.path.abspath(args.log) if args.log else log_file(mountpoint)
    r, w = os.pipe()
    cmd = [sys.executable, "-m", "iofs", "mount", mountpoint, "--foreground",
           "--ready-fd", str(w), "--log", logpath]
    if args.config:
        cmd += ["--config", os.path.abspath(args.config)]
    if args.debug:
        cmd.append("--debug")
    if args.allow_other:
        cmd.append("--allow-other")
    with open_log(logpath, EXIT_USAGE if args.log else EXIT_FAIL) as logf:
        proc = subprocess.Popen(cmd, pass_fds=(w,), start_new_session=True, stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=logf, cwd="/", env=_daemon_env())
    os.close(w)
    answer = b""
    with os.fdopen(r, "rb") as pipe:
        deadline = time.monotonic() + 60
        import select
        while time.monotonic() < deadline:
            ready, _, _ = select.select([pipe], [], [], 0.5)
            if ready:
                chunk = os.read(pipe.fileno(), 4096)
                if not chunk:
                    break
                answer += chunk
                if answer.endswith(b"\n"):
                    break
            elif proc.poll() is not None:
                break
    text = answer.decode(errors="replace").strip()
    if not text:  # the pipe closed: the daemon is exiting, or gone
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    if text == "ok":
        return 0
    if text.startswith("error: "):
        proc.wait(timeout=30)
        raise CliError(text[len("error: "):])
    if proc.poll() is None:
        proc.terminate()
        raise CliError(f"the daemon did not answer within 60 s (log: {logpath})")
    raise CliError(f"the daemon exited with status {proc.returncode} before mounting (log: {logpath})")


# ---- umount ------------------------------------------------------------------------------------

def _start_time(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot, /proc/PID/stat field 22)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _is_daemon_of(pid: int, start: int | None, mountpoint: str) -> bool:
    """Whether ``pid`` is (still) the iofs daemon of ``mountpoint``: the start time it wrote in
    its pid file (a pid and a start time name one process for good) and a command line of
    ``iofs mount ... --foreground``. A recycled pid is some other process, never signalled."""
    if start is None or _start_time(pid) != start:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    iofs = any(a == b"iofs" or a.endswith(b"/iofs") for a in argv)
    if not (iofs and b"mount" in argv and (b"--foreground" in argv or b"-f" in argv)):
        return False
    try:  # and one of its arguments is this mount point (relative ones from its cwd)
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    target = os.path.normpath(mountpoint)
    return any(os.path.normpath(os.path.join(cwd, os.fsdecode(a))) == target for a in argv if a)


def read_pid_file(path: str) -> tuple[int, int | None] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd) as f:
        words = f.read().split()
    try:
        return int(words[0]), (int(words[1]) if len(words) > 1 else None)
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_umount(args: argparse.Namespace) -> int:
    mountpoint = mount_point(args.mountpoint)
    kind = mount_type(mountpoint)
    if kind is None:
        raise CliError(f"{mountpoint} is not mounted")
    if kind != "fuse.iofs":
        raise CliError(f"{mountpoint} is a {kind} mount, not iofs: not touching it")
    pidf = pid_file(mountpoint)
    recorded = read_pid_file(pidf)
    pid = None
    if recorded is not None and _is_daemon_of(recorded[0], recorded[1], mountpoint):
        pid = recorded[0]
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    attempts = [[tool, "-u", mountpoint], [tool, "-u", "-z", mountpoint]] if tool else []
    if os.geteuid() == 0 and shutil.which("umount"):
        attempts += [["umount", mountpoint], ["umount", "-l", mountpoint]]
    last = ""
    for cmd in attempts:
        res = subprocess.run(cmd, capture_output=True, text=True)
        if mount_type(mountpoint) is None:
            break
        last = (res.stderr or res.stdout).strip().splitlines()[-1:] or [""]
        last = last[0]
    else:
        raise CliError(f"cannot unmount {mountpoint}: {last or 'no fusermount3 or umount found'}")
    if pid is not None:
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid) and _is_daemon_of(pid, recorded[1], mountpoint):
            os.kill(pid, signal.SIGTERM)
    if recorded is not None and (pid is None or not _pid_alive(pid)):
        try:  # the daemon is gone (or was killed before it could): its pid file goes too
            os.unlink(pidf)
        except OSError:
            pass
    return 0


# ---- fault rules and the trace of a running mount -----------------------------------------------

def _iofs_mount(mountpoint: str) -> str:
    mountpoint = mount_point(mountpoint)
    kind = mount_type(mountpoint)
    if kind != "fuse.iofs":
        raise CliError(f"{mountpoint} is not an iofs mount" + (f" ({kind})" if kind else ""))
    return mountpoint


def _client_call(fn: Callable, *args, **kw):
    from .client import ControlError

    try:
        return fn(*args, **kw)
    except ControlError as exc:
        raise CliError(str(exc), EXIT_USAGE if exc.usage else EXIT_FAIL) from None


def _rule_id(text: str) -> int:
    """A rule id as ``iofs fault clear`` takes it: a whole number from 1 (argparse's type)."""
    from .faults.steps import whole_number

    n = whole_number(text)
    if n is None or n < 1:
        raise argparse.ArgumentTypeError(f"a rule id is a whole number >= 1, not {text!r}")
    return n


def cmd_fault(args: argparse.Namespace) -> int:
    from . import client

    mountpoint = _iofs_mount(args.mountpoint)
    if args.action == "add":
        # one argument is the whole line; several are its tokens (quoted again for the parser)
        import shlex

        line = args.rule[0] if len(args.rule) == 1 else shlex.join(args.rule)
        print(_client_call(client.add_rule, mountpoint, line, args.control))
    elif args.action == "list":
        sys.stdout.write(_client_call(client.list_rules, mountpoint, args.control))
    else:
        _client_call(client.clear_rules, mountpoint, args.id, args.control)
    return 0


def _lines(reader) -> Iterator[bytes]:
    """The reader's lines, a failure to read them a CliError (one line)."""
    from .client import ControlError

    it = reader.lines()
    while True:
        try:
            line = next(it)
        except StopIteration:
            return
        except ControlError as exc:
            raise CliError(str(exc)) from None
        yield line


def cmd_trace(args: argparse.Namespace) -> int:
    import json

    from . import client
    from .faults.rules import OPS, glob_regex
    from .faults.trace import human_line

    path_re = glob_regex(args.path) if args.path else None
    ops = None
    if args.op:
        ops = {o.strip() for o in args.op.split(",") if o.strip()}
        bad = sorted(ops - set(OPS))
        if bad:
            raise CliError(f"unknown op {bad[0]!r} (ops: {', '.join(OPS)})", EXIT_USAGE)
    mountpoint = _iofs_mount(args.mountpoint)
    if args.detail:
        _client_call(client.set_detail, mountpoint, True, args.control)
    reader = _client_call(client.TraceReader, mountpoint, args.follow, args.control)
    # a name that is not UTF-8 is printed as its bytes, as ls prints it
    sys.stdout.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
    try:
        for line in _lines(reader):
            event = json.loads(line)
            if "lost" not in event:
                if ops is not None and event["op"] not in ops:
                    continue
                if path_re is not None and not path_re.match(event["path"]):
                    continue
            print(line.decode() if args.json else human_line(event), flush=args.follow)
    except BrokenPipeError:  # `iofs trace MNT | head`
        sys.stdout = None  # type: ignore[assignment]  # nothing more can be written
    finally:
        reader.close()
        if args.detail:
            _client_call(client.set_detail, mountpoint, False, args.control)
    return 0


def cmd_crash(args: argparse.Namespace) -> int:
    from . import client

    if args.seed is not None and not args.torn:
        raise CliError("--seed goes with --torn", EXIT_USAGE)
    seed = None
    if args.torn:
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
        print(f"torn crash, seed {seed}", file=sys.stderr)
    mountpoint = _iofs_mount(args.mountpoint)
    for path in _client_call(client.crash, mountpoint, seed, args.control):
        print(path)
    return 0


def cmd_unsynced(args: argparse.Namespace) -> int:
    from . import client

    mountpoint = _iofs_mount(args.mountpoint)
    for n, path in _client_call(client.unsynced, mountpoint, args.control):
        print(f"{n}\t{path}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import Sweep, SweepError, parse_lists

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise CliError("no command to sweep (iofs sweep [OPTIONS] -- CMD [ARGS...])", EXIT_USAGE)
    if args.jobs < 1 or (args.max_runs is not None and args.max_runs < 0) or args.timeout <= 0:
        raise CliError("--jobs must be >= 1, --max-runs >= 0 and --timeout > 0", EXIT_USAGE)
    if "{mnt}" not in cmd[0] and shutil.which(cmd[0]) is None:  # before any mount
        raise CliError(f"cannot run {cmd[0]}: no such command (or not executable)", EXIT_USAGE)
    try:
        ops, actions = parse_lists(args.ops, args.actions)
    except SweepError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    text = None
    if args.config:
        config.load(args.config)  # ConfigError: one line, exit 2, before any run
        with open(args.config) as f:
            text = f.read()
    try:
        return Sweep(cmd, text, ops, actions, args.max_runs, args.timeout, args.jobs).run()
    except SweepError as exc:
        raise CliError(str(exc)) from None


# ---- drivers -----------------------------------------------------------------------------------

def cmd_drivers(args: argparse.Namespace) -> int:
    from .drivers import BUILTIN

    width = max(len(n) for n in BUILTIN)
    for name, cls in BUILTIN.items():
        print(f"{name.ljust(width)}  {cls.description}")
    print(f"{'MOD:CLASS'.ljust(width)}  your own driver: driver = \"package.module:ClassName\" in a config")
    return 0


# ---- entry -------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"iofs: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="iofs", description="A FUSE filesystem in which every file is a device driver.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    m = sub.add_parser("mount", help="mount a device tree (the default tree, or --config FILE)")
    m.add_argument("mountpoint")
    m.add_argument("--config", metavar="FILE", help="TOML device tree (default: the built-in tree)")
    m.add_argument("--foreground", "-f", action="store_true", help="stay attached; Ctrl-C unmounts")
    m.add_argument("--debug", action="store_true", help="log every FUSE request")
    m.add_argument("--allow-other", action="store_true", help="let other users (and containers' users) in")
    m.add_argument("--log", metavar="FILE", help="daemon log file (background default: under the state dir)")
    m.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    m.set_defaults(func=cmd_mount)
    u = sub.add_parser("umount", help="unmount (also a mount whose daemon was killed)")
    u.add_argument("mountpoint")
    u.set_defaults(func=cmd_umount)
    d = sub.add_parser("drivers", help="list the available drivers")
    d.set_defaults(func=cmd_drivers)
    f = sub.add_parser("fault", help="add, list or clear the fault rules of a running mount")
    f.add_argument("mountpoint")
    f.add_argument("--control", default=".iofs", metavar="NAME",
                   help="the mount's control directory, if [options] control renamed it")
    fa = f.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    add = fa.add_parser("add", help="add a rule (key=value tokens); prints its id")
    add.add_argument("rule", nargs="+", metavar="KEY=VALUE")
    fa.add_parser("list", help="the active rules: id, hits, the rule as parsed")
    clear = fa.add_parser("clear", help="remove rule ID, or all rules")
    clear.add_argument("id", nargs="?", type=_rule_id)
    f.set_defaults(func=cmd_fault)
    t = sub.add_parser("trace", help="the requests a running mount served (the trace ring)")
    t.add_argument("mountpoint")
    t.add_argument("--follow", "-f", action="store_true", help="go on printing new requests")
    t.add_argument("--json", action="store_true", help="JSON lines, as the trace file has them")
    t.add_argument("--path", metavar="GLOB", help="only requests on paths matching GLOB")
    t.add_argument("--op", metavar="LIST", help="only these ops (comma list)")
    t.add_argument("--detail", action="store_true",
                   help="uio detail of reads and writes while this runs")
    t.add_argument("--control", default=".iofs", metavar="NAME",
                   help="the mount's control directory, if [options] control renamed it")
    t.set_defaults(func=cmd_trace)
    sw = sub.add_parser("sweep", help="fault each request of a program in turn: where does it break?")
    sw.add_argument("--config", metavar="FILE", help="the tree to mount (default: the built-in tree)")
    sw.add_argument("--ops", default="read,write", metavar="LIST", help="ops to fault (default: read,write)")
    sw.add_argument("--actions", default="short:1,short:half,eintr:1,eagain,eio,efault", metavar="LIST",
                    help="steps to try on each request (default: short:1,short:half,eintr:1,eagain,eio,efault)")
    sw.add_argument("--max-runs", type=int, metavar="N", help="run at most N faulted cases")
    sw.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="a run taking longer is killed and counts as failing (default: 60)")
    sw.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once (default: 1)")
    sw.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]",
                    help="the program; {mnt} in its arguments (and IOFS_MNT) name the mount")
    sw.set_defaults(func=cmd_sweep)
    c = sub.add_parser("crash", help="lose what was never fsynced (needs durability = true)")
    c.add_argument("mountpoint")
    c.add_argument("--torn", action="store_true", help="a seeded half of the unsynced 4 KiB blocks survives")
    c.add_argument("--seed", type=int, help="the seed of --torn (default: chosen, and printed)")
    c.add_argument("--control", default=".iofs", metavar="NAME", help=argparse.SUPPRESS)
    c.set_defaults(func=cmd_crash)
    us = sub.add_parser("unsynced", help="the files with unsynced bytes, and how many")
    us.add_argument("mountpoint")
    us.add_argument("--control", default=".iofs", metavar="NAME", help=argparse.SUPPRESS)
    us.set_defaults(func=cmd_unsynced)
    return p


# mount(8) options that mean nothing to iofs and are dropped, and the ones it turns into flags
MOUNT_OPTIONS_IGNORED = {
    "rw", "defaults", "auto", "noauto", "user", "nouser", "users", "async", "sync", "atime",
    "noatime", "relatime", "strictatime", "diratime", "nodiratime", "dev", "nodev", "suid",
    "nosuid", "exec", "noexec", "_netdev", "nofail", "x-systemd.automount",
}


def mount_helper(argv: list[str] | None = None) -> int:
    """``mount.fuse.iofs SOURCE MOUNTPOINT [-o OPTIONS]``: what mount(8) runs for
    ``mount -t fuse.iofs`` and for /etc/fstab lines of type fuse.iofs.

    Options: ``config=FILE``, ``log=FILE``, ``allow_other``, ``debug``; mount(8)'s generic ones
    (rw, defaults, noauto, ...) are accepted and ignored. SOURCE is free text (``iofs``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    positional: list[str] = []
    options: list[str] = []
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
        print("usage: mount.fuse.iofs SOURCE MOUNTPOINT [-o config=FILE,allow_other,debug,log=FILE]",
              file=sys.stderr)
        return EXIT_USAGE
    cmd = ["mount", positional[1]]
    for opt in options:
        key, eq, value = opt.partition("=")
        if key == "config" and eq:
            cmd += ["--config", value]
        elif key == "log" and eq:
            cmd += ["--log", value]
        elif key == "allow_other" and not eq:
            cmd.append("--allow-other")
        elif key == "debug" and not eq:
            cmd.append("--debug")
        elif key in MOUNT_OPTIONS_IGNORED and not eq:
            continue
        else:
            print(f"iofs: unknown mount option {opt!r} (config=FILE, log=FILE, allow_other, debug)",
                  file=sys.stderr)
            return EXIT_USAGE
    return main(cmd)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as exc:
        print(f"iofs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"iofs: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
