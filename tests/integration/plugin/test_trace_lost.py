"""The plugin's trace() and wait_for() say what the trace ring dropped."""

from __future__ import annotations

import textwrap

from .conftest import _run


def test_the_plugins_trace_and_wait_for_say_what_was_lost(pytester, no_mount_left):
    pytester.makepyfile(test_lost=textwrap.dedent('''
        import os, pytest
        from iofs.testing.pytest_plugin import TraceLost

        TREE = {"options": {"trace_events": 10}, "device": [{"path": "zero", "driver": "zero"}]}

        def test_lost(iofs_mount_factory):
            m = iofs_mount_factory(TREE)
            fd = os.open(m.path / "zero", os.O_RDONLY)
            for _ in range(50):
                os.read(fd, 10)
            os.close(fd)
            with pytest.warns(TraceLost, match="dropped"):
                events = m.trace(op="read")
            assert len(events) <= 10 and m.lost >= 40
            first = m.lost
            fd = os.open(m.path / "zero", os.O_RDONLY)
            for _ in range(50):
                os.read(fd, 10)
            os.close(fd)
            with pytest.warns(TraceLost, match="dropped"):
                m.trace(op="read")
            assert m.lost >= first + 40  # every loss since the mount, not the last one
            with pytest.raises(pytest.fail.Exception, match="dropped .* raise .*trace_events"):
                m.wait_for(op="read", count=50, timeout=30)
    '''))
    _run(pytester).assert_outcomes(passed=1)
