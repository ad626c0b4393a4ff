"""Fault rules: the one rule parser (a line of ``key=value`` tokens, or a TOML table) and
what one rule selects.

    path=GLOB      relative to the mount root, no leading slash: * within a name, ** across
                   directories, ? one character (default: any node)
    op=LIST        the requests it is about (iofs.faults.ops; default: read,write)
    pid=N uid=N comm=NAME
                   who asked (comm: the process name as the kernel keeps it, 15 bytes)
    offset=A-B     the request's bytes overlap [A, B) (A-: from A on; A: the byte at A);
                   sizes may use K/M/G; only read and write have offsets
    nth=WHEN       which of the requests it matches it fires on, as strace's when=:
                   K the K-th alone, K+ from the K-th on, K+S every S-th from the K-th,
                   K..L the K-th to the L-th
    count=N        fire at most N times
    p=FLOAT        fire with probability p, drawn from seed=N (one draw per matching request:
                   the same seed and the same requests fire the same way every run)
    seed=N         the rule's seed (for p and corrupt); chosen at random when not given
    action=ACTION  what a firing does (:mod:`iofs.faults.actions`); required

A non-data op takes only ``ok``, an errno or ``sleep:MS``; ``ERRNO:N``, ``short``, ``eagain``
and ``corrupt`` need op=read/write. Every mistake is a ValueError naming the bad token.
"""

from __future__ import annotations

import random
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable

from ..system.units import parse_size, whole_number
from .actions import Action, Request, parse_action
from .glob import Glob
from .ops import DATA_OPS, FAULTABLE, OPS

DEFAULT_OPS = frozenset({"read", "write"})
TASK_COMM_LEN = 15  # what the kernel keeps of a process name, in bytes


def kernel_comm(name: str) -> str:
    """``name`` as the kernel stores a process name: its first 15 bytes (UTF-8), read back
    the way iofs reads /proc/PID/comm (bytes that do not decode are surrogate-escaped)."""
    return name.encode(errors="surrogateescape")[:TASK_COMM_LEN].decode(errors="surrogateescape")


@dataclass(frozen=True)
class Nth:
    """Which matching requests a rule fires on: the ``first``-th, then every ``step``-th up
    to the ``last``-th (None: no end). strace's ``when=`` grammar."""

    first: int
    last: int | None
    step: int = 1

    def selects(self, k: int) -> bool:
        """Whether the k-th matching request (from 1) is one of these."""
        if k < self.first or (self.last is not None and k > self.last):
            return False
        return (k - self.first) % self.step == 0

    def __str__(self) -> str:
        if self.last == self.first:
            return str(self.first)
        if self.last is not None:
            return f"{self.first}..{self.last}"
        return f"{self.first}+" if self.step == 1 else f"{self.first}+{self.step}"


def parse_nth(token: str, value: str) -> Nth:
    """``K``, ``K+``, ``K+S`` or ``K..L`` (ValueError naming the token)."""
    def num(text: str) -> int:
        n = whole_number(text)
        if n is None or n < 1:
            raise ValueError(f"bad token {token!r}: nth is K, K+, K+S or K..L with whole "
                             "numbers from 1 (as strace's when=)")
        return n

    if ".." in value:
        lo, _, hi = value.partition("..")
        first, last = num(lo), num(hi)
        if last < first:
            raise ValueError(f"bad token {token!r}: the range is empty")
        return Nth(first, last)
    if "+" in value:
        lo, _, step = value.partition("+")
        return Nth(num(lo), None, num(step) if step else 1)
    first = num(value)
    return Nth(first, first)


@dataclass(eq=False)
class Rule:
    """One rule, as parsed, with its counters: ``matched`` requests it matched, ``hits`` times
    it fired. ``id`` is given when the rule is added."""

    action: Action
    path: str | None = None
    ops: frozenset[str] = DEFAULT_OPS
    pid: int | None = None
    uid: int | None = None
    comm: str | None = None
    offset: tuple[int, int | None] | None = None
    nth: Nth | None = None
    count: int | None = None
    p: float | None = None
    seed: int = 0
    id: int = 0
    matched: int = 0
    hits: int = 0
    glob: Glob | None = field(default=None, repr=False)
    _rng: random.Random | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.glob = Glob(self.path) if self.path is not None else None
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
        return self.glob is None or self.glob.match(path)

    def overlaps(self, off: int, size: int) -> bool:
        """Whether bytes [off, off+size) meet the rule's offset range (always, without one)."""
        if self.offset is None:
            return True
        lo, hi = self.offset
        return off + max(size, 1) > lo and (hi is None or off < hi)

    def fire(self, req: Request) -> bool:
        """Count a matching request; whether the rule fires on it (nth, count, p, and whether
        the action would change anything: a no-op is not a hit)."""
        self.matched += 1
        if self.nth is not None and not self.nth.selects(self.matched):
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        if self._rng is not None and self._rng.random() >= self.p:  # type: ignore[operator]
            return False
        if not self.action.effective(req):
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


# ---- the parser: one function per key ------------------------------------------------------

def _whole(token: str, value: str, lo: int = 0) -> int:
    n = whole_number(value)
    if n is None or n < lo:
        raise ValueError(f"bad token {token!r}: {value!r:.40} is not a whole number"
                         + (f" >= {lo}" if lo else ""))
    return n


def _path(token: str, value: str) -> str:
    if value.startswith("/") or not value or "\0" in value:
        raise ValueError(f"bad token {token!r}: a path is relative to the mount root, without a "
                         "leading slash")
    try:
        Glob(value)
    except ValueError as exc:
        raise ValueError(f"bad token {token!r}: {exc}") from None
    return value


def _ops(token: str, value: str) -> frozenset[str]:
    ops = [o.strip() for o in value.split(",") if o.strip()]
    bad = [o for o in ops if o not in FAULTABLE]
    if bad or not ops:
        raise ValueError(f"bad token {token!r}: unknown op {bad[0] if bad else ''!r} "
                         f"(ops: {', '.join(FAULTABLE)})")
    return frozenset(ops)


def _comm(token: str, value: str) -> str:
    if not value:
        raise ValueError(f"bad token {token!r}: empty process name")
    return kernel_comm(value)


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


def _p(token: str, value: str) -> float:
    try:
        p = float(value)
    except ValueError:
        p = -1.0
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bad token {token!r}: p is a probability in 0..1")
    return p


def _action(token: str, value: str) -> Action:
    try:
        return parse_action(value)
    except ValueError as exc:
        raise ValueError(f"bad token {token!r}: {exc}") from None


_KEYS: dict[str, Callable[[str, str], Any]] = {
    "path": _path, "op": _ops, "pid": _whole, "uid": _whole, "comm": _comm, "offset": _offset,
    "nth": parse_nth, "count": lambda t, v: _whole(t, v, lo=1), "p": _p, "seed": _whole,
    "action": _action,
}
KEYS = tuple(_KEYS)


def build(pairs: dict[str, str], tokens: dict[str, str] | None = None) -> Rule:
    """A Rule from ``key -> value`` strings; ``tokens`` gives each key's token as written."""
    tokens = tokens or {k: f"{k}={v}" for k, v in pairs.items()}
    for key in pairs:
        if key not in _KEYS:
            raise ValueError(f"bad token {tokens[key]!r}: unknown key {key!r} (keys: {', '.join(KEYS)})")
    if "action" not in pairs:
        raise ValueError("a rule needs action=ACTION (e.g. action=short:1)")
    kw: dict[str, Any] = {("ops" if k == "op" else k): _KEYS[k](tokens[k], v)
                          for k, v in pairs.items()}
    ops = kw.get("ops", DEFAULT_OPS)
    if "offset" in kw and not ops & DATA_OPS:
        raise ValueError(f"bad token {tokens['offset']!r}: only read and write have offsets")
    if kw["action"].shapes_data and ops - DATA_OPS:
        raise ValueError(f"bad token {tokens['action']!r}: {kw['action']} shapes the data of read "
                         f"and write; op={','.join(sorted(ops - DATA_OPS))} takes an errno, ok or "
                         "sleep:MS")
    kw.setdefault("seed", random.SystemRandom().randrange(1 << 32))
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


__all__ = ["Rule", "Nth", "parse_rule", "parse_nth", "rule_from_table", "build", "kernel_comm",
           "KEYS", "DEFAULT_OPS"]
