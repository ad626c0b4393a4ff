"""text: read-only content produced by a function (or given as a string), served with uiomove_frombuf.

Each open file keeps its own snapshot (devfs_set_cdevpriv): the content is produced by the first
read and again by any read at offset 0, and the reads that follow are served from it, so a
reader that takes it in several requests sees one consistent text whatever other readers do.
Writes fail with EACCES (set a read-only mode on the node too).
"""

from __future__ import annotations

import errno
from typing import Callable, Union

from ..dev.cdevpriv import devfs_get_cdevpriv, devfs_set_cdevpriv
from ..dev.driver import Driver
from ..core.uio import uiomove_frombuf

Content = Union[str, bytes, Callable[[], Union[str, bytes]]]


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


class Text(Driver):
    description = "read-only text (option content), served with uiomove_frombuf"

    def __init__(self, content: Content = "") -> None:
        self._produce = content if callable(content) else (lambda: content)

    def render(self, dev) -> str | bytes:
        """The current content; subclasses override this to compute it from the device."""
        return self._produce()

    def d_open(self, dev, oflags, td):
        return devfs_set_cdevpriv([None])  # this open's snapshot, made by its first read

    def d_size(self, dev):
        return len(_as_bytes(self.render(dev)))

    def d_read(self, dev, uio, ioflag):
        error, snapshot = devfs_get_cdevpriv()
        if error:
            snapshot = [None]
        if snapshot[0] is None or uio.uio_offset == 0:
            snapshot[0] = _as_bytes(self.render(dev))
        data = snapshot[0]
        return uiomove_frombuf(data, len(data), uio)

    def d_write(self, dev, uio, ioflag):
        return errno.EACCES
