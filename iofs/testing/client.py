"""Talking to a running mount through its control directory: what ``iofs fault``, ``iofs
trace`` and the pytest plugin use. Every failure is a :class:`ControlError` with one line.

The protocol is the control files' own (see :mod:`iofs.faults.control`): a rule line written
to ``faults`` adds it, and a read on the same open returns its id; ``clear`` and ``-ID``
remove rules; a read of a fresh open lists them. ``trace`` is read as JSON lines.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any, Iterator

from ..faults.rules import parse_rule
from ..vfs.control_dir import DEFAULT_NAME


class ControlError(Exception):
    """A mount that cannot be steered, or a request it refused: the message is one line.
    ``usage`` is True when the caller's input was at fault (exit status 2)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def control_dir(mountpoint: str | os.PathLike, name: str = DEFAULT_NAME) -> Path:
    """The control directory of the iofs mount at ``mountpoint``."""
    d = Path(mountpoint) / name
    try:
        os.stat(d / "faults")
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            raise ControlError(f"the daemon of {mountpoint} is gone (run: iofs umount "
                               f"{mountpoint})") from None
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise ControlError(f"cannot reach {d}: {exc.strerror}") from None
        raise ControlError(f"{mountpoint} has no control directory {name} "
                           "(is it an iofs mount, mounted with control on?)") from None
    return d


def _transact(path: Path, text: str, reply: bool = True) -> str:
    """Write ``text`` to a control file and read the reply on the same open."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise ControlError(f"cannot open {path}: {exc.strerror}") from None
    try:
        try:
            os.write(fd, text.encode())
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise ControlError(f"{path.parent.parent} refused {text.strip()!r} (its log says why)",
                                   usage=True) from None
            if exc.errno == errno.ENOENT:
                raise ControlError(f"no such rule: {text.strip()[1:]}") from None
            if exc.errno == errno.ENOSPC:
                raise ControlError(f"{path.parent.parent} holds its max_rules already (raise "
                                   "[options] max_rules, or remove rules)", usage=True) from None
            raise ControlError(f"writing {path}: {exc.strerror}") from None
        return _read_all(fd) if reply else ""
    finally:
        os.close(fd)


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks).decode("utf-8", "surrogateescape")
        chunks.append(chunk)


def add_rule(mountpoint: str | os.PathLike, rule: str, control: str = DEFAULT_NAME) -> int:
    """Add the rule written as ``rule`` (one line of key=value tokens); its id."""
    try:
        parse_rule(rule)  # the daemon's own parser: a bad token is named here, not in its log
    except ValueError as exc:
        raise ControlError(f"bad rule: {exc}", usage=True) from None
    if "\n" in rule:
        raise ControlError("a rule is one line", usage=True)
    reply = _transact(control_dir(mountpoint, control) / "faults", rule + "\n")
    return int(reply.split()[0])


def list_rules(mountpoint: str | os.PathLike, control: str = DEFAULT_NAME) -> str:
    """The active rules, one line each: ``ID hits=N RULE``."""
    path = control_dir(mountpoint, control) / "faults"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ControlError(f"cannot open {path}: {exc.strerror}") from None
    try:
        return _read_all(fd)
    finally:
        os.close(fd)


def clear_rules(mountpoint: str | os.PathLike, rule_id: int | None = None,
                control: str = DEFAULT_NAME) -> None:
    """Remove the rule ``rule_id``, or every rule."""
    _transact(control_dir(mountpoint, control) / "faults",
              "clear\n" if rule_id is None else f"-{rule_id}\n")


def set_detail(mountpoint: str | os.PathLike, on: bool, control: str = DEFAULT_NAME) -> None:
    """Turn the uio detail of read and write trace events on or off."""
    _transact(control_dir(mountpoint, control) / "trace", "detail=1\n" if on else "detail=0\n",
              reply=False)


class TraceReader:
    """An open of the mount's trace: :meth:`events` yields what the ring holds from where
    this reader is (the oldest event kept, at first), as mappings; with ``follow`` it waits
    for more at the end, else it stops there."""

    def __init__(self, mountpoint: str | os.PathLike, follow: bool = False,
                 control: str = DEFAULT_NAME) -> None:
        path = control_dir(mountpoint, control) / "trace"
        try:
            self.fd = os.open(path, os.O_RDONLY | (0 if follow else os.O_NONBLOCK))
        except OSError as exc:
            raise ControlError(f"cannot open {path}: {exc.strerror}") from None
        self._tail = b""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def lines(self) -> Iterator[bytes]:
        """The raw JSON lines, as they come."""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                raise ControlError(f"reading the trace: {exc.strerror}") from None
            if not chunk:
                return
            data = self._tail + chunk
            *whole, self._tail = data.split(b"\n")
            yield from (line for line in whole if line)

    def events(self) -> Iterator[dict[str, Any]]:
        for line in self.lines():
            yield json.loads(line)


def crash(mountpoint: str | os.PathLike, seed: int | None = None,
          control: str = DEFAULT_NAME) -> list[str]:
    """Revert every regular file to its durable state (torn by ``seed``); the paths changed."""
    path = control_dir(mountpoint, control) / "crash"
    if not path.exists():
        raise ControlError(f"{mountpoint} was not mounted with [options] durability = true")
    reply = _transact(path, "crash\n" if seed is None else f"torn {seed}\n")
    return reply.splitlines()


def restart(mountpoint: str | os.PathLike, control: str = DEFAULT_NAME) -> None:
    """Serve again after a crash point, from the durable state of the crash."""
    path = control_dir(mountpoint, control) / "crash"
    if not path.exists():
        raise ControlError(f"{mountpoint} was not mounted with [options] durability = true")
    _transact(path, "restart\n", reply=False)


def unsynced(mountpoint: str | os.PathLike, control: str = DEFAULT_NAME) -> list[tuple[int, str]]:
    """(unsynced bytes, path) of every regular file a crash would change."""
    path = control_dir(mountpoint, control) / "unsynced"
    if not path.exists():
        raise ControlError(f"{mountpoint} was not mounted with [options] durability = true")
    out = []
    for line in path.read_bytes().decode("utf-8", "surrogateescape").splitlines():
        n, _, p = line.partition(" ")
        out.append((int(n), p))
    return out


def reset(mountpoint: str | os.PathLike, control: str = DEFAULT_NAME) -> None:
    """Make the mount as it was mounted: the tree from its config, its rules, an empty trace."""
    _transact(control_dir(mountpoint, control) / "reset", "reset\n", reply=False)


def read_trace(mountpoint: str | os.PathLike, control: str = DEFAULT_NAME) -> list[dict[str, Any]]:
    """Every event the trace ring holds now."""
    with TraceReader(mountpoint, control=control) as reader:
        return list(reader.events())


__all__ = ["ControlError", "control_dir", "add_rule", "list_rules", "clear_rules", "set_detail",
           "TraceReader", "read_trace", "crash", "restart", "unsynced", "reset"]
