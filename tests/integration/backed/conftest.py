"""Fixtures of the tests of backed mounts: a host directory (``host``, on the disk under the
test's tmp_path, with a few files in it) and ``serve(source, *args, config=None)``, which
mounts it with ``iofs mount MNT --source DIR`` in a directory of its own (unmounted at
teardown, whatever happened)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mounting import Mount


@pytest.fixture
def host(tmp_path) -> Path:
    d = tmp_path / "host"
    d.mkdir()
    (d / "hello.txt").write_bytes(b"hello from the host\n")
    (d / "sub").mkdir()
    (d / "sub" / "data.bin").write_bytes(bytes(range(256)) * 64)
    return d


@pytest.fixture
def serve(mount_iofs):
    def mount(source: Path | str, *args: str, config: str | None = None,
              mountpoint: Path | None = None) -> Mount:
        m = mount_iofs(config, "--source", str(source), *args, mountpoint=mountpoint)
        m.source = Path(source)
        return m

    return mount
