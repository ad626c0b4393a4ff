"""A FUSE mount that is not iofs (type ``fuse.other``): what iofs must refuse to mount over,
unmount, or steer."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from iofs.system.mounts import mount_type

from .mounting import unmount_if_mounted
from .processes import wait_for

OTHER_FS = '''
import os, sys, pyfuse3, trio
class Ops(pyfuse3.Operations):
    async def getattr(self, inode, ctx):
        a = pyfuse3.EntryAttributes(); a.st_ino = 1; a.st_mode = 0o40755; a.st_nlink = 2
        return a
pyfuse3.init(Ops(), sys.argv[1], {"fsname=otherfs", "subtype=other"})
print("ready", flush=True)
try:
    trio.run(pyfuse3.main)
finally:
    pyfuse3.close()
'''


@contextlib.contextmanager
def other_fuse_mount(base: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    """A ``fuse.other`` mount at ``base/other`` for a block: (mount point, its daemon). Gone
    after the block, with whatever a failing test mounted over it."""
    mp = base / "other"
    mp.mkdir()
    (base / "otherfs.py").write_text(OTHER_FS)
    proc = subprocess.Popen([sys.executable, str(base / "otherfs.py"), str(mp)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert wait_for(lambda: mount_type(str(mp)) == "fuse.other", 10)
        yield mp, proc
    finally:
        if mount_type(str(mp)) == "fuse.iofs":  # what a broken iofs mounted on top of it
            unmount_if_mounted(mp)
        subprocess.run(["fusermount3", "-u", str(mp)], capture_output=True)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


__all__ = ["other_fuse_mount", "OTHER_FS"]
