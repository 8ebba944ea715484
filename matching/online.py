"""Online policies: each a class with one decision method, run by the streaming matcher.

A per-arrival policy (``window == 0``) implements ``choose(state, arrival, candidates)``
and returns the index of one of the arrival's edges (one of ``candidates``, the edges
that fit now) or ``-1``. A batch policy (``window > 0``) implements
``choose_batch(state, arrivals, candidates)`` and returns one such index per arrival.
``reset(setup, rng)`` receives the resources and the declared prior
(:class:`~matching.stream.MatcherSetup`), never the realised input; randomised policies
draw from ``rng`` only, so the same seed gives the same decisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matching._validate import check_bool, check_real, check_time_limit
from matching.model import Instance
from matching.offline import METHODS
from matching.stream import Arrival, MatcherSetup, MatcherState

__all__ = [
    "BalancePolicy",
    "BatchedResolvePolicy",
    "GreedyPolicy",
    "OnlinePolicy",
    "RankingPolicy",
]


class OnlinePolicy:
    """Base class: a policy sees the present arrivals and proposes; the matcher enforces."""

    name = "policy"
    #: Batch length; 0 means every arrival is decided alone when it arrives.
    window = 0.0

    def reset(self, setup: MatcherSetup, rng: np.random.Generator) -> None:
        """Prepare for a new run (draw random priorities here)."""
        self.setup = setup

    def choose(self, state: MatcherState, arrival: Arrival, candidates: np.ndarray) -> int:
        """Return the index of the arrival's edge to accept, or -1 to reject."""
        raise NotImplementedError(f"{type(self).__name__} decides in batches")

    def choose_batch(
        self, state: MatcherState, arrivals: Sequence[Arrival], candidates: Sequence[np.ndarray]
    ) -> list[int]:
        """Return one edge index (or -1) per arrival of the batch."""
        raise NotImplementedError(f"{type(self).__name__} decides one arrival at a time")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _argmax_first(values: np.ndarray) -> int:
    return int(np.argmax(values))


class GreedyPolicy(OnlinePolicy):
    """Accept the heaviest candidate edge (ties: lowest edge id).

    With unit weights, unit loads and single-use resources the ratio is ``1/(k+1)`` for
    groups of at most ``k`` requests (1/2 for bipartite matching). With edge weights and
    adversarial order online greedy has no constant ratio (a light edge can take the
    resource a heavy one needs); offline, scanning edges by weight, it is ``1/(k+1)``.
    """

    name = "greedy"

    def choose(self, state: MatcherState, arrival: Arrival, candidates: np.ndarray) -> int:
        """Pick the best acceptable edge by this policy's rule, or -1."""
        if candidates.size == 0:
            return -1
        weights = arrival.weights[candidates]
        best = _argmax_first(weights)
        return int(candidates[best]) if weights[best] > 0 else -1


class RankingPolicy(OnlinePolicy):
    """RANKING (Karp, Vazirani, Vazirani): fix a random order of resources up front.

    Each arrival takes the candidate whose resource comes first in the order; ratio
    ``1 - 1/e`` for unweighted bipartite matching with adversarial arrivals. With
    ``vertex_weighted=True`` it is the perturbed greedy of Aggarwal et al. (2011):
    resource ``r`` draws ``y_r ~ U[0, 1]`` and the candidate maximising
    ``w_e * (1 - exp(y_r - 1))`` wins (ratio ``1 - 1/e`` for vertex weights).
    """

    name = "ranking"

    def __init__(self, *, vertex_weighted: bool = False) -> None:
        self.vertex_weighted = check_bool(vertex_weighted, "vertex_weighted")
        if self.vertex_weighted:
            self.name = "ranking-vw"

    def reset(self, setup: MatcherSetup, rng: np.random.Generator) -> None:
        """Draw the resource order (or the perturbations) for this run."""
        super().reset(setup, rng)
        n = setup.n_resources
        if self.vertex_weighted:
            self.discount = 1.0 - np.exp(rng.random(n) - 1.0)
        else:
            self.rank = rng.permutation(n)

    def choose(self, state: MatcherState, arrival: Arrival, candidates: np.ndarray) -> int:
        """Pick the best acceptable edge by this policy's rule, or -1."""
        if candidates.size == 0:
            return -1
        positive = candidates[arrival.weights[candidates] > 0]
        if positive.size == 0:
            return -1
        resources = arrival.resources[positive]
        if self.vertex_weighted:
            score = arrival.weights[positive] * self.discount[resources]
            return int(positive[_argmax_first(score)])
        return int(positive[int(np.argmin(self.rank[resources]))])

    def __repr__(self) -> str:
        return f"RankingPolicy(vertex_weighted={self.vertex_weighted})"


class BalancePolicy(OnlinePolicy):
    """BALANCE / water-filling for resources of capacity ``b > 1``.

    Accepts the candidate maximising ``w_e * (1 - exp(f_r - 1))``, with ``f_r`` the
    fraction of resource ``r``'s capacity in use (Kalyanasundaram and Pruhs; Mehta,
    Saberi, Vazirani, Vazirani): ratio ``1 - 1/e`` as ``b`` grows for unit loads.
    """

    name = "balance"

    def choose(self, state: MatcherState, arrival: Arrival, candidates: np.ndarray) -> int:
        """Pick the best acceptable edge by this policy's rule, or -1."""
        if candidates.size == 0:
            return -1
        r = arrival.resources[candidates]
        cap = state.capacity[r]
        used = np.where(cap > 0, 1.0 - state.remaining[r] / np.where(cap > 0, cap, 1.0), 1.0)
        weights = arrival.weights[candidates]
        best = _argmax_first(weights * (1.0 - np.exp(used - 1.0)))
        return int(candidates[best]) if weights[best] > 0 else -1


class BatchedResolvePolicy(OnlinePolicy):
    """Collect the arrivals of each window, then match the batch exactly.

    The batch instance holds the batch's acceptable edges and each resource's free
    capacity at the window's end; it is solved with :func:`matching.solve`.

    Parameters
    ----------
    window : float
        Batch length in the sequence's time unit (a positive number).
    method : str, default "auto"
        Method passed to :func:`matching.solve` (one of :data:`matching.METHODS`).
    time_limit : float, optional
        Per-batch time limit in seconds (at most :data:`matching.MAX_TIME_LIMIT`).
    """

    name = "batched"

    def __init__(
        self, window: float, *, method: str = "auto", time_limit: float | None = None
    ) -> None:
        self.window = check_real(window, "window", positive=True)
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
        self.method = method
        self.time_limit = check_time_limit(time_limit)

    def choose_batch(
        self, state: MatcherState, arrivals: Sequence[Arrival], candidates: Sequence[np.ndarray]
    ) -> list[int]:
        """Solve the batch's acceptable edges exactly under the free capacities."""
        from matching.offline import solve

        out = [-1] * len(arrivals)
        sizes = np.array([c.size for c in candidates], dtype=np.int64)
        if sizes.sum() == 0:
            return out
        local_group = np.repeat(np.arange(len(arrivals)), sizes)
        local_edge = np.concatenate(candidates).astype(np.int64)
        members = [np.asarray(a.request_index, dtype=np.int64) for a in arrivals]
        flat = np.concatenate(members)
        requests, local_members = np.unique(flat, return_inverse=True)
        pick = [(a, c) for a, c in zip(arrivals, candidates, strict=True)]
        batch = Instance.from_arrays(
            group_ptr=np.concatenate([[0], np.cumsum([m.size for m in members])]),
            group_members=local_members,
            edge_resource=np.concatenate([a.resources[c] for a, c in pick]),
            edge_group=local_group,
            edge_weight=np.concatenate([a.weights[c] for a, c in pick]),
            edge_load=np.concatenate([a.loads[c] for a, c in pick]),
            capacity=np.maximum(state.remaining, 0.0),
            n_requests=requests.size,
            check_duplicates=False,
        )
        res = solve(batch, self.method, time_limit=self.time_limit)
        for e in res.edges.tolist():
            out[int(local_group[e])] = int(local_edge[e])
        return out

    def __repr__(self) -> str:
        return f"BatchedResolvePolicy(window={self.window}, method={self.method!r})"
