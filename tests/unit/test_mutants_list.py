"""scripts/mutants, the hand-written mutants (docs/testing.md, "Mutation testing"): its
data file parses, every mutant's text is found exactly once in its module (a change to iofs
that moves such a text must move the mutant with it), and a text found no time or twice is
refused. The mutants themselves are not run here (scripts/mutants does, outside CI)."""

from __future__ import annotations

import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutants"


def test_every_mutant_is_found_exactly_once_and_each_area_has_its_share():
    res = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "REFUSED" not in res.stdout
    *rows, summary = res.stdout.splitlines()
    assert summary.endswith(" refused") and ", 0 refused" in summary, summary
    areas = [row.split()[1] for row in rows]
    for area in ("fs", "guard", "drivers", "faults", "durability", "backed", "plugin", "cli",
                 "config", "system"):
        assert areas.count(area) >= 5, (area, areas.count(area))
    for area in ("sweep", "crash"):
        assert areas.count(area) >= 3, (area, areas.count(area))
    assert 90 <= len(rows) <= 130


def test_a_mutant_whose_text_is_not_found_exactly_once_is_refused(tmp_path):
    loader = SourceFileLoader("iofs_mutants_script", str(SCRIPT))
    mutants = module_from_spec(spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = mutants  # (its dataclass looks its module up there)
    try:
        loader.exec_module(mutants)
    finally:
        del sys.modules[loader.name]
    (tmp_path / "iofs").mkdir()
    (tmp_path / "iofs" / "m.py").write_text("x = 1\ny = 2\ny = 2\n")
    entry = ('[[mutant]]\nname = "{name}"\narea = "fs"\nfile = "iofs/m.py"\nwhat = "w"\n'
             'find = "{find}"\nreplace = "z = 3"\ntests = ["tests"]\n')
    data = tmp_path / "mutants.toml"
    data.write_text(entry.format(name="once", find="x = 1") + entry.format(name="never", find="q")
                    + entry.format(name="twice", find="y = 2")
                    + entry.format(name="once", find="x = 1"))
    problems = {m.name: m.problem for m in mutants.load(data, tmp_path)}
    assert problems["never"] == "its text is found 0 times in iofs/m.py, not once"
    assert problems["twice"] == "its text is found 2 times in iofs/m.py, not once"
    loaded = mutants.load(data, tmp_path)
    assert [m.problem for m in loaded if m.name == "once"] == [None, "the name is used twice"]
