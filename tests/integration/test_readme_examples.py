"""The README's driver examples, taken from the README itself, mounted and used for real."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_files() -> dict[str, str]:
    """Every ```python block of the README that starts with '# file: NAME'."""
    blocks = re.findall(r"```python\n# file: (\S+)\n(.*?)```", README.read_text(), re.S)
    return {name: body for name, body in blocks}


@pytest.fixture
def examples_mount(mount_iofs, tmp_path, monkeypatch):
    files = readme_files()
    assert {"log.py", "fooread.py"} <= set(files), "the README lost its driver examples"
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return mount_iofs('[[device]]\npath = "log"\ndriver = "log:Log"\n'
                      '[[device]]\npath = "foo"\ndriver = "fooread:Foo"\n')


def usage_block() -> tuple[str, list[str]]:
    """The README's "Using the default tree" session: the commands as one bash script, and the
    output it shows. A command is a line after "$ ", with the lines that follow while a single
    quote is open; every other line is expected output."""
    text = README.read_text()
    block = re.search(r"## Using the default tree\n\n```sh\n(.*?)```", text, re.S).group(1)
    script, expected, open_quote = [], [], False
    for line in block.splitlines():
        if open_quote:
            script.append(line)
        elif line.startswith("$ "):
            script.append(line[2:])
        else:
            expected.append(line)
            continue
        open_quote ^= script[-1].count("'") % 2 == 1
    return "\n".join(script) + "\n", expected


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; an expected "..." stands for any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def test_readme_usage_session_works_as_shown(mount_iofs):
    """The README's first-command session, run against a fresh default tree."""
    m = mount_iofs()
    script, expected = usage_block()
    script = script.replace("/mnt/iofs", str(m.path))
    res = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=120,
                         env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    actual = res.stdout.splitlines()
    # bash names the script line in its messages ("bash: line 7: echo: ..."); the README does not
    actual = [re.sub(r"^bash: line \d+: ", "bash: ", line) for line in actual]
    assert matches(expected, actual), (
        "the README's session printed something else:\n" + "\n".join(actual)
        + "\n--- expected ---\n" + "\n".join(expected))


def test_readme_bsd_snippet_runs():
    snippet = re.search(r"### BSD face: `iofs.uio`\n\n```python\n(.*?)```", README.read_text(), re.S)
    exec(compile(snippet.group(1), "README", "exec"), {})


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
        reader.join(0.3)
        assert reader.is_alive(), "a read at the end of the log should wait for a writer"
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
    reader.join(0.3)
    assert reader.is_alive(), "the read should sleep while there is no data"
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
