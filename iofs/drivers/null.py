"""null: writes vanish (uio_resid = 0 and nothing else), reads see end of file. FreeBSD null_write."""

from __future__ import annotations

from ..dev.driver import Driver


class Null(Driver):
    description = "discards every write; every read is end of file"

    def d_read(self, dev, uio, ioflag):
        return 0

    def d_write(self, dev, uio, ioflag):
        uio.uio_resid = 0
        return 0
