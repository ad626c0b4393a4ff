#!/usr/bin/env python3
"""The reference of the bench's backed section: the least code a pyfuse3 filesystem needs to
serve a host directory, in the shape of ``bare_fs.py``: no uio, no drivers, no hook.

* inodes: the host's own inode numbers; each known inode keeps the path it was found under
  (``lookup`` and ``create`` record it, ``forget`` drops it). Nothing else is kept.
* data: ``os.preadv`` into one reply buffer allocated once (returned as a memoryview, sent
  before any other task can run, as in bare_fs.py) and ``os.pwrite`` of the bytes pyfuse3
  delivers: the least data work there is.
* the rest passes through: getattr, setattr (size and times: what fio and dd need), create,
  unlink, readdir, fsync, statfs, and getxattr. getxattr is served (it answers the host's
  ENODATA) because a passthrough must carry extended attributes, and so that this daemon pays
  what any filesystem that serves them pays: the kernel asks for ``security.capability``
  before every write(2) to a regular file (pyfuse3 cannot ask for FUSE_HANDLE_KILLPRIV_V2,
  see docs/benchmarks.md).

Files are opened without direct_io and without keep_cache (pyfuse3's FileInfo defaults): the
page cache is used, and dropped at each open. Run: ``bare_passthrough.py SOURCE MOUNTPOINT``
(foreground; unmount with ``fusermount3 -u``).
"""

from __future__ import annotations

import errno
import os
import sys

import pyfuse3
import trio

MAX_REQUEST = 1 << 20


class Passthrough(pyfuse3.Operations):
    def __init__(self, source: str) -> None:
        super().__init__()
        self.paths = {pyfuse3.ROOT_INODE: source}
        self.reply = memoryview(bytearray(MAX_REQUEST))

    def _attr(self, path: str, ino: int | None = None) -> pyfuse3.EntryAttributes:
        st = os.lstat(path)
        a = pyfuse3.EntryAttributes()
        a.st_ino = ino if ino is not None else st.st_ino
        for key in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_rdev", "st_size",
                    "st_blksize", "st_blocks", "st_atime_ns", "st_mtime_ns", "st_ctime_ns"):
            setattr(a, key, getattr(st, key))
        a.entry_timeout = a.attr_timeout = 1
        return a

    def _entry(self, parent: int, name: bytes) -> pyfuse3.EntryAttributes:
        path = os.path.join(self.paths[parent], os.fsdecode(name))
        a = self._attr(path)
        self.paths[a.st_ino] = path
        return a

    async def lookup(self, parent_inode, name, ctx=None):
        try:
            return self._entry(parent_inode, name)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno) from None

    async def forget(self, inode_list):
        for ino, _ in inode_list:
            if ino != pyfuse3.ROOT_INODE:
                self.paths.pop(ino, None)

    async def getattr(self, inode, ctx=None):
        return self._attr(self.paths[inode], inode)

    async def setattr(self, inode, attr, fields, fh, ctx):
        path = self.paths[inode]
        if fields.update_size:
            os.truncate(path, attr.st_size)
        if fields.update_atime or fields.update_mtime:
            st = os.lstat(path)
            os.utime(path, ns=(attr.st_atime_ns if fields.update_atime else st.st_atime_ns,
                               attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns))
        return self._attr(path, inode)

    async def open(self, inode, flags, ctx):
        return pyfuse3.FileInfo(fh=os.open(self.paths[inode], flags & ~os.O_CREAT))

    async def create(self, parent_inode, name, mode, flags, ctx):
        path = os.path.join(self.paths[parent_inode], os.fsdecode(name))
        fd = os.open(path, flags | os.O_CREAT, mode)
        return pyfuse3.FileInfo(fh=fd), self._entry(parent_inode, name)

    async def read(self, fh, off, size):
        n = os.preadv(fh, [self.reply[:size]], off)
        return self.reply[:n]

    async def write(self, fh, off, buf):
        return os.pwrite(fh, buf, off)

    async def fsync(self, fh, datasync):
        (os.fdatasync if datasync else os.fsync)(fh)

    async def release(self, fh):
        os.close(fh)

    async def unlink(self, parent_inode, name, ctx):
        os.unlink(os.path.join(self.paths[parent_inode], os.fsdecode(name)))

    async def opendir(self, inode, ctx):
        return inode

    async def readdir(self, fh, start_id, token):
        names = sorted(os.listdir(self.paths[fh]))
        for k, name in enumerate(names[start_id:], start_id + 1):
            if not pyfuse3.readdir_reply(token, os.fsencode(name),
                                         self._entry(fh, os.fsencode(name)), k):
                return

    async def getxattr(self, inode, name, ctx):
        try:
            return os.getxattr(self.paths[inode], name, follow_symlinks=False)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None

    async def statfs(self, ctx):
        st = os.statvfs(self.paths[pyfuse3.ROOT_INODE])
        s = pyfuse3.StatvfsData()
        for key in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files",
                    "f_ffree", "f_favail", "f_namemax"):
            setattr(s, key, getattr(st, key))
        return s


def main(argv: list[str]) -> int:
    source, mountpoint = argv
    pyfuse3.init(Passthrough(os.path.realpath(source)), mountpoint,
                 set(pyfuse3.default_options) | {"fsname=iofs-bare-passthrough"})
    try:
        trio.run(pyfuse3.main)
    except BaseException:
        pyfuse3.close(unmount=True)
        raise
    pyfuse3.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
