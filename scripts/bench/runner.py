"""What the sections share: the mounts of a run (each iofs mount with its baseline twin when
``--baseline`` is given), the rounds that alternate the columns, the CPU pinning, the errors."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from typing import Callable, Iterator

from .common import BASE, MIB, NAN, REPO, BenchError, MountError, based, is_base, log
from .measure import set_affinity
from .mounts import Fs, checkout_note, mount_iofs, tree_with
from .others import mount_bare, mount_example, mount_tmpfs
from .settings import Settings

WRITEBACK_TREE = tree_with(writeback_cache=True)  # the default tree, kernel writeback cache on


class Runner:
    """The state of one run. ``mounts`` holds what is mounted now (closed by ``stack``, also
    on errors); ``fs_info`` what the report says about each; ``errors`` every failure, which
    is logged and reported, never raised: one failing column leaves the others measured."""

    def __init__(self, settings: Settings, workdir: str, stack: contextlib.ExitStack,
                 baseline: str | None = None) -> None:
        self.s = settings
        self.workdir = workdir
        self.stack = stack
        self.baseline = baseline              # another checkout's directory, or None
        self.mounts: dict[str, Fs] = {}
        self.fs_info: dict[str, dict] = {}
        self.errors: list[str] = []
        self.pin: int | None = None  # the CPU of the hook/durability/xattr sections (None: off)
        self._notes = {REPO: checkout_note(REPO), baseline: checkout_note(baseline)} \
            if baseline else {}

    def error(self, msg: str) -> None:
        log("ERROR " + msg)
        self.errors.append(msg)

    def add(self, name: str, start: Callable[[], Fs], note: str = "") -> Fs | None:
        """Mount ``name`` with ``start``: on success kept (and closed with the run), on
        failure an error and a note in ``fs_info``; None then."""
        try:
            m = start()
        except (MountError, OSError, subprocess.SubprocessError) as exc:
            self.fs_info[name] = {"available": False, "note": str(exc)}
            self.error(f"{name}: {exc}")
            return None
        self.stack.callback(m.close)
        self.mounts[name] = m
        m.note = m.note or note
        self.fs_info[name] = {"available": True, "note": m.note, "mountpoint": m.mountpoint}
        log(f"mounted {name} at {m.mountpoint}" + (f" (pid {m.pid})" if m.pid else ""))
        return m

    def mount_iofs(self, name: str, config_text: str | None = None) -> Fs | None:
        """iofs of this checkout as ``name`` and, with a baseline, the baseline's as
        ``name@base`` (same tree); the first of the two, or None."""
        m = self.add(name, lambda: mount_iofs(name, self.workdir, REPO, config_text),
                     self._notes.get(REPO, ""))
        if self.baseline is not None:
            twin = based(name)
            self.add(twin, lambda: mount_iofs(twin, self.workdir, self.baseline, config_text),
                     self._notes[self.baseline])
        return m

    def mount_all(self, example_script: str | None, example_note: str) -> None:
        """The filesystems of the dd, fio and hook sections."""
        wd = self.workdir
        self.mount_iofs("iofs")
        self.mount_iofs("iofs-wb", WRITEBACK_TREE)
        self.add("bare", lambda: mount_bare(wd, os.path.join(wd, "bare"), stats=True))
        size = max(self.s.dd_bytes.values()) * 2 + 512 * MIB
        self.add("tmpfs", lambda: mount_tmpfs(os.path.join(wd, "tmpfs"), size=size))
        if example_script:
            self.add("example", lambda: mount_example(wd, os.path.join(wd, "example"),
                                                      example_script))
        else:
            self.fs_info["example"] = {"available": False, "note": example_note}

    def unmount(self, *names: str) -> None:
        """Close these mounts and their baseline twins."""
        for n in names:
            for name in (n, based(n)):
                m = self.mounts.pop(name, None)
                if m is not None:
                    m.close()

    def with_base(self, cols: dict[str, str], iofs_cols: list[str]) -> dict[str, str]:
        """``cols`` (column -> mount) with, for each column of ``iofs_cols``, its baseline
        twin right after it (``C@base`` -> ``MOUNT@base``); as it is without a baseline."""
        out = {}
        for c, mnt in cols.items():
            out[c] = mnt
            if self.baseline is not None and c in iofs_cols:
                out[based(c)] = based(mnt)
        return out

    @staticmethod
    def order(names: list[str], rep: int) -> list[str]:
        """The columns of round ``rep``: rotated by one each round. A column and its baseline
        twin stay side by side, and take turns at going first (which one runs right after
        another filesystem is the larger part of an A/A run's bias)."""
        units: list[list[str]] = []
        for n in names:
            if is_base(n) and units and units[-1] == [n.removesuffix(BASE)]:
                units[-1].append(n)
            else:
                units.append([n])
        k = rep % len(units) if units else 0
        units = units[k:] + units[:k]
        return [n for u in units for n in (u[::-1] if rep % 2 else u)]

    def usable(self, name: str) -> bool:
        """Whether mount ``name`` is there and its daemon alive (a dead one is closed, and
        said once)."""
        m = self.mounts.get(name)
        if m is None:
            return False
        if not m.alive():
            self.error(f"{name} daemon died ({m.how_gone()})")
            m.close()
            del self.mounts[name]
            self.fs_info[name]["available"] = False
            self.fs_info[name]["note"] = "daemon died during the run"
            return False
        return True

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

    def warm_up(self, cols: dict[str, str], sample: Callable[[str], float]) -> None:
        """One untimed sample per column: the first after the RSS runs freed hundreds of MiB
        (the allocator gives pages back and takes them again) ran at 0.3-0.6 of the rest."""
        for c, mnt in cols.items():
            if self.usable(mnt):
                with contextlib.suppress(BenchError, OSError, subprocess.SubprocessError):
                    sample(c)

    @contextlib.contextmanager
    def pinned(self, *running: str) -> Iterator[None]:
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

    def bare_request_sizes(self) -> dict[str, int] | None:
        """The largest requests the bare fs saw (it prints them when it unmounts)."""
        m = self.mounts.pop("bare", None)
        if m is None:
            return None
        m.close()
        try:
            with open(m.log_path or "") as f:
                found = re.search(r"max_read=(\d+) max_write=(\d+)", f.read())
        except OSError:
            return None
        return {"read": int(found.group(1)), "write": int(found.group(2))} if found else None
