"""The report: markdown on stdout (the header, the dd, fio, memory and uiomove tables, the
sections of ``report_sections``, the targets, the new/base table, the errors), and the JSON
of the raw numbers. A column or ratio of a filesystem that is not there is left out, so a run
without ``--baseline`` prints what it always printed."""

from __future__ import annotations

import json
from typing import Any

from . import baseline
from .common import FS_ORDER, based, human
from .report_sections import fmt, sections


def _header(result: dict[str, Any]) -> list[str]:
    s, host = result["settings"], result["host"]
    out = [f"## iofs benchmark{' (--quick: smoke sizes, not the targets)' if s['quick'] else ''}", ""]
    out.append(f"Medians of {s['reps']} (dd) and {s['fio_reps']} (fio) alternating rounds, MB/s "
               "(10^6 bytes/s); ratios are medians of the per-round ratios. "
               f"{host['cpus']} CPUs, Linux {host['kernel']}, Python "
               f"{host['python']}, pyfuse3 {host['pyfuse3']}, "
               f"{host.get('fio') or 'no fio'}; load average (1 min) "
               f"{host['loadavg_start'][0]} at the start, "
               f"{host.get('loadavg_end', ['?'])[0]} at the end.")
    out.append("")
    for n in FS_ORDER:
        info = result["filesystems"].get(n)
        if info and (not info.get("available") or info.get("note")):
            out.append(f"- {n}: {'' if info.get('available') else 'left out: '}{info.get('note')}")
    rs = result.get("request_sizes")
    if rs:
        out.append(f"- largest requests seen by the bare fs: read {human(rs['read'])}, "
                   f"write {human(rs['write'])}")
    out.append("")
    return out


def _table(out: list[str], avail: list[str], rows: list[dict], cols: list[str],
           ratios: list[str]) -> None:
    """A table of ``rows``: medians of ``cols`` and ``ratios``, those available only."""
    cols = [c for c in cols if c in avail]
    ratios = [r for r in ratios if all(p in avail for p in r.split("/"))]
    out.append("| test | " + " | ".join(cols + ratios) + " |")
    out.append("|---|" + "---:|" * (len(cols) + len(ratios)))
    for r in rows:
        cells = [fmt(r["median"].get(c)) for c in cols] + [fmt(r["ratio"].get(q), 2) for q in ratios]
        out.append(f"| {r['test']} | " + " | ".join(cells) + " |")
    out.append("")


def _dd_fio(result: dict[str, Any], avail: list[str]) -> list[str]:
    out: list[str] = []
    s = result["settings"]
    iofs, wb = ["iofs", based("iofs")], ["iofs-wb", based("iofs-wb")]
    if result["dd"]:
        out += ["### dd (zero: iofs /zero, bare zero, tmpfs a sparse file; mem: iofs /mem0, bare mem, "
                "tmpfs a 64 MiB file)", ""]
        _table(out, avail, result["dd"], iofs + ["bare", "tmpfs"],
               ["iofs/bare", "iofs/tmpfs", f"iofs/{based('iofs')}"])
    if result["fio"]:
        mem = [r for r in result["fio"] if r["target"] == "mem"]
        files = [r for r in result["fio"] if r["target"] == "file"]
        sz = s["fio_mem_size"]
        out += ["### fio on the mem device (write, then read back with verify=crc32c in the same "
                f"job; size {', '.join(f'{human(int(k))}: {human(v)}' for k, v in sz.items())} "
                "by bs)", ""]
        _table(out, avail, mem, iofs + ["bare", "tmpfs"],
               ["iofs/bare", "iofs/tmpfs", f"iofs/{based('iofs')}"])
        out += ["### fio on a regular file (iofs /tmp; write + fsync, then a cold read with "
                f"verify=crc32c; {human(s['fio_file_size'])} files: the example's writes and "
                "reads are quadratic in the file size)", ""]
        _table(out, avail, files, iofs + wb + ["tmpfs", "example"],
               ["iofs/tmpfs", "iofs/example", "iofs-wb/example", f"iofs/{based('iofs')}",
                f"iofs-wb/{based('iofs-wb')}"])
    elif result.get("fio_note"):
        out += [f"fio: {result['fio_note']}", ""]
    return out


def _memory(result: dict[str, Any]) -> list[str]:
    rows = result["memory"]
    if not rows:
        return []
    twins = {(r["kind"], r["fs"]): r for r in rows}
    vs_base = any(r["fs"] == based("iofs") for r in rows)
    extra = " MB/s iofs/iofs@base | peak RSS iofs/iofs@base |" if vs_base else ""
    out = ["### daemon memory", "", "| test | fs | MB/s | RSS before (MiB) | peak RSS (MiB) |" + extra,
           "|---|---|---:|---:|---:|" + ("---:|---:|" if vs_base else "")]
    for r in rows:
        line = (f"| {r['test']} | {r['fs']} | {fmt(r['mb_s'])} | "
                f"{fmt((r['rss_before_kib'] or 0) / 1024, 1)} | {fmt((r['peak_rss_kib'] or 0) / 1024, 1)} |")
        if vs_base:
            t = twins.get((r["kind"], based("iofs"))) if r["fs"] == "iofs" else None
            q = [r[k] / t[k] if t and r[k] and t[k] else None for k in ("mb_s", "peak_rss_kib")]
            line += f" {fmt(q[0], 2) if t else ''} | {fmt(q[1], 2) if t else ''} |"
        out.append(line)
    out.append("")
    return out


def _uiomove(result: dict[str, Any]) -> list[str]:
    u = result.get("uiomove")
    if u and "error" in u:
        return [f"uiomove microbenchmark failed: {u['error']}", ""]
    if not u or "iovecs" not in u:
        return []
    out = ["### uiomove microbenchmark (scripts/bench/micro_uiomove.py)", "",
           "| measure | value | target |", "|---|---:|---:|"]
    for nvec, v in u["iovecs"].items():
        us = (f" ({v['uiomove_us']:.0f} / {v['slice_copy_us']:.0f} µs)"
              if "uiomove_us" in v and "slice_copy_us" in v else "")
        out.append(f"| uiomove 1 MiB over {nvec} iovecs / one slice copy{us} | {v['ratio']:.2f}x | "
                   f"<= {v['target']}x |")
    if "request_4k_us" in u:
        r = u["request_4k_us"]
        out.append(f"| 4 KiB request path | {r['us']:.2f} µs | <= {r['target']} µs |")
    out.append("")
    return out


def markdown(result: dict[str, Any]) -> str:
    """The whole report."""
    avail = [n for n in FS_ORDER if result["filesystems"].get(n, {}).get("available")]
    out = _header(result) + _dd_fio(result, avail) + _memory(result) + _uiomove(result)
    out += sections(result)
    out += ["### targets", "", "| target | value | limit | met |", "|---|---:|---:|---|"]
    for t in result["targets"]:
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        out.append(f"| {t['target']} | {fmt(t['value'], 2)} | {t['op']} {t['limit']} | {met} |")
    if result["settings"]["quick"]:
        out += ["", "(--quick: memory targets are not judged at smoke sizes)"]
    if result.get("baseline"):
        out += [""] + baseline.markdown(result["baseline"])[:-1]
    if result["errors"]:
        out += ["", "### errors", ""] + [f"- {e}" for e in result["errors"]]
    return "\n".join(out) + "\n"


def _no_nan(o: Any) -> Any:
    """NaN (a failed sample) becomes null: JSON has no NaN."""
    if isinstance(o, float) and o != o:
        return None
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_no_nan(v) for v in o]
    return o


def write_json(result: dict[str, Any], path: str) -> None:
    with open(path, "w") as f:
        json.dump(_no_nan(result), f, indent=2, allow_nan=False)
