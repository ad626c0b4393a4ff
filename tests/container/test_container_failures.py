"""A container that lacks /dev/fuse or CAP_SYS_ADMIN gets one clear line, in the foreground
and in the background, naming the first thing missing.

The texts are the CLI's: `iofs: /dev/fuse is missing (in a container: run with --device
/dev/fuse)` and `iofs: mounting needs CAP_SYS_ADMIN (in a container: run with --cap-add
SYS_ADMIN)`.
"""

from __future__ import annotations

import pytest

from tests.container.engine import output

pytestmark = [pytest.mark.container, pytest.mark.timeout(480)]

CASES = {
    # name: (run options, the hint that must be printed, the hint that must not)
    "no /dev/fuse": (("--cap-add", "SYS_ADMIN"), "--device /dev/fuse", "--cap-add SYS_ADMIN"),
    "no SYS_ADMIN": (("--device", "/dev/fuse"), "--cap-add SYS_ADMIN", "--device /dev/fuse"),
    "neither": ((), "--device /dev/fuse", "--cap-add SYS_ADMIN"),  # the first thing missing
}


@pytest.mark.parametrize("mode", ["--foreground", "background"])
@pytest.mark.parametrize("case", list(CASES))
def test_missing_privilege_is_one_clear_line(containers, case, mode):
    opts, hint, other = CASES[case]
    args = ["mount", "/mnt"] + (["--foreground"] if mode == "--foreground" else [])
    r = containers.run(*args, opts=opts, timeout=60)
    out = output(r)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert r.returncode != 0, f"mount succeeded without privileges?\n{out}"
    assert "Traceback" not in out, out
    assert len(lines) == 1, f"expected one line, got:\n{out}"
    assert lines[0].startswith("iofs: "), out
    assert hint in lines[0], out
    assert other not in lines[0], out
