"""A mount with host directories in it: the in-memory tree (:mod:`iofs.vfs.memory`) with host
directories grafted into it (:mod:`iofs.vfs.host`), or a host directory as its root, served as
one namespace. The FUSE module keeps talking to one object; each request goes to the backend
of the node it is about (its parent, for a request about a name).

* One inode table and one allocator for both: numbers are never reused across backends.
* A graft point (a ``[[dir]]`` with ``source``) is a directory of the in-memory tree that
  is the host directory: it cannot be removed or renamed (EBUSY, as a mount point).
* A link or rename between the two backends is EXDEV, as across filesystems.
* With a host root (``--source``), the control directory is an in-memory directory shown in
  it, never written into the host directory; a host entry of the same name is hidden.
* statfs is the host root's filesystem with a host root, else the in-memory tree's.

Used only by mounts that have host directories: a mount without pays nothing for them.
"""

from __future__ import annotations

import errno
from typing import Any, Callable, Iterator

from ..core.td import Td
from .host import HostNamespace
from .memory import ROOT_INO, MemoryNamespace
from .namespace import Attributes, AttrChanges, FsStats, fail
from .nodes import Dir, Node
from .pool import MemoryPool


class MountNamespace(MemoryNamespace):
    """The in-memory namespace with ``host``, the backend of its host directories."""

    def __init__(self, pool: MemoryPool, max_file_size: int,
                 journals: Callable[[Any], Any] | None = None, next_ino: int = ROOT_INO + 1,
                 root_source: str | None = None) -> None:
        super().__init__(pool, max_file_size, journals, next_ino=next_ino)
        self.host = HostNamespace(self, journals, max_file_size)
        if root_source is not None:
            del self.inodes[ROOT_INO]
            self.root = self.host.graft(root_source, ROOT_INO)

    def graft(self, path: str, source: str) -> Any:
        """Show the host directory ``source`` at ``path`` (its parents made as needed)."""
        head, _, name = path.rpartition("/")
        parent = self.makedirs(head) if head else self.root
        d = self._new_entry(parent.ino, name.encode())
        node = self.host.graft(source)
        node.parent = d
        d.add(name.encode(), node)
        d.nlink += 1  # a subdirectory, as Dir.add counts its own
        return node

    def memory_path(self, node: Any) -> str:
        return MemoryNamespace.path(self, node)

    @property
    def inodes_used(self) -> int:
        return len(self.inodes) - len(self.host.live) + self._extra_links

    # ---- routing: each request to the backend of its node ----

    def path(self, node: Any) -> str:
        return self.host.path(node) if node.host else super().path(node)

    def lookup(self, parent: int, name: bytes) -> Any:
        d = self.dir(parent)
        return self.host.lookup(d, name) if d.host else super().lookup(parent, name)

    def forget(self, ino: int, nlookup: int) -> None:
        node = self.inodes.get(ino)
        if node is not None and node.host:
            self.host.forget(node, nlookup)
        else:
            super().forget(ino, nlookup)

    def closed(self, node: Any) -> None:
        if node.host:
            self.host.closed(node)
        else:
            super().closed(node)

    def attributes(self, node: Any) -> Attributes:
        return self.host.attributes(node) if node.host else super().attributes(node)

    async def setattr(self, node: Any, changes: AttrChanges) -> None:
        if node.host:
            await self.host.setattr(node, changes)
        else:
            await super().setattr(node, changes)

    def device(self, node: Any) -> Any:
        return self.host.device(node) if node.host else super().device(node)

    def readlink(self, node: Any) -> bytes:
        return self.host.readlink(node) if node.host else super().readlink(node)

    def synced(self, node: Any) -> None:
        if node.host:
            if node.is_dir:
                self.host.fsync_dir(node)  # (a file's own fsync went to the host in d_fsync)
        else:
            super().synced(node)

    def statfs(self) -> FsStats:
        return self.host.statfs(self.root) if self.root.host else super().statfs()

    def listing(self, directory: Any, after: int, cursor: Any = None) -> Iterator[tuple[bytes, Any, int]]:
        if directory.host:
            return self.host.listing(directory, after, cursor)
        return super().listing(directory, after)

    # ---- making things ----

    def create(self, parent: int, name: bytes, mode: int, td: Td) -> Any:
        d = self.dir(parent)
        return self.host.create(d, name, mode, td) if d.host else super().create(parent, name, mode, td)

    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, td: Td) -> Any:
        d = self.dir(parent)
        if d.host:
            return self.host.mknod(d, name, mode, rdev, td)
        return super().mknod(parent, name, mode, rdev, td)

    def mkdir(self, parent: int, name: bytes, mode: int, td: Td) -> Any:
        d = self.dir(parent)
        return self.host.mkdir(d, name, mode, td) if d.host else super().mkdir(parent, name, mode, td)

    def mkdir_as(self, parent: int, name: bytes, mode: int, uid: int, gid: int) -> Dir:
        """mkdir with the owner given; in a host directory (the control directory in a host
        root), an in-memory directory shown there and never written into it."""
        d = self.dir(parent)
        if not d.host:
            return super().mkdir_as(parent, name, mode, uid, gid)
        self._check_name(name)
        node = self._register(Dir(self._alloc(), mode, uid, gid, d))
        node.nlink = 1
        d.add(name, node)
        return node  # type: ignore[return-value]

    def symlink(self, parent: int, name: bytes, target: bytes, td: Td) -> Any:
        d = self.dir(parent)
        if d.host:
            return self.host.symlink(d, name, target, td)
        return super().symlink(parent, name, target, td)

    def link(self, ino: int, parent: int, name: bytes) -> Any:
        node, d = self.get(ino), self.dir(parent)
        if node.host != d.host:
            raise fail(errno.EXDEV)
        return self.host.link(node, d, name) if d.host else super().link(ino, parent, name)

    # ---- removing and renaming ----

    def _graft_entry(self, d: Dir, name: bytes) -> bool:
        node = d.entries.get(name)
        return node is not None and node.host

    def unlink(self, parent: int, name: bytes) -> None:
        d = self.dir(parent)
        if d.host:
            self.host.unlink(d, name)
        elif self._graft_entry(d, name):
            raise fail(errno.EISDIR)
        else:
            super().unlink(parent, name)

    def rmdir(self, parent: int, name: bytes) -> None:
        d = self.dir(parent)
        if d.host:
            self.host.rmdir(d, name)
        elif self._graft_entry(d, name):
            raise fail(errno.EBUSY)
        else:
            super().rmdir(parent, name)

    def rename(self, old_parent: int, old_name: bytes, new_parent: int, new_name: bytes,
               noreplace: bool = False, exchange: bool = False) -> None:
        src, dst = self.dir(old_parent), self.dir(new_parent)
        if src.host and dst.host:
            self.host.rename(src, old_name, dst, new_name, noreplace, exchange)
            return
        if src.host or dst.host:
            raise fail(errno.EXDEV)
        if self._graft_entry(src, old_name) or self._graft_entry(dst, new_name):
            raise fail(errno.EBUSY)
        super().rename(old_parent, old_name, new_parent, new_name, noreplace, exchange)

    # ---- extended attributes ----

    def getxattr(self, node: Node, name: bytes) -> bytes:
        return self.host.getxattr(node, name) if node.host else super().getxattr(node, name)

    def setxattr(self, node: Node, name: bytes, value: bytes) -> None:
        if node.host:
            self.host.setxattr(node, name, value)
        else:
            super().setxattr(node, name, value)

    def listxattr(self, node: Node) -> list[bytes]:
        return self.host.listxattr(node) if node.host else super().listxattr(node)

    def removexattr(self, node: Node, name: bytes) -> None:
        if node.host:
            self.host.removexattr(node, name)
        else:
            super().removexattr(node, name)


__all__ = ["MountNamespace"]
