"""The inodes of the in-memory tree: directories, files served by a device, symbolic links
and the inert nodes mknod makes. Every node knows the names it is linked under, so it has a
path (the most recent link, relative to the root, as fault rules and the trace name it)."""

from __future__ import annotations

import bisect
import stat
import time
from typing import Iterator

from ..dev.driver import Device


def walk_path(node: Node) -> str:
    """The path of ``node`` through its most recent links ("" for the root)."""
    parts = []
    while node.links:
        node, name = node.links[-1]
        parts.append(name.decode(errors="surrogateescape"))
    return "/".join(reversed(parts))


def joined(path: str, name: bytes) -> str:
    name_s = name.decode(errors="surrogateescape")
    return f"{path}/{name_s}" if path else name_s


class Node:
    """An inode. ``mode`` includes the file type bits.

    ``links`` are the (directory, name) entries that name it, oldest first (a directory has
    one); ``xattrs`` its extended attributes (None until the first is set).
    """

    __slots__ = ("ino", "mode", "uid", "gid", "nlink", "atime_ns", "mtime_ns", "ctime_ns",
                 "lookups", "opens", "holds", "links", "xattrs", "_path", "_path_gen")

    def __init__(self, ino: int, mode: int, uid: int, gid: int) -> None:
        now = time.time_ns()
        self.ino = ino
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.nlink = 0
        self.atime_ns = self.mtime_ns = self.ctime_ns = now
        self.lookups = 0
        self.opens = 0
        self.holds = 0  # changes a crash may undo that need it kept (a removed name's inode)
        self.links: list[tuple[Dir, bytes]] = []
        self.xattrs: dict[bytes, bytes] | None = None
        self._path = ""
        self._path_gen = -1

    def touch(self, mtime: bool = True) -> None:
        now = time.time_ns()
        self.ctime_ns = now
        if mtime:
            self.mtime_ns = now

    is_dir = False
    host = False  # (a node of a host directory says True: iofs.vfs.host_nodes)


class Dir(Node):
    __slots__ = ("entries", "cookies", "order", "stale", "next_cookie", "parent", "sealed")

    def __init__(self, ino: int, mode: int, uid: int, gid: int, parent: Dir | None) -> None:
        super().__init__(ino, stat.S_IFDIR | (mode & 0o7777), uid, gid)
        self.entries: dict[bytes, Node] = {}
        self.cookies: dict[bytes, int] = {}
        # (cookie, name) in cookie order, so that readdir finds where to go on by bisection
        # (a scan from the start would make listing a big directory quadratic); removed names
        # stay in it until they are half of it
        self.order: list[tuple[int, bytes]] = []
        self.stale = 0
        self.next_cookie = 3  # 1 and 2 are "." and ".."
        self.parent = parent if parent is not None else self
        self.nlink = 2
        self.sealed = False  # True: programs may not add, remove or rename its entries, or it

    is_dir = True

    def add(self, name: bytes, node: Node) -> None:
        self.entries[name] = node
        self.cookies[name] = self.next_cookie
        self.order.append((self.next_cookie, name))
        self.next_cookie += 1
        node.nlink += 1
        node.links.append((self, name))
        if isinstance(node, Dir):
            self.nlink += 1
            node.parent = self
        self.touch()

    def remove(self, name: bytes) -> Node:
        node = self.entries.pop(name)
        del self.cookies[name]
        self.stale += 1
        if self.stale > 64 and self.stale > len(self.cookies):
            self.order = [(cookie, n) for n, cookie in self.cookies.items()]  # in cookie order
            self.stale = 0
        node.nlink -= 1
        node.links.remove((self, name))
        if not node.links:  # unlinked: it keeps the path it had (the trace shows what it was)
            node._path = joined(walk_path(self), name)
            node._path_gen = -2
        if isinstance(node, Dir):
            self.nlink -= 1
            node.nlink -= 1  # its "." entry goes with it
        node.touch(mtime=False)
        self.touch()
        return node

    def listing(self, after: int) -> Iterator[tuple[bytes, Node, int]]:
        """Entries with a cookie greater than ``after``, in cookie order, "." and ".." first."""
        if after < 1:
            yield b".", self, 1
        if after < 2:
            yield b"..", self.parent, 2
        order = self.order  # the list of this call: a compaction meanwhile makes a new one
        i = bisect.bisect_right(order, after, key=lambda entry: entry[0])
        while i < len(order):
            cookie, name = order[i]
            i += 1
            if self.cookies.get(name) == cookie:  # not removed (nor removed and made again)
                yield name, self.entries[name], cookie


class File(Node):
    """A node served by a device: a device node, or a regular file (``dev.regular``)."""

    __slots__ = ("dev",)

    def __init__(self, ino: int, dev: Device) -> None:
        super().__init__(ino, stat.S_IFREG | (dev.mode & 0o7777), dev.uid, dev.gid)
        self.dev = dev


class Symlink(Node):
    __slots__ = ("target",)

    def __init__(self, ino: int, target: bytes, uid: int, gid: int) -> None:
        super().__init__(ino, stat.S_IFLNK | 0o777, uid, gid)
        self.target = target



class Special(Node):
    """A FIFO, socket, or character or block device node made with mknod: the kernel serves
    its I/O, iofs only names it (``rdev`` is st_rdev). The mount is nodev, so a device node
    made here can never be opened into a device of the host."""

    __slots__ = ("rdev",)

    def __init__(self, ino: int, mode: int, uid: int, gid: int, rdev: int = 0) -> None:
        super().__init__(ino, mode, uid, gid)
        self.rdev = rdev


__all__ = ["Node", "Dir", "File", "Symlink", "Special", "walk_path", "joined"]
