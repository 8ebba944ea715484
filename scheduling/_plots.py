"""Plots shared by the simulators: a share (0..1) against a setting per policy; saving."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def share_by_policy(
    rows: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    x: str,
    y: str,
    xlabel: str,
    ylabel: str,
    title: str = "",
) -> Path:
    """Plot ``row[y]`` against ``row[x]`` for each ``row["policy"]``; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["policy"] for r in rows):
        pts = sorted((r[x], r[y]) for r in rows if r["policy"] == name)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    return finish(fig, ax, path, title)


def finish(fig: Any, ax: Any, path: str | Path, title: str = "") -> Path:
    """Title ``ax``, lay out, save to ``path`` (making its folder), close; return path."""
    import matplotlib.pyplot as plt

    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
