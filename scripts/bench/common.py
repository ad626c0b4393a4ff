"""Constants and small helpers every part of the benchmark uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))       # scripts/bench
REPO = os.path.dirname(os.path.dirname(HERE))           # the checkout the bench lives in
CACHE = os.path.join(REPO, ".cache", "bench")
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
MEM_SIZE = 64 * MIB  # iofs' mem0 in the default tree; the bare fs and tmpfs get the same
NAN = float("nan")
BASE = "@base"       # the suffix of a column (and a mount) that runs the --baseline checkout
# the order of the filesystems in notes and in the plot; a baseline column follows its own
FS_ORDER = ["iofs", "iofs" + BASE, "iofs-wb", "iofs-wb" + BASE, "bare", "tmpfs", "example"]
PARTS = ["dd", "fio", "hook", "durability", "xattr", "sweep", "backed", "memory", "uiomove"]
ENGINES = ["sync", "psync", "vsync", "pvsync2"]
C_ENV = dict(os.environ, LC_ALL="C", LANG="C")  # dd's summary line in a parseable form


class BenchError(Exception):
    """A measurement failed (a tool exited non-zero, moved the wrong count, said nothing)."""


class MountError(Exception):
    """A filesystem under test could not be mounted: one line, with the end of its log."""


def log(msg: str) -> None:
    """A progress line on stderr (stdout is the report)."""
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def human(n: int) -> str:
    """4096 -> "4k", 1 << 20 -> "1M"; a size that is no whole unit stays a number."""
    for unit, size in (("G", GIB), ("M", MIB), ("k", KIB)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def parse_human(text: str) -> int:
    """The inverse of :func:`human`."""
    mult = {"k": KIB, "M": MIB, "G": GIB}.get(text[-1:], 1)
    return int(text[:-1] if mult > 1 else text) * mult


def based(name: str) -> str:
    """The baseline twin of a column or mount name."""
    return name + BASE


def is_base(name: str) -> bool:
    return name.endswith(BASE)


def read_text(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def program(work: Path, name: str, c_source: str, py_source: str) -> list[str]:
    """The argv of a benchmark's program: ``c_source`` compiled into ``work/name`` or, without
    a C compiler, ``py_source`` run by this Python."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is not None:
        (work / f"{name}.c").write_text(c_source)
        res = subprocess.run([cc, "-O2", "-o", str(work / name), str(work / f"{name}.c")],
                             capture_output=True, text=True, timeout=120)
        if res.returncode == 0:
            return [str(work / name)]
    (work / f"{name}.py").write_text(py_source)
    return [sys.executable, str(work / f"{name}.py")]


def terminate(p: subprocess.Popen) -> None:
    """End ``p``: SIGTERM and 5 s, then SIGKILL (and reap it)."""
    p.terminate()
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)
