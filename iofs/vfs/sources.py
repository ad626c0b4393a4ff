"""What a mount takes from the host: the directories it serves (``--source DIR``, a
``[[dir]]`` with ``source``) and the files a ``[[file]]`` is made from. Each is checked before
anything is mounted; a problem is one line (:class:`SourceError`, which the config and the
command turn into theirs).

A host directory must exist, be a directory, and be readable by the daemon. It may not be
inside the mount point (the daemon would serve its own mount point to itself, and wait for
itself forever), nor contain it (the same loop, one level down: a lookup of the mount point
through the host directory enters the mount). Another FUSE mount, another iofs mount
included, is a directory like any other: its own daemon serves it, so a mount can be stacked
on another (the lower one's faults reach the upper one's programs as errors of the host).
"""

from __future__ import annotations

import os
import stat


class SourceError(ValueError):
    """A host directory or file that cannot be used: the message is one line."""


def _resolved(value: object, base: str | None, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise SourceError(f"{what} must be a path (a string)")
    if "\0" in value:
        raise SourceError(f"{what} {value!r} contains a NUL byte")
    path = os.path.join(base, value) if base and not os.path.isabs(value) else value
    return os.path.realpath(os.path.abspath(path))


def host_dir(value: object, base: str | None = None, what: str = "source") -> str:
    """The real path of the host directory ``value`` (relative to ``base``, the directory of
    the config that names it), checked: SourceError if missing, not a directory or
    unreadable."""
    path = _resolved(value, base, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == 20:  # ENOTDIR
            raise SourceError(f"{what} {value}: not a directory") from None
        raise SourceError(f"{what} {value}: {exc.strerror}") from None
    try:
        with os.scandir(fd) as entries:
            next(entries, None)
    except OSError as exc:
        raise SourceError(f"{what} {value}: cannot read it: {exc.strerror}") from None
    finally:
        os.close(fd)
    return path


def host_file(value: object, base: str | None, limit: int, what: str = "source") -> bytes:
    """The bytes of the host regular file ``value`` (relative to ``base``), at most
    ``limit`` of them: SourceError if missing, not a regular file, unreadable or larger."""
    path = _resolved(value, base, what)
    try:  # O_NONBLOCK: a FIFO must not hang the command
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SourceError(f"{what} {value}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"{what} {value}: not a regular file")
        if st.st_size > limit:
            raise SourceError(f"{what} {value}: {st.st_size} bytes, more than max_memory "
                              f"({limit})")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise SourceError(f"{what} {value}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if total > limit:
        raise SourceError(f"{what} {value}: more than max_memory ({limit} bytes)")
    return b"".join(chunks)


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def check_against_mountpoint(sources: list[str], mountpoint: str) -> None:
    """SourceError if a host directory is inside the mount point, or holds it."""
    mp = os.path.realpath(mountpoint) if os.path.exists(mountpoint) else mountpoint
    for src in sources:
        if _within(src, mp):
            raise SourceError(f"source {src} is inside the mount point {mountpoint}")
        if _within(mp, src):
            raise SourceError(f"source {src} holds the mount point {mountpoint} (the daemon "
                              "would look itself up through it)")


__all__ = ["SourceError", "host_dir", "host_file", "check_against_mountpoint"]
