"""The one module that speaks FUSE: pyfuse3's requests, translated to the mount
(:class:`~iofs.vfs.assembly.Filesystem`) and back.

Every handler is declared with :func:`handler`, which

* registers the handler under its op names (:mod:`iofs.faults.ops` is the list; a name not
  there is refused at import, and a test checks that every op there has its handler),
* builds the caller's :class:`~iofs.core.td.Td` from pyfuse3's request context (a handler's
  last parameter ``td`` receives it) or takes the opener's from the open file,
* passes the request through the fault and trace hook, once (requests on the control
  directory pass no hook: nothing traces or faults them), and
* survives what goes wrong inside iofs: an ``OSError`` is its errno for the program, anything
  else EIO, logged; pyfuse3 would otherwise end the whole filesystem.

``uio_td`` is the process that opened the file: pyfuse3 does not pass the caller of a
read/write request, only of open/create/poll. Device nodes are direct_io (every request
reaches the driver, short transfers reach the program as they are); stream devices are also
nonseekable. Regular files go through the page cache (keep_cache), unless opened O_DIRECT or
while a fault rule for reads or writes matches the file: that open is direct_io, so a short
count or a fault reaches the program as the driver or the rule made it.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import reprlib
from typing import Any, Awaitable, Callable

import pyfuse3
import trio

from ..core.td import Td
from ..dev import guard
from ..dev.cdevpriv import current_file
from ..dev.driver import POLLERR, POLLSTANDARD
from ..faults.ops import OPS
from .assembly import Filesystem
from .config import Tree
from .namespace import Attributes, AttrChanges
from .openfile import OpenFile
from .opens import OpenFiles

log = logging.getLogger("iofs")

ATTR_TIMEOUT = 1.0
MAX_WORKERS = 1 << 30   # pyfuse3's max_tasks: never the limit (max_sleeping is)

HANDLERS: dict[str, str] = {}  # op -> the name of the handler that serves it

# What a handler's request is about, found from its arguments: an inode, a name in a
# directory (LINK: the link's new name), an open file (POLL: the second argument), an open
# directory, the mount, nothing (forget), or the data path (read, write)
INODE, ENTRY, LINK, FILE, POLL, DIR, MOUNT, NOTHING, DATA = range(9)


def _subject(self: IofsOperations, kind: int, op: str,
             args: tuple) -> tuple[str, Any, bool, bool, Any]:
    """``(path, td, quiet, faultable, open file)`` of a request: its path as rules name it,
    the opener's td for a request on an open file (else None: the caller's), whether it is
    about the control directory, whether a rule may fault it (never the root's getattr, the
    way into the control directory), and the open file it goes through, if any."""
    fs = self.fs
    ns = fs.ns
    if kind == INODE:
        node = ns.get(args[0])
        faultable = not (op == "getattr" and node is ns.root and fs.control is not None)
        return ns.path(node), None, fs.is_quiet(node), faultable, None  # (root getattr: the way in)
    if kind in (ENTRY, LINK):
        at = 1 if kind == LINK else 0
        parent = ns.dir(args[at])
        return ns.child_path(parent, args[at + 1]), None, fs.is_quiet(parent, args[at + 1]), True, None
    if kind in (FILE, POLL):
        of = self._file(args[1] if kind == POLL else args[0])
        return of.path, of.td, of.hook is None, True, of
    if kind == DIR:
        d = self.opens.dir(args[0])
        return d.path, d.td, d.quiet, True, None
    if kind == MOUNT:
        return "", None, False, True, None
    return "", None, False, False, None


def _fuse_error(exc: BaseException, name: str, args: tuple) -> pyfuse3.FUSEError:
    """What an exception inside a handler becomes: an OSError's errno (the namespace and the
    planes say which errno the program gets that way), else EIO, logged. What must pass
    through (trio's Cancelled, KeyboardInterrupt) is re-raised."""
    if isinstance(exc, OSError) and exc.errno:  # first: the common case (ENOENT, ENODATA)
        return pyfuse3.FUSEError(exc.errno)
    if isinstance(exc, pyfuse3.FUSEError):
        return exc
    if isinstance(exc, guard.PASS_THROUGH):  # (trio.Cancelled's isinstance check is costly)
        raise exc
    log.error("%s%s failed inside iofs: EIO", name, reprlib.repr(args), exc_info=exc)
    return pyfuse3.FUSEError(errno.EIO)


def handler(op: str | tuple[str, ...], subject: int) -> Callable[[Callable[..., Awaitable[Any]]],
                                                                  Callable[..., Awaitable[Any]]]:
    """Declare a FUSE handler serving ``op`` (the first of several, when the request's op
    depends on its arguments: see ``op_of``), whose request is about ``subject``."""
    ops = (op,) if isinstance(op, str) else op

    def declare(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        for name in ops:
            if name not in OPS:
                raise LookupError(f"handler {fn.__name__}: {name!r} is not an op of iofs.faults.ops")
            HANDLERS[name] = fn.__name__
        if subject == DATA:
            return _data_handler(ops[0], fn)
        takes_td = fn.__code__.co_varnames[fn.__code__.co_argcount - 1] == "td"
        single = ops[0] if len(ops) == 1 else None  # setattr/truncate: decided per request

        @functools.wraps(fn)
        async def wrapper(self: IofsOperations, *args: Any) -> Any:
            try:
                if takes_td:
                    ctx = args[-1]
                    args = (*args[:-1], Td(ctx.pid, ctx.uid, ctx.gid, None, None, ctx.umask))
                name = single or self.op_of(ops, args)
                path, td, quiet, faultable, target = _subject(self, subject, name, args)
                if quiet:
                    return await fn(self, *args)
                if td is None and takes_td:
                    td = args[-1]
                return await self.fs.hook.request(name, path, td, lambda: fn(self, *args),
                                                  faultable and OPS[name].faultable, target)
            except BaseException as exc:
                raise _fuse_error(exc, fn.__name__, args) from None

        return wrapper

    return declare


def _data_handler(op: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The wrapper of read and write: the open file, then the hook's data path (the request
    path of every byte: nothing here that a request does not need)."""
    if op == "read":
        @functools.wraps(fn)
        async def read(self: IofsOperations, fh: int, off: int, size: int) -> Any:
            try:
                of = self.opens.files.get(fh)
                if of is None:
                    raise pyfuse3.FUSEError(errno.EBADF)
                if size <= 0:
                    return b""
                if of.hook is not None:
                    return await of.hook.read(of, off, size, self.serve_read)
                return await self.serve_read(of, off, size)
            except BaseException as exc:
                raise _fuse_error(exc, "read", (fh, off, size)) from None

        return read

    @functools.wraps(fn)
    async def write(self: IofsOperations, fh: int, off: int, data: Any) -> Any:
        try:
            of = self.opens.files.get(fh)
            if of is None:
                raise pyfuse3.FUSEError(errno.EBADF)
            if of.hook is not None:
                return await of.hook.write(of, off, data, self.serve_write)
            return await self.serve_write(of, off, data)
        except BaseException as exc:
            raise _fuse_error(exc, "write", (fh, off, len(data))) from None

    return write


class IofsOperations(pyfuse3.Operations):
    """pyfuse3's operations over one mount."""

    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(self, tree: Tree) -> None:
        super().__init__()
        self.fs = Filesystem(tree, self)
        # pyfuse3 reads this at FUSE_INIT; direct_io device nodes never use the page cache
        self.enable_writeback_cache = tree.writeback_cache
        self.xattrs = tree.xattr
        self.opens = OpenFiles(self.fs, tree.writeback_cache)
        self.serve_read = self.fs.data.read  # what the read and write handlers serve with
        self.serve_write = self.fs.data.write

    @staticmethod
    def op_of(ops: tuple[str, ...], args: tuple) -> str:
        """The op of a request: setattr is "truncate" when it changes the size."""
        if len(ops) > 1 and args[2].update_size:
            return ops[1]
        return ops[0]

    # ---- helpers ----

    def _attr(self, a: Attributes) -> pyfuse3.EntryAttributes:
        e = pyfuse3.EntryAttributes()
        e.st_ino = a.ino
        e.generation = 0
        e.entry_timeout = ATTR_TIMEOUT
        e.attr_timeout = ATTR_TIMEOUT if a.cacheable else 0
        e.st_mode, e.st_nlink, e.st_uid, e.st_gid = a.mode, a.nlink, a.uid, a.gid
        e.st_rdev, e.st_size, e.st_blksize, e.st_blocks = a.rdev, a.size, a.blksize, a.blocks
        e.st_atime_ns, e.st_mtime_ns, e.st_ctime_ns = a.atime_ns, a.mtime_ns, a.ctime_ns
        return e

    def _entry(self, node: Any) -> pyfuse3.EntryAttributes:
        """Attributes for a reply that hands the kernel a new lookup reference."""
        try:
            attr = self._attr(self.ns.attributes(node))
        except BaseException:
            self.ns.forget(node.ino, 0)  # not handed to the kernel: free it if unheld
            raise
        self.ns.remember(node)
        return attr

    @property
    def ns(self) -> Any:
        """The namespace being served (a reset puts a new one in place)."""
        return self.fs.ns

    async def invalidate(self, inodes: list[int]) -> None:
        """Drop the kernel's cached data and attributes of ``inodes``. In a thread: with
        writeback_cache the kernel first writes dirty pages back, which this loop must serve."""

        def drop() -> None:
            for ino in inodes:
                try:
                    pyfuse3.invalidate_inode(ino)
                except OSError:
                    pass  # the kernel does not know it (never looked up, or forgotten)

        await trio.to_thread.run_sync(drop)

    async def forget_entries(self, entries: list[tuple[int, bytes]]) -> None:
        """Drop the kernel's cached directory entries ``(parent, name)`` (in a thread, as
        :meth:`invalidate`)."""

        def drop() -> None:
            for parent, name in entries:
                try:
                    pyfuse3.invalidate_entry(parent, name)
                except OSError:
                    pass  # not cached

        await trio.to_thread.run_sync(drop)

    def _file(self, fh: int) -> OpenFile:
        return self.opens.file(fh)

    # ---- the data path ----

    @handler("read", DATA)
    async def read(self, fh: int, off: int, size: int) -> memoryview:
        """d_read of the open file ``fh``: the data path's (``serve_read``), through the hook."""

    @handler("write", DATA)
    async def write(self, fh: int, off: int, data: Any) -> int:
        """d_write of the open file ``fh``: the data path's (``serve_write``), through the hook."""

    @handler("poll", POLL)
    async def poll(self, inode: int, fh: int, ph: Any, td: Td) -> int:
        of = self._file(fh)
        td.pollhandle = ph
        current_file.set(of)
        revents = await guard.call_poll(of.dev, POLLSTANDARD, td)
        if revents & POLLERR:
            of.stats.errors += 1
        return revents

    # ---- opening and closing ----

    @handler("open", INODE)
    async def open(self, inode: int, flags: int, td: Td) -> pyfuse3.FileInfo:
        return self._file_info(*await self.opens.open(self.ns.get(inode), flags, td))

    @staticmethod
    def _file_info(fh: int, of: OpenFile) -> pyfuse3.FileInfo:
        return pyfuse3.FileInfo(fh=fh, direct_io=of.direct, keep_cache=not of.direct,
                                nonseekable=of.stream)

    @handler("close", FILE)
    async def release(self, fh: int) -> None:
        await self.opens.release(fh)

    @handler("flush", FILE)
    async def flush(self, fh: int) -> None:
        return None

    @handler("fsync", FILE)
    async def fsync(self, fh: int, datasync: bool) -> None:
        of = self._file(fh)
        current_file.set(of)
        error = await guard.call(of.dev, "d_fsync", bool(datasync))
        if error:
            raise pyfuse3.FUSEError(error)
        self.ns.synced(of.node)

    # ---- names and attributes ----

    @handler("lookup", ENTRY)
    async def lookup(self, parent_inode: int, name: bytes, td: Td) -> pyfuse3.EntryAttributes:
        return self._entry(self.ns.lookup(parent_inode, name))

    @handler("forget", NOTHING)
    async def forget(self, inode_list: Any) -> None:
        for inode, nlookup in inode_list:
            self.ns.forget(inode, nlookup)

    @handler("getattr", INODE)
    async def getattr(self, inode: int, td: Td) -> pyfuse3.EntryAttributes:
        a = self.ns.attributes(self.ns.get(inode))
        if not a.cacheable:
            raise pyfuse3.FUSEError(errno.EIO)  # the driver's d_size is broken (logged by guard)
        return self._attr(a)

    @handler(("setattr", "truncate"), INODE)
    async def setattr(self, inode: int, attr: Any, fields: Any, fh: Any,
                      td: Td) -> pyfuse3.EntryAttributes:
        node = self.ns.get(inode)
        await self.ns.setattr(node, AttrChanges(
            size=attr.st_size if fields.update_size else None,
            mode=attr.st_mode if fields.update_mode else None,
            uid=attr.st_uid if fields.update_uid else None,
            gid=attr.st_gid if fields.update_gid else None,
            atime_ns=attr.st_atime_ns if fields.update_atime else None,
            mtime_ns=attr.st_mtime_ns if fields.update_mtime else None,
            ctime_ns=attr.st_ctime_ns if getattr(fields, "update_ctime", False) else None))
        return self._attr(self.ns.attributes(node))

    @handler("statfs", MOUNT)
    async def statfs(self, td: Td) -> pyfuse3.StatvfsData:
        st = self.ns.statfs()
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = st.bsize
        s.f_blocks, s.f_bfree, s.f_bavail = st.blocks, st.bfree, st.bavail
        s.f_files, s.f_ffree, s.f_favail = st.files, st.ffree, st.ffree
        s.f_namemax = st.namemax
        return s

    # ---- extended attributes ----

    def _xattr_node(self, inode: int) -> Any:
        if not self.xattrs:
            # the kernel then stops asking (for every name), and stops asking for
            # security.capability before each write(2) to a regular file
            raise pyfuse3.FUSEError(errno.ENOSYS)
        return self.ns.get(inode)

    @handler("setxattr", INODE)
    async def setxattr(self, inode: int, name: bytes, value: bytes, td: Td) -> None:
        self.ns.setxattr(self._xattr_node(inode), name, value)

    @handler("getxattr", INODE)
    async def getxattr(self, inode: int, name: bytes, td: Td) -> bytes:
        return self.ns.getxattr(self._xattr_node(inode), name)

    @handler("listxattr", INODE)
    async def listxattr(self, inode: int, td: Td) -> list[bytes]:
        return self.ns.listxattr(self._xattr_node(inode))

    @handler("removexattr", INODE)
    async def removexattr(self, inode: int, name: bytes, td: Td) -> None:
        self.ns.removexattr(self._xattr_node(inode), name)

    # ---- directories ----

    @handler("opendir", INODE)
    async def opendir(self, inode: int, td: Td) -> int:
        return self.opens.opendir(self.ns.dir(inode), td)

    @handler("readdir", DIR)
    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        d = self.opens.dir(fh)
        for name, node, cookie in self.ns.listing(d.node, start_id, d):
            if not pyfuse3.readdir_reply(token, name, self._attr(self.ns.attributes(node)), cookie):
                self.ns.forget(node.ino, 0)  # not handed to the kernel: free it if unheld
                return
            if cookie > 2:  # "." and ".." carry no lookup reference
                self.ns.remember(node)

    @handler("releasedir", DIR)
    async def releasedir(self, fh: int) -> None:
        self.opens.releasedir(fh)

    @handler("fsyncdir", DIR)
    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        self.ns.synced(self.opens.dir(fh).node)

    # ---- changing the namespace ----

    @handler("create", ENTRY)
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int,
                     td: Td) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        node = self.ns.create(parent_inode, name, mode & ~td.umask, td)
        try:
            fh, of = await self.opens.open(node, flags & ~os.O_TRUNC, td)
        except BaseException:
            self.ns.forget(node.ino, 0)  # the name stays; what only this reply held goes
            raise
        return self._file_info(fh, of), self._entry(node)

    @handler("mknod", ENTRY)
    async def mknod(self, parent_inode: int, name: bytes, mode: int, rdev: int,
                    td: Td) -> pyfuse3.EntryAttributes:
        return self._entry(self.ns.mknod(parent_inode, name, mode & ~td.umask, rdev, td))

    @handler("mkdir", ENTRY)
    async def mkdir(self, parent_inode: int, name: bytes, mode: int,
                    td: Td) -> pyfuse3.EntryAttributes:
        return self._entry(self.ns.mkdir(parent_inode, name, mode & 0o7777 & ~td.umask, td))

    @handler("symlink", ENTRY)
    async def symlink(self, parent_inode: int, name: bytes, target: bytes,
                      td: Td) -> pyfuse3.EntryAttributes:
        return self._entry(self.ns.symlink(parent_inode, name, target, td))

    @handler("readlink", INODE)
    async def readlink(self, inode: int, td: Td) -> bytes:
        return self.ns.readlink(self.ns.get(inode))

    @handler("link", LINK)
    async def link(self, inode: int, new_parent_inode: int, new_name: bytes,
                   td: Td) -> pyfuse3.EntryAttributes:
        return self._entry(self.ns.link(inode, new_parent_inode, new_name))

    @handler("unlink", ENTRY)
    async def unlink(self, parent_inode: int, name: bytes, td: Td) -> None:
        self.ns.unlink(parent_inode, name)

    @handler("rmdir", ENTRY)
    async def rmdir(self, parent_inode: int, name: bytes, td: Td) -> None:
        self.ns.rmdir(parent_inode, name)

    @handler("rename", ENTRY)
    async def rename(self, parent_inode_old: int, name_old: bytes, parent_inode_new: int,
                     name_new: bytes, flags: int, td: Td) -> None:
        if flags & ~(pyfuse3.RENAME_NOREPLACE | pyfuse3.RENAME_EXCHANGE):
            raise pyfuse3.FUSEError(errno.EINVAL)  # RENAME_WHITEOUT (overlayfs): no whiteouts here
        self.ns.rename(parent_inode_old, name_old, parent_inode_new, name_new,
                       noreplace=bool(flags & pyfuse3.RENAME_NOREPLACE),
                       exchange=bool(flags & pyfuse3.RENAME_EXCHANGE))


__all__ = ["IofsOperations", "HANDLERS", "handler", "MAX_WORKERS"]
