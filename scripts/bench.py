#!/usr/bin/env python3
"""iofs side by side with a bare pyfuse3 filesystem and a kernel tmpfs (``scripts/bench``).

Columns:

* ``iofs``: ``iofs mount --foreground`` of the default tree (/zero, /mem0, regular files in /tmp).
* ``iofs-wb``: the same tree with ``writeback_cache = true`` (regular-file rows only): the
  kernel gathers small writes, at the price of ENOSPC surfacing at fsync/close.
* ``bare``: ``scripts/bench_bare_fs.py``, direct_io ``zero`` and ``mem`` with the same data work
  and no uio or drivers: the price of pyfuse3 itself, the baseline iofs must match.
* ``tmpfs``: a kernel tmpfs (mounted when root, else a directory in /dev/shm): the physical limit.
  Its ``zero`` is a sparse file and its ``mem`` a filled 64 MiB file.
* ``example``: pyfuse3's examples/tmpfs.py (regular files only), when found on the machine or
  fetched into ``.cache/bench`` (``pip download`` of the pyfuse3 sdist); otherwise left out.

Tests, each alternating the filesystems (A B C A B C ..., order rotated per round); the table
shows medians, and ratios are medians of the per-round ratios:

* dd, bs 4k/128k/1M, reads and writes of zero and mem (writes with conv=notrunc); throughput from
  dd's own timing, so process start-up is not counted.
* fio, ioengines sync/psync/vsync/pvsync2 at iodepth 1, bs 4k/128k/1m, ``verify=crc32c``. On
  the mem device (direct_io) one job writes and then reads back and verifies every block; on a
  regular file (iofs /tmp, tmpfs, the example: all the same size) a write job ending in fsync,
  then a read job that first drops the cached pages. fio needs ~0.2 s to start and reap each job,
  so there is one fio process per filesystem, target and round, its jobs stonewalled; its times
  have millisecond resolution (the fastest tmpfs rows are coarse).
* memory: the daemon's peak RSS (VmHWM) while streaming from /zero (4 GiB) and after filling a
  1 GiB mem device, for iofs and bare, each on a fresh mount.
* scripts/bench_uiomove.py, the core's microbenchmark, when present.

Output: markdown on stdout, ``--json FILE`` the raw numbers, ``--plot FILE.png`` a bar chart
(needs matplotlib: ``pip install -e '.[plot]'``). ``--quick`` shrinks everything to a smoke run of
well under a minute; its numbers are not the targets' numbers. Whatever is mounted is unmounted
again, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CACHE = os.path.join(REPO, ".cache", "bench")
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
MEM_SIZE = 64 * MIB  # iofs' mem0 in the default tree; the bare fs and tmpfs get the same
FS_ORDER = ["iofs", "iofs-wb", "bare", "tmpfs", "example"]
ENGINES = ["sync", "psync", "vsync", "pvsync2"]
C_ENV = dict(os.environ, LC_ALL="C", LANG="C")


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def human(n: int) -> str:
    for unit, size in (("G", GIB), ("M", MIB), ("k", KIB)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


# ---- settings ---------------------------------------------------------------------------------

@dataclass
class Settings:
    quick: bool
    reps: int                           # dd rounds
    fio_reps: int                       # fio rounds (fio needs ~0.2 s per job to start and reap)
    dd_bs: list[int]
    dd_bytes: dict[int, int]            # bytes per sample, per block size
    fio_bs: list[int]
    fio_engines: list[str]
    fio_mem_size: dict[int, int]        # bytes of the mem device per write/read job, per bs
    fio_file_size: int                  # regular file, the same for all (the example's writes are
                                        # quadratic: 32M would take it minutes)
    stream_bytes: int
    memdev_size: int
    uiomove_rounds: int

    @classmethod
    def make(cls, quick: bool, reps: int | None) -> "Settings":
        if quick:
            return cls(quick=True, reps=reps or 2, fio_reps=reps or 1, dd_bs=[4 * KIB, 128 * KIB, MIB],
                       dd_bytes={4 * KIB: 2 * MIB, 128 * KIB: 16 * MIB, MIB: 32 * MIB},
                       fio_bs=[4 * KIB, MIB], fio_engines=["psync", "vsync"],
                       fio_mem_size={4 * KIB: 2 * MIB, MIB: 8 * MIB},
                       fio_file_size=2 * MIB,
                       stream_bytes=256 * MIB, memdev_size=128 * MIB, uiomove_rounds=3)
        return cls(quick=False, reps=reps or 5, fio_reps=reps or 3, dd_bs=[4 * KIB, 128 * KIB, MIB],
                   dd_bytes={4 * KIB: 32 * MIB, 128 * KIB: 256 * MIB, MIB: 512 * MIB},
                   fio_bs=[4 * KIB, 128 * KIB, MIB], fio_engines=ENGINES,
                   fio_mem_size={4 * KIB: 16 * MIB, 128 * KIB: 64 * MIB, MIB: 64 * MIB},
                   fio_file_size=8 * MIB,
                   stream_bytes=4 * GIB, memdev_size=GIB, uiomove_rounds=25)


# ---- mounts -----------------------------------------------------------------------------------

class MountError(Exception):
    pass


@dataclass
class Mount:
    """One filesystem under test: where its zero/mem/regular files are, and its daemon if any."""
    name: str
    mountpoint: str
    paths: dict[str, str]               # "zero", "mem", "dir" (for regular files)
    proc: subprocess.Popen | None = None
    kind: str = "fuse"                  # "fuse", "tmpfs" (mounted by us), "dir" (a directory)
    log_path: str | None = None
    note: str = ""
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        try:
            if self.kind == "fuse":
                _unmount_fuse(self)
            elif self.kind == "tmpfs":
                if os.path.ismount(self.mountpoint):
                    if subprocess.run(["umount", self.mountpoint], capture_output=True).returncode:
                        subprocess.run(["umount", "-l", self.mountpoint], capture_output=True)
            elif self.kind == "dir":
                shutil.rmtree(self.mountpoint, ignore_errors=True)
        finally:
            for fn in self.cleanup:
                with contextlib.suppress(Exception):
                    fn()


def _fusermount() -> str | None:
    return shutil.which("fusermount3") or shutil.which("fusermount")


def _unmount_fuse(m: Mount) -> None:
    tool = _fusermount()
    if os.path.ismount(m.mountpoint) and tool:
        subprocess.run([tool, "-u", m.mountpoint], capture_output=True)
    if m.proc is not None:
        try:
            m.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            m.proc.terminate()
            try:
                m.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                m.proc.kill()
                m.proc.wait(timeout=5)
    if os.path.ismount(m.mountpoint):  # the daemon died or would not let go
        if tool:
            subprocess.run([tool, "-u", "-z", m.mountpoint], capture_output=True)
        if os.path.ismount(m.mountpoint) and os.geteuid() == 0:
            subprocess.run(["umount", "-l", m.mountpoint], capture_output=True)


def _start_fuse(name: str, mountpoint: str, cmd: list[str], paths: dict[str, str],
                workdir: str, timeout: float = 30) -> Mount:
    os.makedirs(mountpoint, exist_ok=True)
    log_path = os.path.join(workdir, f"{name}.log")
    logf = open(log_path, "w")
    # a session of its own: Ctrl-C reaches the bench, which unmounts in order
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            start_new_session=True, cwd="/")
    logf.close()
    m = Mount(name, mountpoint, paths, proc=proc, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = m.log_tail()
            m.close()
            raise MountError(f"{name} daemon exited with status {proc.returncode} before mounting: {tail}")
        if os.path.ismount(mountpoint):
            try:
                os.stat(paths.get("zero") or paths.get("dir") or mountpoint)
                return m
            except OSError:
                pass
        time.sleep(0.05)
    m.close()
    raise MountError(f"{name} did not mount within {timeout:.0f} s: {m.log_tail()}")


def _writeback_tree() -> str:
    """The default tree with the kernel's writeback cache for regular files (opt-in)."""
    from iofs.config import DEFAULT_TREE

    return DEFAULT_TREE.replace("[options]\n", "[options]\nwriteback_cache = true\n", 1)


WRITEBACK_TREE = _writeback_tree()


def mount_iofs(workdir: str, mp: str, config_text: str | None = None) -> Mount:
    cmd = [sys.executable, "-m", "iofs", "mount", mp, "--foreground"]
    if config_text is not None:
        cfg = os.path.join(workdir, os.path.basename(mp) + ".toml")
        with open(cfg, "w") as f:
            f.write(config_text)
        cmd += ["--config", cfg]
    paths = {"zero": f"{mp}/zero", "mem": f"{mp}/mem0", "dir": f"{mp}/tmp"}
    return _start_fuse("iofs", mp, cmd, paths, workdir)


def mount_bare(workdir: str, mp: str, mem_size: int = MEM_SIZE, stats: bool = False) -> Mount:
    cmd = [sys.executable, os.path.join(HERE, "bench_bare_fs.py"), mp, "--mem-size", str(mem_size)]
    if stats:
        cmd.append("--stats")
    return _start_fuse("bare", mp, cmd, {"zero": f"{mp}/zero", "mem": f"{mp}/mem"}, workdir)


def mount_example(workdir: str, mp: str, script: str) -> Mount:
    m = _start_fuse("example", mp, [sys.executable, script, mp], {"dir": mp}, workdir)
    m.note = os.path.relpath(script, REPO) if script.startswith(REPO) else script
    return m


def mount_tmpfs(workdir: str, mp: str, size: int) -> Mount:
    os.makedirs(mp, exist_ok=True)
    kind = "tmpfs"
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "iofs-bench", mp],
                         capture_output=True, text=True) if os.geteuid() == 0 else None
    if res is None or res.returncode != 0:
        if _fstype("/dev/shm") != "tmpfs":
            raise MountError("cannot mount a tmpfs (not root) and /dev/shm is not a tmpfs")
        mp = tempfile.mkdtemp(prefix="iofs-bench-", dir="/dev/shm")
        kind = "dir"
    m = Mount("tmpfs", mp, {"zero": f"{mp}/zero", "mem": f"{mp}/mem", "dir": f"{mp}/tmp"}, kind=kind)
    if kind == "dir":
        m.note = f"a directory in /dev/shm ({mp})"
    try:
        os.makedirs(m.paths["dir"])
        with open(m.paths["zero"], "wb") as f:
            f.truncate(size // 2)       # sparse: reads come from holes, like a zero device
        with open(m.paths["mem"], "wb") as f:
            f.write(bytes(MEM_SIZE))    # allocated, like a used mem device
    except BaseException:
        m.close()
        raise
    return m


def _fstype(path: str) -> str | None:
    best, kind = "", None
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and (path == parts[1] or path.startswith(parts[1].rstrip("/") + "/")):
                if len(parts[1]) >= len(best):
                    best, kind = parts[1], parts[2]
    return kind


def find_example(fetch: bool, timeout: float) -> tuple[str | None, str]:
    """pyfuse3's examples/tmpfs.py: from the environment, the machine, or the cache; with
    ``fetch``, download the sdist matching the installed pyfuse3 into the cache."""
    import pyfuse3
    version = pyfuse3.__version__
    candidates = [os.environ.get("IOFS_BENCH_PYFUSE3_TMPFS", ""),
                  os.path.join(CACHE, f"pyfuse3-{version}", "examples", "tmpfs.py"),
                  "/usr/share/doc/python3-pyfuse3/examples/tmpfs.py",
                  "/usr/share/doc/pyfuse3/examples/tmpfs.py"]
    for c in candidates:
        if c and os.path.isfile(c):
            return c, ""
    if not fetch:
        return None, ("pyfuse3's examples/tmpfs.py is not on this machine (the full run fetches "
                      "it into .cache/bench; --fetch-example does it with --quick)")
    os.makedirs(CACHE, exist_ok=True)
    sdist = os.path.join(CACHE, f"pyfuse3-{version}.tar.gz")
    if not os.path.exists(sdist):
        log(f"fetching the pyfuse3 {version} sdist for examples/tmpfs.py into {CACHE}")
        try:
            res = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                                  "--no-binary", "pyfuse3", f"pyfuse3=={version}", "-d", CACHE],
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"fetching the pyfuse3 {version} sdist timed out after {timeout:.0f} s"
        if res.returncode != 0 or not os.path.exists(sdist):
            last = (res.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"could not fetch the pyfuse3 {version} sdist: {last}"
    import tarfile
    member = f"pyfuse3-{version}/examples/tmpfs.py"
    with tarfile.open(sdist) as tar:
        tar.extract(member, CACHE, filter="data") if hasattr(tarfile, "data_filter") else tar.extract(member, CACHE)
    return candidates[1], ""


# ---- measurements -----------------------------------------------------------------------------

class BenchError(Exception):
    pass


DD_RE = re.compile(r"^(\d+) bytes .* copied, ([0-9.eE+-]+) s", re.M)


def run_dd(src: str, dst: str, bs: int, count: int, write: bool) -> tuple[int, float]:
    cmd = ["dd", f"if={src}", f"of={dst}", f"bs={bs}", f"count={count}"]
    if write:
        cmd.append("conv=notrunc")
    res = subprocess.run(cmd, capture_output=True, text=True, env=C_ENV, timeout=600)
    m = DD_RE.search(res.stderr)
    if res.returncode != 0 or not m:
        raise BenchError(f"{' '.join(cmd)}: {res.stderr.strip().splitlines()[-1:] or res.returncode}")
    nbytes, secs = int(m.group(1)), float(m.group(2))
    if nbytes != bs * count:
        raise BenchError(f"{' '.join(cmd)} moved {nbytes} bytes, expected {bs * count}")
    return nbytes, secs


def dd_sample(m: Mount, op: str, target: str, bs: int, total: int) -> float:
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


def fio_version() -> str | None:
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
    """{"write-ENGINE-BS"/"read-ENGINE-BS": {"mb_s": .., "bytes": .., "error": ..}} of one run."""
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


# ---- the run ----------------------------------------------------------------------------------

def median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x == x]  # drop NaN
    return statistics.median(xs) if xs else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def paired_ratio(a: list[float], b: list[float]) -> float | None:
    """Median over rounds of a[i]/b[i]: each round measures both close together in time, so a
    load that drifts during the run cancels out better than in a ratio of medians."""
    rs = [x / y for x, y in zip(a, b) if x == x and y == y and y > 0]
    return statistics.median(rs) if rs else None


def ratios_of(samples: dict[str, list[float]]) -> dict[str, float | None]:
    out = {}
    for mine, other in (("iofs", "bare"), ("iofs", "tmpfs"), ("iofs", "example"),
                        ("iofs-wb", "tmpfs"), ("iofs-wb", "example")):
        if mine in samples and other in samples:
            out[f"{mine}/{other}"] = paired_ratio(samples[mine], samples[other])
        else:
            out[f"{mine}/{other}"] = None
    return out


class Runner:
    def __init__(self, settings: Settings, workdir: str, stack: contextlib.ExitStack) -> None:
        self.s = settings
        self.workdir = workdir
        self.stack = stack
        self.mounts: dict[str, Mount] = {}
        self.fs_info: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

    def error(self, msg: str) -> None:
        log("ERROR " + msg)
        self.errors.append(msg)

    def mount_all(self, example_script: str | None, example_note: str) -> None:
        tries: list[tuple[str, Callable[[], Mount]]] = [
            ("iofs", lambda: mount_iofs(self.workdir, os.path.join(self.workdir, "iofs"))),
            ("iofs-wb", lambda: mount_iofs(self.workdir, os.path.join(self.workdir, "iofs-wb"),
                                           WRITEBACK_TREE)),
            ("bare", lambda: mount_bare(self.workdir, os.path.join(self.workdir, "bare"), stats=True)),
            ("tmpfs", lambda: mount_tmpfs(self.workdir, os.path.join(self.workdir, "tmpfs"),
                                          size=max(self.s.dd_bytes.values()) * 2 + 512 * MIB)),
        ]
        if example_script:
            tries.append(("example", lambda: mount_example(
                self.workdir, os.path.join(self.workdir, "example"), example_script)))
        else:
            self.fs_info["example"] = {"available": False, "note": example_note}
        for name, fn in tries:
            try:
                m = fn()
            except (MountError, OSError, subprocess.SubprocessError) as exc:
                self.fs_info[name] = {"available": False, "note": str(exc)}
                self.error(f"{name}: {exc}")
                continue
            self.stack.callback(m.close)
            self.mounts[name] = m
            self.fs_info[name] = {"available": True, "note": m.note, "mountpoint": m.mountpoint}
            log(f"mounted {name} at {m.mountpoint}" + (f" (pid {m.pid})" if m.pid else ""))

    def order(self, names: list[str], rep: int) -> list[str]:
        k = rep % len(names) if names else 0
        return names[k:] + names[:k]

    def usable(self, name: str) -> bool:
        m = self.mounts.get(name)
        if m is None:
            return False
        if not m.alive():
            self.error(f"{name} daemon died (status {m.proc.returncode}): {m.log_tail()}")
            m.close()
            del self.mounts[name]
            self.fs_info[name]["available"] = False
            self.fs_info[name]["note"] = "daemon died during the run"
            return False
        return True

    # -- dd --
    def run_dd(self) -> list[dict]:
        rows = []
        names = [n for n in ("iofs", "bare", "tmpfs") if n in self.mounts]
        # warm-up: fault in every store once, so no sample pays for first touches
        for n in names:
            with contextlib.suppress(BenchError):
                dd_sample(self.mounts[n], "write", "mem", MIB, MEM_SIZE)
        for op in ("read", "write"):
            for target in ("zero", "mem"):
                for bs in self.s.dd_bs:
                    total = self.s.dd_bytes[bs]
                    samples: dict[str, list[float]] = {n: [] for n in names}
                    label = f"dd {op} {target} {human(bs)}"
                    for rep in range(self.s.reps):
                        for n in self.order(names, rep):
                            if not self.usable(n):
                                continue
                            try:
                                samples[n].append(dd_sample(self.mounts[n], op, target, bs, total))
                            except (BenchError, subprocess.SubprocessError) as exc:
                                samples[n].append(float("nan"))  # keeps the rounds aligned
                                self.error(f"{label} on {n}: {exc}")
                    med = {n: median(v) for n, v in samples.items()}
                    rows.append({"test": label, "tool": "dd", "op": op, "target": target, "bs": bs,
                                 "bytes": total, "unit": "MB/s", "samples": samples,
                                 "median": med, "ratio": ratios_of(samples)})
                    log(f"{label}: " + ", ".join(f"{n} {v:.0f}" for n, v in med.items() if v))
        return rows

    # -- fio --
    def run_fio(self) -> list[dict]:
        rows: dict[tuple, dict] = {}
        s = self.s
        plans = []  # (target, fs, path, sizes)
        for n in ("iofs", "bare", "tmpfs"):
            if n in self.mounts:
                plans.append(("mem", n, self.mounts[n].paths["mem"], s.fio_mem_size))
        for n in ("iofs", "iofs-wb", "tmpfs", "example"):
            if n in self.mounts:
                size = s.fio_file_size
                plans.append(("file", n, os.path.join(self.mounts[n].paths["dir"], "fio.dat"),
                              {bs: size for bs in s.fio_bs}))
        fio_dir = os.path.join(self.workdir, "fio")
        os.makedirs(fio_dir, exist_ok=True)
        for target in ("mem", "file"):
            tplans = [p for p in plans if p[0] == target]
            names = [p[1] for p in tplans]
            for rep in range(s.fio_reps):
                for n in self.order(names, rep):
                    if not self.usable(n):
                        continue
                    _, _, path, sizes = next(p for p in tplans if p[1] == n)
                    try:
                        res = run_fio(fio_jobfile(path, sizes, s.fio_engines, s.fio_bs,
                                                  split=(target == "file")), fio_dir)
                    except (BenchError, subprocess.SubprocessError) as exc:
                        self.error(f"fio {target} on {n}: {exc}")
                        continue
                    for job, r in res.items():
                        op, eng, bs = job.split("-")
                        key = (target, eng, bs, op)
                        row = rows.setdefault(key, {
                            "test": f"fio {eng} {bs} {op}{'+verify' if op == 'read' else ''} {target}",
                            "tool": "fio", "engine": eng, "bs": _parse_human(bs), "op": op,
                            "target": target, "unit": "MB/s",
                            "size": {}, "samples": {}})
                        row["size"][n] = sizes[_parse_human(bs)]
                        row["samples"].setdefault(n, []).append(r["mb_s"])
                        if r["error"]:
                            self.error(f"fio {job} on {n} ({path}): error {r['error']}")
                for row in rows.values():  # a failed run: NaN, so rounds stay aligned
                    if row["target"] == target:
                        for n in names:
                            while len(row["samples"].setdefault(n, [])) < rep + 1:
                                row["samples"][n].append(float("nan"))
                log(f"fio {target} round {rep + 1}/{s.fio_reps} done")
        out = []
        for key in sorted(rows, key=lambda k: (k[0] != "mem", ENGINES.index(k[1]), _parse_human(k[2]), k[3] != "write")):
            row = rows[key]
            row["median"] = {n: median(v) for n, v in row["samples"].items()}
            row["ratio"] = ratios_of(row["samples"])
            out.append(row)
        return out

    # -- memory --
    def run_memory(self) -> list[dict]:
        s = self.s
        rows = []
        cfg = (f'[options]\nmax_memory = "64M"\n\n[[device]]\npath = "zero"\ndriver = "zero"\n\n'
               f'[[device]]\npath = "mem0"\ndriver = "mem"\nsize = {s.memdev_size}\n')
        cases = [
            ("iofs", "stream", lambda mp: mount_iofs(self.workdir, mp)),
            ("bare", "stream", lambda mp: mount_bare(self.workdir, mp)),
            ("iofs", "memdev", lambda mp: mount_iofs(self.workdir, mp, cfg)),
            ("bare", "memdev", lambda mp: mount_bare(self.workdir, mp, mem_size=s.memdev_size)),
        ]
        for n, test, fn in cases:
            if n not in self.fs_info or not self.fs_info[n].get("available"):
                continue
            mp = os.path.join(self.workdir, f"{n}-{test}")
            try:
                m = fn(mp)
            except (MountError, OSError) as exc:
                self.error(f"memory {test} on {n}: {exc}")
                continue
            try:
                before = read_status(m.pid)
                if test == "stream":
                    nbytes, secs = run_dd(m.paths["zero"], "/dev/null", MIB, s.stream_bytes // MIB, False)
                else:
                    nbytes, secs = run_dd("/dev/zero", m.paths["mem"], MIB, s.memdev_size // MIB, True)
                after = read_status(m.pid)
                label = (f"peak RSS streaming {human(nbytes)} from zero" if test == "stream"
                         else f"peak RSS with a {human(nbytes)} mem device filled")
                rows.append({"test": label, "kind": test, "fs": n, "bytes": nbytes,
                             "mb_s": nbytes / secs / 1e6 if secs else None,
                             "rss_before_kib": before.get("VmRSS"), "rss_after_kib": after.get("VmRSS"),
                             "peak_rss_kib": after.get("VmHWM")})
                log(f"memory {test} {n}: peak {after.get('VmHWM', 0) / 1024:.0f} MiB")
            except (BenchError, OSError, subprocess.SubprocessError) as exc:
                self.error(f"memory {test} on {n}: {exc}")
            finally:
                m.close()
        return rows

    def bare_request_sizes(self) -> dict[str, int] | None:
        """The largest requests the bare fs saw (it prints them when it unmounts)."""
        m = self.mounts.pop("bare", None)
        if m is None:
            return None
        m.close()
        try:
            with open(m.log_path) as f:
                found = re.search(r"max_read=(\d+) max_write=(\d+)", f.read())
        except OSError:
            return None
        return {"read": int(found.group(1)), "write": int(found.group(2))} if found else None


def _parse_human(text: str) -> int:
    mult = {"k": KIB, "M": MIB, "G": GIB}.get(text[-1:], 1)
    return int(text[:-1] if mult > 1 else text) * mult


def run_uiomove(rounds: int, workdir: str) -> dict | None:
    script = os.path.join(HERE, "bench_uiomove.py")
    if not os.path.exists(script):
        return None
    out = os.path.join(workdir, "uiomove.json")
    res = subprocess.run([sys.executable, script, "--rounds", str(rounds), "--json", out],
                         capture_output=True, text=True, timeout=600)
    if res.returncode != 0 or not os.path.exists(out):
        return {"error": (res.stderr.strip().splitlines() or [f"status {res.returncode}"])[-1]}
    with open(out) as f:
        return json.load(f)


# ---- targets and output -----------------------------------------------------------------------

def targets(result: dict) -> list[dict]:
    out = []

    def add(name: str, value: float | None, op: str, limit: float, applies: bool = True) -> None:
        met = None if value is None or not applies else (value >= limit if op == ">=" else
                                                         value <= limit if op == "<=" else value < limit)
        out.append({"target": name, "value": value, "op": op, "limit": limit, "met": met})

    dd = {(r["op"], r["target"], r["bs"]): r for r in result["dd"]}
    for target in ("zero", "mem"):
        for op in ("read", "write"):
            for bs in (4 * KIB, MIB):
                r = dd.get((op, target, bs))
                add(f"dd {op} {target} {human(bs)} iofs/bare", r and r["ratio"]["iofs/bare"], ">=", 0.90)
    for op, limit in (("read", 0.40), ("write", 0.30)):
        r = dd.get((op, "mem", MIB))
        add(f"dd {op} mem0 1M iofs/tmpfs", r and r["ratio"]["iofs/tmpfs"], ">=", limit)
    for mine, how in (("iofs", "write-through, the default"), ("iofs-wb", "writeback_cache = true")):
        files = [r["ratio"][f"{mine}/example"] for r in result["fio"]
                 if r["target"] == "file" and r["ratio"].get(f"{mine}/example") is not None]
        add(f"fio regular files {mine}/example, worst row ({how})", min(files) if files else None,
            ">=", 100)
    u = result.get("uiomove") or {}
    for nvec, v in (u.get("iovecs") or {}).items():
        add(f"uiomove 1 MiB over {nvec} iovecs / slice copy", v["ratio"], "<=", v["target"])
    if "request_4k_us" in u:
        add("4 KiB request path (µs)", u["request_4k_us"]["us"], "<=", u["request_4k_us"]["target"])
    full = not result["settings"]["quick"]
    for r in result["memory"]:
        if r["fs"] != "iofs":
            continue
        mib = r["peak_rss_kib"] / 1024 if r.get("peak_rss_kib") else None
        if r["kind"] == "stream":
            add(f"iofs {r['test']} (MiB)", mib, "<", 100, full)
        else:
            add(f"iofs {r['test']} (MiB)", mib, "<", 1.2 * 1024, full)
    return out


def fmt(v: float | None, digits: int | None = None) -> str:
    if v is None or v != v:
        return "–"
    if digits is not None:
        return f"{v:.{digits}f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def markdown(result: dict) -> str:
    s = result["settings"]
    fs_avail = [n for n in FS_ORDER if result["filesystems"].get(n, {}).get("available")]
    out = [f"## iofs benchmark{' (--quick: smoke sizes, not the targets)' if s['quick'] else ''}", ""]
    out.append(f"Medians of {s['reps']} (dd) and {s['fio_reps']} (fio) alternating rounds, MB/s (10^6 bytes/s); "
               "ratios are medians of the per-round ratios. "
               f"{result['host']['cpus']} CPUs, Linux {result['host']['kernel']}, Python "
               f"{result['host']['python']}, pyfuse3 {result['host']['pyfuse3']}, "
               f"{result['host'].get('fio') or 'no fio'}.")
    out.append("")
    for n in FS_ORDER:
        info = result["filesystems"].get(n)
        if info and (not info.get("available") or info.get("note")):
            out.append(f"- {n}: {'' if info.get('available') else 'left out: '}{info.get('note')}")
    rs = result.get("request_sizes")
    if rs:
        out.append(f"- largest requests seen by the bare fs: read {human(rs['read'])}, write {human(rs['write'])}")
    out.append("")

    def table(rows: list[dict], cols: list[str], ratios: list[str]) -> None:
        cols = [c for c in cols if c in fs_avail]
        ratios = [r for r in ratios if all(p in fs_avail for p in r.split("/"))]
        out.append("| test | " + " | ".join(cols + ratios) + " |")
        out.append("|---|" + "---:|" * (len(cols) + len(ratios)))
        for r in rows:
            cells = [fmt(r["median"].get(c)) for c in cols] + [fmt(r["ratio"].get(q), 2) for q in ratios]
            out.append(f"| {r['test']} | " + " | ".join(cells) + " |")
        out.append("")

    if result["dd"]:
        out += ["### dd (zero: iofs /zero, bare zero, tmpfs a sparse file; mem: iofs /mem0, bare mem, "
                "tmpfs a 64 MiB file)", ""]
        table(result["dd"], ["iofs", "bare", "tmpfs"], ["iofs/bare", "iofs/tmpfs"])
    if result["fio"]:
        mem = [r for r in result["fio"] if r["target"] == "mem"]
        files = [r for r in result["fio"] if r["target"] == "file"]
        sz = s["fio_mem_size"]
        out += [f"### fio on the mem device (write, then read back with verify=crc32c in the same job; size "
                f"{', '.join(f'{human(int(k))}: {human(v)}' for k, v in sz.items())} by bs)", ""]
        table(mem, ["iofs", "bare", "tmpfs"], ["iofs/bare", "iofs/tmpfs"])
        out += [f"### fio on a regular file (iofs /tmp; write + fsync, then a cold read with verify=crc32c; "
                f"{human(s['fio_file_size'])} files: the example's writes and reads are quadratic in "
                "the file size)", ""]
        table(files, ["iofs", "iofs-wb", "tmpfs", "example"],
              ["iofs/tmpfs", "iofs/example", "iofs-wb/example"])
    elif result.get("fio_note"):
        out += [f"fio: {result['fio_note']}", ""]
    if result["memory"]:
        out += ["### daemon memory", "", "| test | fs | MB/s | RSS before (MiB) | peak RSS (MiB) |",
                "|---|---|---:|---:|---:|"]
        for r in result["memory"]:
            out.append(f"| {r['test']} | {r['fs']} | {fmt(r['mb_s'])} | "
                       f"{fmt((r['rss_before_kib'] or 0) / 1024, 1)} | {fmt((r['peak_rss_kib'] or 0) / 1024, 1)} |")
        out.append("")
    u = result.get("uiomove")
    if u and "iovecs" in u:
        out += ["### uiomove microbenchmark (scripts/bench_uiomove.py)", "", "| measure | value | target |",
                "|---|---:|---:|"]
        for nvec, v in u["iovecs"].items():
            us = (f" ({v['uiomove_us']:.0f} / {v['slice_copy_us']:.0f} µs)"
                  if "uiomove_us" in v and "slice_copy_us" in v else "")
            out.append(f"| uiomove 1 MiB over {nvec} iovecs / one slice copy{us} | {v['ratio']:.2f}x | "
                       f"<= {v['target']}x |")
        if "request_4k_us" in u:
            r = u["request_4k_us"]
            out.append(f"| 4 KiB request path | {r['us']:.2f} µs | <= {r['target']} µs |")
        out.append("")
    elif u and "error" in u:
        out += [f"uiomove microbenchmark failed: {u['error']}", ""]
    out += ["### targets", "", "| target | value | limit | met |", "|---|---:|---:|---|"]
    for t in result["targets"]:
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        out.append(f"| {t['target']} | {fmt(t['value'], 2)} | {t['op']} {t['limit']} | {met} |")
    if s["quick"]:
        out.append("")
        out.append("(--quick: memory targets are not judged at smoke sizes)")
    if result["errors"]:
        out += ["", "### errors", ""] + [f"- {e}" for e in result["errors"]]
    return "\n".join(out) + "\n"


def plot(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["dd"] + result["fio"]
    names = [n for n in FS_ORDER if any(r["median"].get(n) for r in rows)]
    fig, ax = plt.subplots(figsize=(max(10, 0.35 * len(rows)), 6))
    width = 0.8 / max(1, len(names))
    for i, n in enumerate(names):
        xs = [k + i * width for k in range(len(rows))]
        ax.bar(xs, [r["median"].get(n) or 0 for r in rows], width, label=n)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(rows))])
    ax.set_xticklabels([r["test"] for r in rows], rotation=90, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("MB/s (median)")
    ax.set_title("iofs vs bare pyfuse3 vs tmpfs" + (" (--quick)" if result["settings"]["quick"] else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes, well under a minute")
    ap.add_argument("--reps", type=int, help="rounds per test (default: dd 5, fio 3; --quick: 2, 1)")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers as JSON")
    ap.add_argument("--plot", metavar="FILE.png", help="a bar chart (needs matplotlib)")
    ap.add_argument("--only", action="append", choices=["dd", "fio", "memory", "uiomove"],
                    help="run only these parts (repeatable)")
    ap.add_argument("--no-example", action="store_true", help="leave pyfuse3's example tmpfs out")
    ap.add_argument("--fetch-example", action="store_true",
                    help="fetch pyfuse3's example tmpfs even with --quick")
    args = ap.parse_args(argv)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("bench: --plot needs matplotlib (pip install -e '.[plot]')", file=sys.stderr)
            return 2
    for tool in ("dd",):
        if not shutil.which(tool):
            print(f"bench: {tool} is missing", file=sys.stderr)
            return 2
    parts = set(args.only or ["dd", "fio", "memory", "uiomove"])
    s = Settings.make(args.quick, args.reps)
    t0 = time.monotonic()

    import pyfuse3
    fio = fio_version()
    result: dict[str, Any] = {
        "version": 1,
        "settings": {"quick": s.quick, "reps": s.reps, "fio_reps": s.fio_reps, "dd_bytes": {str(k): v for k, v in s.dd_bytes.items()},
                     "fio_engines": s.fio_engines, "fio_bs": s.fio_bs,
                     "fio_mem_size": {str(k): v for k, v in s.fio_mem_size.items()},
                     "fio_file_size": s.fio_file_size,
                     "stream_bytes": s.stream_bytes, "memdev_size": s.memdev_size},
        "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version(),
                 "pyfuse3": pyfuse3.__version__, "fio": fio},
        "filesystems": {}, "request_sizes": None, "dd": [], "fio": [], "memory": [], "uiomove": None,
        "targets": [], "errors": [],
    }

    def on_term(signum, frame):
        raise KeyboardInterrupt
    old_term = signal.signal(signal.SIGTERM, on_term)

    workdir = tempfile.mkdtemp(prefix="iofs-bench-")
    status = 0
    try:
        with contextlib.ExitStack() as stack:
            runner = Runner(s, workdir, stack)
            if "uiomove" in parts:  # first: a microbenchmark wants the quiet machine it finds
                result["uiomove"] = run_uiomove(s.uiomove_rounds, workdir)
            if parts & {"dd", "fio"}:
                script, note = (None, "left out (--no-example)") if args.no_example else \
                    find_example(fetch=(not s.quick or args.fetch_example) and "fio" in parts,
                                 timeout=30 if s.quick else 60)
                runner.mount_all(script, note)
                if "dd" in parts:
                    result["dd"] = runner.run_dd()
                if "fio" in parts:
                    if fio:
                        result["fio"] = runner.run_fio()
                    else:
                        result["fio_note"] = "fio is not installed (Debian package fio): left out"
                        runner.error(result["fio_note"])
                result["request_sizes"] = runner.bare_request_sizes()
                stack.close()  # unmount before the memory runs
            if "memory" in parts:
                if not runner.fs_info:
                    runner.fs_info = {"iofs": {"available": True}, "bare": {"available": True}}
                result["memory"] = runner.run_memory()
            result["filesystems"] = runner.fs_info
            result["errors"] = runner.errors
    except KeyboardInterrupt:
        log("interrupted; everything is unmounted")
        return 130
    finally:
        signal.signal(signal.SIGTERM, old_term)
        left = _mounted_under(workdir)
        if left:  # never delete through a mount
            log(f"still mounted, left in place: {', '.join(left)}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["targets"] = targets(result)
    result["seconds"] = round(time.monotonic() - t0, 1)
    sys.stdout.write(markdown(result))
    log(f"finished in {result['seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(_no_nan(result), f, indent=2, allow_nan=False)
    if args.plot:
        plot(result, args.plot)
    return status


def _no_nan(o: Any) -> Any:
    """NaN (a failed sample) becomes null: JSON has no NaN."""
    if isinstance(o, float) and o != o:
        return None
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_no_nan(v) for v in o]
    return o


def _mounted_under(path: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].encode().decode("unicode_escape") for line in f if len(line.split()) > 1]
    return [p for p in points if p == path or p.startswith(path.rstrip("/") + "/")]


if __name__ == "__main__":
    sys.exit(main())
