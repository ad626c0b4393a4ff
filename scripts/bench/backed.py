"""The backed section: iofs serving a host directory (``iofs mount MNT --source DIR``) beside
a bare pyfuse3 passthrough of the same kind of directory (``bare_passthrough.py``) and the
backing filesystem itself, all three directories on one kernel tmpfs.

Columns: ``iofs-backed`` (the defaults), ``iofs-backed-noxattr`` (``xattr = false``: no
getxattr before each write(2)), ``iofs-backed-wb`` (``writeback_cache = true``), ``bare-pass``
and ``backing``. Rows: fio psync sequential write (ending in fsync) and read (the file's
pages dropped first) at 4k, 128k and 1m, and random read at 4k, on files of
``backed_file_size`` (64 MiB); one fio process per column and round, its jobs one after the
other, the columns alternating (order rotated per round); medians of ``backed_reps`` rounds,
ratios the medians of the per-round ratios. Then the daemon's peak RSS (VmHWM) while
``backed_rss_bytes`` (4 GiB) are written through a fresh backed mount of a directory on the
work directory's disk (durability off). iofs here is this checkout's only: the backed mounts
are new, so --baseline adds no twin."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any


from .common import GIB, KIB, MIB, NAN, REPO, BenchError, human, log
from .measure import read_status, run_dd, run_fio
from .mounts import mount_iofs
from .others import mount_passthrough
from .runner import Runner
from .stats import median, paired_ratio

IOFS_COLS = {"iofs-backed": None, "iofs-backed-noxattr": {"xattr": False},
             "iofs-backed-wb": {"writeback_cache": True}}
COLS = list(IOFS_COLS) + ["bare-pass", "backing"]
JOBS = [("write", 4 * KIB), ("read", 4 * KIB), ("write", 128 * KIB), ("read", 128 * KIB),
        ("write", MIB), ("read", MIB), ("randread", 4 * KIB)]
RATIOS = ["iofs-backed/bare-pass", "iofs-backed/backing", "bare-pass/backing",
          "iofs-backed-noxattr/bare-pass", "iofs-backed-wb/bare-pass"]


def _tag(op: str, bs: int) -> str:
    return f"read-rand{human(bs)}" if op == "randread" else f"{op}-{human(bs)}"


def jobfile(path: str, size: int) -> str:
    """The section's fio jobs on ``path``, one after the other."""
    lines = ["[global]", f"filename={path}", "direct=0", "iodepth=1", "ioengine=psync",
             "fallocate=none", "invalidate=1", f"size={size}", ""]
    for op, bs in JOBS:
        lines += [f"[{_tag(op, bs)}]", f"rw={op}", f"bs={bs}", "stonewall"]
        lines += ["end_fsync=1", ""] if op == "write" else [""]
    return "\n".join(lines)


def _empty_tmpfs(r: Runner, mp: str, size: int) -> None:
    """A kernel tmpfs at ``mp`` for the run (a directory on disk when we may not mount)."""
    os.makedirs(mp, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "iofs-bench-backing", mp],
                         capture_output=True, text=True) if os.geteuid() == 0 else None
    if res is None or res.returncode != 0:
        r.error("backed: could not mount a tmpfs for the host directories; they are on disk")
        return

    def unmount() -> None:
        if subprocess.run(["umount", mp], capture_output=True).returncode:
            subprocess.run(["umount", "-l", mp], capture_output=True)

    r.stack.callback(unmount)


def _mount_all(r: Runner, base: str) -> dict[str, str]:
    """Every column mounted: column -> the directory its fio file goes in."""
    where = {}
    for name, options in IOFS_COLS.items():
        src = os.path.join(base, name)
        os.makedirs(src, exist_ok=True)
        text = None if options is None else "[options]\n" + "".join(
            f"{k} = {json.dumps(v)}\n" for k, v in options.items())
        m = r.add(name, lambda n=name, s=src, t=text: mount_iofs(n, r.workdir, REPO, t, s))
        if m is not None:
            where[name] = m.paths["dir"]
    src = os.path.join(base, "bare-pass")
    os.makedirs(src, exist_ok=True)
    m = r.add("bare-pass", lambda: mount_passthrough(r.workdir, os.path.join(r.workdir, "bare-pass"),
                                                     src))
    if m is not None:
        where["bare-pass"] = m.paths["dir"]
    where["backing"] = os.path.join(base, "backing")
    os.makedirs(where["backing"], exist_ok=True)
    r.fs_info["backing"] = {"available": True, "note": "the host directories' tmpfs itself"}
    return where


def _round(r: Runner, where: dict[str, str], rep: int, samples: dict[str, dict[str, list]]) -> None:
    fio_dir = os.path.join(r.workdir, "fio-backed")
    os.makedirs(fio_dir, exist_ok=True)
    for col in r.order(list(where), rep):
        path = os.path.join(where[col], "fio.dat")
        got: dict[str, Any] = {}
        if col == "backing" or r.usable(col):
            try:
                if os.path.exists(path):
                    os.unlink(path)
                got = run_fio(jobfile(path, r.s.backed_file_size), fio_dir)
            except (BenchError, OSError, subprocess.SubprocessError) as exc:
                r.error(f"backed fio on {col}: {exc}")
        for op, bs in JOBS:
            res = got.get(_tag(op, bs), {})
            if res.get("error"):
                r.error(f"backed fio {_tag(op, bs)} on {col}: error {res['error']}")
            samples[_tag(op, bs)].setdefault(col, []).append(res.get("mb_s", NAN))


def _rows(samples: dict[str, dict[str, list]], size: int) -> list[dict]:
    rows = []
    for op, bs in JOBS:
        s = samples[_tag(op, bs)]
        ratio = {}
        for q in RATIOS:
            a, b = q.split("/")
            ratio[q] = paired_ratio(s[a], s[b]) if a in s and b in s else None
        rows.append({"test": f"fio psync {op} {human(bs)}", "op": op, "bs": bs, "size": size,
                     "unit": "MB/s", "samples": s, "median": {c: median(v) for c, v in s.items()},
                     "ratio": ratio})
    return rows


def _rss(r: Runner) -> dict[str, Any]:
    """Peak RSS of a fresh backed mount's daemon writing ``backed_rss_bytes`` through it."""
    src = os.path.join(r.workdir, "rss-host")
    os.makedirs(src, exist_ok=True)
    out: dict[str, Any] = {"bytes": r.s.backed_rss_bytes, "peak_rss_kib": None}
    m = r.add("iofs-backed-rss", lambda: mount_iofs("iofs-backed-rss", r.workdir, REPO, None, src))
    if m is None or m.pid is None:
        return out
    try:
        out["rss_before_kib"] = read_status(m.pid).get("VmRSS")
        nbytes, secs = run_dd("/dev/zero", os.path.join(m.paths["dir"], "big"), MIB,
                              r.s.backed_rss_bytes // MIB, write=False, conv=("fsync",))
        out["mb_s"] = nbytes / secs / 1e6 if secs else NAN
        out["peak_rss_kib"] = read_status(m.pid).get("VmHWM")
    except (BenchError, OSError, subprocess.SubprocessError) as exc:
        r.error(f"backed rss: {exc}")
    finally:
        r.unmount("iofs-backed-rss")
        big = os.path.join(src, "big")
        if os.path.exists(big):
            os.unlink(big)
    return out


def run(r: Runner) -> dict[str, Any]:
    """The rows (one per fio job), and the RSS measure. fio and the daemons are pinned to one
    CPU (as the hook, durability and xattr sections): on a shared 2-core host, whether fio and
    a daemon happen to share a core moves a row by more than the costs measured here."""
    base = os.path.join(r.workdir, "backing-tmpfs")
    ncols = len(COLS)
    _empty_tmpfs(r, base, ncols * r.s.backed_file_size + 256 * MIB)
    samples: dict[str, dict[str, list]] = {_tag(op, bs): {} for op, bs in JOBS}
    with r.pinned():  # the daemons mounted in it inherit the CPU
        where = _mount_all(r, base)
        try:
            for rep in range(r.s.backed_reps):
                _round(r, where, rep, samples)
                log(f"backed round {rep + 1}/{r.s.backed_reps} done")
        finally:
            r.unmount(*IOFS_COLS, "bare-pass")
    out = {"rows": _rows(samples, r.s.backed_file_size), "columns": COLS,
           "file_size": r.s.backed_file_size, "reps": r.s.backed_reps, "pinned_cpu": r.pin}
    out["rss"] = _rss(r)
    out["rss_gib"] = r.s.backed_rss_bytes / GIB
    return out
