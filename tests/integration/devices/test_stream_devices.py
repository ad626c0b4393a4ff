"""A stream device (a driver with ``stream = True``) sees uio_offset 0 on every request, on
the fast and the sleeping path, and cannot be seeked; the same driver without ``stream`` sees the
program's offsets.
"""

from __future__ import annotations

import errno
import os

import pytest

from tests.support.mounting import mounted
from tests.support.processes import run_program
from tests.support.programs import device, driver_env
from tests.support.syscalls import errno_of, opened

REC_MOD = "iofs_recorders"

RECORDERS = '''
"""Offset recorders: each read says the uio_offset it saw and those of the writes so far."""

import trio

from iofs.driver import Driver
from iofs.uio import uiomove

REC = 64


class Recorder(Driver):
    """A stream device. A read gets one 64-byte record: the uio_offset this read saw and the
    uio_offset of every write so far (``R<off> W<off>,<off>...``); a write is consumed whole."""

    stream = True

    def __init__(self):
        self.writes = []

    def _record(self, uio):
        text = b"R%d W%s" % (uio.uio_offset, b",".join(b"%d" % w for w in self.writes))
        return text.ljust(REC - 1) + b"\\n"

    def d_read(self, dev, uio, ioflag):
        return uiomove(self._record(uio), min(REC, uio.uio_resid), uio)

    def d_write(self, dev, uio, ioflag):
        self.writes.append(uio.uio_offset)
        n = uio.uio_resid
        return uiomove(bytearray(n), n, uio)


class AsyncRecorder(Recorder):
    """The same through entry points that may sleep (the filesystem's other request path)."""

    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        return Recorder.d_read(self, dev, uio, ioflag)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        return Recorder.d_write(self, dev, uio, ioflag)


class SeekableRecorder(Recorder):
    """The control: not a stream, so the driver sees the program's offsets."""

    stream = False
'''

REC_TREE = "".join([
    device("rec", f"{REC_MOD}:Recorder"),
    device("arec", f"{REC_MOD}:AsyncRecorder"),
    device("srec", f"{REC_MOD}:SeekableRecorder"),
])


@pytest.fixture(scope="module")
def recorders(tmp_path_factory):
    """The recorders, stream (sync and async) and seekable, in one mount."""
    base = tmp_path_factory.mktemp("recorders")
    with mounted(base, REC_TREE, env=driver_env(base, **{REC_MOD: RECORDERS})) as m:
        yield m




def _rec(line: bytes) -> tuple[int, list[int]]:
    assert len(line) == 64 and line.endswith(b"\n"), line
    r, w = line.split()
    assert r.startswith(b"R") and w.startswith(b"W")
    return int(r[1:]), [int(x) for x in w[1:].split(b",") if x]


@pytest.mark.parametrize("node", ["rec", "arec"])
def test_stream_device_sees_offset_zero(recorders, node):
    path = recorders / node
    with opened(path) as fd:
        assert _rec(os.read(fd, 64)) == (0, [])
        assert _rec(os.read(fd, 64)) == (0, [])        # after reading: still 0
        assert os.write(fd, b"a" * 100) == 100
        assert os.write(fd, b"b" * 5) == 5
        assert _rec(os.read(fd, 64)) == (0, [0, 0])
        # pread/pwrite at other offsets never reach the driver: the file is not seekable
        assert errno_of(os.pread, fd, 64, 4096) == errno.ESPIPE
        assert errno_of(os.pwrite, fd, b"c", 4096) == errno.ESPIPE
        assert errno_of(os.lseek, fd, 100, os.SEEK_SET) == errno.ESPIPE
        assert _rec(os.read(fd, 64)) == (0, [0, 0])
    # real programs: dd skipping input blocks (it reads them) and writing several blocks
    res = run_program("dd", f"if={path}", "bs=64", "skip=2", "count=3", "status=none")
    assert res.returncode == 0, res.stderr
    assert [_rec(res.stdout[k:k + 64]) for k in range(0, 192, 64)] == [(0, [0, 0])] * 3
    res = run_program("dd", "if=/dev/zero", f"of={path}", "bs=1000", "count=3", "conv=notrunc",
               "status=none")
    assert res.returncode == 0, res.stderr
    with opened(path, os.O_RDONLY) as fd:
        assert _rec(os.read(fd, 64)) == (0, [0] * 5)


def test_seekable_control_device_sees_real_offsets(recorders):
    """The same driver without ``stream``: the offsets do reach it (the test above can tell)."""
    with opened(recorders / "srec") as fd:
        assert _rec(os.read(fd, 64)) == (0, [])
        assert _rec(os.read(fd, 64)) == (64, [])
        assert os.write(fd, b"a" * 10) == 10
        assert os.pwrite(fd, b"b", 4096) == 1
        assert _rec(os.pread(fd, 64, 1000)) == (1000, [128, 4096])
