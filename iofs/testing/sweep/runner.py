"""A worker: one mount, reused for every run it makes.

Between runs the mount is made as it was mounted (``.iofs/reset``: the tree rebuilt from its
config, the config's rules only, an empty trace, the kernel's entries dropped), a ``--source``
copy restored if the last run changed it, and the run's rules added: the case's rule first,
then the clean rule ``op=OPS action=ok`` (``path=GLOB`` with ``--path``). The clean run has the
clean rule alone. A rule for reads or writes makes every file it matches open direct_io, so
the clean run and the faulted runs take the same path through the kernel and make the same
requests (without it, a regular file read through the page cache in the clean run is read
direct_io once a rule matches it: other requests, other counts).

``fresh`` (``--fresh-mounts``): a new mount for every run instead, as sweep did before.

A mount that stopped answering (its daemon died under a run) is made again, once per run; a
run that still cannot be made is an ``error`` outcome, never an exception that ends the sweep.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import client
from ..mount import Mount, MountError
from . import group
from .cases import Case, SweepError
from .crash import CrashCase, check_command
from .outcome import Outcome
from .source import SourceCopy


@dataclass
class Setup:
    """What every run of a sweep shares."""

    cmd: list[str]
    config: str | None
    ops: list[str]
    path: str | None = None
    source: str | None = None
    timeout: float = 60.0
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: str | None = None
    cgroups: bool = True
    fresh: bool = False
    mount_args: list[str] = field(default_factory=list)
    check: str | None = None  # sweep --crash: the shell command that judges a crash point

    def clean_rules(self) -> list[str]:
        """The rule every run has beside its case's: ``op=OPS action=ok``, which opens the
        files it matches direct_io as a faulted run's rule will. A crash sweep has none: a
        crash rule leaves the page cache alone (and SQLite's WAL needs it, for its mmap)."""
        if self.check is not None:
            return []
        where = f"path={shlex.quote(self.path)} " if self.path else ""
        return [f"{where}op={','.join(self.ops)} action=ok"]


class Worker:
    """One mount in ``base`` and the runs made on it, one at a time."""

    def __init__(self, index: int, setup: Setup, base: Path, stop: threading.Event) -> None:
        self.index = index
        self.setup = setup
        self.base = base
        self.stop = stop
        self.mount: Mount | None = None
        self.copy: SourceCopy | None = None
        self.runs = 0
        self.remounts = 0
        self.dead: str | None = None  # why this worker can make no more runs
        self.used = False  # a run was made on the mount since it was mounted

    # ---- the mount ----

    def start(self) -> None:
        """Copy the source (if any) and mount; SweepError if the tree cannot be mounted."""
        self.base.mkdir(parents=True, exist_ok=True)
        if self.setup.source is not None and self.copy is None:
            self.copy = SourceCopy(self.setup.source, self.base / "source")
        args = list(self.setup.mount_args)
        if self.copy is not None:
            args += ["--source", str(self.copy.path)]
        self.mount = Mount(self.base, self.setup.config, args=args)
        self.used = False
        try:
            self.mount.start()
        except MountError as exc:
            self.mount.stop()
            raise SweepError(f"cannot mount the tree: {exc}", unavailable=exc.unavailable) from None

    def close(self) -> None:
        if self.mount is not None:
            self.mount.stop()

    def _remount(self) -> None:
        self.remounts += 1
        self.close()
        self.start()

    def _prepare(self, rules: list[str]) -> list[int]:
        """The mount as configured, with ``rules`` added: their ids."""
        if self.copy is not None:
            self.copy.restore()
        if self.mount is None:
            self.start()
        elif self.setup.fresh and self.used:
            self._remount()
        elif not self.setup.fresh:
            client.reset(self.mount.path)
        self.used = True
        assert self.mount is not None
        return [client.add_rule(self.mount.path, r) for r in rules]

    # ---- a run ----

    def run(self, case: Case | None) -> tuple[Outcome, list[dict[str, Any]] | None]:
        """Run the program once: clean (``case`` None: its trace too) or with the case's rule.
        A run that cannot be made is an ``error`` outcome (and the mount is made again)."""
        why = ""
        for _ in range(2):
            if self.stop.is_set():
                raise KeyboardInterrupt
            try:
                return self._run(case)
            except SweepError as exc:
                if exc.usage:
                    raise
                why = str(exc)
            except client.ControlError as exc:
                if exc.usage:  # the mount refused the case's rule: nothing to mount again for
                    return Outcome.failed(str(exc)), None
                why = str(exc)
            except OSError as exc:
                why = f"{exc.filename or 'the mount'}: {exc.strerror}"
            if self.stop.is_set():
                raise KeyboardInterrupt
            try:
                self._remount()
            except SweepError as again:
                self.dead = f"{why}; mounting again failed: {again}"
                return Outcome.failed(self.dead), None
        return Outcome.failed(why), None

    def _run(self, case: Case | None) -> tuple[Outcome, list[dict[str, Any]] | None]:
        if isinstance(case, CrashCase):
            return self._run_crash(case), None
        t0 = time.monotonic()
        ids = self._prepare((case.rules() if case is not None else []) + self.setup.clean_rules())
        assert self.mount is not None
        mnt = str(self.mount.path)
        spec = self.spec(mnt)
        t1 = time.monotonic()
        try:
            outcome = group.run(spec, self.stop)
        except OSError as exc:  # (only without a cgroup: with one, sh execs the program)
            raise SweepError(f"cannot run {spec.argv[0]}: {exc.strerror}", usage=True) from None
        t2 = time.monotonic()
        trace = None
        if case is None:
            trace = client.read_trace(mnt)
        else:
            outcome.fired = _hits(client.list_rules(mnt), ids[0])
        self.runs += 1
        outcome.timings.update(prepare=t1 - t0, run=t2 - t1, collect=time.monotonic() - t2)
        return outcome, trace

    def _run_crash(self, case: CrashCase) -> Outcome:
        """The program with the crash rule, until it ends; the mount restarted from what was
        durable at the crash; then CHECK: its outcome (the program's as ``.program``)."""
        t0 = time.monotonic()
        ids = self._prepare(case.rules() + self.setup.clean_rules())
        assert self.mount is not None
        mnt = str(self.mount.path)
        t1 = time.monotonic()
        program = group.run(self.spec(mnt), self.stop)
        t2 = time.monotonic()
        fired = _hits(client.list_rules(mnt), ids[0])
        client.clear_rules(mnt)
        client.restart(mnt)
        outcome = self.check(mnt, program)
        outcome.fired = fired
        outcome.program = program
        self.runs += 1
        outcome.timings.update(prepare=t1 - t0, run=t2 - t1, check=outcome.seconds,
                               collect=time.monotonic() - t2 - outcome.seconds)
        return outcome

    def check(self, mnt: str, program: Outcome) -> Outcome:
        """CHECK on the mount as it is, told the program's stdout and exit status."""
        assert self.setup.check is not None
        stdout_file = self.base / "program.stdout"
        stdout_file.write_bytes(program.stdout.head)
        s = self.setup
        env = dict(s.env, IOFS_MNT=mnt, IOFS_PROG_STDOUT=str(stdout_file),
                   IOFS_PROG_EXIT=str(program.exit if program.exit is not None else ""))
        spare = frozenset({self.mount.pid} if self.mount is not None and self.mount.pid else ())
        spec = group.Spec(check_command(s.check, mnt, str(stdout_file)), env, s.cwd, mnt,
                          s.timeout, s.cgroups, spare)
        return group.run(spec, self.stop)

    def spec(self, mnt: str) -> group.Spec:
        s = self.setup
        argv = [a.replace("{mnt}", mnt) for a in s.cmd]
        found = group.resolve(argv[0], s.env, s.cwd)
        if found is None:
            raise SweepError(f"cannot run {argv[0]}: no such command (or not executable)",
                             usage=True)
        env = dict(s.env, IOFS_MNT=mnt)
        spare = frozenset({self.mount.pid} if self.mount is not None and self.mount.pid else ())
        return group.Spec(argv, env, s.cwd, mnt, s.timeout, s.cgroups, spare)


def _hits(listing: str, rule_id: int) -> int:
    for line in listing.splitlines():
        words = line.split()
        if len(words) > 1 and words[0] == str(rule_id) and words[1].startswith("hits="):
            return int(words[1][5:])
    return 0


__all__ = ["Setup", "Worker"]
