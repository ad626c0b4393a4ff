"""Set-up prints only what a user needs: installing iofs (what scripts/setup does) shows no
setuptools banner, and the benchmark leaves no fio state files in the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

# pip's complaint about index locations of this machine's own pip.conf; scripts/setup drops it
MACHINE_NOISE = re.compile(r"^WARNING: Location '.*' is ignored")


def test_editable_install_prints_nothing(tmp_path):
    """`pip install -e .` of this pyproject.toml, as scripts/setup runs it, is silent: the
    flat layout stated in [tool.setuptools] keeps setuptools' editable-install banner away."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    res = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                          "-e", str(REPO)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    said = [line for line in (res.stdout + res.stderr).splitlines()
            if line.strip() and not MACHINE_NOISE.match(line)]
    assert said == [], "\n".join(said)


def test_no_tool_state_files_in_the_checkout():
    """fio runs in temporary directories (scripts/bench/run, its smoke test): none of its
    *.state files may land in the checkout, and .gitignore keeps them out of commits."""
    assert sorted(p.name for p in REPO.glob("*.state")) == []
    assert "*.state" in (REPO / ".gitignore").read_text().split()


def _broken_apt_config(tmp_path: Path) -> Path:
    """An APT_CONFIG whose package lists live in a directory that does not exist: apt itself
    fails ("List directory ... is missing"), with nothing on the machine changed."""
    conf = tmp_path / "apt.conf"
    conf.write_text(f'Dir::State::Lists "{tmp_path}/no-lists";\n')
    return conf


def test_setup_installing_a_package_says_one_line(tmp_path):
    """A system package missing on a fresh machine: scripts/setup says which it installs, in
    one line, and keeps apt's own output (debconf's "delaying package configuration", progress)
    to itself; when apt fails, its output is shown and setup ends with one line and exit 1.
    pkg-config is the package taken away: only building pyfuse3 needs it, and the test puts it
    back whatever happens."""
    assert os.geteuid() == 0, "scripts/setup installs system packages as root on this machine"
    try:
        subprocess.run(["dpkg", "--remove", "pkg-config"], check=True, capture_output=True,
                       timeout=120)
        failed = subprocess.run([str(REPO / "scripts" / "setup")], capture_output=True, text=True,
                                timeout=600,
                                env={**os.environ, "APT_CONFIG": str(_broken_apt_config(tmp_path))})
        assert failed.returncode == 1, failed.stderr
        said = failed.stderr.splitlines()
        assert said[0] == "setup: installing pkg-config"
        assert any(line.startswith("E: ") for line in said[1:-1]), failed.stderr  # apt's reason
        assert said[-1] == "setup: apt-get could not install pkg-config"
        res = subprocess.run([str(REPO / "scripts" / "setup")], capture_output=True, text=True,
                             timeout=600)
        assert res.returncode == 0, res.stderr
        said = [line for line in (res.stdout + res.stderr).splitlines()
                if line.strip() and not MACHINE_NOISE.match(line)]
        assert said == ["setup: installing pkg-config"], "\n".join(said)
    finally:
        subprocess.run([str(REPO / "scripts" / "apt-install"), "pkg-config"], capture_output=True,
                       timeout=600)
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "pkg-config"],
                            capture_output=True, text=True).stdout
    assert status == "install ok installed"
