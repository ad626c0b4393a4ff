"""splice(2), sendfile(2) and copy_file_range(2) of device nodes: the kernel serves a
direct_io file from the page cache, bounded by st_size (0 for a device), so they need O_DIRECT
(the README's workaround), which reads through the driver.
"""

from __future__ import annotations

import os

import pytest

from tests.support.mounting import mounted


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("tmpfs-like")) as mnt:
        yield mnt


@pytest.mark.parametrize("node", ["zero", "random"])
def test_splice_and_sendfile_need_o_direct(m, node):
    """The kernel serves splice and sendfile of a direct_io file from the page cache, bounded
    by st_size (0 for a device): end of file at once. Opened O_DIRECT, the kernel reads
    through the driver instead (the README's workaround)."""
    r, w = os.pipe()
    out = os.open(m / "tmp" / f"sent-{node}", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        fd = os.open(m / node, os.O_RDONLY)
        try:
            assert os.splice(fd, w, 4096) == 0
            assert os.sendfile(out, fd, None, 4096) == 0
        finally:
            os.close(fd)
        fd = os.open(m / node, os.O_RDONLY | os.O_DIRECT)
        try:
            assert os.splice(fd, w, 4096) == 4096
            assert len(os.read(r, 8192)) == 4096
            assert os.sendfile(out, fd, None, 5000) == 5000
            assert os.fstat(out).st_size == 5000
            # copy_file_range clamps to the source's st_size before anything else: always 0
            assert os.copy_file_range(fd, out, 4096) == 0
        finally:
            os.close(fd)
    finally:
        os.close(out)
        os.close(r)
        os.close(w)
        os.unlink(m / "tmp" / f"sent-{node}")
    if node == "zero":
        assert (m / "tmp").exists()


def test_splice_from_pipe0_with_o_direct_moves_the_data_waiting(m):
    """Each splice of an O_DIRECT pipe0 is a read of the driver: FIFO order, nothing cached."""
    r, w = os.pipe()
    direct = os.open(m / "pipe0", os.O_RDONLY | os.O_DIRECT)
    writer = os.open(m / "pipe0", os.O_WRONLY)
    try:
        os.write(writer, b"waiting in pipe0")
        assert os.splice(direct, w, 7) == 7
        assert os.read(r, 100) == b"waiting"
        os.write(writer, b", then more")
        assert os.splice(direct, w, 100) == 20
        assert os.read(r, 100) == b" in pipe0, then more"
    finally:
        for fd in (writer, direct, r, w):
            os.close(fd)
