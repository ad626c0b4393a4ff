"""``--baseline DIR``: every row where iofs appears, this checkout against DIR's (``new /
base``), gathered from the sections' rows into one list, and its table. The issue's bar: every
throughput row of the new tree at >= 0.97 of the old one, measured in the same rounds."""

from __future__ import annotations

import statistics
from typing import Any

from .common import based
from .hook import IOFS_COLS

FLOOR = 0.97             # new/base, throughput: higher is better
CEILING = round(1 / FLOOR, 2)  # new/base, memory: lower is better


def _row(section: str, test: str, col: str, unit: str, new: float | None, base: float | None,
         ratio: float | None, judged: str | None = ">=") -> dict:
    """One comparison; ``judged``: ">=" (throughput), "<=" (memory) or None (shown only)."""
    limit = {">=": FLOOR, "<=": CEILING}.get(judged or "")
    met = None
    if ratio is not None and limit is not None:
        met = ratio >= limit if judged == ">=" else ratio <= limit
    return {"section": section, "test": test, "column": col, "unit": unit, "new": new,
            "base": base, "ratio": ratio, "op": judged, "limit": limit, "met": met}


def _throughput(section: str, rows: list[dict], cols: list[str]) -> list[dict]:
    """Rows with medians and paired ratios ``C/C@base`` for each column C."""
    out = []
    for r in rows:
        for c in cols:
            key = f"{c}/{based(c)}"
            if key in r.get("ratio", {}):
                out.append(_row(section, r["test"], c, r.get("unit", "MB/s"),
                                r["median"].get(c), r["median"].get(based(c)), r["ratio"][key]))
    return out


def _memory(rows: list[dict]) -> list[dict]:
    """The memory section's one-shot rows: MB/s (higher is better) and peak RSS (lower)."""
    found = {(r["kind"], r["fs"]): r for r in rows}
    out = []
    for r in rows:
        twin = found.get((r["kind"], based("iofs")))
        if r["fs"] != "iofs" or twin is None:
            continue
        out.append(_row("memory", r["test"], "iofs", "MB/s", r["mb_s"], twin["mb_s"],
                        r["mb_s"] / twin["mb_s"] if r["mb_s"] and twin["mb_s"] else None))
        new, base = r.get("peak_rss_kib"), twin.get("peak_rss_kib")
        out.append(_row("memory", r["test"], "iofs", "peak RSS (MiB)",
                        new / 1024 if new else None, base / 1024 if base else None,
                        new / base if new and base else None, "<="))
    return out


def _durability_memory(d: dict[str, Any]) -> list[dict]:
    """RSS growth of the durability section's fresh daemons: shown, not judged (a few MiB of
    allocator noise on the rows that should not grow)."""
    mem = {r["durability"]: r for r in d.get("memory", [])}
    out = []
    for col in ("off", "on"):
        new, base = mem.get(col), mem.get(based(col))
        if new is None or base is None:
            continue
        for key, what in (("append_growth_kib", "RSS growth appending"),
                          ("rewrite_growth_kib", "RSS growth rewriting in place")):
            a, b = new[key] / 1024, base[key] / 1024
            out.append(_row("durability", what, col, "MiB", a, b, a / b if b else None, None))
    return out


def comparisons(result: dict[str, Any]) -> list[dict]:
    """Every new/base comparison of a run, section by section (empty without a baseline)."""
    out = _throughput("dd", result.get("dd") or [], ["iofs"])
    out += _throughput("fio", result.get("fio") or [], ["iofs", "iofs-wb"])
    h = result.get("hook") or {}
    out += _throughput("hook", h.get("rows", []), IOFS_COLS)
    d = result.get("durability") or {}
    out += _throughput("durability", d.get("rows", []), ["off", "on"])
    out += _durability_memory(d)
    x = result.get("xattr") or {}
    out += _throughput("xattr", x.get("rows", []), ["xattr", "noxattr"])
    out += _memory(result.get("memory") or [])
    out += _sweep(result.get("sweep") or {})
    return out


def _sweep(w: dict[str, Any]) -> list[dict]:
    """The sweep section's cases per second, this checkout's sweep against the baseline's."""
    rates = w.get("rates") or {}
    if "base" not in rates.get("median", {}):
        return []
    return [_row("sweep", f"iofs sweep, {w['reads']} reads x short:1", "new", "cases/s",
                 rates["median"]["new"], rates["median"]["base"], rates["ratio"].get("new/base"))]


def _fmt(v: float | None, digits: int | None = None) -> str:
    if v is None or v != v:
        return "–"
    if digits is not None:
        return f"{v:.{digits}f}"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def markdown(baseline: dict[str, Any]) -> list[str]:
    """The "new / base" table and a line that sums it up."""
    rows = baseline["rows"]
    out = [f"### new / base (iofs of {baseline['new']} / iofs of {baseline['base']}, in the "
           "same rounds; ratios are medians of the per-round ratios, memory a single run)", "",
           "| section | test | column | unit | new | base | new / base | limit | met |",
           "|---|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
        limit = f"{r['op']} {r['limit']}" if r["limit"] is not None else ""
        out.append(f"| {r['section']} | {r['test']} | {r['column']} | {r['unit']} | "
                   f"{_fmt(r['new'])} | {_fmt(r['base'])} | {_fmt(r['ratio'], 3)} | {limit} | {met} |")
    judged = [r for r in rows if r["met"] is not None]
    below = [r for r in judged if not r["met"]]
    out += ["", f"{len(judged) - len(below)} of {len(judged)} judged rows within the limit"
            + (": none below." if not below else "; not: " + "; ".join(
                f"{r['section']}: {r['test']} ({r['column']}) {r['ratio']:.3f}" for r in below)
               + "."), "", _medians(rows), ""]
    return out


def _medians(rows: list[dict]) -> str:
    """The median new/base of each section's throughput rows: steadier than any one row (an
    A/A run, ``--baseline`` this checkout, shows how far single rows stray on the host)."""
    sections: dict[str, list[float]] = {}
    for r in rows:
        if r["op"] == ">=" and r["ratio"] is not None:
            sections.setdefault(r["section"], []).append(r["ratio"])
    return "Median new / base of the throughput rows: " + ", ".join(
        f"{sec} {statistics.median(v):.3f} ({len(v)} rows)" for sec, v in sections.items()) + "."
