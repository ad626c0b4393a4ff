"""The in-memory tree: the first backend of :class:`~iofs.vfs.namespace.Namespace`, kept as
tmpfs keeps its files.

An inode, and a regular file's memory, live while a directory entry, an open file or a kernel
lookup reference holds it: a file unlinked while the kernel still holds it (an open
descriptor, an ``O_PATH`` descriptor, a cwd) keeps its data until the kernel forgets it. Every
inode counts against ``max_inodes`` (and every extra hard link, as tmpfs counts them).
"""

from __future__ import annotations

import errno
import stat
import time
from typing import Any, Callable, Iterator

from ..core.td import Td
from ..core.uio import OFF_MAX
from ..dev.driver import Device
from ..dev.guard import call, call_size
from . import memory_changes as recorded, xattr
from .namespace import (BLOCK, NAME_MAX, Attributes, AttrChanges, FsStats, Namespace, fail,
                        special_kind)
from .nodes import Dir, File, Node, Special, Symlink, joined, walk_path
from .pool import MemoryPool
from .regular import RegularFile

ROOT_INO = 1
MAX_INODES = 1 << 20


class MemoryNamespace(Namespace):
    """The inode table and the directory tree rooted at inode 1, all in the daemon's memory.

    Regular files are :class:`~iofs.vfs.regular.RegularFile` devices drawing on ``pool``;
    ``journals`` (the crash plane's, or None) gives each its journal. A *sealed* directory
    (the control directory) cannot be changed by programs: EPERM.
    """

    def __init__(self, pool: MemoryPool, max_file_size: int = OFF_MAX,
                 journals: Callable[[Any], Any] | None = None, root_mode: int = 0o755,
                 next_ino: int = ROOT_INO + 1) -> None:
        self.pool = pool
        self.max_file_size = max_file_size
        self.journals = journals
        self.changes: Any = None  # the crash plane's NameChanges (namespace_durability "fsync")
        self.inodes: dict[int, Node] = {}
        self.max_inodes = MAX_INODES  # tmpfs's nr_inodes: what statfs says, and ENOSPC beyond
        self._extra_links = 0  # names beyond a file's first: tmpfs counts each as an inode
        self.next_ino = next_ino  # the root is ROOT_INO; others count on from here, never reused
        self.root = self._register(Dir(ROOT_INO, root_mode, 0, 0, None))
        self._gen = 0  # bumped by every change that can change an existing node's path

    def path(self, node: Node) -> str:
        """The node's path relative to the root ("" for the root), through its most recent
        link; an unlinked node keeps the path it was last linked under."""
        if node._path_gen == self._gen or not node.links:
            return node._path
        path = walk_path(node)
        node._path, node._path_gen = path, self._gen
        return path

    def child_path(self, parent: Dir, name: bytes) -> str:
        """The path ``name`` would have in ``parent``."""
        return joined(self.path(parent), name)

    def _alloc(self) -> int:
        ino = self.next_ino
        self.next_ino += 1
        return ino

    def _register(self, node: Node) -> Node:
        self.inodes[node.ino] = node
        return node

    def get(self, ino: int) -> Node:
        node = self.inodes.get(ino)
        if node is None:
            raise fail(errno.ENOENT)
        return node

    @staticmethod
    def _check_name(name: bytes) -> None:
        if len(name) > NAME_MAX:
            raise fail(errno.ENAMETOOLONG)
        if not name or b"/" in name or name in (b".", b".."):
            raise fail(errno.EINVAL)

    def lookup(self, parent: int, name: bytes) -> Node:
        d = self.dir(parent)
        if name == b".":
            return d
        if name == b"..":
            return d.parent
        if len(name) > NAME_MAX:
            raise fail(errno.ENAMETOOLONG)
        node = d.entries.get(name)
        if node is None:
            raise fail(errno.ENOENT)
        return node

    @property
    def inodes_used(self) -> int:
        """What counts against ``max_inodes``: every inode, and every extra hard link."""
        return len(self.inodes) + self._extra_links

    def _new_entry(self, parent: int, name: bytes) -> Dir:
        d = self.dir(parent)
        if d.sealed:
            raise fail(errno.EPERM)
        self._check_name(name)
        if name in d.entries:
            raise fail(errno.EEXIST)
        if self.inodes_used >= self.max_inodes:
            raise fail(errno.ENOSPC)  # every inode costs the daemon memory: a bound, as tmpfs
        return d

    @staticmethod
    def _changeable(d: Dir, node: Node) -> None:
        """EPERM for an entry of a sealed directory, or a sealed directory itself."""
        if d.sealed or (isinstance(node, Dir) and node.sealed):
            raise fail(errno.EPERM)

    # ---- making things ----

    def mkdir(self, parent: int, name: bytes, mode: int, td: Td) -> Dir:
        d = self.dir(parent)
        node = self.mkdir_as(parent, name, mode, *self._owner(d, td))
        recorded.added(self, d, name, node)
        return node

    def mkdir_as(self, parent: int, name: bytes, mode: int, uid: int, gid: int) -> Dir:
        """mkdir with the owner given (the tree's own directories)."""
        d = self._new_entry(parent, name)
        if d.mode & stat.S_ISGID:  # BSD group inheritance where the parent asks for it
            gid = d.gid
            mode |= stat.S_ISGID
        node = self._register(Dir(self._alloc(), mode, uid, gid, d))
        node.nlink = 1  # Dir.add counts the entry in the parent
        d.add(name, node)
        return node

    def add_device(self, parent: int, name: bytes, dev: Device) -> File:
        d = self._new_entry(parent, name)
        node = self._register(File(self._alloc(), dev))
        d.add(name, node)
        return node

    def create(self, parent: int, name: bytes, mode: int, td: Td) -> File:
        uid, gid = self._owner(self.dir(parent), td)
        self._new_entry(parent, name)  # checked before the device: a refused name costs nothing
        node = self.add_device(parent, name, self.new_regular(mode & 0o7777, uid, gid))
        node.dev.driver.node = node
        recorded.added(self, node.links[-1][0], name, node)
        return node

    def new_regular(self, mode: int, uid: int, gid: int, name: str = "") -> Device:
        """The device of a new, empty regular file."""
        driver = RegularFile(self.pool)
        if self.journals is not None:
            driver.journal = self.journals(driver)
        return Device(name, driver, mode=mode, uid=uid, gid=gid, limit=self.max_file_size,
                      regular=True)

    def symlink(self, parent: int, name: bytes, target: bytes, td: Td) -> Symlink:
        uid, gid = self._owner(self.dir(parent), td)
        d = self._new_entry(parent, name)
        node = self._register(Symlink(self._alloc(), target, uid, gid))
        d.add(name, node)
        recorded.added(self, d, name, node)
        return node

    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, td: Td) -> Node:
        if stat.S_ISREG(mode):
            return self.create(parent, name, mode & 0o7777, td)
        kind, rdev = special_kind(mode, rdev)
        uid, gid = self._owner(self.dir(parent), td)
        d = self._new_entry(parent, name)
        node = self._register(Special(self._alloc(), kind | (mode & 0o7777), uid, gid, rdev))
        d.add(name, node)
        recorded.added(self, d, name, node)
        return node

    @staticmethod
    def _owner(parent: Dir, td: Td) -> tuple[int, int]:
        gid = parent.gid if parent.mode & stat.S_ISGID else td.gid
        return td.uid, gid

    def readlink(self, node: Node) -> bytes:
        if not isinstance(node, Symlink):
            raise fail(errno.EINVAL)
        return node.target

    def makedirs(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Dir:
        """The directory at ``path`` (relative to the root), made with its parents if missing."""
        d = self.root
        for part in [p.encode() for p in path.split("/") if p]:
            node = d.entries.get(part)
            if node is None:
                node = self.mkdir_as(d.ino, part, mode, uid, gid)
            elif not isinstance(node, Dir):
                raise fail(errno.ENOTDIR, f"{path}: {part.decode()} is not a directory")
            d = node
        return d

    def link(self, ino: int, parent: int, name: bytes) -> Node:
        node = self.get(ino)
        if isinstance(node, Dir):
            raise fail(errno.EPERM)
        if node.nlink == 0:
            raise fail(errno.ENOENT)  # linkat of an unlinked open file
        if node.links and node.links[-1][0].sealed:
            raise fail(errno.EPERM)
        d = self._new_entry(parent, name)
        d.add(name, node)
        self._extra_links += 1
        self._gen += 1
        node.touch(mtime=False)
        recorded.added(self, d, name, node)
        return node

    # ---- removing and renaming ----

    def unlink(self, parent: int, name: bytes) -> None:
        d = self.dir(parent)
        node = d.entries.get(name)
        if node is None:
            raise fail(errno.ENOENT)
        if isinstance(node, Dir):
            raise fail(errno.EISDIR)
        self._changeable(d, node)
        if node.nlink > 1:
            self._extra_links -= 1
        d.remove(name)
        self._gen += 1
        recorded.removed(self, d, name, node)
        self.maybe_free(node)

    def rmdir(self, parent: int, name: bytes) -> None:
        d = self.dir(parent)
        if name == b".":
            raise fail(errno.EINVAL)
        node = d.entries.get(name)
        if node is None:
            raise fail(errno.ENOENT)
        if not isinstance(node, Dir):
            raise fail(errno.ENOTDIR)
        self._changeable(d, node)
        if node.entries:
            raise fail(errno.ENOTEMPTY)
        d.remove(name)
        self._gen += 1
        recorded.removed(self, d, name, node)
        self.maybe_free(node)

    def rename(self, old_parent: int, old_name: bytes, new_parent: int, new_name: bytes,
               noreplace: bool = False, exchange: bool = False) -> None:
        src_dir = self.dir(old_parent)
        dst_dir = self.dir(new_parent)
        self._check_name(new_name)
        node = src_dir.entries.get(old_name)
        if node is None:
            raise fail(errno.ENOENT)
        target = dst_dir.entries.get(new_name)
        self._changeable(src_dir, node)
        if dst_dir.sealed or target is not None:
            self._changeable(dst_dir, target if target is not None else dst_dir)
        if isinstance(node, Dir) and self._is_ancestor(node, dst_dir):
            raise fail(errno.EINVAL)  # a directory into itself
        self._gen += 1
        if exchange:
            if target is None:
                raise fail(errno.ENOENT)
            if isinstance(target, Dir) and self._is_ancestor(target, src_dir):
                raise fail(errno.EINVAL)
            src_dir.entries[old_name], dst_dir.entries[new_name] = target, node
            for moved, home, old, new in ((node, dst_dir, (src_dir, old_name), new_name),
                                          (target, src_dir, (dst_dir, new_name), old_name)):
                moved.links[moved.links.index(old)] = (home, new)
                if isinstance(moved, Dir) and moved.parent is not home:
                    moved.parent.nlink -= 1
                    home.nlink += 1
                    moved.parent = home
                moved.touch(mtime=False)
            src_dir.touch()
            dst_dir.touch()
            recorded.renamed(self, src_dir, old_name, dst_dir, new_name, node, target, True)
            return
        if target is node:
            return  # both names are links to the same inode: POSIX says do nothing
        if target is not None:
            if noreplace:
                raise fail(errno.EEXIST)
            if isinstance(target, Dir):
                if not isinstance(node, Dir):
                    raise fail(errno.EISDIR)
                if target.entries:
                    raise fail(errno.ENOTEMPTY)
            elif isinstance(node, Dir):
                raise fail(errno.ENOTDIR)
            elif target.nlink > 1:
                self._extra_links -= 1
            dst_dir.remove(new_name)
            if self.changes is not None:
                target.holds += 1  # a crash may bring it back: the rename's change lets go
            self.maybe_free(target)
        src_dir.remove(old_name)
        if isinstance(node, Dir):
            node.nlink += 1  # Dir.remove took its "." away; it keeps it across the move
        dst_dir.add(new_name, node)
        recorded.renamed(self, src_dir, old_name, dst_dir, new_name, node, target, False)

    def _is_ancestor(self, a: Dir, d: Dir) -> bool:
        """Whether ``a`` is ``d`` or one of its ancestors."""
        while True:
            if d is a:
                return True
            if d.parent is d:
                return False
            d = d.parent

    # ---- lifetime ----

    def maybe_free(self, node: Node) -> None:
        """Drop the inode, and free a file's storage, once no name, no open and no kernel
        lookup reference holds it (tmpfs keeps an unlinked file while anything holds it)."""
        if node.nlink > 0 or node.opens > 0 or node.lookups > 0 or node.holds > 0 \
                or node.ino == ROOT_INO:
            return
        if self.inodes.pop(node.ino, None) is not None:
            xattr.release(node, self.pool)
            if isinstance(node, File) and node.dev.regular:
                node.dev.driver.release_storage()

    def forget(self, ino: int, nlookup: int) -> None:
        """The kernel dropped ``nlookup`` references (FUSE FORGET)."""
        node = self.inodes.get(ino)
        if node is None:
            return
        node.lookups = max(node.lookups - nlookup, 0)
        self.maybe_free(node)

    # ---- what the FUSE module reads and changes of a node ----

    def remember(self, node: Node) -> None:
        node.lookups += 1

    def attributes(self, node: Node) -> Attributes:
        size, cacheable, blocks = 0, True, None
        if isinstance(node, File):
            size = call_size(node.dev)
            if size is None:  # a broken d_size (logged): ask again every time
                size, cacheable = 0, False
            if node.dev.regular:
                blocks = node.dev.driver.held_bytes() // 512
        elif isinstance(node, Dir):
            size = BLOCK
        elif isinstance(node, Symlink):
            size = len(node.target)
        return Attributes(node.ino, node.mode, node.nlink, node.uid, node.gid, size,
                          (size + 511) // 512 if blocks is None else blocks, node.atime_ns,
                          node.mtime_ns, node.ctime_ns,
                          node.rdev if isinstance(node, Special) else 0, cacheable=cacheable)

    async def setattr(self, node: Node, changes: AttrChanges) -> None:
        now = time.time_ns()
        if changes.size is not None:
            if isinstance(node, Dir):
                raise fail(errno.EISDIR)
            if not (isinstance(node, File) and node.dev.regular):
                raise fail(errno.EINVAL)  # as truncate(2) of a character device
            error = await call(node.dev, "d_truncate", changes.size)
            if error:
                raise fail(error)
            node.mtime_ns = now
        if changes.mode is not None:
            node.mode = stat.S_IFMT(node.mode) | (changes.mode & 0o7777)
            if isinstance(node, File) and not node.dev.regular:
                node.dev.mode = changes.mode & 0o7777
        if changes.uid is not None:
            node.uid = changes.uid
        if changes.gid is not None:
            node.gid = changes.gid
        if changes.atime_ns is not None:
            node.atime_ns = changes.atime_ns
        if changes.mtime_ns is not None:
            node.mtime_ns = changes.mtime_ns
        node.ctime_ns = changes.ctime_ns if changes.ctime_ns is not None else now

    def listing(self, directory: Dir, after: int,
                cursor: Any = None) -> Iterator[tuple[bytes, Node, int]]:
        directory.atime_ns = time.time_ns()
        return directory.listing(after)

    def statfs(self) -> FsStats:
        free = self.pool.available() // BLOCK
        ffree = max(self.max_inodes - self.inodes_used, 0)
        return FsStats(self.pool.cap // BLOCK, free, free, self.max_inodes, ffree)

    def device(self, node: Node) -> Device:
        if isinstance(node, Dir):
            raise fail(errno.EISDIR)
        if not isinstance(node, File):
            raise fail(errno.ENXIO)
        return node.dev

    def opened(self, node: Node) -> None:
        node.opens += 1

    def closed(self, node: Node) -> None:
        node.opens -= 1
        self.maybe_free(node)

    def synced(self, node: Node) -> None:
        if self.changes is not None:
            self.changes.synced(node.ino, isinstance(node, Dir))

    def touched(self, node: Node, mtime: bool = True) -> None:
        node.touch(mtime)

    def accessed(self, node: Node) -> None:
        node.atime_ns = time.time_ns()

    def getxattr(self, node: Node, name: bytes) -> bytes:
        return xattr.get(node, name)

    def setxattr(self, node: Node, name: bytes, value: bytes) -> None:
        xattr.put(node, name, value, self.pool)
        node.touch(mtime=False)

    def listxattr(self, node: Node) -> list[bytes]:
        return xattr.names(node)

    def removexattr(self, node: Node, name: bytes) -> None:
        xattr.remove(node, name, self.pool)
        node.touch(mtime=False)


__all__ = ["MemoryNamespace", "ROOT_INO", "MAX_INODES"]
