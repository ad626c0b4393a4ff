"""A host directory served through iofs: the second backend of the namespace
(:class:`~iofs.vfs.namespace.Namespace`), beside the in-memory tree it is grafted into
(:mod:`iofs.vfs.routed` sends each request to the backend of its node).

Every operation passes through to the host directory, through the O_PATH descriptors of the
nodes (:mod:`iofs.vfs.host_nodes`) and the ``*at`` system calls, and the host's errno reaches
the program as it is. The host is the authority: attributes are always the host's (one
``fstat``), owners and modes are its, times are its. What iofs adds:

* Inode numbers: one per host inode ``(st_dev, st_ino)``, taken from the mount's one
  allocator the first time the inode is seen and kept for the life of the mount (stable;
  hard links are one inode; never reused for another host inode or an in-memory one).
* Ownership: the daemon runs as root, so what a program creates is handed to it right after
  (the caller's uid; the parent's gid under a setgid parent, as the in-memory tree does), and
  given exactly the mode asked (the caller's umask is already applied).
* The kernel checks permissions (default_permissions), as for the in-memory tree.

Regular files are served by the :class:`~iofs.vfs.backed.BackedFile` driver. Nothing here
knows FUSE: a failure is ``OSError(errno)``.
"""

from __future__ import annotations

import errno
import os
import resource
import stat
from typing import Any, Callable, Iterator

from ..core.td import Td
from ..dev.driver import Device
from ..dev.guard import call
from ..system.hostcalls import RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2
from .backed import BackedFile
from .host_nodes import O_NODE, HostDir, HostFile, HostNode, NodeFds, node_class, proc_path
from .namespace import NAME_MAX, Attributes, AttrChanges, FsStats, fail, special_kind
from .nodes import joined



class HostNamespace:
    """The host nodes of one mount. ``mount`` is the namespace that owns the inode table and
    the allocator (and finds the paths of the graft points in the in-memory tree)."""

    def __init__(self, mount: Any, journals: Callable[[Any], Any] | None, limit: int) -> None:
        self.mount = mount
        self.journals = journals
        self.limit = limit  # max_file_size: the uio_limit of writes
        self.numbers: dict[tuple[int, int], int] = {}  # host inode -> ours, for the mount's life
        self.live: dict[tuple[int, int], HostNode] = {}
        self.gen = 0  # bumped by every change that can change the path of a live node
        # half the descriptors this process may open for the nodes, the rest for the opens
        self.fds = NodeFds(resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2)
        self.fd = self.fds.get  # a node's O_PATH descriptor

    # ---- nodes ----

    def graft(self, source: str, ino: int | None = None) -> HostDir:
        """A pinned node for the host directory ``source`` (the root's inode number ``ino``,
        or a new one)."""
        fd = os.open(source, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        node = self._register(fd, os.fstat(fd), None, b"", ino)
        node.pinned = True
        return node  # type: ignore[return-value]

    def _register(self, fd: int, st: os.stat_result, parent: Any, name: bytes,
                  ino: int | None = None) -> HostNode:
        key = (st.st_dev, st.st_ino)
        if ino is None:
            ino = self.numbers.get(key)
            if ino is None:
                ino = self.mount._alloc()
        self.numbers[key] = ino
        node = node_class(st.st_mode)(ino, -1, key, st.st_mode, parent, name)
        self.live[key] = node
        self.mount.inodes[ino] = node
        self.fds.add(node, fd)
        return node

    def _enter(self, d: HostDir, name: bytes) -> HostNode:
        """The node of entry ``name`` of ``d``: the live one of its host inode, or a new one."""
        dfd = self.fd(d)
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        node = self.live.get((st.st_dev, st.st_ino))
        if node is None:
            fd = os.open(name, O_NODE, dir_fd=dfd)
            try:
                st = os.fstat(fd)  # (what the name is now, should it have changed meanwhile)
                node = self.live.get((st.st_dev, st.st_ino))
                if node is None:
                    return self._register(fd, st, d, name)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        if node.parent is not d or node.name != name:
            node.parent, node.name, node._path_gen = d, name, -1
        return node

    def lookup(self, d: HostDir, name: bytes) -> Any:
        if name == b".":
            return d
        if name == b"..":
            return self.parent_of(d)
        if len(name) > NAME_MAX:
            raise fail(errno.ENAMETOOLONG)
        node = d.overlay.get(name) if d.overlay else None
        return node if node is not None else self._enter(d, name)

    def parent_of(self, d: HostNode) -> Any:
        """The directory ``d`` was found in (a graft's in-memory parent; the root's is itself)."""
        if d.pinned:
            return d.parent if d.parent is not None else d
        p = d.parent
        if p.pinned or self.live.get(p.key) is p:
            return p
        if p.parent is None:
            return d
        d.parent = self._enter(p.parent, p.name)  # (the live node of that directory now)
        return d.parent

    def forget(self, node: HostNode, nlookup: int) -> None:
        node.lookups = max(node.lookups - nlookup, 0)
        self.maybe_release(node)

    def closed(self, node: HostNode) -> None:
        node.opens -= 1
        self.maybe_release(node)

    def maybe_release(self, node: HostNode) -> None:
        """Close the node's descriptor once nothing holds it: no kernel reference, no open,
        and no unsynced change a crash would undo (its journal keeps it)."""
        if node.pinned or node.lookups > 0 or node.opens > 0:
            return
        dev = getattr(node, "dev", None)
        if dev is not None and dev.driver.dirty():
            return
        self._release(node)

    def _release(self, node: HostNode) -> None:
        if self.live.get(node.key) is node:
            del self.live[node.key]
        if self.mount.inodes.get(node.ino) is node:
            del self.mount.inodes[node.ino]
        dev = getattr(node, "dev", None)
        if dev is not None:
            dev.driver.release()
        self.fds.drop(node)

    def release_all(self) -> None:
        """The mount was reset: every node the kernel may still name is dropped (an open one
        when it is closed)."""
        for node in list(self.live.values()):
            node.lookups = 0
            node.pinned = False
            if node.opens == 0:
                self._release(node)
            else:
                self.live.pop(node.key, None)
                self.mount.inodes.pop(node.ino, None)

    def entries(self) -> list[tuple[int, bytes]]:
        """The (directory, name) entries the kernel may have cached for live nodes."""
        out = [(n.parent.ino, n.name) for n in self.live.values()
               if n.parent is not None and not n.pinned]
        return out + [(n.ino, name) for n in self.live.values() if isinstance(n, HostDir)
                      for name in n.overlay]

    # ---- paths ----

    def path(self, node: HostNode) -> str:
        """The node's path relative to the mount root, through the names it was found under."""
        mount_gen = self.mount._gen
        if node._path_gen == (self.gen, mount_gen):
            return node._path
        if node.pinned or node.parent is None:
            path = self.mount.memory_path(node)
        else:
            path = joined(self.path(node.parent), node.name)
        node._path, node._path_gen = path, (self.gen, mount_gen)
        return path

    # ---- attributes ----

    def attributes(self, node: HostNode) -> Attributes:
        st = os.stat(self.fd(node))
        return Attributes(node.ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_size,
                          st.st_blocks, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns,
                          st.st_rdev, blksize=st.st_blksize)

    async def setattr(self, node: HostNode, changes: AttrChanges) -> None:
        if changes.size is not None:
            if node.is_dir:
                raise fail(errno.EISDIR)
            if not isinstance(node, HostFile):
                raise fail(errno.EINVAL)
            error = await call(self.device(node), "d_truncate", changes.size)
            if error:
                raise fail(error)
        where, follow, dir_fd = self._target(node)
        if changes.uid is not None or changes.gid is not None:
            os.chown(where, -1 if changes.uid is None else changes.uid,
                     -1 if changes.gid is None else changes.gid, dir_fd=dir_fd,
                     follow_symlinks=follow)
        if changes.mode is not None:
            if node.is_symlink:
                raise fail(errno.EOPNOTSUPP)
            os.chmod(where, changes.mode & 0o7777)
        if changes.atime_ns is not None or changes.mtime_ns is not None:
            st = os.stat(self.fd(node))
            times = (st.st_atime_ns if changes.atime_ns is None else changes.atime_ns,
                     st.st_mtime_ns if changes.mtime_ns is None else changes.mtime_ns)
            os.utime(where, ns=times, dir_fd=dir_fd, follow_symlinks=follow)

    def _target(self, node: HostNode) -> tuple[Any, bool, int | None]:
        """How to reach the inode itself by path: (path, follow, dir_fd). A symbolic link by
        its name in its directory, without following it; anything else through /proc."""
        if node.is_symlink and node.parent is not None and not node.pinned:
            return node.name, False, self.fd(node.parent)
        return proc_path(self.fd(node)), True, None

    def readlink(self, node: HostNode) -> bytes:
        if not node.is_symlink:
            raise fail(errno.EINVAL)
        return os.readlink(b"", dir_fd=self.fd(node))

    def fsync_dir(self, d: HostDir) -> None:
        """fsync(2) of the host directory: its entries durable on the host's disk."""
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd(d))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def statfs(self, node: HostNode) -> FsStats:
        st = os.statvfs(self.fd(node))
        return FsStats(st.f_blocks, st.f_bfree, st.f_bavail, st.f_files, st.f_ffree,
                       bsize=st.f_frsize, namemax=st.f_namemax)

    def device(self, node: HostNode) -> Device:
        if node.is_dir:
            raise fail(errno.EISDIR)
        if not isinstance(node, HostFile):
            raise fail(errno.ENXIO)
        if node.dev is None:
            node.dev = Device("", BackedFile(node, self.journals, self.fd), mode=0o644,
                              limit=self.limit, regular=True)
        return node.dev

    # ---- making things ----

    def _owner(self, d: HostDir, td: Td) -> tuple[int, int, bool]:
        """(uid, gid, setgid parent) of what ``td`` makes in ``d``."""
        st = os.stat(self.fd(d))
        setgid = bool(st.st_mode & stat.S_ISGID)
        return td.uid, (st.st_gid if setgid else td.gid), setgid

    def _check_new(self, d: HostDir, name: bytes) -> None:
        if d.overlay and name in d.overlay:
            raise fail(errno.EEXIST)

    def _made(self, d: HostDir, name: bytes, uid: int, gid: int, mode: int | None,
              is_dir: bool = False) -> HostNode:
        """The node of what was just made as ``name`` in ``d``, handed to its owner and
        given ``mode`` (None: a symbolic link, whose mode is always 0777); removed again if
        that fails."""
        try:
            node = self._enter(d, name)
            where, follow, dir_fd = self._target(node)
            os.chown(where, uid, gid, dir_fd=dir_fd, follow_symlinks=follow)
            if mode is not None:
                os.chmod(where, mode)  # after chown: chown clears set-id bits
        except BaseException:
            try:
                (os.rmdir if is_dir else os.unlink)(name, dir_fd=self.fd(d))
            except OSError:
                pass
            raise
        return node

    def create(self, d: HostDir, name: bytes, mode: int, td: Td) -> HostNode:
        self._check_new(d, name)
        uid, gid, _ = self._owner(d, td)
        os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=self.fd(d)))
        return self._made(d, name, uid, gid, mode & 0o7777)

    def mkdir(self, d: HostDir, name: bytes, mode: int, td: Td) -> HostNode:
        self._check_new(d, name)
        uid, gid, setgid = self._owner(d, td)
        os.mkdir(name, 0o700, dir_fd=self.fd(d))
        return self._made(d, name, uid, gid, (mode & 0o7777) | (stat.S_ISGID if setgid else 0),
                          is_dir=True)

    def symlink(self, d: HostDir, name: bytes, target: bytes, td: Td) -> HostNode:
        self._check_new(d, name)
        uid, gid, _ = self._owner(d, td)
        os.symlink(target, name, dir_fd=self.fd(d))
        return self._made(d, name, uid, gid, None)

    def mknod(self, d: HostDir, name: bytes, mode: int, rdev: int, td: Td) -> HostNode:
        if stat.S_ISREG(mode):
            return self.create(d, name, mode & 0o7777, td)
        kind, rdev = special_kind(mode, rdev)
        self._check_new(d, name)
        uid, gid, _ = self._owner(d, td)
        os.mknod(name, kind | 0o600, rdev, dir_fd=self.fd(d))
        return self._made(d, name, uid, gid, mode & 0o7777)

    def link(self, node: HostNode, d: HostDir, name: bytes) -> HostNode:
        self._check_new(d, name)
        os.link(proc_path(self.fd(node)), name, dst_dir_fd=self.fd(d), follow_symlinks=True)
        node.parent, node.name, node._path_gen = d, name, -1
        return node

    # ---- removing and renaming ----

    def _changeable(self, d: HostDir, name: bytes) -> None:
        if d.overlay and name in d.overlay:
            raise fail(errno.EPERM)  # the control directory, shown in a host root

    def unlink(self, d: HostDir, name: bytes) -> None:
        self._changeable(d, name)
        os.unlink(name, dir_fd=self.fd(d))

    def rmdir(self, d: HostDir, name: bytes) -> None:
        if name == b".":
            raise fail(errno.EINVAL)
        self._changeable(d, name)
        os.rmdir(name, dir_fd=self.fd(d))
        self.gen += 1

    def rename(self, sd: HostDir, old: bytes, dd: HostDir, new: bytes, noreplace: bool = False,
               exchange: bool = False) -> None:
        self._changeable(sd, old)
        self._changeable(dd, new)
        flags = (RENAME_NOREPLACE if noreplace else 0) | (RENAME_EXCHANGE if exchange else 0)
        renameat2(self.fd(sd), old, self.fd(dd), new, flags)
        self.gen += 1
        for d, name in ((dd, new), (sd, old)) if exchange else ((dd, new),):
            try:
                st = os.stat(name, dir_fd=self.fd(d), follow_symlinks=False)
            except OSError:
                continue
            moved = self.live.get((st.st_dev, st.st_ino))
            if moved is not None and not moved.pinned:
                moved.parent, moved.name = d, name

    # ---- listing ----

    def listing(self, d: HostDir, after: int, cursor: Any) -> Iterator[tuple[bytes, Any, int]]:
        """"." and "..", then the names the directory held when this open began listing (a
        name removed since is left out); cookies count the entries."""
        names = getattr(cursor, "names", None)
        if names is None or after <= 0:
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd(d))
            try:
                found = [os.fsencode(n) for n in os.listdir(fd)]
            finally:
                os.close(fd)
            names = list(d.overlay) + [n for n in found if n not in d.overlay]
            if cursor is not None:
                cursor.names = names
        if after < 1:
            yield b".", d, 1
        if after < 2:
            yield b"..", self.parent_of(d), 2
        for k in range(max(after - 2, 0), len(names)):
            try:
                node = self.lookup(d, names[k])
            except FileNotFoundError:
                continue
            yield names[k], node, k + 3

    # ---- extended attributes (the host's; a symbolic link's own through /proc) ----

    def _xattr_target(self, node: HostNode) -> Any:
        """An open descriptor of the node's file if it has one (the kernel asks for
        security.capability before each write(2): of a file open for it), else its /proc path."""
        dev = getattr(node, "dev", None)
        fd = dev.driver.open_fd() if dev is not None else -1
        return fd if fd >= 0 else proc_path(self.fd(node))

    def getxattr(self, node: HostNode, name: bytes) -> bytes:
        return os.getxattr(self._xattr_target(node), name)

    def setxattr(self, node: HostNode, name: bytes, value: bytes) -> None:
        os.setxattr(proc_path(self.fd(node)), name, value)

    def listxattr(self, node: HostNode) -> list[bytes]:
        return [n.encode(errors="surrogateescape") for n in os.listxattr(proc_path(self.fd(node)))]

    def removexattr(self, node: HostNode, name: bytes) -> None:
        os.removexattr(proc_path(self.fd(node)), name)


__all__ = ["HostNamespace"]
