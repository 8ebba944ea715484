"""Online multi-capacity ridesharing: the request-arrival model and its benchmark LP.

The model of Lowalekar, Varakantham and Jaillet (AAMAS 2020) as this package states it
(see ``docs/proofs/rideshare.md``):

* Steps ``t = 0 .. T-1``; request *types* ``v = 0 .. V-1`` (an origin-destination zone
  pair, say). At step ``t`` every type ``v`` arrives **independently** with known
  probability ``p[v, t]``: at most one request of a type a step, any number of types in
  the same step.
* A request is served in the step it arrives or never (the step is its waiting window).
* The feasible *groups* are sets of at most ``k`` distinct types that one vehicle can
  carry together (under the wait and detour limits). They are the groups of an
  :class:`~matching.model.Instance` whose requests are the types and whose resources are
  the depots: resource ``u`` holds ``capacity[u]`` identical vehicles (1 for a single
  vehicle). An edge ``(u, g, w, 1, d)`` says that a vehicle of depot ``u`` can serve
  ``g`` for value ``w`` and is then busy for ``d >= 1`` whole steps (the route including
  the return to the depot); a vehicle serves one group at a time.
* Group ``g`` is *available* at ``t`` when all its types arrived at ``t``, with
  probability ``q[g, t] = prod_{v in g} p[v, t]``. A vehicle serves one group at a time;
  a request rides in at most one group.

Benchmark LP (an upper bound on the expected hindsight optimum; ``x[e, t]`` is the
probability that edge ``e`` is used at step ``t``)::

    max  sum_{e,t} w_e x[e, t]
    s.t. sum_{e at g} x[e, t]                         <= q[g, t]    for all g, t
         sum_{e : v in g(e)} x[e, t]                  <= p[v, t]    for all v, t
         sum_{t' <= t} sum_{e at u, t - t' < d_e} x[e, t'] <= capacity[u]   for all u, t

It is solved through the primitive's LP path (:func:`matching._mathopt.solve_mathopt`):
one group per cell ``(g, t)`` whose LP variable is ``y = x / q`` -- exactly the
probability with which the online algorithm samples the edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from matching._cell_lp import cell_columns, cell_lp_solve, expand_rows, running_rows
from matching.model import Instance
from matching.stream import Prior, sealed

__all__ = [
    "RideshareLP",
    "RideshareModel",
    "attenuation_parties",
    "gamma_k",
    "rideshare_lp",
]


def attenuation_parties(k: int) -> int:
    """Return the number ``m`` of parties that may be taken when a group edge is sampled.

    For ``k = 1`` a group is one request that has just arrived and no other group
    contains it, so only the vehicle can be taken: ``m = 1``. For ``k >= 2`` the
    vehicle and each of the ``k`` requests (which other groups of the same step share)
    can be: ``m = k + 1``.

    Examples
    --------
    >>> [attenuation_parties(k) for k in (1, 2, 3)]
    [1, 3, 4]
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return 1 if k == 1 else int(k) + 1


def gamma_k(k: int) -> float:
    """Return the attenuation target for groups of at most ``k``.

    It is the root in (0, 1) of ``gamma = (1 - gamma) ** m`` with
    ``m = attenuation_parties(k)``; see ``docs/proofs/rideshare.md`` for what is and is
    not proven about it.

    Examples
    --------
    >>> round(gamma_k(1), 6), round(gamma_k(2), 7), round(gamma_k(3), 5)
    (0.5, 0.3176722, 0.27551)
    """
    m = attenuation_parties(k)
    return float(scipy.optimize.brentq(lambda g: g - (1.0 - g) ** m, 0.0, 1.0, xtol=1e-15))


def _check_groups(groups: Instance) -> None:
    if not isinstance(groups, Instance):
        raise TypeError(f"groups must be an Instance, got {type(groups).__name__}")
    if groups.n_edges == 0:
        raise ValueError("groups has no edges: no vehicle can serve any group")
    d = groups.edge_duration
    if d is None:
        raise ValueError(
            "groups needs edge durations: how many steps each route keeps its vehicle"
        )
    bad = np.flatnonzero((d < 1) | (d != np.round(d)))
    if bad.size:
        e = int(bad[0])
        raise ValueError(
            f"edge {e} has duration {float(d[e])!r}: durations must be whole steps >= 1"
        )
    cap = groups.capacity
    if ((cap < 1) | (cap != np.round(cap))).any():
        u = int(np.flatnonzero((cap < 1) | (cap != np.round(cap)))[0])
        raise ValueError(
            f"resource {u} has capacity {float(cap[u])!r}: a resource is a depot holding a "
            "whole number >= 1 of identical vehicles (1 for a single vehicle)"
        )
    if not (groups.edge_load == 1).all():
        e = int(np.flatnonzero(groups.edge_load != 1)[0])
        raise ValueError(f"edge {e} has load {groups.edge_load[e]!r}: loads must be 1")
    if (groups.edge_weight < 0).any():
        e = int(np.flatnonzero(groups.edge_weight < 0)[0])
        raise ValueError(f"edge {e} has weight {groups.edge_weight[e]!r}: weights must be >= 0")


@dataclass(frozen=True)
class RideshareModel(Prior):
    """The declared prior of online ridesharing (see the module docstring).

    Attributes
    ----------
    types : Instance
        Resources = depots (capacity = vehicles there), requests = request types, groups = the
        feasible groups of types, edges ``(vehicle, group, value, 1, duration)``.
    p : ndarray, shape (V, T)
        ``p[v, t]``: probability that a request of type ``v`` arrives at step ``t``
        (independently of every other type and step).

    Examples
    --------
    Two types that can share a ride, one vehicle busy for 2 steps per route:

    >>> import numpy as np
    >>> from matching import Instance
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 2), (0, 1, 1, 1, 2), (0, 2, 2, 1, 2)])
    >>> model = RideshareModel(groups, np.full((2, 3), 0.5))
    >>> model.k, model.horizon, model.group_probability()[2].tolist()
    (2, 3, [0.25, 0.25, 0.25])
    """

    types: Instance
    p: np.ndarray

    def __post_init__(self) -> None:
        _check_groups(self.types)
        p = np.array(self.p, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] != self.types.n_requests or p.shape[1] < 1:
            raise ValueError(
                f"p must have shape (n_types={self.types.n_requests}, T >= 1), got {p.shape}"
            )
        bad = ~(np.isfinite(p) & (p >= 0) & (p <= 1))
        if bad.any():
            v, t = (int(i[0]) for i in np.nonzero(bad))
            raise ValueError(f"p[{v}, {t}] = {float(p[v, t])!r} is not a probability in [0, 1]")
        seen: dict[tuple[int, ...], int] = {}
        for g in range(self.types.n_groups):
            key = tuple(sorted(self.types.group(g).tolist()))
            if key in seen:
                raise ValueError(
                    f"groups {seen[key]} and {g} hold the same request types {list(key)}: "
                    "give each set of types one group (all its vehicles' edges on it)"
                )
            seen[key] = g
        object.__setattr__(self, "p", sealed(p))

    @property
    def k(self) -> int:
        """Largest group size."""
        return int(self.types.group_sizes.max(initial=1))

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles (summed over the depots)."""
        return int(self.types.capacity.sum())

    def group_probability(self) -> np.ndarray:
        """``q[g, t]``: probability that every type of group ``g`` arrives at ``t``."""
        types = self.types
        q = np.ones((types.n_groups, self.horizon))
        for g in range(types.n_groups):
            q[g] = np.prod(self.p[types.group(g)], axis=0)
        return q

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One realisation: ``arrived[t, v]`` is True when type ``v`` arrives at ``t``."""
        return rng.random(self.p.T.shape) < self.p.T


@dataclass(frozen=True)
class RideshareLP:
    """Optimal solution of the benchmark LP.

    Attributes
    ----------
    x : ndarray, shape (n_edges, T)
        ``x[e, t]``: LP probability that edge ``e`` is used at step ``t``.
    value : float
        ``sum_{e,t} w_e x[e, t]``.
    q : ndarray, shape (n_groups, T)
        Group availability probabilities.
    """

    x: np.ndarray
    value: float
    q: np.ndarray


def rideshare_lp(model: RideshareModel, *, solver: str = "glop") -> RideshareLP:
    """Solve the benchmark LP of the module docstring with the primitive's LP path.

    Examples
    --------
    One vehicle, two types that share; with probability 1/4 both arrive (value 2):

    >>> import numpy as np
    >>> from matching import Instance
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 1), (0, 1, 1, 1, 1), (0, 2, 2, 1, 1)])
    >>> lp = rideshare_lp(RideshareModel(groups, np.full((2, 1), 0.5)))
    >>> round(lp.value, 6)  # x = 1/4 on the pair, 1/4 on each single: 2/4 + 1/4 + 1/4
    1.0
    """
    if not isinstance(model, RideshareModel):
        raise TypeError(f"model must be a RideshareModel, got {type(model).__name__}")
    types = model.types
    n_t = model.horizon
    q = model.group_probability()
    cols = cell_columns(types, q)
    if cols.expanded.n_edges == 0:
        return RideshareLP(np.zeros((types.n_edges, n_t)), 0.0, q)
    row, col, val = running_rows(types, cols, n_t)
    # request rows (v, t), after the vehicle rows: every column whose group contains v
    group_of_col = types.edge_group[cols.type_edge].astype(np.int64)
    col_rep, members = expand_rows(types.group_ptr, types.group_members, group_of_col)
    members = members.astype(np.int64)
    offset = types.n_resources * n_t
    triplets = (
        np.concatenate([row, offset + members * n_t + cols.step[col_rep]]),
        np.concatenate([col, col_rep]),
        np.concatenate([val, cols.prob[col_rep]]),
    )
    rhs = np.concatenate([np.repeat(types.capacity, n_t), model.p.ravel()])
    x, value = cell_lp_solve(types, cols, n_t, triplets, rhs, solver)
    return RideshareLP(x, value, q)
