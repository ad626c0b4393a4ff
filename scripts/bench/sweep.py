"""The sweep section: how many cases per second ``iofs sweep`` runs, side by side in the same
rounds.

* A program that makes N reads (30; 10 with --quick) of 100 bytes from a device, in a proper
  read loop, swept with ``--actions short:1`` (N cases, every one as clean): columns ``new``
  (one mount per worker, reset between runs), ``fresh`` (the same code with
  ``--fresh-mounts``: a mount per run, as sweep did before) and, with ``--baseline DIR``,
  ``base`` (DIR's own ``iofs sweep``). Cases per second are cases over the wall time of the
  whole command (start-up, mounts and clean runs included).
* The per-run overhead of ``new`` beyond the program's own time, and its parts (from the
  sweep's JSON: reset and rules, spawning the program in its cgroup and reaping it, reading
  the rule's hits, the rest), the program's own time measured by running it directly, with
  the same rules, on a mount of the same tree.
* ``--jobs 2`` against ``--jobs 1`` on a program that mostly waits (M reads, 30 ms of sleep
  after each): faulted runs per second of each.
* ``--crash``: the cost of a crash point beyond the program's and the checker's own time
  (:mod:`.crash_points`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iofs.testing import client

from . import crash_points
from .common import REPO, BenchError, log, program
from .mounts import checkout_env, mount_iofs
from .runner import Runner
from .stats import median, paired_ratio

RECORD = 100
PROGRAM = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
/* reads N records of 100 bytes with a proper loop, sleeping MS ms after each; prints a sum */
int main(int argc, char **argv) {
    int n = atoi(argv[2]), ms = argc > 3 ? atoi(argv[3]) : 0;
    char buf[100];
    long sum = 0;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 2; }
    for (int k = 0; k < n; k++) {
        size_t got = 0;
        while (got < sizeof buf) {
            ssize_t r = read(fd, buf + got, sizeof buf - got);
            if (r < 0) { perror("read"); return 1; }
            if (r == 0) break;
            got += r;
        }
        for (size_t i = 0; i < got; i++) sum += buf[i];
        if (ms) usleep(ms * 1000);
    }
    printf("%ld\n", sum);
    return 0;
}
"""
PY_PROGRAM = """import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
n, ms, total = int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0, 0
for _ in range(n):
    got = b""
    while len(got) < 100:
        chunk = os.read(fd, 100 - len(got))
        if not chunk:
            break
        got += chunk
    total += sum(got)
    time.sleep(ms / 1000)
print(total)
"""
WAIT_MS = 30


def _tree(work: Path, reads: int) -> Path:
    tree = work / "tree.toml"
    tree.write_text(f'[[device]]\npath = "input"\ndriver = "text"\ncontent = "{"r" * RECORD * reads}"\n')
    return tree


def _sweep(r: Runner, checkout: str, args: list[str], work: Path) -> dict[str, Any]:
    """One ``iofs sweep`` of ``checkout``: its wall time, and its JSON when it writes one."""
    report = work / "sweep.json"
    report.unlink(missing_ok=True)
    env = dict(checkout_env(checkout), TMPDIR=r.workdir)
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "iofs", "sweep", *args], capture_output=True,
                         text=True, timeout=1800, env=env, cwd=str(work))
    wall = time.monotonic() - t0
    if res.returncode != 0:
        raise BenchError(f"iofs sweep exited {res.returncode}: {res.stderr.strip()[-300:]}")
    doc = json.loads(report.read_text()) if report.exists() else None
    return {"wall": wall, "json": doc, "stderr": res.stderr}


def _columns(r: Runner) -> dict[str, tuple[str, list[str]]]:
    cols = {"new": (REPO, ["--json", "sweep.json"]),
            "fresh": (REPO, ["--json", "sweep.json", "--fresh-mounts"])}
    if r.baseline:
        cols["base"] = (r.baseline, [])
    return cols


def _rates(r: Runner, work: Path, prog: list[str], tree: Path, reads: int) -> dict[str, Any]:
    """Cases per second of each column, in alternating rounds; the JSONs of ``new``."""
    cols = _columns(r)
    samples: dict[str, list[float]] = {c: [] for c in cols}
    docs: list[dict] = []
    for rep in range(r.s.sweep_reps):
        for c in r.order(list(cols), rep):
            checkout, extra = cols[c]
            args = ["--config", str(tree), "--actions", "short:1", *extra, "--", *prog,
                    "{mnt}/input", str(reads)]
            try:
                got = _sweep(r, checkout, args, work)
            except (BenchError, OSError, subprocess.SubprocessError, ValueError) as exc:
                r.error(f"sweep {c}: {exc}")
                samples[c].append(float("nan"))
                continue
            samples[c].append(reads / got["wall"])
            if c == "new" and got["json"]:
                docs.append(got["json"])
            log(f"sweep {c}: {reads} cases in {got['wall']:.2f} s")
    ratios = {f"new/{c}": paired_ratio(samples["new"], samples[c]) for c in cols if c != "new"}
    return {"samples": samples, "median": {c: median(v) for c, v in samples.items()},
            "ratio": ratios, "docs": docs}


def _program_time(r: Runner, prog: list[str], tree: Path, reads: int) -> float | None:
    """The program's own wall time, run directly on a mount of the tree with the rules of a
    faulted run of the sweep (a short read in the middle, the clean rule)."""
    fs = mount_iofs("iofs-sweep-direct", r.workdir, REPO, tree.read_text())
    try:
        times = []
        for _ in range(max(r.s.sweep_reps * 3, 5)):
            client.reset(fs.mountpoint)
            client.add_rule(fs.mountpoint, f"path=input op=read nth={max(reads // 2, 1)} action=short:1")
            client.add_rule(fs.mountpoint, "op=read action=ok")
            t0 = time.monotonic()
            subprocess.run([*prog, os.path.join(fs.mountpoint, "input"), str(reads)],
                           capture_output=True, timeout=120, check=True)
            times.append(time.monotonic() - t0)
        return median(times)
    finally:
        fs.close()


def _overhead(docs: list[dict], program_s: float | None) -> dict[str, Any] | None:
    """Per faulted run of ``new``: its wall time, the program's, and the parts of the rest."""
    if not docs or program_s is None:
        return None
    per_run = median([d["fault_seconds"] / d["runs"] for d in docs if d["runs"]])
    parts = {k: median([c["timings"][k] for d in docs for c in d["cases"]])
             for k in ("prepare", "run", "collect")}
    if per_run is None or any(v is None for v in parts.values()):
        return None
    return {"per_run_s": per_run, "program_s": program_s, "overhead_s": per_run - program_s,
            "reset_and_rules_s": parts["prepare"], "spawn_group_reap_s": parts["run"] - program_s,
            "hits_s": parts["collect"],
            "engine_s": per_run - parts["prepare"] - parts["run"] - parts["collect"]}


def _jobs(r: Runner, work: Path, prog: list[str], reads: int) -> dict[str, Any]:
    """Faulted runs per second with --jobs 1 and 2, on the program that mostly waits."""
    tree = _tree(work, reads)
    samples: dict[str, list[float]] = {"1": [], "2": []}
    for rep in range(r.s.sweep_reps):
        for jobs in r.order(["1", "2"], rep):
            args = ["--config", str(tree), "--actions", "short:1", "--jobs", jobs, "--json",
                    "sweep.json", "--", *prog, "{mnt}/input", str(reads), str(WAIT_MS)]
            try:
                doc = _sweep(r, REPO, args, work)["json"]
                samples[jobs].append(doc["runs"] / doc["fault_seconds"])
            except (BenchError, OSError, subprocess.SubprocessError, ValueError, TypeError) as exc:
                r.error(f"sweep --jobs {jobs}: {exc}")
                samples[jobs].append(float("nan"))
    return {"reads": reads, "wait_ms": WAIT_MS, "samples": samples,
            "median": {k: median(v) for k, v in samples.items()},
            "ratio": paired_ratio(samples["2"], samples["1"])}


def run(r: Runner) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="sweep-", dir=r.workdir))
    prog = program(work, "reads", PROGRAM, PY_PROGRAM)
    reads = r.s.sweep_reads
    tree = _tree(work, reads)
    out: dict[str, Any] = {"program": "C" if len(prog) == 1 else "Python", "reads": reads,
                           "cpus": os.cpu_count(), "baseline": bool(r.baseline)}
    rates = _rates(r, work, prog, tree, reads)
    docs = rates.pop("docs")
    out["rates"] = rates
    try:
        program_s = _program_time(r, prog, tree, reads)
    except (BenchError, OSError, subprocess.SubprocessError, client.ControlError) as exc:
        r.error(f"sweep: the program's own time: {exc}")
        program_s = None
    out["overhead"] = _overhead(docs, program_s)
    out["jobs"] = _jobs(r, work, prog, r.s.sweep_wait_reads)
    try:
        out["crash"] = crash_points.run(r, work, lambda args: _sweep(r, REPO, args, work)["json"])
    except (BenchError, OSError, subprocess.SubprocessError, client.ControlError,
            ValueError, KeyError) as exc:
        r.error(f"sweep --crash: {exc}")
    shutil.rmtree(work, ignore_errors=True)
    return out
