"""The namespace of a mount: inodes, directories, links, and the POSIX rules for changing them.

Nothing here knows FUSE: every failure is an ``OSError`` carrying the errno the program should
see. An inode, and a regular file's memory, live while a directory entry, an open file or a
kernel lookup reference holds it: a file unlinked while the kernel still holds it (an open
descriptor, an ``O_PATH`` descriptor, a cwd) keeps its data until the kernel forgets it.

Every node knows the names it is linked under, so it has a path (:meth:`Namespace.path`, the
most recent link, relative to the root, as fault rules and the trace name it). A *sealed*
directory (the control directory) cannot be changed by programs: EPERM.
"""

from __future__ import annotations

import bisect
import errno
import stat
import time
from typing import Iterator

from .driver import Device
from .guard import call_size

ROOT_INO = 1
NAME_MAX = 255
MAX_INODES = 1 << 20


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, what or errno.errorcode.get(code, str(code)))


def _walk_path(node: Node) -> str:
    """The path of ``node`` through its most recent links ("" for the root)."""
    parts = []
    while node.links:
        node, name = node.links[-1]
        parts.append(name.decode(errors="surrogateescape"))
    return "/".join(reversed(parts))


def _joined(path: str, name: bytes) -> str:
    name_s = name.decode(errors="surrogateescape")
    return f"{path}/{name_s}" if path else name_s


class Node:
    """An inode. ``mode`` includes the file type bits.

    ``links`` are the (directory, name) entries that name it, oldest first (a directory has
    one); ``xattrs`` its extended attributes (None until the first is set).
    """

    __slots__ = ("ino", "mode", "uid", "gid", "nlink", "atime_ns", "mtime_ns", "ctime_ns",
                 "lookups", "opens", "links", "xattrs", "_path", "_path_gen")

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
        self.links: list[tuple[Dir, bytes]] = []
        self.xattrs: dict[bytes, bytes] | None = None
        self._path = ""
        self._path_gen = -1

    def touch(self, mtime: bool = True) -> None:
        now = time.time_ns()
        self.ctime_ns = now
        if mtime:
            self.mtime_ns = now

    @property
    def size(self) -> int:
        return 0


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

    @property
    def size(self) -> int:
        return 4096

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
            node._path = _joined(_walk_path(self), name)
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

    @property
    def size(self) -> int:
        size = call_size(self.dev)
        return size if size is not None else 0


class Symlink(Node):
    __slots__ = ("target",)

    def __init__(self, ino: int, target: bytes, uid: int, gid: int) -> None:
        super().__init__(ino, stat.S_IFLNK | 0o777, uid, gid)
        self.target = target

    @property
    def size(self) -> int:
        return len(self.target)


class Special(Node):
    """A FIFO, socket, or character or block device node made with mknod: the kernel serves
    its I/O, iofs only names it (``rdev`` is st_rdev). The mount is nodev, so a device node
    made here can never be opened into a device of the host."""

    __slots__ = ("rdev",)

    def __init__(self, ino: int, mode: int, uid: int, gid: int, rdev: int = 0) -> None:
        super().__init__(ino, mode, uid, gid)
        self.rdev = rdev


class Namespace:
    """The inode table and the directory tree rooted at inode 1."""

    def __init__(self, root_mode: int = 0o755) -> None:
        self.inodes: dict[int, Node] = {}
        self.max_inodes = MAX_INODES  # tmpfs's nr_inodes: what statfs says, and ENOSPC beyond
        self._extra_links = 0  # names beyond a file's first: tmpfs counts each as an inode
        self._next_ino = ROOT_INO
        self.root = self._register(Dir(self._alloc(), root_mode, 0, 0, None))
        self.on_free = lambda node: None  # set by the filesystem: release a file's storage
        self._gen = 0  # bumped by every change that can change an existing node's path

    def path(self, node: Node) -> str:
        """The node's path relative to the root ("" for the root), through its most recent
        link; an unlinked node keeps the path it was last linked under."""
        if node._path_gen == self._gen or not node.links:
            return node._path
        path = _walk_path(node)
        node._path, node._path_gen = path, self._gen
        return path

    def child_path(self, parent: Dir, name: bytes) -> str:
        """The path ``name`` would have in ``parent``."""
        return _joined(self.path(parent), name)

    def _alloc(self) -> int:
        ino = self._next_ino
        self._next_ino += 1
        return ino

    def _register(self, node: Node) -> Node:
        self.inodes[node.ino] = node
        return node

    def get(self, ino: int) -> Node:
        node = self.inodes.get(ino)
        if node is None:
            raise _err(errno.ENOENT)
        return node

    def dir(self, ino: int) -> Dir:
        node = self.get(ino)
        if not isinstance(node, Dir):
            raise _err(errno.ENOTDIR)
        return node

    @staticmethod
    def _check_name(name: bytes) -> None:
        if len(name) > NAME_MAX:
            raise _err(errno.ENAMETOOLONG)
        if not name or b"/" in name or name in (b".", b".."):
            raise _err(errno.EINVAL)

    def lookup(self, parent: int, name: bytes) -> Node:
        d = self.dir(parent)
        if name == b".":
            return d
        if name == b"..":
            return d.parent
        if len(name) > NAME_MAX:
            raise _err(errno.ENAMETOOLONG)
        node = d.entries.get(name)
        if node is None:
            raise _err(errno.ENOENT)
        return node

    @property
    def inodes_used(self) -> int:
        """What counts against ``max_inodes``: every inode, and every extra hard link."""
        return len(self.inodes) + self._extra_links

    def _new_entry(self, parent: int, name: bytes) -> Dir:
        d = self.dir(parent)
        if d.sealed:
            raise _err(errno.EPERM)
        self._check_name(name)
        if name in d.entries:
            raise _err(errno.EEXIST)
        if self.inodes_used >= self.max_inodes:
            raise _err(errno.ENOSPC)  # every inode costs the daemon memory: a bound, as tmpfs
        return d

    @staticmethod
    def _changeable(d: Dir, node: Node) -> None:
        """EPERM for an entry of a sealed directory, or a sealed directory itself."""
        if d.sealed or (isinstance(node, Dir) and node.sealed):
            raise _err(errno.EPERM)

    # ---- making things ----

    def mkdir(self, parent: int, name: bytes, mode: int, uid: int, gid: int) -> Dir:
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

    def symlink(self, parent: int, name: bytes, target: bytes, uid: int, gid: int) -> Symlink:
        d = self._new_entry(parent, name)
        node = self._register(Symlink(self._alloc(), target, uid, gid))
        d.add(name, node)
        return node

    def special(self, parent: int, name: bytes, mode: int, uid: int, gid: int,
                rdev: int = 0) -> Special:
        d = self._new_entry(parent, name)
        node = self._register(Special(self._alloc(), mode, uid, gid, rdev))
        d.add(name, node)
        return node

    def makedirs(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Dir:
        """The directory at ``path`` (relative to the root), made with its parents if missing."""
        d = self.root
        for part in [p.encode() for p in path.split("/") if p]:
            node = d.entries.get(part)
            if node is None:
                node = self.mkdir(d.ino, part, mode, uid, gid)
            elif not isinstance(node, Dir):
                raise _err(errno.ENOTDIR, f"{path}: {part.decode()} is not a directory")
            d = node
        return d

    def link(self, ino: int, parent: int, name: bytes) -> Node:
        node = self.get(ino)
        if isinstance(node, Dir):
            raise _err(errno.EPERM)
        if node.nlink == 0:
            raise _err(errno.ENOENT)  # linkat of an unlinked open file
        if node.links and node.links[-1][0].sealed:
            raise _err(errno.EPERM)
        d = self._new_entry(parent, name)
        d.add(name, node)
        self._extra_links += 1
        self._gen += 1
        node.touch(mtime=False)
        return node

    # ---- removing and renaming ----

    def unlink(self, parent: int, name: bytes) -> None:
        d = self.dir(parent)
        node = d.entries.get(name)
        if node is None:
            raise _err(errno.ENOENT)
        if isinstance(node, Dir):
            raise _err(errno.EISDIR)
        self._changeable(d, node)
        if node.nlink > 1:
            self._extra_links -= 1
        d.remove(name)
        self._gen += 1
        self.maybe_free(node)

    def rmdir(self, parent: int, name: bytes) -> None:
        d = self.dir(parent)
        if name == b".":
            raise _err(errno.EINVAL)
        node = d.entries.get(name)
        if node is None:
            raise _err(errno.ENOENT)
        if not isinstance(node, Dir):
            raise _err(errno.ENOTDIR)
        self._changeable(d, node)
        if node.entries:
            raise _err(errno.ENOTEMPTY)
        d.remove(name)
        self._gen += 1
        self.maybe_free(node)

    def rename(self, old_parent: int, old_name: bytes, new_parent: int, new_name: bytes,
               noreplace: bool = False, exchange: bool = False) -> None:
        src_dir = self.dir(old_parent)
        dst_dir = self.dir(new_parent)
        self._check_name(new_name)
        node = src_dir.entries.get(old_name)
        if node is None:
            raise _err(errno.ENOENT)
        target = dst_dir.entries.get(new_name)
        self._changeable(src_dir, node)
        if dst_dir.sealed or target is not None:
            self._changeable(dst_dir, target if target is not None else dst_dir)
        if isinstance(node, Dir) and self._is_ancestor(node, dst_dir):
            raise _err(errno.EINVAL)  # a directory into itself
        self._gen += 1
        if exchange:
            if target is None:
                raise _err(errno.ENOENT)
            if isinstance(target, Dir) and self._is_ancestor(target, src_dir):
                raise _err(errno.EINVAL)
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
            return
        if target is node:
            return  # both names are links to the same inode: POSIX says do nothing
        if target is not None:
            if noreplace:
                raise _err(errno.EEXIST)
            if isinstance(target, Dir):
                if not isinstance(node, Dir):
                    raise _err(errno.EISDIR)
                if target.entries:
                    raise _err(errno.ENOTEMPTY)
            elif isinstance(node, Dir):
                raise _err(errno.ENOTDIR)
            elif target.nlink > 1:
                self._extra_links -= 1
            dst_dir.remove(new_name)
            self.maybe_free(target)
        src_dir.remove(old_name)
        if isinstance(node, Dir):
            node.nlink += 1  # Dir.remove took its "." away; it keeps it across the move
        dst_dir.add(new_name, node)

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
        if node.nlink > 0 or node.opens > 0 or node.lookups > 0 or node.ino == ROOT_INO:
            return
        if self.inodes.pop(node.ino, None) is not None:
            self.on_free(node)

    def forget(self, ino: int, nlookup: int) -> None:
        """The kernel dropped ``nlookup`` references (FUSE FORGET)."""
        node = self.inodes.get(ino)
        if node is None:
            return
        node.lookups = max(node.lookups - nlookup, 0)
        self.maybe_free(node)
