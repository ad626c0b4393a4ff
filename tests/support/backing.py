"""Host directories for the tests of backed mounts (``--source``, ``[[dir]] source``): a
kernel tmpfs of a given size mounted for a block (unmounted however the block ends), and the
trees that serve a host directory.

The regular-file tests run on both kinds of mount through :func:`regular_mount`: the default
tree with its ``tmp/`` in memory, or with ``tmp/`` a host directory on a tmpfs of its own (so
that both are compared with the same kernel filesystem's behaviour). A Mount made here says
which it is: ``mnt.backing`` is the host directory, or None.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

from iofs.system.mounts import mount_type
from iofs.vfs.config import DEFAULT_TREE

from .mounting import Mount, mounted

KINDS = ["memory", "backed"]
TMP_DIR = '[[dir]]\npath = "tmp"\nmode = "1777"\n'


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1G", options: str = "") -> Iterator[Path]:
    """A kernel tmpfs of ``size`` mounted at ``path`` (made if missing) for the block; it is
    unmounted (lazily, if busy) when the block ends, whatever happened in it."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size},mode=1777" + (f",{options}" if options else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "iofs-test", str(path)], check=True,
                   capture_output=True)
    try:
        yield path
    finally:
        if mount_type(str(path)) == "tmpfs":
            res = subprocess.run(["umount", str(path)], capture_output=True)
            if res.returncode != 0:
                subprocess.run(["umount", "-l", str(path)], capture_output=True)


def source_tree(source: Path | str, path: str = "tmp", base: str = DEFAULT_TREE) -> str:
    """``base`` (the default tree) with the directory ``path`` the host directory ``source``."""
    tree = base.replace(TMP_DIR, "") if path == "tmp" else base
    return tree + f'\n[[dir]]\npath = "{path}"\nsource = "{source}"\n'


@contextlib.contextmanager
def regular_mount(kind: str, base: Path, config: str | None = None,
                  *args: str) -> Iterator[Mount]:
    """A mount whose ``tmp/`` holds regular files in memory (``kind`` "memory": ``config``, or
    the default tree) or in a host directory on a tmpfs of its own ("backed": ``config`` with
    its ``tmp`` [[dir]] made a host directory). ``mnt.backing`` is the host directory or None."""
    if kind == "memory":
        with mounted(base, config, *args) as mnt:
            mnt.backing = None
            yield mnt
        return
    with tmpfs(base / "host") as host:
        os.chmod(host, 0o1777)
        with mounted(base, source_tree(host, base=config or DEFAULT_TREE), *args) as mnt:
            mnt.backing = host
            yield mnt


def statfs_of(mnt: Mount) -> os.statvfs_result:
    """statfs of the filesystem that holds the mount's ``tmp/``: the mount itself, or (FUSE's
    statfs is one answer for the whole mount, the in-memory tree's) the host directory."""
    return os.statvfs(getattr(mnt, "backing", None) or mnt.path)


def backed(mnt: Mount) -> bool:
    """Whether the mount's ``tmp/`` is a host directory."""
    return getattr(mnt, "backing", None) is not None


__all__ = ["KINDS", "tmpfs", "source_tree", "regular_mount", "statfs_of", "backed"]
