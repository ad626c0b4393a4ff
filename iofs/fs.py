"""The filesystem: FUSE requests (pyfuse3) become uio structures handed to cdevsw-style drivers.

The request path (read and write) is kept short, since every request already costs ~30 µs
of FUSE round trip:

* read: a zero-length read never reaches the driver. Otherwise a UIO_READ/UIO_USERSPACE uio
  over the first ``size`` bytes of a reply buffer, with uio_offset = offset, goes to d_read, and
  the reply is a memoryview of exactly ``size - uio_resid`` bytes. Reply buffers are never
  allocated per request (faulting in fresh pages costs more than the copy): a driver that cannot
  sleep shares one buffer and a per-open uio (reset, not rebuilt), since nothing else runs until
  pyfuse3 has sent the reply; a read that may sleep gets a buffer of its own (pooled, or a fresh
  anonymous mapping that costs no memory until the driver moves data into it) and its own uio.
* write: a UIO_WRITE uio over the delivered bytes; the reply is ``size - uio_resid``. For a
  seekable device with a size limit (uio_limit), a write at or past the limit fails with EFBIG
  and one crossing it is cut short before the driver sees it.
* Every driver entry point is called through :mod:`iofs.guard`: whatever a driver raises or
  returns, the program gets an errno and the daemon keeps serving. The syscall layer's rules
  (FreeBSD dofileread/dofilewrite) are :func:`iofs.guard.outcome`.
* Requests that sleep in a driver never stall the others: pyfuse3 gets as many worker tasks as
  there are requests. What bounds them is ``max_sleeping``: each uid may have that many
  requests asleep in a WaitChannel at once; the next sleep gets EAGAIN (:class:`WaitChannel`).
* Every request passes the fault and trace hook (:mod:`iofs.faults`) once: ``self.hook``.

``uio_td`` is the process that opened the file: pyfuse3 does not pass the caller of a
read/write request, only of open/create/poll. A file opened O_NONBLOCK reads with IO_NDELAY;
an fcntl(F_SETFL) after open is not seen (FUSE does not pass it to the daemon).

Device nodes are direct_io (every request reaches the driver, short transfers reach the program
as they are, requests up to 1 MiB); stream devices are also nonseekable. Regular files go
through the page cache (keep_cache), which is coherent because every change passes through it,
unless a fault rule for reads or writes matches the file when it is opened: that open is
direct_io, so the fault reaches the program as the rule made it. By default writes to regular
files are write-through (each write(2) reaches d_write, so ENOSPC is seen by the write that
causes it); the ``writeback_cache`` option lets the kernel gather them.
"""

from __future__ import annotations

import errno
import functools
import logging
import mmap
import os
import reprlib
import stat
import time
from typing import Any, Awaitable, Callable

import pyfuse3
import trio

from . import control, durability, guard, xattr
from .config import Tree
from .driver import (
    IO_APPEND, POLLERR, POLLSTANDARD, Device, Td, WaitChannel, current_file, entry_point,
    ioflag_from_open_flags, tgid_of,
)
from .drivers.regular import MemoryPool, RegularFile
from .durability import Durability
from .faults.hook import Hook, build_hook, control_files
from .tree import Dir, File, Namespace, Node, Special, Symlink
from .uio import OFF_MAX, UIO_READ, UIO_USERSPACE, UIO_WRITE, Uio, uio_unfilled

log = logging.getLogger("iofs")

REPLY_BUFFER = 1 << 20  # the largest request the kernel sends (direct_io, max_pages 256)
POOLED_BUFFERS = 8      # reply buffers of sleeping reads kept for reuse
BLOCK = 4096
ATTR_TIMEOUT = 1.0
MAX_WORKERS = 1 << 30   # pyfuse3's max_tasks: never the limit (max_sleeping is)


_NOTHING = memoryview(b"")


class OpenFile:
    """One open of a file: what the request path needs, looked up once at open.

    ``hook`` is the fault and trace hook, or None for the control files (never traced).
    """

    __slots__ = ("node", "dev", "d_read", "read_async", "d_write", "write_async", "ioflag",
                 "flags", "td", "limit", "stats", "stream", "regular", "cdevpriv", "cdevpriv_dtr",
                 "read_uio", "write_uio", "hook", "path", "comm", "direct")

    def __init__(self, node: File, flags: int, td: Td) -> None:
        dev = node.dev
        self.node = node
        self.dev = dev
        self.d_read, self.read_async = entry_point(dev.driver, "d_read")
        self.d_write, self.write_async = entry_point(dev.driver, "d_write")
        self.ioflag = ioflag_from_open_flags(flags)
        self.flags = flags
        self.td = td
        self.limit = dev.limit
        self.stats = dev.stats
        self.stream = dev.stream
        self.regular = dev.regular
        self.cdevpriv: Any = None
        self.cdevpriv_dtr: Any = None
        # reused by every read of a driver that cannot sleep (see IofsOperations.read)
        self.read_uio = Uio.single(_NOTHING, 0, UIO_READ, UIO_USERSPACE, 0, td, dev.limit, flags)
        self.write_uio = Uio.single(_NOTHING, 0, UIO_WRITE, UIO_USERSPACE, 0, td, dev.limit, flags)
        self.hook: Hook | None = None
        self.path = ""
        self.comm = ""
        self.direct = not dev.regular
        if self.read_async or self.write_async:  # its sleeps look for the process's signals
            td.tgid = tgid_of(td.pid)


def _fail(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)


def _own_bug(exc: BaseException, name: str, args: tuple) -> pyfuse3.FUSEError:
    """What a handler's own exception becomes: the errno of an OSError (the namespace says
    which errno the program gets: iofs.tree raises them on purpose), else EIO, logged. What
    must pass through (trio's Cancelled, KeyboardInterrupt) is re-raised."""
    if isinstance(exc, guard.PASS_THROUGH):
        raise exc
    if isinstance(exc, OSError):
        return _fail(exc.errno or errno.EIO)
    log.error("%s%s failed inside iofs: EIO", name, reprlib.repr(args), exc_info=exc)
    return _fail(errno.EIO)


def _survives(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A request handler whose own bugs are EIO for that request, logged, not the daemon's end
    (pyfuse3 stops the whole filesystem on any exception but FUSEError). read and write do the
    same inline, a coroutine frame less per request."""

    @functools.wraps(handler)
    async def survivor(self: IofsOperations, *args: Any) -> Any:
        try:
            return await handler(self, *args)
        except pyfuse3.FUSEError:
            raise
        except BaseException as exc:
            raise _own_bug(exc, handler.__name__, args) from None

    return survivor


class IofsOperations(pyfuse3.Operations):
    """pyfuse3 operations over a :class:`~iofs.tree.Namespace` of device nodes and files."""

    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(self, tree: Tree) -> None:
        super().__init__()
        self.ns = Namespace()
        self.ns.on_free = self._free_storage
        self.pool = MemoryPool(tree.max_memory)
        self.max_file_size = tree.max_file_size if tree.max_file_size is not None else OFF_MAX
        # pyfuse3 reads this at FUSE_INIT; direct_io device nodes never use the page cache
        self.enable_writeback_cache = tree.writeback_cache
        WaitChannel.max_sleeping = tree.max_sleeping
        self.xattrs = tree.xattr
        self.devices: list[Device] = []
        self._open: dict[int, OpenFile] = {}
        self._dirs: dict[int, tuple[Dir, Td]] = {}  # open directories and who opened them
        self._next_fh = 1
        self._bufs: list[memoryview] = []  # reply buffers of reads that may sleep
        self._reply = memoryview(bytearray(REPLY_BUFFER))  # the reply buffer of all other reads
        self._reply_len = REPLY_BUFFER
        for spec in tree.dirs:
            d = self.ns.makedirs(spec.path, spec.mode, spec.uid, spec.gid)
            d.mode = stat.S_IFDIR | spec.mode
            d.uid, d.gid = spec.uid, spec.gid
        for spec in tree.devices:
            self._add_device(spec.path, spec.driver, mode=spec.mode, uid=spec.uid, gid=spec.gid,
                             limit=spec.limit)
        self.hook = build_hook(self, tree)
        self.durability = Durability() if tree.durability else None
        if tree.control:
            files = control_files(self.hook)
            if self.durability is not None:
                files += durability.control_files(self.durability, self.ns, self._invalidate)
            self.hook.quiet = control.build(self.ns, tree.control, files)
            self.hook.quiet_name = tree.control.encode()
        self.ns.max_inodes = tree.max_inodes  # bounds what programs make (the tree is made)

    def _add_device(self, path: str, driver: Any, **node: Any) -> File:
        head, _, name = path.rpartition("/")
        parent = self.ns.makedirs(head) if head else self.ns.root
        dev = Device(path, driver, **node)
        dev.devices = self.devices
        self.devices.append(dev)
        return self.ns.add_device(parent.ino, name.encode(), dev)

    # ---- helpers ----

    def _attr(self, node: Node, size: int | None = None) -> pyfuse3.EntryAttributes:
        """The node's attributes. A device whose d_size is broken shows size 0, never cached,
        so that every stat asks again (getattr: EIO) while readdir still lists it."""
        a = pyfuse3.EntryAttributes()
        a.st_ino = node.ino
        a.generation = 0
        a.entry_timeout = ATTR_TIMEOUT
        a.attr_timeout = ATTR_TIMEOUT
        if size is None:
            size = guard.call_size(node.dev) if isinstance(node, File) else node.size
            if size is None:
                size = 0
                a.attr_timeout = 0
        a.st_mode = node.mode
        a.st_nlink = node.nlink
        a.st_uid = node.uid
        a.st_gid = node.gid
        a.st_rdev = node.rdev if isinstance(node, Special) else 0
        a.st_size = size
        a.st_blksize = BLOCK
        if isinstance(node, File) and node.dev.regular:
            a.st_blocks = node.dev.driver.held_bytes() // 512
        else:
            a.st_blocks = (size + 511) // 512
        a.st_atime_ns = node.atime_ns
        a.st_mtime_ns = node.mtime_ns
        a.st_ctime_ns = node.ctime_ns
        return a

    def _entry(self, node: Node) -> pyfuse3.EntryAttributes:
        """Attributes for a reply that hands the kernel a new lookup reference."""
        attr = self._attr(node)
        node.lookups += 1
        return attr

    def _free_storage(self, node: Node) -> None:
        xattr.release(node, self.pool)
        if isinstance(node, File) and node.dev.regular:
            node.dev.driver.release_storage()

    def _new_regular(self, mode: int, uid: int, gid: int) -> Device:
        journal = self.durability.journal() if self.durability is not None else None
        return Device("", RegularFile(self.pool, journal), mode=mode & 0o7777, uid=uid, gid=gid,
                      limit=self.max_file_size, regular=True)

    async def _invalidate(self, inodes: list[int]) -> None:
        """Drop the kernel's cached data and attributes of ``inodes``. In a thread: with
        writeback_cache the kernel first writes dirty pages back, which this loop must serve."""

        def drop() -> None:
            for ino in inodes:
                try:
                    pyfuse3.invalidate_inode(ino)
                except OSError:
                    pass  # the kernel does not know it (never looked up, or forgotten)

        await trio.to_thread.run_sync(drop)

    def _fh(self) -> int:
        fh = self._next_fh
        self._next_fh += 1
        return fh

    @staticmethod
    def _td(ctx: Any) -> Td:
        return Td(ctx.pid, ctx.uid, ctx.gid)

    def _get(self, inode: int) -> Node:
        return self.ns.get(inode)

    def _dir(self, fh: int) -> tuple[Dir, Td]:
        d = self._dirs.get(fh)
        if d is None:
            raise _fail(errno.EBADF)
        return d

    def _file(self, fh: int) -> OpenFile:
        of = self._open.get(fh)
        if of is None:
            raise _fail(errno.EBADF)
        return of

    # ---- the request path ----

    async def read(self, fh: int, off: int, size: int) -> Any:
        try:
            of = self._open.get(fh)
            if of is None:
                raise _fail(errno.EBADF)
            if size <= 0:
                return b""
            if of.hook is not None:
                return await of.hook.read(of, off, size, self._read)
            return await self._read(of, off, size)
        except pyfuse3.FUSEError:
            raise
        except BaseException as exc:
            raise _own_bug(exc, "read", (fh, off, size)) from None

    async def _read(self, of: OpenFile, off: int, size: int) -> Any:
        """d_read over ``size`` bytes at ``off``: the reply, or FUSEError."""
        if of.read_async:
            return await self._read_sleeping(of, off, size)
        # A driver that cannot sleep runs to completion before any other task, and pyfuse3
        # sends the reply as soon as we return: one reply buffer and one uio serve every such
        # read, so this path allocates nothing.
        if size > self._reply_len:
            self._reply = memoryview(bytearray(size))
            self._reply_len = size
        uio = of.read_uio
        uio.reset(self._reply, size, 0 if of.stream else off)
        current_file.set(of)
        try:
            error = of.d_read(of.dev, uio, of.ioflag)
        except BaseException as exc:
            error = guard.raised(of.dev, "d_read", exc)
        stats = of.stats
        stats.reads += 1
        resid = uio.uio_resid
        if error or type(resid) is not int or not 0 <= resid <= size:
            moved, error = guard.outcome(of.dev, "d_read", size, resid, error)
            if error:
                raise _fail(error)
        else:
            moved = size - resid
        if uio._holes is not None or moved > uio._skip:
            _unfilled_to_zeros(self._reply, uio, moved)
        stats.bytes_read += moved
        if of.regular:
            of.node.atime_ns = time.time_ns()
        return self._reply[:moved]

    async def _read_sleeping(self, of: OpenFile, off: int, size: int) -> Any:
        """read for a driver that may sleep: its reply buffer and uio are its own."""
        bufs = self._bufs
        buf = bufs.pop() if bufs and len(bufs[-1]) >= size else _fresh_buffer(size)
        try:
            uio = Uio.single(buf, size, UIO_READ, UIO_USERSPACE, 0 if of.stream else off,
                             of.td, of.limit, of.flags)
            current_file.set(of)
            try:
                error = await of.d_read(of.dev, uio, of.ioflag)
            except BaseException as exc:
                error = guard.raised(of.dev, "d_read", exc)
            of.stats.reads += 1
            moved, error = guard.outcome(of.dev, "d_read", size, uio.uio_resid, error)
            if uio._holes is not None or moved > uio._skip:
                _unfilled_to_zeros(buf, uio, moved)
            # the buffer goes back to the pool for another sleeping read: a driver that kept
            # this uio must not be able to move data into that read's reply
            uio._segs[0] = _NOTHING
            uio._lens[0] = uio.uio_resid = 0
            if error:
                raise _fail(error)
            of.stats.bytes_read += moved
            return buf[:moved]
        finally:
            if len(buf) == REPLY_BUFFER and len(bufs) < POOLED_BUFFERS:
                bufs.append(buf)  # pyfuse3 replies before any other task can take it

    async def write(self, fh: int, off: int, data: bytes) -> int:
        try:
            of = self._open.get(fh)
            if of is None:
                raise _fail(errno.EBADF)
            if of.hook is not None:
                return await of.hook.write(of, off, data, self._write)
            return await self._write(of, off, data)
        except pyfuse3.FUSEError:
            raise
        except BaseException as exc:
            raise _own_bug(exc, "write", (fh, off, len(data))) from None

    async def _write(self, of: OpenFile, off: int, data: Any) -> int:
        """d_write of ``data`` at ``off``: the bytes taken, or FUSEError."""
        size = len(data)
        if of.limit is not None and not of.stream:
            # uio_limit: a write at or past it fails with EFBIG, one crossing it is cut short
            if off >= of.limit:
                of.stats.writes += 1
                of.stats.errors += 1
                raise _fail(errno.EFBIG)
            if off + size > of.limit:
                size = of.limit - off
        if of.write_async:
            return await self._write_sleeping(of, off, data, size)
        uio = of.write_uio  # cannot sleep: one uio per open serves all its writes, as for reads
        uio.reset(memoryview(data), size, 0 if of.stream else off)
        current_file.set(of)
        try:
            error = of.d_write(of.dev, uio, of.ioflag)
        except BaseException as exc:
            error = guard.raised(of.dev, "d_write", exc)
        uio._segs[0] = _NOTHING  # do not keep the request's bytes alive until the next write
        stats = of.stats
        stats.writes += 1
        resid = uio.uio_resid
        if error or type(resid) is not int or not 0 <= resid <= size:
            moved, error = guard.outcome(of.dev, "d_write", size, resid, error)
            if error:
                raise _fail(error)
        else:
            moved = size - resid
        stats.bytes_written += moved
        if of.regular and moved:
            of.node.touch()
        return moved

    async def _write_sleeping(self, of: OpenFile, off: int, data: Any, size: int) -> int:
        uio = Uio.single(memoryview(data), size, UIO_WRITE, UIO_USERSPACE,
                         0 if of.stream else off, of.td, of.limit, of.flags)
        current_file.set(of)
        try:
            error = await of.d_write(of.dev, uio, of.ioflag)
        except BaseException as exc:
            error = guard.raised(of.dev, "d_write", exc)
        of.stats.writes += 1
        moved, error = guard.outcome(of.dev, "d_write", size, uio.uio_resid, error)
        if error:
            raise _fail(error)
        of.stats.bytes_written += moved
        if of.regular and moved:
            of.node.touch()
        return moved

    @_survives
    async def poll(self, inode: int, fh: int, ph: Any, ctx: Any) -> int:
        of = self._file(fh)
        async with self.hook.request("poll", of.node, None, self._td(ctx), of):
            td = Td(ctx.pid, ctx.uid, ctx.gid, ph)
            current_file.set(of)
            revents = await guard.call_poll(of.dev, POLLSTANDARD, td)
            if revents & POLLERR:
                of.stats.errors += 1
            return revents

    # ---- opening and closing ----

    @_survives
    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        node = self._get(inode)
        async with self.hook.request("open", node, None, self._td(ctx)):
            if isinstance(node, Dir):
                raise _fail(errno.EISDIR)
            if not isinstance(node, File):
                raise _fail(errno.ENXIO)
            return await self._open_file(node, flags, self._td(ctx))

    async def _open_file(self, node: File, flags: int, td: Td) -> pyfuse3.FileInfo:
        dev = node.dev
        of = OpenFile(node, flags, td)
        self.hook.opened(of)
        if dev.regular:
            if flags & os.O_TRUNC and flags & os.O_ACCMODE != os.O_RDONLY:
                error = await guard.call(dev, "d_truncate", 0)
                if error:
                    raise _fail(error)
                node.touch()
            if self.enable_writeback_cache:
                # the kernel owns the file position of appends and writes pages back at their
                # own offsets (libfuse's passthrough_ll does the same)
                of.ioflag &= ~IO_APPEND
        current_file.set(of)
        error = await guard.call(dev, "d_open", flags, td)
        if error:
            self._destroy_cdevpriv(of)
            raise _fail(error)
        fh = self._fh()
        self._open[fh] = of
        node.opens += 1
        return pyfuse3.FileInfo(fh=fh, direct_io=of.direct, keep_cache=not of.direct,
                                nonseekable=dev.stream)

    @_survives
    async def release(self, fh: int) -> None:
        of = self._open.pop(fh, None)
        if of is None:
            return
        try:
            async with self.hook.request("close", of.node, None, of.td, of):
                current_file.set(of)
                error = await guard.call(of.dev, "d_close", of.flags, of.td)
                if error:
                    log.warning("%s: d_close returned %s", of.dev.name,
                                errno.errorcode.get(error, error))
        finally:
            self._destroy_cdevpriv(of)
            of.node.opens -= 1
            self.ns.maybe_free(of.node)

    @staticmethod
    def _destroy_cdevpriv(of: OpenFile) -> None:
        if of.cdevpriv is not None and of.cdevpriv_dtr is not None:
            try:
                of.cdevpriv_dtr(of.cdevpriv)
            except BaseException as exc:
                guard.raised(of.dev, "cdevpriv destructor", exc)
        of.cdevpriv = of.cdevpriv_dtr = None

    @_survives
    async def flush(self, fh: int) -> None:
        of = self._file(fh)
        async with self.hook.request("flush", of.node, None, of.td, of):
            return None

    @_survives
    async def fsync(self, fh: int, datasync: bool) -> None:
        of = self._file(fh)
        async with self.hook.request("fsync", of.node, None, of.td, of):
            current_file.set(of)
            error = await guard.call(of.dev, "d_fsync", bool(datasync))
            if error:
                raise _fail(error)

    # ---- names and attributes ----

    @_survives
    async def lookup(self, parent_inode: int, name: bytes, ctx: Any) -> pyfuse3.EntryAttributes:
        parent = self.ns.dir(parent_inode)
        async with self.hook.request("lookup", parent, name, self._td(ctx)):
            return self._entry(self.ns.lookup(parent_inode, name))

    @_survives
    async def forget(self, inode_list: Any) -> None:
        for inode, nlookup in inode_list:
            self.ns.forget(inode, nlookup)

    @_survives
    async def getattr(self, inode: int, ctx: Any) -> pyfuse3.EntryAttributes:
        node = self._get(inode)
        async with self.hook.request("getattr", node, None, self._td(ctx)):
            size = guard.call_size(node.dev) if isinstance(node, File) else node.size
            if size is None:
                raise _fail(errno.EIO)  # the driver's d_size is broken (logged by guard)
            return self._attr(node, size)

    @_survives
    async def setattr(self, inode: int, attr: Any, fields: Any, fh: Any, ctx: Any) -> pyfuse3.EntryAttributes:
        node = self._get(inode)
        op = "truncate" if fields.update_size else "setattr"
        async with self.hook.request(op, node, None, self._td(ctx)):
            return await self._setattr(node, attr, fields)

    async def _setattr(self, node: Node, attr: Any, fields: Any) -> pyfuse3.EntryAttributes:
        now = time.time_ns()
        if fields.update_size:
            if isinstance(node, Dir):
                raise _fail(errno.EISDIR)
            if not (isinstance(node, File) and node.dev.regular):
                raise _fail(errno.EINVAL)  # as truncate(2) of a character device
            error = await guard.call(node.dev, "d_truncate", attr.st_size)
            if error:
                raise _fail(error)
            node.mtime_ns = now
        if fields.update_mode:
            node.mode = stat.S_IFMT(node.mode) | (attr.st_mode & 0o7777)
            if isinstance(node, File) and not node.dev.regular:
                node.dev.mode = attr.st_mode & 0o7777
        if fields.update_uid:
            node.uid = attr.st_uid
        if fields.update_gid:
            node.gid = attr.st_gid
        if fields.update_atime:
            node.atime_ns = attr.st_atime_ns
        if fields.update_mtime:
            node.mtime_ns = attr.st_mtime_ns
        node.ctime_ns = attr.st_ctime_ns if getattr(fields, "update_ctime", False) else now
        return self._attr(node)

    @_survives
    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        async with self.hook.request("statfs", self.ns.root, None, self._td(ctx)):
            s = pyfuse3.StatvfsData()
            s.f_bsize = BLOCK
            s.f_frsize = BLOCK
            s.f_blocks = self.pool.cap // BLOCK
            s.f_bfree = self.pool.available() // BLOCK
            s.f_bavail = s.f_bfree
            s.f_files = self.ns.max_inodes
            s.f_ffree = max(self.ns.max_inodes - self.ns.inodes_used, 0)
            s.f_favail = s.f_ffree
            s.f_namemax = 255
            return s

    # ---- extended attributes ----

    def _xattr_node(self, inode: int) -> Node:
        if not self.xattrs:
            # the kernel then stops asking (for every name), and stops asking for
            # security.capability before each write(2) to a regular file
            raise _fail(errno.ENOSYS)
        return self._get(inode)

    @_survives
    async def setxattr(self, inode: int, name: bytes, value: bytes, ctx: Any) -> None:
        node = self._xattr_node(inode)
        async with self.hook.request("setxattr", node, None, self._td(ctx)):
            xattr.put(node, name, value, self.pool)
            node.touch(mtime=False)

    @_survives
    async def getxattr(self, inode: int, name: bytes, ctx: Any) -> bytes:
        node = self._xattr_node(inode)
        async with self.hook.request("getxattr", node, None, self._td(ctx)):
            return xattr.get(node, name)

    @_survives
    async def listxattr(self, inode: int, ctx: Any) -> list[bytes]:
        node = self._xattr_node(inode)
        async with self.hook.request("listxattr", node, None, self._td(ctx)):
            return xattr.names(node)

    @_survives
    async def removexattr(self, inode: int, name: bytes, ctx: Any) -> None:
        node = self._xattr_node(inode)
        async with self.hook.request("removexattr", node, None, self._td(ctx)):
            xattr.remove(node, name, self.pool)
            node.touch(mtime=False)

    # ---- directories ----

    @_survives
    async def opendir(self, inode: int, ctx: Any) -> int:
        node = self._get(inode)
        async with self.hook.request("opendir", node, None, self._td(ctx)):
            if not isinstance(node, Dir):
                raise _fail(errno.ENOTDIR)
            fh = self._fh()
            self._dirs[fh] = (node, self._td(ctx))
            return fh

    @_survives
    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        d, td = self._dir(fh)
        async with self.hook.request("readdir", d, None, td):
            for name, node, cookie in d.listing(start_id):
                if not pyfuse3.readdir_reply(token, name, self._attr(node), cookie):
                    return
                if cookie > 2:  # "." and ".." carry no lookup reference
                    node.lookups += 1
            d.atime_ns = time.time_ns()

    @_survives
    async def releasedir(self, fh: int) -> None:
        self._dirs.pop(fh, None)

    @_survives
    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        d, td = self._dir(fh)
        async with self.hook.request("fsyncdir", d, None, td):
            return None

    # ---- changing the namespace ----

    def _owner(self, parent: Dir, ctx: Any) -> tuple[int, int]:
        gid = parent.gid if parent.mode & stat.S_ISGID else ctx.gid
        return ctx.uid, gid

    def _make_file(self, parent: Dir, name: bytes, mode: int, ctx: Any) -> File:
        uid, gid = self._owner(parent, ctx)
        dev = self._new_regular(mode & ~ctx.umask, uid, gid)
        return self.ns.add_device(parent.ino, name, dev)

    @_survives
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any):
        parent = self.ns.dir(parent_inode)
        async with self.hook.request("create", parent, name, self._td(ctx)):
            node = self._make_file(parent, name, mode, ctx)
            fi = await self._open_file(node, flags & ~os.O_TRUNC, self._td(ctx))
            return fi, self._entry(node)

    @_survives
    async def mknod(self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: Any):
        parent = self.ns.dir(parent_inode)
        async with self.hook.request("mknod", parent, name, self._td(ctx)):
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFREG:
                return self._entry(self._make_file(parent, name, mode, ctx))
            if kind not in (stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK):
                raise _fail(errno.EINVAL)
            uid, gid = self._owner(parent, ctx)
            rdev = rdev if kind in (stat.S_IFCHR, stat.S_IFBLK) else 0
            node = self.ns.special(parent_inode, name, kind | (mode & 0o7777 & ~ctx.umask),
                                   uid, gid, rdev)
            return self._entry(node)

    @_survives
    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any):
        parent = self.ns.dir(parent_inode)
        async with self.hook.request("mkdir", parent, name, self._td(ctx)):
            uid, gid = self._owner(parent, ctx)
            return self._entry(self.ns.mkdir(parent_inode, name, mode & 0o7777 & ~ctx.umask, uid, gid))

    @_survives
    async def symlink(self, parent_inode: int, name: bytes, target: bytes, ctx: Any):
        parent = self.ns.dir(parent_inode)
        async with self.hook.request("symlink", parent, name, self._td(ctx)):
            uid, gid = self._owner(parent, ctx)
            return self._entry(self.ns.symlink(parent_inode, name, target, uid, gid))

    @_survives
    async def readlink(self, inode: int, ctx: Any) -> bytes:
        node = self._get(inode)
        async with self.hook.request("readlink", node, None, self._td(ctx)):
            if not isinstance(node, Symlink):
                raise _fail(errno.EINVAL)
            return node.target

    @_survives
    async def link(self, inode: int, new_parent_inode: int, new_name: bytes, ctx: Any):
        parent = self.ns.dir(new_parent_inode)
        async with self.hook.request("link", parent, new_name, self._td(ctx)):
            return self._entry(self.ns.link(inode, new_parent_inode, new_name))

    @_survives
    async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent = self.ns.dir(parent_inode)
        async with self.hook.request("unlink", parent, name, self._td(ctx)):
            self.ns.unlink(parent_inode, name)

    @_survives
    async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent = self.ns.dir(parent_inode)
        async with self.hook.request("rmdir", parent, name, self._td(ctx)):
            self.ns.rmdir(parent_inode, name)

    @_survives
    async def rename(self, parent_inode_old: int, name_old: bytes, parent_inode_new: int,
                     name_new: bytes, flags: int, ctx: Any) -> None:
        parent = self.ns.dir(parent_inode_old)
        async with self.hook.request("rename", parent, name_old, self._td(ctx)):
            if flags & ~(pyfuse3.RENAME_NOREPLACE | pyfuse3.RENAME_EXCHANGE):
                raise _fail(errno.EINVAL)  # RENAME_WHITEOUT (overlayfs): no whiteouts here
            self.ns.rename(parent_inode_old, name_old, parent_inode_new, name_new,
                           noreplace=bool(flags & pyfuse3.RENAME_NOREPLACE),
                           exchange=bool(flags & pyfuse3.RENAME_EXCHANGE))


def _unfilled_to_zeros(buf: memoryview, uio: Uio, moved: int) -> None:
    """Zeros for the bytes of the reply a d_read counted as moved but never filled (skipped,
    or claimed by lowering uio_resid): the reply buffer held another read's data, maybe of
    another user's file. (The inline test before the call is the cheap form of "are there
    any": the read path pays it on every request.)"""
    for start, end in uio_unfilled(uio, moved):
        buf[start:end] = bytes(end - start)


def _fresh_buffer(size: int) -> memoryview:
    """A reply buffer for a read that may sleep: a request-sized one for small reads, a
    REPLY_BUFFER-sized anonymous mapping (no memory until written) for the rest, so that
    thousands of readers asleep in a driver cost no RSS for their buffers."""
    if size <= 64 * 1024:
        return memoryview(bytearray(size))
    return memoryview(mmap.mmap(-1, max(size, REPLY_BUFFER)))


__all__ = ["IofsOperations", "OpenFile"]
