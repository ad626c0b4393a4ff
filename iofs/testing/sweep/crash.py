"""``iofs sweep --crash --check CHECK``: the crash points of a program, ALICE's loop on an
unmodified program.

The clean run records the program's requests; a case is one request k among the ops that
change what a disk holds (write, fsync, create, rename, unlink, link, truncate, mkdir, rmdir,
fsyncdir; ``--ops`` chooses), with a crash rule on exactly it: ``action=crash`` (served, then
the crash), ``action=crash:before`` (the crash instead), and with ``--torn N`` also N seeded
``crash:torn`` of each write (the write torn into ``torn_unit`` pieces). The program runs
until it ends (every request after the crash fails with EIO), the mount restarts from what was
durable at the crash, and CHECK runs: a shell command, with ``{mnt}`` for the mount and
``{stdout}`` for a file holding the program's stdout (also in ``$IOFS_MNT``,
``$IOFS_PROG_STDOUT``; ``$IOFS_PROG_EXIT`` is the program's exit status). A CHECK that exits
non-zero (or is killed) is a finding of class ``check``; one that runs past the timeout,
``hang``. CHECK must pass after the clean run, or the sweep refuses to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cases import OneRule, Request
from .outcome import Outcome, signal_name

CRASH_OPS = "write,fsync,create,rename,unlink,link,truncate,mkdir,rmdir,fsyncdir"
WHENS = ("crash", "crash:before")
CHECK_LINES = 3  # last lines of CHECK's output in a finding's line


@dataclass(frozen=True)
class CrashCase(OneRule):
    """A crash at exactly ``request``: ``action`` crash, crash:before or crash:torn (``seed``)."""

    request: Request
    action: str
    seed: int = 0
    kind = "crash"

    @property
    def asked(self) -> str:
        return self.action

    @property
    def rule_seed(self) -> int | None:
        return self.seed if self.action == "crash:torn" else None

    def as_json(self) -> dict[str, Any]:
        seed = self.rule_seed
        return {**super().as_json(), **({"seed": seed} if seed is not None else {})}


def crash_cases(requests: list[Request], torn: int = 0) -> list[CrashCase]:
    """Every crash point of the clean run's ``requests``: crash and crash:before on each, and
    ``torn`` seeded tearings (seeds 1..torn) of each write that moved something."""
    cases = []
    for req in requests:
        cases += [CrashCase(req, when) for when in WHENS]
        if req.op == "write" and req.moved > 0:
            cases += [CrashCase(req, "crash:torn", seed) for seed in range(1, torn + 1)]
    return cases


def check_command(check: str, mnt: str, stdout_file: str) -> list[str]:
    """CHECK as the shell runs it, ``{mnt}`` and ``{stdout}`` in place."""
    return ["/bin/sh", "-c", check.replace("{mnt}", mnt).replace("{stdout}", stdout_file)]


def what_failed(outcome: Outcome) -> str:
    """One line: how CHECK failed, and its last lines of output."""
    how = f"the check exited {outcome.exit}" if outcome.signal is None else \
        f"the check was killed by {signal_name(outcome.signal)}"
    said = (outcome.stderr.last_lines(CHECK_LINES) or outcome.stdout.last_lines(CHECK_LINES))
    return how + (": " + " | ".join(ln.strip() for ln in said if ln.strip()) if said else "")


__all__ = ["CrashCase", "crash_cases", "check_command", "what_failed", "CRASH_OPS", "WHENS"]
