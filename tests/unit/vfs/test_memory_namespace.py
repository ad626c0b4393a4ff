"""The in-memory namespace (iofs.vfs.memory.MemoryNamespace), called as the FUSE module calls
it but with no mount: lookup, mkdir, link, unlink, rename with its flags, rmdir; lifetimes (an
inode, and a file's memory, are freed only when no name, no open and no kernel lookup holds
it); max_inodes (extra hard links count, as on tmpfs); sealed directories; paths and listings.
Every failure is an OSError with the errno the program is to see."""

from __future__ import annotations

import errno
import stat

import pytest

from iofs.core.td import Td
from iofs.dev.driver import Device, Driver
from iofs.uio import UIO_USERSPACE, UIO_WRITE, IoVec, Uio
from iofs.vfs.memory import ROOT_INO, MemoryNamespace
from iofs.vfs.namespace import BLOCK, NAME_MAX
from iofs.vfs.nodes import Dir, File, Special, Symlink
from iofs.vfs.pool import MemoryPool

TD = Td(pid=100, uid=1000, gid=1000)
ROOT = ROOT_INO


@pytest.fixture
def ns() -> MemoryNamespace:
    return MemoryNamespace(MemoryPool(1 << 20))


def code(fn, *args, **kw) -> int:
    """The errno of the OSError ``fn`` raises."""
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    return ei.value.errno


def write(node: File, data: bytes, off: int = 0) -> None:
    """Write into a regular file through its driver, as a write(2) does."""
    uio = Uio([IoVec(data)], rw=UIO_WRITE, segflg=UIO_USERSPACE, offset=off)
    assert node.dev.driver.d_write(node.dev, uio, 0) == 0 and uio.uio_resid == 0


def names(ns: MemoryNamespace, d: Dir) -> list[bytes]:
    return [name for name, _, _ in ns.listing(d, 0)]


# ---- lookup -----------------------------------------------------------------------------------

def test_the_root_is_inode_1_and_its_own_parent(ns):
    root = ns.get(ROOT)
    assert root is ns.root and root.is_dir and root.ino == 1
    assert ns.lookup(ROOT, b".") is root and ns.lookup(ROOT, b"..") is root
    assert (root.nlink, ns.path(root), stat.S_IMODE(root.mode)) == (2, "", 0o755)


def test_lookup_finds_names_and_says_why_it_does_not(ns):
    d = ns.mkdir(ROOT, b"d", 0o755, TD)
    f = ns.create(d.ino, b"f", 0o644, TD)
    assert ns.lookup(d.ino, b"f") is f
    assert ns.lookup(d.ino, b"..") is ns.root and ns.lookup(d.ino, b".") is d
    assert code(ns.lookup, d.ino, b"missing") == errno.ENOENT
    assert code(ns.lookup, d.ino, b"n" * (NAME_MAX + 1)) == errno.ENAMETOOLONG
    assert code(ns.lookup, f.ino, b"x") == errno.ENOTDIR      # a file is no directory
    assert code(ns.lookup, 9999, b"x") == errno.ENOENT        # no such inode
    assert code(ns.get, 9999) == errno.ENOENT


# ---- making names ------------------------------------------------------------------------------

def test_mkdir_counts_links_as_posix_does(ns):
    a = ns.mkdir(ROOT, b"a", 0o750, TD)
    b = ns.mkdir(a.ino, b"b", 0o700, TD)
    assert (a.nlink, b.nlink, ns.root.nlink) == (3, 2, 3)   # ".", "..", and a's entry
    assert stat.S_ISDIR(a.mode) and stat.S_IMODE(a.mode) == 0o750
    assert (a.uid, a.gid) == (1000, 1000)
    assert b.parent is a and ns.path(b) == "a/b"


@pytest.mark.parametrize("make", ["mkdir", "create", "symlink", "mknod"])
def test_every_way_of_making_a_name_checks_it(ns, make):
    calls = {
        "mkdir": lambda parent, name: ns.mkdir(parent, name, 0o755, TD),
        "create": lambda parent, name: ns.create(parent, name, 0o644, TD),
        "symlink": lambda parent, name: ns.symlink(parent, name, b"target", TD),
        "mknod": lambda parent, name: ns.mknod(parent, name, stat.S_IFIFO | 0o600, 0, TD),
    }
    call = calls[make]
    node = call(ROOT, b"n" * NAME_MAX)                          # 255 bytes: fine
    assert ns.lookup(ROOT, b"n" * NAME_MAX) is node
    assert code(call, ROOT, b"n" * NAME_MAX) == errno.EEXIST
    assert code(call, ROOT, b"m" * (NAME_MAX + 1)) == errno.ENAMETOOLONG
    for bad in (b"", b"a/b", b".", b".."):
        assert code(call, ROOT, bad) == errno.EINVAL, bad
    f = ns.create(ROOT, b"plain", 0o644, TD)
    assert code(call, f.ino, b"x") == errno.ENOTDIR
    assert code(call, 4242, b"x") == errno.ENOENT


def test_create_makes_an_empty_regular_file_of_the_caller(ns):
    f = ns.create(ROOT, b"f", 0o640, TD)
    assert isinstance(f, File) and f.dev.regular and f.dev.driver.node is f
    attrs = ns.attributes(f)
    assert (stat.S_IFMT(attrs.mode), stat.S_IMODE(attrs.mode), attrs.size, attrs.nlink,
            attrs.uid, attrs.gid) == (stat.S_IFREG, 0o640, 0, 1, 1000, 1000)
    assert ns.device(f) is f.dev


def test_a_setgid_directory_hands_its_group_down(ns):
    sg = ns.mkdir_as(ROOT, b"sg", 0o2775, 0, 5678)
    f = ns.create(sg.ino, b"f", 0o644, TD)
    d = ns.mkdir(sg.ino, b"d", 0o755, TD)
    link = ns.symlink(sg.ino, b"l", b"f", TD)
    fifo = ns.mknod(sg.ino, b"p", stat.S_IFIFO | 0o600, 0, TD)
    assert [(n.uid, n.gid) for n in (f, d, link, fifo)] == [(1000, 5678)] * 4
    assert d.mode & stat.S_ISGID                                  # subdirectories stay setgid
    plain = ns.mkdir(ROOT, b"plain", 0o755, TD)
    assert (plain.gid, plain.mode & stat.S_ISGID) == (1000, 0)


def test_mknod_makes_inert_nodes_and_refuses_other_kinds(ns):
    chr_ = ns.mknod(ROOT, b"c", stat.S_IFCHR | 0o640, 0x103, TD)
    fifo = ns.mknod(ROOT, b"p", stat.S_IFIFO | 0o600, 0x103, TD)
    reg = ns.mknod(ROOT, b"r", stat.S_IFREG | 0o600, 0, TD)
    assert isinstance(chr_, Special) and (chr_.rdev, ns.attributes(chr_).rdev) == (0x103, 0x103)
    assert fifo.rdev == 0                                          # a FIFO has no device number
    assert isinstance(reg, File) and reg.dev.regular
    assert code(ns.mknod, ROOT, b"d", stat.S_IFDIR | 0o755, 0, TD) == errno.EINVAL
    assert code(ns.device, chr_) == errno.ENXIO and code(ns.device, fifo) == errno.ENXIO


def test_symlinks_and_readlink(ns):
    link = ns.symlink(ROOT, b"l", b"some/where", TD)
    assert isinstance(link, Symlink) and ns.readlink(link) == b"some/where"
    assert ns.attributes(link).size == len(b"some/where")
    assert code(ns.readlink, ns.root) == errno.EINVAL
    assert code(ns.device, link) == errno.ENXIO
    assert code(ns.device, ns.root) == errno.EISDIR


# ---- hard links ----------------------------------------------------------------------------------

def test_link_gives_a_file_another_name(ns):
    d = ns.mkdir(ROOT, b"d", 0o755, TD)
    f = ns.create(ROOT, b"f", 0o644, TD)
    assert ns.link(f.ino, d.ino, b"g") is f
    assert ns.lookup(d.ino, b"g") is f and f.nlink == 2
    assert ns.path(f) == "d/g"                                 # the most recent link names it
    assert code(ns.link, f.ino, d.ino, b"g") == errno.EEXIST
    assert code(ns.link, d.ino, ROOT, b"dirlink") == errno.EPERM    # no links to directories
    assert code(ns.link, 777, ROOT, b"x") == errno.ENOENT


def test_a_file_without_names_cannot_get_one_back(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    ns.opened(f)
    ns.unlink(ROOT, b"f")
    assert code(ns.link, f.ino, ROOT, b"again") == errno.ENOENT   # linkat of an unlinked open file


# ---- unlink and rmdir -----------------------------------------------------------------------------

def test_unlink_removes_a_name_and_refuses_what_is_no_file(ns):
    d = ns.mkdir(ROOT, b"d", 0o755, TD)
    f = ns.create(ROOT, b"f", 0o644, TD)
    ns.link(f.ino, ROOT, b"g")
    ns.unlink(ROOT, b"f")
    assert code(ns.lookup, ROOT, b"f") == errno.ENOENT
    assert ns.lookup(ROOT, b"g") is f and f.nlink == 1
    assert code(ns.unlink, ROOT, b"f") == errno.ENOENT
    assert code(ns.unlink, ROOT, b"d") == errno.EISDIR
    assert code(ns.unlink, f.ino, b"x") == errno.ENOTDIR
    assert ns.lookup(ROOT, b"d") is d


def test_rmdir_removes_an_empty_directory_only(ns):
    a = ns.mkdir(ROOT, b"a", 0o755, TD)
    ns.mkdir(a.ino, b"b", 0o755, TD)
    ns.create(ROOT, b"f", 0o644, TD)
    assert code(ns.rmdir, ROOT, b"a") == errno.ENOTEMPTY
    assert code(ns.rmdir, ROOT, b"f") == errno.ENOTDIR
    assert code(ns.rmdir, ROOT, b"none") == errno.ENOENT
    assert code(ns.rmdir, a.ino, b".") == errno.EINVAL
    ns.rmdir(a.ino, b"b")
    assert a.nlink == 2
    ns.rmdir(ROOT, b"a")
    assert ns.root.nlink == 2 and code(ns.get, a.ino) == errno.ENOENT


# ---- lifetimes --------------------------------------------------------------------------------

def test_an_unlinked_file_lives_while_opened_or_looked_up_and_then_gives_its_memory_back(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    write(f, b"x" * 5000)
    assert ns.pool.used == 5000
    ns.remember(f)                     # the kernel holds a lookup reference
    ns.opened(f)                       # and the program an open file
    ns.unlink(ROOT, b"f")
    assert ns.get(f.ino) is f and ns.pool.used == 5000       # no name, still held
    assert f.dev.driver.read_range(0, 4) == b"xxxx"
    ns.closed(f)
    assert ns.get(f.ino) is f and ns.pool.used == 5000       # the lookup still holds it
    ns.forget(f.ino, 1)
    assert code(ns.get, f.ino) == errno.ENOENT
    assert ns.pool.used == 0


def test_an_open_alone_keeps_an_unlinked_file(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    write(f, b"y" * 100)
    ns.opened(f)
    ns.opened(f)
    ns.unlink(ROOT, b"f")
    ns.closed(f)
    assert ns.get(f.ino) is f
    ns.closed(f)
    assert code(ns.get, f.ino) == errno.ENOENT and ns.pool.used == 0


def test_a_name_alone_keeps_a_file_and_a_second_name_keeps_it_after_the_first(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    write(f, b"z" * 10)
    ns.remember(f)
    ns.forget(f.ino, 1)                # the kernel forgets it: its name still holds it
    assert ns.get(f.ino) is f
    ns.link(f.ino, ROOT, b"g")
    ns.unlink(ROOT, b"f")
    assert ns.get(f.ino) is f and ns.pool.used == 10
    ns.unlink(ROOT, b"g")
    assert code(ns.get, f.ino) == errno.ENOENT and ns.pool.used == 0


def test_forget_counts_references_and_ignores_what_it_does_not_know(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    for _ in range(3):
        ns.remember(f)
    ns.unlink(ROOT, b"f")
    ns.forget(f.ino, 2)
    assert ns.get(f.ino) is f and f.lookups == 1
    ns.forget(f.ino, 5)                # more than it holds: none left, not fewer than none
    assert code(ns.get, f.ino) == errno.ENOENT
    ns.forget(f.ino, 1)                # already gone
    ns.forget(123456, 1)               # never was
    ns.forget(ROOT, 10)
    assert ns.get(ROOT) is ns.root     # the root is never freed


def test_an_unlinked_files_extended_attributes_go_back_to_the_pool_with_it(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    ns.setxattr(f, b"user.a", b"v" * 100)
    assert ns.pool.used > 100
    ns.unlink(ROOT, b"f")
    assert ns.pool.used == 0


def test_a_removed_directory_lives_while_looked_up(ns):
    d = ns.mkdir(ROOT, b"d", 0o755, TD)
    ns.remember(d)
    ns.rmdir(ROOT, b"d")
    assert ns.get(d.ino) is d and d.nlink == 0
    ns.forget(d.ino, 1)
    assert code(ns.get, d.ino) == errno.ENOENT


def test_a_file_replaced_by_rename_is_freed_unless_held(ns):
    old = ns.create(ROOT, b"old", 0o644, TD)
    write(old, b"o" * 300)
    held = ns.create(ROOT, b"held", 0o644, TD)
    write(held, b"h" * 200)
    ns.opened(held)
    new = ns.create(ROOT, b"new", 0o644, TD)
    ns.rename(ROOT, b"new", ROOT, b"old")
    assert ns.lookup(ROOT, b"old") is new and code(ns.get, old.ino) == errno.ENOENT
    assert ns.pool.used == 200
    ns.rename(ROOT, b"old", ROOT, b"held")
    assert ns.get(held.ino) is held and ns.pool.used == 200   # open: kept, nameless
    ns.closed(held)
    assert ns.pool.used == 0


# ---- rename ----------------------------------------------------------------------------------------

def test_rename_moves_a_name_within_and_across_directories(ns):
    a = ns.mkdir(ROOT, b"a", 0o755, TD)
    b = ns.mkdir(ROOT, b"b", 0o755, TD)
    f = ns.create(a.ino, b"f", 0o644, TD)
    ns.rename(a.ino, b"f", a.ino, b"g")
    assert ns.lookup(a.ino, b"g") is f and code(ns.lookup, a.ino, b"f") == errno.ENOENT
    ns.rename(a.ino, b"g", b.ino, b"h")
    assert ns.lookup(b.ino, b"h") is f and ns.path(f) == "b/h"
    assert names(ns, a) == [b".", b".."]


def test_renaming_a_directory_moves_its_link_count_to_the_new_parent(ns):
    a = ns.mkdir(ROOT, b"a", 0o755, TD)
    b = ns.mkdir(ROOT, b"b", 0o755, TD)
    sub = ns.mkdir(a.ino, b"sub", 0o755, TD)
    ns.mkdir(sub.ino, b"deeper", 0o755, TD)
    assert (a.nlink, b.nlink) == (3, 2)
    ns.rename(a.ino, b"sub", b.ino, b"sub")
    assert (a.nlink, b.nlink, sub.nlink) == (2, 3, 3)
    assert sub.parent is b and ns.lookup(sub.ino, b"..") is b
    assert ns.path(ns.lookup(sub.ino, b"deeper")) == "b/sub/deeper"


def test_rename_over_an_existing_name(ns):
    d = ns.mkdir(ROOT, b"d", 0o755, TD)
    full = ns.mkdir(ROOT, b"full", 0o755, TD)
    ns.create(full.ino, b"x", 0o644, TD)
    empty = ns.mkdir(ROOT, b"empty", 0o755, TD)
    f = ns.create(ROOT, b"f", 0o644, TD)
    g = ns.create(ROOT, b"g", 0o644, TD)
    assert code(ns.rename, ROOT, b"f", ROOT, b"d") == errno.EISDIR      # a file over a directory
    assert code(ns.rename, ROOT, b"d", ROOT, b"f") == errno.ENOTDIR     # a directory over a file
    assert code(ns.rename, ROOT, b"d", ROOT, b"full") == errno.ENOTEMPTY
    ns.rename(ROOT, b"d", ROOT, b"empty")                                # over an empty one: fine
    assert ns.lookup(ROOT, b"empty") is d and code(ns.get, empty.ino) == errno.ENOENT
    ns.rename(ROOT, b"f", ROOT, b"g")
    assert ns.lookup(ROOT, b"g") is f and code(ns.get, g.ino) == errno.ENOENT


def test_rename_noreplace_refuses_an_existing_target(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    g = ns.create(ROOT, b"g", 0o644, TD)
    assert code(ns.rename, ROOT, b"f", ROOT, b"g", noreplace=True) == errno.EEXIST
    assert (ns.lookup(ROOT, b"f"), ns.lookup(ROOT, b"g")) == (f, g)
    ns.rename(ROOT, b"f", ROOT, b"h", noreplace=True)
    assert ns.lookup(ROOT, b"h") is f


def test_rename_exchange_swaps_two_names_even_across_directories(ns):
    a = ns.mkdir(ROOT, b"a", 0o755, TD)
    b = ns.mkdir(ROOT, b"b", 0o755, TD)
    f = ns.create(a.ino, b"f", 0o644, TD)
    sub = ns.mkdir(b.ino, b"sub", 0o755, TD)
    ns.rename(a.ino, b"f", b.ino, b"sub", exchange=True)
    assert ns.lookup(a.ino, b"f") is sub and ns.lookup(b.ino, b"sub") is f
    assert sub.parent is a and (a.nlink, b.nlink) == (3, 2)
    assert (ns.path(f), ns.path(sub)) == ("b/sub", "a/f")
    assert code(ns.rename, a.ino, b"f", b.ino, b"none", exchange=True) == errno.ENOENT


def test_a_directory_cannot_move_into_itself(ns):
    a = ns.mkdir(ROOT, b"a", 0o755, TD)
    b = ns.mkdir(a.ino, b"b", 0o755, TD)
    assert code(ns.rename, ROOT, b"a", b.ino, b"a") == errno.EINVAL
    assert code(ns.rename, ROOT, b"a", a.ino, b"self") == errno.EINVAL
    ns.create(ROOT, b"f", 0o644, TD)
    ns.rename(ROOT, b"f", b.ino, b"x")
    # exchanging a/b/x with a would put a inside a/b, that is inside itself
    assert code(ns.rename, b.ino, b"x", ROOT, b"a", exchange=True) == errno.EINVAL
    assert ns.lookup(b.ino, b"x") and ns.lookup(ROOT, b"a") is a


def test_rename_onto_another_link_of_the_same_file_does_nothing(ns):
    f = ns.create(ROOT, b"f", 0o644, TD)
    ns.link(f.ino, ROOT, b"g")
    ns.rename(ROOT, b"f", ROOT, b"g")
    assert ns.lookup(ROOT, b"f") is f and ns.lookup(ROOT, b"g") is f and f.nlink == 2


def test_rename_checks_the_new_name_and_needs_the_old_one(ns):
    ns.create(ROOT, b"f", 0o644, TD)
    assert code(ns.rename, ROOT, b"f", ROOT, b"n" * (NAME_MAX + 1)) == errno.ENAMETOOLONG
    assert code(ns.rename, ROOT, b"f", ROOT, b"a/b") == errno.EINVAL
    assert code(ns.rename, ROOT, b"none", ROOT, b"x") == errno.ENOENT


# ---- max_inodes ---------------------------------------------------------------------------------

def test_max_inodes_bounds_every_kind_of_node_and_extra_link(ns):
    ns.max_inodes = 5                             # the root and four more
    f = ns.create(ROOT, b"f", 0o644, TD)
    ns.mkdir(ROOT, b"d", 0o755, TD)
    ns.symlink(ROOT, b"l", b"f", TD)
    ns.link(f.ino, ROOT, b"f2")                   # an extra hard link counts, as on tmpfs
    assert (ns.inodes_used, ns.statfs().files, ns.statfs().ffree) == (5, 5, 0)
    for make in (lambda: ns.create(ROOT, b"x", 0o644, TD), lambda: ns.mkdir(ROOT, b"x", 0o755, TD),
                 lambda: ns.symlink(ROOT, b"x", b"t", TD), lambda: ns.link(f.ino, ROOT, b"x"),
                 lambda: ns.mknod(ROOT, b"x", stat.S_IFIFO | 0o600, 0, TD)):
        assert code(make) == errno.ENOSPC
    ns.unlink(ROOT, b"f2")                        # the extra link's count comes back
    assert ns.statfs().ffree == 1
    ns.mknod(ROOT, b"p", stat.S_IFIFO | 0o600, 0, TD)
    assert ns.statfs().ffree == 0
    ns.rmdir(ROOT, b"d")
    assert ns.statfs().ffree == 1


def test_statfs_reports_the_pool_in_blocks(ns):
    s = ns.statfs()
    assert (s.blocks, s.bfree, s.bavail, s.bsize) == ((1 << 20) // BLOCK,) * 3 + (BLOCK,)
    f = ns.create(ROOT, b"f", 0o644, TD)
    write(f, b"q" * (3 * BLOCK))
    assert ns.statfs().bfree == s.bfree - 3
    assert ns.attributes(f).blocks == 3 * BLOCK // 512


# ---- sealed directories ---------------------------------------------------------------------------

@pytest.fixture
def sealed(ns):
    """A sealed directory holding one device node, as the control directory is made."""
    d = ns.mkdir_as(ROOT, b".ctl", 0o700, 0, 0)
    node = ns.add_device(d.ino, b"faults", Device(".ctl/faults", Driver()))
    d.sealed = True
    return d, node


def test_nothing_can_be_made_in_a_sealed_directory(ns, sealed):
    d, node = sealed
    for make in (lambda: ns.create(d.ino, b"x", 0o644, TD), lambda: ns.mkdir(d.ino, b"x", 0o755, TD),
                 lambda: ns.symlink(d.ino, b"x", b"t", TD), lambda: ns.link(node.ino, ROOT, b"x"),
                 lambda: ns.mknod(d.ino, b"x", stat.S_IFIFO | 0o600, 0, TD)):
        assert code(make) == errno.EPERM
    f = ns.create(ROOT, b"f", 0o644, TD)
    assert code(ns.link, f.ino, d.ino, b"x") == errno.EPERM


def test_nothing_can_be_removed_or_renamed_in_or_out_of_a_sealed_directory(ns, sealed):
    d, node = sealed
    other = ns.mkdir(ROOT, b"other", 0o755, TD)
    f = ns.create(ROOT, b"f", 0o644, TD)
    assert code(ns.unlink, d.ino, b"faults") == errno.EPERM
    assert code(ns.rename, d.ino, b"faults", d.ino, b"t2") == errno.EPERM
    assert code(ns.rename, d.ino, b"faults", ROOT, b"stolen") == errno.EPERM
    assert code(ns.rename, ROOT, b"f", d.ino, b"planted") == errno.EPERM
    assert code(ns.rename, ROOT, b"f", d.ino, b"faults") == errno.EPERM
    assert code(ns.rename, ROOT, b".ctl", other.ino, b"moved") == errno.EPERM   # nor itself
    assert code(ns.rename, ROOT, b"other", ROOT, b".ctl") == errno.EPERM
    assert code(ns.rmdir, ROOT, b".ctl") == errno.EPERM
    assert ns.lookup(d.ino, b"faults") is node and ns.lookup(ROOT, b"f") is f
    assert names(ns, d) == [b".", b"..", b"faults"]


# ---- paths and listings ----------------------------------------------------------------------------

def test_a_path_follows_renames_and_an_unlinked_node_keeps_its_last(ns):
    a = ns.mkdir(ROOT, b"a", 0o755, TD)
    f = ns.create(a.ino, b"f", 0o644, TD)
    assert ns.path(f) == "a/f" and ns.child_path(a, b"new") == "a/new"
    ns.rename(ROOT, b"a", ROOT, b"b")
    assert ns.path(f) == "b/f"                    # a parent's rename moves it too
    ns.opened(f)
    ns.unlink(a.ino, b"f")
    assert ns.path(f) == "b/f"


def test_a_listing_is_dot_dotdot_then_entries_in_order_resumable_by_cookie(ns):
    d = ns.mkdir(ROOT, b"d", 0o755, TD)
    for name in (b"c", b"a", b"b"):
        ns.create(d.ino, name, 0o644, TD)
    entries = list(ns.listing(d, 0))
    assert [n for n, _, _ in entries] == [b".", b"..", b"c", b"a", b"b"]
    assert entries[1][1] is ns.root
    cookies = [c for _, _, c in entries]
    assert cookies == sorted(cookies) and cookies[:2] == [1, 2]
    assert [n for n, _, _ in ns.listing(d, cookies[2])] == [b"a", b"b"]
    ns.unlink(d.ino, b"a")
    ns.create(d.ino, b"a", 0o644, TD)             # made again: a new cookie, at the end
    assert [n for n, _, _ in ns.listing(d, cookies[2])] == [b"b", b"a"]


def test_attributes_of_each_kind_of_node(ns):
    d = ns.mkdir(ROOT, b"d", 0o755, TD)
    f = ns.create(ROOT, b"f", 0o600, TD)
    write(f, b"12345", off=10000)                 # the chunk holds 10005 bytes: 3 pages
    assert (ns.attributes(d).size, ns.attributes(d).blocks) == (BLOCK, BLOCK // 512)
    attrs = ns.attributes(f)
    assert (attrs.size, attrs.blocks, attrs.cacheable) == (10005, 3 * BLOCK // 512, True)
