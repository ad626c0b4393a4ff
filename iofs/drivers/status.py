"""status: a text device showing, for every device of the mount, requests and bytes moved."""

from __future__ import annotations

from .text import Text


class Status(Text):
    description = "text table of requests and bytes moved per device"

    def __init__(self) -> None:
        super().__init__()

    def render(self, dev) -> str:
        rows = [("device", "driver", "reads", "bytes_read", "writes", "bytes_written", "errors")]
        for d in dev.devices:
            s = d.stats
            rows.append((d.name, type(d.driver).__name__.lower(), str(s.reads), str(s.bytes_read),
                         str(s.writes), str(s.bytes_written), str(s.errors)))
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        return "".join(
            "  ".join(c.ljust(w) if k < 2 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))).rstrip()
            + "\n"
            for r in rows
        )
