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
* the fault and trace hook: dd of zero and mem0 at 4k and 1M on bare, iofs as mounted by default
  (trace recording on, no rules), iofs with ``trace = false``, iofs with N rules added through
  ``.iofs/faults`` that match nothing (``path=nomatch-K``), and the default mount with a trace
  reader attached (``cat MNT/.iofs/trace > /dev/null``, started and caught up before each dd,
  stopped after). Per request: a non-matching rule's cost (rules minus default, over N), the
  trace recording's (default minus trace = false) and the reader's.
* durability: dd writes of a new regular file (1M, 128k, 4k, conv=fsync) and a rewrite in place
  (1M, no fsync, after an fsync) with ``durability`` off and on; and on fresh daemons, their RSS
  growth appending a file and then rewriting it in place (extra memory vs the bytes rewritten).
* xattr: dd 4k writes of a new regular file with ``xattr`` true (the default: the kernel asks
  getxattr("security.capability") before each write(2)) and false, write-through and with
  ``writeback_cache``; the getxattr requests per write(2), counted in the trace.

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
PARTS = ["dd", "fio", "hook", "durability", "xattr", "memory", "uiomove"]
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
    hook_rules: int = 10                # non-matching rules of the hook's "rules" column
    dur_bytes: dict[int, int] = field(default_factory=dict)  # sequential writes, per bs
    dur_rewrite_bytes: int = 0          # rewrite in place, throughput
    dur_mem_bytes: int = 0              # append, then rewrite in place: daemon RSS
    xattr_bytes: dict[str, int] = field(default_factory=dict)  # 4 KiB writes, per mode

    @classmethod
    def make(cls, quick: bool, reps: int | None) -> "Settings":
        if quick:
            return cls(quick=True, reps=reps or 2, fio_reps=reps or 1, dd_bs=[4 * KIB, 128 * KIB, MIB],
                       dd_bytes={4 * KIB: 2 * MIB, 128 * KIB: 16 * MIB, MIB: 32 * MIB},
                       fio_bs=[4 * KIB, MIB], fio_engines=["psync", "vsync"],
                       fio_mem_size={4 * KIB: 2 * MIB, MIB: 8 * MIB},
                       fio_file_size=2 * MIB,
                       stream_bytes=256 * MIB, memdev_size=128 * MIB, uiomove_rounds=3,
                       dur_bytes={MIB: 16 * MIB, 128 * KIB: 16 * MIB, 4 * KIB: 2 * MIB},
                       dur_rewrite_bytes=16 * MIB, dur_mem_bytes=16 * MIB,
                       xattr_bytes={"write-through": 2 * MIB, "writeback": 8 * MIB})
        return cls(quick=False, reps=reps or 5, fio_reps=reps or 3, dd_bs=[4 * KIB, 128 * KIB, MIB],
                   dd_bytes={4 * KIB: 32 * MIB, 128 * KIB: 256 * MIB, MIB: 512 * MIB},
                   fio_bs=[4 * KIB, 128 * KIB, MIB], fio_engines=ENGINES,
                   fio_mem_size={4 * KIB: 16 * MIB, 128 * KIB: 64 * MIB, MIB: 64 * MIB},
                   fio_file_size=8 * MIB,
                   stream_bytes=4 * GIB, memdev_size=GIB, uiomove_rounds=25,
                   dur_bytes={MIB: 128 * MIB, 128 * KIB: 128 * MIB, 4 * KIB: 16 * MIB},
                   dur_rewrite_bytes=128 * MIB, dur_mem_bytes=128 * MIB,
                   xattr_bytes={"write-through": 16 * MIB, "writeback": 64 * MIB})


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
    from iofs.vfs.config import DEFAULT_TREE

    return DEFAULT_TREE.replace("[options]\n", "[options]\nwriteback_cache = true\n", 1)


WRITEBACK_TREE = _writeback_tree()


def tree_with(**options: Any) -> str:
    """The default tree with these ``[options]`` added (true/false, numbers, strings)."""
    from iofs.vfs.config import DEFAULT_TREE

    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
    return DEFAULT_TREE.replace("[options]\n", "[options]\n" + lines, 1)


def mount_iofs(workdir: str, mp: str, config_text: str | None = None) -> Mount:
    cmd = [sys.executable, "-m", "iofs", "mount", mp, "--foreground"]
    if config_text is not None:
        cfg = os.path.join(workdir, os.path.basename(mp) + ".toml")
        with open(cfg, "w") as f:
            f.write(config_text)
        cmd += ["--config", cfg]
    paths = {"zero": f"{mp}/zero", "mem": f"{mp}/mem0", "dir": f"{mp}/tmp"}
    return _start_fuse(os.path.basename(mp), mp, cmd, paths, workdir)  # its own log file


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


def run_dd(src: str, dst: str, bs: int, count: int, write: bool,
           conv: tuple[str, ...] = ()) -> tuple[int, float]:
    """``write``: conv=notrunc (overwrite in place); ``conv``: more (fsync: dd's time then
    includes the fsync before it closes)."""
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


# ---- the hook, durability and xattr sections: helpers --------------------------------------------

NAN = float("nan")
HOOK_RULE = "path=nomatch-{k} op=read,write action=eio"  # matches no node of the tree
# column -> the mount it runs on; "iofs-reader" is the default mount with a trace reader attached
HOOK_MOUNTS = {"bare": "bare", "iofs": "iofs-hook", "iofs-notrace": "iofs-notrace",
               "iofs-rules": "iofs-rules", "iofs-reader": "iofs-hook"}
HOOK_COLUMNS = {
    "bare": "scripts/bench_bare_fs.py",
    "iofs": "iofs as mounted by default: trace recording on, no rules, no reader",
    "iofs-notrace": "iofs with [options] trace = false",
    "iofs-rules": "iofs with N rules added through .iofs/faults that match no request",
    "iofs-reader": "the default iofs mount while `cat MNT/.iofs/trace > /dev/null` follows the trace",
}
HOOK_RATIOS = [("iofs", "bare"), ("iofs-notrace", "bare"), ("iofs-rules", "bare"),
               ("iofs-reader", "bare"), ("iofs-reader", "iofs")]


def set_affinity(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` on ``cpus`` (threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(tid), cpus)


def pick_cpu() -> int | None:
    """The CPU the pinned sections use: the last one this process may run on (None: only one)."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1] if len(cpus) > 1 else None


def _reader_affinity() -> None:
    """The trace reader runs beside the pinned CPU, not on it (it would take turns with dd)."""
    allowed = set(range(os.cpu_count() or 1))
    mine = os.sched_getaffinity(0)
    rest = allowed - mine
    if rest:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, rest)


def paired(a: list[float], b: list[float], fn: Callable[[float, float], float]) -> float | None:
    """Median over rounds of fn(a[i], b[i]) (rounds where both are there)."""
    vs = [fn(x, y) for x, y in zip(a, b) if x == x and y == y and x > 0 and y > 0]
    return statistics.median(vs) if vs else None


def read_file(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def add_rules(m: Mount, lines: list[str]) -> list[int]:
    """Add fault rules through the control file, in one write (all or nothing); their ids."""
    fd = os.open(os.path.join(m.mountpoint, ".iofs", "faults"), os.O_RDWR)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode())
        reply = os.read(fd, 1 << 16).decode()
    finally:
        os.close(fd)
    ids = [int(x) for x in reply.split()]
    if len(ids) != len(lines):
        raise BenchError(f"{len(lines)} rules written, the reply was {reply!r}")
    return ids


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unsynced_bytes(m: Mount) -> int:
    """What the mount's ``.iofs/unsynced`` says: bytes a crash would change, summed."""
    text = read_file(os.path.join(m.mountpoint, ".iofs", "unsynced"))
    return sum(int(line.split()[0]) for line in text.splitlines() if line.strip())


def _read_trace_nonblock(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def getxattr_per_write(m: Mount, blocks: int = 64) -> float:
    """getxattr requests the daemon saw per write(2) of ``blocks`` 4 KiB writes to a new file
    (counted in the trace: read to its end before, and what came during, after)."""
    name = "xattr-probe.dat"
    path = os.path.join(m.paths["dir"], name)
    fd = os.open(os.path.join(m.mountpoint, ".iofs", "trace"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        _read_trace_nonblock(fd)
        run_dd("/dev/zero", path, 4 * KIB, blocks, write=False)
        events = [json.loads(line) for line in _read_trace_nonblock(fd).splitlines() if line.strip()]
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
    rel = os.path.relpath(path, m.mountpoint)
    if not any(e.get("path") == rel for e in events):
        raise BenchError(f"the trace shows no request on {rel}")
    return sum(1 for e in events if e.get("op") == "getxattr" and e.get("path") == rel) / blocks


class TraceFollower:
    """``cat MNT/.iofs/trace > /dev/null`` around a sample: started, given the time to read
    what the ring already holds (until its read count has stood still for ``settle`` s: it
    sleeps in a read at the end of the ring), then stopped."""

    def __init__(self, mountpoint: str, settle: float = 0.1, timeout: float = 30) -> None:
        self.path = os.path.join(mountpoint, ".iofs", "trace")
        self.real = os.path.realpath(self.path)  # as /proc/PID/fd shows it
        self.settle, self.timeout = settle, timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "TraceFollower":
        self.proc = subprocess.Popen(["cat", self.path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_reader_affinity)
        try:
            self._caught_up()
        except BaseException:
            self._stop()
            raise
        return self

    def _rchar(self) -> int | None:
        try:
            with open(f"/proc/{self.proc.pid}/io") as f:
                for line in f:
                    if line.startswith("rchar:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def _opened(self) -> bool:
        fds = f"/proc/{self.proc.pid}/fd"
        try:
            return any(os.readlink(os.path.join(fds, fd)) == self.real for fd in os.listdir(fds))
        except OSError:
            return False

    def _caught_up(self) -> None:
        deadline = time.monotonic() + self.timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the trace reader (cat {self.path}) exited with status "
                                 f"{self.proc.returncode}")
            now = time.monotonic()
            if not self._opened():
                since = now
            else:
                r = self._rchar()
                if r is None:  # /proc/PID/io unreadable: give it time instead
                    time.sleep(1.0)
                    return
                if r != last:
                    last, since = r, now
                elif now - since >= self.settle:
                    return
            time.sleep(0.01)
        raise BenchError(f"the trace reader did not catch up within {self.timeout:.0f} s")

    def _stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        died = self.proc is not None and self.proc.poll() is not None
        self._stop()
        if died and et is None:
            raise BenchError(f"the trace reader exited during the sample (status {self.proc.returncode})")
        return False


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
        self.pin: int | None = None  # the CPU of the hook/durability/xattr sections (None: off)

    @contextlib.contextmanager
    def pinned(self, *running: str):
        """The section on one CPU: this process (so the dd it starts and the daemons it mounts
        inherit it) and the already running daemons ``running``; put back after. On a 2-core
        VM, whether dd and the daemon happen to share a core moves 4 KiB dd by 2-3x, far more
        than the costs measured here; pinned, the rounds agree within a few per cent."""
        cpu = self.pin
        if cpu is None:
            yield
            return
        mine = os.sched_getaffinity(0)
        others = {n: (self.mounts[n].pid, os.sched_getaffinity(self.mounts[n].pid))
                  for n in running if n in self.mounts and self.mounts[n].pid}
        try:
            os.sched_setaffinity(0, {cpu})
            for pid, _ in others.values():
                set_affinity(pid, {cpu})
            yield
        finally:
            os.sched_setaffinity(0, mine)
            for pid, cpus in others.values():
                with contextlib.suppress(OSError):
                    set_affinity(pid, cpus)

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

    # -- helpers of the hook, durability and xattr sections --
    def mount_extra(self, name: str, config_text: str | None) -> Mount | None:
        """A fresh iofs mount of a section (unmounted at its end, and on any failure)."""
        try:
            m = mount_iofs(self.workdir, os.path.join(self.workdir, name), config_text)
        except (MountError, OSError, subprocess.SubprocessError) as exc:
            self.fs_info[name] = {"available": False, "note": str(exc)}
            self.error(f"{name}: {exc}")
            return None
        self.stack.callback(m.close)
        self.mounts[name] = m
        self.fs_info[name] = {"available": True, "note": m.note, "mountpoint": m.mountpoint}
        log(f"mounted {name} at {m.mountpoint} (pid {m.pid})")
        return m

    def unmount(self, *names: str) -> None:
        for n in names:
            m = self.mounts.pop(n, None)
            if m is not None:
                m.close()

    def alternate(self, label: str, cols: dict[str, str], sample: Callable[[str], float],
                  reps: int | None = None) -> dict[str, list[float]]:
        """``cols``: column -> the mount it runs on. Rounds alternate the columns (the order
        rotated per round); a failed sample is NaN, so the rounds stay aligned."""
        names = list(cols)
        samples: dict[str, list[float]] = {n: [] for n in names}
        for rep in range(reps or self.s.reps):
            for n in self.order(names, rep):
                if not self.usable(cols[n]):
                    samples[n].append(NAN)
                    continue
                try:
                    samples[n].append(sample(n))
                except (BenchError, OSError, subprocess.SubprocessError) as exc:
                    samples[n].append(NAN)
                    self.error(f"{label} on {n}: {exc}")
        return samples

    # -- the fault and trace hook --
    def run_hook(self) -> dict:
        """dd of zero and mem0, 4 KiB and 1 MiB: bare, iofs as it mounts by default (trace
        recording on, no rules), with ``trace = false``, with N rules that match nothing, and
        with a trace reader attached (the default mount, ``cat .iofs/trace`` running)."""
        s = self.s
        n_rules = s.hook_rules
        out: dict[str, Any] = {"rules": n_rules, "rule": HOOK_RULE, "columns": HOOK_COLUMNS, "rows": []}
        if "bare" not in self.mounts:
            self.error("hook: the bare fs is not mounted")
        out["pinned_cpu"] = self.pin
        with self.pinned("bare"):
            self._run_hook(out, n_rules)
        return out

    def _run_hook(self, out: dict[str, Any], n_rules: int) -> None:
        self.mount_extra("iofs-hook", None)
        self.mount_extra("iofs-notrace", tree_with(trace=False))
        rules_m = self.mount_extra("iofs-rules", None)
        try:
            if rules_m is not None:
                try:
                    add_rules(rules_m, [HOOK_RULE.format(k=k) for k in range(n_rules)])
                except (BenchError, OSError) as exc:
                    self.error(f"hook: adding {n_rules} rules: {exc}")
                    self.unmount("iofs-rules")
            cols = {c: mnt for c, mnt in HOOK_MOUNTS.items() if mnt in self.mounts}
            for mnt in set(cols.values()):  # fault in every store once
                with contextlib.suppress(BenchError):
                    dd_sample(self.mounts[mnt], "write", "mem", MIB, MEM_SIZE)
            for op in ("read", "write"):
                for target in ("zero", "mem"):
                    for bs in (4 * KIB, MIB):
                        out["rows"].append(self._hook_row(cols, op, target, bs, n_rules))
            # one cost over all 4 KiB rows: the median of every row's per-round costs (a 4 KiB
            # request takes 30-60 µs, so one row's rounds alone leave the per-rule cost ±0.3 µs)
            small = [r for r in out["rows"] if r["bs"] == 4 * KIB]
            for key, a, b, per in (("rule_us", "iofs-rules", "iofs", n_rules),
                                   ("trace_us", "iofs", "iofs-notrace", 1),
                                   ("reader_us", "iofs-reader", "iofs", 1)):
                vs = [(r["bs"] / x - r["bs"] / y) / per for r in small
                      for x, y in zip(r["samples"].get(a, []), r["samples"].get(b, []))
                      if x == x and y == y and x > 0 and y > 0]
                out[f"{key}_4k"] = statistics.median(vs) if vs else None
            if rules_m is not None and "iofs-rules" in self.mounts:
                listing = read_file(os.path.join(rules_m.mountpoint, ".iofs", "faults"))
                hits = [int(h) for h in re.findall(r"\bhits=(\d+)", listing)]
                out["rule_hits"] = sum(hits)
                if len(hits) != n_rules or any(hits):
                    self.error(f"hook: the rules that should match nothing: {listing.strip()!r}")
        finally:
            self.unmount("iofs-hook", "iofs-notrace", "iofs-rules")

    def _hook_row(self, cols: dict[str, str], op: str, target: str, bs: int, n_rules: int) -> dict:
        total = self.s.dd_bytes[bs]
        label = f"dd {op} {target} {human(bs)}"

        def sample(col: str) -> float:
            m = self.mounts[cols[col]]
            if col == "iofs-reader":
                with TraceFollower(m.mountpoint):
                    return dd_sample(m, op, target, bs, total)
            return dd_sample(m, op, target, bs, total)

        samples = self.alternate(f"hook {label}", cols, sample)
        med = {n: median(v) for n, v in samples.items()}
        ratios = {f"{a}/{b}": paired_ratio(samples[a], samples[b]) if a in samples and b in samples
                  else None for a, b in HOOK_RATIOS}
        got = lambda c: samples.get(c, [])  # noqa: E731
        costs = {  # µs per request; a difference of two noisy times, so it may come out < 0
            "request_us": {n: bs / v if v else None for n, v in med.items()},
            "rule_us": paired(got("iofs-rules"), got("iofs"), lambda r, d: (bs / r - bs / d) / n_rules),
            "trace_us": paired(got("iofs"), got("iofs-notrace"), lambda d, t: bs / d - bs / t),
            "reader_us": paired(got("iofs-reader"), got("iofs"), lambda r, d: bs / r - bs / d),
        }
        log(f"hook {label}: " + ", ".join(f"{n} {v:.0f}" for n, v in med.items() if v)
            + (f"; rule {costs['rule_us']:.2f} µs" if costs["rule_us"] is not None else ""))
        return {"test": label, "tool": "dd", "op": op, "target": target, "bs": bs, "bytes": total,
                "unit": "MB/s", "samples": samples, "median": med, "ratio": ratios, **costs}

    # -- durability --
    def run_durability(self) -> dict:
        """Sequential writes to a new regular file (then fsync), and a rewrite in place without
        fsync, with ``durability`` off and on; the daemons' RSS as a file is appended to and
        then rewritten (fresh daemons, measured first)."""
        with self.pinned():
            out = self._run_durability()
        out["pinned_cpu"] = self.pin
        return out

    def _run_durability(self) -> dict:
        cols = {"off": "iofs-dur-off", "on": "iofs-dur"}
        self.mount_extra("iofs-dur-off", None)
        self.mount_extra("iofs-dur", tree_with(durability=True))
        out: dict[str, Any] = {"rows": [], "memory": [], "extra": None}
        try:
            cols = {c: mnt for c, mnt in cols.items() if mnt in self.mounts}
            for c, mnt in cols.items():
                try:
                    out["memory"].append(self._durability_memory(c, self.mounts[mnt]))
                except (BenchError, OSError, subprocess.SubprocessError) as exc:
                    self.error(f"durability memory on {mnt}: {exc}")
            mem = {r["durability"]: r for r in out["memory"]}
            if "on" in mem and "off" in mem:
                S = mem["on"]["bytes"]
                extra = {k: (mem["on"][f"{k}_growth_kib"] - mem["off"][f"{k}_growth_kib"]) * KIB
                         for k in ("append", "rewrite")}
                out["extra"] = {
                    "bytes": S,
                    "append_extra_bytes": extra["append"],
                    "rewrite_extra_bytes": extra["rewrite"],
                    "rewrite_extra_per_byte": extra["rewrite"] / S,
                    "unsynced_after_rewrite": mem["on"]["unsynced_after_rewrite"],
                    # the issue's bound: the unsynced bytes plus the blocks they replaced
                    "bound_bytes": mem["on"]["unsynced_after_rewrite"] + S,
                }
            for bs in (MIB, 128 * KIB, 4 * KIB):
                out["rows"].append(self._durability_row(cols, bs))
            out["rows"].append(self._durability_rewrite_row(cols))
        finally:
            self.unmount(*cols.values())
        return out

    def _durability_memory(self, col: str, m: Mount) -> dict:
        S = self.s.dur_mem_bytes
        path = os.path.join(m.paths["dir"], "rss.dat")
        rss = [read_status(m.pid)["VmRSS"]]
        run_dd("/dev/zero", path, MIB, S // MIB, write=False)  # append S bytes, no fsync
        rss.append(read_status(m.pid)["VmRSS"])
        unsynced_append = unsynced_bytes(m) if col == "on" else 0
        fsync_path(path)
        rss.append(read_status(m.pid)["VmRSS"])
        run_dd("/dev/zero", path, MIB, S // MIB, write=True)  # rewrite in place, no fsync
        rss.append(read_status(m.pid)["VmRSS"])
        unsynced_rewrite = unsynced_bytes(m) if col == "on" else 0
        fsync_path(path)
        rss.append(read_status(m.pid)["VmRSS"])
        os.unlink(path)
        row = {"durability": col, "fs": os.path.basename(m.mountpoint), "bytes": S,
               "rss_kib": rss, "append_growth_kib": rss[1] - rss[0],
               "rewrite_growth_kib": rss[3] - rss[2],
               "unsynced_after_append": unsynced_append, "unsynced_after_rewrite": unsynced_rewrite}
        log(f"durability {col}: RSS +{row['append_growth_kib'] / 1024:.1f} MiB appending "
            f"{human(S)}, +{row['rewrite_growth_kib'] / 1024:.1f} MiB rewriting it")
        return row

    def _durability_row(self, cols: dict[str, str], bs: int) -> dict:
        total = self.s.dur_bytes[bs]
        label = f"dd write {human(bs)}, new file, conv=fsync"

        def sample(col: str) -> float:
            path = os.path.join(self.mounts[cols[col]].paths["dir"], "seq.dat")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            nbytes, secs = run_dd("/dev/zero", path, bs, total // bs, write=False, conv=("fsync",))
            return nbytes / secs / 1e6 if secs > 0 else NAN

        self._warm_up(cols, sample)
        samples = self.alternate(f"durability {label}", cols, sample)
        for mnt in cols.values():
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.mounts[mnt].paths["dir"], "seq.dat"))
        return self._pair_row(label, "write", bs, total, samples, "on/off", ("on", "off"))

    def _durability_rewrite_row(self, cols: dict[str, str]) -> dict:
        total = self.s.dur_rewrite_bytes
        label = f"dd rewrite {human(total)} in place, 1M, no fsync"
        for mnt in list(cols.values()):
            path = os.path.join(self.mounts[mnt].paths["dir"], "rewrite.dat")
            try:
                run_dd("/dev/zero", path, MIB, total // MIB, write=False, conv=("fsync",))
            except (BenchError, subprocess.SubprocessError) as exc:
                self.error(f"durability rewrite setup on {mnt}: {exc}")

        def sample(col: str) -> float:
            path = os.path.join(self.mounts[cols[col]].paths["dir"], "rewrite.dat")
            fsync_path(path)  # durable again: the journal starts empty
            nbytes, secs = run_dd("/dev/zero", path, MIB, total // MIB, write=True)
            return nbytes / secs / 1e6 if secs > 0 else NAN

        self._warm_up(cols, sample)
        samples = self.alternate(f"durability {label}", cols, sample)
        return self._pair_row(label, "rewrite", MIB, total, samples, "on/off", ("on", "off"))

    def _warm_up(self, cols: dict[str, str], sample: Callable[[str], float]) -> None:
        """One untimed sample per column: the first after the RSS runs freed hundreds of MiB
        (the allocator gives pages back and takes them again) ran at 0.3-0.6 of the rest."""
        for c, mnt in cols.items():
            if self.usable(mnt):
                with contextlib.suppress(BenchError, OSError, subprocess.SubprocessError):
                    sample(c)

    @staticmethod
    def _pair_row(label: str, op: str, bs: int, total: int, samples: dict[str, list[float]],
                  key: str, pair: tuple[str, str]) -> dict:
        med = {n: median(v) for n, v in samples.items()}
        r = paired_ratio(samples.get(pair[0], []), samples.get(pair[1], []))
        log(f"{label}: " + ", ".join(f"{n} {v:.0f}" for n, v in med.items() if v)
            + (f"; {key} {r:.2f}" if r is not None else ""))
        return {"test": label, "tool": "dd", "op": op, "bs": bs, "bytes": total, "unit": "MB/s",
                "samples": samples, "median": med, "ratio": {key: r}}

    # -- xattr --
    def run_xattr(self) -> dict:
        """4 KiB writes to a new regular file with ``xattr`` on (the default) and off, in the
        default write-through mode and with ``writeback_cache = true``; and how many
        getxattr requests the daemon saw per write(2) (from the trace)."""
        with self.pinned():
            out = self._run_xattr()
        out["pinned_cpu"] = self.pin
        return out

    def _run_xattr(self) -> dict:
        s = self.s
        modes = {"write-through": {}, "writeback": {"writeback_cache": True}}
        names = {}
        for mode, opts in modes.items():
            tag = "wb-" if opts else ""
            names[mode] = {"xattr": f"iofs-{tag}xattr", "noxattr": f"iofs-{tag}noxattr"}
            self.mount_extra(names[mode]["xattr"], tree_with(**opts) if opts else None)
            self.mount_extra(names[mode]["noxattr"], tree_with(**opts, xattr=False))
        out: dict[str, Any] = {"rows": []}
        try:
            for mode in modes:
                cols = {c: mnt for c, mnt in names[mode].items() if mnt in self.mounts}
                probe = {}
                for c, mnt in cols.items():  # first, on a trace still short to read
                    try:
                        probe[c] = getxattr_per_write(self.mounts[mnt])
                    except (BenchError, OSError, subprocess.SubprocessError) as exc:
                        self.error(f"xattr probe on {mnt}: {exc}")
                total = s.xattr_bytes[mode]
                label = f"dd write 4k, new file, {mode}"

                def sample(col: str, cols: dict[str, str] = cols, total: int = total) -> float:
                    path = os.path.join(self.mounts[cols[col]].paths["dir"], "xattr.dat")
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    nbytes, secs = run_dd("/dev/zero", path, 4 * KIB, total // (4 * KIB), write=False)
                    return nbytes / secs / 1e6 if secs > 0 else NAN

                samples = self.alternate(f"xattr {label}", cols, sample)
                row = self._pair_row(label, "write", 4 * KIB, total, samples, "noxattr/xattr",
                                     ("noxattr", "xattr"))
                row["mode"] = mode
                row["getxattr_per_write"] = probe
                out["rows"].append(row)
        finally:
            self.unmount(*(n for pair in names.values() for n in pair.values()))
        return out

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
    h = result.get("hook") or {}
    hook = {(r["op"], r["target"], r["bs"]): r for r in h.get("rows", [])}
    if hook:
        add("a rule that does not match, per request, dd 4k of zero and mem0 (µs)",
            h.get("rule_us_4k"), "<=", 1.0)
    r = hook.get(("read", "zero", 4 * KIB))
    if r is not None:
        add("dd read zero 4k, trace reader attached / none", r["ratio"]["iofs-reader/iofs"], ">=", 0.70)
    d = result.get("durability") or {}
    for r in d.get("rows", []):
        if r["op"] == "write":
            add(f"durability on/off: {r['test']}", r["ratio"]["on/off"], ">=", 0.7)
    x = d.get("extra")
    if x:
        add(f"durability: extra RSS rewriting {human(x['bytes'])} in place / bytes rewritten "
            "(limit: unsynced + replaced)", x["rewrite_extra_per_byte"], "<=",
            round(x["bound_bytes"] / x["bytes"], 2))
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
               f"{result['host'].get('fio') or 'no fio'}; load average (1 min) "
               f"{result['host']['loadavg_start'][0]} at the start, "
               f"{result['host'].get('loadavg_end', ['?'])[0]} at the end.")
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
    out += markdown_sections(result)
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


def _pin_note(section: dict) -> str:
    cpu = section.get("pinned_cpu")
    return f"; dd and the daemons pinned to CPU {cpu}" if cpu is not None else ""


def markdown_sections(result: dict) -> list[str]:
    """The hook, durability and xattr tables."""
    out: list[str] = []
    h = result.get("hook")
    if h and h["rows"]:
        cols = [c for c in HOOK_MOUNTS if any(r["median"].get(c) for r in h["rows"])]
        heads = {"bare": "bare", "iofs": "iofs (default)", "iofs-notrace": "trace = false",
                 "iofs-rules": f"{h['rules']} rules", "iofs-reader": "trace reader"}
        ratios = [f"{a}/{b}" for a, b in HOOK_RATIOS]
        rhead = {"iofs/bare": "default/bare", "iofs-notrace/bare": "no trace/bare",
                 "iofs-rules/bare": "rules/bare", "iofs-reader/bare": "reader/bare",
                 "iofs-reader/iofs": "reader/default"}
        out += [f"### fault and trace hook (MB/s; {h['rules']} rules `{h['rule'].format(k='K')}`, "
                "K = 0.., that match nothing; the trace reader is `cat MNT/.iofs/trace > /dev/null`"
                f"{_pin_note(h)})", "",
                "| dd | " + " | ".join(heads[c] for c in cols) + " | "
                + " | ".join(rhead[q] for q in ratios) + " |",
                "|---|" + "---:|" * (len(cols) + len(ratios))]
        for r in h["rows"]:
            out.append(f"| {r['test'][3:]} | " + " | ".join(fmt(r["median"].get(c)) for c in cols) + " | "
                       + " | ".join(fmt(r["ratio"].get(q), 2) for q in ratios) + " |")
        out += ["", "| dd | µs per request (default) | per rule that does not match | trace recording "
                "| trace reader |", "|---|---:|---:|---:|---:|"]
        for r in h["rows"]:
            out.append(f"| {r['test'][3:]} | {fmt(r['request_us'].get('iofs'), 2)} | "
                       f"{fmt(r['rule_us'], 2)} | {fmt(r['trace_us'], 2)} | {fmt(r['reader_us'], 2)} |")
        out.append(f"| all 4k rows | | {fmt(h.get('rule_us_4k'), 2)} | {fmt(h.get('trace_us_4k'), 2)} | "
                   f"{fmt(h.get('reader_us_4k'), 2)} |")
        out += ["", "(µs per request: request size / throughput. The costs are medians of per-round "
                "differences per request: rules minus default, over the number of rules; default minus "
                "trace = false; reader minus default. At 1M they are lost in the noise.)", ""]
    d = result.get("durability")
    if d and d["rows"]:
        out += [f"### durability (regular file under tmp/, write-through; MB/s{_pin_note(d)})", "",
                "| test | durability off | durability on | on/off |", "|---|---:|---:|---:|"]
        for r in d["rows"]:
            out.append(f"| {r['test']} | {fmt(r['median'].get('off'))} | {fmt(r['median'].get('on'))} | "
                       f"{fmt(r['ratio'].get('on/off'), 2)} |")
        out.append("")
        mem = {r["durability"]: r for r in d.get("memory", [])}
        if mem:
            S = next(iter(mem.values()))["bytes"]
            mib = lambda kib: fmt(kib / 1024, 1) if kib is not None else "–"  # noqa: E731
            out += [f"| daemon RSS growth (MiB), fresh mounts | durability off | durability on |",
                    "|---|---:|---:|",
                    f"| appending {human(S)} to a new file (no fsync) | "
                    f"{mib(mem.get('off', {}).get('append_growth_kib'))} | "
                    f"{mib(mem.get('on', {}).get('append_growth_kib'))} |",
                    f"| then fsync, and rewriting those {human(S)} in place (no fsync) | "
                    f"{mib(mem.get('off', {}).get('rewrite_growth_kib'))} | "
                    f"{mib(mem.get('on', {}).get('rewrite_growth_kib'))} |"]
            x = d.get("extra")
            if x:
                out.append(f"| extra for durability after the rewrite (on − off) / bytes rewritten | | "
                           f"{x['rewrite_extra_per_byte']:.3f} |")
                out.append(f"| unsynced bytes after the rewrite (`.iofs/unsynced`) | | "
                           f"{fmt(x['unsynced_after_rewrite'] / MIB, 1)} MiB |")
            out.append("")
    x = result.get("xattr")
    if x and x["rows"]:
        out += ["### xattr: the kernel's getxattr(\"security.capability\") before each write(2) (MB/s"
                f"{_pin_note(x)})", "",
                "| dd write 4k, new regular file | xattr = true (default) | xattr = false | false/true "
                "| getxattr per write(2), true / false |", "|---|---:|---:|---:|---:|"]
        for r in x["rows"]:
            g = r.get("getxattr_per_write", {})
            out.append(f"| {r['mode']}{' (writeback_cache = true)' if r['mode'] == 'writeback' else ''} | "
                       f"{fmt(r['median'].get('xattr'))} | {fmt(r['median'].get('noxattr'))} | "
                       f"{fmt(r['ratio'].get('noxattr/xattr'), 2)} | "
                       f"{fmt(g.get('xattr'), 2)} / {fmt(g.get('noxattr'), 2)} |")
        out.append("")
    return out


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
    ap.add_argument("--only", action="append", choices=PARTS,
                    help="run only these parts (repeatable)")
    ap.add_argument("--no-example", action="store_true", help="leave pyfuse3's example tmpfs out")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the hook, durability and xattr sections (dd and daemons) to one CPU")
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
    parts = set(args.only or PARTS)
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
                 "pyfuse3": pyfuse3.__version__, "fio": fio,
                 "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
        "filesystems": {}, "request_sizes": None, "dd": [], "fio": [], "memory": [], "uiomove": None,
        "hook": None, "durability": None, "xattr": None,
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
            runner.pin = None if args.no_pin else pick_cpu()
            result["settings"]["pin_cpu"] = runner.pin
            if "uiomove" in parts:  # first: a microbenchmark wants the quiet machine it finds
                result["uiomove"] = run_uiomove(s.uiomove_rounds, workdir)
            if parts & {"dd", "fio", "hook"}:
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
                if "hook" in parts:
                    result["hook"] = runner.run_hook()
                result["request_sizes"] = runner.bare_request_sizes()
                stack.close()  # unmount before the memory runs
            if "durability" in parts:
                result["durability"] = runner.run_durability()
            if "xattr" in parts:
                result["xattr"] = runner.run_xattr()
            if "memory" in parts:
                for n in ("iofs", "bare"):  # not mounted above (--only): mounted fresh here
                    runner.fs_info.setdefault(n, {"available": True})
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
    result["host"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]  # others' load: noise
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
