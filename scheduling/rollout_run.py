"""Rollout experiments: a preset's iteration under each policy, tables and plots.

:data:`ROLLOUT_SETUPS` names the policies as the rollout benchmark stacks them: the
synchronous baseline (groups split statically, requests to completion), divided rollout,
context-aware scheduling on top, grouped speculative decoding on top of that (every
sibling a reference, :mod:`scheduling.rollout_spec`), oracle longest-first, and partial
rollout (divided, ending the iteration when 90% of the requests have finished and
carrying the rest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scheduling._plots import finish
from scheduling.engine import Instance
from scheduling.grpo import RolloutBatch
from scheduling.rollout_sim import RolloutResult, simulate_rollout
from scheduling.rollout_spec import RolloutSpeculator, TokenStreams, rollout_streams

__all__ = ["ROLLOUT_SETUPS", "plot_finished", "plot_timeline", "run_setup"]

#: name -> options of :func:`~scheduling.rollout_sim.simulate_rollout`
ROLLOUT_SETUPS: dict[str, dict[str, Any]] = {
    "baseline": {"policy": "fifo", "static": True},
    "divided": {"policy": "divided"},
    "context-aware": {"policy": "context-aware"},
    "grouped-spec": {"policy": "context-aware", "speculation": "grouped"},
    "oracle": {"policy": "oracle"},
    "partial": {"policy": "divided", "quota": 0.9},
}


def run_setup(
    name: str,
    batch: RolloutBatch,
    spec: Instance,
    *,
    audit: bool = False,
    streams: TokenStreams | None = None,
    references: int | None = None,
    max_draft: int = 16,
    paths: int = 1,
    **options: Any,
) -> RolloutResult:
    """Simulate ``batch`` under the setup ``name`` (:data:`ROLLOUT_SETUPS`).

    ``options`` override the setup's :func:`~scheduling.rollout_sim.simulate_rollout`
    options. A setup whose ``speculation`` is ``"grouped"`` or ``"self"`` drafts with a
    :class:`~scheduling.rollout_spec.RolloutSpeculator` over ``streams`` (default
    :func:`~scheduling.rollout_spec.rollout_streams` of the batch: the real samples when
    present, the generator otherwise) with ``references``, ``max_draft`` and ``paths``.
    """
    if name not in ROLLOUT_SETUPS:
        raise ValueError(f"unknown rollout setup {name!r}; known: {', '.join(ROLLOUT_SETUPS)}")
    kwargs = {**ROLLOUT_SETUPS[name], **options}
    mode = kwargs.get("speculation")
    if isinstance(mode, str):
        if streams is None:
            streams = rollout_streams(batch.prompt_id, batch.output_tokens)
        kwargs["speculation"] = RolloutSpeculator(
            streams, batch.prompt_id, spec, mode=mode, references=references,
            max_draft=max_draft, paths=paths,
        )  # fmt: skip
    return simulate_rollout(batch.prompt_id, batch.prompt_tokens, batch.output_tokens,
                            batch.max_tokens, spec, audit=audit, **kwargs)  # fmt: skip


def plot_finished(runs: dict[str, RolloutResult], path: str | Path, *, title: str = "") -> Path:
    """Plot the cumulative number of finished requests over time, one line per setup."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, run in runs.items():
        t = np.sort(run.finish)
        ax.step(t, np.arange(1, t.size + 1), where="post", label=name)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("finished requests")
    ax.grid(alpha=0.3)
    ax.legend()
    return finish(fig, ax, path, title)


def _busy_spans(steps: Sequence[tuple], gap: float) -> dict[int, list[tuple[float, float]]]:
    """Merge each instance's steps into busy spans (gaps shorter than ``gap`` joined)."""
    spans: dict[int, list[tuple[float, float]]] = {}
    for k, start, end, *_ in sorted(steps, key=lambda s: (s[0], s[1])):
        own = spans.setdefault(k, [])
        if own and start - own[-1][1] <= gap:
            own[-1] = (own[-1][0], max(own[-1][1], end))
        else:
            own.append((start, end))
    return spans


def plot_timeline(run: RolloutResult, path: str | Path, *, title: str = "") -> Path:
    """Gantt-like chart: when each instance was computing (needs ``audit=True``)."""
    if run.audit is None:
        raise ValueError("plot_timeline needs a run simulated with audit=True")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    makespan = run.summary["makespan_s"]
    spans = _busy_spans(run.audit, gap=makespan / 2000 if makespan > 0 else 0.0)
    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(spans), 4) + 1))
    for k, own in spans.items():
        ax.broken_barh([(s, e - s) for s, e in own], (k - 0.4, 0.8))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("instance")
    ax.set_xlim(0, makespan if math.isfinite(makespan) and makespan > 0 else 1)
    return finish(fig, ax, path, title)
