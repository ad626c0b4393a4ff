"""text: read-only content produced by a function (or given as a string), served with uiomove_frombuf.

The content is produced when a read starts at offset 0 and kept for the reads that follow, so a
reader that takes it in several requests sees one consistent snapshot. Writes fail with EACCES
(set a read-only mode on the node too).
"""

from __future__ import annotations

import errno
from typing import Callable, Union

from ..driver import Driver
from ..uio import uiomove_frombuf

Content = Union[str, bytes, Callable[[], Union[str, bytes]]]


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


class Text(Driver):
    description = "read-only text (option content), served with uiomove_frombuf"

    def __init__(self, content: Content = "") -> None:
        self._produce = content if callable(content) else (lambda: content)
        self._snapshot: bytes | None = None

    def render(self, dev) -> str | bytes:
        """The current content; subclasses override this to compute it from the device."""
        return self._produce()

    def _current(self, dev, refresh: bool) -> bytes:
        if refresh or self._snapshot is None:
            self._snapshot = _as_bytes(self.render(dev))
        return self._snapshot

    def d_size(self, dev):
        return len(self._current(dev, True))

    def d_read(self, dev, uio, ioflag):
        data = self._current(dev, uio.uio_offset == 0)
        return uiomove_frombuf(data, len(data), uio)

    def d_write(self, dev, uio, ioflag):
        return errno.EACCES
