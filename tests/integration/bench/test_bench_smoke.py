"""The benchmark (``scripts/bench/``, run by ``scripts/bench/run``) with ``--quick`` works: it
mounts, measures, unmounts, and writes sane JSON; with ``--baseline DIR`` it runs DIR's iofs
beside this one and compares them.

A smoke check of the harness only: no timing is asserted (CI machines are noisy), just that every
number is there, positive and finite, and nothing the bench mounted is left mounted. Each run
gets a ``--workdir`` of its own under tmp_path, and only mounts there are looked at: other
programs may run iofs benches on the machine at the same time.

The package is run with this interpreter: ``scripts/test`` has made the set-up that
``scripts/bench/run`` repeats before it execs the same command (and that set-up, as root, links
/usr/local/bin/iofs to the checkout it runs in, which a test has no business changing).
"""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO

from iofs.system.mounts import mounts_under

BENCH = REPO / "scripts" / "bench"
FS = ("iofs", "bare", "tmpfs")


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def run_bench(tmp_path: Path, *args: str, timeout: float) -> tuple[str, dict[str, Any]]:
    """Run the bench with its work directory under tmp_path/work; (markdown, JSON). Fails if
    it did not exit 0 or left anything mounted there."""
    work, out = tmp_path / "work", tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(BENCH), "--workdir", str(work), "--json", str(out),
                          *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert mounts_under(work) == [], "the bench left a mount behind"
    data = json.loads(out.read_text())
    assert Path(data["workdir"]).parent == work and not Path(data["workdir"]).exists()
    return res.stdout, data


def test_run_script_execs_the_package() -> None:
    """``scripts/bench/run``: set-up, fio, then the package with the checkout's .venv."""
    run = BENCH / "run"
    assert os.access(run, os.X_OK)
    assert subprocess.run(["bash", "-n", str(run)], capture_output=True).returncode == 0
    text = run.read_text()
    assert "scripts/setup" in text and 'exec .venv/bin/python scripts/bench "$@"' in text


@pytest.mark.timeout(240)
def test_bench_quick(tmp_path: Path) -> None:
    md, data = run_bench(tmp_path, "--quick", timeout=230)
    assert "| test | iofs | bare | tmpfs | iofs/bare | iofs/tmpfs |" in md
    assert "### targets" in md and "iofs@base" not in md and data["baseline"] is None

    assert data["settings"]["quick"] is True
    assert data["errors"] == [], data["errors"]
    for name in FS:
        assert data["filesystems"][name]["available"], data["filesystems"][name]
    assert "example" in data["filesystems"]  # present or left out with a note
    assert data["request_sizes"] and all(positive(v) for v in data["request_sizes"].values())

    check_dd(data["dd"], FS)
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

    u = data["uiomove"]
    assert u and "iovecs" in u, u
    assert all(positive(v["ratio"]) for v in u["iovecs"].values())
    assert positive(u["request_4k_us"]["us"])

    check_hook(data["hook"])
    check_durability(data["durability"])
    check_xattr(data["xattr"])
    check_sweep(data["sweep"])
    assert "### fault and trace hook" in md and "### durability" in md and "### xattr" in md
    assert "### iofs sweep" in md
    check_backed(data["backed"])
    assert "### backed" in md

    assert data["targets"] and all({"target", "value", "limit", "met"} <= set(t) for t in data["targets"])
    names = " | ".join(t["target"] for t in data["targets"])
    for part in ("a rule that does not match", "trace reader attached", "durability on/off",
                 "durability: extra RSS", "sweep cases/s, new / a mount per run",
                 "sweep per-run overhead", "sweep --jobs 2 / --jobs 1",
                 "sweep --crash: cost per crash point",
                 "iofs backed / bare passthrough",
                 "through a backed mount"):
        assert part in names, names


def check_sweep(w) -> None:
    """Cases per second of the new sweep and of one mount per run, the new one's per-run
    overhead and its parts, and --jobs 2 against 1 (no timing judged: only that they are
    there)."""
    assert w and w["reads"] > 0
    rates = w["rates"]
    assert positive(rates["median"]["new"]) and positive(rates["median"]["fresh"]), rates
    assert positive(rates["ratio"]["new/fresh"])
    o = w["overhead"]
    assert o and positive(o["per_run_s"]) and positive(o["program_s"]), o
    for part in ("overhead_s", "reset_and_rules_s", "spawn_group_reap_s", "hits_s", "engine_s"):
        assert finite(o[part]), (part, o)
    c = w["crash"]
    assert c["points"] > 0 and positive(c["per_point_s"]) and positive(c["program_s"]), c
    assert finite(c["overhead_s"]), c
    j = w["jobs"]
    assert positive(j["median"]["1"]) and positive(j["median"]["2"]) and positive(j["ratio"]), j


def check_dd(dd: list[dict], names: tuple[str, ...]) -> None:
    """Every op, target and block size, each filesystem with positive samples and ratios."""
    assert {(r["op"], r["target"], r["bs"]) for r in dd} == {
        (op, target, bs) for op in ("read", "write") for target in ("zero", "mem")
        for bs in (4096, 128 << 10, 1 << 20)}
    for r in dd:
        for name in names:
            assert r["samples"][name] and all(positive(x) for x in r["samples"][name]), r
            assert positive(r["median"][name]), r
        assert positive(r["ratio"]["iofs/bare"]) and positive(r["ratio"]["iofs/tmpfs"]), r


def baseline_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of this checkout's iofs package in tmp_path/base, its ``__main__`` writing each
    process's argv to a marker file first: (the copy, the marker)."""
    base, marker = tmp_path / "base", tmp_path / "imported"
    shutil.copytree(REPO / "iofs", base / "iofs", ignore=shutil.ignore_patterns("__pycache__"))
    main = base / "iofs" / "__main__.py"
    lines = main.read_text().splitlines(keepends=True)
    tree = ast.parse("".join(lines))
    first = next(n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
                 and not (isinstance(n, ast.ImportFrom) and n.module == "__future__"))
    plant = (f"import sys as _s\nwith open({str(marker)!r}, 'a') as _f:\n"
             "    _f.write(' '.join(_s.argv) + '\\n')\n")
    main.write_text("".join(lines[:first.lineno - 1]) + plant + "".join(lines[first.lineno - 1:]))
    return base, marker


@pytest.mark.timeout(240)
def test_bench_baseline(tmp_path: Path) -> None:
    """``--baseline DIR``: DIR's iofs (a marked copy of this one) serves the iofs@base columns
    (its daemon ran from the copy), and the report compares them, row by row."""
    base, marker = baseline_copy(tmp_path)
    md, data = run_bench(tmp_path, "--quick", "--only", "dd", "--only", "durability",
                         "--reps", "1", "--baseline", str(base), timeout=230)
    assert data["errors"] == [], data["errors"]
    assert data["filesystems"]["iofs@base"]["available"]
    daemons = [line for line in marker.read_text().splitlines() if "--foreground" in line]
    assert any("/iofs-base " in line for line in daemons), daemons
    check_dd(data["dd"], FS + ("iofs@base",))
    assert all(positive(r["ratio"]["iofs/iofs@base"]) for r in data["dd"])
    assert "| test | iofs | iofs@base | bare | tmpfs | iofs/bare | iofs/tmpfs | iofs/iofs@base |" in md
    assert "### new / base" in md and "off new/base" in md
    rows = data["baseline"]["rows"]
    assert data["baseline"]["dir"] == str(base.resolve())
    assert {(r["section"], r["test"]) for r in rows if r["section"] == "dd"} == {
        ("dd", r["test"]) for r in data["dd"]}
    assert {r["column"] for r in rows if r["section"] == "durability"} == {"off", "on"}
    assert all(positive(r["ratio"]) for r in rows if r["op"]), rows


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


HOOK_COLS = ("bare", "iofs", "iofs-notrace", "iofs-rules", "iofs-reader")
HOOK_RATIOS = ("iofs/bare", "iofs-notrace/bare", "iofs-rules/bare", "iofs-reader/bare", "iofs-reader/iofs")


def check_hook(hook) -> None:
    """dd of zero and mem0 at 4k and 1M: bare, iofs by default, trace = false, N rules that
    match nothing (and did not), and a trace reader attached."""
    assert hook and hook["rules"] > 0 and hook["rule_hits"] == 0, hook and hook.get("rule_hits")
    assert {(r["op"], r["target"], r["bs"]) for r in hook["rows"]} == {
        (op, target, bs) for op in ("read", "write") for target in ("zero", "mem") for bs in (4096, 1 << 20)}
    for r in hook["rows"]:
        for name in HOOK_COLS:
            assert r["samples"][name] and all(positive(x) for x in r["samples"][name]), (name, r)
            assert positive(r["median"][name]) and positive(r["request_us"][name]), (name, r)
        for q in HOOK_RATIOS:
            assert positive(r["ratio"][q]), (q, r)
        for cost in ("rule_us", "trace_us", "reader_us"):  # differences of noisy times: any sign
            assert finite(r[cost]), (cost, r)
    for cost in ("rule_us_4k", "trace_us_4k", "reader_us_4k"):
        assert finite(hook[cost]), (cost, hook[cost])


def check_durability(dur) -> None:
    """Sequential writes with durability off and on, a rewrite in place, and the daemons' RSS."""
    assert dur and [(r["op"], r["bs"]) for r in dur["rows"]] == [
        ("write", 1 << 20), ("write", 128 << 10), ("write", 4096), ("rewrite", 1 << 20)]
    for r in dur["rows"]:
        for name in ("off", "on"):
            assert r["samples"][name] and all(positive(x) for x in r["samples"][name]), (name, r)
            assert positive(r["median"][name]), (name, r)
        assert positive(r["ratio"]["on/off"]), r
    assert {r["durability"] for r in dur["memory"]} == {"off", "on"}
    for r in dur["memory"]:
        assert r["bytes"] > 0 and len(r["rss_kib"]) == 5 and all(positive(x) for x in r["rss_kib"]), r
        assert positive(r["append_growth_kib"]), r  # the file's own data
    on = next(r for r in dur["memory"] if r["durability"] == "on")
    assert positive(on["rewrite_growth_kib"]) and positive(on["unsynced_after_rewrite"]), on
    x = dur["extra"]
    assert positive(x["bytes"]) and positive(x["rewrite_extra_per_byte"]) and positive(x["bound_bytes"]), x
    assert finite(x["append_extra_bytes"]), x


def check_xattr(xattr) -> None:
    """4 KiB writes with xattr on and off, write-through and writeback, and the getxattr count."""
    assert xattr and {r["mode"] for r in xattr["rows"]} == {"write-through", "writeback"}
    for r in xattr["rows"]:
        for name in ("xattr", "noxattr"):
            assert r["samples"][name] and all(positive(x) for x in r["samples"][name]), (name, r)
            assert positive(r["median"][name]), (name, r)
            assert finite(r["getxattr_per_write"][name]) and r["getxattr_per_write"][name] >= 0, r
        assert positive(r["ratio"]["noxattr/xattr"]), r


def check_backed(backed) -> None:
    """A host directory through iofs, the bare passthrough and the backing tmpfs: every fio
    row of every column, the ratios, and the peak RSS of a backed mount's daemon."""
    assert backed and [(r["op"], r["bs"]) for r in backed["rows"]] == [
        ("write", 4096), ("read", 4096), ("write", 128 << 10), ("read", 128 << 10),
        ("write", 1 << 20), ("read", 1 << 20), ("randread", 4096)]
    for r in backed["rows"]:
        for name in backed["columns"]:
            assert r["samples"][name] and all(positive(x) for x in r["samples"][name]), (name, r)
            assert positive(r["median"][name]), (name, r)
        for q in ("iofs-backed/bare-pass", "iofs-backed/backing", "bare-pass/backing"):
            assert positive(r["ratio"][q]), (q, r)
    rss = backed["rss"]
    assert positive(rss["peak_rss_kib"]) and rss["peak_rss_kib"] < 100 * 1024, rss
