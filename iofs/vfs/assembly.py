"""A mount, assembled from its config: the namespace and its devices, the data path, the
fault and trace hook, the crash plane and the control directory. What the FUSE module serves;
nothing here knows FUSE (what only FUSE can do, dropping the kernel's caches, comes in as a
:class:`Kernel`).

:meth:`Filesystem.reset` makes the mount as it was when it was mounted, without unmounting:
the tree built again from its config (drivers made anew, regular files gone), the rules those
of the config, the trace empty. Inode numbers are never reused, so nothing the kernel still
holds of the old tree can reach the new one; the kernel's entries of the old tree are dropped.
Files open across a reset keep their old node until closed, as an unlinked file does.
"""

from __future__ import annotations

import logging
import random
import stat
from typing import Any, Awaitable, Protocol

from ..core.uio import OFF_MAX
from ..dev.driver import Device
from ..dev.sleep import sleepers
from ..durability import control as crash_control
from ..durability.crash import Durability
from ..durability.names import NameChanges
from ..faults import control as fault_control
from ..faults.hook import Hook
from ..faults.ruleset import RuleSet
from ..faults.trace import Ring
from . import control_dir
from .config import Tree, parse
from .io import DataPath
from .memory import ROOT_INO, MemoryNamespace
from .nodes import Dir, File, Node
from .pool import MemoryPool
from .routed import MountNamespace

log = logging.getLogger("iofs")


class Kernel(Protocol):
    """What the kernel must be told: that it caches stale things."""

    def invalidate(self, inodes: list[int]) -> Awaitable[None]:
        """Drop the cached data and attributes of ``inodes``."""

    def forget_entries(self, entries: list[tuple[int, bytes]]) -> Awaitable[None]:
        """Drop the cached directory entries ``(parent inode, name)``."""


class Filesystem:
    """One mount. ``quiet`` holds the inodes of the control directory and its files, which are
    never traced or faulted; ``control`` its name in the root (None: none)."""

    def __init__(self, tree: Tree, kernel: Kernel) -> None:
        self.kernel = kernel
        self.data = DataPath(None)  # type: ignore[arg-type]  # its namespace comes in _build
        self._build(tree, ROOT_INO + 1)

    def _build(self, tree: Tree, next_ino: int) -> None:
        self.tree = tree
        self.pool = MemoryPool(tree.max_memory)
        self.durability = Durability(self._locate, self.kernel, self._changed, tree.fsync_error,
                                     tree.torn_unit) if tree.durability else None
        self.ns = self._namespace(tree, next_ino)
        self.data.ns = self.ns
        if self.durability is not None and tree.namespace_durability == "fsync":
            self.durability.names = self.ns.changes = NameChanges()
        self.devices: list[Device] = []
        sleepers.max_sleeping = tree.max_sleeping
        for spec in tree.dirs:
            if spec.source is not None:
                self.ns.graft(spec.path, spec.source)
                continue
            d = self.ns.makedirs(spec.path, spec.mode, spec.uid, spec.gid)
            d.mode = stat.S_IFDIR | spec.mode
            d.uid, d.gid = spec.uid, spec.gid
        for spec in tree.devices:
            self._add_device(spec.path, spec.driver, mode=spec.mode, uid=spec.uid, gid=spec.gid,
                             limit=spec.limit)
        for file in tree.files:
            self._add_file(file)
        rules = RuleSet(tree.max_rules)
        for rule in tree.faults:
            rules.add(rule)
        self.hook = Hook(rules, Ring(tree.trace_events) if tree.trace else None, tree.trace_detail,
                         self if self.durability is not None else None)
        self.quiet: set[int] = set()
        self.control = tree.control
        if tree.control:
            files = fault_control.control_files(self.hook)
            if self.durability is not None:
                files += crash_control.control_files(self.durability, self.restart)
            files.append(("reset", control_dir.ResetFile(self.reset), 0o200))
            self.quiet = control_dir.build(self.ns, tree.control, files)
        self.ns.max_inodes = tree.max_inodes  # bounds what programs make (the tree is made)

    def _namespace(self, tree: Tree, next_ino: int) -> MemoryNamespace:
        """The in-memory namespace, or, with host directories, the one that routes to them."""
        limit = OFF_MAX if tree.max_file_size is None else tree.max_file_size
        journals = self.durability.journal if self.durability else None
        if tree.root_source is None and not any(d.source for d in tree.dirs):
            return MemoryNamespace(self.pool, limit, journals, next_ino=next_ino)
        return MountNamespace(self.pool, limit, journals, next_ino=next_ino,
                              root_source=tree.root_source)

    async def reset(self) -> None:
        """The mount as it was mounted (see the module's text). Host directories are opened
        anew from their sources (whatever they hold now), their nodes dropped."""
        old = self.ns
        entries = [(d.ino, name) for d in old.inodes.values() if isinstance(d, Dir)
                   for name in d.entries]
        if isinstance(old, MountNamespace):
            entries += old.host.entries()
            old.host.release_all()
        tree = parse(self.tree.text, self.tree.source)
        tree.root_source = self.tree.root_source
        self._build(tree, old.next_ino)
        await self.kernel.forget_entries(entries)
        await self.kernel.invalidate([ROOT_INO])

    # ---- crash points (the fault plane's powers) ----

    async def crash(self, req: Any, moved: int, torn: bool) -> None:
        """A crash rule fired: the durable state at this instant is what the disk holds, and
        every later request (but the control directory's) fails with EIO until
        :meth:`restart`. ``torn``: the write that fired keeps a part of its ``moved`` bytes,
        in units of ``torn_unit``, drawn from the rule's seed."""
        assert self.durability is not None
        if self.hook.down:
            return
        keep = None
        target = req.target.dev.driver if torn and req.target is not None else None
        if target is not None and moved:
            unit = self.durability.torn_unit
            units = range(req.off // unit, (req.off + moved - 1) // unit + 1)
            rng = random.Random(f"{req.seed}:{req.hit}")
            kept = {u for u in units if rng.random() < 0.5}
            keep = lambda f: kept.__contains__ if f is target else None  # noqa: E731
        self.hook.down = True  # before the revert: nothing after this instant gets in
        changed = self.durability.crash_now(None, keep)
        log.warning("crash point (%s, rule seed %d): %d files back to their durable state; "
                    "every request fails with EIO until iofs restart", req.op, req.seed,
                    len(changed))

    def failed(self, req: Any, code: int) -> None:
        """A rule failed a request: an fsync that failed loses what it covered, as the mount's
        ``fsync_error`` model says."""
        if req.op == "fsync" and req.target is not None and self.durability is not None:
            self.durability.fsync_failed(req.target.dev.driver, req.target.cdevpriv)

    async def restart(self) -> None:
        """After a crash point: serve again, from the durable state of the crash (the kernel's
        caches of every regular file dropped first)."""
        if self.durability is not None:
            await self.durability.forget_stale()
            await self.kernel.invalidate([ino for ino, _, _ in self.durability.files()])
        self.hook.down = False

    def _add_device(self, path: str, driver: Any, **node: Any) -> File:
        head, _, name = path.rpartition("/")
        parent = self.ns.makedirs(head) if head else self.ns.root
        dev = Device(path, driver, **node)
        dev.devices = self.devices
        self.devices.append(dev)
        return self.ns.add_device(parent.ino, name.encode(), dev)

    def _add_file(self, spec: Any) -> None:
        """A ``[[file]]``: a regular in-memory file holding its data, durable from now on."""
        head, _, name = spec.path.rpartition("/")
        parent = self.ns.makedirs(head) if head else self.ns.root
        dev = self.ns.new_regular(spec.mode, spec.uid, spec.gid, spec.path)
        node = self.ns.add_device(parent.ino, name.encode(), dev)
        driver = dev.driver
        driver.node = node
        driver.write_range(0, spec.data)
        if driver.journal is not None:
            driver.journal.commit(driver)

    def _locate(self, file: Any) -> tuple[int, str] | None:
        node = file.node
        return (node.ino, self.ns.path(node)) if node is not None else None

    def _changed(self, file: Any) -> None:
        node = file.node
        if node is not None:
            node.touch()
            if node.host:  # a host file kept only for its unsynced changes may go now
                self.ns.host.maybe_release(node)

    def is_quiet(self, node: Node, name: bytes | None = None) -> bool:
        """Whether a request on ``node`` (or its entry ``name``) concerns the control
        directory, which nothing traces or faults."""
        if node.ino in self.quiet:
            return True
        return name is not None and node is self.ns.root and self.control is not None \
            and name == self.control.encode()


__all__ = ["Filesystem", "Kernel"]
