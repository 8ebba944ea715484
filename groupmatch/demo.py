"""The main job: build one instance per application, solve exactly and greedily."""

from __future__ import annotations

from dataclasses import dataclass

import matching
from scheduling.queue import demo_placement
from scheduling.rides import synthetic_ride_batch

__all__ = ["DemoRow", "demo_rows", "format_table"]


@dataclass(frozen=True)
class DemoRow:
    """One line of the demo table."""

    application: str
    instance: matching.Instance
    exact: matching.MatchingResult
    greedy: matching.MatchingResult

    @property
    def ratio(self) -> float:
        """Greedy value over the exact optimum (1 when the optimum is 0)."""
        return self.greedy.value / self.exact.value if self.exact.value else 1.0


def demo_rows(seed: int = 0, time_limit: float = 30.0) -> list[DemoRow]:
    """Solve the embedded demo instances exactly and greedily; every result is checked.

    Examples
    --------
    >>> rows = demo_rows(seed=0)
    >>> [row.application for row in rows]
    ['ride-sharing batch', 'LLM groups -> GPUs (QLM)']
    >>> all(row.exact.value >= row.greedy.value for row in rows)
    True
    """
    cases = [
        ("ride-sharing batch", synthetic_ride_batch(30, 120, seed=seed).instance),
        ("LLM groups -> GPUs (QLM)", demo_placement(seed=seed).instance),
    ]
    rows = []
    for name, inst in cases:
        exact = matching.solve(inst, "cpsat", time_limit=time_limit, seed=seed)
        greedy = matching.solve(inst, "greedy", key="density")
        exact.check(inst)
        greedy.check(inst)
        rows.append(DemoRow(name, inst, exact, greedy))
    return rows


def format_table(rows: list[DemoRow]) -> str:
    """Render demo rows as a fixed-width text table."""
    head = (
        f"{'application':<26}{'resources':>10}{'requests':>10}{'groups':>8}{'edges':>8}"
        f"{'exact':>12}{'status':>12}{'greedy':>12}{'greedy/exact':>14}{'exact s':>9}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        inst = row.instance
        lines.append(
            f"{row.application:<26}{inst.n_resources:>10}{inst.n_requests:>10}"
            f"{inst.n_groups:>8}{inst.n_edges:>8}{row.exact.value:>12.2f}"
            f"{row.exact.status.value:>12}{row.greedy.value:>12.2f}{row.ratio:>14.3f}"
            f"{row.exact.wall_time:>9.2f}"
        )
    return "\n".join(lines)
