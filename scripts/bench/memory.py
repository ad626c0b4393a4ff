"""The memory section: the daemon's peak RSS (VmHWM) streaming from zero and after filling a
large mem device, for iofs (and its baseline) and bare, each on a fresh mount."""

from __future__ import annotations

import os
import subprocess
from typing import Callable

from .common import BASE, MIB, REPO, BenchError, MountError, human, log
from .measure import read_status, run_dd
from .mounts import Fs, mount_iofs
from .others import mount_bare
from .runner import Runner


def _cases(r: Runner) -> list[tuple[str, str, Callable[[str], Fs]]]:
    """(fs, test, how to mount it at a mount point) of each measure."""
    cfg = (f'[options]\nmax_memory = "64M"\n\n[[device]]\npath = "zero"\ndriver = "zero"\n\n'
           f'[[device]]\npath = "mem0"\ndriver = "mem"\nsize = {r.s.memdev_size}\n')
    checkouts = {"iofs": REPO}
    if r.baseline:
        checkouts["iofs" + BASE] = r.baseline
    cases: list[tuple[str, str, Callable[[str], Fs]]] = []
    for test in ("stream", "memdev"):
        for n, checkout in checkouts.items():
            cases.append((n, test, _iofs(r, checkout, cfg if test == "memdev" else None)))
        size = r.s.memdev_size if test == "memdev" else None
        cases.append(("bare", test, lambda mp, size=size: mount_bare(
            r.workdir, mp, **({"mem_size": size} if size else {}))))
    return cases


def _iofs(r: Runner, checkout: str, cfg: str | None) -> Callable[[str], Fs]:
    return lambda mp: mount_iofs(os.path.basename(mp), r.workdir, checkout, cfg)


def run(r: Runner) -> list[dict]:
    """One row per (test, fs): MB/s, RSS before, peak RSS."""
    rows = []
    for n, test, mount in _cases(r):
        if n not in r.fs_info or not r.fs_info[n].get("available"):
            continue
        try:
            m = mount(os.path.join(r.workdir, f"{n}-{test}".replace(BASE, "-base")))
        except (MountError, OSError) as exc:
            r.error(f"memory {test} on {n}: {exc}")
            continue
        try:
            rows.append(_measure(r, n, test, m))
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            r.error(f"memory {test} on {n}: {exc}")
        finally:
            m.close()
    return rows


def _measure(r: Runner, n: str, test: str, m: Fs) -> dict:
    s = r.s
    before = read_status(m.pid)
    if test == "stream":
        nbytes, secs = run_dd(m.paths["zero"], "/dev/null", MIB, s.stream_bytes // MIB, False)
    else:
        nbytes, secs = run_dd("/dev/zero", m.paths["mem"], MIB, s.memdev_size // MIB, True)
    after = read_status(m.pid)
    label = (f"peak RSS streaming {human(nbytes)} from zero" if test == "stream"
             else f"peak RSS with a {human(nbytes)} mem device filled")
    log(f"memory {test} {n}: peak {after.get('VmHWM', 0) / 1024:.0f} MiB")
    return {"test": label, "kind": test, "fs": n, "bytes": nbytes,
            "mb_s": nbytes / secs / 1e6 if secs else None,
            "rss_before_kib": before.get("VmRSS"), "rss_after_kib": after.get("VmRSS"),
            "peak_rss_kib": after.get("VmHWM")}
