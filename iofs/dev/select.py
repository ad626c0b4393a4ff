"""``struct selinfo``: how a driver's d_poll tells poll/select/epoll to look again later."""

from __future__ import annotations

from typing import Any

from ..core.td import Td


class SelInfo:
    """``struct selinfo``: the poll waiters of one condition (readable, writable, ...)."""

    __slots__ = ("_handles",)

    def __init__(self) -> None:
        self._handles: list[Any] = []


def selrecord(td: Td, sip: SelInfo) -> None:
    """Record that the poller behind ``td`` waits on ``sip`` (call from d_poll when not ready)."""
    if td.pollhandle is not None and td.pollhandle not in sip._handles:
        sip._handles.append(td.pollhandle)


def selwakeup(sip: SelInfo) -> None:
    """Wake every poller recorded on ``sip``: poll/select/epoll re-poll the device."""
    handles, sip._handles = sip._handles, []
    for ph in handles:
        ph.notify()


__all__ = ["SelInfo", "selrecord", "selwakeup"]
