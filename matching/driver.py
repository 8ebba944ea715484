"""Feed a realised arrival sequence to the streaming matcher, and check what it did.

:func:`simulate` is a thin loop over :class:`~matching.stream.OnlineMatcher`: it hands
each arrival (or each window's batch) to the matcher exactly as a live scheduler would,
with only the declared prior up front, and records the decisions as an
:class:`OnlineRun`. :meth:`OnlineRun.replay_check` re-verifies a run independently of the
matcher's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matching._intervals import overloaded
from matching.arrivals import ArrivalSequence
from matching.stream import Decision, OnlineMatcher, PolicyError

if TYPE_CHECKING:
    from matching.online import OnlinePolicy

__all__ = ["OnlineRun", "PolicyError", "ReplayError", "simulate"]


class ReplayError(AssertionError):
    """An online run breaks a constraint of its input; the message names which."""


@dataclass(frozen=True)
class OnlineRun:
    """What an online policy did on one realised sequence.

    Attributes
    ----------
    sequence : ArrivalSequence
    policy : str
    decisions : ndarray of int
        Edge of the realised instance accepted for each arrival, ``-1`` when rejected.
    decision_times : ndarray of float
        When each arrival was decided (its arrival time, or its batch's end). With
        reusable resources an accepted edge holds its load from the arrival until the
        decision time plus the edge's duration.
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
        """Re-verify the run from the sequence alone; raise :class:`ReplayError` if broken.

        Checks: one decision per arrival, none before its arrival; each accepted edge
        belongs to its arrival's group; no request served twice; at every instant each
        resource holds at most its capacity (single-use: for ever; reusable: over
        ``[arrival, decision + duration)``); the value equals the accepted weights.
        """
        seq = self.sequence
        inst = seq.instance
        n = len(seq)
        decisions = np.asarray(self.decisions)
        times = np.asarray(self.decision_times, dtype=np.float64)
        if decisions.shape != (n,) or times.shape != (n,):
            raise ReplayError(f"the run has {decisions.size} decisions for {n} arrivals")
        if (times < seq.times).any():
            i = int(np.flatnonzero(times < seq.times)[0])
            raise ReplayError(f"arrival {i} was decided at {times[i]} before it arrived")
        accepted = np.flatnonzero(decisions >= 0)
        edges = decisions[accepted]
        if edges.size and edges.max() >= inst.n_edges:
            raise ReplayError(f"edge {int(edges.max())} does not exist")
        wrong = inst.edge_group[edges] != seq.order[accepted]
        if wrong.any():
            i = int(accepted[np.flatnonzero(wrong)[0]])
            raise ReplayError(f"arrival {i} took edge {decisions[i]} of another group")
        covered = np.bincount(
            np.concatenate([inst.group(int(g)) for g in inst.edge_group[edges]])
            if edges.size
            else np.zeros(0, np.int64),
            minlength=inst.n_requests,
        )
        if (covered > 1).any():
            raise ReplayError(f"request {int(np.flatnonzero(covered > 1)[0])} is served twice")
        if seq.reusable:
            end = times[accepted] + inst.edge_duration[edges]
        else:
            end = np.full(edges.size, np.inf)
        over, peak, when = overloaded(
            inst.edge_resource[edges],
            seq.times[accepted],
            end,
            inst.edge_load[edges],
            inst.capacity,
        )
        if over.size:
            r = int(over[0])
            raise ReplayError(
                f"resource {r} holds {peak[r]:.17g} at time {when[r]:.6g}, over its "
                f"capacity {inst.capacity[r]:.17g}"
            )
        value = math.fsum(inst.edge_weight[edges].tolist())
        if not math.isclose(value, self.value, rel_tol=1e-9, abs_tol=1e-12):
            raise ReplayError(f"value {self.value!r} differs from the accepted weights {value!r}")
        return True


def simulate(
    policy: OnlinePolicy,
    sequence: ArrivalSequence,
    *,
    seed: int | np.random.Generator | None = 0,
) -> OnlineRun:
    """Run ``policy`` on ``sequence`` through an :class:`~matching.stream.OnlineMatcher`.

    The matcher gets the resources' capacities, the sequence's declared prior (for
    known-distribution models) and nothing else of the future. Policies with
    ``window == 0`` decide each arrival at its arrival time; policies with
    ``window > 0`` get the arrivals of each window ``[k * window, (k + 1) * window)``
    together at the window's end.

    Raises
    ------
    PolicyError
        If the policy answers something the matcher cannot accept.

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
    if not isinstance(sequence, ArrivalSequence):
        raise TypeError(f"sequence must be an ArrivalSequence, got {type(sequence).__name__}")
    inst = sequence.instance
    matcher = OnlineMatcher(
        inst.capacity,
        policy,
        prior=sequence.model,
        reusable=sequence.reusable,
        seed=seed,
    )
    n = len(sequence)
    group_edges = inst.group_edges
    edge_ptr = group_edges.indptr
    edge_idx = group_edges.indices.astype(np.int64)
    durations = inst.edge_duration if sequence.reusable else None
    order = sequence.order.tolist()
    times = sequence.times.tolist()
    types = None if sequence.types is None else sequence.types.tolist()

    def arrival(i: int):
        g = order[i]
        edges = edge_idx[edge_ptr[g] : edge_ptr[g + 1]]
        return matcher._make_arrival(
            i,
            times[i],
            tuple(inst.group(g).tolist()),
            inst.edge_resource[edges],
            inst.edge_weight[edges],
            inst.edge_load[edges],
            None if durations is None else durations[edges],
            None if types is None else types[i],
        )

    log: list[Decision]
    if not matcher.batch:
        for i in range(n):
            matcher._check_time(times[i], "time")
            matcher._decide_one(arrival(i))
    else:
        window = float(policy.window)
        start = 0
        while start < n:
            k = math.floor(times[start] / window) + 1
            end_time = k * window
            while end_time <= times[start]:  # k * window rounded down onto the arrival
                k += 1
                end_time = k * window
            stop = start
            while stop < n and times[stop] < end_time:
                stop += 1
            matcher._check_time(end_time, "time")
            matcher._decide_batch([arrival(i) for i in range(start, stop)], end_time)
            start = stop
    log = matcher.decisions
    decisions = np.full(n, -1, dtype=np.int64)
    decided_at = np.asarray([d.time for d in log], dtype=np.float64).reshape(n)
    for d in log:
        if d.edge >= 0:
            g = order[d.arrival]
            decisions[d.arrival] = edge_idx[edge_ptr[g] + d.edge]
    return OnlineRun(sequence, policy.name, decisions, decided_at, matcher.value)
