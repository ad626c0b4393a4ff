"""``iofs sweep``: find the request at which a program breaks.

1. A clean run of the command on a fresh mount of the tree, recording the trace: its exit
   status and stdout are the expected outcome.
2. For each request k of the clean run whose op is in ``ops``, and each step in ``actions``,
   one run on a fresh mount of the same tree with the rule
   ``path=P op=O nth=N count=1 action=A``, where P and O are request k's path and op and N
   its place among the clean run's requests of that path and op: the fault hits exactly the
   k-th request, whatever else the program does.
3. A run whose exit status or stdout differ from the clean run's (or that times out) is a
   failing case: printed as a ``FAIL`` line with the rule that reproduces it.

``{mnt}`` in the command's arguments and ``IOFS_MNT`` in its environment name the mount. The
command runs in a session of its own (a timeout kills all of it), and every mount is gone when
the sweep returns, also on Ctrl-C.
"""

from __future__ import annotations

import hashlib
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TextIO

from ..faults.actions import parse_action
from ..faults.ops import FAULTABLE
from ..faults.rules import parse_rule
from ..system import proc
from ..system.mounts import mounts_under
from ..vfs.config import DEFAULT_TREE
from . import client
from .mount import Mount, MountError, toml_text

DEFAULT_OPS = "read,write"
DEFAULT_ACTIONS = "short:1,short:half,eintr:1,eagain,eio,efault"


class SweepError(Exception):
    """A sweep that cannot start (bad arguments, no mount, a clean run that fails to run)."""


@dataclass
class Outcome:
    status: int | None  # None: timed out
    stdout: bytes  # its SHA-256 (a program may write gigabytes)
    stderr: bytes  # its first STDERR_KEPT bytes (the report shows three lines)
    fired: int = 0  # how many times the rule fired

    def same(self, other: Outcome) -> bool:
        return self.status == other.status and self.stdout == other.stdout

    def describe(self, clean: Outcome) -> str:
        parts = []
        if self.status is None:
            parts.append("timed out")
        elif self.status != clean.status:
            parts.append(f"exit {self.status} (clean run: {clean.status})")
        if self.status is not None and self.stdout != clean.stdout:
            parts.append("stdout differs")
        return ", ".join(parts)


@dataclass(frozen=True)
class Case:
    path: str
    op: str
    nth: int
    action: str

    @property
    def rule(self) -> str:
        return f"path={shlex.quote(self.path)} op={self.op} nth={self.nth} count=1 action={self.action}"

    def toml(self) -> str:
        return toml_text({"fault": [{"path": self.path, "op": [self.op], "nth": self.nth,
                                     "count": 1, "seed": 0, "action": self.action}]})


class Sweep:
    """One sweep of ``cmd`` over the tree ``config`` (TOML text, or None: the default tree)."""

    def __init__(self, cmd: list[str], config: str | None, ops: list[str], actions: list[str],
                 max_runs: int | None, timeout: float, jobs: int, out: TextIO = sys.stdout,
                 err: TextIO = sys.stderr) -> None:
        self.cmd, self.config, self.ops, self.actions = cmd, config, ops, actions
        self.max_runs, self.timeout, self.jobs = max_runs, timeout, max(jobs, 1)
        self.out, self.err = out, err
        self.progress = err.isatty()
        self._lock = threading.Lock()
        self._live: set[Mount] = set()
        self._procs: set[subprocess.Popen] = set()
        self._stopping = False
        self.workdir = tempfile.mkdtemp(prefix="iofs-sweep-")
        self.unfired = 0  # faulted runs in which the rule never fired

    # ---- one run ----

    def _run(self, case: Case | None) -> tuple[Outcome, list[dict[str, Any]]]:
        """Run the command on a fresh mount (with the case's rule); its outcome and trace."""
        config = self.config
        if case is not None:
            config = (config if config is not None else DEFAULT_TREE) + "\n" + case.toml()
        base = tempfile.mkdtemp(dir=self.workdir)
        mount = Mount(base, config)
        with self._lock:
            if self._stopping:
                raise KeyboardInterrupt
            self._live.add(mount)
        try:
            try:
                mount.start()
            except MountError as exc:
                raise SweepError(f"cannot mount the tree: {exc}") from None
            mnt = str(mount.path)
            argv = [a.replace("{mnt}", mnt) for a in self.cmd]
            env = dict(os.environ, IOFS_MNT=mnt)
            try:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            except OSError as exc:
                raise SweepError(f"cannot run {argv[0]}: {exc.strerror}") from None
            with self._lock:
                self._procs.add(proc)
            try:
                status, stdout, stderr = _collect(proc, self.timeout)
            finally:
                with self._lock:
                    self._procs.discard(proc)
            trace = client.read_trace(mnt) if case is None else []
            fired = 0
            if case is not None:
                listing = client.list_rules(mnt).split()
                fired = int(listing[1].split("=")[1]) if len(listing) > 1 else 0
            return Outcome(status, stdout, stderr, fired), trace
        finally:
            mount.stop()
            with self._lock:
                self._live.discard(mount)

    # ---- the sweep ----

    def cases(self, trace: list[dict[str, Any]]) -> list[Case]:
        """Every (request, action) of the clean run's requests of the swept ops."""
        seen: dict[tuple[str, str], int] = {}
        requests = []
        for e in trace:
            if "lost" in e:
                raise SweepError("the clean run made more requests than the trace ring holds "
                                 "(raise [options] trace_events)")
            key = (e["path"], e["op"])
            seen[key] = seen.get(key, 0) + 1
            if e["op"] in self.ops:
                requests.append((e["path"], e["op"], seen[key]))
        return [Case(p, o, n, a) for p, o, n in requests for a in self.actions]

    def run(self) -> int:
        t0 = time.monotonic()
        try:
            clean, trace = self._run(None)
            if clean.status is None:
                raise SweepError(f"the clean run timed out after {self.timeout} s")
            again, _ = self._run(None)
            if not again.same(clean):
                raise SweepError("the program's outcome differs between two clean runs "
                                 f"({again.describe(clean)}): a sweep needs a deterministic program")
            cases = self.cases(trace)
            if not cases:
                raise SweepError(f"the clean run made no {','.join(self.ops)} request in the mount: "
                                 "nothing to sweep (does the command name {mnt} or use IOFS_MNT?)")
            budget = len(cases) if self.max_runs is None else min(self.max_runs, len(cases))
            print(f"sweep: clean run exit {clean.status}, {len(cases) // max(len(self.actions), 1)} "
                  f"requests of {','.join(self.ops)} x {len(self.actions)} actions = {len(cases)} cases"
                  + (f" (running {budget}: --max-runs)" if budget < len(cases) else ""),
                  file=self.err, flush=True)
            failures = self._fault_runs(cases[:budget], clean)
        except KeyboardInterrupt:
            self._stop()
            print("\nsweep: interrupted; every mount is gone", file=self.err)
            return 130
        finally:
            self._stop()
            for left in mounts_under(self.workdir):  # never expected; never left behind either
                subprocess.run(["fusermount3", "-u", "-z", left], capture_output=True)
            shutil.rmtree(self.workdir, ignore_errors=True)
        took = time.monotonic() - t0
        print(f"sweep: {budget} runs, {len(failures)} failing, {took:.1f} s"
              + (f", {len(cases) - budget} cases not run" if budget < len(cases) else ""),
              file=self.err, flush=True)
        if self.unfired:
            print(f"sweep: in {self.unfired} runs the rule never fired: the program did not make "
                  "the same requests as in the clean run", file=self.err, flush=True)
        return 1 if failures else 0

    def _fault_runs(self, cases: list[Case], clean: Outcome) -> list[Case]:
        failures: list[Case] = []
        done = 0
        self.unfired = 0
        with ThreadPoolExecutor(self.jobs) as pool:
            pending: dict[Future, Case] = {}
            todo = list(cases)
            try:
                while todo or pending:
                    while todo and len(pending) < self.jobs:
                        case = todo.pop(0)
                        pending[pool.submit(self._run, case)] = case
                    finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        case = pending.pop(fut)
                        outcome, _ = fut.result()
                        done += 1
                        if not outcome.fired:
                            self.unfired += 1
                        if not outcome.same(clean):
                            failures.append(case)
                            self._report(case, outcome, clean)
                        self._tick(done, len(cases), len(failures))
            except BaseException:
                todo.clear()
                for fut in pending:
                    fut.cancel()
                self._stop()
                raise
        if self.progress:
            print(file=self.err)
        return failures

    def _report(self, case: Case, outcome: Outcome, clean: Outcome) -> None:
        lines = [f"FAIL {case.rule}: {outcome.describe(clean)}",
                 f"  reproduce: iofs fault MNT add '{case.rule}'",
                 "  or in the tree:"]
        lines += ["    " + ln for ln in case.toml().strip().splitlines()]
        stderr = outcome.stderr.decode(errors="replace").strip().splitlines()[:3]
        lines += [f"  stderr: {ln}" for ln in stderr]
        with self._lock:
            if self.progress:
                self.err.write("\r\033[K")
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()

    def _tick(self, done: int, total: int, failing: int) -> None:
        if self.progress:
            width = 30
            filled = width * done // max(total, 1)
            self.err.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs, "
                           f"{failing} failing")
            self.err.flush()

    def _stop(self) -> None:
        with self._lock:
            self._stopping = True
            procs, mounts = list(self._procs), list(self._live)
        for child in procs:
            _kill_session(child)
        for mount in mounts:
            mount.stop()


STDERR_KEPT = 64 * 1024
GRACE = 2.0  # how long the output of what was killed may take to end


def _collect(proc: subprocess.Popen, timeout: float) -> tuple[int | None, bytes, bytes]:
    """The program's exit status (None: killed at ``timeout``), the SHA-256 of its stdout and
    the start of its stderr. Once it has exited (or timed out), what is left of it is killed
    (:func:`_kill_session`: a child it left running must not outlive the run, nor hold its
    stdout open until the timeout), and its output is read to the end, or for GRACE s more."""
    digest, err = hashlib.sha256(), bytearray()
    sinks = {proc.stdout.fileno(): digest.update,
             proc.stderr.fileno(): lambda b: err.extend(b[:STDERR_KEPT - len(err)])}
    sel = selectors.DefaultSelector()
    for fd in sinks:
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    status: int | None = None
    ended = None  # when the program exited or was killed
    try:
        while sel.get_map():
            now = time.monotonic()
            if ended is None and (proc.poll() is not None or now >= deadline):
                status, ended = proc.returncode, now
                _kill_session(proc)
            if ended is not None and now >= ended + GRACE:
                break  # a process that cannot be killed holds them: not waited for
            for key, _ in sel.select(0.05 if ended is None else ended + GRACE - now):
                data = os.read(key.fd, 1 << 16)
                if data:
                    sinks[key.fd](data)
                else:
                    sel.unregister(key.fd)
        if ended is None:  # it closed its output and runs on
            try:
                status = proc.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                status = None
            _kill_session(proc)  # (otherwise done when it ended)
        proc.wait()
    finally:
        if proc.returncode is None:  # interrupted (Ctrl-C): the program goes too
            _kill_session(proc)
            proc.wait()
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return status, digest.digest(), bytes(err)


def _kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL the program and all it left: its session (it runs in one of its own) and any
    process holding its stdout or stderr (one that left the session, a daemon).

    A process may fork between a pass over /proc and its kill, so passes repeat until one finds
    nobody left (a bounded number of times: a program forking without end is still killed in
    the passes it gets)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    pipes = set()
    for f in (proc.stdout, proc.stderr):
        try:
            pipes.add(os.readlink(f"/proc/self/fd/{f.fileno()}"))
        except (OSError, ValueError):
            pass
    for _ in range(20):
        left = _leftovers(proc.pid, pipes)
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _leftovers(sid: int, pipes: set[str]) -> list[int]:
    """Live processes (zombies are already dead) in session ``sid`` or holding one of ``pipes``."""
    me = os.getpid()
    found = []
    for pid in proc.pids():
        if pid == me:
            continue
        fields = proc.stat_fields(pid)
        if not fields or fields[proc.STATE] in ("Z", "X"):
            continue
        if fields[proc.SESSION] == str(sid) or (pipes and pipes & set(proc.fd_targets(pid))):
            found.append(pid)
    return found


def parse_lists(ops: str, actions: str) -> tuple[list[str], list[str]]:
    """The --ops and --actions lists, checked by the rule and step parsers (SweepError)."""
    op_list = [o.strip() for o in ops.split(",") if o.strip()]
    bad = [o for o in op_list if o not in FAULTABLE]
    if bad or not op_list:
        raise SweepError(f"unknown op {bad[0] if bad else ''!r} in --ops (ops: {', '.join(FAULTABLE)})")
    act_list = [a.strip() for a in actions.split(",") if a.strip()]
    if not act_list:
        raise SweepError("--actions is empty")
    for a in act_list:
        try:
            parse_action(a)
            parse_rule(f"op={','.join(op_list)} action={a}")
        except ValueError as exc:
            raise SweepError(f"--actions {a}: {exc}") from None
    return op_list, act_list


__all__ = ["Sweep", "SweepError", "Case", "Outcome", "parse_lists", "DEFAULT_OPS", "DEFAULT_ACTIONS"]
