"""``--source DIR``: a host directory the mount mirrors, the same for every run.

The user's DIR is never what a run changes: each worker copies it once into its own directory
(``cp -a --reflink=auto``: on btrfs or xfs the copy shares the blocks) and mounts the copy.
Before each run the copy is compared with what it was after copying (names, types, sizes,
modes, modification times: a snapshot as rsync compares them); if a run changed anything, the
copy is removed and made again from DIR. A program that only reads its input costs one walk of
the tree per run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

Snapshot = dict[str, tuple[int, int, int, int]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under ``root``: (mode, size, mtime_ns, inode), by relative path."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            out[os.path.relpath(full, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def copy_tree(src: Path, dst: Path) -> None:
    """``src``'s contents into the empty or missing directory ``dst``, as they are (modes,
    times, links); reflinked where the filesystem can."""
    dst.mkdir(parents=True, exist_ok=True)
    res = None
    if shutil.which("cp"):
        res = subprocess.run(["cp", "-a", "--reflink=auto", f"{src}/.", str(dst)],
                             capture_output=True, text=True)
    if res is None or res.returncode != 0:
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)


def empty(path: Path) -> None:
    """Remove everything in ``path``, keeping the directory itself."""
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


class SourceCopy:
    """A worker's copy of DIR (``path``), restored before each run if a run changed it."""

    def __init__(self, source: str | os.PathLike, path: str | os.PathLike) -> None:
        self.source = Path(source)
        self.path = Path(path)
        self.restores = 0
        copy_tree(self.source, self.path)
        self.state = snapshot(self.path)

    def restore(self) -> bool:
        """Make the copy as DIR is, if a run changed it; whether it had to."""
        if snapshot(self.path) == self.state:
            return False
        empty(self.path)
        copy_tree(self.source, self.path)
        self.state = snapshot(self.path)
        self.restores += 1
        return True


__all__ = ["SourceCopy", "snapshot", "copy_tree", "empty"]
