"""The dd section: reads and writes of zero and mem at each block size, on iofs (and its
baseline twin), bare and tmpfs, the filesystems alternating round by round."""

from __future__ import annotations

import contextlib
import subprocess

from .common import MEM_SIZE, MIB, NAN, BenchError, based, human, log
from .measure import dd_sample
from .runner import Runner
from .stats import median, ratios_of


def run(r: Runner) -> list[dict]:
    """One row per (op, target, bs): samples, medians and ratios per filesystem."""
    names = [n for n in ("iofs", based("iofs"), "bare", "tmpfs") if n in r.mounts]
    # warm-up: fault in every store once, so no sample pays for first touches
    for n in names:
        with contextlib.suppress(BenchError):
            dd_sample(r.mounts[n], "write", "mem", MIB, MEM_SIZE)
    rows = []
    for op in ("read", "write"):
        for target in ("zero", "mem"):
            for bs in r.s.dd_bs:
                rows.append(_row(r, names, op, target, bs))
    return rows


def _row(r: Runner, names: list[str], op: str, target: str, bs: int) -> dict:
    total = r.s.dd_bytes[bs]
    samples: dict[str, list[float]] = {n: [] for n in names}
    label = f"dd {op} {target} {human(bs)}"
    for rep in range(r.s.reps):
        for n in r.order(names, rep):
            if not r.usable(n):
                continue
            try:
                samples[n].append(dd_sample(r.mounts[n], op, target, bs, total))
            except (BenchError, subprocess.SubprocessError) as exc:
                samples[n].append(NAN)  # keeps the rounds aligned
                r.error(f"{label} on {n}: {exc}")
    med = {n: median(v) for n, v in samples.items()}
    log(f"{label}: " + ", ".join(f"{n} {v:.0f}" for n, v in med.items() if v))
    return {"test": label, "tool": "dd", "op": op, "target": target, "bs": bs,
            "bytes": total, "unit": "MB/s", "samples": samples,
            "median": med, "ratio": ratios_of(samples)}
