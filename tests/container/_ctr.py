"""Helpers of the container tests: running containers, host mounts, byte checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import containerlib as cl


class Containers:
    """Runs containers of the iofs image; none outlives the test session."""

    def __init__(self, setup: cl.Setup):
        self.engine = setup.engine
        self.image = setup.image
        self.names: list[str] = []

    def _name(self) -> str:
        name = f"iofs-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        return name

    def run(self, *args: str, opts: tuple[str, ...] = (), timeout: float = 60,
            entrypoint: str | None = None) -> subprocess.CompletedProcess:
        """`run --rm` to completion: stdout and stderr captured (bytes), never raises on status."""
        name = self._name()
        cmd = ["run", "--rm", "--name", name, "--label", cl.LABEL, *opts]
        if entrypoint:
            cmd += ["--entrypoint", entrypoint]
        try:
            return subprocess.run(self.engine.cmd(*cmd, self.image, *args), env=self.engine.env,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.remove(name)
            raise

    def sh(self, script: str, opts: tuple[str, ...] = (), timeout: float = 60):
        return self.run("-euc", script, opts=opts, timeout=timeout, entrypoint="/bin/sh")

    def start(self, *args: str, opts: tuple[str, ...] = ()) -> str:
        """A detached container (not --rm, so its exit status can be read); remove() it."""
        name = self._name()
        r = self.engine.run("run", "-d", "--name", name, "--label", cl.LABEL, *opts,
                            self.image, *args, check=False, timeout=60)
        if r.returncode != 0:
            self.remove(name)
            raise AssertionError(f"{self.engine.name} run failed:\n{r.stdout}")
        return name

    def exec(self, name: str, script: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.engine.cmd("exec", name, "/bin/sh", "-euc", script),
                              env=self.engine.env, capture_output=True, timeout=timeout)

    def logs(self, name: str) -> str:
        return self.engine.run("logs", name, check=False, timeout=30).stdout

    def remove(self, name: str) -> None:
        stop_now = ("-t", "0") if self.engine.name == "podman" else ()
        self.engine.run("rm", "-f", *stop_now, name, check=False, timeout=60)

    def cleanup(self) -> None:
        for name in self.names:
            self.remove(name)


def output(r: subprocess.CompletedProcess) -> str:
    return (r.stdout + r.stderr).decode(errors="replace")


def check(r: subprocess.CompletedProcess, what: str = "") -> str:
    out = output(r)
    assert r.returncode == 0, f"{what} exited {r.returncode}:\n{out}"
    return out


def iofs_command() -> list[str]:
    exe = Path(sys.executable).with_name("iofs")
    if exe.exists():
        return [str(exe)]
    if shutil.which("iofs"):
        return [shutil.which("iofs")]
    return [sys.executable, "-m", "iofs"]


def is_mounted(mp: Path) -> bool:
    target = os.path.realpath(mp)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)


def unmount(mp: Path) -> None:
    if not is_mounted(mp):
        return
    try:
        subprocess.run([*iofs_command(), "umount", str(mp)], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        pass
    if is_mounted(mp):
        subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True, timeout=30)
    if is_mounted(mp):
        subprocess.run(["umount", "-l", str(mp)], capture_output=True, timeout=30)


def host_dd(*args: str, data: bytes | None = None, timeout: float = 60) -> bytes:
    """dd on the host (a subprocess, so a stuck FUSE request cannot hang pytest)."""
    r = subprocess.run(["dd", "status=none", *args], input=data, capture_output=True,
                       timeout=timeout)
    assert r.returncode == 0, f"dd {' '.join(args)}: {r.stderr.decode(errors='replace')}"
    return r.stdout


def first_difference(a: bytes, b: bytes) -> str:
    if a == b:
        return "equal"
    n = min(len(a), len(b))
    i = next((i for i in range(n) if a[i] != b[i]), n)
    return f"lengths {len(a)} and {len(b)}, first difference at byte {i}"


def wait_until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
