"""The markdown of the hook, durability and xattr sections. With ``--baseline`` each table
gets the baseline's columns after its own and a ``new/base`` ratio per iofs column."""

from __future__ import annotations

from typing import Any

from .common import MIB, based, human
from .hook import HOOK_MOUNTS, HOOK_RATIOS


def fmt(v: float | None, digits: int | None = None) -> str:
    """A number as the tables show it: ``digits`` decimals, or 3 significant-ish digits."""
    if v is None or v != v:
        return "–"
    if digits is not None:
        return f"{v:.{digits}f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _pin_note(section: dict) -> str:
    cpu = section.get("pinned_cpu")
    return f"; dd and the daemons pinned to CPU {cpu}" if cpu is not None else ""


def _twins(rows: list[dict], cols: list[str]) -> list[str]:
    """The columns of ``cols`` whose baseline twin has a median in some row."""
    return [c for c in cols if any(r["median"].get(based(c)) for r in rows)]


def _hook_table(h: dict[str, Any]) -> list[str]:
    rows = h["rows"]
    cols = [c for c in HOOK_MOUNTS if any(r["median"].get(c) for r in rows)]
    twins = _twins(rows, cols)
    heads = {"bare": "bare", "iofs": "iofs (default)", "iofs-notrace": "trace = false",
             "iofs-rules": f"{h['rules']} rules", "iofs-reader": "trace reader"}
    ratios = [f"{a}/{b}" for a, b in HOOK_RATIOS]
    rhead = {"iofs/bare": "default/bare", "iofs-notrace/bare": "no trace/bare",
             "iofs-rules/bare": "rules/bare", "iofs-reader/bare": "reader/bare",
             "iofs-reader/iofs": "reader/default"}
    short = {"iofs": "default", "iofs-notrace": "no trace", "iofs-rules": "rules",
             "iofs-reader": "reader"}
    out = [f"### fault and trace hook (MB/s; {h['rules']} rules `{h['rule'].format(k='K')}`, "
           "K = 0.., that match nothing; the trace reader is `cat MNT/.iofs/trace > /dev/null`"
           f"{_pin_note(h)})", "",
           "| dd | " + " | ".join(heads[c] for c in cols) + " | "
           + "".join(f"{heads[c]} @base | " for c in twins)
           + " | ".join(rhead[q] for q in ratios) + " |"
           + "".join(f" {short[c]} new/base |" for c in twins),
           "|---|" + "---:|" * (len(cols) + 2 * len(twins) + len(ratios))]
    for r in rows:
        out.append(f"| {r['test'][3:]} | " + " | ".join(fmt(r["median"].get(c)) for c in cols)
                   + " | " + "".join(f"{fmt(r['median'].get(based(c)))} | " for c in twins)
                   + " | ".join(fmt(r["ratio"].get(q), 2) for q in ratios) + " |"
                   + "".join(f" {fmt(r['ratio'].get(f'{c}/{based(c)}'), 2)} |" for c in twins))
    return out


def _hook_costs(h: dict[str, Any]) -> list[str]:
    out = ["", "| dd | µs per request (default) | per rule that does not match | trace recording "
           "| trace reader |", "|---|---:|---:|---:|---:|"]
    for r in h["rows"]:
        out.append(f"| {r['test'][3:]} | {fmt(r['request_us'].get('iofs'), 2)} | "
                   f"{fmt(r['rule_us'], 2)} | {fmt(r['trace_us'], 2)} | {fmt(r['reader_us'], 2)} |")
    out.append(f"| all 4k rows | | {fmt(h.get('rule_us_4k'), 2)} | {fmt(h.get('trace_us_4k'), 2)} | "
               f"{fmt(h.get('reader_us_4k'), 2)} |")
    if any(k.endswith("@base") for k in h):
        out.append(f"| all 4k rows, @base | | {fmt(h.get(based('rule_us_4k')), 2)} | "
                   f"{fmt(h.get(based('trace_us_4k')), 2)} | {fmt(h.get(based('reader_us_4k')), 2)} |")
    out += ["", "(µs per request: request size / throughput. The costs are medians of per-round "
            "differences per request: rules minus default, over the number of rules; default minus "
            "trace = false; reader minus default. At 1M they are lost in the noise.)", ""]
    return out


def _durability(d: dict[str, Any]) -> list[str]:
    twins = _twins(d["rows"], ["off", "on"])
    out = [f"### durability (regular file under tmp/, write-through; MB/s{_pin_note(d)})", "",
           "| test | durability off | durability on | on/off |"
           + "".join(f" {c} @base |" for c in twins) + "".join(f" {c} new/base |" for c in twins),
           "|---|---:|---:|---:|" + "---:|" * (2 * len(twins))]
    for r in d["rows"]:
        out.append(f"| {r['test']} | {fmt(r['median'].get('off'))} | {fmt(r['median'].get('on'))} | "
                   f"{fmt(r['ratio'].get('on/off'), 2)} |"
                   + "".join(f" {fmt(r['median'].get(based(c)))} |" for c in twins)
                   + "".join(f" {fmt(r['ratio'].get(f'{c}/{based(c)}'), 2)} |" for c in twins))
    out.append("")
    return out + _durability_memory(d)


def _durability_memory(d: dict[str, Any]) -> list[str]:
    mem = {r["durability"]: r for r in d.get("memory", [])}
    if not mem:
        return []
    size = next(iter(mem.values()))["bytes"]
    cols = [c for c in ("off", "on", based("off"), based("on"))
            if c in mem or c in ("off", "on")]
    heads = {"off": "durability off", "on": "durability on"}

    def mib(col: str, key: str) -> str:
        kib = mem.get(col, {}).get(key)
        return fmt(kib / 1024, 1) if kib is not None else "–"

    out = ["| daemon RSS growth (MiB), fresh mounts | "
           + " | ".join(heads.get(c, f"{heads[c.removesuffix('@base')]} @base") for c in cols) + " |",
           "|---|" + "---:|" * len(cols),
           f"| appending {human(size)} to a new file (no fsync) | "
           + " | ".join(mib(c, "append_growth_kib") for c in cols) + " |",
           f"| then fsync, and rewriting those {human(size)} in place (no fsync) | "
           + " | ".join(mib(c, "rewrite_growth_kib") for c in cols) + " |"]
    x = d.get("extra")
    pad = " |" * (len(cols) - 2)
    if x:
        out.append(f"| extra for durability after the rewrite (on − off) / bytes rewritten | | "
                   f"{x['rewrite_extra_per_byte']:.3f} |{pad}")
        out.append(f"| unsynced bytes after the rewrite (`.iofs/unsynced`) | | "
                   f"{fmt(x['unsynced_after_rewrite'] / MIB, 1)} MiB |{pad}")
    out.append("")
    return out


def _xattr(x: dict[str, Any]) -> list[str]:
    twins = _twins(x["rows"], ["xattr", "noxattr"])
    heads = {"xattr": "xattr = true", "noxattr": "xattr = false"}
    short = {"xattr": "true", "noxattr": "false"}
    out = ["### xattr: the kernel's getxattr(\"security.capability\") before each write(2) (MB/s"
           f"{_pin_note(x)})", "",
           "| dd write 4k, new regular file | xattr = true (default) | xattr = false | false/true "
           "| getxattr per write(2), true / false |"
           + "".join(f" {heads[c]} @base |" for c in twins)
           + "".join(f" {short[c]} new/base |" for c in twins),
           "|---|---:|---:|---:|---:|" + "---:|" * (2 * len(twins))]
    for r in x["rows"]:
        g = r.get("getxattr_per_write", {})
        out.append(f"| {r['mode']}{' (writeback_cache = true)' if r['mode'] == 'writeback' else ''} | "
                   f"{fmt(r['median'].get('xattr'))} | {fmt(r['median'].get('noxattr'))} | "
                   f"{fmt(r['ratio'].get('noxattr/xattr'), 2)} | "
                   f"{fmt(g.get('xattr'), 2)} / {fmt(g.get('noxattr'), 2)} |"
                   + "".join(f" {fmt(r['median'].get(based(c)))} |" for c in twins)
                   + "".join(f" {fmt(r['ratio'].get(f'{c}/{based(c)}'), 2)} |" for c in twins))
    out.append("")
    return out


def _sweep(w: dict[str, Any]) -> list[str]:
    """Cases per second of each column, new's per-run overhead and its parts, --jobs 2/1."""
    rates = w["rates"]
    cols = list(rates["median"])
    heads = {"new": "new (one mount per worker)", "fresh": "--fresh-mounts (a mount per run)",
             "base": "base (the baseline's sweep)"}
    out = [f"### iofs sweep (a {w['program']} program making {w['reads']} reads of 100 bytes, "
           "swept with short:1: cases per second over the whole command)", "",
           "| " + " | ".join(heads[c] for c in cols) + " | "
           + " | ".join(rates["ratio"]) + " |", "|" + "---:|" * (len(cols) + len(rates["ratio"])),
           "| " + " | ".join(fmt(rates["median"][c]) for c in cols) + " | "
           + " | ".join(fmt(v, 2) for v in rates["ratio"].values()) + " |", ""]
    o = w.get("overhead")
    if o:
        ms = {k: v * 1000 for k, v in o.items()}
        out += ["| per faulted run (ms) | program's own time | overhead | reset and rules | "
                "spawn in a cgroup, kill, reap | rule hits | the rest (engine) |",
                "|---:|---:|---:|---:|---:|---:|---:|",
                f"| {ms['per_run_s']:.1f} | {ms['program_s']:.1f} | {ms['overhead_s']:.1f} | "
                f"{ms['reset_and_rules_s']:.1f} | {ms['spawn_group_reap_s']:.1f} | "
                f"{ms['hits_s']:.1f} | {ms['engine_s']:.1f} |", ""]
    j = w.get("jobs")
    if j:
        out += [f"| a program that mostly waits ({j['reads']} reads, {j['wait_ms']} ms after "
                "each): faulted runs/s | --jobs 1 | --jobs 2 | 2 jobs / 1 job |",
                "|---|---:|---:|---:|",
                f"| {w['cpus']} CPUs | {fmt(j['median']['1'])} | {fmt(j['median']['2'])} | "
                f"{fmt(j['ratio'], 2)} |", ""]
    c = w.get("crash")
    if c:
        out += [f"| sweep --crash: a C program making {c['records']} fsynced appends, "
                f"{c['points']} crash points, CHECK `true` (ms) | per point | program | check "
                "| overhead |", "|---|---:|---:|---:|---:|",
                f"| | {c['per_point_s'] * 1000:.1f} | {c['program_s'] * 1000:.1f} | "
                f"{c['check_s'] * 1000:.1f} | {c['overhead_s'] * 1000:.1f} |", ""]
    return out


def _backed(b: dict[str, Any]) -> list[str]:
    """MB/s of each backed column, the ratios between them, and the daemon's peak RSS."""
    heads = {"iofs-backed": "iofs backed", "iofs-backed-noxattr": "xattr = false",
             "iofs-backed-wb": "writeback_cache", "bare-pass": "bare passthrough",
             "backing": "backing tmpfs"}
    cols = [c for c in b["columns"] if any(r["median"].get(c) for r in b["rows"])]
    ratios = [q for q in ("iofs-backed/bare-pass", "iofs-backed/backing", "bare-pass/backing",
                          "iofs-backed-noxattr/bare-pass", "iofs-backed-wb/bare-pass")
              if any(r["ratio"].get(q) for r in b["rows"])]
    rhead = {"iofs-backed/bare-pass": "backed/bare", "iofs-backed/backing": "backed/backing",
             "bare-pass/backing": "bare/backing", "iofs-backed-noxattr/bare-pass":
             "no xattr/bare", "iofs-backed-wb/bare-pass": "wb/bare"}
    out = [f"### backed: a host directory through iofs (`--source`), a bare pyfuse3 passthrough "
           f"and the backing tmpfs itself (MB/s; {human(b['file_size'])} files, medians of "
           f"{b['reps']} interleaved rounds"
           + (f"; fio and the daemons pinned to CPU {b['pinned_cpu']}"
              if b.get("pinned_cpu") is not None else "") + ")", "",
           "| fio | " + " | ".join(heads[c] for c in cols) + " | "
           + " | ".join(rhead[q] for q in ratios) + " |",
           "|---|" + "---:|" * (len(cols) + len(ratios))]
    for r in b["rows"]:
        out.append(f"| {r['test'][4:]} | " + " | ".join(fmt(r["median"].get(c)) for c in cols)
                   + " | " + " | ".join(fmt(r["ratio"].get(q), 3) for q in ratios) + " |")
    rss = b.get("rss") or {}
    if rss.get("peak_rss_kib"):
        out += ["", f"Peak RSS of a backed mount's daemon writing {human(rss['bytes'])} through "
                f"it (durability off): {rss['peak_rss_kib'] / 1024:.1f} MiB "
                f"({fmt(rss.get('mb_s'))} MB/s)."]
    out.append("")
    return out


def sections(result: dict[str, Any]) -> list[str]:
    """The hook, durability, xattr, sweep and backed tables (those that ran)."""
    out: list[str] = []
    h = result.get("hook")
    if h and h["rows"]:
        out += _hook_table(h) + _hook_costs(h)
    d = result.get("durability")
    if d and d["rows"]:
        out += _durability(d)
    x = result.get("xattr")
    if x and x["rows"]:
        out += _xattr(x)
    w = result.get("sweep")
    if w:
        out += _sweep(w)
    b = result.get("backed")
    if b and b["rows"]:
        out += _backed(b)
    return out
