"""A mount of a tree in a directory of its own, started and stopped from Python: what the
pytest plugin and ``iofs sweep`` stand on.

:meth:`Mount.start` runs ``iofs mount`` (the daemon in the background; it returns once the
mount answers) and :meth:`Mount.stop` always leaves nothing behind: it unmounts (lazily if it
must) and makes sure the daemon is gone (SIGKILL after 10 s). ``config`` is a path to a TOML
file, TOML text, or a dict of the TOML's tables (see :func:`toml_text`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .cli import mount_type, pid_file, preflight, read_pid_file, CliError


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


def config_text(config: str | os.PathLike | dict | None, options: dict[str, Any]) -> str | None:
    """The TOML of ``config`` with ``options`` set in its [options] (None: the default tree)."""
    import tomllib

    from .config import DEFAULT_TREE

    if config is None and not options:
        return None
    if config is None:
        tree: dict[str, Any] = tomllib.loads(DEFAULT_TREE)
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
    """One mount: ``path`` (the mount point), ``log`` (the daemon's log file), ``pid``."""

    def __init__(self, base: str | os.PathLike, config: str | None = None,
                 allow_other: bool = False) -> None:
        self.base = Path(base)
        self.path = self.base / "mnt"
        self.log = self.base / "iofs.log"
        self.config = config
        self.allow_other = allow_other
        self.pid: int | None = None

    def start(self) -> Mount:
        """Mount; MountError (one line) if it cannot be."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            preflight(str(self.path), self.allow_other)
        except CliError as exc:
            raise MountError(str(exc), unavailable="already mounted" not in str(exc)) from None
        args = [sys.executable, "-m", "iofs", "mount", str(self.path), "--log", str(self.log)]
        if self.config is not None:
            cfg = self.base / "tree.toml"
            cfg.write_text(self.config)
            args += ["--config", str(cfg)]
        if self.allow_other:
            args.append("--allow-other")
        res = subprocess.run(args, capture_output=True, text=True, timeout=120)
        recorded = read_pid_file(pid_file(str(self.path)))
        self.pid = recorded[0] if recorded else None
        if res.returncode != 0:
            self.stop()
            message = res.stderr.strip().removeprefix("iofs: ") or f"iofs mount exited {res.returncode}"
            raise MountError(message)
        return self

    @property
    def mounted(self) -> bool:
        return mount_type(str(self.path)) == "fuse.iofs"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Unmount, and make sure the daemon is gone. Safe to call more than once."""
        mp = str(self.path)
        if mount_type(mp) is not None:
            try:
                subprocess.run([sys.executable, "-m", "iofs", "umount", mp], capture_output=True,
                               timeout=60)
            except subprocess.TimeoutExpired:
                pass  # the lazy unmount below detaches it whatever holds it
        if mount_type(mp) is not None:
            subprocess.run(["fusermount3", "-u", "-z", mp], capture_output=True, timeout=60)
        pid, self.pid = self.pid, None
        if pid is None:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.02)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self) -> Mount:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def mounts_under(directory: str | os.PathLike) -> list[str]:
    """Mount points (of any filesystem) at or below ``directory``."""
    prefix = os.path.join(os.path.abspath(directory), "")
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split(" - ")[0].split()[4] for line in f]
    except OSError:
        return []
    return [p for p in points if os.path.join(p, "").startswith(prefix)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


__all__ = ["Mount", "MountError", "toml_text", "config_text", "mounts_under"]
