"""--source DIR: the worker's copy is made once and restored before a run only when a run
changed it; the user's directory is never touched. In process, no mount."""

from __future__ import annotations

import os

from iofs.testing.sweep.source import SourceCopy


def test_a_copy_restored_only_when_changed(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(b"\0" * 5000)
    os.symlink("a.txt", src / "link")
    copy = SourceCopy(src, tmp_path / "w0" / "source")
    dst = copy.path
    assert (dst / "a.txt").read_text() == "alpha\n" and os.readlink(dst / "link") == "a.txt"
    assert copy.restore() is False  # nothing changed: nothing copied
    (dst / "a.txt").read_text()  # a read changes nothing either
    assert copy.restore() is False
    (dst / "a.txt").write_text("changed\n")
    (dst / "new").write_text("made by a run\n")
    (dst / "sub" / "b.bin").unlink()
    assert copy.restore() is True and copy.restores == 1
    assert sorted(p.name for p in dst.rglob("*")) == ["a.txt", "b.bin", "link", "sub"]
    assert (dst / "a.txt").read_text() == "alpha\n"
    assert (src / "a.txt").read_text() == "alpha\n"  # the user's directory as it was


def test_a_change_that_puts_size_and_mtime_back_is_still_seen(tmp_path):
    """A run that rewrites a file with as many bytes and sets its mtime back, or only sets an
    extended attribute, changed the copy all the same (its ctime says so)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha\n")
    copy = SourceCopy(src, tmp_path / "w0" / "source")
    a = copy.path / "a.txt"
    st = os.stat(a)
    a.write_text("omega\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert copy.restore() is True and a.read_text() == "alpha\n"
    os.setxattr(a, "user.run", b"1")
    assert copy.restore() is True and os.listxattr(a) == []
