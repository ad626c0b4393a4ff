"""Running containers of the iofs image through the engine (podman or docker, as
containerlib found it), and reading what they printed. Every container carries the label
``iofs-test`` and a unique name, and none outlives the test session."""

from __future__ import annotations

import os
import subprocess
import uuid

from tests.container import containerlib as cl


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
