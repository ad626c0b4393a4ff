"""``scripts/bench --quick`` works: it mounts, measures, unmounts, and writes sane JSON.

A smoke check of the harness only: no timing is asserted (CI machines are noisy), just that every
number is there, positive and finite, and nothing is left mounted.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FS = ("iofs", "bare", "tmpfs")


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def bench_mounts() -> list[str]:
    """Mounts under the bench's work directories (tempfile's iofs-bench-*)."""
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if "/iofs-bench-" in line.split()[1]]


@pytest.mark.timeout(240)
def test_bench_quick(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    res = subprocess.run([str(REPO / "scripts" / "bench"), "--quick", "--json", str(out)],
                         capture_output=True, text=True, timeout=230, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert bench_mounts() == [], "the bench left a mount behind"

    md = res.stdout
    assert "| test | iofs | bare | tmpfs | iofs/bare | iofs/tmpfs |" in md
    assert "### targets" in md

    data = json.loads(out.read_text())
    assert data["settings"]["quick"] is True
    assert data["errors"] == [], data["errors"]
    for name in FS:
        assert data["filesystems"][name]["available"], data["filesystems"][name]
    assert "example" in data["filesystems"]  # present or left out with a note
    assert data["request_sizes"] and all(positive(v) for v in data["request_sizes"].values())

    dd = data["dd"]
    assert {(r["op"], r["target"], r["bs"]) for r in dd} == {
        (op, target, bs) for op in ("read", "write") for target in ("zero", "mem")
        for bs in (4096, 128 << 10, 1 << 20)}
    for r in dd:
        for name in FS:
            assert r["samples"][name] and all(positive(x) for x in r["samples"][name]), r
            assert positive(r["median"][name]), r
        assert positive(r["ratio"]["iofs/bare"]) and positive(r["ratio"]["iofs/tmpfs"]), r

    if shutil.which("fio"):
        fio = data["fio"]
        engines = data["settings"]["fio_engines"]
        assert {(r["target"], r["engine"], r["op"]) for r in fio} == {
            (t, e, op) for t in ("mem", "file") for e in engines for op in ("write", "read")}
        for r in fio:
            names = FS if r["target"] == "mem" else ("iofs", "tmpfs")
            for name in names:
                assert positive(r["median"][name]), r
            if data["filesystems"]["example"]["available"] and r["target"] == "file":
                assert positive(r["median"]["example"]), r
    else:
        assert data["fio"] == [] and "fio" in data["fio_note"]

    mem = data["memory"]
    assert {(r["fs"], r["kind"]) for r in mem} == {(f, k) for f in ("iofs", "bare") for k in ("stream", "memdev")}
    for r in mem:
        assert positive(r["peak_rss_kib"]) and positive(r["rss_before_kib"]) and positive(r["mb_s"]), r
        assert r["peak_rss_kib"] >= r["rss_before_kib"], r
        assert r["bytes"] > 0

    if os.path.exists(REPO / "scripts" / "bench_uiomove.py"):
        u = data["uiomove"]
        assert u and "iovecs" in u, u
        assert all(positive(v["ratio"]) for v in u["iovecs"].values())
        assert positive(u["request_4k_us"]["us"])

    assert data["targets"] and all({"target", "value", "limit", "met"} <= set(t) for t in data["targets"])
