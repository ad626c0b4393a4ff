"""A SQLite program that commits transactions in a loop until it is killed with SIGKILL: what
the crash tests check a crash against (every transaction it saw committed must survive)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .processes import wait_for

SQLITE_CHILD = r'''
import sqlite3, sys
path, mode, sync = sys.argv[1], sys.argv[2], sys.argv[3]
db = sqlite3.connect(path, isolation_level=None)
db.execute(f"PRAGMA journal_mode={mode}")
db.execute(f"PRAGMA synchronous={sync}")
db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload BLOB)")
i = 0
while True:
    i += 1
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (?, randomblob(3000))", (i,))
    db.execute("UPDATE t SET payload = randomblob(500) WHERE id = ?", (max(1, i // 2),))
    db.execute("COMMIT")
    print(i, flush=True)  # the child saw transaction i committed
'''


def run_sqlite_child(db: Path, tmp_path: Path, mode: str, sync: str, extra: float) -> list[int]:
    """Run the child on the database ``db`` until it has committed a few transactions, then
    ``extra`` seconds more, and SIGKILL it: the transactions it saw committed, in order."""
    script = tmp_path / "child.py"
    script.write_text(SQLITE_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(db), mode, sync],
                             stdout=subprocess.PIPE, text=True)
    seen: list[int] = []

    def read_commits() -> None:
        for line in child.stdout:
            seen.append(int(line))

    reader = threading.Thread(target=read_commits, daemon=True)
    reader.start()
    try:
        # a busy host makes commits slow, not fewer: count them rather than time them
        assert wait_for(lambda: len(seen) > 3 or child.poll() is not None, 60)
        assert child.poll() is None, "the child died before it was killed"
        time.sleep(extra)
        child.send_signal(signal.SIGKILL)  # mid-transaction, most likely
        child.wait(10)
        reader.join(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    return seen


__all__ = ["SQLITE_CHILD", "run_sqlite_child"]
