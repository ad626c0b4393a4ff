"""Where things are in the checkout."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: iofs/, docs/, scripts/, tests/
READV_CHECK_C = REPO / "tests" / "readv_check.c"

__all__ = ["REPO", "READV_CHECK_C"]
