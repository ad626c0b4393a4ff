"""A mount, assembled from its config: the namespace and its devices, the data path, the
fault and trace hook, the crash plane and the control directory. What the FUSE module serves;
nothing here knows FUSE (the one thing only FUSE can do, dropping the kernel's cache of an
inode, comes in as ``invalidate``)."""

from __future__ import annotations

import stat
from typing import Any, Awaitable, Callable

from ..core.uio import OFF_MAX
from ..dev.driver import Device
from ..dev.sleep import sleepers
from ..durability import control as crash_control
from ..durability.crash import Durability
from ..faults import control as fault_control
from ..faults.hook import Hook
from ..faults.ruleset import RuleSet
from ..faults.trace import Ring
from . import control_dir
from .config import Tree
from .io import DataPath
from .memory import MemoryNamespace
from .nodes import File, Node
from .pool import MemoryPool

Invalidate = Callable[[list[int]], Awaitable[None]]


class Filesystem:
    """One mount. ``quiet`` holds the inodes of the control directory and its files, which are
    never traced or faulted; ``control`` its name in the root (None: none)."""

    def __init__(self, tree: Tree, invalidate: Invalidate) -> None:
        self.tree = tree
        self.pool = MemoryPool(tree.max_memory)
        self.durability = Durability(self._locate, invalidate, self._changed) \
            if tree.durability else None
        self.ns = MemoryNamespace(self.pool, OFF_MAX if tree.max_file_size is None
                                  else tree.max_file_size,
                                  self.durability.journal if self.durability else None)
        self.data = DataPath(self.ns)
        self.devices: list[Device] = []
        sleepers.max_sleeping = tree.max_sleeping
        for spec in tree.dirs:
            d = self.ns.makedirs(spec.path, spec.mode, spec.uid, spec.gid)
            d.mode = stat.S_IFDIR | spec.mode
            d.uid, d.gid = spec.uid, spec.gid
        for spec in tree.devices:
            self._add_device(spec.path, spec.driver, mode=spec.mode, uid=spec.uid, gid=spec.gid,
                             limit=spec.limit)
        rules = RuleSet(tree.max_rules)
        for rule in tree.faults:
            rules.add(rule)
        self.hook = Hook(rules, Ring(tree.trace_events) if tree.trace else None, tree.trace_detail)
        self.quiet: set[int] = set()
        self.control = tree.control
        if tree.control:
            files = fault_control.control_files(self.hook)
            if self.durability is not None:
                files += crash_control.control_files(self.durability)
            self.quiet = control_dir.build(self.ns, tree.control, files)
        self.ns.max_inodes = tree.max_inodes  # bounds what programs make (the tree is made)

    def _add_device(self, path: str, driver: Any, **node: Any) -> File:
        head, _, name = path.rpartition("/")
        parent = self.ns.makedirs(head) if head else self.ns.root
        dev = Device(path, driver, **node)
        dev.devices = self.devices
        self.devices.append(dev)
        return self.ns.add_device(parent.ino, name.encode(), dev)

    def _locate(self, file: Any) -> tuple[int, str] | None:
        node = file.node
        return (node.ino, self.ns.path(node)) if node is not None else None

    @staticmethod
    def _changed(file: Any) -> None:
        if file.node is not None:
            file.node.touch()

    def is_quiet(self, node: Node, name: bytes | None = None) -> bool:
        """Whether a request on ``node`` (or its entry ``name``) concerns the control
        directory, which nothing traces or faults."""
        if node.ino in self.quiet:
            return True
        return name is not None and node is self.ns.root and self.control is not None \
            and name == self.control.encode()


__all__ = ["Filesystem"]
