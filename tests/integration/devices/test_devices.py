"""The built-in device drivers through a real mount: null, zero, full, random, status, text, mem."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from tests.support.data import MiB
from tests.support.mounting import mounted
from tests.support.processes import run_program
from tests.support.programs import device
from tests.support.syscalls import errno_of

CUSTOM = """
[[device]]
path = "hello"
driver = "text"
content = "hello, world\\n"

[[device]]
path = "uni"
driver = "text"
content = "h\u00e9llo \u2603\\n"

[[device]]
path = "small"
driver = "mem"
size = "1M"

[[device]]
path = "lim"
driver = "mem"
size = "1M"
limit = "256K"

[[device]]
path = "nulllim"
driver = "null"
limit = "4K"

[[device]]
path = "sub/dir/tiny"
driver = "mem"
size = 4096

[[device]]
path = "stat"
driver = "status"
"""


@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("devices-custom"), CUSTOM) as m:
        yield m


class Fd:
    def __init__(self, path, flags=os.O_RDWR):
        self.fd = os.open(path, flags)

    def __enter__(self):
        return self.fd

    def __exit__(self, *exc):
        os.close(self.fd)


# ---- null, zero, full --------------------------------------------------------------------------

def test_null_writes_full_count_reads_eof(dflt):
    with Fd(dflt / "null") as fd:
        assert os.write(fd, b"") == 0
        assert os.write(fd, b"x" * 12345) == 12345
        assert os.write(fd, os.urandom(MiB)) == MiB
        assert os.pwrite(fd, b"abc", 1 << 40) == 3
        assert os.read(fd, 100) == b""
        assert os.pread(fd, 100, 5000) == b""
    assert os.stat(dflt / "null").st_size == 0


@pytest.mark.parametrize("n", [1, 4095, 4096, 100_000, MiB, 3 * MiB + 7])
def test_zero_reads_zeros(dflt, n):
    with Fd(dflt / "zero", os.O_RDONLY) as fd:
        data = os.read(fd, n)
    assert len(data) == n
    assert data == bytes(n)


def test_zero_any_offset_and_writes_vanish(dflt):
    with Fd(dflt / "zero") as fd:
        assert os.pread(fd, 10, 1 << 40) == bytes(10)
        assert os.write(fd, b"not kept") == 8
        assert os.pread(fd, 8, 0) == bytes(8)


def test_full_write_enospc_read_zeros(dflt):
    with Fd(dflt / "full") as fd:
        with pytest.raises(OSError) as ei:
            os.write(fd, b"x")
        assert ei.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as ei:
            os.write(fd, b"y" * 100_000)
        assert ei.value.errno == errno.ENOSPC
        assert os.read(fd, 5000) == bytes(5000)


# ---- random ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 16, 4096, 65537, MiB])
def test_random_lengths(dflt, n):
    with Fd(dflt / "random", os.O_RDONLY) as fd:
        assert len(os.read(fd, n)) == n


def test_random_content(dflt):
    with Fd(dflt / "random") as fd:
        big = os.read(fd, MiB)
        a = os.read(fd, 64)
        b = os.read(fd, 64)
        assert os.write(fd, b"seed?") == 5
    assert big != bytes(MiB)
    assert len(set(big)) == 256  # 1 MiB of uniform bytes hits every value
    assert big.count(0) < MiB // 128  # ~4096 expected
    assert a != b


# ---- status ------------------------------------------------------------------------------------

def _table(text: str) -> dict[str, dict[str, int | str]]:
    lines = text.splitlines()
    header = lines[0].split()
    assert header == ["device", "driver", "reads", "bytes_read", "writes", "bytes_written", "errors"]
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        assert len(cells) == len(header), f"malformed status line {line!r}"
        row: dict[str, int | str] = {"driver": cells[1]}
        for key, cell in zip(header[2:], cells[2:]):
            row[key] = int(cell)
        rows[cells[0]] = row
    return rows


def _status(path) -> dict:
    with Fd(path, os.O_RDONLY) as fd:
        text = os.pread(fd, 1 << 16, 0).decode()  # one request
    return _table(text)


def test_status_lists_devices(dflt):
    rows = _status(dflt / "status")
    assert {k: v["driver"] for k, v in rows.items()} == {
        "null": "null", "zero": "zero", "full": "full", "mem0": "mem", "pipe0": "pipe",
        "random": "random", "status": "status",
    }
    st = os.stat(dflt / "status")
    assert stat.S_IMODE(st.st_mode) == 0o444


def test_status_counters_increase(dflt):
    before = _status(dflt / "status")
    with Fd(dflt / "zero", os.O_RDONLY) as fd:
        for _ in range(3):
            assert len(os.read(fd, 1000)) == 1000
    with Fd(dflt / "null", os.O_WRONLY) as fd:
        os.write(fd, b"n" * 500)
        os.write(fd, b"n" * 500)
    with Fd(dflt / "full", os.O_WRONLY) as fd:
        with pytest.raises(OSError):
            os.write(fd, b"f")
    after = _status(dflt / "status")
    z0, z1 = before["zero"], after["zero"]
    assert z1["reads"] - z0["reads"] == 3
    assert z1["bytes_read"] - z0["bytes_read"] == 3000
    n0, n1 = before["null"], after["null"]
    assert n1["writes"] - n0["writes"] == 2
    assert n1["bytes_written"] - n0["bytes_written"] == 1000
    f0, f1 = before["full"], after["full"]
    assert f1["writes"] - f0["writes"] == 1
    assert f1["errors"] - f0["errors"] == 1
    assert f1["bytes_written"] == f0["bytes_written"]
    s0, s1 = before["status"], after["status"]
    assert s1["reads"] - s0["reads"] == 1  # the read that produced `before`
    assert s1["bytes_read"] - s0["bytes_read"] > 0


def test_status_write_refused(dflt):
    with pytest.raises(PermissionError) as ei:
        with Fd(dflt / "status", os.O_WRONLY) as fd:
            os.write(fd, b"x")
    assert ei.value.errno == errno.EACCES


def _read_in_pieces(fd: int, piece: int, between=None) -> bytes:
    out = b""
    while True:
        chunk = os.pread(fd, piece, len(out))
        if not chunk:
            return out
        out += chunk
        if between is not None:
            between()
            between = None


def test_status_multi_read_is_one_snapshot(custom):
    """A reader taking the table in small pieces sees the table as it was at its first read."""
    with Fd(custom / "stat", os.O_RDONLY) as fd:
        text = _read_in_pieces(fd, 7).decode()
        rows = _table(text)
        assert set(rows) == {"hello", "uni", "small", "lim", "nulllim", "sub/dir/tiny", "stat"}
        with Fd(custom / "small", os.O_RDONLY) as s:
            before = rows["small"]["reads"]

            def io():
                for _ in range(5):
                    os.read(s, 10)

            second = _table(_read_in_pieces(fd, 7, io).decode())
        assert second["small"]["reads"] == before  # the I/O came after the first piece
        third = _table(_read_in_pieces(fd, 7).decode())
        assert third["small"]["reads"] == before + 5


def test_status_multi_read_survives_stat_and_readdir(custom):
    """Listing or stat-ing the mount between pieces must not swap the reader's snapshot."""
    with Fd(custom / "stat", os.O_RDONLY) as fd, Fd(custom / "small", os.O_RDONLY) as s:
        first = os.pread(fd, 7, 0)
        before = _table((first + os.pread(fd, 1 << 16, 7)).decode())["small"]["reads"]
        first = os.pread(fd, 7, 0)  # a new snapshot starts here
        for _ in range(5):
            os.read(s, 10)
        os.listdir(custom.path)  # readdir asks every node for its attributes (d_size)
        rest = os.pread(fd, 1 << 16, 7)
        rows = _table((first + rest).decode())
        assert rows["small"]["reads"] == before


# ---- text --------------------------------------------------------------------------------------

def test_text_content(custom):
    p = custom / "hello"
    assert p.read_bytes() == b"hello, world\n"
    assert os.stat(p).st_size == 13
    with Fd(p, os.O_RDONLY) as fd:
        assert os.pread(fd, 5, 7) == b"world"
        assert os.pread(fd, 100, 12) == b"\n"
        assert os.pread(fd, 100, 13) == b""
        assert os.pread(fd, 100, 1000) == b""
        assert os.read(fd, 4) == b"hell"
        assert os.read(fd, 4) == b"o, w"  # the offset comes from the uio, not the start


def test_text_unicode_content_is_utf8(custom):
    expected = "h\u00e9llo \u2603\n".encode()
    assert (custom / "uni").read_bytes() == expected
    assert os.stat(custom / "uni").st_size == len(expected) == 11


def test_text_write_is_eacces(custom):
    with Fd(custom / "hello", os.O_WRONLY) as fd:
        with pytest.raises(PermissionError) as ei:
            os.write(fd, b"x")
    assert ei.value.errno == errno.EACCES
    assert (custom / "hello").read_bytes() == b"hello, world\n"


# ---- mem ---------------------------------------------------------------------------------------

def test_mem_size_and_nested_path(custom):
    assert os.stat(custom / "small").st_size == MiB
    assert os.stat(custom / "sub/dir/tiny").st_size == 4096
    assert stat.S_ISDIR(os.stat(custom / "sub/dir").st_mode)
    assert os.listdir(custom / "sub/dir") == ["tiny"]


@pytest.mark.parametrize("off", [0, 1, 4095, 4096, 65537, 500_000, MiB - 7])
def test_mem_pwrite_pread_offsets(custom, off):
    data = bytes((off + i) % 256 for i in range(7))
    with Fd(custom / "small") as fd:
        assert os.pwrite(fd, data, off) == 7
        assert os.pread(fd, 7, off) == data
        if off >= 3:
            # neighbours are intact: read across the written span
            around = os.pread(fd, 13, off - 3)
            assert around[3:10] == data


def test_mem_persists_across_opens_and_seeks(custom):
    with Fd(custom / "small") as fd:
        os.lseek(fd, 300_000, os.SEEK_SET)
        assert os.write(fd, b"first") == 5
        assert os.write(fd, b"second") == 6
        assert os.lseek(fd, 0, os.SEEK_CUR) == 300_011
    with Fd(custom / "small", os.O_RDONLY) as fd:
        os.lseek(fd, 300_000, os.SEEK_SET)
        assert os.read(fd, 5) == b"first"
        assert os.read(fd, 6) == b"second"
        assert os.lseek(fd, 0, os.SEEK_END) == MiB


def test_mem_large_transfer(custom):
    data = os.urandom(MiB)
    with Fd(custom / "small") as fd:
        assert os.pwrite(fd, data, 0) == MiB
        assert os.pread(fd, 2 * MiB, 0) == data  # capped by the end of the device


def test_mem_reads_at_and_after_end(custom):
    with Fd(custom / "small") as fd:
        os.pwrite(fd, b"0123456789", MiB - 10)
        assert os.pread(fd, 100, MiB - 10) == b"0123456789"  # short read at the end
        assert os.pread(fd, 100, MiB - 3) == b"789"
        assert os.pread(fd, 100, MiB) == b""
        assert os.pread(fd, 100, MiB + 1) == b""
        assert os.pread(fd, 100, 1 << 40) == b""
        os.lseek(fd, MiB - 4, os.SEEK_SET)
        assert os.read(fd, 10) == b"6789"
        assert os.read(fd, 10) == b""


def test_mem_write_at_end_enospc_crossing_short(custom):
    with Fd(custom / "small") as fd:
        for off in (MiB, MiB + 1, 1 << 40):
            with pytest.raises(OSError) as ei:
                os.pwrite(fd, b"x" * 10, off)
            assert ei.value.errno == errno.ENOSPC, off
        assert os.pwrite(fd, b"ABCDEFGHIJ", MiB - 4) == 4
        assert os.pread(fd, 10, MiB - 4) == b"ABCD"
        assert os.pwrite(fd, b"", MiB) == 0  # a zero-length write is not an error


def test_mem_limit_cuts_write_short_then_efbig(custom):
    lim = 256 * 1024
    with Fd(custom / "lim") as fd:
        assert os.pwrite(fd, b"a" * 100, lim - 200) == 100  # entirely below: whole
        assert os.pwrite(fd, b"b" * 100, lim - 30) == 30  # crossing: cut at the limit
        assert os.pread(fd, 100, lim - 30) == b"b" * 30 + bytes(70)
        for off in (lim, lim + 1, MiB - 10):
            with pytest.raises(OSError) as ei:
                os.pwrite(fd, b"c" * 10, off)
            assert ei.value.errno == errno.EFBIG, off
        # the limit applies to writes only: the device still reads to its size
        assert os.pread(fd, 10, MiB - 10) == bytes(10)
        assert os.stat(custom / "lim").st_size == MiB
        # sequential writes through the file offset stop at the limit
        os.lseek(fd, lim - 5, os.SEEK_SET)
        assert os.write(fd, b"0123456789") == 5
        with pytest.raises(OSError) as ei:
            os.write(fd, b"more")
        assert ei.value.errno == errno.EFBIG


def test_the_limit_is_kept_for_a_driver_that_does_not_keep_it(custom):
    """uio_limit holds for every device: the write reaches the driver already cut at it, so
    even null (which takes all it is given, and knows nothing of limits) stops there."""
    with Fd(custom / "nulllim") as fd:
        assert os.pwrite(fd, b"n" * 5000, 0) == 4096
        assert os.pwrite(fd, b"n" * 100, 4096 - 1) == 1
        assert errno_of(os.pwrite, fd, b"n", 4096) == errno.EFBIG


def test_mode_as_a_string_is_octal_and_as_a_number_its_value(mount_iofs):
    """docs/config.md: "0644" and TOML's 0o644 are the same mode; a bare 644 is the decimal
    number, mode 1204."""
    m = mount_iofs('[[device]]\npath = "s"\ndriver = "zero"\nmode = "0644"\n'
                   '[[device]]\npath = "o"\ndriver = "zero"\nmode = 0o644\n'
                   '[[device]]\npath = "d"\ndriver = "zero"\nmode = 644\n')
    modes = {name: stat.S_IMODE(os.stat(m / name).st_mode) for name in ("s", "o", "d")}
    assert modes == {"s": 0o644, "o": 0o644, "d": 0o1204}


# ---- what every device node shows -----------------------------------------------------------------

def test_st_blocks_of_device_nodes(dflt, mount_iofs):
    """st_blocks is st_size in 512-byte blocks, rounded up (du and tar --sparse read it)."""
    m = mount_iofs(device("odd", "faulty", size=1000) + device("hello", "text", content="hello\n"))
    for mm, name, size in [(dflt, "mem0", 64 * MiB), (dflt, "zero", 0), (dflt, "null", 0),
                           (dflt, "pipe0", 0), (m, "odd", 1000), (m, "hello", 6)]:
        st = os.stat(mm / name)
        assert (st.st_size, st.st_blocks) == (size, (size + 511) // 512), name
    res = run_program("stat", "-c", "%b %s", str(dflt / "mem0"))
    assert res.stdout.split() == [b"131072", str(64 * MiB).encode()]


def test_a_write_far_past_the_end_of_mem0_is_enospc(dflt):
    mnt = dflt
    fd = os.open(mnt / "mem0", os.O_RDWR)
    try:
        with pytest.raises(OSError) as ei:
            os.pwrite(fd, b"x", 2**62)
        assert ei.value.errno == errno.ENOSPC
        assert os.pread(fd, 10, 2**62) == b""
        assert os.pwrite(fd, b"ok", 0) == 2  # still usable
    finally:
        os.close(fd)


def test_truncate_of_a_device_is_einval_and_o_trunc_is_ignored(dflt):
    fd = os.open(dflt / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, b"kept", 0)
        assert errno_of(os.ftruncate, fd, 0) == errno.EINVAL
    finally:
        os.close(fd)
    assert errno_of(os.truncate, dflt / "mem0", 10) == errno.EINVAL
    assert errno_of(os.truncate, dflt / "zero", 0) == errno.EINVAL
    fd = os.open(dflt / "mem0", os.O_RDWR | os.O_TRUNC)  # as a character device: no effect
    try:
        assert os.pread(fd, 4, 0) == b"kept"
        assert os.fstat(fd).st_size == 64 << 20
    finally:
        os.close(fd)
