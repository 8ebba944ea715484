"""LP sample-and-attenuate for known adversarial arrivals with reusable resources.

Model (after Dickerson, Sankararaman, Srinivasan and Xu, AAAI 2018, extended to request
groups): at step ``t`` a group of type ``v`` arrives with known probability ``p[v, t]``
and brings its own requests, so "every request in at most one chosen group" is the
constraint that each arrival uses at most one of its edges. Resources have capacity 1;
an edge ``e`` accepted at ``t`` keeps its resource busy for ``d_e`` steps (deterministic
durations), after which the resource is back at its depot.

Benchmark LP, an upper bound on the expected offline optimum::

    max  sum_{e,t} w_e x_{e,t}
    s.t. sum_{e in E(v)} x_{e,t} <= p[v, t]                                 for all v, t
         sum_{t' <= t} sum_{e at u, t - t' < d_e} x_{e,t'} <= 1              for all u, t

It is written as a matching instance and solved with :func:`matching.solve`'s LP path:
group ``(v, t)`` holds one request, its edges have weight ``w_e p[v, t]`` and load
``p[v, t]`` in the time-expanded rows of resource ``u``, so the LP variable of an edge
is ``y_{e,t} = x_{e,t} / p[v, t]`` -- exactly the sampling probability.

Policy: when type ``v`` arrives at ``t``, pick edge ``e`` with probability
``y_{e,t}`` (none with the rest); if its resource ``u`` is free, accept with probability
``gamma / beta_{u,t}``, where ``beta_{u,t} = 1 - gamma * sum_{t' < t} sum_{e at u,
t - t' < d_e} x_{e,t'}`` is the exact probability that ``u`` is free at ``t`` under
the policy. Then every edge is accepted with probability exactly ``gamma x_{e,t}``, so
``E[ALG] = gamma * LP >= gamma * E[OPT]``. The attenuation is a valid probability for
every ``gamma <= 1/2`` (``beta >= 1 - gamma >= gamma``), giving ratio ``1/2`` for any
group size ``k`` in this model. (The ridesharing paper's 0.31767 for capacity 2 is
for a model in which requests, not whole groups, arrive online.)
"""

from __future__ import annotations

import numpy as np

from matching._cell_lp import cell_columns, cell_lp_solve, declared_edges_problem, running_rows
from matching.model import Instance
from matching.online import OnlinePolicy
from matching.stream import Arrival, KnownModel, MatcherSetup, MatcherState

__all__ = [
    "GUARANTEED_RATIO",
    "KADBenchmarkLP",
    "LPSampleAttenuatePolicy",
    "ModelMismatchError",
    "kad_benchmark_lp",
]

#: Ratio of LP sample-and-attenuate against the benchmark LP in this model, any k.
GUARANTEED_RATIO = 0.5


class KADBenchmarkLP:
    """Solution of the benchmark LP: ``x[e, t]`` per type edge and step, and its value."""

    def __init__(self, x: np.ndarray, value: float, types: Instance, p: np.ndarray) -> None:
        self.x = x
        self.value = value
        self.types = types
        self.p = p

    def busy_mass(self) -> np.ndarray:
        """``B[u, t] = sum_{t' < t} sum_{e at u, t - t' < d_e} x[e, t']`` (resources x steps)."""
        types = self.types
        n_t = self.p.shape[1]
        mass = np.zeros((types.n_resources, n_t))
        duration = types.edge_duration.astype(np.int64)
        for e in range(types.n_edges):
            u, d = int(types.edge_resource[e]), int(duration[e])
            for t_prime in np.flatnonzero(self.x[e] > 0).tolist():
                mass[u, t_prime + 1 : min(n_t, t_prime + d)] += self.x[e, t_prime]
        return mass


def _check_model(types: Instance, p: np.ndarray) -> None:
    if types.edge_duration is None:
        raise ValueError("the KAD benchmark LP needs edge durations (reusable resources)")
    d = types.edge_duration
    if (d < 1).any() or (d != np.round(d)).any():
        raise ValueError("edge durations must be whole numbers of steps >= 1")
    if not ((types.capacity == 1).all() and (types.edge_load == 1).all()):
        raise ValueError("LP sample-and-attenuate needs unit capacities and unit loads")
    if p.ndim != 2 or p.shape[0] != types.n_groups:
        raise ValueError(f"p must have shape (n_types={types.n_groups}, T)")


def kad_benchmark_lp(types: Instance, p: np.ndarray) -> KADBenchmarkLP:
    """Solve the benchmark LP of the module docstring with the primitive's LP path.

    Examples
    --------
    >>> import numpy as np, matching
    >>> types = matching.Instance([[0]], [(0, 0, 1.0, 1, 2.0)])
    >>> lp = kad_benchmark_lp(types, np.array([[0.5, 0.5, 0.5]]))
    >>> round(lp.value, 6)  # x = p = 0.5 at t = 0, 1, 2: x_0 + x_1 = 1 fits at t = 1
    1.5
    """
    p = np.asarray(p, dtype=np.float64)
    _check_model(types, p)
    n_t = p.shape[1]
    cols = cell_columns(types, p)
    if cols.expanded.n_edges == 0:
        return KADBenchmarkLP(np.zeros((types.n_edges, n_t)), 0.0, types, p)
    rhs = np.ones(types.n_resources * n_t)
    x, value = cell_lp_solve(types, cols, n_t, running_rows(types, cols, n_t), rhs)
    return KADBenchmarkLP(x, value, types, p)


class ModelMismatchError(ValueError):
    """An arrival or a setup lies outside the declared prior's model."""


class LPSampleAttenuatePolicy(OnlinePolicy):
    """LP sample-and-attenuate (see the module docstring); ratio ``gamma <= 1/2``.

    Works from the declared prior alone: the benchmark LP is solved once in
    :meth:`reset` from ``setup.prior``. Every arrival must carry its ``type`` and arrive
    at an integer step ``t < T`` with exactly the type's edges (resources, weights,
    loads, durations); anything else raises :class:`ModelMismatchError`, since the
    guarantee would not hold.

    Parameters
    ----------
    gamma : float, default 0.5
        Target acceptance ``gamma * x_{e,t}`` of every edge; at most 1/2.
    """

    name = "lp-attenuate"

    def __init__(self, gamma: float = GUARANTEED_RATIO) -> None:
        if isinstance(gamma, bool) or not isinstance(gamma, int | float | np.floating):
            raise TypeError(f"gamma must be a number, got {gamma!r}")
        if not 0 < gamma <= 0.5:
            raise ValueError(f"gamma must lie in (0, 1/2], got {gamma!r}")
        self.gamma = float(gamma)
        self._cache: tuple[KnownModel, KADBenchmarkLP] | None = None

    def reset(self, setup: MatcherSetup, rng: np.random.Generator) -> None:
        """Solve (or reuse) the benchmark LP of the declared prior."""
        super().reset(setup, rng)
        model = setup.prior
        if model is None:
            raise ModelMismatchError(
                "LP sample-and-attenuate needs the declared prior of a known model "
                "(known_adversarial or known_iid): pass prior= to the matcher"
            )
        if not setup.reusable:
            raise ModelMismatchError(
                "LP sample-and-attenuate is stated for reusable resources; the matcher's "
                "resources are single-use"
            )
        cached = self._cache
        if cached is None or not (
            cached[0].types is model.types and np.array_equal(cached[0].p, model.p)
        ):
            self._cache = (model, kad_benchmark_lp(model.types, model.p))
        self.lp = self._cache[1]
        self.beta = 1.0 - self.gamma * self.lp.busy_mass()
        if not np.array_equal(setup.capacity, model.types.capacity):
            raise ModelMismatchError(
                "the matcher's capacities differ from the prior's (unit capacities): the "
                "guarantee is stated for the declared resources"
            )
        self.rng = rng
        self.model = model
        self._last_step = -1
        ge = model.types.group_edges
        self._type_ptr = ge.indptr
        self._type_edges = ge.indices.astype(np.int64)

    def _type_edges_of(self, arrival: Arrival) -> tuple[int, np.ndarray]:
        """Step and type edges of ``arrival``; raise if it is outside the prior's model."""
        types = self.model.types
        v = arrival.type
        if v is None or not 0 <= v < types.n_groups:
            raise ModelMismatchError(
                f"arrival {arrival.index} has type {v!r}: LP sample-and-attenuate needs the "
                f"type (0..{types.n_groups - 1}) of every arrival"
            )
        t = arrival.time
        if t != int(t) or not 0 <= t < self.model.horizon:
            raise ModelMismatchError(
                f"arrival {arrival.index} at time {t!r} is not a step of the prior "
                f"(0..{self.model.horizon - 1})"
            )
        if t <= self._last_step:
            raise ModelMismatchError(
                f"arrival {arrival.index} at step {int(t)} follows another arrival at step "
                f"{self._last_step}: the model has at most one arrival a step"
            )
        if self.model.p[v, int(t)] <= 0:
            raise ModelMismatchError(
                f"arrival {arrival.index} of type {v} at step {int(t)}, which the prior gives "
                "probability 0"
            )
        self._last_step = int(t)
        edges = self._type_edges[self._type_ptr[v] : self._type_ptr[v + 1]]
        problem = declared_edges_problem(
            arrival, types, edges, ("resources", "weights", "loads", "durations")
        )
        if problem is not None:
            raise ModelMismatchError(problem)
        return int(t), edges

    def choose(self, state: MatcherState, arrival: Arrival, candidates: np.ndarray) -> int:
        """Sample an edge by ``x / p`` and accept it with the attenuation probability."""
        t, edges = self._type_edges_of(arrival)
        p = self.model.p[arrival.type, t]
        sample, coin = self.rng.random(), self.rng.random()
        if edges.size == 0 or p <= 0:
            return -1
        y = self.lp.x[edges, t] / p
        pick = int(np.searchsorted(np.cumsum(y), sample, side="right"))
        if pick >= edges.size:
            return -1
        beta = self.beta[int(arrival.resources[pick]), t]
        accept = coin < self.gamma / beta
        return pick if accept and bool(np.isin(pick, candidates)) else -1

    def __repr__(self) -> str:
        return f"LPSampleAttenuatePolicy(gamma={self.gamma})"
