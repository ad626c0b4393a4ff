"""The host backend (iofs.vfs.host, routed by iofs.vfs.routed.MountNamespace), called as the
FUSE module calls it but with no mount: a host directory as the root, or grafted into the
in-memory tree. Every operation passes through to the host directory; inode numbers are the
mount's, stable for its life, one per host inode; ownership and modes are the caller's as
asked; the two backends never mix (EXDEV, EBUSY); the control directory shown in a host root
is never written into it; descriptors stay within their budget."""

from __future__ import annotations

import errno
import os
import stat

import pytest
import trio

from iofs.core.td import Td
from iofs.core.uio import OFF_MAX
from iofs.vfs.memory import ROOT_INO
from iofs.vfs.namespace import AttrChanges
from iofs.vfs.pool import MemoryPool
from iofs.vfs.routed import MountNamespace

TD = Td(pid=100, uid=1234, gid=5678)
ROOT = ROOT_INO


@pytest.fixture
def host(tmp_path):
    d = tmp_path / "host"
    d.mkdir()
    (d / "a").write_bytes(b"alpha")
    (d / "sub").mkdir()
    return d


@pytest.fixture
def ns(host):
    """The host directory as the root (--source)."""
    return MountNamespace(MemoryPool(1 << 20), OFF_MAX, root_source=str(host))


def code(fn, *args, **kw) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    return ei.value.errno


def names(ns, d) -> list[bytes]:
    return [name for name, _, _ in ns.listing(d, 0)]


def test_the_root_is_the_host_directory_and_inode_1(ns, host):
    assert ns.root.ino == ROOT and ns.root.host and ns.root.is_dir
    a = ns.lookup(ROOT, b"a")
    assert ns.attributes(a).size == 5 and ns.path(a) == "a"
    assert ns.lookup(ROOT, b"..") is ns.root and ns.lookup(ROOT, b".") is ns.root
    assert code(ns.lookup, ROOT, b"missing") == errno.ENOENT
    assert code(ns.lookup, ROOT, b"x" * 256) == errno.ENAMETOOLONG


def test_inode_numbers_are_stable_and_hard_links_are_one_inode(ns, host):
    a = ns.lookup(ROOT, b"a")
    ino = a.ino
    os.link(host / "a", host / "sub" / "b")
    b = ns.lookup(ns.lookup(ROOT, b"sub").ino, b"b")
    assert b is a and ns.attributes(a).nlink == 2
    ns.remember(a)
    ns.forget(a.ino, 1)  # freed: its descriptor closed
    assert ns.inodes.get(ino) is None and a.fd == -1
    again = ns.lookup(ROOT, b"a")
    assert again is not a and again.ino == ino  # the same number for the life of the mount
    new = ns.create(ROOT, b"new", 0o644, TD)
    assert new.ino not in (ino, ROOT) and new.ino > ino


def test_what_a_program_makes_is_its_own_with_the_mode_asked(ns, host):
    old = os.umask(0o077)  # the daemon's umask must not change the mode asked
    try:
        f = ns.create(ROOT, b"f", 0o664, TD)
        d = ns.mkdir(ROOT, b"d", 0o775, TD)
        s = ns.symlink(ROOT, b"s", b"target", TD)
        p = ns.mknod(ROOT, b"p", stat.S_IFIFO | 0o640, 0, TD)
    finally:
        os.umask(old)
    for node, name, mode in ((f, "f", 0o664), (d, "d", 0o775), (p, "p", 0o640)):
        st = os.lstat(host / name)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, mode), name
        assert ns.attributes(node).mode == st.st_mode
    assert os.lstat(host / "s").st_uid == 1234 and os.readlink(host / "s") == "target"
    assert ns.readlink(s) == b"target" and code(ns.readlink, f) == errno.EINVAL


def test_a_setgid_parent_gives_its_group(ns, host):
    os.chown(host / "sub", 0, 4321)
    os.chmod(host / "sub", 0o2775)
    sub = ns.lookup(ROOT, b"sub").ino
    ns.create(sub, b"f", 0o644, TD)
    ns.mkdir(sub, b"d", 0o755, TD)
    assert os.stat(host / "sub" / "f").st_gid == 4321
    st = os.stat(host / "sub" / "d")
    assert st.st_gid == 4321 and st.st_mode & stat.S_ISGID


def test_namespace_operations_pass_through_with_their_errors(ns, host):
    sub = ns.lookup(ROOT, b"sub").ino
    assert code(ns.create, ROOT, b"a", 0o644, TD) == errno.EEXIST
    ns.link(ns.lookup(ROOT, b"a").ino, sub, b"a2")
    assert (host / "sub" / "a2").read_bytes() == b"alpha"
    assert code(ns.rmdir, ROOT, b"sub") == errno.ENOTEMPTY
    ns.rename(sub, b"a2", ROOT, b"a3")
    assert sorted(os.listdir(host)) == ["a", "a3", "sub"]
    assert code(ns.rename, ROOT, b"a3", ROOT, b"a", noreplace=True) == errno.EEXIST
    ns.create(sub, b"z", 0o644, TD)
    ns.rename(ROOT, b"a3", sub, b"z", exchange=True)
    assert ns.path(ns.lookup(sub, b"z")) == "sub/z"
    ns.unlink(sub, b"z")
    ns.unlink(ROOT, b"a3")
    assert code(ns.unlink, ROOT, b"a3") == errno.ENOENT
    assert code(ns.unlink, ROOT, b"sub") == errno.EISDIR
    ns.rmdir(ROOT, b"sub")
    assert sorted(os.listdir(host)) == ["a"]
    ns.synced(ns.root)  # fsyncdir: the host directory's own fsync


def test_paths_follow_renames(ns, host):
    sub = ns.lookup(ROOT, b"sub")
    f = ns.create(sub.ino, b"f", 0o644, TD)
    assert ns.path(f) == "sub/f"
    ns.rename(ROOT, b"sub", ROOT, b"moved")
    assert ns.path(f) == "moved/f"


def test_setattr_passes_through(ns, host):
    a = ns.lookup(ROOT, b"a")
    trio.run(ns.setattr, a, AttrChanges(size=2, mode=0o600, uid=42, gid=43,
                                        atime_ns=1_000_000_001, mtime_ns=2_000_000_002))
    st = os.stat(host / "a")
    assert (host / "a").read_bytes() == b"al"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 42, 43)
    assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_001, 2_000_000_002)
    sub = ns.lookup(ROOT, b"sub")
    with pytest.raises(OSError) as ei:
        trio.run(ns.setattr, sub, AttrChanges(size=0))
    assert ei.value.errno == errno.EISDIR


def test_extended_attributes_are_the_hosts(ns, host):
    a = ns.lookup(ROOT, b"a")
    ns.setxattr(a, b"user.colour", b"blue")
    assert os.getxattr(host / "a", "user.colour") == b"blue"
    assert ns.getxattr(a, b"user.colour") == b"blue" and b"user.colour" in ns.listxattr(a)
    ns.removexattr(a, b"user.colour")
    assert code(ns.getxattr, a, b"user.colour") == errno.ENODATA


def test_listing_keeps_its_names_between_calls_of_one_open(ns, host):
    class Cursor:
        names = None

    for k in range(10):
        (host / f"f{k}").write_bytes(b"")
    cur = Cursor()
    first = list(ns.listing(ns.root, 0, cur))
    assert [n for n, _, _ in first[:2]] == [b".", b".."]
    assert sorted(n for n, _, _ in first[2:]) == sorted([b"a", b"sub"] + [f"f{k}".encode() for k in range(10)])
    os.unlink(host / "f3")  # gone between two calls: left out, the cookies unchanged
    rest = list(ns.listing(ns.root, 5, cur))
    assert [c for _, _, c in rest] == [c for n, _, c in first[5:] if n != b"f3"]


def test_the_control_directory_in_a_host_root_is_never_written_into_it(ns, host):
    (host / ".iofs").mkdir()  # a host entry of the same name is hidden
    ctl = ns.mkdir_as(ROOT, b".iofs", 0o700, 0, 0)
    assert ns.lookup(ROOT, b".iofs") is ctl and not ctl.host
    assert ns.path(ctl) == ".iofs" and ns.lookup(ctl.ino, b"..") is ns.root
    assert names(ns, ns.root).count(b".iofs") == 1
    assert os.listdir(host / ".iofs") == []
    assert code(ns.rmdir, ROOT, b".iofs") == errno.EPERM
    assert code(ns.rename, ROOT, b"a", ROOT, b".iofs") == errno.EPERM


def test_a_graft_is_a_directory_of_the_memory_tree_that_never_moves(host):
    ns = MountNamespace(MemoryPool(1 << 20), OFF_MAX)
    g = ns.graft("srv/data", str(host))
    srv = ns.lookup(ROOT, b"srv")
    assert ns.lookup(srv.ino, b"data") is g and ns.lookup(g.ino, b"..") is srv
    a = ns.lookup(g.ino, b"a")
    assert ns.path(a) == "srv/data/a"
    mem = ns.create(srv.ino, b"m", 0o644, TD)
    assert not mem.host and not os.path.exists(host / "m")
    assert code(ns.rmdir, srv.ino, b"data") == errno.EBUSY
    assert code(ns.unlink, srv.ino, b"data") == errno.EISDIR
    assert code(ns.rename, srv.ino, b"data", ROOT, b"elsewhere") == errno.EBUSY
    assert code(ns.rename, g.ino, b"a", srv.ino, b"a") == errno.EXDEV
    assert code(ns.link, mem.ino, g.ino, b"m") == errno.EXDEV
    assert code(ns.link, a.ino, srv.ino, b"a") == errno.EXDEV
    ns.rename(ROOT, b"srv", ROOT, b"moved")
    assert ns.path(a) == "moved/data/a"


def test_descriptors_stay_within_their_budget(ns, host):
    fds = ns.host.fds
    fds.budget = 200
    nodes = [ns.create(ROOT, f"f{k:04d}".encode(), 0o644, TD) for k in range(600)]
    assert len(fds.hot) <= fds.budget
    cold = [n for n in nodes if n.fd < 0]
    assert len(cold) >= 400
    assert ns.attributes(cold[0]).size == 0  # taken again by its name
    assert cold[0].fd >= 0
    os.rename(host / cold[1].name.decode(), host / "renamed-behind-its-back")
    assert code(ns.attributes, cold[1]) == errno.ESTALE
    (host / "stranger").write_bytes(b"another inode")  # its name now names another inode
    os.replace(host / "stranger", host / cold[2].name.decode())
    assert code(ns.attributes, cold[2]) == errno.ESTALE
