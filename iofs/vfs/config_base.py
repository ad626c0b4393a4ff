"""What a config is parsed into (:class:`Tree` and its specs), :class:`ConfigError`, and the
checks of single values that every section of :mod:`iofs.vfs.config` shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.uio import OFF_MAX
from ..durability.journal import BLOCK
from ..faults.rules import Rule
from ..faults.ruleset import DEFAULT_MAX_RULES
from ..faults.trace import DEFAULT_EVENTS
from ..system.units import parse_size
from .control_dir import DEFAULT_NAME as CONTROL_NAME

ID_MAX = (1 << 32) - 2  # uid_t/gid_t: (uid_t)-1 means "no change" to chown, so it is no id


class ConfigError(Exception):
    """A bad config: the message is one line for the user."""


@dataclass
class DeviceSpec:
    path: str
    driver: Any  # the driver instance
    mode: int = 0o666
    uid: int = 0
    gid: int = 0
    limit: int | None = None


@dataclass
class DirSpec:
    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    source: str | None = None  # a host directory shown here (its real path)


@dataclass
class FileSpec:
    """A regular in-memory file made at mount with ``data``, durable from then on."""
    path: str
    data: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass
class Tree:
    devices: list[DeviceSpec] = field(default_factory=list)
    dirs: list[DirSpec] = field(default_factory=list)
    files: list[FileSpec] = field(default_factory=list)
    faults: list[Rule] = field(default_factory=list)
    root_source: str | None = None  # --source: the host directory that is the whole mount
    max_memory: int = 1 << 30
    max_file_size: int | None = None
    writeback_cache: bool = False
    max_sleeping: int = 4096
    max_inodes: int = 1 << 20
    trace: bool = True
    trace_events: int = DEFAULT_EVENTS
    trace_detail: bool = False
    control: str | None = CONTROL_NAME
    xattr: bool = True
    durability: bool = False
    max_rules: int = DEFAULT_MAX_RULES
    fsync_error: str = "linux"
    torn_unit: int = BLOCK
    namespace_durability: str = "immediate"
    text: str = ""  # the config as read, and where from: what a reset builds the tree from again
    source: str = "<config>"


def _mode(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    elif isinstance(value, str):
        try:
            mode = int(value, 8)
        except ValueError:
            raise ConfigError(f"{where}: mode {value!r} is not octal (e.g. \"0644\")") from None
    else:
        raise ConfigError(f"{where}: mode must be an octal string like \"0644\"")
    if not 0 <= mode <= 0o7777:
        raise ConfigError(f"{where}: mode {value!r} out of range")
    return mode


def _id(value: Any, what: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= ID_MAX:
        raise ConfigError(f"{where}: {what} must be an integer in 0..{ID_MAX}")
    return value


def _path(entry: dict, where: str) -> str:
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip("/"):
        raise ConfigError(f"{where}: needs path = \"name\" (relative to the mount)")
    if "\0" in path:
        raise ConfigError(f"{where}: path {path!r} contains a NUL byte")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigError(f"{where}: path {path!r} may not contain . or ..")
    if any(len(p.encode()) > 255 for p in parts):
        raise ConfigError(f"{where}: a name in {path!r} is longer than 255 bytes")
    return "/".join(parts)


def _size(value: Any, what: str, where: str) -> int:
    try:
        size = parse_size(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {what}: {exc}") from None
    if size > OFF_MAX:  # statfs and stat could not carry it: every df would be EIO
        raise ConfigError(f"{where}: {what}: {value!r} is larger than off_t's maximum")
    return size


def _tables(doc: dict, key: str, source: str) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{source}: {key} must be written as [[{key}]] tables")
    return value


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]



__all__ = ["ConfigError", "DeviceSpec", "DirSpec", "FileSpec", "Tree", "ID_MAX"]
