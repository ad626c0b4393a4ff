"""The descriptor budget of a host directory's nodes (iofs.vfs.host_nodes.NodeFds): the least
recently used node nothing holds gives its descriptor back; nodes that are held (open, or with
unsynced changes) keep theirs, and a budget full of them costs each new node O(1), not a walk
of them all."""

from __future__ import annotations

import os

from iofs.vfs.host_nodes import KEEP_NEWEST, NodeFds


class Node:
    """What NodeFds looks at: its descriptor, whether it is open or pinned (counted)."""

    looks = 0

    def __init__(self, held: bool) -> None:
        self.fd = -1
        self.held = held
        self.pinned = False
        self.dev = None

    @property
    def opens(self) -> int:
        Node.looks += 1
        return 1 if self.held else 0


def test_free_nodes_give_their_descriptors_back_oldest_first():
    fds = NodeFds(2 * KEEP_NEWEST)
    nodes = [Node(held=False) for _ in range(10 * KEEP_NEWEST)]
    try:
        for n in nodes:
            fds.add(n, os.open("/dev/null", os.O_RDONLY))
            assert len(fds.hot) <= fds.budget
        assert nodes[-1].fd >= 0 and nodes[0].fd == -1
    finally:
        for n in nodes:
            fds.drop(n)


def test_held_nodes_keep_theirs_at_amortized_constant_cost():
    fds = NodeFds(2 * KEEP_NEWEST)
    Node.looks = 0
    n = 5000
    held = [Node(held=True) for _ in range(n)]
    for k, node in enumerate(held):
        fds.add(node, 1 << 20 | k)  # never closed: held nodes are never given back
    assert all(node.fd >= 0 for node in held) and len(fds.hot) == n
    assert Node.looks < 20 * n, Node.looks  # a walk of every held node per add: n * n / 2
    fds.hot.clear()
