"""`iofs drivers` lists every built-in driver with a description.
"""

from __future__ import annotations

from tests.support.cli import run_iofs


def test_drivers_lists_builtins():
    from iofs.drivers import BUILTIN

    res = run_iofs("drivers")
    assert res.returncode == 0
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    listed = {ln.split()[0]: ln.split(None, 1)[1] for ln in lines if ln.strip()}
    expected = {"null", "zero", "full", "mem", "pipe", "text", "random", "status"}
    assert expected <= set(listed)
    assert set(BUILTIN) <= set(listed)
    assert all(len(desc) > 10 for desc in listed.values())
    assert "ENOSPC" in listed["full"]
