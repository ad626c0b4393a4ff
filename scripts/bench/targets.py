"""The targets of the issue, judged on a run's result: ``met`` is True, False, or None (no
value, or not judged at --quick sizes)."""

from __future__ import annotations

from typing import Any

from .common import KIB, MIB, human


class _Targets(list):
    """A list of target dicts with an ``add``."""

    def add(self, name: str, value: float | None, op: str, limit: float,
            applies: bool = True) -> None:
        met = None if value is None or not applies else (
            value >= limit if op == ">=" else value <= limit if op == "<=" else value < limit)
        self.append({"target": name, "value": value, "op": op, "limit": limit, "met": met})


def targets(result: dict[str, Any]) -> list[dict]:
    """Every target, in the report's order."""
    out = _Targets()
    _dd_fio(out, result)
    u = result.get("uiomove") or {}
    for nvec, v in (u.get("iovecs") or {}).items():
        out.add(f"uiomove 1 MiB over {nvec} iovecs / slice copy", v["ratio"], "<=", v["target"])
    if "request_4k_us" in u:
        out.add("4 KiB request path (µs)", u["request_4k_us"]["us"], "<=", u["request_4k_us"]["target"])
    _hook_durability(out, result)
    _sweep(out, result.get("sweep"))
    full = not result["settings"]["quick"]
    b = result.get("backed") or {}
    for r in b.get("rows", []):
        out.add(f"backed {r['test']}: iofs backed / bare passthrough",
                r["ratio"].get("iofs-backed/bare-pass"), ">=", 0.90)
    rss = b.get("rss") or {}
    if rss:
        kib = rss.get("peak_rss_kib")
        out.add(f"iofs peak RSS writing {human(rss['bytes'])} through a backed mount (MiB)",
                kib / 1024 if kib else None, "<", 100, full)
    for r in result["memory"]:
        if r["fs"] != "iofs":
            continue
        mib = r["peak_rss_kib"] / 1024 if r.get("peak_rss_kib") else None
        if r["kind"] == "stream":
            out.add(f"iofs {r['test']} (MiB)", mib, "<", 100, full)
        else:
            out.add(f"iofs {r['test']} (MiB)", mib, "<", 1.2 * 1024, full)
    return list(out)


def _dd_fio(out: _Targets, result: dict[str, Any]) -> None:
    dd = {(r["op"], r["target"], r["bs"]): r for r in result["dd"]}
    for target in ("zero", "mem"):
        for op in ("read", "write"):
            for bs in (4 * KIB, MIB):
                r = dd.get((op, target, bs))
                out.add(f"dd {op} {target} {human(bs)} iofs/bare", r and r["ratio"]["iofs/bare"],
                        ">=", 0.90)
    for op, limit in (("read", 0.40), ("write", 0.30)):
        r = dd.get((op, "mem", MIB))
        out.add(f"dd {op} mem0 1M iofs/tmpfs", r and r["ratio"]["iofs/tmpfs"], ">=", limit)
    for mine, how in (("iofs", "write-through, the default"), ("iofs-wb", "writeback_cache = true")):
        files = [r["ratio"][f"{mine}/example"] for r in result["fio"]
                 if r["target"] == "file" and r["ratio"].get(f"{mine}/example") is not None]
        out.add(f"fio regular files {mine}/example, worst row ({how})",
                min(files) if files else None, ">=", 100)


def _sweep(out: _Targets, w: dict[str, Any] | None) -> None:
    """Cases per second against the old way (the baseline's sweep if measured, else a mount
    per run), the per-run overhead, and 2 jobs against 1."""
    if not w:
        return
    ratio = w["rates"]["ratio"]
    old = "base" if "new/base" in ratio else "fresh"
    out.add(f"sweep cases/s, new / {'the baseline' if old == 'base' else 'a mount per run'}",
            ratio.get(f"new/{old}"), ">=", 4.0)
    o = w.get("overhead")
    out.add("sweep per-run overhead beyond the program (ms)", o and o["overhead_s"] * 1000, "<=", 150)
    j = w.get("jobs") or {}
    c = w.get("crash") or {}
    out.add("sweep --crash: cost per crash point beyond the program and the check (ms)",
            c.get("overhead_s") and c["overhead_s"] * 1000, "<=", 300)
    out.add("sweep --jobs 2 / --jobs 1, a program that mostly waits", j.get("ratio"), ">=", 1.6,
            (w.get("cpus") or 1) >= 2)


def _hook_durability(out: _Targets, result: dict[str, Any]) -> None:
    h = result.get("hook") or {}
    hook = {(r["op"], r["target"], r["bs"]): r for r in h.get("rows", [])}
    if hook:
        out.add("a rule that does not match, per request, dd 4k of zero and mem0 (µs)",
                h.get("rule_us_4k"), "<=", 1.0)
    r = hook.get(("read", "zero", 4 * KIB))
    if r is not None:
        out.add("dd read zero 4k, trace reader attached / none", r["ratio"]["iofs-reader/iofs"],
                ">=", 0.70)
    d = result.get("durability") or {}
    for r in d.get("rows", []):
        if r["op"] == "write":
            out.add(f"durability on/off: {r['test']}", r["ratio"]["on/off"], ">=", 0.7)
    x = d.get("extra")
    if x:
        out.add(f"durability: extra RSS rewriting {human(x['bytes'])} in place / bytes rewritten "
                "(limit: unsynced + replaced)", x["rewrite_extra_per_byte"], "<=",
                round(x["bound_bytes"] / x["bytes"], 2))
