"""The plugin's teardown ends in bounded time whatever the test left in the mount: a child that
went on living with its cwd there (the mount is busy, and the daemon would serve it for ever)."""

from __future__ import annotations

import os
import re
import signal
import textwrap

from .conftest import _run


def test_teardown_with_a_child_still_in_the_mount_takes_under_5_s(pytester, no_mount_left):
    pytester.makepyfile(test_leftover=textwrap.dedent('''
        import subprocess

        def test_leaves_a_child_in_the_mount(iofs_mount):
            child = subprocess.Popen(["sleep", "30"], cwd=iofs_mount.path / "tmp",
                                     start_new_session=True)
            with open("child.pid", "w") as f:
                f.write(str(child.pid))
    '''))
    result = _run(pytester, "--durations=0", "-vv")
    result.assert_outcomes(passed=1)
    teardown = [float(m.group(1)) for m in
                re.finditer(r"^([0-9.]+)s teardown .*test_leaves_a_child_in_the_mount",
                            result.stdout.str(), re.M)]
    assert teardown and teardown[0] < 5.0, result.stdout.str()[-2000:]
    try:
        os.kill(int((pytester.path / "child.pid").read_text()), signal.SIGKILL)
    except ProcessLookupError:
        pass
