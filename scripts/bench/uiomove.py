"""The uiomove section: ``micro_uiomove.py``, the core's microbenchmark, in a process of its
own (a microbenchmark wants a fresh interpreter on the quiet machine it finds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .common import HERE

SCRIPT = os.path.join(HERE, "micro_uiomove.py")


def run(rounds: int, workdir: str) -> dict | None:
    """Its JSON (``iovecs``, ``request_4k_us``), {"error": last line} if it failed, None if
    the script is not there."""
    if not os.path.exists(SCRIPT):
        return None
    out = os.path.join(workdir, "uiomove.json")
    res = subprocess.run([sys.executable, SCRIPT, "--rounds", str(rounds), "--json", out],
                         capture_output=True, text=True, timeout=600)
    if res.returncode != 0 or not os.path.exists(out):
        return {"error": (res.stderr.strip().splitlines() or [f"status {res.returncode}"])[-1]}
    with open(out) as f:
        return json.load(f)
