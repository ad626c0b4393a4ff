"""The driver API in one import, as drivers and the docs write it (``from iofs.driver import
Driver, WaitChannel, IO_NDELAY``). The definitions live in :mod:`iofs.dev`."""

from .dev.cdevpriv import current_file, devfs_clear_cdevpriv, devfs_get_cdevpriv, devfs_set_cdevpriv
from .dev.driver import (
    ERESTART, IO_APPEND, IO_DIRECT, IO_NDELAY, IO_SYNC, POLLERR, POLLHUP, POLLIN, POLLOUT,
    POLLRDNORM, POLLSTANDARD, POLLWRNORM, Device, DeviceStats, Driver, Td, entry_point,
    ioflag_from_open_flags,
)
from .dev.memory import ram
from .dev.select import SelInfo, selrecord, selwakeup
from .dev.sleep import WaitChannel, signal_pending, tgid_of

__all__ = [
    "Driver", "Device", "DeviceStats", "Td", "WaitChannel", "SelInfo", "selrecord", "selwakeup",
    "signal_pending", "tgid_of", "ram", "current_file", "entry_point",
    "IO_NDELAY", "IO_DIRECT", "IO_APPEND", "IO_SYNC", "ERESTART", "ioflag_from_open_flags",
    "devfs_set_cdevpriv", "devfs_get_cdevpriv", "devfs_clear_cdevpriv",
    "POLLIN", "POLLOUT", "POLLRDNORM", "POLLWRNORM", "POLLHUP", "POLLERR", "POLLSTANDARD",
]
