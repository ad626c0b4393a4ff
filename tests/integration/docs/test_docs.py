"""Every example of the README and of docs/, run as it stands against real mounts.

The documents follow three conventions, which this module reads:

* A fenced block whose first line is ``# file: NAME`` (``// file: NAME`` in C) is a file: it
  is written, under NAME, into the working directory of that document's sessions (which is
  on PYTHONPATH, as the docs tell users to do for their drivers). A python file must compile;
  ``NAME_example.py`` files (library snippets) are run; ``test_*.py`` files are run by pytest
  beside examples/short-reads.
* A ```toml block that is not a file is a tree: it must be a valid config (iofs.config.parse,
  with the document's python files importable). A ``.toml`` file is one too, parsed where it
  is written (a relative host ``source`` in it is taken from its directory, the work
  directory, which holds the document's files).
* A ```console block is a session: each line after ``$ `` is a command (with the lines that
  follow while a quote is open, or after a trailing backslash); every other line is output
  it must print. An output line may use ``*`` for any text in it, and a line ``...`` stands
  for any number of lines. The HTML comment just before the block says what it runs on:
  ``<!-- session: default -->`` (the default tree mounted at /mnt/iofs), ``<!-- session:
  config=NAME -->`` (the tree in file NAME mounted at /mnt/iofs), or ``<!-- session: empty
  -->`` (an empty directory at /mnt/iofs; the session mounts what it needs). /mnt/iofs is a
  fresh directory for each session, unmounted afterwards whatever happened.

Blocks of other kinds (```sh, ```python without a file line) are listings that dedicated tests
cover (containers, library snippets: see the comment at each).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from iofs.system.mounts import mount_type
from iofs.vfs import config
from tests.support.paths import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"(?:<!-- session: (?P<session>[^>]*?) -->\n)?```(?P<kind>\w*)\n(?P<body>.*?)```", re.S)


@dataclass
class Doc:
    path: Path
    files: dict[str, str] = field(default_factory=dict)
    trees: list[str] = field(default_factory=list)
    sessions: list[tuple[int, str, str]] = field(default_factory=list)  # (line, directive, body)


def parse(path: Path) -> Doc:
    doc = Doc(path)
    text = path.read_text()
    for m in FENCE.finditer(text):
        kind, body, session = m.group("kind"), m.group("body"), m.group("session")
        first = body.split("\n", 1)[0]
        name = re.fullmatch(r"(?:#|//) file: (\S+)", first)
        line = text.count("\n", 0, m.start()) + 1
        if name:
            doc.files[name.group(1)] = body.split("\n", 1)[1] if "\n" in body else ""
        elif kind == "toml":
            doc.trees.append(body)
        elif kind == "console":
            assert session is not None, f"{path.name}:{line}: a console block needs a session comment"
            doc.sessions.append((line, session.strip(), body))
    return doc


PARSED = {p.name: parse(p) for p in DOCS}


def test_every_document_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text()
    for p in DOCS[1:]:
        assert f"docs/{p.name}" in readme, f"docs/{p.name} is not linked from the README"


def _workdir(doc: Doc, tmp: Path) -> Path:
    """The document's files, and examples/ (sessions name it as from the checkout's top)."""
    work = tmp / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    for name, body in doc.files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(body)
    return work


def _env(work: Path) -> dict[str, str]:
    """The sessions' environment: this interpreter's ``iofs`` first on PATH, importing this
    checkout's iofs (REPO on PYTHONPATH: an installed iofs may be another checkout's), and the
    document's files importable."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["PYTHONPATH"] = f"{work}{os.pathsep}{REPO}"
    return env


@pytest.mark.parametrize("name", sorted(n for n, d in PARSED.items() if d.files))
def test_python_files_compile_and_examples_run(name, tmp_path):
    """Every python file compiles; a NAME_example.py (a library snippet) runs, its asserts
    holding. Driver modules are imported by test_trees_are_valid, scripts run in sessions."""
    doc = PARSED[name]
    work = _workdir(doc, tmp_path)
    for fname, body in doc.files.items():
        if not fname.endswith(".py"):
            continue
        compile(body, f"{name}: {fname}", "exec")
        if fname.endswith("_example.py"):
            res = subprocess.run([sys.executable, fname], cwd=work, env=_env(work),
                                 capture_output=True, text=True, timeout=60)
            assert res.returncode == 0, f"{name}: {fname}: {res.stderr}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name,fname", [(n, f) for n, d in PARSED.items() for f in d.files
                                        if f.startswith("test_") and f.endswith(".py")])
def test_test_files_pass_beside_the_example(name, fname, tmp_path):
    """A test file a document shows is one more test of examples/short-reads: it runs there,
    with that example's fixtures (its conftest.py) and files."""
    work = tmp_path / "example"
    shutil.copytree(REPO / "examples" / "short-reads", work)
    (work / fname).write_text(PARSED[name].files[fname])
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", fname],
                         cwd=work, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:]
    assert " passed" in res.stdout and "skipped" not in res.stdout


@pytest.mark.parametrize("name", sorted(n for n, d in PARSED.items() if d.trees or any(
    f.endswith(".toml") for f in d.files)))
def test_trees_are_valid(name, tmp_path, monkeypatch):
    doc = PARSED[name]
    work = _workdir(doc, tmp_path)
    monkeypatch.syspath_prepend(str(work))
    trees = [(text, f"{name} example") for text in doc.trees] + [
        (body, str(work / f)) for f, body in doc.files.items() if f.endswith(".toml")]
    for text, where in trees:
        try:
            config.parse(text, where)
        except config.ConfigError as exc:
            pytest.fail(str(exc))


def script_and_expected(body: str) -> tuple[str, list[str]]:
    """A session's commands as one bash script, and the output it shows."""
    script, expected = [], []
    continuing = False
    for line in body.splitlines():
        if continuing:
            script.append(line)
        elif line.startswith("$ "):
            script.append(line[2:])
        else:
            expected.append(line)
            continue
        joined = "\n".join(script)
        continuing = line.endswith("\\") or joined.count("'") % 2 == 1
    return "\n".join(script) + "\n", expected


def _line_matches(want: str, got: str) -> bool:
    if "*" not in want:
        return want == got
    return re.fullmatch(".*".join(re.escape(p) for p in want.split("*")), got) is not None


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; "..." stands for any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and _line_matches(expected[0], actual[0]) and matches(expected[1:], actual[1:])


SESSIONS = [(name, line, directive, body) for name, d in PARSED.items()
            for line, directive, body in d.sessions]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name,line,directive,body", SESSIONS,
                         ids=[f"{n}:{ln}" for n, ln, _, _ in SESSIONS])
def test_session_works_as_shown(name, line, directive, body, tmp_path):
    doc = PARSED[name]
    work = _workdir(doc, tmp_path)
    base = Path(tempfile.mkdtemp(prefix="iofs-docs-", dir="/tmp"))
    base.chmod(0o755)
    mp = base / "mnt"
    mp.mkdir()
    env = _env(work)
    run = lambda *a: subprocess.run([sys.executable, "-m", "iofs", *a], capture_output=True,  # noqa: E731
                                    text=True, env=env, cwd=work, timeout=60)
    try:
        if directive == "default":
            res = run("mount", str(mp), "--log", str(base / "log"))
            assert res.returncode == 0, res.stderr
        elif directive.startswith("config="):
            res = run("mount", str(mp), "--config", str(work / directive[7:]), "--log",
                      str(base / "log"))
            assert res.returncode == 0, res.stderr
        else:
            assert directive == "empty", f"{name}:{line}: unknown session {directive!r}"
        script, expected = script_and_expected(body)
        script = script.replace("/mnt/iofs", str(mp))
        res = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=240, env=env, cwd=work)
        actual = [re.sub(r"^bash: line \d+: ", "bash: ", ln.replace(str(mp), "/mnt/iofs"))
                  for ln in res.stdout.splitlines()]
        assert matches(expected, actual), (
            f"{name}:{line}: the session printed something else:\n" + "\n".join(actual)
            + "\n--- expected ---\n" + "\n".join(expected))
    finally:
        if mount_type(str(mp)) is not None:
            run("umount", str(mp))
        if mount_type(str(mp)) is not None:
            subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
