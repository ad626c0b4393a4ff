"""The example's fixture: its two programs, compiled."""

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def programs(tmp_path_factory):
    """A directory with buggy and fixed, compiled from this directory's C files."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("bin")
    for name in ("buggy", "fixed"):
        subprocess.run([cc, "-O2", "-Wall", "-o", str(out / name), str(HERE / f"{name}.c")],
                       check=True)
    return out
