"""cat and dd (bs 1, 512, 4k, 64k, 1M; count, skip, seek, conv=notrunc) against every driver,
byte-exact: the programs people actually point at device files."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.data import MiB, first_difference, pattern
from tests.support.mounting import module_mount
from tests.support.processes import kill_all

ENV = {**os.environ, "LC_ALL": "C"}
# bs -> how many blocks to move: bs=1 costs a FUSE round trip per byte, so it stays small
BLOCKS = {1: 3000, 512: 40, 4096: 24, 65536: 9, MiB: 3}
BS_IDS = ["1", "512", "4k", "64k", "1M"]
DOC = "".join(f"line {i:05d}: the quick brown fox jumps over the lazy dog\n" for i in range(180))
CUSTOM = f"""
[[device]]
path = "doc"
driver = "text"
content = '''{DOC}'''
mode = "0444"

[[device]]
path = "tiny"
driver = "mem"
size = "10000"
"""


def dd(*args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(["dd", *args], input=stdin, capture_output=True, env=ENV, timeout=60)
    if check:
        assert res.returncode == 0, f"dd {' '.join(args)}: {res.stderr.decode()}"
    return res


def records(res: subprocess.CompletedProcess) -> tuple[str, str]:
    """dd's "N+M records in" and "... out" counts."""
    err = res.stderr.decode()
    rin = re.search(r"^(\d+\+\d+) records in$", err, re.M)
    rout = re.search(r"^(\d+\+\d+) records out$", err, re.M)
    assert rin and rout, err
    return rin.group(1), rout.group(1)


def sh(cmd: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=stdin, capture_output=True, env=ENV, timeout=60)


def assert_bytes(got: bytes, want: bytes, what: str) -> None:
    assert got == want, f"{what}: {first_difference(got, want)}"


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    with module_mount(tmp_path_factory) as m:
        yield m


@pytest.fixture(scope="module")
def cm(tmp_path_factory):
    with module_mount(tmp_path_factory, CUSTOM) as m:
        yield m


@pytest.fixture
def src(tmp_path):
    """A local (not iofs) source file of 5 MiB of pattern 1, and its bytes."""
    data = pattern(1, 0, 5 * MiB)
    p = tmp_path / "src"
    p.write_bytes(data)
    return p, data


# ---- reading -----------------------------------------------------------------------------------

@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
@pytest.mark.parametrize("dev", ["zero", "full"])
def test_read_zeros(dm, dev, bs):
    n = BLOCKS[bs]
    res = dd(f"if={dm / dev}", f"bs={bs}", f"count={n}", f"skip={7}")
    assert records(res) == (f"{n}+0", f"{n}+0")
    assert_bytes(res.stdout, bytes(n * bs), f"{dev} bs={bs}")


@pytest.mark.parametrize("dev", ["zero", "full"])
def test_head_zeros(dm, dev):
    res = sh(["head", "-c", str(3 * MiB + 17), str(dm / dev)])
    assert res.returncode == 0
    assert_bytes(res.stdout, bytes(3 * MiB + 17), f"head -c {dev}")


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_read_random_length(dm, bs):
    n = BLOCKS[bs]
    res = dd(f"if={dm / 'random'}", f"bs={bs}", f"count={n}")
    assert records(res) == (f"{n}+0", f"{n}+0"), "random gave a short read"
    assert len(res.stdout) == n * bs
    if n * bs >= 4096:
        assert res.stdout != bytes(n * bs)
        assert len(set(res.stdout)) > 200  # random bytes, not a fill pattern


def test_cat_random_pipeline(dm):
    res = subprocess.run(f"cat {dm / 'random'} | head -c 2500000 | wc -c", shell=True,
                         capture_output=True, timeout=60)
    assert res.stdout.strip() == b"2500000"


@pytest.fixture
def mem_filled(dm):
    """mem0 filled whole with pattern 2; returns its expected content."""
    data = pattern(2, 0, 64 * MiB)
    fd = os.open(dm / "mem0", os.O_WRONLY)
    try:
        for off in range(0, len(data), MiB):
            assert os.pwrite(fd, data[off:off + MiB], off) == MiB
    finally:
        os.close(fd)
    return data


def test_cat_mem0_whole(dm, mem_filled):
    res = sh(["cat", str(dm / "mem0")])
    assert res.returncode == 0
    assert_bytes(res.stdout, mem_filled, "cat mem0")


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_dd_read_mem0(dm, mem_filled, bs):
    n = BLOCKS[bs]
    skip = 5 if bs < MiB else 61  # the last blocks run up to the end of the device
    res = dd(f"if={dm / 'mem0'}", f"bs={bs}", f"count={n}", f"skip={skip}")
    assert records(res) == (f"{n}+0", f"{n}+0")
    assert_bytes(res.stdout, mem_filled[skip * bs:(skip + n) * bs], f"mem0 bs={bs} skip={skip}")


def test_dd_read_mem0_past_end(dm, mem_filled):
    """Reading across the end of the device: a partial record, then end of file."""
    res = dd(f"if={dm / 'mem0'}", "bs=1000000", "skip=67", "count=5")
    assert records(res) == ("0+1", "0+1")
    assert_bytes(res.stdout, mem_filled[67_000_000:], "mem0 tail")


@pytest.mark.parametrize("bs", [1, 7, 512, 4096, MiB], ids=["1", "7", "512", "4k", "1M"])
def test_text_device(cm, bs):
    want = DOC.encode()
    res = dd(f"if={cm / 'doc'}", f"bs={bs}")
    assert_bytes(res.stdout, want, f"doc bs={bs}")
    full, part = divmod(len(want), bs)
    assert records(res)[0] == f"{full}+{1 if part else 0}"
    res = dd(f"if={cm / 'doc'}", f"bs={bs}", "skip=3", "count=100")
    assert_bytes(res.stdout, want[3 * bs:103 * bs], f"doc bs={bs} skip=3 count=100")


def test_cat_text_device(cm):
    assert_bytes(sh(["cat", str(cm / "doc")]).stdout, DOC.encode(), "cat doc")
    assert_bytes(sh(["tail", "-c", "1000", str(cm / "doc")]).stdout, DOC.encode()[-1000:], "tail doc")


def render_status(rows: list[tuple[str, ...]]) -> str:
    """The status table as the driver lays it out (to check the layout byte for byte)."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return "".join("  ".join(c.ljust(w) if k < 2 else c.rjust(w)
                             for k, (c, w) in enumerate(zip(r, widths))).rstrip() + "\n"
                   for r in rows)


HEADER = ("device", "driver", "reads", "bytes_read", "writes", "bytes_written", "errors")


def parse_status(text: str) -> dict[str, tuple[str, ...]]:
    rows = [tuple(line.split()) for line in text.splitlines()]
    assert rows[0] == HEADER
    assert text == render_status(rows), "status is not one consistent table"
    return {r[0]: r for r in rows[1:]}


def test_status(mnt):
    """A fresh mount: after known requests the status table says exactly that, read by cat or by
    dd with any bs (bs=1: one snapshot served across 500+ requests)."""
    fd = os.open(mnt / "null", os.O_WRONLY)
    for _ in range(8):
        os.write(fd, b"x" * 512)
    os.close(fd)
    fd = os.open(mnt / "mem0", os.O_RDONLY)
    assert os.pread(fd, 3000, 5) == bytes(3000)
    os.close(fd)
    with pytest.raises(OSError):
        (mnt / "full").write_bytes(b"abc")
    texts = [sh(["cat", str(mnt / "status")]).stdout.decode()]
    texts += [dd(f"if={mnt / 'status'}", f"bs={bs}").stdout.decode() for bs in BLOCKS]
    read_so_far = []
    for text in texts:
        rows = parse_status(text)
        assert rows["null"] == ("null", "null", "0", "0", "8", "4096", "0")
        assert rows["mem0"] == ("mem0", "mem", "1", "3000", "0", "0", "0")
        assert rows["full"][:4] == ("full", "full", "0", "0") and rows["full"][5] == "0"
        assert int(rows["full"][4]) >= 1 and rows["full"][6] == rows["full"][4]
        for name in ("zero", "pipe0", "random"):
            assert rows[name][2:] == ("0",) * 5
        assert list(rows) == ["null", "zero", "full", "mem0", "pipe0", "random", "status"]
        # status counts its own earlier readings (the ones before this snapshot)
        assert int(rows["status"][3]) == sum(read_so_far)
        read_so_far.append(len(text))


def test_status_is_read_only(dm):
    res = dd("if=/dev/zero", f"of={dm / 'status'}", "bs=10", "count=1", "conv=notrunc", check=False)
    assert res.returncode != 0
    parse_status((dm / "status").read_text())


# ---- regular files -----------------------------------------------------------------------------

@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_regular_write_then_read(dm, src, bs):
    srcp, data = src
    n = BLOCKS[bs]
    f = dm / "tmp" / f"dd-{bs}"
    try:
        res = dd(f"if={srcp}", f"of={f}", f"bs={bs}", f"count={n}", "skip=2")
        assert records(res) == (f"{n}+0", f"{n}+0")
        want = data[2 * bs:(2 + n) * bs]
        assert f.stat().st_size == len(want)
        assert_bytes(sh(["cat", str(f)]).stdout, want, "cat")
        res = dd(f"if={f}", f"bs={bs}", "skip=1", f"count={n}")
        assert records(res)[0] == f"{n - 1}+0"
        assert_bytes(res.stdout, want[bs:], "dd skip=1")
    finally:
        f.unlink(missing_ok=True)


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_regular_seek_makes_hole(dm, src, bs):
    srcp, data = src
    n = min(BLOCKS[bs], 3)
    f = dm / "tmp" / f"hole-{bs}"
    seek = 4 if bs > 1 else 2000
    try:
        dd(f"if={srcp}", f"of={f}", f"bs={bs}", f"count={n}", f"seek={seek}")
        want = bytes(seek * bs) + data[:n * bs]
        assert f.stat().st_size == len(want)
        assert_bytes(f.read_bytes(), want, "hole then data")
        res = dd(f"if={f}", f"bs={bs}", f"count={seek}")
        assert_bytes(res.stdout, bytes(seek * bs), "the hole")
    finally:
        f.unlink(missing_ok=True)


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_regular_notrunc_and_trunc(dm, src, bs):
    srcp, data = src
    f = dm / "tmp" / f"nt-{bs}"
    base = pattern(3, 0, 8 * bs + 333)
    n = min(BLOCKS[bs], 3)
    try:
        f.write_bytes(base)
        # conv=notrunc: the middle changes, the rest (and the size) stays
        dd(f"if={srcp}", f"of={f}", f"bs={bs}", f"count={n}", "seek=2", "conv=notrunc")
        want = base[:2 * bs] + data[:n * bs] + base[(2 + n) * bs:]
        assert_bytes(f.read_bytes(), want, "conv=notrunc")
        # without it dd truncates at seek*bs first
        dd(f"if={srcp}", f"of={f}", f"bs={bs}", "count=1", "seek=3", "skip=1")
        want = want[:3 * bs] + data[bs:2 * bs]
        assert f.stat().st_size == len(want)
        assert_bytes(f.read_bytes(), want, "truncating dd")
    finally:
        f.unlink(missing_ok=True)


def test_regular_cat_copy_and_append(dm, src):
    srcp, data = src
    f = dm / "tmp" / "cat-copy"
    try:
        assert subprocess.run(f"cat {srcp} > {f}", shell=True, timeout=60).returncode == 0
        assert_bytes(f.read_bytes(), data, "cat >")
        assert subprocess.run(f"head -c 1000 {srcp} >> {f}", shell=True, timeout=60).returncode == 0
        assert_bytes(f.read_bytes(), data + data[:1000], "cat >>")
        g = dm / "tmp" / "cat-copy2"
        assert sh(["cp", str(f), str(g)]).returncode == 0
        assert sh(["cmp", str(f), str(g)]).returncode == 0
        g.unlink()
    finally:
        f.unlink(missing_ok=True)


# ---- writing devices ---------------------------------------------------------------------------

@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_dd_write_mem0_notrunc(dm, mem_filled, src, bs):
    srcp, data = src
    n = BLOCKS[bs]
    seek = 3 if bs < MiB else 60
    dd(f"if={srcp}", f"of={dm / 'mem0'}", f"bs={bs}", f"count={n}", f"seek={seek}", "skip=1",
       "conv=notrunc")
    want = mem_filled[:seek * bs] + data[bs:(1 + n) * bs] + mem_filled[(seek + n) * bs:]
    lo, hi = max(seek * bs - 70000, 0), (seek + n) * bs + 70000
    got = dd(f"if={dm / 'mem0'}", "bs=64k", f"skip={lo}", f"count={hi - lo}",
             "iflag=skip_bytes,count_bytes").stdout
    assert_bytes(got, want[lo:hi], f"mem0 after dd bs={bs} seek={seek}")
    assert (dm / "mem0").stat().st_size == 64 * MiB


def test_dd_write_mem0_without_notrunc(dm, mem_filled, src):
    """A device ignores truncation (O_TRUNC, dd's ftruncate): only the written blocks change."""
    srcp, data = src
    dd(f"if={srcp}", f"of={dm / 'mem0'}", "bs=4k", "count=5", "seek=10")
    dd(f"if={srcp}", f"of={dm / 'mem0'}", "bs=4k", "count=2")  # O_TRUNC
    want = data[:8192] + mem_filled[8192:40960] + data[:20480] + mem_filled[61440:]
    assert (dm / "mem0").stat().st_size == 64 * MiB
    assert_bytes(sh(["cat", str(dm / "mem0")]).stdout, want, "mem0")


def test_dd_write_mem0_past_end(dm, mem_filled, src):
    """A write across the end is cut there; dd then fails with ENOSPC at the end."""
    srcp, data = src
    res = dd(f"if={srcp}", f"of={dm / 'mem0'}", "bs=3000", "count=4", f"seek={(64 * MiB) // 3000}",
             "conv=notrunc", check=False)
    assert res.returncode == 1
    assert b"No space left on device" in res.stderr
    start = (64 * MiB) // 3000 * 3000
    got = dd(f"if={dm / 'mem0'}", "bs=1M", f"skip={start - 100}", "iflag=skip_bytes").stdout
    assert_bytes(got, mem_filled[start - 100:start] + data[:64 * MiB - start], "mem0 end")


def test_cat_into_mem0(dm, mem_filled, src):
    srcp, data = src
    assert subprocess.run(f"cat {srcp} > {dm / 'mem0'}", shell=True, timeout=60).returncode == 0
    got = sh(["cat", str(dm / "mem0")]).stdout
    assert_bytes(got, data + mem_filled[len(data):], "mem0 after cat >")


def test_tiny_mem_bs_1(cm):
    """bs=1 against a 10000-byte mem device: every byte its own request, both ways."""
    data = pattern(4, 0, 10000)
    res = dd(f"of={cm / 'tiny'}", "bs=1", "count=3000", "seek=5000", "conv=notrunc", stdin=data)
    assert records(res) == ("3000+0", "3000+0")
    res = dd(f"of={cm / 'tiny'}", "bs=1", "seek=9998", "conv=notrunc", stdin=b"abc", check=False)
    assert res.returncode == 1 and b"No space left on device" in res.stderr
    res = dd(f"if={cm / 'tiny'}", "bs=1", "skip=4990", "count=3020")
    assert records(res) == ("3020+0", "3020+0")
    got = res.stdout
    assert got[10:3010] == data[:3000]
    assert dd(f"if={cm / 'tiny'}", "bs=1", "skip=9998").stdout == b"ab"


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_dd_write_null(dm, src, bs):
    srcp, _ = src
    n = BLOCKS[bs]
    res = dd(f"if={srcp}", f"of={dm / 'null'}", f"bs={bs}", f"count={n}")
    assert records(res) == (f"{n}+0", f"{n}+0")
    assert f"{n * bs} bytes".encode() in res.stderr
    assert sh(["cat", str(dm / "null")]).stdout == b""
    assert subprocess.run(f"cat {srcp} > {dm / 'null'}", shell=True, timeout=60).returncode == 0


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_dd_write_full(dm, src, bs):
    srcp, _ = src
    res = dd(f"if={srcp}", f"of={dm / 'full'}", f"bs={bs}", "count=2", check=False)
    assert res.returncode == 1
    assert b"No space left on device" in res.stderr
    assert records(res)[1] == "0+0"
    res = subprocess.run(f"cat {srcp} > {dm / 'full'}", shell=True, capture_output=True, env=ENV,
                         timeout=60)
    assert res.returncode == 1 and b"No space left on device" in res.stderr


# ---- pipe0: a writer and a reader at once ------------------------------------------------------

PIPE_TOTAL = {1: 3000, 512: 100 * 1024, 4096: MiB, 65536: 4 * MiB, MiB: 4 * MiB + 12345}


def through_pipe(dm, writer: list[str], reader: list[str], data: bytes, tmp: Path) -> bytes:
    """Run a writer and a reader of pipe0 at once; returns what the reader got.

    The test holds pipe0 open (O_RDWR) meanwhile, so the writer never sees "no reader" (EPIPE)
    and the reader never sees "no writer" (end of file) before the other has opened; once the
    writer is done the hold goes, and the reader gets end of file after the last byte."""
    hold = os.open(dm / "pipe0", os.O_RDWR)
    out = tmp / "pipe-out"
    procs: list[subprocess.Popen] = []
    try:
        with open(out, "wb") as fout:
            procs.append(subprocess.Popen(reader, stdout=fout, stderr=subprocess.PIPE, env=ENV))
            procs.append(subprocess.Popen(writer, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                          env=ENV))
            w = procs[1]
            _, werr = w.communicate(data, timeout=60)
            assert w.returncode == 0, werr.decode()
            os.close(hold)
            hold = -1
            _, rerr = procs[0].communicate(timeout=60)
            assert procs[0].returncode == 0, rerr.decode()
        return out.read_bytes()
    finally:
        if hold >= 0:
            os.close(hold)
        kill_all(procs)


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_pipe_dd_to_cat(dm, tmp_path, bs):
    data = pattern(5, 0, PIPE_TOTAL[bs])
    got = through_pipe(dm, ["dd", f"of={dm / 'pipe0'}", f"bs={bs}", "iflag=fullblock"],
                       ["cat", str(dm / "pipe0")], data, tmp_path)
    assert_bytes(got, data, f"dd bs={bs} | pipe0 | cat")


@pytest.mark.parametrize("bs", list(BLOCKS), ids=BS_IDS)
def test_pipe_cat_to_dd(dm, tmp_path, bs):
    """Reader dd with the same bs and count: blocks may come short from a pipe, so fullblock."""
    data = pattern(6, 0, PIPE_TOTAL[bs])
    n = len(data) // bs
    got = through_pipe(dm, ["dd", f"of={dm / 'pipe0'}", "bs=64k"],
                       ["dd", f"if={dm / 'pipe0'}", f"bs={bs}", f"count={n}", "iflag=fullblock"],
                       data, tmp_path)
    assert_bytes(got, data[:n * bs], f"pipe0 | dd bs={bs} count={n}")


def test_pipe_dd_skip(dm, tmp_path):
    """skip on a nonseekable input: dd reads and discards."""
    data = pattern(7, 0, 300000)
    got = through_pipe(dm, ["dd", f"of={dm / 'pipe0'}", "bs=4k"],
                       ["dd", f"if={dm / 'pipe0'}", "bs=1000", "skip=7", "iflag=fullblock"],
                       data, tmp_path)
    assert_bytes(got, data[7000:], "pipe0 | dd skip=7")


def test_pipe_dd_seek_reads_past(dm):
    """seek= on a nonseekable output: GNU dd opens it O_RDWR and reads the seeked-over blocks
    (it cannot lseek a stream), then writes. Those blocks must be there first, or dd would wait
    for them forever (as with a real FIFO)."""
    hold = os.open(dm / "pipe0", os.O_RDWR)
    try:
        os.write(hold, b"A" * 20)
        res = dd(f"of={dm / 'pipe0'}", "bs=10", "seek=2", "count=1", "conv=notrunc",
                 stdin=b"0123456789")
        assert records(res) == ("1+0", "1+0")
        assert os.read(hold, 100) == b"0123456789"
    finally:
        os.close(hold)
