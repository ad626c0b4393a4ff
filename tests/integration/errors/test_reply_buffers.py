"""The reply buffer of a read never shows another read's bytes: a uio a driver kept cannot
move into a later read's reply, and bytes a driver counts as moved without filling them
(uio_resid lowered by hand, uioskip, UIO_NOCOPY) are zeros.
"""

from __future__ import annotations

import threading

import pytest

from tests.support.mounting import serves
from tests.support.processes import wait_for


def test_a_kept_uio_cannot_move_into_another_reads_reply(bad):
    """A driver keeps the uio of a read and moves into it after returning. The reply buffer of
    that read serves the next sleeping read (of another device); the late move must not reach
    that read's reply."""
    with open(bad / "keeper", "rb", buffering=0) as f:
        assert f.read(128 * 1024) == b""  # a reply buffer of its own, pooled after the reply
    got = []

    def read_filler() -> None:
        with open(bad / "filler_waits", "rb", buffering=0) as f:
            got.append(f.read(128 * 1024))

    asleep = bad.log_text().count("filler_waits: moved 16 bytes, asleep")
    reader = threading.Thread(target=read_filler)
    reader.start()
    # the filler moved its first 16 bytes into its reply buffer, and sleeps
    assert wait_for(lambda: bad.log_text().count("filler_waits: moved 16 bytes, asleep")
                    > asleep, 10)
    with open(bad / "keeper", "wb", buffering=0) as f:
        f.write(b"x")  # the keeper moves 32 bytes into the uio it kept
    with open(bad / "filler_waits", "wb", buffering=0) as f:
        f.write(b"x")  # wakes the filler: it moves its last 16 bytes
    reader.join(10)
    assert got == [b"f" * 16 + b"g" * 16]
    serves(bad)


def test_bytes_a_driver_claims_but_never_moved_are_zeros_not_another_reads(bad):
    """A d_read that lowers uio_resid without moving anything: the reply buffer it claims
    held the previous read's data (here a 0600 file of root's); the program gets zeros."""
    for claims, before in (("claims", "secret"), ("aclaims", "filler")):
        with open(bad / before, "rb", buffering=0) as f:
            assert f.read(128 * 1024) in (b"root only", b"f" * 16 + b"g" * 16)
        with open(bad / claims, "rb", buffering=0) as f:
            assert f.read(128 * 1024) == bytes(128 * 1024), claims
    serves(bad)


@pytest.mark.parametrize("driver, head", [("skips", b""), ("nocopy", b"head")])
def test_bytes_a_driver_skips_are_zeros_not_another_reads(bad, driver, head):
    """uioskip and a UIO_NOCOPY move count bytes as moved without filling them: in a kernel
    the program's buffer keeps its own bytes; over FUSE the reply replaces them, and the
    reply buffer held the previous read (a 0600 file of root's), so they must be zeros."""
    with open(bad / "secret", "rb", buffering=0) as f:
        assert f.read(4096) == b"root only"
    with open(bad / driver, "rb", buffering=0) as f:
        assert f.read(4096) == head + bytes(4096 - len(head))
    serves(bad)
