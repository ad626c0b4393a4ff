"""Glob (iofs.faults.glob): the same matches as the regex translation the rules used (kept here
as the oracle), in bounded time."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iofs.faults.glob import MAX_PATTERN, Glob, _Nfa, _tokens


def oracle(glob: str) -> re.Pattern[str]:
    """A copy of rules.glob_regex as it was when Glob was written: the reference semantics
    (a backtracking regex, so only for small inputs)."""
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


def agree(pattern: str, path: str) -> None:
    """Glob, and its NFA alone (the fallback every pattern could take), answer as the oracle."""
    want = oracle(pattern).match(path) is not None
    assert Glob(pattern).match(path) == want, (pattern, path)
    assert _Nfa(_tokens(pattern)).match(path) == want, (pattern, path)


# Patterns over {a, b, /, *, ?, **} and paths over {a, b, /}, small: the oracle backtracks.
patterns = st.lists(st.sampled_from(["a", "b", "/", "*", "?", "**"]), max_size=9).map("".join)
paths = st.text(alphabet="ab/", max_size=10)


@settings(max_examples=3000, deadline=None)
@given(patterns, paths)
def test_agrees_with_the_oracle(pattern, path):
    agree(pattern, path)


# Whole components ("**" among them) joined by "/", against paths of a few components: the
# shapes that take the component tier, with runs between gaps to place.
components = st.sampled_from(["a", "b", "*", "?", "**", "a*", "*b", "*a*", "a?", ""])
component_patterns = st.lists(components, min_size=1, max_size=6).map("/".join)
component_paths = st.lists(st.sampled_from(["a", "b", "ab", "ba", "aab", ""]),
                           min_size=1, max_size=8).map("/".join)


@settings(max_examples=2000, deadline=None)
@given(component_patterns, component_paths)
def test_agrees_with_the_oracle_component_by_component(pattern, path):
    agree(pattern, path)


# Newlines (** does not take them, * and ? do), non-ASCII, surrogate escapes, regex syntax.
odd = ["\n", "é", "\udcff", ".", "[", "\\", "$"]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(["a", "/", "*", "?", "**", *odd]), max_size=8).map("".join),
       st.lists(st.sampled_from(["a", "/", *odd]), max_size=9).map("".join))
def test_agrees_with_the_oracle_on_odd_characters(pattern, path):
    agree(pattern, path)


@pytest.mark.parametrize("pattern,path,hit", [
    ("", "", True), ("", "a", False), ("a", "", False),
    ("**", "", True), ("**", "a/b/c", True), ("**", "/", True),
    ("**/", "", True), ("**/", "a/", True), ("**/", "a/b/", True), ("**/", "a", False),
    ("*", "", True), ("*", "abc", True), ("*", "a/b", False), ("*", "/", False),
    ("?", "a", True), ("?", "", False), ("?", "/", False), ("?", "ab", False),
    ("a/**", "a", False), ("a/**", "a/", True), ("a/**", "a/b/c", True), ("a/**", "ab", False),
    ("**/x", "x", True), ("**/x", "a/b/x", True), ("**/x", "/x", True), ("**/x", "ax", False),
    ("**/x", "x/y", False), ("a/**/b", "a/b", True), ("a/**/b", "a//b", True),
    ("a/**/b", "a/x/y/b", True), ("a/**/b", "ab", False), ("a/**b", "a/x/yb", True),
    ("**/**/**", "x", True), ("a***b", "a/x/b", True), ("tmp/**", "tmp", False),
    ("tmp/*.log", "tmp/a.log", True), ("tmp/*.log", "tmp/d/a.log", False),
    ("a.b", "a.b", True), ("a.b", "axb", False), ("a[1]", "a[1]", True), ("a[1]", "a1", False),
    ("a\\b", "a\\b", True), ("a\\b", "ab", False), ("(x)", "(x)", True), ("(x)", "x", False),
    ("+", "+", True), ("a+", "aa", False), ("$", "$", True), ("a$", "a", False),
    ("^a", "^a", True), ("a|b", "a", False), ("a{2}", "aa", False), ("a/*", "a/.", True),
    ("é/*", "é/ü", True), ("*/\udcff", "x/\udcff", True), ("?", "\udcff", True),
    ("a\nb", "a\nb", True), ("a\nb", "ab", False), ("*", "a\nb", True), ("?", "\n", True),
    # like the regex's "." (no DOTALL), ** and **/ do not take a newline
    ("**", "a\nb", False), ("**/b", "a\n/b", False), ("*/b", "a\n/b", True),
    ("**/*", "x/a\nb", True), ("a/**", "a/\n", False),
])
def test_edge_cases(pattern, path, hit):
    assert (oracle(pattern).match(path) is not None) == hit  # the table says what the oracle does
    assert Glob(pattern).match(path) == hit
    assert _Nfa(_tokens(pattern)).match(path) == hit


DEEP = "/".join(f"d{i}" for i in range(100))


@pytest.mark.parametrize("pattern,path,hit", [
    ("tmp/" + "*a" * 14 + "*b", "tmp/" + "a" * 46, False),
    ("tmp/" + "*a" * 14 + "*b", "tmp/" + "a" * 46 + "/b", False),
    ("**/**/**/**/**/x", DEEP, False),
    ("**/**/**/**/**/x", DEEP + "/x", True),
    ("**/**/**/**/**/x*", DEEP + "\n/x", False),
    ("*a" * 2048, "a" * 4096, True),
    ("*a" * 2048, "a" * 4095 + "b", False),
    ("**a" * 1365, "a" * 4096, True),
    ("**/a/a/a/a/b/**/x", "a/" * 2000 + "x", False),
])
def test_pathological_inputs_finish(pattern, path, hit):
    """A stall guard, not a benchmark (scripts/bench/micro_glob.py has the times): the regex takes
    minutes on the first ones; a second each is room enough for a busy host."""
    for match in (Glob(pattern).match, _Nfa(_tokens(pattern)).match):
        start = time.monotonic()
        assert match(path) == hit
        assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("pattern,literal", [
    ("", True), ("mem0", True), ("tmp/a.b[1](x)\\+$", True), ("é\n/\udcff", True),
    ("*", False), ("?", False), ("**", False), ("**/", False), ("a/*.log", False),
    ("tmp/?", False), ("x/**/y", False),
])
def test_literal(pattern, literal):
    assert Glob(pattern).literal is literal


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=12), st.text(max_size=12))
def test_literal_exactly_when_wildcard_free_and_then_equality(pattern, path):
    pattern = pattern.replace("\0", "")
    g = Glob(pattern)
    assert g.literal is ("*" not in pattern and "?" not in pattern)
    if g.literal:
        assert g.match(path) == (path == pattern)
        assert g.match(pattern)


def test_too_long_a_pattern_is_a_value_error():
    assert Glob("a" * MAX_PATTERN).match("a" * MAX_PATTERN)
    with pytest.raises(ValueError, match="4097 characters"):
        Glob("a" * (MAX_PATTERN + 1))
    with pytest.raises(ValueError):
        Glob("*" * (MAX_PATTERN + 1))


# ---- what a glob matches, by example ---------------------------------------------------------

@pytest.mark.parametrize("glob,path,hit", [
    ("mem0", "mem0", True), ("mem0", "tmp/mem0", False),
    ("tmp/*.log", "tmp/a.log", True), ("tmp/*.log", "tmp/d/a.log", False),
    ("tmp/**", "tmp/d/e/f", True), ("tmp/**", "tmp", False),
    ("**/*.log", "a.log", True), ("**/*.log", "x/y/a.log", True),
    ("tmp/?", "tmp/a", True), ("tmp/?", "tmp/ab", False),
    ("a.b", "axb", False), ("[x]", "[x]", True),
])
def test_a_glob_matches_as_the_rules_document_it(glob, path, hit):
    assert Glob(glob).match(path) == hit
