"""What a crash test of SQLite checks after the crash: the database is whole, and every
transaction the program saw committed is in it."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def assert_commits_survive(db_path: Path, seen: list[int]) -> None:
    """``PRAGMA integrity_check`` is ok; every id in ``seen`` (the ids whose commit returned)
    is in table ``t``, and nothing beyond the one in flight."""
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = {row[0] for row in db.execute("SELECT id FROM t")}
    finally:
        db.close()
    missing = set(seen) - ids
    assert not missing, f"committed and lost in the crash: {sorted(missing)[:10]}"
    assert ids <= set(range(1, max(seen) + 2))  # at most the one in flight besides
