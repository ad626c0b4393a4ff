"""The one reader of ``/proc``: what the kernel says about a process, read without following
anything a process could swap under us, and never raising for a process that is gone.

``/proc/PID/stat`` is parsed here and only here: its second field (the command name) may
contain spaces and parentheses, so the fields are those after the *last* ``)``.
"""

from __future__ import annotations

import os

# indexes into stat_fields(): the fields after "(comm)", numbered from 0 (man 5 proc: 3..)
STATE, PPID, PGRP, SESSION, START_TIME = 0, 1, 2, 3, 19

SIGKILL_BIT = 1 << 8  # SIGKILL (9) in a /proc signal mask


def read(pid: int | str, name: str, limit: int = 1 << 16) -> bytes | None:
    """The bytes of ``/proc/PID/NAME`` (at most ``limit``), or None if it cannot be read."""
    try:
        fd = os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (``[STATE]`` is the state
    letter), or None if the process is gone."""
    raw = read(pid, "stat", 4096)
    if not raw:
        return None
    _, paren, rest = raw.rpartition(b")")
    if not paren:
        return None
    return rest.decode(errors="replace").split()


def stat_number(pid: int | str, index: int) -> int | None:
    """One numeric field of ``/proc/PID/stat`` (PPID, SESSION, START_TIME, ...), or None."""
    fields = stat_fields(pid)
    try:
        return int(fields[index]) if fields else None
    except (IndexError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process: it exists and is not a zombie."""
    fields = stat_fields(pid)
    return bool(fields) and fields[STATE] not in ("Z", "X")


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot: with the pid, it names one process
    for good (a recycled pid has another start time)."""
    return stat_number(pid, START_TIME)


def status(pid: int | str) -> bytes | None:
    """The text of ``/proc/PID/status``, or None if the process is gone."""
    return read(pid, "status", 8192)


def status_field(text: bytes, name: bytes) -> bytes:
    """The value after ``name`` (``b"Tgid:"``) in a status text, stripped; b"" if absent."""
    if text.startswith(name):
        i = 0
    else:
        i = text.find(b"\n" + name)
        if i < 0:
            return b""
        i += 1
    end = text.find(b"\n", i)
    return text[i + len(name):end if end >= 0 else len(text)].strip()


def status_mask(text: bytes, name: bytes) -> int:
    """A hexadecimal signal or capability mask of a status text (0 if absent or unreadable)."""
    try:
        return int(status_field(text, name) or b"0", 16)
    except ValueError:
        return 0


def status_number(pid: int | str, name: str, key: str) -> int | None:
    """The number after ``key:`` in ``/proc/PID/NAME`` (status, io), None without it."""
    raw = read(pid, name)
    if raw is None:
        return None
    value = status_field(raw, key.encode() + b":").split()
    try:
        return int(value[0]) if value else None
    except ValueError:
        return None


def tgid(tid: int) -> int | None:
    """The process (thread group) of thread ``tid``, or None if it is gone."""
    text = status(tid)
    try:
        return int(status_field(text, b"Tgid:")) if text else None
    except ValueError:
        return None


def comm(pid: int) -> bytes | None:
    """The command name as the kernel keeps it (at most 15 bytes), or None."""
    raw = read(pid, "comm", 64)
    return raw.rstrip(b"\n") if raw is not None else None


def cmdline(pid: int) -> list[bytes] | None:
    """The arguments of ``pid``, or None if it is gone."""
    raw = read(pid, "cmdline", 1 << 20)
    return raw.split(b"\0")[:-1] if raw else None


def cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def fd_targets(pid: int) -> list[str]:
    """What the open descriptors of ``pid`` point at ([] if it is gone)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    out = []
    for fd in fds:
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return out


def tasks(pid: int) -> list[int] | None:
    """The thread ids of process ``pid``, or None if it is gone."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task") if t.isdigit()]
    except OSError:
        return None


def pids() -> list[int]:
    """Every process id now in /proc."""
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def has_capability(cap: int) -> bool:
    """Whether this process holds capability ``cap`` (True if /proc cannot tell: let the
    operation itself say)."""
    text = status("self")
    if text is None or not status_field(text, b"CapEff:"):
        return True
    return bool(status_mask(text, b"CapEff:") >> cap & 1)


__all__ = ["read", "stat_fields", "stat_number", "alive", "start_time", "status", "status_field",
           "status_mask", "status_number", "tgid", "comm", "cmdline", "cwd", "fd_targets", "tasks", "pids",
           "has_capability", "STATE", "PPID", "PGRP", "SESSION", "START_TIME", "SIGKILL_BIT"]
