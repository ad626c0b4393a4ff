"""A host directory's data costs the daemon no memory: its peak RSS stays under 100 MiB while
4 GiB are written through a backed mount (durability off) and read back."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.processes import proc_number

GIB = 1 << 30


@pytest.mark.timeout(600)
def test_4_gib_through_a_backed_mount_cost_no_memory(serve, host):
    m = serve(host)
    big = m / "big"
    try:
        res = subprocess.run(["dd", "if=/dev/zero", f"of={big}", "bs=1M", "count=4096",
                              "conv=fsync", "status=none"], capture_output=True, timeout=540)
        assert res.returncode == 0, res.stderr
        assert (host / "big").stat().st_size == 4 * GIB
        res = subprocess.run(["dd", f"if={big}", "of=/dev/null", "bs=1M", "count=512",
                              "status=none"], capture_output=True, timeout=300)
        assert res.returncode == 0, res.stderr
        peak = proc_number(m.pid, "status", "VmHWM")
        assert peak is not None and peak < 100 * 1024, f"peak RSS {peak / 1024:.0f} MiB"
    finally:
        big.unlink(missing_ok=True)
