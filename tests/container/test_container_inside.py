"""iofs mounted inside a container, used there with cat, dd and readv_check on /zero, /mem0,
/pipe0 and a regular file; and the container's entry point stopping cleanly.

The container is started with the README's run line
(`--device /dev/fuse --cap-add SYS_ADMIN IMAGE mount /mnt --foreground`, tini as PID 1 and
iofs its child); the checks run in it with `exec`.
"""

from __future__ import annotations

import os

import pytest

from tests.container.engine import check
from tests.support.processes import wait_for


# The first test's set-up may build the images on a cold machine.
pytestmark = [pytest.mark.container, pytest.mark.timeout(480)]

MNT = "/mnt"
RUN_LINE = ("--device", "/dev/fuse", "--cap-add", "SYS_ADMIN")


def _mounted(containers, name) -> bool:
    r = containers.exec(name, f"grep -q ' {MNT} fuse' /proc/mounts", timeout=30)
    return r.returncode == 0


@pytest.fixture(scope="module")
def inside(containers, readv_check_dir):
    """A running container with iofs's default tree mounted at /mnt; yields its name."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on the host to pass to the container")
    name = containers.start("mount", MNT, "--foreground",
                            opts=(*RUN_LINE, "-v", f"{readv_check_dir}:/t:ro"))
    try:
        assert wait_for(lambda: _mounted(containers, name), 30, step=0.2), \
            f"iofs did not mount in the container within 30 s; container log:\n{containers.logs(name)}"
        yield name
    finally:
        containers.remove(name)


# One script per device: cat and dd, both directions where the device takes writes.
SCRIPTS = {
    "zero": r"""
        head -c 1048576 /dev/zero > /tmp/z
        cat /mnt/zero | head -c 1048576 | cmp - /tmp/z
        dd if=/mnt/zero bs=65536 count=16 status=none | cmp - /tmp/z
        dd if=/mnt/zero bs=1000 count=7 skip=3 status=none | cmp -n 7000 - /tmp/z
        [ "$(dd if=/mnt/zero bs=999 count=7 status=none | wc -c)" -eq 6993 ]
        dd if=/dev/urandom of=/mnt/zero bs=65536 count=4 status=none
        cat /tmp/z > /mnt/zero
        head -c 4096 /mnt/zero | cmp -n 4096 - /tmp/z
    """,
    "mem0": r"""
        head -c 1000003 /dev/urandom > /tmp/r
        dd if=/tmp/r of=/mnt/mem0 bs=65536 seek=12345 oflag=seek_bytes conv=notrunc status=none
        dd if=/mnt/mem0 bs=65536 skip=12345 count=1000003 iflag=skip_bytes,count_bytes status=none \
            | cmp - /tmp/r
        [ "$(cat /mnt/mem0 | wc -c)" -eq 67108864 ]
        cat /mnt/mem0 | tail -c +12346 | head -c 1000003 | cmp - /tmp/r
        head -c 70001 /dev/urandom > /tmp/s
        cat /tmp/s 1<>/mnt/mem0
        head -c 70001 /mnt/mem0 | cmp - /tmp/s
        dd if=/tmp/s of=/tmp/s1 bs=4096 skip=1 count=1 status=none
        dd if=/mnt/mem0 bs=4096 skip=1 count=1 status=none | cmp - /tmp/s1
    """,
    "pipe0": r"""
        head -c 1000000 /dev/urandom > /tmp/r
        exec 3<>/mnt/pipe0                # a reader and a writer held open: no EPIPE, no early EOF
        cat /tmp/r > /mnt/pipe0 &         # 1 MB through the 64 KiB ring: the writer sleeps for room
        dd if=/mnt/pipe0 of=/tmp/o bs=65536 count=1000000 iflag=count_bytes,fullblock status=none
        wait $!
        cmp /tmp/o /tmp/r
        exec 3<&-
        head -c 50000 /dev/urandom > /tmp/s
        exec 3</mnt/pipe0                 # a reader holds the pipe ...
        dd if=/tmp/s of=/mnt/pipe0 bs=4096 status=none
        cat /mnt/pipe0 > /tmp/o2          # ... buffered data, then EOF: no writer is left
        exec 3<&-
        cmp /tmp/o2 /tmp/s
    """,
    "regular file": r"""
        f=/mnt/tmp/container-file
        head -c 1000003 /dev/urandom > /tmp/r
        cat /tmp/r > $f
        cmp $f /tmp/r
        cat $f | cmp - /tmp/r
        dd if=$f bs=4096 status=none | cmp - /tmp/r
        head -c 5000 /dev/urandom > /tmp/p
        dd if=/tmp/p of=$f bs=1000 seek=333 oflag=seek_bytes conv=notrunc status=none
        { head -c 333 /tmp/r; cat /tmp/p; tail -c +5334 /tmp/r; } > /tmp/e
        cmp $f /tmp/e
        [ "$(wc -c < $f)" -eq 1000003 ]
        dd if=/tmp/p of=$f bs=1000 status=none
        cmp $f /tmp/p
        rm $f
        [ ! -e $f ]
    """,
}


@pytest.mark.parametrize("device", list(SCRIPTS))
def test_cat_and_dd_inside(containers, inside, device):
    r = containers.exec(inside, SCRIPTS[device], timeout=90)
    check(r, f"cat/dd on {device} in the container")


READV = {
    "zero": "/mnt/zero --zero",
    "mem0": "/mnt/mem0",
    "pipe0": "/mnt/pipe0 --stream",
    "regular file": "/mnt/tmp/readv-file",
}


@pytest.mark.parametrize("device", list(READV))
def test_readv_check_inside(containers, inside, readv_check_dir, device):
    if not (readv_check_dir / "readv_check").exists():
        pytest.skip("readv_check could not be built (no tests/readv_check.c or no C compiler)")
    r = containers.exec(inside, f"/t/readv_check {READV[device]}", timeout=150)
    out = check(r, f"readv_check {READV[device]} in the container")
    assert "ok" in out


def test_entry_point_stops_cleanly(containers):
    """SIGTERM (podman stop) reaches iofs through tini: it unmounts and exits 0."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on the host to pass to the container")
    name = containers.start("mount", MNT, "--foreground", opts=RUN_LINE)
    try:
        assert wait_for(lambda: _mounted(containers, name), 30, step=0.2), \
            "iofs did not mount in the container within 30 s"
        containers.engine.run("stop", "-t", "20", name, timeout=60)
        status = containers.engine.run("wait", name, timeout=60).stdout.strip()
        log = containers.logs(name)
        assert status == "0", f"exit status {status}; log:\n{log}"
        assert "Traceback" not in log, log
    finally:
        containers.remove(name)

