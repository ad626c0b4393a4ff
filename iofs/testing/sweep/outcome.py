"""What a run did, and what a differing run is.

The output of a run is read as it comes (:class:`Capture`): the mount's path is replaced by
``{mnt}`` first, so that a program that prints the path of its input (``md5sum {mnt}/f``,
``grep -H``, ``wc``) gives the same output in every run, whichever worker's mount it ran on;
then it is hashed (SHA-256: a program may write gigabytes) and its first and last KiB kept
(for a diff and for the last lines of a traceback).

A faulted run differs from the clean run when its exit status or its stdout differ, or it was
killed by a signal or at the timeout. A differing run is one of:

* ``silent``: the exit status is the clean run's (or 0), stdout differs, nothing new on stderr:
  the program lied;
* ``loud``: a non-zero exit status where the clean run's was another, or an error message on
  stderr (a line the clean run did not print): usually correct behaviour;
* ``crash``: killed by a signal (named; SIGBUS after a short read is the likely artefact of a
  short read on a file the program had mapped);
* ``hang``: killed at the timeout.

A run that could not be made at all (the mount failed under it) is an ``error``, never a
finding about the program.
"""

from __future__ import annotations

import hashlib
import signal
from dataclasses import dataclass, field
from typing import Any

CLASSES = ("silent", "loud", "crash", "hang", "check")
FAULT_CLASSES = CLASSES[:4]  # what a fault sweep finds
CRASH_CLASSES = ("check", "hang")  # what a crash sweep finds (sweep --crash)
HEAD = 64 * 1024  # bytes of each stream kept from its start
TAIL = 16 * 1024  # and from its end
MNT = b"{mnt}"
MMAP_NOTE = "likely mmap artefact of a short read on a mapped file"


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


@dataclass
class Output:
    """One stream as captured: its SHA-256, size, first and last bytes (``{mnt}`` in place of
    the mount's path)."""

    digest: bytes = b""
    size: int = 0
    head: bytes = b""
    tail: bytes = b""

    @property
    def complete(self) -> bool:
        """Whether :attr:`head` holds all of it."""
        return self.size <= len(self.head)

    def text(self) -> str:
        return self.head.decode(errors="replace")

    def last_lines(self, n: int) -> list[str]:
        return self.tail.decode(errors="replace").rstrip("\n").splitlines()[-n:]


class Capture:
    """A stream read as it comes: ``mnt`` replaced by ``{mnt}``, hashed, head and tail kept."""

    def __init__(self, mnt: str | None) -> None:
        self.pattern = mnt.encode() if mnt else b""
        self.held = b""  # the end of what came, which may begin an occurrence of pattern
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = bytearray()
        self.tail = bytearray()

    def feed(self, data: bytes) -> None:
        if self.pattern:
            data = (self.held + data).replace(self.pattern, MNT)
            keep = _partial_suffix(data, self.pattern)
            self.held = data[len(data) - keep:] if keep else b""
            data = data[:len(data) - keep] if keep else data
        self._take(data)

    def _take(self, data: bytes) -> None:
        if not data:
            return
        self.sha.update(data)
        self.size += len(data)
        if len(self.head) < HEAD:
            self.head += data[:HEAD - len(self.head)]
        self.tail += data[-TAIL:]
        if len(self.tail) > TAIL:
            del self.tail[:len(self.tail) - TAIL]

    def close(self) -> Output:
        self._take(self.held)
        self.held = b""
        return Output(self.sha.digest(), self.size, bytes(self.head), bytes(self.tail))


def _partial_suffix(data: bytes, pattern: bytes) -> int:
    """The length of the longest end of ``data`` that is a proper start of ``pattern``."""
    for k in range(min(len(pattern) - 1, len(data)), 0, -1):
        if data.endswith(pattern[:k]):
            return k
    return 0


@dataclass
class Outcome:
    """One run: ``exit`` (None if a signal ended it), ``signal``, ``timed_out``, the two
    streams, ``seconds`` the program ran, ``fired`` (times the case's rule fired), ``error``
    (the run could not be made), ``timings`` (where the run's time went, in seconds)."""

    exit: int | None
    signal: int | None
    stdout: Output
    stderr: Output
    seconds: float = 0.0
    timed_out: bool = False
    fired: int | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    program: Outcome | None = None  # sweep --crash: this is CHECK's; what the program did

    @classmethod
    def failed(cls, error: str) -> Outcome:
        return cls(None, None, Output(), Output(), error=error)

    def same(self, clean: Outcome) -> bool:
        """Whether the run did what the clean run did (exit status, signal, stdout)."""
        return (not self.timed_out and self.error is None and self.exit == clean.exit
                and self.signal == clean.signal and self.stdout.digest == clean.stdout.digest)

    def status_text(self) -> str:
        if self.timed_out:
            return "timed out"
        if self.signal is not None:
            return f"killed by {signal_name(self.signal)}"
        return f"exit {self.exit}"

    def as_json(self) -> dict[str, Any]:
        return {"exit": self.exit, "signal": signal_name(self.signal) if self.signal else None,
                "timed_out": self.timed_out, "seconds": round(self.seconds, 4),
                "fired": self.fired, "error": self.error,
                "stdout_sha256": self.stdout.digest.hex(), "stdout_bytes": self.stdout.size,
                "stderr_bytes": self.stderr.size,
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                **({"program": self.program.as_json()} if self.program is not None else {})}


def new_stderr(run: Outcome, clean: Outcome) -> list[str]:
    """The lines of the run's stderr that the clean run did not print (all of them, when
    either is too long to compare line by line and they differ)."""
    if run.stderr.digest == clean.stderr.digest:
        return []
    if not (run.stderr.complete and clean.stderr.complete):
        return run.stderr.last_lines(3) or ["(stderr differs)"]
    before = set(clean.stderr.text().splitlines())
    return [ln for ln in run.stderr.text().splitlines() if ln not in before]


def classify(run: Outcome, clean: Outcome, stderr_stable: bool = True) -> str | None:
    """``silent``, ``loud``, ``crash``, ``hang``, ``error``, or None: the run did what the clean
    run did. ``stderr_stable``: whether two clean runs printed the same stderr (if not, stderr
    tells nothing and only the exit status makes a run loud)."""
    if run.error is not None:
        return "error"
    if run.timed_out:
        return "hang"
    if run.same(clean):
        return None
    if run.signal is not None and run.signal != clean.signal:
        return "crash"
    if run.exit != clean.exit and run.exit not in (0, None):
        return "loud"
    if stderr_stable and new_stderr(run, clean):
        return "loud"
    return "silent"


def first_difference(run: Output, clean: Output) -> str:
    """Where stdout first differs, in a few words."""
    a, b = clean.text().splitlines(), run.text().splitlines()
    for k in range(max(len(a), len(b))):
        old = a[k] if k < len(a) else None
        new = b[k] if k < len(b) else None
        if old != new:
            return f"line {k + 1}: {_short(old)} -> {_short(new)}"
    if not (run.complete and clean.complete):
        return f"after the first {HEAD // 1024} KiB"
    return "in its line ends"


def _short(line: str | None, width: int = 40) -> str:
    if line is None:
        return "(none)"
    return repr(line if len(line) <= width else line[:width] + "...")


def describe(cls: str | None, run: Outcome, clean: Outcome, shaped_read: bool = False) -> str:
    """One line: what differs in the run."""
    if cls == "error":
        return f"the run could not be made: {run.error}"
    if cls == "hang":
        return "timed out (killed with all its processes)"
    if cls == "crash":
        name = signal_name(run.signal or 0)
        note = f" ({MMAP_NOTE})" if run.signal == signal.SIGBUS and shaped_read else ""
        return f"killed by {name}{note}"
    parts = []
    if run.exit != clean.exit:
        parts.append(f"{run.status_text()} (clean: {clean.status_text()})")
    else:
        parts.append(f"{run.status_text()} as clean")
    if run.stdout.digest != clean.stdout.digest:
        parts.append("stdout differs at " + first_difference(run.stdout, clean.stdout))
    if cls == "loud":
        said = new_stderr(run, clean)
        if said:
            parts.append(f"stderr: {_short(said[-1], 60)}")
    return ", ".join(parts)


__all__ = ["Output", "Capture", "Outcome", "CLASSES", "FAULT_CLASSES", "CRASH_CLASSES", "classify", "describe", "new_stderr",
           "first_difference", "signal_name", "MMAP_NOTE", "HEAD"]
