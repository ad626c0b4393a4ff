"""Fault rules: the one rule parser (a line of ``key=value`` tokens, or a TOML table) and the
matcher.

    path=GLOB      relative to the mount root, no leading slash: * within a name, ** across
                   directories, ? one character (default: any node)
    op=LIST        read, write, open, close, fsync, flush, truncate, create, mkdir, unlink,
                   rmdir, rename, link, symlink, getattr, setattr, readdir, poll, statfs, and
                   lookup, mknod, readlink, opendir, fsyncdir, getxattr, setxattr, listxattr,
                   removexattr (default: read,write)
    pid=N uid=N comm=NAME
                   who asked (comm: the process name, as /proc/PID/comm has it)
    offset=A-B     the request's bytes overlap [A, B) (A-: from A on; A: the byte at A);
                   sizes may use K/M/G; only read and write have offsets
    nth=K          the first K-1 matching requests pass; the rule fires from the K-th on
    count=N        fire at most N times
    p=FLOAT        fire with probability p, drawn from seed=N (one draw per matching request:
                   the same seed and the same requests fire the same way every run)
    seed=N         the rule's seed (for p and corrupt); chosen at random when not given
    action=STEP    what a firing does (:mod:`iofs.faults.steps`); required

A non-data op takes only ``ok``, an errno or ``sleep:MS``; ``ERRNO:N``, ``short``, ``eagain``
and ``corrupt`` need op=read/write. Every mistake is a ValueError naming the bad token.
"""

from __future__ import annotations

import random
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..units import parse_size
from .steps import Step, parse_step, whole_number

DATA_OPS = frozenset({"read", "write"})
OPS = ("read", "write", "open", "close", "fsync", "flush", "truncate", "create", "mkdir",
       "unlink", "rmdir", "rename", "link", "symlink", "getattr", "setattr", "readdir", "poll",
       "statfs", "lookup", "mknod", "readlink", "opendir", "fsyncdir", "getxattr", "setxattr",
       "listxattr", "removexattr")
KEYS = ("path", "op", "pid", "uid", "comm", "offset", "nth", "count", "p", "seed", "action")
DEFAULT_OPS = frozenset({"read", "write"})
TASK_COMM_LEN = 15  # what /proc/PID/comm keeps of a name


def glob_regex(glob: str) -> re.Pattern[str]:
    """A glob over mount-relative paths: ``*`` and ``?`` within a name, ``**`` across names
    (``a/**`` is everything below a, ``**/x`` is x at any depth)."""
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _int(token: str, value: str, lo: int = 0) -> int:
    n = whole_number(value)
    if n is None or n < lo:
        raise ValueError(f"bad token {token!r}: {value!r:.40} is not a whole number"
                         + (f" >= {lo}" if lo else ""))
    return n


@dataclass(eq=False)
class Rule:
    """One rule, as parsed, with its counters: ``matched`` requests it matched, ``hits`` times
    it fired. ``id`` is given when the rule is added."""

    action: Step
    path: str | None = None
    ops: frozenset[str] = DEFAULT_OPS
    pid: int | None = None
    uid: int | None = None
    comm: str | None = None
    offset: tuple[int, int | None] | None = None
    nth: int | None = None
    count: int | None = None
    p: float | None = None
    seed: int = 0
    id: int = 0
    matched: int = 0
    hits: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)
    _rng: random.Random | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._regex = glob_regex(self.path) if self.path is not None else None
        self._rng = random.Random(self.seed) if self.p is not None else None

    def about(self, path: str, pid: int, uid: int, comm: str) -> bool:
        """Whether a request on ``path`` from this process is one the rule is about (the
        caller checks the op; offset, nth, count and p are for :meth:`overlaps` and
        :meth:`fire`)."""
        if self.pid is not None and pid != self.pid:
            return False
        if self.uid is not None and uid != self.uid:
            return False
        if self.comm is not None and comm != self.comm:
            return False
        return self._regex is None or self._regex.match(path) is not None

    def overlaps(self, off: int, size: int) -> bool:
        """Whether bytes [off, off+size) meet the rule's offset range (always, without one)."""
        if self.offset is None:
            return True
        lo, hi = self.offset
        return off + max(size, 1) > lo and (hi is None or off < hi)

    def fire(self) -> bool:
        """Count a matching request; whether the rule fires on it (nth, count, p)."""
        self.matched += 1
        if self.nth is not None and self.matched < self.nth:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        if self._rng is not None and self._rng.random() >= self.p:
            return False
        self.hits += 1
        return True

    def __str__(self) -> str:
        """The rule as parsed, in the line syntax (the seed always shown)."""
        parts = []
        if self.path is not None:
            parts.append(f"path={shlex.quote(self.path)}")
        if self.ops != DEFAULT_OPS:
            parts.append("op=" + ",".join(o for o in OPS if o in self.ops))
        for key in ("pid", "uid"):
            if getattr(self, key) is not None:
                parts.append(f"{key}={getattr(self, key)}")
        if self.comm is not None:
            parts.append(f"comm={shlex.quote(self.comm)}")
        if self.offset is not None:
            lo, hi = self.offset
            parts.append(f"offset={lo}-{'' if hi is None else hi}")
        for key in ("nth", "count", "p"):
            if getattr(self, key) is not None:
                parts.append(f"{key}={getattr(self, key)}")
        parts.append(f"seed={self.seed}")
        parts.append(f"action={self.action}")
        return " ".join(parts)


def _offset(token: str, value: str) -> tuple[int, int | None]:
    lo_s, dash, hi_s = value.partition("-")
    try:
        lo = parse_size(lo_s)
        hi = (parse_size(hi_s) if hi_s else None) if dash else lo + 1
    except ValueError:
        raise ValueError(f"bad token {token!r}: offset is A-B, A- or A (sizes such as 4K)") from None
    if hi is not None and hi <= lo:
        raise ValueError(f"bad token {token!r}: the range is empty")
    return lo, hi


def build(pairs: dict[str, str], tokens: dict[str, str] | None = None) -> Rule:
    """A Rule from ``key -> value`` strings; ``tokens`` gives each key's token as written."""
    tokens = tokens or {k: f"{k}={v}" for k, v in pairs.items()}
    for key in pairs:
        if key not in KEYS:
            raise ValueError(f"bad token {tokens[key]!r}: unknown key {key!r} (keys: {', '.join(KEYS)})")
    if "action" not in pairs:
        raise ValueError("a rule needs action=STEP (e.g. action=short:1)")
    try:
        action = parse_step(pairs["action"])
    except ValueError as exc:
        raise ValueError(f"bad token {tokens['action']!r}: {exc}") from None
    kw: dict[str, Any] = {"action": action}
    if "path" in pairs:
        path = pairs["path"]
        if path.startswith("/") or not path or "\0" in path:
            raise ValueError(f"bad token {tokens['path']!r}: a path is relative to the mount "
                             "root, without a leading slash")
        kw["path"] = path
    if "op" in pairs:
        ops = [o.strip() for o in pairs["op"].split(",") if o.strip()]
        bad = [o for o in ops if o not in OPS]
        if bad or not ops:
            raise ValueError(f"bad token {tokens['op']!r}: unknown op {bad[0] if bad else ''!r} "
                             f"(ops: {', '.join(OPS)})")
        kw["ops"] = frozenset(ops)
    ops_set = kw.get("ops", DEFAULT_OPS)
    for key in ("pid", "uid"):
        if key in pairs:
            kw[key] = _int(tokens[key], pairs[key])
    if "comm" in pairs:
        if not pairs["comm"]:
            raise ValueError(f"bad token {tokens['comm']!r}: empty process name")
        kw["comm"] = pairs["comm"][:TASK_COMM_LEN]
    if "offset" in pairs:
        kw["offset"] = _offset(tokens["offset"], pairs["offset"])
        if not ops_set & DATA_OPS:
            raise ValueError(f"bad token {tokens['offset']!r}: only read and write have offsets")
    for key in ("nth", "count"):
        if key in pairs:
            kw[key] = _int(tokens[key], pairs[key], lo=1)
    if "p" in pairs:
        try:
            p = float(pairs["p"])
        except ValueError:
            p = -1.0
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"bad token {tokens['p']!r}: p is a probability in 0..1")
        kw["p"] = p
    if "seed" in pairs:
        kw["seed"] = _int(tokens["seed"], pairs["seed"])
    else:
        kw["seed"] = random.SystemRandom().randrange(1 << 32)
    if action.moves_data and ops_set - DATA_OPS:
        raise ValueError(f"bad token {tokens['action']!r}: {action} shapes the data of read and "
                         f"write; op={','.join(sorted(ops_set - DATA_OPS))} takes an errno, ok or sleep:MS")
    return Rule(**kw)


def parse_rule(line: str) -> Rule:
    """The rule written as one line of ``key=value`` tokens (shell quoting allowed)."""
    try:
        words = shlex.split(line, comments=False)
    except ValueError as exc:
        raise ValueError(f"cannot split the rule into tokens: {exc}") from None
    pairs: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise ValueError(f"bad token {word!r}: tokens are key=value")
        if key in pairs:
            raise ValueError(f"bad token {word!r}: {key} given twice")
        pairs[key], tokens[key] = value, word
    return build(pairs, tokens)


def rule_from_table(table: Any) -> Rule:
    """The rule of a ``[[fault]]`` TOML table (the same keys; op may be a list)."""
    if not isinstance(table, dict):
        raise ValueError("a [[fault]] entry must be a table")
    pairs: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, list) and key == "op":
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"bad key {key!r}: {value!r} is not a string or a number")
        pairs[str(key)] = str(value)
    return build(pairs)


__all__ = ["Rule", "parse_rule", "rule_from_table", "build", "glob_regex", "OPS", "DATA_OPS", "KEYS"]
