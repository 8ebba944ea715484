"""The one online driver: feeds arrivals to a policy and enforces every constraint.

The driver owns the state. A policy only proposes edges; the driver accepts an edge
only when its group has just arrived (or is in the current batch), none of the group's
requests is served, and the edge's resource has room for its load *now*. Accepted
decisions are irrevocable. With reusable resources, the load of an accepted edge is
held from the decision time for the edge's duration and then returned.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from matching.arrivals import ArrivalSequence
from matching.families import as_generator

if TYPE_CHECKING:
    from matching.online import OnlinePolicy

__all__ = ["OnlineRun", "OnlineState", "PolicyError", "simulate"]

_FIT_TOL = 1e-12


class PolicyError(RuntimeError):
    """A policy proposed an edge that breaks a constraint; the message says which."""


@dataclass
class OnlineState:
    """What a policy may read while deciding (the driver alone writes it).

    Attributes
    ----------
    sequence : ArrivalSequence
    time : float
        Current decision time.
    remaining : ndarray of float
        Free capacity of every resource now.
    served : ndarray of bool
        Whether each request is already served.
    """

    sequence: ArrivalSequence
    time: float = 0.0
    remaining: np.ndarray = field(default_factory=lambda: np.zeros(0))
    served: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        inst = self.sequence.instance
        self.remaining = inst.capacity.astype(np.float64).copy()
        self.served = np.zeros(inst.n_requests, dtype=bool)
        edges = inst.group_edges
        self._edge_ptr = edges.indptr
        self._edge_idx = edges.indices.astype(np.int64)
        self._resource = inst.edge_resource
        self._load = inst.edge_load
        self._ptr = inst.group_ptr
        self._members = inst.group_members
        self._releases: list[tuple[float, int, float]] = []

    def group_requests(self, g: int) -> np.ndarray:
        """Request ids of group ``g``."""
        return self._members[self._ptr[g] : self._ptr[g + 1]]

    def group_edges(self, g: int) -> np.ndarray:
        """All edges of group ``g`` (ascending ids)."""
        return self._edge_idx[self._edge_ptr[g] : self._edge_ptr[g + 1]]

    def candidates(self, g: int) -> np.ndarray:
        """Edges of group ``g`` that can be accepted now (ascending ids)."""
        if self.served[self.group_requests(g)].any():
            return self._edge_idx[:0]
        edges = self.group_edges(g)
        fits = self.remaining[self._resource[edges]] + _FIT_TOL >= self._load[edges]
        return edges[fits]

    # ---------------------------------------------------------------- driver only
    def _advance(self, time: float) -> None:
        self.time = time
        releases = self._releases
        while releases and releases[0][0] <= time:
            _, r, load = heapq.heappop(releases)
            self.remaining[r] += load

    def _accept(self, e: int, g: int, duration: float | None) -> None:
        if self.sequence.instance.edge_group[e] != g:
            raise PolicyError(f"edge {e} does not belong to group {g}")
        requests = self.group_requests(g)
        if self.served[requests].any():
            q = int(requests[self.served[requests]][0])
            raise PolicyError(f"edge {e}: request {q} of group {g} is already served")
        r = int(self._resource[e])
        load = float(self._load[e])
        if self.remaining[r] + _FIT_TOL < load:
            raise PolicyError(
                f"edge {e}: resource {r} has {self.remaining[r]:.6g} free, needs {load:.6g}"
            )
        self.served[requests] = True
        self.remaining[r] -= load
        if duration is not None:
            heapq.heappush(self._releases, (self.time + duration, r, load))


@dataclass(frozen=True)
class OnlineRun:
    """What an online policy did on one realised sequence.

    Attributes
    ----------
    sequence : ArrivalSequence
    policy : str
    decisions : ndarray of int
        Edge accepted for each arrival, ``-1`` when rejected.
    decision_times : ndarray of float
        When each arrival was decided (its arrival time, or its batch's end). With
        reusable resources an accepted edge holds its load from this time on.
    value : float
        Total weight of the accepted edges.
    """

    sequence: ArrivalSequence
    policy: str
    decisions: np.ndarray
    decision_times: np.ndarray
    value: float

    @property
    def edges(self) -> np.ndarray:
        """Accepted edge ids, in arrival order."""
        return self.decisions[self.decisions >= 0]

    def replay_check(self) -> bool:
        """Re-run the accepted decisions through a fresh state; raise on any violation."""
        seq = self.sequence
        state = OnlineState(seq)
        durations = seq.instance.edge_duration if seq.reusable else None
        order = np.argsort(self.decision_times, kind="stable")
        for i in order.tolist():
            state._advance(float(self.decision_times[i]))
            e = int(self.decisions[i])
            if e >= 0:
                state._accept(
                    e, int(seq.order[i]), None if durations is None else float(durations[e])
                )
        if (self.decision_times < seq.times - 1e-12).any():
            raise PolicyError("an arrival was decided before it arrived")
        return True


def simulate(
    policy: OnlinePolicy,
    sequence: ArrivalSequence,
    *,
    seed: int | np.random.Generator | None = 0,
) -> OnlineRun:
    """Run ``policy`` on ``sequence`` and return its irrevocable decisions.

    Policies with ``window == 0`` decide each arrival alone, at its arrival time, through
    ``policy.choose``. Policies with ``window > 0`` see the arrivals of each window
    ``[k * window, (k + 1) * window)`` together at the window's end, through
    ``policy.choose_batch``.

    Raises
    ------
    PolicyError
        If the policy proposes an edge that is not acceptable at that moment.

    Examples
    --------
    >>> import matching
    >>> from matching.arrivals import adversarial_order
    >>> from matching.driver import simulate
    >>> from matching.online import GreedyPolicy
    >>> inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 2.0)])
    >>> run = simulate(GreedyPolicy(), adversarial_order(inst))
    >>> run.decisions.tolist(), run.value
    ([0, -1], 1.0)
    """
    rng = as_generator(seed)
    policy.reset(sequence, rng)
    state = OnlineState(sequence)
    inst = sequence.instance
    durations = inst.edge_duration if sequence.reusable else None
    n = len(sequence)
    decisions = np.full(n, -1, dtype=np.int64)
    decided_at = np.zeros(n)
    order = sequence.order.tolist()
    times = sequence.times.tolist()
    window = float(policy.window)
    if not (math.isfinite(window) and window >= 0):
        raise ValueError(f"policy window must be a non-negative number, got {window!r}")

    def accept(i: int, e: int) -> None:
        if e >= 0:
            state._accept(e, order[i], None if durations is None else float(durations[e]))
            decisions[i] = e
        decided_at[i] = state.time

    if window == 0:
        for i in range(n):
            state._advance(times[i])
            g = order[i]
            e = int(policy.choose(state, g, state.candidates(g)))
            accept(i, e)
    else:
        start = 0
        while start < n:
            end_time = (math.floor(times[start] / window) + 1) * window
            stop = start
            while stop < n and times[stop] < end_time:
                stop += 1
            state._advance(end_time)
            batch = np.arange(start, stop)
            chosen = np.asarray(policy.choose_batch(state, sequence.order[batch]), dtype=np.int64)
            if chosen.shape != batch.shape:
                raise PolicyError(
                    f"choose_batch returned {chosen.size} decisions for {batch.size} arrivals"
                )
            for i, e in zip(batch.tolist(), chosen.tolist(), strict=True):
                accept(i, e)
            start = stop
    value = float(inst.edge_weight[decisions[decisions >= 0]].sum())
    return OnlineRun(sequence, policy.name, decisions, decided_at, value)
