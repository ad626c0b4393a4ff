"""The fault and trace hook section: dd of zero and mem0, 4 KiB and 1 MiB, on bare, iofs as it
mounts by default (trace recording on, no rules), with ``trace = false``, with N rules that
match nothing, and with a trace reader attached (the default mount, ``cat .iofs/trace``
running); every iofs column with its baseline twin. Per request: what a rule, the trace
recording and the reader cost."""

from __future__ import annotations

import contextlib
import re
import statistics
from typing import Any

from .common import BASE, KIB, MEM_SIZE, MIB, BenchError, based, human, log
from .control import TraceFollower, add_rules, rule_listing
from .measure import dd_sample
from .mounts import tree_with
from .runner import Runner
from .stats import base_ratios, median, paired, paired_ratio

HOOK_RULE = "path=nomatch-{k} op=read,write action=eio"  # matches no node of the tree
# column -> the mount it runs on; "iofs-reader" is the default mount with a trace reader attached
HOOK_MOUNTS = {"bare": "bare", "iofs": "iofs-hook", "iofs-notrace": "iofs-notrace",
               "iofs-rules": "iofs-rules", "iofs-reader": "iofs-hook"}
IOFS_COLS = ["iofs", "iofs-notrace", "iofs-rules", "iofs-reader"]
HOOK_COLUMNS = {
    "bare": "scripts/bench/bare_fs.py",
    "iofs": "iofs as mounted by default: trace recording on, no rules, no reader",
    "iofs-notrace": "iofs with [options] trace = false",
    "iofs-rules": "iofs with N rules added through .iofs/faults that match no request",
    "iofs-reader": "the default iofs mount while `cat MNT/.iofs/trace > /dev/null` follows the trace",
}
HOOK_RATIOS = [("iofs", "bare"), ("iofs-notrace", "bare"), ("iofs-rules", "bare"),
               ("iofs-reader", "bare"), ("iofs-reader", "iofs")]
# (cost, the column with it, the column without, divided by): per request, in µs
COSTS = [("rule_us", "iofs-rules", "iofs", None), ("trace_us", "iofs", "iofs-notrace", 1),
         ("reader_us", "iofs-reader", "iofs", 1)]


def run(r: Runner) -> dict:
    """The section's rows, the 4 KiB costs over all rows, and the rule hits (must be 0)."""
    n_rules = r.s.hook_rules
    out: dict[str, Any] = {"rules": n_rules, "rule": HOOK_RULE, "columns": HOOK_COLUMNS, "rows": []}
    if "bare" not in r.mounts:
        r.error("hook: the bare fs is not mounted")
    out["pinned_cpu"] = r.pin
    with r.pinned("bare"):
        try:
            _run(r, out, n_rules)
        finally:
            r.unmount("iofs-hook", "iofs-notrace", "iofs-rules")
    return out


def _mount(r: Runner, n_rules: int) -> dict[str, str]:
    """The section's mounts, the rules added; its columns (column -> mount) that are up."""
    r.mount_iofs("iofs-hook")
    r.mount_iofs("iofs-notrace", tree_with(trace=False))
    r.mount_iofs("iofs-rules")
    for name in ("iofs-rules", based("iofs-rules")):
        if name in r.mounts:
            try:
                add_rules(r.mounts[name], [HOOK_RULE.format(k=k) for k in range(n_rules)])
            except (BenchError, OSError) as exc:
                r.error(f"hook: adding {n_rules} rules on {name}: {exc}")
                r.mounts.pop(name).close()
    cols = r.with_base(HOOK_MOUNTS, IOFS_COLS)
    return {c: mnt for c, mnt in cols.items() if mnt in r.mounts}


def _run(r: Runner, out: dict[str, Any], n_rules: int) -> None:
    cols = _mount(r, n_rules)
    for mnt in set(cols.values()):  # fault in every store once
        with contextlib.suppress(BenchError):
            dd_sample(r.mounts[mnt], "write", "mem", MIB, MEM_SIZE)
    for op in ("read", "write"):
        for target in ("zero", "mem"):
            for bs in (4 * KIB, MIB):
                out["rows"].append(_row(r, cols, op, target, bs, n_rules))
    # one cost over all 4 KiB rows: the median of every row's per-round costs (a 4 KiB
    # request takes 30-60 µs, so one row's rounds alone leave the per-rule cost ±0.3 µs)
    small = [row for row in out["rows"] if row["bs"] == 4 * KIB]
    for suffix in ("", BASE) if r.baseline else ("",):
        for key, a, b, per in COSTS:
            per = per or n_rules
            vs = [(row["bs"] / x - row["bs"] / y) / per for row in small
                  for x, y in zip(row["samples"].get(a + suffix, []),
                                  row["samples"].get(b + suffix, []))
                  if x == x and y == y and x > 0 and y > 0]
            out[f"{key}_4k{suffix}"] = statistics.median(vs) if vs else None
    for name in ("iofs-rules", based("iofs-rules")):
        if name in r.mounts:
            listing = rule_listing(r.mounts[name])
            hits = [int(h) for h in re.findall(r"\bhits=(\d+)", listing)]
            out["rule_hits" + name.removeprefix("iofs-rules")] = sum(hits)
            if len(hits) != n_rules or any(hits):
                r.error(f"hook: the rules that should match nothing ({name}): {listing.strip()!r}")


def _costs(samples: dict[str, list[float]], bs: int, n_rules: int, suffix: str) -> dict:
    """µs per request of a rule, the trace recording and the reader (``suffix``: of the
    baseline's columns); a difference of two noisy times, so it may come out < 0."""
    out: dict[str, float | None] = {}
    for key, a, b, per in COSTS:
        per = per or n_rules
        out[key + suffix] = paired(samples.get(a + suffix, []), samples.get(b + suffix, []),
                                   lambda x, y, per=per: (bs / x - bs / y) / per)
    return out


def _row(r: Runner, cols: dict[str, str], op: str, target: str, bs: int, n_rules: int) -> dict:
    total = r.s.dd_bytes[bs]
    label = f"dd {op} {target} {human(bs)}"

    def sample(col: str) -> float:
        m = r.mounts[cols[col]]
        if col.removesuffix(BASE) == "iofs-reader":
            with TraceFollower(m.mountpoint):
                return dd_sample(m, op, target, bs, total)
        return dd_sample(m, op, target, bs, total)

    samples = r.alternate(f"hook {label}", cols, sample)
    med = {n: median(v) for n, v in samples.items()}
    ratios = {f"{a}/{b}": paired_ratio(samples[a], samples[b]) if a in samples and b in samples
              else None for a, b in HOOK_RATIOS}
    ratios.update(base_ratios(samples, IOFS_COLS))
    costs: dict[str, Any] = {"request_us": {n: bs / v if v else None for n, v in med.items()}}
    costs.update(_costs(samples, bs, n_rules, ""))
    if r.baseline:
        costs.update(_costs(samples, bs, n_rules, BASE))
    log(f"hook {label}: " + ", ".join(f"{n} {v:.0f}" for n, v in med.items() if v)
        + (f"; rule {costs['rule_us']:.2f} µs" if costs["rule_us"] is not None else ""))
    return {"test": label, "tool": "dd", "op": op, "target": target, "bs": bs, "bytes": total,
            "unit": "MB/s", "samples": samples, "median": med, "ratio": ratios, **costs}
