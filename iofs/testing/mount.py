"""The one Mount: a mount of a tree in a directory of its own, started and stopped from
Python. What the pytest plugin, ``iofs sweep``, the test suite and the benchmark stand on.

:meth:`Mount.start` runs ``iofs mount`` (the daemon in the background; it returns once the
mount answers requests) and :meth:`Mount.stop` always leaves nothing behind, in bounded time:
it unmounts (lazily if the mount is busy) and ends the daemon (SIGTERM, then SIGKILL, see
:mod:`iofs.system.unmount`). ``config`` is TOML text (see :func:`config_text` for paths and
dicts); ``python`` and ``env`` choose the interpreter and environment of the daemon (the
benchmark runs another checkout's iofs side by side).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Sequence

from ..system.mounts import mount_type
from ..system.preflight import PreflightError, preflight
from ..system.state import read_pid_file
from ..system.unmount import Unmounted, UnmountError, end_daemon, is_daemon_of, unmount
from ..vfs.config import DEFAULT_TREE


class MountError(Exception):
    """The mount could not be made; ``unavailable`` when this machine cannot mount at all
    (no /dev/fuse, no permission), as opposed to a bad tree."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} into a config")


def toml_text(tree: dict[str, Any]) -> str:
    """The TOML of a tree given as a dict: ``{"options": {...}, "device": [{...}, ...],
    "dir": [...], "fault": [...]}`` (any table or array of tables, scalar values)."""
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out.append(f"[{key}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            for table in value:
                out.append(f"[[{key}]]")
                out += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        else:
            raise TypeError(f"{key!r} must be a table or a list of tables")
        out.append("")
    return "\n".join(out)


def config_text(config: str | os.PathLike | dict | None, options: dict[str, Any],
                empty: bool = False) -> str | None:
    """The TOML of ``config`` (a path to a TOML file, TOML text, a dict of the TOML's tables,
    or None: the default tree, or with ``empty`` no tree at all) with ``options`` set in its
    [options]; None for the default (or empty) tree as it is."""
    if config is None and not options:
        return None
    if config is None:
        tree: dict[str, Any] = {} if empty else tomllib.loads(DEFAULT_TREE)
    elif isinstance(config, dict):
        tree = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in config.items()}
    else:
        text = str(config)
        if isinstance(config, os.PathLike) or ("\n" not in text and "=" not in text):
            text = Path(text).read_text()
        if not options:
            return text
        tree = tomllib.loads(text)
    tree.setdefault("options", {}).update(options)
    return toml_text(tree)


class Mount:
    """One mount: ``path`` (the mount point, ``base/mnt`` unless given), ``log`` (the daemon's
    log file), ``pid`` (the daemon's), ``result`` (the finished ``iofs mount`` command)."""

    def __init__(self, base: str | os.PathLike, config: str | None = None, *,
                 allow_other: bool = False, args: Sequence[str] = (),
                 env: dict[str, str] | None = None, mountpoint: str | os.PathLike | None = None,
                 python: str = sys.executable) -> None:
        self.base = Path(base)
        self.path = Path(mountpoint) if mountpoint is not None else self.base / "mnt"
        self.log = self.base / "iofs.log"
        self.config = config
        self.allow_other = allow_other
        self.args = list(args)
        self.env = env
        self.python = python
        self.pid: int | None = None
        self._daemon: tuple[int, int | None] | None = None  # (pid, start time) as recorded
        self.result: subprocess.CompletedProcess | None = None

    def command(self) -> list[str]:
        """The ``iofs mount`` command line (the config written beside the mount first)."""
        cmd = [self.python, "-m", "iofs", "mount", str(self.path), "--log", str(self.log)]
        if self.config is not None:
            cfg = self.base / "tree.toml"
            cfg.write_text(self.config)
            cmd += ["--config", str(cfg)]
        if self.allow_other:
            cmd.append("--allow-other")
        return cmd + self.args

    def start(self, check: bool = True) -> Mount:
        """Mount; MountError (one line) if it cannot be. ``check=False``: run ``iofs mount``
        whatever this machine looks like and keep its result (tests of its failures)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if check:
            try:
                preflight(str(self.path), self.allow_other)
            except PreflightError as exc:
                raise MountError(str(exc), exc.unavailable) from None
        self.result = res = subprocess.run(self.command(), capture_output=True, text=True,
                                           timeout=120, env=self.env)
        self._daemon = read_pid_file(str(self.path))
        self.pid = self._daemon[0] if self._daemon else None
        if res.returncode != 0 and check:
            self.stop()
            message = res.stderr.strip().removeprefix("iofs: ") or f"iofs mount exited {res.returncode}"
            raise MountError(message)
        return self

    @property
    def mounted(self) -> bool:
        return mount_type(str(self.path)) == "fuse.iofs"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, grace: float = 1.5) -> Unmounted:
        """Unmount, and make sure the daemon is gone (within about 3 × ``grace`` s, whatever
        holds the mount). Safe to call more than once."""
        try:
            report = unmount(str(self.path), grace)
        except UnmountError as exc:
            report = Unmounted([str(exc)])
            subprocess.run(["fusermount3", "-u", "-z", str(self.path)], capture_output=True,
                           timeout=30)
        daemon, self._daemon, self.pid = self._daemon, None, None
        if daemon is not None and report.pid is None \
                and is_daemon_of(daemon[0], daemon[1], str(self.path)):
            end_daemon(daemon[0], report, grace)  # its pid file was gone: the one seen at start
        return report

    def __enter__(self) -> Mount:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __truediv__(self, name: str) -> Path:
        return self.path / name


__all__ = ["Mount", "MountError", "toml_text", "config_text"]
