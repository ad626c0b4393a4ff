#!/usr/bin/env python3
"""The baseline of ``scripts/bench/run``: the least a pyfuse3 filesystem can do for /zero and /mem.

Two files in the root, both opened ``direct_io`` (no page cache, so every read(2)/write(2)
becomes FUSE requests of the caller's size, up to the limit below):

* ``zero``: reads return zeros; writes are accepted and discarded.
* ``mem``: a fixed-size store (``--mem-size``, default 64 MiB like iofs' mem0), seekable; reads
  stop at its end, writes past it fail with ENOSPC, O_TRUNC is ignored.

No uio, no drivers, no dispatch: the data work is exactly what iofs must do at least.

* read: one copy of the requested bytes (from a zero source or from the store) into one reply
  buffer that is allocated once and reused; the handler returns a memoryview of it, which pyfuse3
  hands to ``fuse_reply_buf`` synchronously when the handler returns, before any other trio task
  can run, so reusing the buffer is safe. (pyfuse3 copies nothing more on the way out.)
* write: pyfuse3 delivers ``bytes`` (it copies the request out of libfuse's buffer with
  ``PyBytes_from_bufvec`` in its ``write_buf`` handler); we copy them once into the store.

Request size. The kernel splits a direct_io read(2)/write(2) into requests of at most
``min(max_read, max_write, max_pages * PAGE_SIZE)`` bytes:

* ``max_pages`` is negotiated in FUSE_INIT. libfuse 3 answers with ``(max_write - 1) /
  PAGE_SIZE + 1`` where ``max_write`` defaults to its receive buffer, ``FUSE_MAX_MAX_PAGES``
  (256) pages, i.e. 1 MiB. The kernel caps it at ``/proc/sys/fs/fuse/max_pages_limit`` (256 by
  default: 1 MiB; older kernels hard-code FUSE_MAX_MAX_PAGES = 256). pyfuse3 does not expose
  ``conn.max_write``/``max_pages``, and needs nothing: the defaults already give 1 MiB.
* ``max_read`` is a *mount* option (``-o max_read=N``, accepted by ``pyfuse3.init`` in its option
  set); unset, it is unlimited. It can only lower the read size, never raise it past max_pages.
* Files without direct_io go through the page cache instead: reads are readahead of the bdi's
  ``read_ahead_kb`` (128 KiB by default, ``/sys/class/bdi/<major:minor>/read_ahead_kb``), and
  writes without the writeback cache are sent synchronously per write(2), split at max_write.

So 1 MiB is the largest request here; ``--stats`` prints the largest request seen at unmount to
check it. Run: ``scripts/bench/bare_fs.py MOUNTPOINT [--mem-size BYTES] [--stats]``
(foreground; unmount with ``fusermount3 -u``).
"""

from __future__ import annotations

import argparse
import errno
import mmap
import os
import stat
import sys

import pyfuse3
import trio

ROOT = pyfuse3.ROOT_INODE
ZERO, MEM = ROOT + 1, ROOT + 2
NAMES = {b"zero": ZERO, b"mem": MEM}
MAX_REQUEST = 1 << 20  # 256 pages, see above


class BareFS(pyfuse3.Operations):
    def __init__(self, mem_size: int, stats: bool) -> None:
        super().__init__()
        # anonymous mmap: zero pages appear when first written (bytearray(n) would memset them all)
        self.mem = mmap.mmap(-1, mem_size)
        self.mem_view = memoryview(self.mem)
        self.zeros = memoryview(bytes(MAX_REQUEST))
        self.reply = memoryview(bytearray(MAX_REQUEST))
        self.stats = stats
        self.max_read = self.max_write = 0

    def _attr(self, ino: int) -> pyfuse3.EntryAttributes:
        a = pyfuse3.EntryAttributes()
        a.st_ino = ino
        if ino == ROOT:
            a.st_mode, a.st_nlink = stat.S_IFDIR | 0o755, 2
        else:
            a.st_mode, a.st_nlink = stat.S_IFREG | 0o666, 1
            a.st_size = len(self.mem) if ino == MEM else 0
        a.st_blksize = 4096
        a.st_uid, a.st_gid = os.getuid(), os.getgid()
        a.entry_timeout = a.attr_timeout = 300
        return a

    async def getattr(self, inode, ctx=None):
        if inode not in (ROOT, ZERO, MEM):
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attr(inode)

    async def lookup(self, parent_inode, name, ctx=None):
        if parent_inode != ROOT or name not in NAMES:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attr(NAMES[name])

    async def setattr(self, inode, attr, fields, fh, ctx):
        return self._attr(inode)  # ignore truncate/chmod/utimes: devices have fixed sizes

    async def opendir(self, inode, ctx):
        return inode

    async def readdir(self, fh, start_id, token):
        for i, (name, ino) in enumerate(NAMES.items(), 1):
            if i > start_id and not pyfuse3.readdir_reply(token, name, self._attr(ino), i):
                return

    async def open(self, inode, flags, ctx):
        return pyfuse3.FileInfo(fh=inode, direct_io=True)

    async def read(self, fh, off, size):
        if self.stats and size > self.max_read:
            self.max_read = size
        if fh == ZERO:
            self.reply[:size] = self.zeros[:size]  # memoryview slices: one memcpy, no temporaries
        else:
            if off >= len(self.mem):
                return b""
            size = min(size, len(self.mem) - off)
            self.reply[:size] = self.mem_view[off:off + size]
        return self.reply[:size]

    async def write(self, fh, off, buf):
        n = len(buf)
        if self.stats and n > self.max_write:
            self.max_write = n
        if fh == MEM:
            if off + n > len(self.mem):
                raise pyfuse3.FUSEError(errno.ENOSPC)
            self.mem[off:off + n] = buf
        return n

    async def statfs(self, ctx):
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = 4096
        s.f_blocks = len(self.mem) // 4096
        s.f_namemax = 255
        return s


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * mult


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mountpoint")
    p.add_argument("--mem-size", type=parse_size, default=64 << 20)
    p.add_argument("--stats", action="store_true", help="print the largest requests at unmount")
    args = p.parse_args(argv)
    fs = BareFS(args.mem_size, args.stats)
    options = set(pyfuse3.default_options) | {"fsname=iofs-bare"}
    pyfuse3.init(fs, args.mountpoint, options)
    try:
        trio.run(pyfuse3.main)
    except BaseException:
        pyfuse3.close(unmount=True)
        raise
    pyfuse3.close()
    if args.stats:
        print(f"max_read={fs.max_read} max_write={fs.max_write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
