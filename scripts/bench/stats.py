"""Medians and ratios. A failed sample is NaN, kept so that the rounds of all columns stay
aligned; every function here skips it."""

from __future__ import annotations

import statistics
from typing import Callable

from .common import based


def median(xs: list[float]) -> float | None:
    """The median of the samples that are there (None if none is)."""
    xs = [x for x in xs if x == x]  # drop NaN
    return statistics.median(xs) if xs else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def paired(a: list[float], b: list[float], fn: Callable[[float, float], float]) -> float | None:
    """Median over rounds of fn(a[i], b[i]) (rounds where both are there)."""
    vs = [fn(x, y) for x, y in zip(a, b) if x == x and y == y and x > 0 and y > 0]
    return statistics.median(vs) if vs else None


def paired_ratio(a: list[float], b: list[float]) -> float | None:
    """Median over rounds of a[i]/b[i]: each round measures both close together in time, so a
    load that drifts during the run cancels out better than in a ratio of medians."""
    rs = [x / y for x, y in zip(a, b) if x == x and y == y and y > 0]
    return statistics.median(rs) if rs else None


def base_ratios(samples: dict[str, list[float]], cols: list[str]) -> dict[str, float | None]:
    """``{"C/C@base": paired ratio}`` for each column C of ``cols`` that has a baseline twin
    in ``samples`` (nothing without --baseline)."""
    return {f"{c}/{based(c)}": paired_ratio(samples[c], samples[based(c)])
            for c in cols if c in samples and based(c) in samples}


def ratios_of(samples: dict[str, list[float]]) -> dict[str, float | None]:
    """The ratios of a dd or fio row: iofs (and iofs-wb) against the others, and against
    their baseline twins when there are."""
    out = {}
    for mine, other in (("iofs", "bare"), ("iofs", "tmpfs"), ("iofs", "example"),
                        ("iofs-wb", "tmpfs"), ("iofs-wb", "example")):
        if mine in samples and other in samples:
            out[f"{mine}/{other}"] = paired_ratio(samples[mine], samples[other])
        else:
            out[f"{mine}/{other}"] = None
    out.update(base_ratios(samples, ["iofs", "iofs-wb"]))
    return out
