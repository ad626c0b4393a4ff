"""Building what the tests run: trees with user drivers (their modules written where the
daemon imports them), and C programs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .mounting import env_with_pythonpath


def device(path: str, driver: str, **options: object) -> str:
    """One ``[[device]]`` table of a tree: ``path``, ``driver`` and its options (strings,
    numbers, booleans, lists)."""
    lines = [f'[[device]]\npath = "{path}"\ndriver = "{driver}"']
    for key, value in options.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def driver_env(base: Path, **modules: str) -> dict[str, str]:
    """Write each driver module (``name=source``) into ``base/drv``; the environment in which
    the daemon imports them."""
    drv = base / "drv"
    drv.mkdir(exist_ok=True)
    for name, source in modules.items():
        (drv / f"{name}.py").write_text(source)
    return env_with_pythonpath(drv)


def compile_c(source: Path, exe: Path, *flags: str) -> subprocess.CompletedProcess | None:
    """``gcc`` (or ``cc``) ``flags -o exe source``; None when there is no C compiler."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    return subprocess.run([cc, *flags, "-o", str(exe), str(source)], capture_output=True,
                          text=True, timeout=120)


__all__ = ["device", "driver_env", "compile_c"]
