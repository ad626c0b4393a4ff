"""The filesystem: FUSE requests (pyfuse3) become uio structures handed to cdevsw-style drivers.

The request path (read and write) is kept short, since every request already costs ~30 µs
of FUSE round trip:

* read: a zero-length read never reaches the driver. Otherwise a UIO_READ/UIO_USERSPACE uio
  over the first ``size`` bytes of a reply buffer, with uio_offset = offset, goes to d_read, and
  the reply is a memoryview of exactly ``size - uio_resid`` bytes. Reply buffers are never
  allocated per request (faulting in fresh pages costs more than the copy): a driver that cannot
  sleep shares one buffer and a per-open uio (reset, not rebuilt), since nothing else runs until
  pyfuse3 has sent the reply; a read that may sleep takes a buffer from a pool and gives it back
  on return, and gets a uio of its own.
* write: a UIO_WRITE uio over the delivered bytes; the reply is ``size - uio_resid``. For a
  seekable device with a size limit (uio_limit), a write at or past the limit fails with EFBIG
  and one crossing it is cut short before the driver sees it (drivers may also apply
  uio_trim_to_limit themselves, as mem does for use outside the filesystem).
* The syscall layer's rules (FreeBSD dofileread/dofilewrite): ERESTART, EINTR and EWOULDBLOCK
  after progress become a short count (ERESTART without progress is EINTR, since FUSE cannot
  restart a call); any other errno reaches the program; a driver that raises gives EIO, its
  traceback is logged, and the daemon keeps serving.

``uio_td`` is the process that opened the file: pyfuse3 does not pass the caller of a
read/write request, only of open/create/poll. A file opened O_NONBLOCK reads with IO_NDELAY;
an fcntl(F_SETFL) after open is not seen (FUSE does not pass it to the daemon).

Device nodes are direct_io (every request reaches the driver, short transfers reach the program
as they are, requests up to 1 MiB); stream devices are also nonseekable. Regular files go
through the page cache (keep_cache), which is coherent because every change passes through it.
By default writes to them are write-through (each write(2) reaches d_write, so ENOSPC is seen
by the write that causes it); the ``writeback_cache`` option lets the kernel gather them.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from typing import Any

import pyfuse3

from .config import Tree
from .driver import (
    ERESTART, IO_APPEND, POLLSTANDARD, Device, Td, current_file, entry_point,
    ioflag_from_open_flags,
)
from .drivers.regular import MemoryPool, RegularFile
from .tree import Dir, File, Namespace, Node, Symlink
from .uio import OFF_MAX, UIO_READ, UIO_USERSPACE, UIO_WRITE, Uio

log = logging.getLogger("iofs")

REPLY_BUFFER = 1 << 20  # the largest request the kernel sends (direct_io, max_pages 256)
RESTARTABLE = frozenset({ERESTART, errno.EINTR, errno.EWOULDBLOCK, errno.EAGAIN})
BLOCK = 4096
MAX_INODES = 1 << 20
ATTR_TIMEOUT = 1.0


_NOTHING = memoryview(b"")


class OpenFile:
    """One open of a file: what the request path needs, looked up once at open."""

    __slots__ = ("node", "dev", "d_read", "read_async", "d_write", "write_async", "ioflag",
                 "flags", "td", "limit", "stats", "stream", "regular", "cdevpriv", "cdevpriv_dtr",
                 "read_uio", "write_uio")

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


def _errno_of(value: Any, who: str) -> int:
    """A driver's return value as an errno, or EIO (logged) when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    log.error("%s returned %r, not 0 or an errno: EIO", who, value)
    return errno.EIO


def _raised(dev: Device, entry: str) -> int:
    """A driver entry point raised: log its traceback and answer EIO; the daemon goes on."""
    log.exception("%s: %s raised: EIO", dev.name or "file", entry)
    return errno.EIO


def _settle(of: OpenFile, size: int, resid: Any, error: Any, entry: str) -> int:
    """The syscall layer after d_read/d_write: the bytes moved, or FUSEError with the errno.

    ERESTART, EINTR and EWOULDBLOCK after progress become a short count (ERESTART without
    progress is EINTR); any other errno fails the call; a driver that leaves uio_resid outside
    0..size, or returns something that is not an errno, gives EIO.
    """
    moved = size - resid if type(resid) is int else -1
    if not 0 <= moved <= size:
        log.error("%s: %s left uio_resid %r of %d: EIO", of.dev.name, entry, resid, size)
        moved, error = 0, errno.EIO
    if error and not (moved and error in RESTARTABLE):
        error = _errno_of(error, f"{of.dev.name}: {entry}")
        of.stats.errors += 1
        raise pyfuse3.FUSEError(errno.EINTR if error == ERESTART else error)
    return moved


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
        self.devices: list[Device] = []
        self._open: dict[int, OpenFile] = {}
        self._dirs: dict[int, Dir] = {}
        self._next_fh = 1
        self._bufs: list[memoryview] = []  # reply buffers of reads that may sleep
        self._reply = memoryview(bytearray(REPLY_BUFFER))  # the reply buffer of all other reads
        self._reply_len = REPLY_BUFFER
        for spec in tree.dirs:
            d = self.ns.makedirs(spec.path, spec.mode, spec.uid, spec.gid)
            d.mode = stat.S_IFDIR | spec.mode
            d.uid, d.gid = spec.uid, spec.gid
        for spec in tree.devices:
            head, _, name = spec.path.rpartition("/")
            parent = self.ns.makedirs(head) if head else self.ns.root
            dev = Device(spec.path, spec.driver, mode=spec.mode, uid=spec.uid, gid=spec.gid,
                         limit=spec.limit)
            dev.devices = self.devices
            self.devices.append(dev)
            self.ns.add_device(parent.ino, name.encode(), dev)

    # ---- helpers ----

    def _attr(self, node: Node) -> pyfuse3.EntryAttributes:
        a = pyfuse3.EntryAttributes()
        a.st_ino = node.ino
        a.generation = 0
        a.entry_timeout = ATTR_TIMEOUT
        a.attr_timeout = ATTR_TIMEOUT
        a.st_mode = node.mode
        a.st_nlink = node.nlink
        a.st_uid = node.uid
        a.st_gid = node.gid
        a.st_rdev = 0
        size = node.size
        a.st_size = size
        a.st_blksize = BLOCK
        if isinstance(node, File) and node.dev.regular:
            a.st_blocks = sum(len(c) for c in node.dev.driver.chunks.values()) // 512
        else:
            a.st_blocks = (size + 511) // 512
        a.st_atime_ns = node.atime_ns
        a.st_mtime_ns = node.mtime_ns
        a.st_ctime_ns = node.ctime_ns
        return a

    def _entry(self, node: Node) -> pyfuse3.EntryAttributes:
        """Attributes for a reply that hands the kernel a new lookup reference."""
        node.lookups += 1
        return self._attr(node)

    def _free_storage(self, node: Node) -> None:
        if isinstance(node, File) and node.dev.regular:
            node.dev.driver.release_storage()

    def _new_regular(self, mode: int, uid: int, gid: int) -> Device:
        dev = Device("", RegularFile(self.pool), mode=mode & 0o7777, uid=uid, gid=gid,
                     limit=self.max_file_size, regular=True)
        return dev

    def _fh(self) -> int:
        fh = self._next_fh
        self._next_fh += 1
        return fh

    @staticmethod
    def _td(ctx: Any) -> Td:
        return Td(ctx.pid, ctx.uid, ctx.gid)

    async def _call(self, dev: Device, entry: str, *args: Any) -> int:
        """Call the driver's entry point ``entry`` with ``(dev, *args)``; 0 or an errno (EIO,
        with the traceback logged, for a driver that raises)."""
        fn, is_async = entry_point(dev.driver, entry)
        try:
            result = (await fn(dev, *args)) if is_async else fn(dev, *args)
        except Exception:
            return _raised(dev, entry)
        return _errno_of(result, f"{dev.name}: {entry}")

    # ---- the request path ----

    async def read(self, fh: int, off: int, size: int) -> Any:
        of = self._open.get(fh)
        if of is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        if size <= 0:
            return b""
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
        except Exception:  # (Cancelled and KeyboardInterrupt are BaseException: they pass)
            error = _raised(of.dev, "d_read")
        stats = of.stats
        stats.reads += 1
        moved = size - uio.uio_resid
        if error or not 0 <= moved <= size:
            moved = _settle(of, size, uio.uio_resid, error, "d_read")
        stats.bytes_read += moved
        if of.regular:
            of.node.atime_ns = time.time_ns()
        return self._reply[:moved]

    async def _read_sleeping(self, of: OpenFile, off: int, size: int) -> Any:
        """read for a driver that may sleep: its reply buffer is its own until it returns."""
        bufs = self._bufs
        buf = bufs.pop() if bufs else memoryview(bytearray(REPLY_BUFFER))
        if len(buf) < size:
            bufs.append(buf)
            buf = memoryview(bytearray(size))
        try:
            uio = Uio.single(buf, size, UIO_READ, UIO_USERSPACE, 0 if of.stream else off,
                             of.td, of.limit, of.flags)
            current_file.set(of)
            try:
                error = await of.d_read(of.dev, uio, of.ioflag)
            except Exception:
                error = _raised(of.dev, "d_read")
            stats = of.stats
            stats.reads += 1
            moved = _settle(of, size, uio.uio_resid, error, "d_read")
            stats.bytes_read += moved
            return buf[:moved]
        finally:
            bufs.append(buf)  # pyfuse3 replies before any other task can take it

    async def write(self, fh: int, off: int, data: bytes) -> int:
        of = self._open.get(fh)
        if of is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        size = len(data)
        if of.limit is not None and not of.stream:
            # uio_limit: a write at or past it fails with EFBIG, one crossing it is cut short
            if off >= of.limit:
                of.stats.writes += 1
                of.stats.errors += 1
                raise pyfuse3.FUSEError(errno.EFBIG)
            if off + size > of.limit:
                size = of.limit - off
        if of.write_async:
            uio = Uio.single(memoryview(data), size, UIO_WRITE, UIO_USERSPACE,
                             0 if of.stream else off, of.td, of.limit, of.flags)
        else:  # cannot sleep: one uio per open serves all its writes, as for reads
            uio = of.write_uio
            uio.reset(memoryview(data), size, 0 if of.stream else off)
        current_file.set(of)
        try:
            error = (await of.d_write(of.dev, uio, of.ioflag)) if of.write_async \
                else of.d_write(of.dev, uio, of.ioflag)
        except Exception:
            error = _raised(of.dev, "d_write")
        if not of.write_async:
            uio._segs[0] = _NOTHING  # do not keep the request's bytes alive until the next write
        stats = of.stats
        stats.writes += 1
        moved = size - uio.uio_resid
        if error or not 0 <= moved <= size:
            moved = _settle(of, size, uio.uio_resid, error, "d_write")
        stats.bytes_written += moved
        if of.regular and moved:
            of.node.touch()
        return moved

    async def poll(self, inode: int, fh: int, ph: Any, ctx: Any) -> int:
        of = self._open.get(fh)
        if of is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        fn, is_async = entry_point(of.dev.driver, "d_poll")
        td = Td(ctx.pid, ctx.uid, ctx.gid, ph)
        current_file.set(of)
        try:
            revents = (await fn(of.dev, POLLSTANDARD, td)) if is_async else fn(of.dev, POLLSTANDARD, td)
        except Exception:
            raise pyfuse3.FUSEError(_raised(of.dev, "d_poll")) from None
        return int(revents or 0)

    # ---- opening and closing ----

    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        node = self._get(inode)
        if isinstance(node, Dir):
            raise pyfuse3.FUSEError(errno.EISDIR)
        if not isinstance(node, File):
            raise pyfuse3.FUSEError(errno.ENXIO)
        return await self._open_file(node, flags, ctx)

    async def _open_file(self, node: File, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        dev = node.dev
        td = self._td(ctx)
        if flags & os.O_TRUNC and dev.regular and flags & os.O_ACCMODE != os.O_RDONLY:
            dev.driver.d_truncate(dev, 0)
            node.touch()
        of = OpenFile(node, flags, td)
        if dev.regular and self.enable_writeback_cache:
            # the kernel owns the file position of appends and writes pages back at their own
            # offsets (libfuse's passthrough_ll does the same)
            of.ioflag &= ~IO_APPEND
        current_file.set(of)
        error = await self._call(dev, "d_open", flags, td)
        if error:
            self._destroy_cdevpriv(of)
            raise pyfuse3.FUSEError(error)
        fh = self._fh()
        self._open[fh] = of
        node.opens += 1
        return pyfuse3.FileInfo(fh=fh, direct_io=not dev.regular, keep_cache=dev.regular,
                                nonseekable=dev.stream)

    async def release(self, fh: int) -> None:
        of = self._open.pop(fh, None)
        if of is None:
            return
        current_file.set(of)
        error = await self._call(of.dev, "d_close", of.flags, of.td)
        if error:
            log.warning("%s: d_close returned %s", of.dev.name, errno.errorcode.get(error, error))
        self._destroy_cdevpriv(of)
        of.node.opens -= 1
        self.ns.maybe_free(of.node)

    @staticmethod
    def _destroy_cdevpriv(of: OpenFile) -> None:
        if of.cdevpriv is not None and of.cdevpriv_dtr is not None:
            try:
                of.cdevpriv_dtr(of.cdevpriv)
            except Exception:
                log.exception("%s: cdevpriv destructor raised", of.dev.name)
        of.cdevpriv = of.cdevpriv_dtr = None

    async def flush(self, fh: int) -> None:
        return None

    async def fsync(self, fh: int, datasync: bool) -> None:
        return None

    # ---- names and attributes ----

    def _get(self, inode: int) -> Node:
        try:
            return self.ns.get(inode)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None

    async def lookup(self, parent_inode: int, name: bytes, ctx: Any) -> pyfuse3.EntryAttributes:
        try:
            node = self.ns.lookup(parent_inode, name)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None
        return self._entry(node)

    async def forget(self, inode_list: Any) -> None:
        for inode, nlookup in inode_list:
            self.ns.forget(inode, nlookup)

    async def getattr(self, inode: int, ctx: Any) -> pyfuse3.EntryAttributes:
        return self._attr(self._get(inode))

    async def setattr(self, inode: int, attr: Any, fields: Any, fh: Any, ctx: Any) -> pyfuse3.EntryAttributes:
        node = self._get(inode)
        now = time.time_ns()
        if fields.update_size:
            if isinstance(node, Dir):
                raise pyfuse3.FUSEError(errno.EISDIR)
            if isinstance(node, File) and node.dev.regular:
                error = node.dev.driver.d_truncate(node.dev, attr.st_size)
                if error:
                    raise pyfuse3.FUSEError(error)
                node.mtime_ns = now
            # a device node ignores truncation, as a character device does (O_TRUNC, `>`)
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

    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        s = pyfuse3.StatvfsData()
        s.f_bsize = BLOCK
        s.f_frsize = BLOCK
        s.f_blocks = self.pool.cap // BLOCK
        s.f_bfree = self.pool.available() // BLOCK
        s.f_bavail = s.f_bfree
        s.f_files = MAX_INODES
        s.f_ffree = max(MAX_INODES - len(self.ns.inodes), 0)
        s.f_favail = s.f_ffree
        s.f_namemax = 255
        return s

    # ---- directories ----

    async def opendir(self, inode: int, ctx: Any) -> int:
        node = self._get(inode)
        if not isinstance(node, Dir):
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        fh = self._fh()
        self._dirs[fh] = node
        return fh

    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        d = self._dirs.get(fh)
        if d is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        for name, node, cookie in d.listing(start_id):
            if not pyfuse3.readdir_reply(token, name, self._attr(node), cookie):
                return
            if cookie > 2:  # "." and ".." carry no lookup reference
                node.lookups += 1
        d.atime_ns = time.time_ns()

    async def releasedir(self, fh: int) -> None:
        self._dirs.pop(fh, None)

    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        return None

    # ---- changing the namespace ----

    def _owner(self, parent: Dir, ctx: Any) -> tuple[int, int]:
        gid = parent.gid if parent.mode & stat.S_ISGID else ctx.gid
        return ctx.uid, gid

    def _make_file(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> File:
        try:
            parent = self.ns.dir(parent_inode)
            uid, gid = self._owner(parent, ctx)
            dev = self._new_regular(mode & ~ctx.umask, uid, gid)
            return self.ns.add_device(parent_inode, name, dev)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None

    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any):
        node = self._make_file(parent_inode, name, mode, ctx)
        fi = await self._open_file(node, flags & ~os.O_TRUNC, ctx)
        return fi, self._entry(node)

    async def mknod(self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: Any):
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFREG:
            return self._entry(self._make_file(parent_inode, name, mode, ctx))
        if kind in (stat.S_IFIFO, stat.S_IFSOCK):
            try:
                parent = self.ns.dir(parent_inode)
                uid, gid = self._owner(parent, ctx)
                node = self.ns.special(parent_inode, name, kind | (mode & 0o7777 & ~ctx.umask), uid, gid)
            except OSError as exc:
                raise pyfuse3.FUSEError(exc.errno) from None
            return self._entry(node)
        raise pyfuse3.FUSEError(errno.EPERM)  # device nodes come from the config, not mknod

    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any):
        try:
            parent = self.ns.dir(parent_inode)
            uid, gid = self._owner(parent, ctx)
            node = self.ns.mkdir(parent_inode, name, mode & 0o7777 & ~ctx.umask, uid, gid)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None
        return self._entry(node)

    async def symlink(self, parent_inode: int, name: bytes, target: bytes, ctx: Any):
        try:
            parent = self.ns.dir(parent_inode)
            uid, gid = self._owner(parent, ctx)
            node = self.ns.symlink(parent_inode, name, target, uid, gid)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None
        return self._entry(node)

    async def readlink(self, inode: int, ctx: Any) -> bytes:
        node = self._get(inode)
        if not isinstance(node, Symlink):
            raise pyfuse3.FUSEError(errno.EINVAL)
        return node.target

    async def link(self, inode: int, new_parent_inode: int, new_name: bytes, ctx: Any):
        try:
            node = self.ns.link(inode, new_parent_inode, new_name)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None
        return self._entry(node)

    async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        try:
            self.ns.unlink(parent_inode, name)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None

    async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        try:
            self.ns.rmdir(parent_inode, name)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None

    async def rename(self, parent_inode_old: int, name_old: bytes, parent_inode_new: int,
                     name_new: bytes, flags: int, ctx: Any) -> None:
        try:
            self.ns.rename(parent_inode_old, name_old, parent_inode_new, name_new,
                           noreplace=bool(flags & pyfuse3.RENAME_NOREPLACE),
                           exchange=bool(flags & pyfuse3.RENAME_EXCHANGE))
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None


__all__ = ["IofsOperations", "OpenFile"]
