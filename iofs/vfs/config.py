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
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import drivers
from ..core.uio import OFF_MAX
from ..durability.journal import BLOCK, MODES as FSYNC_MODES
from ..faults.rules import Rule, rule_from_table
from ..faults.ruleset import DEFAULT_MAX_RULES
from ..faults.trace import DEFAULT_EVENTS
from ..system.units import parse_size
from .control_dir import DEFAULT_NAME as CONTROL_NAME

MAX_CONFIG = 16 << 20  # bytes: a config is read whole, and parsed before anything mounts

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
ID_MAX = (1 << 32) - 2  # uid_t/gid_t: (uid_t)-1 means "no change" to chown, so it is no id
MAX_TRACE_EVENTS = 1 << 22  # about 200 bytes each: at most ~1 GiB
MAX_RULES = 1 << 20


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
    faults: list[Rule] = field(default_factory=list)
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


def _tables(doc: dict, key: str, source: str) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{source}: {key} must be written as [[{key}]] tables")
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


def _dirs_of(doc: dict, source: str, tree: Tree) -> None:
    seen: set[str] = set()
    for k, entry in enumerate(_tables(doc, "dir", source)):
        where = f"{source}: [[dir]] #{k + 1}"
        path = _path(entry, where)
        if path in seen:
            raise ConfigError(f"{source}: dir {path!r}: declared twice")
        seen.add(path)
        extra = set(entry) - {"path", "mode", "uid", "gid"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        tree.dirs.append(DirSpec(path, _mode(entry.get("mode", "0755"), where),
                                 _id(entry.get("uid", 0), "uid", where),
                                 _id(entry.get("gid", 0), "gid", where)))


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


def _check_places(source: str, tree: Tree) -> None:
    """No node under a device, none declared twice over, none inside the control directory."""
    devices = {d.path for d in tree.devices}
    dirs = {d.path for d in tree.dirs}
    for path in sorted(devices | dirs):
        kind = "device" if path in devices else "dir"
        for above in _parents(path):
            if above in devices:
                raise ConfigError(f"{source}: {kind} {path!r} lies under device {above!r}")
        if path in devices and path in dirs:
            raise ConfigError(f"{source}: {path!r} is declared as both a device and a dir")
        if tree.control is not None and path.split("/")[0] == tree.control:
            raise ConfigError(f"{source}: {path!r} would be inside the control directory "
                              f"{tree.control!r} (rename it with [options] control = \"...\")")


def parse(text: str, source: str = "<config>") -> Tree:
    """Parse and validate a config; every driver is instantiated here, before anything mounts."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))} "
                          "(expected [options], [[device]], [[dir]], [[fault]])")
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
    "options": _options_of, "dir": _dirs_of, "fault": _faults_of, "device": _devices_of,
}


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


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
