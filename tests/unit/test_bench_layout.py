"""The benchmark package keeps the project's shape rules (see test_layout.py): no module over
450 lines, no function over 60; and it never imports the FUSE module or the CLI: the daemons
it measures are processes of their own, started through iofs.testing.mount.Mount."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.unit.test_layout import MAX_FUNCTION_LINES, MAX_MODULE_LINES

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench"
MODULES = sorted(BENCH.glob("*.py"))


def test_the_package_is_there():
    assert (BENCH / "__main__.py").exists() and (BENCH / "run").exists() and len(MODULES) > 15


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_and_functions_are_short(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_fuse_internals(path):
    imported = {node.module for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not {m for m in imported if m.startswith(("iofs.vfs.fuse", "iofs.cli"))}
