#!/usr/bin/env python3
"""The cost of one Glob.match (iofs.faults.glob), by kind of pattern and path.

Prints, per case, the time of one match (the fastest of several timeit batches, as timeit
recommends: interference only ever adds time) and which tier decided it; for the cases the old
regex (rules.glob_regex, copied here) can do in reasonable time, its time too. The
pathological cases are those where the regex backtracks for minutes; each is also run through
the NFA alone (tier 3), which bounds every pattern.

Usage: scripts/bench/micro_glob.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import timeit

# run as a file: the checkout's iofs, two levels up
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

from iofs.faults.glob import Glob, _Nfa, _tokens  # noqa: E402


def glob_regex(glob: str) -> re.Pattern[str]:
    """The old matcher, rules.glob_regex before Glob replaced it (iofs has it no more; the
    same copy is test_glob's oracle): a backtracking regex, the times to compare with."""
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


DEEP = "/".join(f"d{i}" for i in range(100))
CASES = [  # (what, pattern, path, the old regex too)
    ("literal, no match", "tmp/data/file.txt", "tmp/data/file.log", True),
    ("literal, no match (other prefix)", "mem0", "tmp/mem0", True),
    ("simple, no match", "tmp/*.log", "tmp/data/file.txt", True),
    ("simple, no match", "db/**", "tmp/x", True),
    ("simple, no match past the filters", "tmp/*.log", "tmp/data/a.log", True),
    ("typical match", "tmp/*.log", "tmp/app.log", True),
    ("typical match", "db/**", "db/a/b/c", True),
    ("typical match", "**/*.log", "a/b/c/d/x.log", True),
    ("typical match", "src/**/test_*.py", "src/a/b/c/test_io.py", True),
    ("typical match", "tmp/*/part-?.bin", "tmp/d1/part-3.bin", True),
    ("typical match", "**/cache/**/*.db", "a/b/cache/c/d/x.db", True),
    ("typical no match", "**/cache/**/*.db", "a/b/cash/c/d/x.db", True),
    ("typical match (NFA)", "logs/**.gz", "logs/a/b/x.gz", True),
    ("typical no match (NFA)", "logs/**-old/*", "logs/a/b/x", True),
    ("pathological", "tmp/" + "*a" * 14 + "*b", "tmp/" + "a" * 46, False),
    ("pathological, past the filters", "tmp/" + "*a" * 14 + "*b", "tmp/" + "a" * 46 + "/b",
     False),
    ("pathological", "**/**/**/**/**/x", DEEP, False),
    ("pathological", "**/**/**/**/**/x", DEEP + "/x", False),
    ("pathological, newline (NFA)", "**/**/**/**/**/x*", DEEP + "\n/x", False),
    ("pathological", "*a" * 2048, "a" * 4096, False),
    ("pathological", "*a" * 2048, "a" * 4095 + "b", False),
    ("pathological (NFA)", "**a" * 1365, "a" * 4096, False),
    ("pathological (NFA)", "**a" * 1365, "a" * 4095 + "/a", False),
    ("pathological (components)", "**/a/a/a/a/b/**/x", "a/" * 2000 + "x", False),
]


def per_call_us(fn, repeat: int) -> float:
    """Microseconds per call: the fastest of ``repeat`` batches of about 0.2 s each."""
    timer = timeit.Timer(fn)
    n, _ = timer.autorange()
    return min(timer.repeat(repeat, n)) / n * 1e6


def tier(g: Glob, path: str) -> str:
    """Which tier of Glob.match decides (mirrors its order)."""
    if g.literal:
        return "equality"
    if len(path) < g._min or not path.startswith(g._prefix) or not path.endswith(g._suffix):
        return "filters"
    if g._single is not None:
        return "one wildcard"
    if g._runs is not None and not (g._newline_gaps and "\n" in path):
        return "components"
    return "NFA"


def shorten(path: str) -> str:
    """The path as a literal, its head and length when long."""
    return repr(path) if len(path) <= 22 else f"{path[:12]!r}…({len(path)})"


def show(us: float) -> str:
    return f"{us:10.3f} µs" if us < 1000 else f"{us / 1000:10.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'case':38} {'pattern':24} {'path':24} {'tier':12} {'Glob':>13} {'regex':>13}"
          "  (NFA alone)")
    for what, pattern, path, old in CASES:
        g = Glob(pattern)
        us = per_call_us(lambda: g.match(path), args.repeat)
        line = f"{what:38} {pattern[:24]:24} {shorten(path):24} {tier(g, path):12} {show(us)}"
        regex = glob_regex(pattern)
        line += f" {show(per_call_us(lambda: regex.match(path), args.repeat))}" if old else (
            " " * 14)
        if what.startswith("pathological"):
            nfa = _Nfa(_tokens(pattern))
            assert nfa.match(path) == g.match(path)
            line += f"  ({show(per_call_us(lambda: nfa.match(path), args.repeat)).strip()})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
