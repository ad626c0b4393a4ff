"""Where a mount keeps its pid file and log: the state directory, checked so that no other
user can swap a file under us.

The directory is ``/run/iofs`` for root, else ``$XDG_RUNTIME_DIR/iofs`` (when that is set and
passes the checks) or ``/tmp/iofs-UID``. Every component of its path is checked, from ``/``
down, through descriptors opened with ``O_NOFOLLOW`` (so nothing can be renamed or relinked
between a check and the use): each parent must be owned by root or by us and not writable by
others unless sticky, and the directory itself must be ours and not writable by others (not
readable either, for a user). Files inside are opened relative to the checked descriptor,
never through a symbolic link. Any failure is a :class:`StateError` with one line.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

_dir: tuple[str, int, int] | None = None  # (path, descriptor, euid) of the checked directory


class StateError(Exception):
    """The state directory or one of its files cannot be used safely: one line."""


def _check_parent(st: os.stat_result, uid: int, where: str) -> None:
    if st.st_uid not in (0, uid):
        raise StateError(f"{where} belongs to uid {st.st_uid}: refusing to keep pid and log "
                         "files below it")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise StateError(f"{where} may be changed by other users: refusing to keep pid and "
                         "log files below it")


def _check_own(st: os.stat_result, uid: int, where: str) -> None:
    others = 0o022 if uid == 0 else 0o077
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & others:
        raise StateError(f"state directory {where} is not a directory of yours that only you "
                         f"can {'change' if uid == 0 else 'use'} (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid}): refusing to keep "
                         "pid and log files there")


def _step(fd: int, part: str, where: str) -> tuple[int, str]:
    """Open ``part`` below the directory ``fd`` without following a link; ``fd`` is closed
    once that succeeded (the caller closes it if this raises)."""
    where = f"{where.rstrip('/')}/{part}"
    try:
        nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                      dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise StateError(f"{where} is not a directory (a symbolic link?): refusing to keep "
                             "pid and log files there") from None
        raise StateError(f"cannot use {where}: {exc.strerror}") from None
    os.close(fd)
    return nxt, where


def _open_checked(base: str, name: str, uid: int) -> int:
    """A descriptor of ``base/name``, every component checked; made (0700/0755) if missing."""
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    where = "/"
    try:
        _check_parent(os.fstat(fd), uid, where)
        for part in [p for p in base.split("/") if p]:
            fd, where = _step(fd, part, where)
            _check_parent(os.fstat(fd), uid, where)
        try:
            os.mkdir(name, 0o755 if uid == 0 else 0o700, dir_fd=fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StateError(f"cannot make the state directory {where}/{name}: "
                             f"{exc.strerror}") from None
        try:  # ownership first: a directory we may not even open is refused as not ours
            _check_own(os.stat(name, dir_fd=fd, follow_symlinks=False), uid,
                       f"{where.rstrip('/')}/{name}")
        except FileNotFoundError:
            pass  # removed since the mkdir: the open below says so
        fd, where = _step(fd, name, where)
        _check_own(os.fstat(fd), uid, where)  # and again on what was opened
        return fd
    except BaseException:
        os.close(fd)
        raise


def _location(uid: int) -> tuple[str, str]:
    """(parent, name) of the state directory. Where $XDG_RUNTIME_DIR is set, it is used or
    refused, never silently replaced by another place."""
    if uid == 0:
        return "/run", "iofs"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.realpath(runtime), "iofs"
    return os.path.realpath("/tmp"), f"iofs-{uid}"


def state_dir() -> tuple[str, int]:
    """The checked state directory: ``(path, descriptor)``; StateError if it is not safe."""
    global _dir
    uid = os.geteuid()
    if _dir is not None and _dir[2] == uid:
        return _dir[0], _dir[1]
    base, name = _location(uid)
    fd = _open_checked(base, name, uid)
    _dir = (os.path.join(base, name), fd, uid)
    return _dir[0], fd


def state_name(mountpoint: str, suffix: str) -> str:
    """The name of a mount's state file in the state directory (``tag-digest.suffix``)."""
    tag = mountpoint.strip("/").replace("/", "_")[-60:] or "root"
    digest = hashlib.sha1(mountpoint.encode()).hexdigest()[:8]
    return f"{tag}-{digest}.{suffix}"


def state_path(mountpoint: str, suffix: str) -> str:
    """The path of a mount's pid (``suffix`` "pid") or log ("log") file, for messages."""
    return os.path.join(state_dir()[0], state_name(mountpoint, suffix))


def open_state_file(mountpoint: str, suffix: str, flags: int, mode: int = 0o600) -> int:
    """Open a mount's state file relative to the checked directory, never through a link."""
    _, dfd = state_dir()
    name = state_name(mountpoint, suffix)
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StateError(f"{name} in the state directory is a symbolic link: refusing to "
                             "follow it") from None
        raise StateError(f"cannot open {name} in the state directory: {exc.strerror}") from None


def write_pid_file(mountpoint: str, pid: int, start: int | None) -> None:
    """Record the daemon of ``mountpoint``: its pid and start time."""
    fd = open_state_file(mountpoint, "pid", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(f"{pid} {start}\n")


def read_pid_file(mountpoint: str) -> tuple[int, int | None] | None:
    """``(pid, start time)`` from the pid file of ``mountpoint``, or None."""
    try:
        fd = open_state_file(mountpoint, "pid", os.O_RDONLY)
    except StateError:
        return None
    with os.fdopen(fd) as f:
        words = f.read().split()
    try:
        return int(words[0]), (int(words[1]) if len(words) > 1 and words[1] != "None" else None)
    except (IndexError, ValueError):
        return None


def remove_pid_file(mountpoint: str) -> None:
    try:
        os.unlink(state_name(mountpoint, "pid"), dir_fd=state_dir()[1])
    except (OSError, StateError):
        pass


def open_nofollow(path: str, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a symbolic link at ``path`` (StateError with one line)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StateError(f"{path} is a symbolic link: refusing to follow it") from None
        raise StateError(f"cannot open {path}: {exc.strerror}") from None


__all__ = ["StateError", "state_dir", "state_name", "state_path", "open_state_file",
           "write_pid_file", "read_pid_file", "remove_pid_file", "open_nofollow"]
