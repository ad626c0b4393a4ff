"""The durability section: sequential writes to a new regular file (then fsync), and a rewrite
in place without fsync, with ``durability`` off and on (and the baseline's twins of both); the
daemons' RSS as a file is appended to and then rewritten (fresh daemons, measured first)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Any

from .common import KIB, MIB, BenchError, based, human, log
from .control import fsync_path, unsynced_bytes
from .measure import dd_file_mb_s, read_status, run_dd
from .mounts import Fs, tree_with
from .runner import Runner
from .stats import base_ratios, median, paired_ratio

COLS = {"off": "iofs-dur-off", "on": "iofs-dur"}


def run(r: Runner) -> dict:
    """The rows (MB/s, on/off), the RSS rows per column, and the extra memory of durability."""
    with r.pinned():
        r.mount_iofs("iofs-dur-off")
        r.mount_iofs("iofs-dur", tree_with(durability=True))
        try:
            out = _run(r, {c: m for c, m in r.with_base(COLS, list(COLS)).items() if m in r.mounts})
        finally:
            r.unmount(*COLS.values())
    out["pinned_cpu"] = r.pin
    return out


def _run(r: Runner, cols: dict[str, str]) -> dict:
    out: dict[str, Any] = {"rows": [], "memory": [], "extra": None}
    for c, mnt in cols.items():
        try:
            out["memory"].append(_memory(r, c, r.mounts[mnt]))
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            r.error(f"durability memory on {mnt}: {exc}")
    mem = {row["durability"]: row for row in out["memory"]}
    out["extra"] = _extra(mem, "")
    if r.baseline:
        out["extra" + based("")] = _extra(mem, based(""))
    for bs in (MIB, 128 * KIB, 4 * KIB):
        out["rows"].append(_write_row(r, cols, bs))
    out["rows"].append(_rewrite_row(r, cols))
    return out


def _extra(mem: dict[str, dict], suffix: str) -> dict | None:
    """What durability costs in memory after the rewrite (on minus off), per byte rewritten;
    ``suffix``: of the baseline's columns. None unless both were measured."""
    on, off = mem.get("on" + suffix), mem.get("off" + suffix)
    if on is None or off is None:
        return None
    size = on["bytes"]
    extra = {k: (on[f"{k}_growth_kib"] - off[f"{k}_growth_kib"]) * KIB for k in ("append", "rewrite")}
    return {
        "bytes": size,
        "append_extra_bytes": extra["append"],
        "rewrite_extra_bytes": extra["rewrite"],
        "rewrite_extra_per_byte": extra["rewrite"] / size,
        "unsynced_after_rewrite": on["unsynced_after_rewrite"],
        # the bound: the unsynced bytes plus the blocks they replaced
        "bound_bytes": on["unsynced_after_rewrite"] + size,
    }


def _memory(r: Runner, col: str, m: Fs) -> dict:
    """The daemon's RSS before and after appending S bytes, an fsync, a rewrite in place,
    and another fsync."""
    size = r.s.dur_mem_bytes
    durable = col.startswith("on")
    path = os.path.join(m.paths["dir"], "rss.dat")
    rss = [read_status(m.pid)["VmRSS"]]
    run_dd("/dev/zero", path, MIB, size // MIB, write=False)  # append S bytes, no fsync
    rss.append(read_status(m.pid)["VmRSS"])
    unsynced_append = unsynced_bytes(m) if durable else 0
    fsync_path(path)
    rss.append(read_status(m.pid)["VmRSS"])
    run_dd("/dev/zero", path, MIB, size // MIB, write=True)  # rewrite in place, no fsync
    rss.append(read_status(m.pid)["VmRSS"])
    unsynced_rewrite = unsynced_bytes(m) if durable else 0
    fsync_path(path)
    rss.append(read_status(m.pid)["VmRSS"])
    os.unlink(path)
    row = {"durability": col, "fs": m.name, "bytes": size,
           "rss_kib": rss, "append_growth_kib": rss[1] - rss[0],
           "rewrite_growth_kib": rss[3] - rss[2],
           "unsynced_after_append": unsynced_append, "unsynced_after_rewrite": unsynced_rewrite}
    log(f"durability {col}: RSS +{row['append_growth_kib'] / 1024:.1f} MiB appending "
        f"{human(size)}, +{row['rewrite_growth_kib'] / 1024:.1f} MiB rewriting it")
    return row


def _write_row(r: Runner, cols: dict[str, str], bs: int) -> dict:
    total = r.s.dur_bytes[bs]
    label = f"dd write {human(bs)}, new file, conv=fsync"

    def sample(col: str) -> float:
        path = os.path.join(r.mounts[cols[col]].paths["dir"], "seq.dat")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return dd_file_mb_s(path, bs, total, conv=("fsync",))

    r.warm_up(cols, sample)
    samples = r.alternate(f"durability {label}", cols, sample)
    for mnt in cols.values():
        with contextlib.suppress(OSError, KeyError):
            os.unlink(os.path.join(r.mounts[mnt].paths["dir"], "seq.dat"))
    return pair_row(label, "write", bs, total, samples, "on/off", ("on", "off"))


def _rewrite_row(r: Runner, cols: dict[str, str]) -> dict:
    total = r.s.dur_rewrite_bytes
    label = f"dd rewrite {human(total)} in place, 1M, no fsync"
    for mnt in list(cols.values()):
        path = os.path.join(r.mounts[mnt].paths["dir"], "rewrite.dat")
        try:
            run_dd("/dev/zero", path, MIB, total // MIB, write=False, conv=("fsync",))
        except (BenchError, subprocess.SubprocessError) as exc:
            r.error(f"durability rewrite setup on {mnt}: {exc}")

    def sample(col: str) -> float:
        path = os.path.join(r.mounts[cols[col]].paths["dir"], "rewrite.dat")
        fsync_path(path)  # durable again: the journal starts empty
        return dd_file_mb_s(path, MIB, total, write=True)

    r.warm_up(cols, sample)
    samples = r.alternate(f"durability {label}", cols, sample)
    return pair_row(label, "rewrite", MIB, total, samples, "on/off", ("on", "off"))


def pair_row(label: str, op: str, bs: int, total: int, samples: dict[str, list[float]],
             key: str, pair: tuple[str, str]) -> dict:
    """A row of two columns (and their baseline twins): medians, the ratio ``key`` of the
    pair, and each column against its twin."""
    med = {n: median(v) for n, v in samples.items()}
    got = paired_ratio(samples.get(pair[0], []), samples.get(pair[1], []))
    log(f"{label}: " + ", ".join(f"{n} {v:.0f}" for n, v in med.items() if v)
        + (f"; {key} {got:.2f}" if got is not None else ""))
    return {"test": label, "tool": "dd", "op": op, "bs": bs, "bytes": total, "unit": "MB/s",
            "samples": samples, "median": med,
            "ratio": {key: got, **base_ratios(samples, list(pair))}}

