"""The active rules of a mount: added, removed and found in time that does not grow with
their number.

Rules are kept per op, and within an op by the literal path of rules without a wildcard, by
the first path component of rules whose first component is literal (``tmp/*.log``: ``tmp``),
and in one list for the rest. A request looks only at the rules of its op that could match
its path, in the order they were added (the first that fires wins), so 10,000 rules that do
not concern a request cost it a few dictionary lookups. Adding is O(1); a mount holds at
most ``max_rules`` (:class:`RuleLimit` beyond).
"""

from __future__ import annotations

import heapq
from typing import Iterable, Iterator

from ..core.td import Td
from ..dev.sleep import WaitChannel
from .actions import Request
from .ops import DATA_OPS
from .rules import Rule

DEFAULT_MAX_RULES = 10_000


class RuleLimit(Exception):
    """The mount holds its ``max_rules`` already."""


def _head(path: str) -> str:
    return path.partition("/")[0]


class _OpRules:
    """The rules of one op: by literal path, by literal first component, and the rest."""

    __slots__ = ("literal", "by_head", "rest", "count")

    def __init__(self) -> None:
        self.literal: dict[str, dict[int, Rule]] = {}
        self.by_head: dict[str, dict[int, Rule]] = {}
        self.rest: dict[int, Rule] = {}
        self.count = 0

    def _bucket(self, rule: Rule, make: bool) -> dict[int, Rule] | None:
        glob = rule.glob
        if glob is None:
            return self.rest
        if glob.literal:
            table, key = self.literal, rule.path
        else:
            head = _head(rule.path or "")
            if "/" not in (rule.path or "") or any(c in head for c in "*?"):
                return self.rest
            table, key = self.by_head, head
        bucket = table.get(key)  # type: ignore[arg-type]
        if bucket is None and make:
            bucket = table[key] = {}  # type: ignore[index]
        return bucket

    def add(self, rule: Rule) -> None:
        self._bucket(rule, True)[rule.id] = rule  # type: ignore[index]
        self.count += 1

    def remove(self, rule: Rule) -> None:
        bucket = self._bucket(rule, False)
        if bucket is not None and bucket.pop(rule.id, None) is not None:
            self.count -= 1

    def candidates(self, path: str) -> Iterable[Rule]:
        """The rules that could match ``path``, in the order they were added."""
        found = [b for b in (self.literal.get(path), self.by_head.get(_head(path)), self.rest) if b]
        if not found:
            return ()
        if len(found) == 1:
            return found[0].values()
        return (r for _, r in heapq.merge(*(b.items() for b in found)))


class RuleSet:
    """The rules of one mount, in the order added; ids count up from 1 and are never reused."""

    def __init__(self, max_rules: int = DEFAULT_MAX_RULES) -> None:
        self.max_rules = max_rules
        self.active = 0  # how many (a request's first test: any rule at all?)
        self._by_id: dict[int, Rule] = {}
        self._by_op: dict[str, _OpRules] = {}
        self._next_id = 1
        self._sleeps: dict[int, WaitChannel] = {}  # rule id -> where its sleep:MS requests wait

    def room(self) -> int:
        """How many more rules the mount may take."""
        return self.max_rules - self.active

    def add(self, rule: Rule) -> int:
        """Give ``rule`` the next id and make it active; RuleLimit past ``max_rules``."""
        if self.active >= self.max_rules:
            raise RuleLimit(f"the mount has {self.active} rules, its max_rules")
        rule.id = self._next_id
        self._next_id += 1
        self._by_id[rule.id] = rule
        for op in rule.ops:
            self._by_op.setdefault(op, _OpRules()).add(rule)
        self.active += 1
        return rule.id

    def remove(self, rule_id: int) -> bool:
        """Remove rule ``rule_id`` (its sleeping requests go on, served); whether it existed."""
        rule = self._by_id.pop(rule_id, None)
        if rule is None:
            return False
        for op in rule.ops:
            self._by_op[op].remove(rule)
        self.active -= 1
        chan = self._sleeps.pop(rule_id, None)
        if chan is not None:
            chan.wakeup()
        return True

    def clear(self) -> None:
        self._by_id, self._by_op, self.active = {}, {}, 0
        sleeps, self._sleeps = self._sleeps, {}
        for chan in sleeps.values():
            chan.wakeup()

    def __contains__(self, rule_id: int) -> bool:
        return rule_id in self._by_id

    def __iter__(self) -> Iterator[Rule]:
        return iter(list(self._by_id.values()))

    def sleeps(self, rule: Rule) -> WaitChannel:
        """Where the requests asleep in ``rule`` wait: removing the rule wakes them."""
        chan = self._sleeps.get(rule.id)
        if chan is None:
            chan = self._sleeps[rule.id] = WaitChannel()
        return chan

    def firing(self, req: Request, path: str, comm: str, off: int) -> Rule | None:
        """The first rule that selects this request and fires on it (its counters move)."""
        rules = self._by_op.get(req.op)
        if rules is None or not rules.count:
            return None
        td = req.td
        for rule in rules.candidates(path):
            if rule.about(path, td.pid, td.uid, comm) \
                    and (not req.data or rule.overlaps(off, req.size)) and rule.fire(req):
                return rule
        return None

    def selects_data(self, path: str, td: Td, comm: str) -> bool:
        """Whether some rule could fault reads or writes of ``path`` by this process in a way
        the page cache would hide (any action but a crash point or a kill)."""
        for op in DATA_OPS:
            rules = self._by_op.get(op)
            if rules is not None and any(r.action.direct and r.about(path, td.pid, td.uid, comm)
                                         for r in rules.candidates(path)):
                return True
        return False

    def listing(self) -> str:
        return "".join(f"{r.id} hits={r.hits} {r}\n" for r in self._by_id.values())


__all__ = ["RuleSet", "RuleLimit", "DEFAULT_MAX_RULES"]
