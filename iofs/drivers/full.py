"""full: reads are zeros, every write fails with ENOSPC (Linux /dev/full)."""

from __future__ import annotations

import errno

from ..dev.driver import Driver
from .zero import read_zeros


class Full(Driver):
    description = "reads return zeros; every write fails with ENOSPC"

    def d_read(self, dev, uio, ioflag):
        return read_zeros(uio)

    def d_write(self, dev, uio, ioflag):
        return errno.ENOSPC
