"""mem: a fixed-size RAM device, seekable, served with uiomove_frombuf; honours uio_limit.

Reads past the end are end of file. A write is cut at the end of the device; one that starts at
or past the end fails with ENOSPC (as on a disk), one at or past uio_limit with EFBIG. The RAM is an
anonymous mapping: pages cost memory once written, so an unwritten device costs none.
"""

from __future__ import annotations

import errno

from ..dev.driver import Driver
from ..dev.memory import ram
from ..core.uio import uio_trim_to_limit, uiomove_frombuf
from ..system.units import parse_size


class Mem(Driver):
    description = "fixed-size RAM device (option size, default 64M), seekable"

    def __init__(self, size: int | str = "64M") -> None:
        self.size = parse_size(size)
        self.ram = ram(self.size)  # zero pages until written; one view for every request

    def d_size(self, dev):
        return self.size

    def d_read(self, dev, uio, ioflag):
        return uiomove_frombuf(self.ram, self.size, uio)

    def d_write(self, dev, uio, ioflag):
        error, excess = uio_trim_to_limit(uio)
        if error:
            return error
        if uio.uio_offset >= self.size and uio.uio_resid > 0:
            error = errno.ENOSPC
        else:
            error = uiomove_frombuf(self.ram, self.size, uio)
        uio.uio_resid += excess
        return error
