"""The page model (iofs.core.pages): every buffer object is a page-aligned mapping of its
own, and the address of a view is its byte offset in that object; Page, vaddr, page_frames.
"""

from __future__ import annotations

import mmap
from array import array

import pytest

from iofs.core.pages import PAGE_SHIFT, PAGE_SIZE, Page, page_frames, vaddr

P = PAGE_SIZE


def frames(pages: list[memoryview]) -> list[tuple[int, int]]:
    """(address, length) of each page frame."""
    return [(vaddr(p), len(p)) for p in pages]


# ---- iofs.pages ----------------------------------------------------------------------------------

def test_page_size():
    assert (PAGE_SHIFT, PAGE_SIZE) == (12, 4096)


def test_page_is_a_zeroed_page_or_a_copy_of_exactly_one_page():
    p = Page()
    assert isinstance(p, bytearray) and len(p) == P and p == bytes(P)
    data = bytes(range(256)) * 16
    q = Page(data)
    assert q == data and len(q) == P
    q[0] = 0xFF
    assert data[0] == 0  # a copy
    with pytest.raises(ValueError) as exc:
        Page(b"abc")
    assert str(exc.value) == "a Page holds exactly 4096 bytes, not 3"
    with pytest.raises(ValueError):
        Page(bytes(P + 1))
    assert repr(p) == f"<Page at {id(p):#x}>"


def test_vaddr_is_the_offset_in_the_buffer_object():
    buf = bytearray(3 * P)
    mv = memoryview(buf)
    assert vaddr(mv) == 0
    assert vaddr(mv[100:]) == 100
    assert vaddr(mv[100:][50:60]) == 150  # a slice of a slice
    assert vaddr(mv[P + 7:].cast("B")) == P + 7
    assert vaddr(memoryview(b"abcdef")[5:]) == 5


def test_vaddr_counts_bytes_not_items():
    a = array("I", range(8))
    assert vaddr(memoryview(a)[3:]) == 3 * a.itemsize


def test_vaddr_of_an_mmap_view():
    m = mmap.mmap(-1, 2 * P)
    try:
        mv = memoryview(m)
        assert vaddr(mv[P + 1:]) == P + 1
        mv.release()
    finally:
        m.close()


def test_vaddr_of_a_released_view_raises():
    mv = memoryview(bytearray(8))
    piece = mv[2:]
    piece.release()
    with pytest.raises(ValueError):
        vaddr(piece)


def test_page_frames_of_the_mapping_last_one_short():
    buf = bytearray(2 * P + 100)
    view = memoryview(buf)[P + 5:P + 9]
    got = page_frames(view, 1, 2)
    assert frames(got) == [(P, P), (2 * P, 100)]
    assert all(f.obj is buf for f in got)
    got[1][99] = 0x5A  # a frame is the buffer's own memory, not a copy
    assert buf[-1] == 0x5A
    assert frames(page_frames(view, 0, 1)) == [(0, P)]
    assert page_frames(view, 0, 0) == []
