"""Running the ``iofs`` command as a user does, and what its failures must look like."""

from __future__ import annotations

import subprocess
import sys

from iofs.testing import client


def run_iofs(*args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """``python -m iofs ARGS...`` (this interpreter, this checkout), output captured as text
    (``text=False``: as bytes)."""
    kw.setdefault("text", True)
    return subprocess.run([sys.executable, "-m", "iofs", *args], capture_output=True,
                          timeout=timeout, **kw)


def one_line_error(res: subprocess.CompletedProcess) -> str:
    """Assert the CLI failed with exactly one 'iofs: ' line on stderr and no traceback."""
    assert res.returncode != 0, res
    lines = res.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {res.stderr!r}"
    assert lines[0].startswith("iofs: "), lines
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    return lines[0]


def add_fault(m, rule: str) -> int:
    """Add a fault rule to mount ``m`` through the CLI, as a user would; its id."""
    res = run_iofs("fault", str(m.path), "add", rule)
    assert res.returncode == 0, res.stderr
    return int(res.stdout)


def rule_lines(m) -> list[str]:
    """The active rules of mount ``m``, one line each, as ``iofs fault MNT list`` shows them."""
    return client.list_rules(m.path).splitlines()


__all__ = ["run_iofs", "one_line_error", "add_fault", "rule_lines"]
