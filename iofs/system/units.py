"""Sizes as people write them: 4096, "64M", "1G", "512k" (binary units)."""

from __future__ import annotations

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(value: int | str) -> int:
    """A non-negative byte count from an int or a string with an optional K/M/G/T suffix."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        s = value.strip().upper().removesuffix("IB").removesuffix("B")
        unit = s[-1:] if s[-1:] in _UNITS and s[-1:] else ""
        digits = s[:-1] if unit else s
        try:
            n = int(digits) * _UNITS[unit]
        except ValueError:
            raise ValueError(f"not a size: {value!r} (use e.g. 4096, 64K, 64M, 1G)") from None
    else:
        raise ValueError(f"not a size: {value!r}")
    if n < 0:
        raise ValueError(f"a size cannot be negative: {value!r}")
    return n


def whole_number(text: str) -> int | None:
    """The whole number written in ASCII digits as ``text``, or None (also for one with more
    digits than Python converts)."""
    if not (text.isascii() and text.isdigit()):
        return None
    try:
        return int(text)
    except ValueError:
        return None


__all__ = ["parse_size", "whole_number"]
