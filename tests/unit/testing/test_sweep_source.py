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
