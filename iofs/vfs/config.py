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

    [[dir]]
    path = "data"
    source = "/var/lib/app"  # a host directory served here (iofs.vfs.host); --source: the root

    [[file]]                 # a regular file in memory, made at mount: content or source
    path = "input"
    source = "/host/file"

    [[fault]]                # a fault rule, active from the mount on (iofs.faults.rules)
    path = "tmp/*.log"
    op = ["write"]
    action = "short:1"

Options beyond those: ``max_sleeping`` (requests one uid may have asleep in drivers at once,
default 4096), ``max_inodes`` (files, directories, symlinks, nodes and extra hard links
together, as tmpfs's nr_inodes: ENOSPC beyond; default 1048576), ``trace`` (record every
request in the trace ring, default true),
``trace_events`` (the ring's size, default 65536), ``trace_detail`` (uio detail of reads and
writes in the trace, default false), ``control`` (the name of the control directory,
default ".iofs"; false: none) and ``xattr`` (extended attributes, default true; false makes
small writes to regular files faster: the kernel then stops asking for security.capability
before every write(2)) and ``durability`` (keep every regular file's state as of its last
fsync, for ``iofs crash``; default false).

Any mistake raises :class:`ConfigError` whose message is one line naming the file and the entry.
"""

from __future__ import annotations

import inspect
import os
import stat
import tomllib
from typing import Any, Callable

from .. import drivers
from ..durability.journal import MODES as FSYNC_MODES
from ..faults.rules import rule_from_table
from .config_base import ID_MAX, ConfigError, DeviceSpec, DirSpec, FileSpec, Tree, _id, _mode, _path, _size, _tables
from .config_places import _check_places, _dirs_of, _files_of, check_mountpoint, with_source
from .default_tree import DEFAULT_TREE

MAX_CONFIG = 16 << 20  # bytes: a config is read whole, and parsed before anything mounts


NODE_KEYS = {"path", "driver", "mode", "uid", "gid", "limit"}
MAX_TRACE_EVENTS = 1 << 22  # about 200 bytes each: at most ~1 GiB
MAX_RULES = 1 << 20




















def make_driver(name: Any, options: dict[str, Any], where: str) -> Any:
    """Instantiate driver ``name`` with ``options``, turning every failure into one line."""
    if not isinstance(name, str):
        raise ConfigError(f"{where}: needs driver = \"name\"")
    try:
        cls = drivers.resolve(name)
    except LookupError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (Exception, SystemExit) as exc:  # importing user code can end in anything
        raise ConfigError(f"{where}: importing driver {name!r} raised {_what(exc)}") from None
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
    except (Exception, SystemExit) as exc:  # a driver's own validation, whatever it raises
        raise ConfigError(f"{where}: driver {name!r}: {_what(exc)}") from None


def _what(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r})"
    return str(exc) or type(exc).__name__


def _bool(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false")
    return value


def _count(value: Any, key: str, where: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{where}: {key} must be an integer in {lo}..{hi}")
    return value


def _choice(*choices: str) -> Callable[[Any, str, str], str]:
    def check(value: Any, key: str, where: str) -> str:
        if value not in choices:
            raise ConfigError(f"{where}: {key} must be one of " + ", ".join(f'"{c}"' for c in choices))
        return value
    return check


def _control(value: Any, where: str) -> str | None:
    if value is False:
        return None
    if (not isinstance(value, str) or not value or "/" in value or "\0" in value
            or value in (".", "..") or len(value.encode()) > 255):
        raise ConfigError(f"{where}: control must be a directory name such as \".iofs\", or false")
    return value




def _options_of(doc: dict, source: str, tree: Tree) -> None:
    options = doc.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: [options] must be a table")
    where = f"{source}: [options]"
    for key, value in options.items():
        check = OPTIONS.get(key)
        if check is None:
            raise ConfigError(f"{where}: unknown option {key!r} (" + ", ".join(OPTIONS) + ")")
        setattr(tree, key, check(value, key, where))










def _faults_of(doc: dict, source: str, tree: Tree) -> None:
    for k, entry in enumerate(_tables(doc, "fault", source)):
        try:
            tree.faults.append(rule_from_table(entry))
        except ValueError as exc:
            raise ConfigError(f"{source}: [[fault]] #{k + 1}: {exc}") from None
    if tree.namespace_durability != "immediate" and not tree.durability:
        raise ConfigError(f"{source}: [options] namespace_durability needs durability = true")
    for k, rule in enumerate(tree.faults):
        if rule.action.needs_powers and not tree.durability:
            raise ConfigError(f"{source}: [[fault]] #{k + 1}: action {rule.action} needs "
                              "[options] durability = true")
    if len(tree.faults) > tree.max_rules:
        raise ConfigError(f"{source}: {len(tree.faults)} [[fault]] tables, more than max_rules "
                          f"({tree.max_rules})")


def _devices_of(doc: dict, source: str, tree: Tree) -> None:
    seen: set[str] = set()
    for k, entry in enumerate(_tables(doc, "device", source)):
        path = _path(entry, f"{source}: [[device]] #{k + 1}")
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










def parse(text: str, source: str = "<config>") -> Tree:
    """Parse and validate a config; every driver is instantiated here, before anything mounts."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))} "
                          "(expected [options], [[device]], [[dir]], [[file]], [[fault]])")
    tree = Tree(text=text, source=source)
    for read_section in SECTIONS.values():
        read_section(doc, source, tree)
    _check_places(source, tree)
    return tree


def _sized(value: Any, key: str, where: str) -> int:
    return _size(value, key, where)


def _counted(lo: int, hi: int) -> Callable[[Any, str, str], int]:
    return lambda value, key, where: _count(value, key, where, lo, hi)


# option -> its check (value, key, where) -> the value kept on the Tree
OPTIONS: dict[str, Callable[[Any, str, str], Any]] = {
    "max_memory": _sized, "max_file_size": _sized, "writeback_cache": _bool,
    "max_sleeping": _counted(1, 1 << 20), "max_inodes": _counted(1, 1 << 32), "trace": _bool,
    "trace_events": _counted(1, MAX_TRACE_EVENTS), "trace_detail": _bool,
    "control": lambda value, key, where: _control(value, where), "xattr": _bool,
    "durability": _bool, "max_rules": _counted(1, MAX_RULES),
    "fsync_error": _choice(*FSYNC_MODES), "torn_unit": _counted(1, 1 << 20),
    "namespace_durability": _choice("immediate", "fsync"),
}
# sections, in the order they are read (options first: max_rules bounds [[fault]])
SECTIONS: dict[str, Callable[[dict, str, Tree], None]] = {
    "options": _options_of, "dir": _dirs_of, "file": _files_of, "fault": _faults_of,
    "device": _devices_of,
}




def load(path: str | None) -> Tree:
    """The tree from the config file at ``path``, or the default tree for None."""
    if path is None:
        return parse(DEFAULT_TREE, "<default tree>")
    try:  # O_NONBLOCK: a FIFO without a writer must not hang the command
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # /dev/zero would never end
            raise ConfigError(f"{path}: not a regular file")
        raw = b""
        while len(raw) <= MAX_CONFIG:
            chunk = os.read(fd, MAX_CONFIG + 1 - len(raw))
            if not chunk:
                break
            raw += chunk
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG >> 20} MiB: not a config")
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse(text, path)


__all__ = ["ConfigError", "Tree", "DeviceSpec", "DirSpec", "FileSpec", "DEFAULT_TREE", "OPTIONS",
           "SECTIONS", "ID_MAX", "MAX_CONFIG", "parse", "load", "make_driver", "with_source", "check_mountpoint"]
