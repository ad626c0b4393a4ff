"""zero: reads are zeros, moved with uiomove from one zeroed region; writes vanish (FreeBSD zero_read)."""

from __future__ import annotations

from ..dev.driver import Driver
from ..core.uio import uiomove

ZERO_REGION = memoryview(bytes(1 << 20))  # one uiomove per request up to the largest FUSE request


def read_zeros(uio) -> int:
    """Fill the whole request with zeros: uiomove over the zero region until resid is 0."""
    resid = uio.uio_resid
    if resid <= len(ZERO_REGION):  # every FUSE request: one move
        return uiomove(ZERO_REGION, resid, uio)
    error = 0
    while uio.uio_resid > 0 and error == 0:
        error = uiomove(ZERO_REGION, min(uio.uio_resid, len(ZERO_REGION)), uio)
    return error


class Zero(Driver):
    description = "reads return zeros; writes are discarded"

    def d_read(self, dev, uio, ioflag):
        resid = uio.uio_resid
        if resid <= len(ZERO_REGION):  # every FUSE request: one move
            return uiomove(ZERO_REGION, resid, uio)
        return read_zeros(uio)

    def d_write(self, dev, uio, ioflag):
        uio.uio_resid = 0
        return 0
