"""The crash-point row of the sweep section: what ``iofs sweep --crash`` costs per crash point
beyond the program's own time and the checker's.

A C program (Python without a compiler) appends N records of 100 bytes to a file, with an
fsync after each: 2N + 1 requests that change the disk (create, N writes, N fsyncs), each
crashed at and before, so 4N + 2 crash points. CHECK is ``true``. Per crash point: the sweep's
own per-run time (its JSON: faulted seconds over runs) less the program's time (run directly
on a mount of the same tree, with the crash sweep's clean rule) and CHECK's (``/bin/sh -c true``
run directly): what the rule, the crash, the restart and the spawning of CHECK add.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from iofs.testing import client

from .common import REPO, BenchError, program
from .mounts import mount_iofs
from .runner import Runner
from .stats import median

PROGRAM = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* appends N records of 100 bytes to a file, fsyncing after each */
int main(int argc, char **argv) {
    int n = atoi(argv[2]);
    char rec[100];
    memset(rec, 'r', sizeof rec);
    int fd = open(argv[1], O_CREAT | O_WRONLY | O_APPEND, 0644);
    if (fd < 0) { perror(argv[1]); return 2; }
    for (int k = 0; k < n; k++)
        if (write(fd, rec, sizeof rec) != sizeof rec || fsync(fd) != 0) { perror("log"); return 1; }
    printf("%d\n", n);
    return 0;
}
"""
PY_PROGRAM = """import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
for _ in range(int(sys.argv[2])):
    os.write(fd, b"r" * 100)
    os.fsync(fd)
print(sys.argv[2])
"""
TREE = '[options]\ndurability = true\n\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
CHECK = "true"


def _own_times(r: Runner, prog: list[str], records: int, rounds: int) -> tuple[float, float]:
    """Medians of the program's wall time on a mount of the tree (its file removed before each
    run, the crash sweep's clean rule in place) and of CHECK's."""
    fs = mount_iofs("iofs-crash-direct", r.workdir, REPO, TREE)
    try:
        prog_t, check_t = [], []
        for _ in range(rounds):
            client.reset(fs.mountpoint)
            client.add_rule(fs.mountpoint, "op=write,fsync,create action=ok")
            t0 = time.monotonic()
            subprocess.run([*prog, f"{fs.mountpoint}/tmp/log", str(records)], capture_output=True,
                           timeout=120, check=True)
            t1 = time.monotonic()
            subprocess.run(["/bin/sh", "-c", CHECK], timeout=60, check=True)
            prog_t.append(t1 - t0)
            check_t.append(time.monotonic() - t1)
        return median(prog_t), median(check_t)
    finally:
        fs.close()


def run(r: Runner, work: Path, sweep_json: Callable[[list[str]], dict | None]) -> dict[str, Any]:
    """Per crash point: the sweep's time, the program's, CHECK's, and the overhead (seconds).
    ``sweep_json(args)`` runs this checkout's ``iofs sweep`` with ``args`` and returns its JSON."""
    prog = program(work, "log", PROGRAM, PY_PROGRAM)
    records = r.s.crash_records
    (work / "crash-tree.toml").write_text(TREE)
    per_run: list[float] = []
    for _ in range(r.s.sweep_reps):
        doc = sweep_json(["--config", str(work / "crash-tree.toml"), "--crash", "--check", CHECK,
                          "--json", "sweep.json", "--", *prog, "{mnt}/tmp/log", str(records)])
        if not doc or not doc["runs"] or doc["counts"].get("check"):
            raise BenchError(f"crash sweep: no runs, or findings: {doc and doc['counts']}")
        per_run.append(doc["fault_seconds"] / doc["runs"])
    program_s, check_s = _own_times(r, prog, records, max(r.s.sweep_reps * 3, 5))
    point = median(per_run)
    return {"records": records, "points": doc["runs"], "per_point_s": point,
            "program_s": program_s, "check_s": check_s,
            "overhead_s": point - program_s - check_s}
