"""The inodes of a host directory served by iofs (:mod:`iofs.vfs.host`): a live one holds an
``O_PATH|O_NOFOLLOW`` descriptor of the host's inode (libfuse's passthrough_ll does the same),
through which every operation on it goes; the descriptor is closed when the kernel forgets the
inode and nothing else holds it.

The kernel may hold more inodes than a process may hold descriptors (its dentry cache keeps
every name it has seen, and a readdir hands it every entry listed). :class:`NodeFds` keeps the
descriptors of nodes within a budget: beyond it, the least recently used node that nothing
holds open gives its descriptor back, and gets it again, by its name in its directory, the
next time it is needed (ESTALE if that name is another inode by then).

A node knows the directory and name it was last found under (its path, as fault rules and the
trace name it). A *pinned* node is where a host directory is grafted into the mount (the root
with ``--source``, or a ``[[dir]]`` with ``source``): it lives as long as the mount, and is
linked into the in-memory tree as the in-memory nodes are (``links``), so that the in-memory
namespace finds its path.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import OrderedDict
from typing import Any

O_NODE = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
KEEP_NEWEST = 64  # descriptors an operation may just have taken: never given back at once


def proc_path(fd: int) -> str:
    """The /proc path that reaches the inode of descriptor ``fd`` (an O_PATH descriptor
    cannot be read, written, chmod'ed or chown'ed itself; the inode it names can)."""
    return f"/proc/self/fd/{fd}"


class HostNode:
    """An inode of a host directory. ``fd`` is its O_PATH descriptor (-1 once released);
    ``key`` is ``(st_dev, st_ino)`` on the host; ``mode`` its file type bits."""

    __slots__ = ("ino", "fd", "key", "mode", "lookups", "opens", "parent", "name", "links",
                 "nlink", "atime_ns", "pinned", "_path", "_path_gen")

    host = True
    is_dir = False

    def __init__(self, ino: int, fd: int, key: tuple[int, int], mode: int, parent: Any,
                 name: bytes) -> None:
        self.ino = ino
        self.fd = fd
        self.key = key
        self.mode = stat.S_IFMT(mode)
        self.lookups = 0
        self.opens = 0
        self.parent = parent  # the directory it was last found in (a memory Dir for a graft)
        self.name = name
        self.links: list[tuple[Any, bytes]] = []  # a graft's entry in the in-memory tree
        self.nlink = 0  # (the in-memory tree counts the entries it makes; stat asks the host)
        self.atime_ns = 0  # (set by the read path; the host keeps the real one)
        self.pinned = False
        self._path = ""
        self._path_gen = -1

    def touch(self, mtime: bool = True) -> None:
        """The host filesystem keeps the times of its inodes: nothing to do."""

    @property
    def is_symlink(self) -> bool:
        return self.mode == stat.S_IFLNK


class HostDir(HostNode):
    """A directory. ``overlay`` holds the in-memory nodes shown in it that are not in the host
    directory (the control directory, in a host root): never written into it, and hiding an
    entry of the host directory with the same name."""

    __slots__ = ("overlay",)

    is_dir = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.overlay: dict[bytes, Any] = {}

    def add(self, name: bytes, node: Any) -> None:
        """Show the in-memory ``node`` as ``name`` in this directory (Dir.add's bookkeeping)."""
        self.overlay[name] = node
        node.nlink += 1
        node.links.append((self, name))


class HostFile(HostNode):
    """A regular file: ``dev`` is the device serving its data (a BackedFile driver), made
    the first time it is needed."""

    __slots__ = ("dev",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.dev: Any = None


def node_class(mode: int) -> type[HostNode]:
    """The node class of a host inode of ``mode``."""
    if stat.S_ISDIR(mode):
        return HostDir
    if stat.S_ISREG(mode):
        return HostFile
    return HostNode


class NodeFds:
    """The O_PATH descriptors of the nodes of one mount, at most ``budget`` of them open."""

    def __init__(self, budget: int) -> None:
        self.budget = max(budget, 2 * KEEP_NEWEST)
        self.hot: OrderedDict[HostNode, None] = OrderedDict()  # least recently used first

    def get(self, node: HostNode) -> int:
        """The node's descriptor (used now: the last to be given back)."""
        fd = node.fd
        if fd >= 0:
            self.hot.move_to_end(node)
            return fd
        return self._reopen(node)

    def _reopen(self, node: HostNode) -> int:
        parent = node.parent
        if parent is None or not getattr(parent, "host", False) or not node.name:
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE))
        try:
            fd = os.open(node.name, O_NODE, dir_fd=self.get(parent))
        except FileNotFoundError:
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE)) from None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != node.key:
            os.close(fd)
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE))
        self.add(node, fd)
        return fd

    def add(self, node: HostNode, fd: int) -> None:
        node.fd = fd
        self.hot[node] = None
        if len(self.hot) > self.budget:
            self._give_back()

    def drop(self, node: HostNode) -> None:
        """Close the node's descriptor, if it has one."""
        fd, node.fd = node.fd, -1
        if fd >= 0:
            self.hot.pop(node, None)
            os.close(fd)

    def _give_back(self) -> None:
        """Close the descriptors of the least recently used nodes nothing holds, down to three
        quarters of the budget (an open file, a graft point, a file with unsynced changes keep
        theirs; the newest few are never reached)."""
        hot = self.hot
        target = self.budget * 3 // 4
        passes = len(hot) - KEEP_NEWEST
        while len(hot) > target and passes > 0:
            passes -= 1
            node = next(iter(hot))
            dev = getattr(node, "dev", None)
            if node.opens or node.pinned or (dev is not None and dev.driver.journal is not None
                                             and dev.driver.dirty()):
                hot.move_to_end(node)
                continue
            self.drop(node)


__all__ = ["HostNode", "HostDir", "HostFile", "NodeFds", "node_class", "proc_path", "O_NODE"]
