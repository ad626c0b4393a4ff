"""The daemon: mount a tree and serve it until it is unmounted or told to stop."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from typing import Callable, TextIO

import pyfuse3
import trio

from ..system.hostcalls import raise_open_files_limit
from ..system.mounts import mount_options
from ..vfs.config import Tree
from ..vfs.fuse import MAX_WORKERS, IofsOperations

log = logging.getLogger("iofs")


def serve(mountpoint: str, tree: Tree, *, debug: bool, allow_other: bool,
          ready: Callable[[str | None], None]) -> int:
    """Mount and serve until unmounted or SIGINT/SIGTERM/SIGHUP; ``ready(None)`` once requests
    are answered, ``ready(message)`` if the mount failed. Returns the exit status."""
    tune_malloc()
    raise_open_files_limit()  # a host directory's live inodes each hold a descriptor
    ops = IofsOperations(tree)
    # nodev: a device node made with mknod can never be opened into a device of the host
    options = {"fsname=iofs", "subtype=iofs", "default_permissions", "nodev", "nosuid"}
    if allow_other:
        options.add("allow_other")
    if debug:
        options.add("debug")
    try:
        pyfuse3.init(ops, mountpoint, options)
    except RuntimeError as exc:
        ready(f"mounting {mountpoint} failed: {exc} (see the log for libfuse's reason)")
        return 1
    if "nodev" not in mount_options(mountpoint):
        pyfuse3.close(unmount=True)
        ready(f"{mountpoint} was mounted without nodev: unmounted again")
        return 1
    log.info("mounted %s (pid %d)", mountpoint, os.getpid())
    try:
        trio.run(_main, mountpoint, ready)
    finally:
        pyfuse3.close(unmount=True)
        log.info("unmounted %s", mountpoint)
    return 0


async def _main(mountpoint: str, ready: Callable[[str | None], None]) -> None:
    async with trio.open_nursery() as nursery:
        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as sigs:
                async for signum in sigs:
                    log.info("signal %d: unmounting", signum)
                    pyfuse3.terminate()
                    # Requests still sleeping in a driver (a blocked pipe read) would keep
                    # this waiting forever: cancel them; the kernel fails them with ENOTCONN
                    # when the session closes.
                    nursery.cancel_scope.cancel()
                    return

        async def announce() -> None:
            # a stat from another thread returns once the loop answers FUSE_INIT and GETATTR
            await trio.to_thread.run_sync(os.stat, mountpoint)
            ready(None)

        nursery.start_soon(on_signal)
        nursery.start_soon(announce)
        # no cap on worker tasks: requests asleep in drivers must never stall the others
        # (the sleep accounting bounds them per uid: max_sleeping)
        await pyfuse3.main(max_tasks=MAX_WORKERS)
        nursery.cancel_scope.cancel()


def tune_malloc() -> None:
    """Keep freed request-sized blocks in the heap instead of unmapping them.

    pyfuse3 hands every write request to Python as a new bytes of up to 1 MiB; with glibc's
    default thresholds each one is a fresh mmap whose pages fault in on every request.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 4 << 20)
        libc.mallopt(m_trim_threshold, 16 << 20)
    except (OSError, AttributeError):
        pass  # not glibc: defaults are fine, only slower


def setup_logging(debug: bool, stream: TextIO | None = None) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, stream=stream or sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )


__all__ = ["serve", "tune_malloc", "setup_logging"]
