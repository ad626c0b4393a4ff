"""The fio section: the mem device (iofs, bare, tmpfs) and a regular file (iofs, iofs-wb,
tmpfs, the example), each with its baseline twins; one fio process per filesystem, target and
round, the filesystems alternating."""

from __future__ import annotations

import os
import subprocess

from .common import ENGINES, NAN, BenchError, based, log, parse_human
from .measure import fio_jobfile, run_fio
from .runner import Runner
from .stats import median, ratios_of

Plan = tuple[str, str, str, dict[int, int]]  # (target, fs, path, bytes per bs)
RowKey = tuple[str, str, str, str]            # (target, engine, bs, op)


def _plans(r: Runner) -> list[Plan]:
    s = r.s
    plans = []
    for n in ("iofs", based("iofs"), "bare", "tmpfs"):
        if n in r.mounts:
            plans.append(("mem", n, r.mounts[n].paths["mem"], s.fio_mem_size))
    for n in ("iofs", based("iofs"), "iofs-wb", based("iofs-wb"), "tmpfs", "example"):
        if n in r.mounts:
            plans.append(("file", n, os.path.join(r.mounts[n].paths["dir"], "fio.dat"),
                          {bs: s.fio_file_size for bs in s.fio_bs}))
    return plans


def run(r: Runner) -> list[dict]:
    """One row per (target, engine, bs, op), ordered mem first, then by engine, bs, op."""
    rows: dict[RowKey, dict] = {}
    plans = _plans(r)
    fio_dir = os.path.join(r.workdir, "fio")
    os.makedirs(fio_dir, exist_ok=True)
    for target in ("mem", "file"):
        tplans = [p for p in plans if p[0] == target]
        names = [p[1] for p in tplans]
        for rep in range(r.s.fio_reps):
            for n in r.order(names, rep):
                if r.usable(n):
                    _one_run(r, rows, next(p for p in tplans if p[1] == n), fio_dir)
            for row in rows.values():  # a failed run: NaN, so rounds stay aligned
                if row["target"] == target:
                    for n in names:
                        while len(row["samples"].setdefault(n, [])) < rep + 1:
                            row["samples"][n].append(NAN)
            log(f"fio {target} round {rep + 1}/{r.s.fio_reps} done")
    out = []
    for key in sorted(rows, key=lambda k: (k[0] != "mem", ENGINES.index(k[1]), parse_human(k[2]),
                                           k[3] != "write")):
        row = rows[key]
        row["median"] = {n: median(v) for n, v in row["samples"].items()}
        row["ratio"] = ratios_of(row["samples"])
        out.append(row)
    return out


def _one_run(r: Runner, rows: dict[RowKey, dict], plan: Plan, fio_dir: str) -> None:
    """One fio process on one filesystem: its jobs' MB/s appended to their rows."""
    target, n, path, sizes = plan
    s = r.s
    try:
        res = run_fio(fio_jobfile(path, sizes, s.fio_engines, s.fio_bs,
                                  split=(target == "file")), fio_dir)
    except (BenchError, subprocess.SubprocessError) as exc:
        r.error(f"fio {target} on {n}: {exc}")
        return
    for job, got in res.items():
        op, eng, bs = job.split("-")
        row = rows.setdefault((target, eng, bs, op), {
            "test": f"fio {eng} {bs} {op}{'+verify' if op == 'read' else ''} {target}",
            "tool": "fio", "engine": eng, "bs": parse_human(bs), "op": op,
            "target": target, "unit": "MB/s", "size": {}, "samples": {}})
        row["size"][n] = sizes[parse_human(bs)]
        row["samples"].setdefault(n, []).append(got["mb_s"])
        if got["error"]:
            r.error(f"fio {job} on {n} ({path}): error {got['error']}")
