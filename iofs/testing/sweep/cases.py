"""What a sweep runs: the requests of the clean run, the cases made of them (one request, one
action), those that cannot show anything left out, and the choice among the rest.

A case is a rule that hits exactly one request of the clean run: ``path=P op=O nth=N
action=A``, where N is the request's place among the clean run's requests that the rule
matches (those of op O on P), so that the fault lands on that request whatever else the
program does. A case is judged by comparing its run with the clean run
(:mod:`.outcome`); another kind of case (a crash point, then a check) would bring its own
rules and its own judgement, and runs through the same engine.

Left out, from the clean run's trace (``moved``: the bytes the request moved clean):

* ``short:N`` on a request that moved at most N bytes (nothing would change);
* ``short:half`` on one that moved less than 2 bytes; otherwise it is written
  ``short:<moved // 2>``: half of what the request moved, not half of what it asked for (a
  1 MiB read of a 10 KiB device would otherwise move it all);
* ``eintr:N``, ``eagain:N`` (a restartable errno after N bytes) on a request that moved at
  most N bytes: after its last byte, EINTR is a short count of everything;
* ``eagain`` on a request of a file opened without O_NONBLOCK (it serves it as it is);
* ``corrupt:N`` on a request that moved nothing;
* an action that shapes the data (``short``, ``eagain``, ``ERRNO:N``, ``corrupt``) on a request
  that moves none (open, fsync, rename, ...): that action is left out for that op only;
* a request on the mount root (a rule cannot name it by path).
"""

from __future__ import annotations

import random
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from ...dev.guard import RESTARTABLE
from ...faults.actions import Crash, Eagain, Errno, Short, Corrupt, parse_action
from ...faults.glob import Glob
from ...faults.ops import DATA_OPS, FAULTABLE
from ...faults.rules import Nth, parse_nth
from ..mount import toml_text

DEFAULT_OPS = "read,write"
DEFAULT_ACTIONS = "short:1,short:half,eintr,eagain,eio"


class SweepError(Exception):
    """A sweep that cannot start or go on: one line. ``usage``: the caller's arguments are
    at fault (exit status 2); ``unavailable``: this machine cannot mount at all."""

    def __init__(self, message: str, usage: bool = False, unavailable: bool = False) -> None:
        super().__init__(message)
        self.usage = usage
        self.unavailable = unavailable


@dataclass(frozen=True)
class Request:
    """One request of the clean run that a sweep may fault. ``index``: its place among the
    clean run's swept requests (from 1: what ``--nth`` selects); ``nth``: its place among the
    requests the rule ``path=P op=O`` matches; ``moved``: bytes it moved clean."""

    index: int
    path: str
    op: str
    nth: int
    moved: int = 0
    size: int | None = None
    nonblock: bool = False
    errno: int = 0


class OneRule:
    """A run with one rule, ``action`` on exactly ``request``: its line, its ``[[fault]]``
    table and its JSON. A subclass says which ``seed`` the rule carries (None: none)."""

    request: Request
    action: str
    asked: str

    @property
    def rule_seed(self) -> int | None:
        return None

    @property
    def rule(self) -> str:
        """The rule line, for ``iofs fault MNT add``."""
        r, seed = self.request, self.rule_seed
        words = "" if seed is None else f" seed={seed}"
        return f"path={shlex.quote(r.path)} op={r.op} nth={r.nth}{words} action={self.action}"

    def rules(self) -> list[str]:
        """The rules of the run, in the order they are added (before the clean run's)."""
        return [self.rule]

    def toml(self) -> str:
        """The rule as a ``[[fault]]`` table, for a tree."""
        r, seed = self.request, self.rule_seed
        table: dict[str, Any] = {"path": r.path, "op": [r.op], "nth": r.nth}
        if seed is not None:
            table["seed"] = seed
        table["action"] = self.action
        return toml_text({"fault": [table]}).strip()

    def as_json(self) -> dict[str, Any]:
        r = self.request
        return {"request": r.index, "path": r.path, "op": r.op, "nth": r.nth, "moved": r.moved,
                "action": self.action, "asked": self.asked, "rule": self.rule}


@dataclass(frozen=True)
class Case(OneRule):
    """One faulted run: ``action`` (as the rule writes it; ``asked`` as the user gave it,
    ``short:half``) on exactly ``request``."""

    request: Request
    asked: str
    action: str
    kind = "fault"

    @property
    def rule_seed(self) -> int | None:
        return 0 if self.action.startswith("corrupt") else None  # corrupt is seeded


def parse_ops(text: str) -> list[str]:
    """The ``--ops`` list (SweepError, usage)."""
    ops = [o.strip() for o in text.split(",") if o.strip()]
    bad = [o for o in ops if o not in FAULTABLE]
    if bad or not ops:
        raise SweepError(f"unknown op {bad[0] if bad else ''!r} in --ops (ops: {', '.join(FAULTABLE)})",
                         usage=True)
    return ops


def parse_actions(text: str, ops: list[str]) -> list[str]:
    """The ``--actions`` list, each checked by the one action parser (SweepError, usage). An
    action that cannot apply to any of ``ops`` is refused; one that applies to some is left
    out for the others when the cases are made."""
    actions = [a.strip() for a in text.split(",") if a.strip()]
    if not actions:
        raise SweepError("--actions is empty", usage=True)
    for a in actions:
        try:
            act = parse_action(a)
        except ValueError as exc:
            raise SweepError(f"--actions {a}: {exc}", usage=True) from None
        if isinstance(act, Crash):
            raise SweepError(f"--actions {a}: a crash point needs a check after the crash, "
                             "which a sweep does not run", usage=True)
        if act.shapes_data and not DATA_OPS & set(ops):
            raise SweepError(f"--actions {a}: {act} shapes the data of read and write, and "
                             f"--ops {','.join(ops)} has neither (use an errno, ok or sleep:MS)",
                             usage=True)
    return actions


def parse_nth_list(text: str) -> list[Nth]:
    """``--nth``: WHEN[,WHEN...], each K, K+, K+S or K..L (SweepError, usage)."""
    out = []
    for part in text.split(","):
        try:
            out.append(parse_nth(f"--nth {part}", part.strip()))
        except ValueError as exc:
            raise SweepError(str(exc), usage=True) from None
    if not out:
        raise SweepError("--nth is empty", usage=True)
    return out


def requests_of(trace: Iterable[dict[str, Any]], ops: list[str],
                path: str | None = None) -> tuple[list[Request], Counter]:
    """The swept requests of a clean run's trace (ops ``ops``, paths matching the glob
    ``path``), and how many requests of each op the run made in all."""
    seen: Counter = Counter()
    per_key: Counter = Counter()
    glob = Glob(path) if path is not None else None
    events = []
    for e in trace:
        if "lost" in e:
            raise SweepError("the clean run made more requests than the trace ring holds "
                             "(raise [options] trace_events)")
        seen[e["op"]] += 1
        events.append(e)
    out: list[Request] = []
    for k, e in enumerate(events):
        p, op = e["path"], e["op"]
        per_key[(p, op)] += 1
        if op not in ops or not p or (glob is not None and not glob.match(p)):
            continue
        nth = per_key[(p, op)] if not any(c in p for c in "*?") else _nth_by_glob(events, k)
        out.append(Request(len(out) + 1, p, op, nth, e.get("moved") or 0, e.get("size"),
                           bool(e.get("nonblock")), e.get("errno") or 0))
    return out, seen


def _nth_by_glob(events: list[dict[str, Any]], k: int) -> int:
    """The place of event k among the events its path, read as a rule's glob, matches."""
    glob, op = Glob(events[k]["path"]), events[k]["op"]
    return sum(1 for e in events[:k + 1] if e["op"] == op and glob.match(e["path"]))


def concrete(asked: str, req: Request) -> str | None:
    """The action as the rule for ``req`` writes it, or None: it cannot show anything there."""
    act = parse_action(asked)
    if act.shapes_data and req.op not in DATA_OPS:
        return None
    if isinstance(act, Short):
        if act.n is None:
            return f"short:{req.moved // 2}" if req.moved >= 2 else None
        return asked if req.moved > act.n else None
    if isinstance(act, Errno) and act.n and act.code in RESTARTABLE:
        return asked if req.moved > act.n else None
    if isinstance(act, Eagain):
        return asked if req.nonblock else None
    if isinstance(act, Corrupt):
        return asked if req.moved > 0 else None
    return asked


def build_cases(requests: list[Request], actions: list[str]) -> tuple[list[Case], int]:
    """Every (request, action) that can show something, in request order; and how many were
    left out."""
    cases, skipped = [], 0
    for req in requests:
        for asked in actions:
            action = concrete(asked, req)
            if action is None:
                skipped += 1
            else:
                cases.append(Case(req, asked, action))
    return cases, skipped


@dataclass
class Choice:
    """Which cases run: ``--nth`` (requests by their index), ``--sample N`` drawn with
    ``seed``, then ``--max-runs`` (the first N)."""

    nth: list[Nth] | None = None
    sample: int | None = None
    seed: int = 0
    max_runs: int | None = None
    notes: list[str] = field(default_factory=list)

    def apply(self, cases: list[Case]) -> list[Case]:
        """The cases to run, in request order; :attr:`notes` says what narrowed them."""
        self.notes = []
        chosen = cases
        if self.nth is not None:
            chosen = [c for c in chosen if any(n.selects(c.request.index) for n in self.nth)]
            self.notes.append(f"--nth {','.join(str(n) for n in self.nth)}")
        if self.sample is not None and self.sample < len(chosen):
            picked = set(random.Random(self.seed).sample(range(len(chosen)), self.sample))
            chosen = [c for k, c in enumerate(chosen) if k in picked]
            self.notes.append(f"--sample {self.sample} --seed {self.seed}")
        if self.max_runs is not None and self.max_runs < len(chosen):
            chosen = chosen[:self.max_runs]
            self.notes.append("--max-runs")
        return chosen


__all__ = ["Request", "Case", "Choice", "SweepError", "parse_ops", "parse_actions",
           "parse_nth_list", "requests_of", "concrete", "build_cases", "DEFAULT_OPS",
           "DEFAULT_ACTIONS"]
