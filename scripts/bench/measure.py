"""Running the measuring tools (dd, fio), reading a daemon's memory, and placing processes on
CPUs. Throughput is always the tool's own timing, so process start-up is never counted."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess

from .common import C_ENV, MEM_SIZE, BenchError, human
from .mounts import Fs

DD_RE = re.compile(r"^(\d+) bytes .* copied, ([0-9.eE+-]+) s", re.M)


def run_dd(src: str, dst: str, bs: int, count: int, write: bool,
           conv: tuple[str, ...] = ()) -> tuple[int, float]:
    """(bytes, seconds) of one dd. ``write``: conv=notrunc (overwrite in place); ``conv``:
    more (fsync: dd's time then includes the fsync before it closes). BenchError unless dd
    moved exactly ``bs * count`` bytes."""
    cmd = ["dd", f"if={src}", f"of={dst}", f"bs={bs}", f"count={count}"]
    convs = (("notrunc",) if write else ()) + tuple(conv)
    if convs:
        cmd.append("conv=" + ",".join(convs))
    res = subprocess.run(cmd, capture_output=True, text=True, env=C_ENV, timeout=600)
    m = DD_RE.search(res.stderr)
    if res.returncode != 0 or not m:
        raise BenchError(f"{' '.join(cmd)}: {res.stderr.strip().splitlines()[-1:] or res.returncode}")
    nbytes, secs = int(m.group(1)), float(m.group(2))
    if nbytes != bs * count:
        raise BenchError(f"{' '.join(cmd)} moved {nbytes} bytes, expected {bs * count}")
    return nbytes, secs


def dd_sample(m: Fs, op: str, target: str, bs: int, total: int) -> float:
    """MB/s of moving ``total`` bytes; mem targets are covered in passes of the device size."""
    path = m.paths[target]
    limit = MEM_SIZE if target == "mem" else total
    moved, secs = 0, 0.0
    while moved < total:
        n = min(total - moved, limit)
        if op == "read":
            b, s = run_dd(path, "/dev/null", bs, n // bs, write=False)
        else:
            b, s = run_dd("/dev/zero", path, bs, n // bs, write=True)
        moved, secs = moved + b, secs + s
    return moved / secs / 1e6 if secs > 0 else float("nan")


def dd_file_mb_s(path: str, bs: int, total: int, write: bool = False,
                 conv: tuple[str, ...] = ()) -> float:
    """MB/s of one dd of ``total`` bytes from /dev/zero into ``path``."""
    nbytes, secs = run_dd("/dev/zero", path, bs, total // bs, write=write, conv=conv)
    return nbytes / secs / 1e6 if secs > 0 else float("nan")


def fio_version() -> str | None:
    """``fio-3.33``, or None when fio is not installed."""
    if not shutil.which("fio"):
        return None
    res = subprocess.run(["fio", "--version"], capture_output=True, text=True)
    return res.stdout.strip() or None


def fio_jobfile(path: str, sizes: dict[int, int], engines: list[str], bss: list[int],
                split: bool) -> str:
    """Jobs run one after the other (stonewall). ``split=False`` (the direct_io mem device): one
    job per engine and bs writes the file and then reads every block back and verifies it; fio
    reports both halves. ``split=True`` (regular files, which have a page cache): a write job that
    ends with fsync (counted in its time: writeback caches must reach the daemon), then a read
    job, which starts by dropping the file's cached pages (fio's invalidate=1), and verifies."""
    lines = ["[global]", f"filename={path}", "direct=0", "iodepth=1", "fallocate=none",
             "verify=crc32c", "verify_state_save=0", "verify_fatal=1", "invalidate=1", ""]
    for eng in engines:
        for bs in bss:
            tag = f"{eng}-{human(bs)}"
            common = [f"ioengine={eng}", f"bs={bs}", f"size={sizes[bs]}", "stonewall"]
            if split:
                lines += [f"[write-{tag}]", "rw=write", "do_verify=0", "end_fsync=1", *common, ""]
                lines += [f"[read-{tag}]", "rw=read", *common, ""]
            else:
                lines += [f"[both-{tag}]", "rw=write", "do_verify=1", *common, ""]
    return "\n".join(lines)


def run_fio(jobfile: str, workdir: str) -> dict[str, dict[str, float]]:
    """{"write-ENGINE-BS"/"read-ENGINE-BS": {"mb_s": .., "bytes": .., "error": ..}} of one run
    (fio runs in ``workdir``: its state files land there)."""
    jf = os.path.join(workdir, "job.fio")
    with open(jf, "w") as f:
        f.write(jobfile)
    res = subprocess.run(["fio", "--output-format=json", jf], capture_output=True, text=True,
                         cwd=workdir, timeout=1800)
    out = res.stdout
    start = out.find("{")
    try:
        data = json.loads(out[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        data = None
    if data is None:
        raise BenchError(f"fio failed (status {res.returncode}): "
                         f"{(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    results = {}
    for job in data.get("jobs", []):
        kind, _, tag = job["jobname"].partition("-")
        for op in (("write", "read") if kind == "both" else (kind,)):
            d = job[op]
            ms = d.get("runtime", 0)
            ok = job.get("error", 0) == 0 and d.get("io_bytes", 0) > 0 and ms > 0
            results[f"{op}-{tag}"] = {
                "mb_s": d["io_bytes"] / (ms / 1000) / 1e6 if ok else float("nan"),
                "bytes": d.get("io_bytes", 0),
                "error": job.get("error", 0),
            }
    return results


def read_status(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM in KiB from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def set_affinity(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` on ``cpus`` (threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(tid), cpus)


def pick_cpu() -> int | None:
    """The CPU the pinned sections use: the last one this process may run on (None: only one)."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1] if len(cpus) > 1 else None


def reader_affinity() -> None:
    """(A preexec_fn.) The trace reader runs beside the pinned CPU, not on it (it would take
    turns with dd)."""
    allowed = set(range(os.cpu_count() or 1))
    rest = allowed - os.sched_getaffinity(0)
    if rest:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, rest)
