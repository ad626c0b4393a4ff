"""What a sweep found, as objects: every run (:class:`Run`), the differing ones
(:class:`Finding`), those alike gathered (:class:`Group`), and the whole (:class:`Result`),
which says what the exit status of ``iofs sweep`` is.

Findings are alike when they are of the same class and the program did the same: the same
exit status or signal and the same stdout (and, for ``loud``, the same new stderr). One line
stands for each group.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .cases import Case
from .crash import CrashCase, what_failed
from .outcome import CLASSES, CRASH_CLASSES, FAULT_CLASSES, Outcome, classify, describe, new_stderr


@dataclass
class Run:
    """One faulted run: its case, what it did, its class (None: as clean; ``error``: it could
    not be made) and what differs, in one line."""

    case: Case
    outcome: Outcome
    cls: str | None
    what: str = ""

    def as_json(self) -> dict[str, Any]:
        return {**self.case.as_json(), "class": self.cls, "what": self.what or None,
                **self.outcome.as_json()}


@dataclass
class Finding:
    """A run that differs from the clean run: ``cls`` (silent, loud, crash, hang), ``rule``
    (ready for ``iofs fault MNT add``), ``what`` differs, and the run itself."""

    cls: str
    rule: str
    what: str
    run: Run

    @property
    def case(self) -> Case:
        return self.run.case

    @property
    def outcome(self) -> Outcome:
        return self.run.outcome

    def __str__(self) -> str:
        return f"{self.cls.upper()} {self.rule}: {self.what}"


@dataclass
class Group:
    """Findings alike: the first stands for them all."""

    findings: list[Finding]

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def cls(self) -> str:
        return self.first.cls

    def others(self, limit: int = 3) -> str:
        """The other findings' rules, short: ``nth=K action=A`` where path and op are the
        first's."""
        first = self.first.case.request
        words = []
        for f in self.findings[1:limit + 1]:
            r = f.case.request
            same = (r.path, r.op) == (first.path, first.op)
            words.append(f"nth={r.nth} action={f.case.action}" if same else f.rule)
        more = len(self.findings) - 1 - len(words)
        return ", ".join(words) + (f" and {more} more" if more > 0 else "")


def _key(f: Finding, clean: Outcome) -> tuple:
    o = f.outcome
    said = tuple(new_stderr(o, clean)) if f.cls == "loud" else ()
    return (f.cls, o.exit, o.signal, o.timed_out, o.stdout.digest, said)


@dataclass
class Result:
    """A sweep: the clean run, what the clean run was made of, every faulted run."""

    command: list[str]
    clean: Outcome
    ops: list[str]
    actions: list[str]
    seen: dict[str, int] = field(default_factory=dict)     # requests of each op, clean run
    requests: int = 0          # swept requests of the clean run
    cases_total: int = 0       # cases that can show something
    skipped: int = 0           # (request, action) pairs that cannot
    chosen: int = 0            # cases chosen to run
    notes: list[str] = field(default_factory=list)         # what narrowed the choice
    runs: list[Run] = field(default_factory=list)
    only: tuple[str, ...] = CLASSES
    stderr_stable: bool = True
    seconds: float = 0.0
    fault_seconds: float = 0.0  # the faulted runs' part of seconds
    jobs: int = 1
    interrupted: int | None = None  # the signal that ended the sweep early
    kind: str = "fault"  # or "crash" (sweep --crash)

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes this kind of sweep can find."""
        return CRASH_CLASSES if self.kind == "crash" else FAULT_CLASSES

    @property
    def findings(self) -> list[Finding]:
        """Every differing run of the chosen classes (``only``), in request order."""
        return [Finding(r.cls, r.case.rule, r.what, r) for r in self.runs
                if r.cls in CLASSES and r.cls in self.only]

    def of(self, cls: str) -> list[Finding]:
        return [f for f in self.findings if f.cls == cls]

    @property
    def silent(self) -> list[Finding]:
        return self.of("silent")

    @property
    def loud(self) -> list[Finding]:
        return self.of("loud")

    @property
    def crash(self) -> list[Finding]:
        return self.of("crash")

    @property
    def hang(self) -> list[Finding]:
        return self.of("hang")

    @property
    def check(self) -> list[Finding]:
        """Crash points after which the check failed (sweep --crash)."""
        return self.of("check")

    @property
    def errors(self) -> list[Run]:
        """Runs that could not be made."""
        return [r for r in self.runs if r.cls == "error"]

    @property
    def unfired(self) -> int:
        """Runs in which the case's rule never fired: the program did not make that request."""
        return sum(1 for r in self.runs if r.cls != "error" and r.outcome.fired == 0)

    def counts(self) -> dict[str, int]:
        """Runs of each class this kind of sweep finds (whatever ``only``), ``same`` and
        ``error``."""
        c = Counter(r.cls or "same" for r in self.runs)
        return {k: c.get(k, 0) for k in (*self.classes, "same", "error")}

    def groups(self) -> list[Group]:
        """The findings, those alike gathered, in the order of their first."""
        found: dict[tuple, Group] = {}
        for f in self.findings:
            found.setdefault(_key(f, self.clean), Group([])).findings.append(f)
        return list(found.values())

    @property
    def exit_status(self) -> int:
        """1 if anything of the chosen classes was found, or a run could not be made; 0
        otherwise (and 128 + N after signal N)."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        return 1 if self.findings or self.errors else 0

    def rate(self) -> float:
        """Faulted runs per second."""
        return len(self.runs) / self.fault_seconds if self.fault_seconds > 0 else 0.0


def judge(case: Case, outcome: Outcome, clean: Outcome, stderr_stable: bool) -> Run:
    """The run of ``case``, classified (:func:`.outcome.classify`)."""
    shaped_read = case.request.op == "read" and case.action.startswith(("short", "eintr:", "eagain"))
    run = Run(case, outcome, classify(outcome, clean, stderr_stable))
    if run.cls is not None:
        run.what = describe(run.cls, outcome, clean, shaped_read=shaped_read)
    return run


def judge_crash(case: CrashCase, outcome: Outcome, clean: Outcome, stderr_stable: bool) -> Run:
    """The run of a crash case (:mod:`.crash`), judged by its CHECK's outcome: ``check`` if
    CHECK failed, ``hang`` if it ran past the timeout, None if it passed."""
    if outcome.error is not None:
        return Run(case, outcome, "error", f"the run could not be made: {outcome.error}")
    if outcome.timed_out:
        return Run(case, outcome, "hang", "the check timed out (killed with all its processes)")
    if outcome.exit == 0:
        return Run(case, outcome, None)
    return Run(case, outcome, "check", what_failed(outcome))


# How a run of each kind of case is judged (Case.kind): the engine knows no more of a case
# than its rules and this.
JUDGES = {"fault": judge, "crash": judge_crash}

__all__ = ["Run", "Finding", "Group", "Result", "judge", "judge_crash", "JUDGES"]
