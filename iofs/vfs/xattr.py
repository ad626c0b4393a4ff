"""Extended attributes of a node, kept as tmpfs keeps them.

* Namespaces: ``user.``, ``trusted.`` and ``security.``; any other name (``system.``: POSIX
  ACLs) is EOPNOTSUPP, a prefix alone (``user.``) EINVAL. The kernel has already checked who
  may touch which namespace (user.* only on regular files and directories, trusted.* only
  with CAP_SYS_ADMIN).
* ``get``/``remove`` of a missing name: ENODATA. XATTR_CREATE (EEXIST) and XATTR_REPLACE
  (ENODATA) are applied by pyfuse3 through :func:`get`; ERANGE for a buffer too small is the
  kernel's and pyfuse3's.
* Limits: a value above :data:`XATTR_SIZE_MAX` is E2BIG (as the VFS says first); a node's
  names and values together above :data:`SPACE_PER_NODE` bytes, or more than the mount's
  memory has left, is ENOSPC. The bytes count against the mount's ``max_memory``.

Every failure is an ``OSError`` with the errno; nothing here knows FUSE.
"""

from __future__ import annotations

import errno

from .nodes import Node
from .pool import MemoryPool

XATTR_SIZE_MAX = 65536   # the VFS limit of one value
XATTR_LIST_MAX = 65536   # the VFS limit of listxattr's buffer: all names of a node
SPACE_PER_NODE = 256 * 1024
NAMESPACES = (b"user.", b"trusted.", b"security.")


def _fail(code: int) -> OSError:
    return OSError(code, errno.errorcode[code])


def _cost(name: bytes, value: bytes) -> int:
    return len(name) + 1 + len(value)


def _check_name(name: bytes) -> None:
    if name in NAMESPACES:
        raise _fail(errno.EINVAL)  # a prefix with nothing after it, as tmpfs says
    if not name.startswith(NAMESPACES):
        raise _fail(errno.EOPNOTSUPP)


def get(node: Node, name: bytes) -> bytes:
    """The value of ``name``, or ENODATA."""
    _check_name(name)
    value = node.xattrs.get(name) if node.xattrs else None
    if value is None:
        raise _fail(errno.ENODATA)
    return value


def names(node: Node) -> list[bytes]:
    """Every name set on the node, in the order they were first set."""
    return list(node.xattrs) if node.xattrs else []


def put(node: Node, name: bytes, value: bytes, pool: MemoryPool) -> None:
    """Set ``name`` to ``value``: E2BIG above XATTR_SIZE_MAX, ENOSPC beyond the space left."""
    _check_name(name)
    if len(value) > XATTR_SIZE_MAX:
        raise _fail(errno.E2BIG)
    attrs = node.xattrs if node.xattrs is not None else {}
    old = attrs.get(name)
    grow = _cost(name, value) - (_cost(name, old) if old is not None else 0)
    used = sum(_cost(k, v) for k, v in attrs.items())
    names_len = sum(len(k) + 1 for k in attrs) + (len(name) + 1 if old is None else 0)
    if used + grow > SPACE_PER_NODE or names_len > XATTR_LIST_MAX or grow > pool.available():
        raise _fail(errno.ENOSPC)
    attrs[name] = bytes(value)
    node.xattrs = attrs
    pool.used += grow


def remove(node: Node, name: bytes, pool: MemoryPool) -> None:
    """Remove ``name``, or ENODATA."""
    _check_name(name)
    old = node.xattrs.pop(name, None) if node.xattrs else None
    if old is None:
        raise _fail(errno.ENODATA)
    pool.used -= _cost(name, old)


def release(node: Node, pool: MemoryPool) -> None:
    """The node is gone: its attributes' memory goes back to the pool."""
    if node.xattrs:
        pool.used -= sum(_cost(k, v) for k, v in node.xattrs.items())
    node.xattrs = None
