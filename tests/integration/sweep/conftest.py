"""Fixtures of the sweep tests: the example's two programs compiled, and ``sweeper``: ``iofs
sweep`` runs whose mounts are in the test's own directory; at teardown nothing of them may be
left (no mount, no cgroup, no file in their work directory)."""

from __future__ import annotations

import pytest

from tests.support.paths import REPO
from tests.support.programs import compile_c
from tests.support.sweeping import Sweeper

EXAMPLE = REPO / "examples" / "short-reads"
TREE = EXAMPLE / "tree.toml"


@pytest.fixture(scope="session")
def progs(tmp_path_factory):
    out = tmp_path_factory.mktemp("progs")
    for name in ("buggy", "fixed"):
        res = compile_c(EXAMPLE / f"{name}.c", out / name, "-O2", "-Wall")
        if res is None:
            pytest.skip("no C compiler")
        assert res.returncode == 0, res.stderr
    return out


@pytest.fixture
def sweeper(tmp_path):
    s = Sweeper(tmp_path)
    yield s
    assert s.leftovers() == [], "a sweep left something behind"
