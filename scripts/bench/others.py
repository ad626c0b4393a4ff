"""The filesystems that are not iofs, mounted by the bench's own small helper: the bare
pyfuse3 filesystem (``bare_fs.py``) and pyfuse3's example tmpfs, each a foreground daemon of
ours, and a kernel tmpfs (or, when we may not mount, a directory in /dev/shm)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import pyfuse3

from iofs.system.mounts import mount_of, mount_type

from .common import CACHE, HERE, MEM_SIZE, REPO, MountError, log, terminate
from .mounts import Fs


class ProcFs(Fs):
    """A FUSE daemon run in the foreground as our child (its own session: Ctrl-C reaches the
    bench, which unmounts in order); its output is its log, ``workdir/NAME.log``."""

    def __init__(self, name: str, mountpoint: str, cmd: list[str], paths: dict[str, str],
                 workdir: str) -> None:
        super().__init__(name, mountpoint, paths)
        self.cmd = cmd
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> ProcFs:
        """Start the daemon and wait until its first path answers; MountError if it exits or
        takes longer than ``timeout`` seconds (everything undone)."""
        os.makedirs(self.mountpoint, exist_ok=True)
        with open(self.log_path, "w") as logf:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=logf, start_new_session=True, cwd="/")
        probe = self.paths.get("zero") or self.paths.get("dir") or self.mountpoint
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.close()
                raise MountError(f"{self.name} daemon exited with status {self.proc.returncode} "
                                 f"before mounting: {tail}")
            if os.path.ismount(self.mountpoint):
                try:
                    os.stat(probe)
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.close()
        raise MountError(f"{self.name} did not mount within {timeout:.0f} s: {self.log_tail()}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def how_gone(self) -> str:
        code = self.proc.returncode if self.proc else None
        return f"status {code}: {self.log_tail()}"

    def close(self) -> None:
        """fusermount3 -u, wait for the daemon (terminate, kill), and a lazy unmount if the
        mount outlived it."""
        tool = shutil.which("fusermount3") or shutil.which("fusermount")
        if os.path.ismount(self.mountpoint) and tool:
            subprocess.run([tool, "-u", self.mountpoint], capture_output=True)
        if self.proc is not None:
            _reap(self.proc)
        if os.path.ismount(self.mountpoint):  # the daemon died or would not let go
            if tool:
                subprocess.run([tool, "-u", "-z", self.mountpoint], capture_output=True)
            if os.path.ismount(self.mountpoint) and os.geteuid() == 0:
                subprocess.run(["umount", "-l", self.mountpoint], capture_output=True)


def _reap(p: subprocess.Popen) -> None:
    """Wait for ``p``: 10 s, then SIGTERM and 5 s, then SIGKILL."""
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        terminate(p)


class TmpfsFs(Fs):
    """A kernel tmpfs we mounted (``kind`` "tmpfs"), or a directory in /dev/shm ("dir")."""

    def __init__(self, mountpoint: str, kind: str) -> None:
        super().__init__("tmpfs", mountpoint, {"zero": f"{mountpoint}/zero",
                                               "mem": f"{mountpoint}/mem",
                                               "dir": f"{mountpoint}/tmp"})
        self.kind = kind
        if kind == "dir":
            self.note = f"a directory in /dev/shm ({mountpoint})"

    def close(self) -> None:
        if self.kind == "tmpfs" and os.path.ismount(self.mountpoint):
            if subprocess.run(["umount", self.mountpoint], capture_output=True).returncode:
                subprocess.run(["umount", "-l", self.mountpoint], capture_output=True)
        elif self.kind == "dir":
            shutil.rmtree(self.mountpoint, ignore_errors=True)


def mount_bare(workdir: str, mp: str, mem_size: int = MEM_SIZE, stats: bool = False) -> ProcFs:
    """``bare_fs.py`` at ``mp``; ``stats``: it prints the largest requests at unmount."""
    cmd = [sys.executable, os.path.join(HERE, "bare_fs.py"), mp, "--mem-size", str(mem_size)]
    if stats:
        cmd.append("--stats")
    return ProcFs("bare", mp, cmd, {"zero": f"{mp}/zero", "mem": f"{mp}/mem"}, workdir).start()


def mount_passthrough(workdir: str, mp: str, source: str) -> ProcFs:
    """``bare_passthrough.py`` serving ``source`` at ``mp`` (its files in ``dir``)."""
    cmd = [sys.executable, os.path.join(HERE, "bare_passthrough.py"), source, mp]
    return ProcFs("bare-pass", mp, cmd, {"dir": mp}, workdir).start()


def mount_example(workdir: str, mp: str, script: str) -> ProcFs:
    """pyfuse3's examples/tmpfs.py (``script``) at ``mp``."""
    m = ProcFs("example", mp, [sys.executable, script, mp], {"dir": mp}, workdir).start()
    m.note = os.path.relpath(script, REPO) if script.startswith(REPO) else script
    return m


def mount_tmpfs(mp: str, size: int) -> TmpfsFs:
    """A tmpfs of ``size`` bytes at ``mp`` (root), else a directory in /dev/shm; with its
    ``zero`` (a sparse file) and ``mem`` (a filled MEM_SIZE file) made."""
    os.makedirs(mp, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "iofs-bench", mp],
                         capture_output=True, text=True) if os.geteuid() == 0 else None
    if res is not None and res.returncode == 0:
        m = TmpfsFs(mp, "tmpfs")
    else:
        shm = mount_of("/dev/shm")
        if shm is None or mount_type(shm) != "tmpfs":
            raise MountError("cannot mount a tmpfs (not root) and /dev/shm is not a tmpfs")
        m = TmpfsFs(tempfile.mkdtemp(prefix="iofs-bench-", dir="/dev/shm"), "dir")
    try:
        os.makedirs(m.paths["dir"])
        with open(m.paths["zero"], "wb") as f:
            f.truncate(size // 2)       # sparse: reads come from holes, like a zero device
        with open(m.paths["mem"], "wb") as f:
            f.write(bytes(MEM_SIZE))    # allocated, like a used mem device
    except BaseException:
        m.close()
        raise
    return m


def _example_candidates(version: str) -> list[str]:
    return [os.environ.get("IOFS_BENCH_PYFUSE3_TMPFS", ""),
            os.path.join(CACHE, f"pyfuse3-{version}", "examples", "tmpfs.py"),
            "/usr/share/doc/python3-pyfuse3/examples/tmpfs.py",
            "/usr/share/doc/pyfuse3/examples/tmpfs.py"]


def find_example(fetch: bool, timeout: float) -> tuple[str | None, str]:
    """(path, "") of pyfuse3's examples/tmpfs.py: from the environment, the machine, or the
    cache; with ``fetch``, the sdist of the installed pyfuse3 is downloaded into the cache.
    (None, why) if there is none."""
    version = pyfuse3.__version__
    candidates = _example_candidates(version)
    for c in candidates:
        if c and os.path.isfile(c):
            return c, ""
    if not fetch:
        return None, ("pyfuse3's examples/tmpfs.py is not on this machine (the full run fetches "
                      "it into .cache/bench; --fetch-example does it with --quick)")
    os.makedirs(CACHE, exist_ok=True)
    sdist = os.path.join(CACHE, f"pyfuse3-{version}.tar.gz")
    if not os.path.exists(sdist):
        log(f"fetching the pyfuse3 {version} sdist for examples/tmpfs.py into {CACHE}")
        try:
            res = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                                  "--no-binary", "pyfuse3", f"pyfuse3=={version}", "-d", CACHE],
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"fetching the pyfuse3 {version} sdist timed out after {timeout:.0f} s"
        if res.returncode != 0 or not os.path.exists(sdist):
            last = (res.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"could not fetch the pyfuse3 {version} sdist: {last}"
    member = f"pyfuse3-{version}/examples/tmpfs.py"
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extract(member, CACHE, filter="data")
        else:
            tar.extract(member, CACHE)
    return candidates[1], ""
