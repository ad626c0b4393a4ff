"""The xattr section: 4 KiB writes to a new regular file with ``xattr`` on (the default) and
off, in the default write-through mode and with ``writeback_cache = true`` (each with the
baseline's twins); and how many getxattr requests the daemon saw per write(2) (from the
trace)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Any

from .common import KIB, BenchError
from .control import getxattr_per_write
from .durability import pair_row
from .measure import dd_file_mb_s
from .mounts import tree_with
from .runner import Runner

MODES: dict[str, dict[str, Any]] = {"write-through": {}, "writeback": {"writeback_cache": True}}


def run(r: Runner) -> dict:
    """One row per mode: MB/s with xattr on and off, false/true, getxattr per write(2)."""
    with r.pinned():
        names = {}
        for mode, opts in MODES.items():
            tag = "wb-" if opts else ""
            names[mode] = {"xattr": f"iofs-{tag}xattr", "noxattr": f"iofs-{tag}noxattr"}
            r.mount_iofs(names[mode]["xattr"], tree_with(**opts) if opts else None)
            r.mount_iofs(names[mode]["noxattr"], tree_with(**opts, xattr=False))
        out: dict[str, Any] = {"rows": []}
        try:
            for mode in MODES:
                cols = {c: m for c, m in r.with_base(names[mode], list(names[mode])).items()
                        if m in r.mounts}
                out["rows"].append(_row(r, mode, cols))
        finally:
            r.unmount(*(n for pair in names.values() for n in pair.values()))
    out["pinned_cpu"] = r.pin
    return out


def _row(r: Runner, mode: str, cols: dict[str, str]) -> dict:
    probe = {}
    for c, mnt in cols.items():  # first, on a trace still short to read
        try:
            probe[c] = getxattr_per_write(r.mounts[mnt])
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            r.error(f"xattr probe on {mnt}: {exc}")
    total = r.s.xattr_bytes[mode]
    label = f"dd write 4k, new file, {mode}"

    def sample(col: str) -> float:
        path = os.path.join(r.mounts[cols[col]].paths["dir"], "xattr.dat")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return dd_file_mb_s(path, 4 * KIB, total)

    samples = r.alternate(f"xattr {label}", cols, sample)
    row = pair_row(label, "write", 4 * KIB, total, samples, "noxattr/xattr", ("noxattr", "xattr"))
    row["mode"] = mode
    row["getxattr_per_write"] = probe
    return row
