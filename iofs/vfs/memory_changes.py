"""How the in-memory tree records its namespace changes for the crash plane
(:mod:`iofs.durability.names`), with ``namespace_durability = "fsync"``: each change with the
directories whose fsync makes it durable, how to undo it, and what it must keep alive until
then (an unlinked file's inode and data, a replaced rename target)."""

from __future__ import annotations

from typing import Any

from .nodes import Dir, File, Node


def _release(ns: Any, node: Node | None) -> None:
    if node is not None:
        node.holds -= 1
        ns.maybe_free(node)


def _detach(ns: Any, d: Dir, name: bytes, node: Node) -> None:
    """Take the entry ``name`` -> ``node`` out of ``d`` (a directory goes with its subtree)."""
    if d.entries.get(name) is not node:
        return  # changed since by a change that was made durable: leave it
    if not isinstance(node, Dir) and node.nlink > 1:
        ns._extra_links -= 1
    d.remove(name)
    ns._gen += 1
    ns.maybe_free(node)


def _attach(ns: Any, d: Dir, name: bytes, node: Node) -> None:
    """Put the entry ``name`` -> ``node`` back into ``d`` (the inode registered again)."""
    if name in d.entries:
        return  # taken since by a change that was made durable
    ns.inodes[node.ino] = node
    if isinstance(node, Dir):
        node.nlink = 1  # Dir.add counts the entry in the parent; "." is the other link
    elif node.nlink > 0:
        ns._extra_links += 1
    d.add(name, node)
    ns._gen += 1


def added(ns: Any, d: Dir, name: bytes, node: Node) -> None:
    """``name`` -> ``node`` was made in ``d``: durable with ``d``'s fsync, or a regular
    file's own."""
    if ns.changes is None:
        return
    own = node.ino if isinstance(node, File) and node.dev.regular else None
    ns.changes.record({d.ino}, [(d.ino, name)], lambda: _detach(ns, d, name, node), file=own)


def removed(ns: Any, d: Dir, name: bytes, node: Node) -> None:
    """``name`` -> ``node`` was removed from ``d`` (unlink, rmdir): durable with ``d``'s
    fsync; until then the inode (and a file's data) stays."""
    if ns.changes is None:
        return
    node.holds += 1
    ns.changes.record({d.ino}, [(d.ino, name)], lambda: _attach(ns, d, name, node),
                      lambda: _release(ns, node))


def renamed(ns: Any, src: Dir, old: bytes, dst: Dir, new: bytes, node: Node,
            replaced: Node | None, exchange: bool) -> None:
    """``old`` in ``src`` became ``new`` in ``dst`` (replacing ``replaced``, or exchanged with
    it): durable once both directories are fsynced; undone whole."""
    if ns.changes is None:
        return

    def undo() -> None:
        if exchange:
            ns.rename(dst.ino, new, src.ino, old, exchange=True)
            return
        if dst.entries.get(new) is not node or old in src.entries:
            return  # changed since by a change that was made durable
        ns.rename(dst.ino, new, src.ino, old)
        if replaced is not None:
            _attach(ns, dst, new, replaced)

    # (a replaced target is held by the rename itself, before it could be freed)
    ns.changes.record({src.ino, dst.ino}, [(src.ino, old), (dst.ino, new)], undo,
                      lambda: _release(ns, None if exchange else replaced))


__all__ = ["added", "removed", "renamed"]
