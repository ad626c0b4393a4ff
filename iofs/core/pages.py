"""Pages and addresses: the memory model behind npages, alignment and get_pages.

Python has no user address space, so iofs models one: every buffer *object* (a bytes, bytearray,
mmap, :class:`Page`, ...) is a mapping of its own that starts on a page boundary, as an mmap'd
region does. The *address* of a memoryview is its byte offset inside that mapping; its pages
are the 4096-byte frames of the mapping it overlaps. For mmap buffers, the ones programs use for
O_DIRECT, this is the real alignment. The offset is read from the real addresses through the
buffer protocol (``PyObject_GetBuffer``), so slices of slices resolve correctly.
"""

from __future__ import annotations

import ctypes
from typing import Any

__all__ = ["PAGE_SIZE", "PAGE_SHIFT", "Page", "vaddr", "page_frames"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


class Page(bytearray):
    """A page: a 4096-byte zero-filled buffer (``struct page`` for bio_vecs and copy_page_*)."""

    def __init__(self, data: bytes | None = None) -> None:
        if data is None:
            super().__init__(PAGE_SIZE)
        elif len(data) != PAGE_SIZE:
            raise ValueError(f"a Page holds exactly {PAGE_SIZE} bytes, not {len(data)}")
        else:
            super().__init__(data)

    def __repr__(self) -> str:
        return f"<Page at {id(self):#x}>"


class _PyBuffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


def _real_address(obj: Any) -> int:
    view = _PyBuffer()
    _get_buffer(obj, ctypes.byref(view), 0)  # raises (via ctypes) for a released view
    try:
        return view.buf or 0
    finally:
        _release_buffer(ctypes.byref(view))


def vaddr(view: memoryview) -> int:
    """The address of ``view``'s first byte: its offset within its mapping."""
    return _real_address(view) - _real_address(view.obj)


def page_frames(view: memoryview, first: int, count: int) -> list[memoryview]:
    """``count`` page frames of ``view``'s mapping from frame number ``first``.

    The last frame of a mapping whose size is not a page multiple is short.
    """
    whole = memoryview(view.obj).cast("B")
    return [whole[k * PAGE_SIZE:(k + 1) * PAGE_SIZE] for k in range(first, first + count)]
