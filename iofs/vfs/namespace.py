"""The namespace a mount serves, behind one small interface: what the FUSE module asks of it,
by inode number and name, with the errno of every failure as ``OSError``. Nothing here knows
FUSE.

A backend implements :class:`Namespace`; the in-memory tree (:mod:`iofs.vfs.memory`) is the
first, a host directory (:mod:`iofs.vfs.host`, routed by :mod:`iofs.vfs.routed`) the second. Every file whose data can be read or written is served by a device
(:class:`~iofs.dev.driver.Device`): a device node by its driver, a regular file by the
backend's own driver, so that every byte moves through the same uio path.

Lifetime: an inode lives while a name, an open file or a kernel lookup reference holds it
(``remember``/``forget`` count the kernel's references, ``opened``/``closed`` the opens).
"""

from __future__ import annotations

import errno
import os
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterator

from ..core.td import Td
from ..dev.driver import Device

NAME_MAX = 255
BLOCK = 4096


def fail(code: int, what: str = "") -> OSError:
    """The OSError a namespace raises: the errno the program is to see."""
    return OSError(code, what or os.strerror(code))


def special_kind(mode: int, rdev: int) -> tuple[int, int]:
    """mknod's ``mode`` and ``rdev`` as a special file's type (FIFO, socket, character or
    block device) and device number (0 but for a device); EINVAL for any other type. (A
    regular file is the caller's: mknod of one is a create.)"""
    kind = stat.S_IFMT(mode)
    if kind not in (stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK):
        raise fail(errno.EINVAL)
    return kind, rdev if kind in (stat.S_IFCHR, stat.S_IFBLK) else 0


@dataclass
class Attributes:
    """What stat(2) shows of an inode. ``cacheable``: the kernel may keep it for the mount's
    attribute timeout (False for a device whose d_size is broken: ask again every time)."""

    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    size: int
    blocks: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    rdev: int = 0
    blksize: int = BLOCK
    cacheable: bool = True


@dataclass
class AttrChanges:
    """What a setattr changes: each field None when it is left alone."""

    size: int | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    atime_ns: int | None = None
    mtime_ns: int | None = None
    ctime_ns: int | None = None


@dataclass
class FsStats:
    """What statfs(2) shows."""

    blocks: int
    bfree: int
    bavail: int
    files: int
    ffree: int
    bsize: int = BLOCK
    namemax: int = NAME_MAX


class Namespace(ABC):
    """The inodes and names of a mount. Node objects are the backend's own; callers pass them
    back, and read ``ino`` and ``is_dir`` of them."""

    root: Any

    @abstractmethod
    def get(self, ino: int) -> Any:
        """The node of inode ``ino``, or ENOENT."""

    def dir(self, ino: int) -> Any:
        """The directory of inode ``ino``: ENOENT, or ENOTDIR for another kind of node."""
        node = self.get(ino)
        if not node.is_dir:
            raise fail(errno.ENOTDIR)
        return node

    @abstractmethod
    def lookup(self, parent: int, name: bytes) -> Any:
        """The node named ``name`` in directory ``parent`` ("." and ".." included)."""

    @abstractmethod
    def remember(self, node: Any) -> None:
        """The kernel took one more lookup reference to ``node`` (a reply that names it)."""

    @abstractmethod
    def forget(self, ino: int, nlookup: int) -> None:
        """The kernel dropped ``nlookup`` references (FUSE FORGET)."""

    @abstractmethod
    def path(self, node: Any) -> str:
        """The node's path relative to the root ("" for the root), as rules name it."""

    @abstractmethod
    def child_path(self, parent: Any, name: bytes) -> str:
        """The path ``name`` has, or would have, in directory ``parent``."""

    @abstractmethod
    def attributes(self, node: Any) -> Attributes:
        """The node's attributes (a device whose d_size is broken: size 0, not cacheable)."""

    @abstractmethod
    async def setattr(self, node: Any, changes: AttrChanges) -> None:
        """Apply ``changes`` (a size change of a regular file truncates it)."""

    @abstractmethod
    def create(self, parent: int, name: bytes, mode: int, td: Td) -> Any:
        """A new regular file (mode already masked by the caller's umask)."""

    @abstractmethod
    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, td: Td) -> Any:
        """A regular file, FIFO, socket, or (inert) device node."""

    @abstractmethod
    def mkdir(self, parent: int, name: bytes, mode: int, td: Td) -> Any: ...

    @abstractmethod
    def symlink(self, parent: int, name: bytes, target: bytes, td: Td) -> Any: ...

    @abstractmethod
    def readlink(self, node: Any) -> bytes:
        """The target of a symbolic link; EINVAL for any other node."""

    @abstractmethod
    def link(self, ino: int, parent: int, name: bytes) -> Any: ...

    @abstractmethod
    def unlink(self, parent: int, name: bytes) -> None: ...

    @abstractmethod
    def rmdir(self, parent: int, name: bytes) -> None: ...

    @abstractmethod
    def rename(self, old_parent: int, old_name: bytes, new_parent: int, new_name: bytes,
               noreplace: bool = False, exchange: bool = False) -> None: ...

    @abstractmethod
    def listing(self, directory: Any, after: int,
                cursor: Any = None) -> Iterator[tuple[bytes, Any, int]]:
        """Entries with a cookie greater than ``after`` in order, "." and ".." first.
        ``cursor`` is the open directory's, where a backend may keep what it needs between
        the calls of one listing (its ``names``)."""

    @abstractmethod
    def statfs(self) -> FsStats: ...

    @abstractmethod
    def device(self, node: Any) -> Device:
        """The device serving a file's data: EISDIR for a directory, ENXIO for a node with
        none (a FIFO or device node made with mknod, a symbolic link)."""

    @abstractmethod
    def opened(self, node: Any) -> None:
        """One more open of ``node``."""

    @abstractmethod
    def closed(self, node: Any) -> None:
        """One open of ``node`` fewer (the node may be freed now)."""

    @abstractmethod
    def synced(self, node: Any) -> None:
        """``node`` was fsynced (a file) or fsyncdir'ed (a directory): the namespace changes
        that makes durable are (``namespace_durability = "fsync"``)."""

    @abstractmethod
    def touched(self, node: Any, mtime: bool = True) -> None:
        """The node's data (``mtime``) or inode changed now: ctime and maybe mtime move."""

    @abstractmethod
    def accessed(self, node: Any) -> None:
        """The node was read now: atime moves."""

    # extended attributes: ENODATA for a missing name, EOPNOTSUPP for a namespace not kept

    @abstractmethod
    def getxattr(self, node: Any, name: bytes) -> bytes: ...

    @abstractmethod
    def setxattr(self, node: Any, name: bytes, value: bytes) -> None: ...

    @abstractmethod
    def listxattr(self, node: Any) -> list[bytes]: ...

    @abstractmethod
    def removexattr(self, node: Any, name: bytes) -> None: ...


__all__ = ["Namespace", "Attributes", "AttrChanges", "FsStats", "fail", "NAME_MAX", "BLOCK"]
