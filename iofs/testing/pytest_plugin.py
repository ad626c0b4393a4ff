"""pytest fixtures that mount iofs for a test: faults aimed at your program's files, the trace
of every request it made, crash simulation. Installed with iofs (entry point ``pytest11``), so
a project needs nothing but ``pip install iofs``.

    def test_reader_survives_short_reads(iofs_mount):
        (iofs_mount.path / "tmp" / "in").write_bytes(b"x" * 10000)
        iofs_mount.fault("path=tmp/in op=read action=short:1")
        assert my_program(iofs_mount.path / "tmp" / "in") == 10000

``iofs_sweep(cmd, config=None, **options)`` sweeps a program (:func:`iofs.testing.sweep.sweep`)
and returns its findings as objects, so that a project can assert that none is silent:

    def test_no_silent_bug(iofs_sweep):
        result = iofs_sweep(["./reader", "{mnt}/input"], "tree.toml")
        assert not result.silent, "\n".join(map(str, result.silent))

Every mount is made in the test's own ``tmp_path`` and unmounted at teardown, whatever the
test did (failed, raised, timed out under pytest-timeout's signal method); a mount still there
when the session ends is unmounted then. Where this machine cannot mount at all (no
/dev/fuse, no permission, no fusermount3), a test that asks for a mount is skipped, with the
reason. Under pytest-xdist every worker has its own mounts.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ..faults.glob import Glob
from . import client
from .mount import Mount, MountError, config_text
from .sweep import Result, SweepError, sweep

_live: set[Mount] = set()  # every mount a test made and has not unmounted yet


class TraceLost(UserWarning):
    """The trace ring dropped events before the handle read them."""


class IofsMount:
    """A mounted tree. ``path`` is the mount point (a ``pathlib.Path``)."""

    def __init__(self, mount: Mount) -> None:
        self._mount = mount
        self.path: Path = mount.path
        self._reader: client.TraceReader | None = None
        self._events: list[dict[str, Any]] = []
        self.lost = 0  # trace events the ring dropped before this handle could read them

    def fault(self, rule: str) -> int:
        """Add a fault rule (``"path=tmp/in op=read action=short:1"``); its id."""
        return client.add_rule(self.path, rule)

    def clear(self, id: int | None = None) -> None:
        """Remove the rule ``id``, or every rule."""
        client.clear_rules(self.path, id)

    def rules(self) -> str:
        """The active rules, as ``iofs fault MNT list`` prints them."""
        return client.list_rules(self.path)

    def _read(self) -> list[dict[str, Any]]:
        if self._reader is None:
            self._reader = client.TraceReader(self.path)
        lost = self.lost
        for event in self._reader.events():
            if "lost" in event:
                self.lost += event["lost"]
            else:
                self._events.append(event)
        if self.lost > lost:
            warnings.warn(TraceLost(f"iofs: the trace ring of {self.path} dropped {self.lost} "
                                    "events before they were read (raise [options] "
                                    "trace_events)"), stacklevel=3)
        return self._events

    def trace(self, path: str | None = None, op: str | None = None) -> list[dict[str, Any]]:
        """Every request served since the mount (oldest first), as mappings with the trace's
        keys (``e["op"]``, ``e["path"]``, ``e["moved"]``, ...), only those on paths matching
        the glob ``path`` and of the ops in ``op`` (a comma list) if given. Events the ring
        dropped before they were read (more than ``trace_events`` requests) are not there:
        :attr:`lost` counts them, and a :class:`TraceLost` warning says so."""
        return [e for e in self._read() if _matches(e, path, op)]

    def wait_for(self, op: str | None = None, path: str | None = None, count: int = 1,
                 timeout: float = 5.0) -> list[dict[str, Any]]:
        """Return once ``count`` requests matching ``op`` and ``path`` have been served (since
        the mount): the first ``count`` of them. Fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TraceLost)
                found = self.trace(path, op)
            if len(found) >= count:
                return found[:count]
            if self.lost:
                pytest.fail(f"iofs: {len(found)} of {count} requests (op={op}, path={path}) in "
                            f"the trace, and the ring dropped {self.lost} events before they "
                            "were read: raise [options] trace_events", pytrace=False)
            if time.monotonic() >= deadline:
                pytest.fail(f"iofs: {len(found)} of {count} requests (op={op}, path={path}) "
                            f"served within {timeout} s", pytrace=False)
            time.sleep(0.02)

    def crash(self, seed: int | None = None) -> list[str]:
        """Lose what was never fsynced (needs ``durability=True``); the paths reverted."""
        return client.crash(self.path, seed)

    def restart(self) -> None:
        """After a crash point (a rule with ``action=crash``): serve again, from the durable
        state of the crash."""
        client.restart(self.path)

    def unsynced(self) -> list[tuple[int, str]]:
        """(unsynced bytes, path) of every file a crash would change."""
        return client.unsynced(self.path)

    def log(self) -> str:
        """The daemon's log so far."""
        return self._mount.log_text()

    def unmount(self) -> None:
        """Unmount now (teardown does it anyway); the daemon is gone when this returns."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._mount.stop()
        _live.discard(self._mount)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __repr__(self) -> str:
        return f"IofsMount({str(self.path)!r})"


def _matches(e: dict[str, Any], path: str | None, op: str | None) -> bool:
    if op is not None and e["op"] not in op.split(","):
        return False
    return path is None or Glob(path).match(e["path"])


@pytest.fixture
def iofs_mount_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., IofsMount]]:
    """``iofs_mount_factory(config=None, source=None, **options)`` mounts a tree and returns
    its handle (:class:`IofsMount`). ``config`` is a path to a TOML file, TOML text, or a dict
    of the TOML's tables; ``source`` a host directory the whole mount serves (``iofs mount
    --source``: its files through the uio path, with faults, trace and crash; ``config`` then
    gives options and faults only); ``options`` go into ``[options]`` (``durability=True``,
    ``writeback_cache=True``, ...), except ``allow_other=True``, which lets other users in.
    Call it as often as the test needs: every mount is unmounted at teardown."""
    handles: list[IofsMount] = []

    def factory(config: str | Path | dict | None = None, source: str | Path | None = None,
                **options: Any) -> IofsMount:
        allow_other = bool(options.pop("allow_other", False))
        text = config_text(config, options, empty=source is not None)
        args = ["--source", str(Path(source).resolve())] if source is not None else []
        mount = Mount(tmp_path_factory.mktemp("iofs"), text, allow_other=allow_other, args=args)
        try:
            mount.start()
        except MountError as exc:
            if exc.unavailable:
                pytest.skip(f"iofs cannot mount on this machine: {exc}")
            pytest.fail(f"iofs mount failed: {exc}\n{mount.log_text()[-2000:]}", pytrace=False)
        _live.add(mount)
        handle = IofsMount(mount)
        handles.append(handle)
        return handle

    try:
        yield factory
    finally:
        for handle in handles:
            handle.unmount()


@pytest.fixture
def iofs_mount(iofs_mount_factory: Callable[..., IofsMount]) -> IofsMount:
    """The default tree (null, zero, full, mem0, pipe0, random, status and tmp/ for regular
    files) mounted for this test (:class:`IofsMount`)."""
    return iofs_mount_factory()


@pytest.fixture
def iofs_sweep(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Result]:
    """``iofs_sweep(cmd, config=None, **options)``: :func:`iofs.testing.sweep.sweep` with its
    mounts in the test's own temporary directory; the :class:`~iofs.testing.sweep.Result`
    (``.findings``, ``.silent``, ``.loud``, ``.crash``, ``.hang``, ``.errors``). A machine
    that cannot mount skips the test; a sweep that cannot be made fails it with one line."""

    def run(cmd: Any, config: Any = None, **options: Any) -> Result:
        options.setdefault("workdir", tmp_path_factory.mktemp("sweep"))
        try:
            return sweep(cmd, config, **options)
        except SweepError as exc:
            if exc.unavailable:
                pytest.skip(f"iofs cannot mount on this machine: {exc}")
            pytest.fail(f"iofs sweep: {exc}", pytrace=False)

    return run


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A mount whose test never reached its teardown is unmounted here."""
    for mount in list(_live):
        mount.stop()
        _live.discard(mount)


__all__ = ["IofsMount", "TraceLost", "iofs_mount", "iofs_mount_factory", "iofs_sweep"]
