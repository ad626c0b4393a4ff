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

    check_hook(data["hook"])
    check_durability(data["durability"])
    check_xattr(data["xattr"])
    assert "### fault and trace hook" in md and "### durability" in md and "### xattr" in md

    assert data["targets"] and all({"target", "value", "limit", "met"} <= set(t) for t in data["targets"])
    names = " | ".join(t["target"] for t in data["targets"])
    for part in ("a rule that does not match", "trace reader attached", "durability on/off",
                 "durability: extra RSS"):
        assert part in names, names


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
