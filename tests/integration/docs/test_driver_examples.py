"""docs/drivers.md's driver examples, taken from the page itself, mounted and used for real
(test_docs.py runs the page's session; this pins what the two drivers promise)."""

from __future__ import annotations

import os
import re
import threading

import pytest

from tests.support.paths import REPO
from tests.support.processes import wait_for, waiting_on_fuse

DRIVERS = REPO / "docs" / "drivers.md"


def readme_files() -> dict[str, str]:
    """Every ```python block of docs/drivers.md that starts with '# file: NAME'."""
    blocks = re.findall(r"```python\n# file: (\S+)\n(.*?)```", DRIVERS.read_text(), re.S)
    return {name: body for name, body in blocks}


@pytest.fixture
def examples_mount(mount_iofs, tmp_path, monkeypatch):
    files = readme_files()
    assert {"log.py", "fooread.py"} <= set(files), "docs/drivers.md lost its driver examples"
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return mount_iofs('[[device]]\npath = "log"\ndriver = "log:Log"\n'
                      '[[device]]\npath = "foo"\ndriver = "fooread:Foo"\n')


def test_log_reads_in_pieces_and_waits_at_the_end(examples_mount):
    path = examples_mount / "log"
    with open(path, "wb", buffering=0) as f:
        assert f.write(b"hello, ") == 7
        assert f.write(b"driver") == 6  # appended
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        pieces = [os.read(fd, 4) for _ in range(4)]
        assert pieces == [b"hell", b"o, d", b"rive", b"r"]  # each piece once
        with pytest.raises(BlockingIOError):  # at the end, a non-blocking reader gets EAGAIN
            os.read(fd, 4)
        assert os.pread(fd, 100, 7) == b"driver"  # the offset comes from the uio
    finally:
        os.close(fd)
    rfd = os.open(path, os.O_RDONLY)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(os.pread(rfd, 100, 13)))
    reader.start()
    try:
        assert wait_for(lambda: waiting_on_fuse(reader.native_id, "pread64"), 10), \
            "a read at the end of the log should wait for a writer"
        with open(path, "ab", buffering=0) as f:
            assert f.write(b" more") == 5
        reader.join(10)
        assert got == [b" more"]
    finally:
        if reader.is_alive():
            with open(path, "ab", buffering=0) as f:
                f.write(b"x")
            reader.join(10)
        os.close(rfd)


def test_fooread_sleeps_until_data(examples_mount):
    path = examples_mount / "foo"
    rfd = os.open(path, os.O_RDONLY)
    got = []
    reader = threading.Thread(target=lambda: got.append(os.read(rfd, 100)))
    reader.start()
    assert wait_for(lambda: waiting_on_fuse(reader.native_id, "read"), 10), \
        "the read should sleep while there is no data"
    wfd = os.open(path, os.O_WRONLY)
    try:
        assert os.write(wfd, b"wake up") == 7
        reader.join(10)
        assert got == [b"wake up"]
        nfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with pytest.raises(BlockingIOError):
            os.read(nfd, 10)
        os.close(nfd)
    finally:
        if reader.is_alive():
            os.write(wfd, b"x")
            reader.join(10)
        os.close(wfd)
        os.close(rfd)
