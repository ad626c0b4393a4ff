"""Path globs of fault rules, matched in time bounded by len(pattern) × len(path).

The contract is that of the regex translation the rules used (``rules.glob_regex``), on
mount-relative paths (any characters but NUL; the mount root is ""), whole path only:

    *      any run, possibly empty, of characters other than ``/``
    ?      one character other than ``/``
    **/    the empty string, or any run of characters ending in ``/``
    **     (not followed by ``/``) any run of characters, ``/`` included
    other  itself (``[``, ``\\``, ``.`` ... are not special)

As in that regex (whose ``.`` leaves out the newline), ``**`` and ``**/`` never take a newline,
while ``*`` and ``?`` do. A pattern is at most 4096 characters (PATH_MAX).

Why not ``re`` on that translation: it backtracks, exponentially for ``*a*a*a...b`` and with a
high power for ``**/**/**/x``, and the daemon serves every request from one thread. Here a
match costs at most O(len(pattern) × len(path)) steps, in tiers, cheapest first:

1. Filters at C speed: a pattern without wildcards is string equality; otherwise the path must
   be long enough and start and end with the literal text around the wildcards. When one
   wildcard is left between those, one ``in`` test decides (``tmp/*.log``, ``db/**``).
2. Components, when every ``**`` is a whole component and either the pattern has no ``**`` or
   the path no newline. Pattern and path are split at ``/``, and each run of component
   patterns between two ``**`` is placed at the leftmost place it fits: a gap takes any whole
   components, so placing a run earlier never hurts the runs after it. Within a component a
   star takes anything, so the same holds for the runs of literals and ``?`` between stars;
   a regex of atomic groups ``(?>.*?RUN)`` places them and never backtracks into a placed run.
   Trying a run at every place costs O(len(path) × len(run)) in all. (A newline in the path
   is left to tier 3: a gap cannot take it, so placing a run early could leave it to a gap.)
3. The rest (``**`` inside a component, newlines): a bit-parallel NFA (Shift-And, with
   self-loops for the stars), one pass over the path, a few int operations per character on
   len(pattern)-bit ints.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_PATTERN = 4096  # PATH_MAX: no path a rule can be about is longer
_STARS = ("*", "**", "**/")  # the wildcards that take runs
_WILD = _STARS + ("?",)

# The middle of a pattern that is a single wildcard, as a test of the middle of the path.
_SINGLE: dict[str, Callable[[str], bool]] = {
    "*": lambda s: "/" not in s,
    "?": lambda s: len(s) == 1 and s != "/",
    "**": lambda s: "\n" not in s,
    "**/": lambda s: not s or (s[-1] == "/" and "\n" not in s),
}

Matcher = Callable[[str], object]  # a component pattern: truthy when it matches a component


def _tokens(pattern: str) -> list[str]:
    """The pattern read as glob_regex reads it: ``**/``, ``**``, ``*``, ``?`` or one literal
    character; a run of ``**`` and ``**/`` becomes one token (``**`` if any is ``**``)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        t = ("**/" if pattern.startswith("**/", i) else "**" if pattern.startswith("**", i)
             else pattern[i])
        i += len(t)
        # (?:.*/)? and .* next to each other match what the wider one alone does (neither
        # takes a newline); merging keeps the NFA's chains of skippable tokens short.
        if t[:2] == "**" and out and out[-1][:2] == "**":
            t = "**" if "**" in (t, out.pop()) else "**/"
        out.append(t)
    return out


def _component(comp: str) -> Matcher:
    """A matcher of one component pattern (no ``/``, no ``**``): equality, or a regex that
    places each run between stars leftmost, atomically (the last run is anchored at the end)."""
    if "*" not in comp and "?" not in comp:
        return comp.__eq__
    def rx(run: str) -> str:
        return "".join("." if ch == "?" else re.escape(ch) for ch in run)
    runs = comp.split("*")
    body = rx(runs[0])
    if len(runs) > 1:
        body += "".join(f"(?>.*?{rx(r)})" for r in runs[1:-1]) + ".*" + rx(runs[-1])
    return re.compile(body, re.DOTALL).fullmatch  # DOTALL: * and ? take a newline


def _component_runs(pattern: str) -> list[list[Matcher]] | None:
    """The pattern's component patterns cut at its ``**`` components (head run first, tail run
    last), or None when some ``**`` is not a whole component."""
    comps = pattern.split("/")
    if any("**" in c and c != "**" for c in comps):
        return None
    if comps[-1] == "**":
        comps.append("*")  # a final ** is **/* on a path without a newline
    runs: list[list[Matcher]] = [[]]
    for c in comps:
        if c == "**":
            runs.append([])  # an empty run between two gaps fits anywhere: no merging needed
        else:
            runs[-1].append(_component(c))
    return runs


def _fits(run: list[Matcher], comps: list[str], i: int) -> bool:
    """Whether the run of component patterns matches the components from ``comps[i]`` on."""
    for j, m in enumerate(run):
        if not m(comps[i + j]):
            return False
    return True


class _Nfa:
    """Shift-And over tokens. Each token has a slot, ``**/`` three (an entry, ``**``, ``/``);
    bit j of the state says some reading of the text so far ends before slot j. A character
    moves bit j to j+1 where slot j takes it once (a literal, ``?``, the ``/`` of ``**/``) and
    keeps bit j where slot j takes it repeatedly (a star). The closure adds the bits reachable
    taking nothing: past a star, and from the entry of ``**/`` into its ``**`` or past the
    whole group (the entry takes no character, so its bit never outlives one)."""

    def __init__(self, tokens: list[str]) -> None:
        lit: dict[str, int] = {}
        q = star = dstar = skip1 = skip3 = 0
        skips: list[tuple[int, int]] = []  # the closure's edges, in order of their source
        j = 0
        for t in tokens:
            bit = 1 << j
            if t == "**/":
                skip1 |= bit | bit << 1
                skip3 |= bit
                dstar |= bit << 1
                lit["/"] = lit.get("/", 0) | bit << 2
                skips += [(j, j + 1), (j, j + 3), (j + 1, j + 2)]
                j += 3
                continue
            if t == "?":
                q |= bit
            elif t == "*":
                star |= bit
            elif t == "**":
                dstar |= bit
            else:
                lit[t] = lit.get(t, 0) | bit
            if t in _STARS:
                skip1 |= bit
                skips.append((j, j + 1))
            j += 1
        # A closure round follows one edge: as many rounds as the longest chain of edges (2 on
        # merged tokens: ** then *, or **/ then *; the parse puts no star right after a *).
        chain = [0] * (j + 1)
        for a, b in skips:
            chain[b] = max(chain[b], chain[a] + 1)
        self._rounds = range(max(chain))
        self._accept = 1 << j
        self._skip1, self._skip3 = skip1, skip3

        def masks(c: str) -> tuple[int, int]:  # (bits that step over c, bits that stay on c)
            return (lit.get(c, 0) | (q if c != "/" else 0),
                    (star if c != "/" else 0) | (dstar if c != "\n" else 0))
        self._table = {c: masks(c) for c in {*lit, "/", "\n"}}
        self._default = (q, star | dstar)
        self._start = self._close(1)

    def _close(self, d: int) -> int:
        """The state with the bits its stars and ``**/`` groups may skip to."""
        for _ in self._rounds:
            d |= (d & self._skip1) << 1 | (d & self._skip3) << 3
        return d

    def match(self, text: str) -> bool:
        """Whether the tokens match the whole text."""
        d, get, default, close = self._start, self._table.get, self._default, self._close
        for c in text:
            step, stay = get(c, default)
            d = (d & step) << 1 | (d & stay)
            if not d:
                return False
            d = close(d)
        return bool(d & self._accept)


class Glob:
    """A compiled glob over mount-relative paths (the contract: the module docstring).

    ``literal`` is True when the pattern has no wildcard; ``match`` is then string equality.
    A pattern over 4096 characters is a ValueError."""

    __slots__ = ("pattern", "literal", "_min", "_prefix", "_suffix", "_lp", "_ls", "_single",
                 "_runs", "_newline_gaps", "_nfa")

    def __init__(self, pattern: str) -> None:
        if len(pattern) > MAX_PATTERN:
            raise ValueError(f"glob of {len(pattern)} characters: at most {MAX_PATTERN}")
        self.pattern = pattern
        tokens = _tokens(pattern)
        wild = [i for i, t in enumerate(tokens) if t in _WILD]
        self.literal = not wild
        if not wild:
            return
        first, last = wild[0], wild[-1]
        middle = tokens[first:last + 1]
        self._prefix, self._suffix = "".join(tokens[:first]), "".join(tokens[last + 1:])
        self._lp, self._ls = len(self._prefix), len(self._suffix)
        self._min = sum(t not in _STARS for t in tokens)  # each literal and ? takes one
        self._single = _SINGLE[middle[0]] if len(middle) == 1 else None
        self._runs = _component_runs(pattern)
        self._newline_gaps = "**" in pattern  # a newline in the path then needs the NFA
        self._nfa = _Nfa(middle)

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"

    def match(self, path: str) -> bool:
        """Whether the glob matches the whole path."""
        if self.literal:
            return path == self.pattern
        if (len(path) < self._min or not path.startswith(self._prefix)
                or not path.endswith(self._suffix)):
            return False
        if self._single is not None:
            return self._single(path[self._lp:len(path) - self._ls])
        if self._runs is not None and not (self._newline_gaps and "\n" in path):
            return self._match_components(path.split("/"))
        return self._nfa.match(path[self._lp:len(path) - self._ls])

    def _match_components(self, comps: list[str]) -> bool:
        """Tier 2: the head run at the start, the tail run at the end, each run between
        leftmost in what is left (see the module docstring for why leftmost is right)."""
        runs = self._runs
        assert runs is not None
        head, tail = runs[0], runs[-1]
        if len(runs) == 1:
            return len(comps) == len(head) and _fits(head, comps, 0)
        end = len(comps) - len(tail)
        if end < len(head) or not _fits(head, comps, 0) or not _fits(tail, comps, end):
            return False
        i = len(head)
        for run in runs[1:-1]:
            last = end - len(run)
            while i <= last and not _fits(run, comps, i):
                i += 1
            if i > last:
                return False
            i += len(run)
        return True


__all__ = ["Glob", "MAX_PATTERN"]
