"""The engine: the workers and their mounts, the clean runs, the cases, the pool, the signals.

1. Every worker mounts the tree in its own directory (in parallel); the first makes the clean
   run, twice: a program whose outcome differs between two clean runs cannot be swept. If its
   stderr differs between them, stderr tells nothing, and only the exit status makes a run
   ``loud``.
2. The cases (:mod:`.cases`) are made from the clean run's trace and chosen.
3. The workers take the cases one at a time from one queue; each result is judged as it comes
   (:mod:`.result`). A run that cannot be made is an ``error`` of that case, and the sweep
   goes on with the workers it has.
4. Whatever happens (the end, an error, SIGINT, SIGTERM or SIGHUP) the shutdown ends every
   program with its group, unmounts every mount, removes every cgroup and the work directory.
   A signal during the shutdown is noted and acted on when it is done.

An engine knows cases only through what they say: the rules of their run and how a run is
judged against the clean one, so that other kinds of cases run through it as they are.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ...system import cgroup
from ...system.mounts import mounts_under
from .cases import Case, Choice, SweepError, build_cases, requests_of
from .crash import crash_cases, what_failed
from .outcome import CLASSES, Outcome
from .result import JUDGES, Result, Run
from .runner import Setup, Worker

JOIN_WAIT = 60.0  # seconds the shutdown waits for a worker to finish what it is doing
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP ended the sweep (``signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Sweep:
    """One sweep. ``on_start(result)`` is called once the cases are known, ``on_run(done,
    total, result)`` after each faulted run (the CLI prints and draws its progress there)."""

    def __init__(self, setup: Setup, actions: list[str], choice: Choice | None = None,
                 jobs: int = 1, only: tuple[str, ...] = CLASSES, workdir: str | None = None,
                 on_start: Callable[[Result], None] | None = None,
                 on_run: Callable[[int, int, Result], None] | None = None, torn: int = 0) -> None:
        self.setup, self.actions = setup, actions
        self.torn = torn  # sweep --crash: seeded tearings of each write
        self.choice = choice or Choice()
        self.jobs, self.only = max(jobs, 1), only
        self.parent = workdir
        self.on_start, self.on_run = on_start, on_run
        self.stop = threading.Event()
        self.workers: list[Worker] = []
        self.threads: list[threading.Thread] = []
        self.result: Result | None = None
        self.workdir: Path | None = None
        self._deferred: int | None = None

    # ---- the whole ----

    def run(self) -> Result:
        """Sweep; the Result (``interrupted`` set if a signal ended it). SweepError if the
        sweep cannot be made (a bad tree, a command that cannot run, a non-deterministic
        program), after the same shutdown."""
        t0 = time.monotonic()
        old = self._catch_signals()
        interrupted = None
        try:
            self._sweep(t0)
        except Interrupted as exc:
            interrupted = exc.signum
        finally:
            self._defer_signals(old)
            try:
                self._shutdown()
            finally:
                self._restore_signals(old)
        if self.result is None:
            if interrupted is not None:
                raise Interrupted(interrupted)
            raise SweepError("the sweep ended before its clean run")  # (never: _sweep raised)
        if interrupted is None:
            interrupted = self._deferred
        self.result.interrupted = interrupted
        self.result.seconds = time.monotonic() - t0
        return self.result

    def _sweep(self, t0: float) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="iofs-sweep-", dir=self.parent))
        self.workers = [Worker(k, self.setup, self.workdir / f"w{k}", self.stop)
                        for k in range(self.jobs)]
        starting = [self._thread(self._start, w) for w in self.workers[1:]]
        first = self.workers[0]
        first.start()
        clean, again, trace = self._clean(first)
        requests, seen = requests_of(trace or [], self.setup.ops, self.setup.path)
        if not requests:
            raise SweepError(f"the clean run made no {','.join(self.setup.ops)} request in the "
                             "mount: nothing to sweep (does the command name {mnt} or use IOFS_MNT?)")
        if self.setup.check is not None:
            cases, skipped = crash_cases(requests, self.torn), 0
        else:
            cases, skipped = build_cases(requests, self.actions)
        chosen = self.choice.apply(cases)
        self.result = Result(self.setup.cmd, clean, self.setup.ops, self.actions, dict(seen),
                             len(requests), len(cases), skipped, len(chosen),
                             list(self.choice.notes), only=self.only,
                             stderr_stable=again.stderr.digest == clean.stderr.digest,
                             jobs=self.jobs,
                             kind="crash" if self.setup.check is not None else "fault")
        if self.on_start is not None:
            self.on_start(self.result)
        for t in starting:
            t.join()
        t1 = time.monotonic()
        self._pool(chosen, [w for w in self.workers if w.dead is None and w.mount is not None])
        self.result.fault_seconds = time.monotonic() - t1

    def _start(self, worker: Worker) -> None:
        try:
            worker.start()
        except (SweepError, OSError) as exc:
            worker.dead = str(exc)

    def _clean(self, worker: Worker) -> tuple[Outcome, Outcome, list[dict[str, Any]]]:
        clean, trace = worker.run(None)
        if clean.error is not None:
            raise SweepError(f"the clean run could not be made: {clean.error}")
        if clean.timed_out:
            raise SweepError(f"the clean run timed out after {self.setup.timeout} s")
        if self.setup.check is not None and worker.mount is not None:
            checked = worker.check(str(worker.mount.path), clean)
            if checked.exit != 0:
                raise SweepError("the check fails after a run with no crash ("
                                 f"{what_failed(checked)}): it must pass there")
        again, _ = worker.run(None)
        if not again.same(clean):
            what = again.status_text() if again.exit != clean.exit or again.signal != clean.signal \
                else "stdout differs"
            raise SweepError(f"the program's outcome differs between two clean runs ({what}; "
                             f"first: {clean.status_text()}): a sweep needs a deterministic program")
        return clean, again, trace or []

    # ---- the faulted runs ----

    def _pool(self, cases: list[Case], workers: list[Worker]) -> None:
        assert self.result is not None
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for case in cases:
            todo.put(case)
        done: queue.SimpleQueue = queue.SimpleQueue()
        self.threads += [self._thread(self._loop, w, todo, done) for w in workers]
        order = {id(c): k for k, c in enumerate(cases)}
        res, received = self.result, 0
        while received < len(cases):
            try:
                case, outcome = done.get(timeout=0.1)
            except queue.Empty:
                if not any(t.is_alive() for t in self.threads) and done.empty():
                    break
                continue
            received += 1
            res.runs.append(JUDGES[case.kind](case, outcome, res.clean, res.stderr_stable))
            if self.on_run is not None:
                self.on_run(received, len(cases), res)
        why = "; ".join(sorted({w.dead for w in self.workers if w.dead})) or "no worker left"
        while not todo.empty():  # every worker is gone: what is left could not be run
            case = todo.get()
            res.runs.append(Run(case, Outcome.failed(f"no worker left ({why})"), "error"))
        res.runs.sort(key=lambda r: order.get(id(r.case), 0))

    def _loop(self, worker: Worker, todo: queue.SimpleQueue, done: queue.SimpleQueue) -> None:
        while not self.stop.is_set() and worker.dead is None:
            try:
                case = todo.get_nowait()
            except queue.Empty:
                return
            try:
                outcome, _ = worker.run(case)
            except KeyboardInterrupt:
                return
            except Exception as exc:  # one bad run is that run's error, never the sweep's end
                outcome = Outcome.failed(f"{type(exc).__name__}: {exc}")
            done.put((case, outcome))

    def _thread(self, fn: Callable, *args: Any) -> threading.Thread:
        t = threading.Thread(target=fn, args=args, daemon=True)
        self.threads.append(t)
        t.start()
        return t

    # ---- the end ----

    def _shutdown(self) -> None:
        """Every program ended (the runs see ``stop``), every thread joined, every mount
        unmounted, every cgroup removed, the work directory removed."""
        self.stop.set()
        deadline = time.monotonic() + JOIN_WAIT
        for t in self.threads:
            t.join(max(deadline - time.monotonic(), 0.1))
        for w in self.workers:
            w.close()
        cgroup.remove_all(f"iofs-sweep-{os.getpid()}-")
        if self.workdir is None:
            return
        for left in mounts_under(self.workdir):  # never expected; never left behind either
            subprocess.run(["fusermount3", "-u", "-z", left], capture_output=True)
        if not mounts_under(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- signals ----

    def _catch_signals(self) -> dict[int, Any] | None:
        """SIGINT, SIGTERM and SIGHUP end the sweep as Ctrl-C does (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            raise Interrupted(signum)
        return {s: signal.signal(s, handler) for s in SIGNALS}

    def _defer_signals(self, old: dict[int, Any] | None) -> None:
        """During the shutdown a signal is noted, not raised: the shutdown must finish."""
        if old is None:
            return

        def note(signum: int, frame: Any) -> None:
            self._deferred = self._deferred or signum
        for s in SIGNALS:
            signal.signal(s, note)

    @staticmethod
    def _restore_signals(old: dict[int, Any] | None) -> None:
        for s, h in (old or {}).items():
            signal.signal(s, h)


__all__ = ["Sweep", "Interrupted", "Setup"]
