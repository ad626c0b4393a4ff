"""Can a FUSE filesystem be mounted here? Checked before anything is started, so that the
answer is one clear line instead of libfuse's."""

from __future__ import annotations

import errno
import os
import shutil

from .mounts import mount_type
from .proc import has_capability

CAP_SYS_ADMIN = 21


class PreflightError(Exception):
    """Mounting cannot work: one line. ``unavailable`` when this machine cannot mount at all
    (no /dev/fuse, no permission), as opposed to a problem with the mount point."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


def check_mount_point(mountpoint: str) -> None:
    """The mount point exists, is a directory and has no FUSE mount on it."""
    try:
        os.stat(mountpoint)
    except FileNotFoundError:
        raise PreflightError(f"mount point {mountpoint} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            raise PreflightError(f"{mountpoint} is a mount whose daemon is gone "
                                 f"(run: iofs umount {mountpoint})") from None
        raise PreflightError(f"cannot use mount point {mountpoint}: {exc.strerror}") from None
    if not os.path.isdir(mountpoint):
        raise PreflightError(f"mount point {mountpoint} is not a directory")
    kind = mount_type(mountpoint)
    if kind is not None and kind.startswith("fuse"):
        raise PreflightError(f"{mountpoint} is already mounted ({kind}; run: iofs umount "
                             f"{mountpoint})")


def check_fuse(mountpoint: str, allow_other: bool) -> None:
    """/dev/fuse can be opened and this user may mount (PreflightError, unavailable)."""
    if not os.path.exists("/dev/fuse"):
        raise PreflightError("/dev/fuse is missing (in a container: run with --device /dev/fuse)",
                             True)
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as exc:
        raise PreflightError(f"cannot open /dev/fuse: {exc.strerror} "
                             "(in a container: run with --device /dev/fuse)", True) from None
    if os.geteuid() == 0:
        if not has_capability(CAP_SYS_ADMIN):
            raise PreflightError("mounting needs CAP_SYS_ADMIN (in a container: run with "
                                 "--cap-add SYS_ADMIN)", True)
        return
    if not os.access(mountpoint, os.W_OK):
        raise PreflightError(f"no write access to mount point {mountpoint} (fusermount3 "
                             "requires it)", True)
    if shutil.which("fusermount3") is None:
        raise PreflightError("mounting as a non-root user needs fusermount3 (Debian package "
                             "fuse3)", True)
    if allow_other and not _user_allow_other():
        raise PreflightError("--allow-other as a non-root user needs user_allow_other in "
                             "/etc/fuse.conf", True)


def preflight(mountpoint: str, allow_other: bool) -> None:
    """Raise PreflightError with one clear line if mounting at ``mountpoint`` cannot work."""
    check_mount_point(mountpoint)
    check_fuse(mountpoint, allow_other)


def _user_allow_other() -> bool:
    try:
        with open("/etc/fuse.conf") as f:
            return any(line.strip() == "user_allow_other" for line in f)
    except OSError:
        return False


__all__ = ["PreflightError", "preflight", "check_mount_point", "check_fuse"]
