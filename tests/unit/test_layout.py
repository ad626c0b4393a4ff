"""The shape of the code, checked from its source with ``ast``: the layers are packages, each
importing only those below it; no import cycle, none dodged inside a function; FUSE in one
module and the daemon; no module or function too long to read at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "iofs"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
# Each package may import its own modules and those of lower ranks only.
RANKS = {"core": 0, "system": 0, "dev": 1, "faults": 2, "durability": 2, "drivers": 3,
         "vfs": 4, "testing": 5, "cli": 6}
# The compatibility modules at the top (import paths the docs teach) may import anything.
TOP = {"__init__", "__main__", "uio", "driver", "iov_iter", "pytest_plugin"}
FUSE_MODULES = {"iofs.vfs.fuse", "iofs.cli.daemon"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """The iofs modules an ``import from`` names (a package's submodules, when it names them)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if not base.startswith("iofs"):
        return []
    targets = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        targets.append(sub if sub in MODULES else base)
    return targets


def _imports(module: str, path: Path) -> tuple[set[str], list[tuple[int, str]], set[str]]:
    """(iofs modules imported at module level, imports inside a function, external roots)."""
    tree = ast.parse(path.read_text())
    inner: list[tuple[int, str]] = []
    targets: set[str] = set()
    external: set[str] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    inner.append((node.lineno, ast.unparse(node)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (targets if alias.name.startswith("iofs") else external).add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            found = _resolve(module, path, node)
            targets.update(found)
            if not found and not node.level:
                external.add((node.module or "").split(".")[0])
    return {t for t in targets if t in MODULES and t != module}, inner, external


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANKS) else None


def test_no_import_cycle():
    edges = {m: GRAPH[m][0] for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m)
    assert len(state) == len(MODULES) > 40


def test_no_import_inside_a_function():
    found = [f"{m}:{line}: {text}" for m in MODULES for line, text in GRAPH[m][1]]
    assert found == []


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for m in MODULES:
        pkg = _package(m)
        if pkg is None:
            assert m.split(".")[-1] in TOP or m == "iofs", f"{m}: a module at the top"
            continue
        for t in GRAPH[m][0]:
            tpkg = _package(t)
            if tpkg is None or RANKS[tpkg] > RANKS[pkg] or (RANKS[tpkg] == RANKS[pkg] and tpkg != pkg):
                wrong.append(f"{m} imports {t}")
    assert wrong == []
    assert set(RANKS) == {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}


def test_pyfuse3_is_imported_by_the_fuse_module_and_the_daemon_only():
    users = {m for m in MODULES if "pyfuse3" in GRAPH[m][2]}
    assert users == FUSE_MODULES


def test_nothing_outside_the_cli_imports_it():
    assert [f"{m} imports {t}" for m in MODULES if _package(m) != "cli"
            and m not in ("iofs.__main__",) for t in GRAPH[m][0] if t.startswith("iofs.cli")] == []


def test_at_most_six_modules_at_the_top():
    top = sorted(p.stem for p in ROOT.glob("*.py"))
    assert set(top) <= TOP and len(top) <= 6


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_are_short(module):
    source = MODULES[module].read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_every_op_has_its_fuse_handler():
    from iofs.faults.ops import OPS
    from iofs.vfs.fuse import HANDLERS, IofsOperations

    assert set(HANDLERS) == set(OPS)
    for op, name in HANDLERS.items():
        assert callable(getattr(IofsOperations, name)), op
