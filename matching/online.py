"""Online policies: each a class with one decision method, run by :func:`simulate`.

A per-arrival policy (``window == 0``) implements ``choose(state, group, candidates)``
and returns one of the candidate edges or ``-1``. A batch policy (``window > 0``)
implements ``choose_batch(state, groups)`` and returns one edge (or ``-1``) per group.
Randomised policies draw everything they need in ``reset`` from the generator the
driver passes, so the same seed gives the same decisions.
"""

from __future__ import annotations

import numpy as np

from matching.arrivals import ArrivalSequence
from matching.driver import OnlineState
from matching.model import Instance

__all__ = [
    "BalancePolicy",
    "BatchedResolvePolicy",
    "GreedyPolicy",
    "OnlinePolicy",
    "RankingPolicy",
]


class OnlinePolicy:
    """Base class: a policy sees arrivals and proposes edges; the driver enforces."""

    name = "policy"
    #: Batch length; 0 means every arrival is decided alone when it arrives.
    window = 0.0
    #: The proven guarantee, in words (where it holds), for reports.
    guarantee = "none proven"

    def reset(self, sequence: ArrivalSequence, rng: np.random.Generator) -> None:
        """Prepare for a new sequence (draw random priorities here)."""
        self.instance = sequence.instance

    def choose(self, state: OnlineState, group: int, candidates: np.ndarray) -> int:
        """Return the edge to accept for the arriving ``group``, or -1 to reject."""
        raise NotImplementedError(f"{type(self).__name__} decides in batches")

    def choose_batch(self, state: OnlineState, groups: np.ndarray) -> np.ndarray:
        """Return one edge (or -1) per group of the batch."""
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
    guarantee = "1/(k+1) unweighted, groups of <= k (1/2 bipartite); none with edge weights"

    def choose(self, state: OnlineState, group: int, candidates: np.ndarray) -> int:
        """Pick the best acceptable edge by this policy's rule, or -1."""
        if candidates.size == 0:
            return -1
        weights = self.instance.edge_weight[candidates]
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
    guarantee = "1 - 1/e = 0.632 (unweighted bipartite, adversarial order)"

    def __init__(self, *, vertex_weighted: bool = False) -> None:
        self.vertex_weighted = bool(vertex_weighted)
        if self.vertex_weighted:
            self.name = "ranking-vw"
            self.guarantee = "1 - 1/e = 0.632 (vertex-weighted bipartite, adversarial order)"

    def reset(self, sequence: ArrivalSequence, rng: np.random.Generator) -> None:
        """Draw the resource order (or the perturbations) for this sequence."""
        super().reset(sequence, rng)
        n = sequence.instance.n_resources
        if self.vertex_weighted:
            self.discount = 1.0 - np.exp(rng.random(n) - 1.0)
        else:
            self.rank = rng.permutation(n)

    def choose(self, state: OnlineState, group: int, candidates: np.ndarray) -> int:
        """Pick the best acceptable edge by this policy's rule, or -1."""
        if candidates.size == 0:
            return -1
        inst = self.instance
        positive = candidates[inst.edge_weight[candidates] > 0]
        if positive.size == 0:
            return -1
        resources = inst.edge_resource[positive]
        if self.vertex_weighted:
            return int(
                positive[_argmax_first(inst.edge_weight[positive] * self.discount[resources])]
            )
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
    guarantee = "1 - 1/e as capacity b grows (unit loads)"

    def choose(self, state: OnlineState, group: int, candidates: np.ndarray) -> int:
        """Pick the best acceptable edge by this policy's rule, or -1."""
        if candidates.size == 0:
            return -1
        inst = self.instance
        r = inst.edge_resource[candidates]
        cap = inst.capacity[r]
        used = np.where(cap > 0, 1.0 - state.remaining[r] / np.where(cap > 0, cap, 1.0), 1.0)
        score = inst.edge_weight[candidates] * (1.0 - np.exp(used - 1.0))
        best = _argmax_first(score)
        return int(candidates[best]) if inst.edge_weight[candidates[best]] > 0 else -1


class BatchedResolvePolicy(OnlinePolicy):
    """Collect the arrivals of each window, then match the batch exactly.

    The batch instance holds the batch's acceptable edges and each resource's free
    capacity at the window's end; it is solved with :func:`matching.solve`.

    Parameters
    ----------
    window : float
        Batch length in the sequence's time unit (must be positive).
    method : str, default "auto"
        Method passed to :func:`matching.solve`.
    time_limit : float, optional
        Per-batch time limit.
    """

    name = "batched"
    guarantee = "optimal with one window holding every arrival; none in general"

    def __init__(
        self, window: float, *, method: str = "auto", time_limit: float | None = None
    ) -> None:
        if not (np.isfinite(window) and window > 0):
            raise ValueError(f"window must be a positive number, got {window!r}")
        self.window = float(window)
        self.method = method
        self.time_limit = time_limit

    def choose_batch(self, state: OnlineState, groups: np.ndarray) -> np.ndarray:
        """Solve the batch's acceptable edges exactly under the free capacities."""
        from matching.offline import solve

        inst = self.instance
        cand = [state.candidates(int(g)) for g in groups.tolist()]
        edges = np.concatenate(cand) if cand else np.zeros(0, np.int64)
        out = np.full(groups.size, -1, dtype=np.int64)
        if edges.size == 0:
            return out
        local_group = np.repeat(np.arange(groups.size), [c.size for c in cand])
        members = [state.group_requests(int(g)) for g in groups.tolist()]
        sizes = np.array([m.size for m in members], dtype=np.int64)
        flat = np.concatenate(members)
        requests, local_members = np.unique(flat, return_inverse=True)
        batch = Instance.from_arrays(
            group_ptr=np.concatenate([[0], np.cumsum(sizes)]),
            group_members=local_members,
            edge_resource=inst.edge_resource[edges],
            edge_group=local_group,
            edge_weight=inst.edge_weight[edges],
            edge_load=inst.edge_load[edges],
            capacity=np.maximum(state.remaining, 0.0),
            n_requests=requests.size,
            check_duplicates=False,
        )
        res = solve(batch, self.method, time_limit=self.time_limit)
        out[local_group[res.edges]] = edges[res.edges]
        return out

    def __repr__(self) -> str:
        return f"BatchedResolvePolicy(window={self.window}, method={self.method!r})"
