"""``--plot FILE.png``: the dd and fio medians as grouped bars, one colour per filesystem
(baseline columns included), on a log scale. Needs matplotlib (``pip install -e '.[plot]'``)."""

from __future__ import annotations

from typing import Any

from .common import FS_ORDER


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401, PLC0415 (optional: only --plot needs it)
    except ImportError:
        return False
    return True


def plot(result: dict[str, Any], path: str) -> None:
    """Write the chart of ``result`` to ``path``."""
    import matplotlib  # noqa: PLC0415 (optional: only --plot needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = result["dd"] + result["fio"]
    names = [n for n in FS_ORDER if any(r["median"].get(n) for r in rows)]
    fig, ax = plt.subplots(figsize=(max(10, 0.35 * len(rows)), 6))
    width = 0.8 / max(1, len(names))
    for i, n in enumerate(names):
        xs = [k + i * width for k in range(len(rows))]
        ax.bar(xs, [r["median"].get(n) or 0 for r in rows], width, label=n)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(rows))])
    ax.set_xticklabels([r["test"] for r in rows], rotation=90, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("MB/s (median)")
    ax.set_title("iofs vs bare pyfuse3 vs tmpfs" + (" (--quick)" if result["settings"]["quick"] else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
