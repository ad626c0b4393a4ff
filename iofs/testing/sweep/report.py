"""What ``iofs sweep`` prints: a header once the cases are known, one line per group of alike
findings (``-v``: each with the rule to reproduce it, the ``[[fault]]`` table, a unified diff of
the start of stdout and the last lines of stderr), the runs that could not be made, and a
summary: runs, time, runs per second, counts per class, what was left out.

The header and the summary go to stderr (``sweep: ...``), the findings to stdout, so that
``iofs sweep ... 2>/dev/null`` is the list of findings alone.
"""

from __future__ import annotations

import difflib

from .result import Group, Result

DIFF_LINES = 12    # lines of the stdout diff -v shows
STDERR_LINES = 5   # last lines of stderr -v shows


def header(r: Result) -> list[str]:
    """What the clean run was and which cases exist and run."""
    seen = ", ".join(f"{op} {n}" for op, n in sorted(r.seen.items()))
    swept = ", ".join(f"{op} {n}" for op, n in sorted(r.seen.items()) if op in r.ops) or "none"
    lines = [f"sweep: clean run {r.clean.status_text()} in {r.clean.seconds:.2f} s; requests seen: "
             f"{seen}; swept ({','.join(r.ops)}): {swept}"]
    left = f"; {r.skipped} left out (they cannot change anything)" if r.skipped else ""
    why = f" ({', '.join(r.notes)})" if r.notes else ""
    lines.append(f"sweep: {r.cases_total} cases of {r.requests} requests x {len(r.actions)} "
                 f"actions{left}; running {r.chosen}{why}")
    if not r.stderr_stable:
        lines.append("sweep: the clean runs' stderr differ: only the exit status makes a run LOUD")
    return lines


def finding_lines(g: Group, verbose: bool, r: Result) -> list[str]:
    """One line for a group of findings; with ``verbose`` its details under it."""
    f = g.first
    line = str(f)
    if len(g.findings) > 1:
        line += f" [+{len(g.findings) - 1} alike: {g.others()}]"
    if not verbose:
        return [line]
    out = [line, f"  reproduce: iofs fault MNT add '{f.rule}'", "  or in the tree:"]
    if f.cls == "check":
        out = [line, f"  reproduce: iofs fault MNT add '{f.rule}'; run the program; iofs "
                     "restart MNT; run the check", "  or in the tree:"]
    out += ["    " + ln for ln in f.case.toml().splitlines()]
    o = f.outcome
    if o.stdout.digest != r.clean.stdout.digest:
        diff = list(difflib.unified_diff(r.clean.stdout.text().splitlines(),
                                         o.stdout.text().splitlines(), "clean", "faulted",
                                         lineterm="", n=1))
        if diff:
            out.append("  stdout:")
            out += ["    " + ln for ln in diff[:DIFF_LINES]]
            if len(diff) > DIFF_LINES:
                out.append(f"    ... ({len(diff) - DIFF_LINES} more diff lines)")
    err = o.stderr.last_lines(STDERR_LINES)
    if err:
        out.append("  stderr (last lines):")
        out += ["    " + ln for ln in err]
    return out


def findings(r: Result, verbose: bool = False) -> list[str]:
    """Every group of findings of the chosen classes, then the runs that could not be made."""
    out: list[str] = []
    for g in r.groups():
        out += finding_lines(g, verbose, r)
    for run in r.errors:
        out.append(f"ERROR {run.case.rule}: {run.outcome.error}")
    return out


def summary(r: Result) -> list[str]:
    """The last lines: runs, time, counts per class, what else is worth knowing."""
    c = r.counts()
    classes = ", ".join(f"{k.upper()} {c[k]}" for k in r.classes)
    shown = "" if set(r.classes) <= set(r.only) else f" (shown: {','.join(r.only)})"
    rate = f" ({r.rate():.1f} runs/s)" if r.runs and r.fault_seconds > 0 else ""
    lines = [f"sweep: {len(r.runs)} runs in {r.seconds:.1f} s{rate}: {classes}{shown}; "
             f"{c['same']} as clean" + (f"; {c['error']} could not be made" if c["error"] else "")]
    if len(r.runs) < r.cases_total:
        lines.append(f"sweep: {r.cases_total - len(r.runs)} of {r.cases_total} cases not run")
    if r.unfired:
        lines.append(f"sweep: in {r.unfired} runs the rule never fired: the program did not make "
                     "the same requests as in the clean run")
    if r.interrupted is not None:
        lines.append("sweep: interrupted; every mount is gone")
    return lines


__all__ = ["header", "findings", "finding_lines", "summary", "DIFF_LINES", "STDERR_LINES"]
