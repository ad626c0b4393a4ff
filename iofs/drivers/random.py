"""random: reads are bytes from the kernel's CSPRNG (os.urandom); writes are accepted and dropped."""

from __future__ import annotations

import os

from ..dev.driver import Driver
from ..core.uio import uiomove


class Random(Driver):
    description = "reads return random bytes (os.urandom); writes are discarded"

    def d_read(self, dev, uio, ioflag):
        n = uio.uio_resid
        return uiomove(os.urandom(n), n, uio) if n > 0 else 0

    def d_write(self, dev, uio, ioflag):
        uio.uio_resid = 0
        return 0
