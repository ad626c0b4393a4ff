"""What is mounted where, from ``/proc/self/mountinfo``."""

from __future__ import annotations

import os


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040)
    return field.encode().decode("unicode_escape") if "\\" in field else field


def _entries() -> list[tuple[str, str, set[str], str]]:
    """(mount point, type, per-mount options, source) of every mount, in mount order."""
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        tail = right.split()
        if len(fields) >= 6:
            out.append((_unescape(fields[4]), tail[0] if tail else "?", set(fields[5].split(",")),
                        _unescape(tail[1]) if len(tail) > 1 else ""))
    return out


def _topmost(path: str) -> tuple[str, str, set[str], str] | None:
    found = None
    for entry in _entries():
        if entry[0] == path:
            found = entry  # a later mount at the same point covers the earlier one
    return found


def mount_type(path: str) -> str | None:
    """The filesystem type mounted exactly at ``path`` (the topmost mount), or None."""
    entry = _topmost(path)
    return entry[1] if entry else None


def mount_options(path: str) -> set[str]:
    """The per-mount options (rw, nodev, nosuid, ...) of the mount at ``path``."""
    entry = _topmost(path)
    return entry[2] if entry else set()


def mounts_under(directory: str | os.PathLike) -> list[str]:
    """Mount points (of any filesystem) at or below ``directory``."""
    prefix = os.path.join(os.path.abspath(directory), "")
    return [p for p, *_ in _entries() if os.path.join(p, "").startswith(prefix)]


def mount_of(path: str) -> str | None:
    """The mount point of the filesystem that holds ``path`` (resolved), or None."""
    real = os.path.realpath(path)
    best = None
    for point, *_ in _entries():
        if real == point or real.startswith(os.path.join(point, "")):
            if best is None or len(point) >= len(best):
                best = point
    return best


def mounts_of_type(fstype: str) -> list[str]:
    """Mount points of filesystems of type ``fstype`` (``cgroup2``, ``fuse.iofs``), in mount
    order."""
    return [p for p, t, *_ in _entries() if t == fstype]


__all__ = ["mount_type", "mount_options", "mounts_under", "mount_of", "mounts_of_type"]
