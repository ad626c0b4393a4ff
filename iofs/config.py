"""The device tree of a mount: TOML (stdlib tomllib) in, validated devices and directories out.

    [options]
    max_memory = "1G"        # memory all regular files may use together (ENOSPC beyond)
    max_file_size = "1G"     # largest regular file (EFBIG beyond); default: off_t's maximum
    writeback_cache = false  # true: the kernel gathers writes to regular files (much faster
                             # small writes; ENOSPC then shows at fsync/close, not at write)

    [[device]]
    path = "mem0"            # relative to the mount; missing parent directories are made
    driver = "mem"           # a built-in name or "package.module:ClassName"
    size = "64M"             # any other key is an option of the driver (its __init__ keyword)
    mode = "0666"            # node keys: mode, uid, gid, limit (uio_limit of writes)

    [[dir]]
    path = "tmp"
    mode = "1777"

Any mistake raises :class:`ConfigError` whose message is one line naming the file and the entry.
"""

from __future__ import annotations

import inspect
import tomllib
from dataclasses import dataclass, field
from typing import Any

from . import drivers
from .units import parse_size

DEFAULT_TREE = """
[options]
max_memory = "1G"

[[device]]
path = "null"
driver = "null"

[[device]]
path = "zero"
driver = "zero"

[[device]]
path = "full"
driver = "full"

[[device]]
path = "mem0"
driver = "mem"
size = "64M"

[[device]]
path = "pipe0"
driver = "pipe"

[[device]]
path = "random"
driver = "random"

[[device]]
path = "status"
driver = "status"
mode = "0444"

[[dir]]
path = "tmp"
mode = "1777"
"""

NODE_KEYS = {"path", "driver", "mode", "uid", "gid", "limit"}


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


@dataclass
class Tree:
    devices: list[DeviceSpec] = field(default_factory=list)
    dirs: list[DirSpec] = field(default_factory=list)
    max_memory: int = 1 << 30
    max_file_size: int | None = None
    writeback_cache: bool = False


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
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: {what} must be a non-negative integer")
    return value


def _path(entry: dict, where: str) -> str:
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip("/"):
        raise ConfigError(f"{where}: needs path = \"name\" (relative to the mount)")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigError(f"{where}: path {path!r} may not contain . or ..")
    if any(len(p.encode()) > 255 for p in parts):
        raise ConfigError(f"{where}: a name in {path!r} is longer than 255 bytes")
    return "/".join(parts)


def _size(value: Any, what: str, where: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {what}: {exc}") from None


def make_driver(name: Any, options: dict[str, Any], where: str) -> Any:
    """Instantiate driver ``name`` with ``options``, turning every failure into one line."""
    if not isinstance(name, str):
        raise ConfigError(f"{where}: needs driver = \"name\"")
    try:
        cls = drivers.resolve(name)
    except LookupError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        params = sig.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for key in options:
            if key not in params and not takes_any:
                accepted = ", ".join(k for k in params if k != "self") or "none"
                raise ConfigError(f"{where}: driver {name!r} has no option {key!r} "
                                  f"(options: {accepted})")
    try:
        return cls(**options)
    except Exception as exc:  # a driver's own validation, whatever it raises
        raise ConfigError(f"{where}: driver {name!r}: {exc}") from None


def parse(text: str, source: str = "<config>") -> Tree:
    """Parse and validate a config; every driver is instantiated here, before anything mounts."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"options", "device", "dir"}
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))} "
                          "(expected [options], [[device]], [[dir]])")
    tree = Tree()
    options = doc.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: [options] must be a table")
    for key, value in options.items():
        if key == "max_memory":
            tree.max_memory = _size(value, key, f"{source}: [options]")
        elif key == "max_file_size":
            tree.max_file_size = _size(value, key, f"{source}: [options]")
        elif key == "writeback_cache":
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: [options]: writeback_cache must be true or false")
            tree.writeback_cache = value
        else:
            raise ConfigError(f"{source}: [options]: unknown option {key!r} "
                              "(max_memory, max_file_size, writeback_cache)")
    seen: set[str] = set()
    for k, entry in enumerate(doc.get("dir", [])):
        where = f"{source}: [[dir]] #{k + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        path = _path(entry, where)
        extra = set(entry) - {"path", "mode", "uid", "gid"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        tree.dirs.append(DirSpec(path, _mode(entry.get("mode", "0755"), where),
                                 _id(entry.get("uid", 0), "uid", where),
                                 _id(entry.get("gid", 0), "gid", where)))
    for k, entry in enumerate(doc.get("device", [])):
        where = f"{source}: [[device]] #{k + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        path = _path(entry, where)
        where = f"{source}: device {path!r}"
        if path in seen:
            raise ConfigError(f"{where}: declared twice")
        seen.add(path)
        opts = {key: value for key, value in entry.items() if key not in NODE_KEYS}
        driver = make_driver(entry.get("driver"), opts, where)
        limit = entry.get("limit")
        tree.devices.append(DeviceSpec(
            path, driver,
            mode=_mode(entry.get("mode", "0666"), where),
            uid=_id(entry.get("uid", 0), "uid", where),
            gid=_id(entry.get("gid", 0), "gid", where),
            limit=None if limit is None else _size(limit, "limit", where),
        ))
    dir_paths = {d.path for d in tree.dirs}
    for dev in tree.devices:
        parts = dev.path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise ConfigError(f"{source}: device {dev.path!r} lies under device {'/'.join(parts[:i])!r}")
        if dev.path in dir_paths:
            raise ConfigError(f"{source}: {dev.path!r} is declared as both a device and a dir")
    return tree


def load(path: str | None) -> Tree:
    """The tree from the config file at ``path``, or the default tree for None."""
    if path is None:
        return parse(DEFAULT_TREE, "<default tree>")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse(text, path)
