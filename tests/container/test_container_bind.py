"""iofs mounted on the host, its mount point bind-mounted into containers.

Bytes written in the container (to mem0, a regular file, pipe0) are read byte-exact on the
host, and the other way round; a container running as --user 1000 can read when iofs was
mounted with --allow-other, and is refused (EACCES) without it.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.container.engine import check
from tests.support.data import first_difference

pytestmark = [pytest.mark.container, pytest.mark.timeout(480)]

MNT = "/mnt/iofs"
SIZE = 1_000_003        # crosses the 128 KiB..1 MiB FUSE request sizes, not a multiple of anything
OFFSET = 4097


def host_dd(*args: str, data: bytes | None = None, timeout: float = 60) -> bytes:
    """dd on the host (a subprocess, so a stuck FUSE request cannot hang pytest)."""
    r = subprocess.run(["dd", "status=none", *args], input=data, capture_output=True,
                       timeout=timeout)
    assert r.returncode == 0, f"dd {' '.join(args)}: {r.stderr.decode(errors='replace')}"
    return r.stdout


def _bind(mp, scratch):
    return ("-v", f"{mp}:{MNT}", "-v", f"{scratch}:/x")


@pytest.mark.parametrize("target", ["mem0", "tmp/bind-file"])
def test_bytes_cross_the_bind_mount_both_ways(containers, host_mount, tmp_path, target):
    mp = host_mount()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    to_container = os.urandom(SIZE)
    to_host = os.urandom(SIZE)
    (scratch / "to_host").write_bytes(to_host)
    path = mp / target
    off = OFFSET if target == "mem0" else 0

    # Host -> container: the host writes, the container reads it back into the scratch dir.
    host_dd(f"of={path}", "bs=65536", f"seek={off}", "oflag=seek_bytes", "conv=notrunc",
            data=to_container)
    r = containers.sh(
        f"dd if={MNT}/{target} of=/x/from_host bs=65536 skip={off} count={SIZE} "
        "iflag=skip_bytes,count_bytes status=none",
        opts=_bind(mp, scratch))
    check(r, "reading in the container")
    got = (scratch / "from_host").read_bytes()
    assert got == to_container, f"host -> container: {first_difference(got, to_container)}"

    # Container -> host: the container writes, the host reads.
    r = containers.sh(
        f"dd if=/x/to_host of={MNT}/{target} bs=65536 seek={off} oflag=seek_bytes conv=notrunc "
        "status=none",
        opts=_bind(mp, scratch))
    check(r, "writing in the container")
    got = host_dd(f"if={path}", "bs=65536", f"skip={off}", f"count={SIZE}",
                  "iflag=skip_bytes,count_bytes")
    assert got == to_host, f"container -> host: {first_difference(got, to_host)}"


def test_pipe_between_host_and_container(containers, host_mount, tmp_path):
    """/pipe0 carries bytes from a container to the host and back (the host holds it open)."""
    mp = host_mount()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    n = 60_000                                   # fits the 64 KiB ring: nobody has to wait
    to_host, to_container = os.urandom(n), os.urandom(n)
    (scratch / "to_host").write_bytes(to_host)
    fd = os.open(mp / "pipe0", os.O_RDWR)        # opens never block; a reader and a writer
    try:
        r = containers.sh(f"dd if=/x/to_host of={MNT}/pipe0 bs=4096 status=none",
                          opts=_bind(mp, scratch))
        check(r, "writing the pipe in the container")
        got = host_dd(f"if={mp / 'pipe0'}", "bs=4096", f"count={n}", "iflag=count_bytes,fullblock")
        assert got == to_host, f"container -> host: {first_difference(got, to_host)}"

        host_dd(f"of={mp / 'pipe0'}", "bs=4096", data=to_container)
        r = containers.sh(f"head -c {n} {MNT}/pipe0 > /x/from_host", opts=_bind(mp, scratch))
        check(r, "reading the pipe in the container")
        got = (scratch / "from_host").read_bytes()
        assert got == to_container, f"host -> container: {first_difference(got, to_container)}"
    finally:
        os.close(fd)


# In the container, as uid 1000: the errno of reading 16 bytes of /zero and of listing the root.
USER_PROBE = r"""
import errno, os
def probe(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def read():
    with open("/mnt/iofs/zero", "rb") as f:
        assert f.read(16) == bytes(16)
print(os.getuid(), probe(read), probe(lambda: os.listdir("/mnt/iofs")))
"""


@pytest.mark.parametrize("allow_other", [True, False], ids=["allow-other", "no-allow-other"])
def test_container_user_1000(containers, host_mount, allow_other):
    mp = host_mount(allow_other=allow_other)
    r = containers.run("-c", USER_PROBE, opts=("--user", "1000", "-v", f"{mp}:{MNT}"),
                       entrypoint="python3")
    out = check(r, "the probe as uid 1000").split()
    if allow_other:
        assert out == ["1000", "ok", "ok"], out
        # and cat, as a user would
        r = containers.sh(f"head -c 8 {MNT}/zero | od -An -tx1 && cat {MNT}/status",
                          opts=("--user", "1000", "-v", f"{mp}:{MNT}"))
        text = check(r, "cat as uid 1000")
        assert "00 00 00 00 00 00 00 00" in text and "mem0" in text, text
    else:
        assert out == ["1000", "EACCES", "EACCES"], out
        r = containers.sh(f"cat {MNT}/zero", opts=("--user", "1000", "-v", f"{mp}:{MNT}"))
        assert r.returncode != 0 and b"Permission denied" in r.stderr, r
