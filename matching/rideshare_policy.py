"""LP sample-and-attenuate for online ridesharing, and the availabilities it needs.

At step ``t`` the groups whose types all arrived are processed in ascending group index.
For group ``g`` the policy samples edge ``e`` with probability ``x[e, t] / q[g, t]``
(none with the rest); if ``e``'s vehicle and every request of ``g`` are still free, it
accepts with probability ``min(1, gamma / beta[e, t])``, where

    ``beta[e, t] = Pr[vehicle of e and all requests of g free when g is processed
    | g available at t]``

under the policy itself. Whenever ``beta >= gamma`` at every used cell, every edge is
accepted with probability exactly ``gamma x[e, t]`` and ``E[ALG] = gamma LP``
(``docs/proofs/rideshare.md``).

``beta`` is computed from the declared prior alone, before any arrival, by one of:

* :func:`exact_availability` -- exhaustive enumeration of arrival outcomes and the
  policy's own choices, in floats or in exact :class:`fractions.Fraction` arithmetic
  (tiny models: the number of states grows as ``2^types`` per step);
* :func:`simulated_availability` -- Monte Carlo over ``n_sims`` runs of the policy
  (Dickerson et al.'s estimate), with a Hoeffding half-width per cell.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from matching._cell_lp import declared_edges_problem
from matching.online import OnlinePolicy
from matching.rideshare import RideshareLP, RideshareModel, gamma_k, rideshare_lp
from matching.stream import Arrival, MatcherSetup, MatcherState

__all__ = [
    "Availability",
    "RideshareAttenuatePolicy",
    "exact_availability",
    "safe_gamma",
    "simulated_availability",
]

#: Most enumeration states :func:`exact_availability` keeps before giving up.
MAX_EXACT_STATES = 200_000


class TooLargeToEnumerate(RuntimeError):
    """The exact enumeration would exceed :data:`MAX_EXACT_STATES` states."""


@dataclass(frozen=True)
class Availability:
    """Availabilities ``beta[e, t]`` of the policy and how they were obtained.

    Attributes
    ----------
    beta : ndarray, shape (n_edges, T)
        ``nan`` where the LP puts no mass (the policy never samples the cell).
    accept : ndarray, shape (n_edges, T)
        Probability that each cell is accepted under the policy (exact enumeration) or
        its estimate (simulation).
    expected_value : float
        ``E[ALG]`` (exact) or its estimate.
    method : str
        ``"exact"`` or ``"simulated"``.
    n_sims : int
        Monte Carlo runs (0 for exact).
    half_width : ndarray, shape (n_edges, T)
        Hoeffding 95% half-width of each simulated ``beta`` (0 for exact; ``inf``
        where the group was never available in the runs).
    """

    beta: np.ndarray
    accept: np.ndarray
    expected_value: float
    method: str
    n_sims: int
    half_width: np.ndarray

    def used(self) -> np.ndarray:
        """Mask of the cells the policy may sample."""
        return np.isfinite(self.beta)

    def min_beta(self) -> float:
        """Smallest availability over the used cells (1.0 when none is used)."""
        used = self.used()
        return float(self.beta[used].min()) if used.any() else 1.0


def _cells(model: RideshareModel, lp: RideshareLP) -> list[list[tuple[int, np.ndarray]]]:
    """Per step, the groups with LP mass in ascending order, with their edges."""
    types = model.types
    ge = types.group_edges
    mass = np.zeros((types.n_groups, model.horizon))
    np.add.at(mass, types.edge_group, lp.x)
    out = []
    for t in range(model.horizon):
        out.append(
            [
                (g, ge.indices[ge.indptr[g] : ge.indptr[g + 1]].astype(np.int64))
                for g in np.flatnonzero(mass[:, t] > 0).tolist()
            ]
        )
    return out


def exact_availability(
    model: RideshareModel,
    lp: RideshareLP | None,
    gamma: float | Fraction,
    *,
    exact: bool = False,
    x: Any = None,
) -> Availability:
    """Availabilities by exhaustive enumeration of every arrival outcome and choice.

    With ``exact=True`` all arithmetic is in :class:`~fractions.Fraction` (the model's
    floats taken as the rationals they store, ``x`` as given -- a mapping ``(e, t) ->
    Fraction`` -- or the LP's floats); the returned arrays are then object arrays of
    Fractions. Raises :class:`TooLargeToEnumerate` past :data:`MAX_EXACT_STATES`.

    Examples
    --------
    >>> import numpy as np
    >>> from matching import Instance
    >>> from matching.rideshare import RideshareModel, rideshare_lp
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 1), (0, 1, 1, 1, 1), (0, 2, 2, 1, 1)])
    >>> model = RideshareModel(groups, np.full((2, 1), 0.5))
    >>> av = exact_availability(model, rideshare_lp(model), 0.25)
    >>> bool(abs(av.expected_value - 0.25 * rideshare_lp(model).value) < 1e-12)
    True
    """
    types = model.types
    n_e, n_t = types.n_edges, model.horizon
    num = Fraction if exact else float
    one, zero = num(1), num(0)
    g_val = num(gamma)
    p = [[num(float(model.p[v, t])) for t in range(n_t)] for v in range(types.n_requests)]
    if x is None:
        if lp is None:
            raise ValueError("give the LP solution: lp or x")
        xv = {(e, t): num(float(lp.x[e, t])) for e, t in zip(*np.nonzero(lp.x > 0), strict=True)}
    else:
        xv = {key: num(val) for key, val in x.items() if val > 0}
    q = {}
    members = [tuple(types.group(g).tolist()) for g in range(types.n_groups)]
    for g in range(types.n_groups):
        for t in range(n_t):
            val = one
            for v in members[g]:
                val *= p[v][t]
            q[g, t] = val
    resource = types.edge_resource.tolist()
    duration = types.edge_duration.astype(np.int64).tolist()
    weight = [num(float(w)) for w in types.edge_weight]
    beta = np.full((n_e, n_t), np.nan, dtype=object if exact else float)
    accept = np.zeros((n_e, n_t), dtype=object if exact else float)
    if exact:
        accept[:] = zero
    value = zero
    by_step: list[dict[int, list[int]]] = [{} for _ in range(n_t)]
    for e, t in sorted(xv):
        by_step[t].setdefault(int(types.edge_group[e]), []).append(e)
    groups_by_step = [sorted(step.items()) for step in by_step]
    # state between steps: per resource (a depot of capacity c), the sorted remaining
    # busy steps of its c vehicles (0 = free)
    start = tuple(tuple([0] * int(c)) for c in types.capacity.tolist())
    states: dict[tuple[tuple[int, ...], ...], Any] = {start: one}
    for t in range(n_t):
        live = [v for v in range(types.n_requests) if 0 < p[v][t] < 1]
        always = sum(1 << v for v in range(types.n_requests) if p[v][t] == 1)
        if len(states) << len(live) > MAX_EXACT_STATES:
            raise TooLargeToEnumerate(
                f"{len(states)} states x 2^{len(live)} arrival outcomes at step {t} exceed "
                f"{MAX_EXACT_STATES}"
            )
        # configuration: (busy, arrived mask, taken-requests mask)
        configs: dict[tuple[Any, int, int], Any] = defaultdict(lambda: zero)
        for busy, pr in states.items():
            for subset in range(1 << len(live)):
                w = pr
                mask = always
                for i, v in enumerate(live):
                    if subset >> i & 1:
                        w *= p[v][t]
                        mask |= 1 << v
                    else:
                        w *= one - p[v][t]
                if w:
                    configs[busy, mask, 0] += w
            if len(configs) > MAX_EXACT_STATES:
                raise TooLargeToEnumerate(f"more than {MAX_EXACT_STATES} states at step {t}")
        for g, edges in groups_by_step[t]:
            gmask = sum(1 << v for v in members[g])
            qg = q[g, t]
            for e in edges:
                u = resource[e]
                free = sum(
                    (
                        pr
                        for (busy, arr, taken), pr in configs.items()
                        if arr & gmask == gmask and not taken & gmask and busy[u][0] == 0
                    ),
                    zero,
                )
                beta[e, t] = free / qg
            new: dict[tuple[Any, int, int], Any] = defaultdict(lambda: zero)
            for (busy, arr, taken), pr in configs.items():
                if arr & gmask != gmask:
                    new[busy, arr, taken] += pr
                    continue
                rest = pr
                for e in edges:
                    pick = pr * xv[e, t] / qg
                    rest -= pick
                    u = resource[e]
                    if taken & gmask or busy[u][0] != 0:
                        new[busy, arr, taken] += pick
                        continue
                    b = beta[e, t]
                    a = one if b == 0 else min(one, g_val / b)
                    hit = pick * a
                    accept[e, t] += hit
                    value += hit * weight[e]
                    slots = tuple(sorted((*busy[u][1:], duration[e])))
                    moved = (*busy[:u], slots, *busy[u + 1 :])
                    new[moved, arr, taken | gmask] += hit
                    new[busy, arr, taken] += pick - hit
                new[busy, arr, taken] += rest
            configs = new
            if len(configs) > MAX_EXACT_STATES:
                raise TooLargeToEnumerate(f"more than {MAX_EXACT_STATES} states at step {t}")
        states = defaultdict(lambda: zero)
        for (busy, _, _), pr in configs.items():
            states[tuple(tuple(max(0, b - 1) for b in slots) for slots in busy)] += pr
    half = np.zeros((n_e, n_t))
    return Availability(beta, accept, value, "exact", 0, half)


def simulated_availability(
    model: RideshareModel,
    lp: RideshareLP,
    gamma: float,
    *,
    n_sims: int = 2000,
    seed: int = 0,
    delta: float = 0.05,
) -> Availability:
    """Availabilities estimated from ``n_sims`` simulated runs of the policy.

    Each cell's ``beta`` is the fraction of the runs in which the group was available
    and its parties free, among the runs in which it was available; the policy in the
    runs attenuates with the estimates themselves. ``half_width`` is the Hoeffding
    bound ``sqrt(log(2 / delta) / (2 n))`` with ``n`` the runs in which the group was
    available (``inf`` when none: the cell's ``beta`` is then 1, and the policy
    attenuates there to ``gamma``, below ``gamma x``).

    Examples
    --------
    >>> import numpy as np
    >>> from matching import Instance
    >>> from matching.rideshare import RideshareModel, rideshare_lp
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 1), (0, 1, 1, 1, 1), (0, 2, 2, 1, 1)])
    >>> model = RideshareModel(groups, np.full((2, 1), 0.5))
    >>> lp = rideshare_lp(model)
    >>> sim = simulated_availability(model, lp, 0.25, n_sims=20000, seed=1)
    >>> ex = exact_availability(model, lp, 0.25)
    >>> bool(np.nanmax(np.abs(sim.beta - ex.beta)) < 0.03)
    True
    """
    if not (isinstance(n_sims, int) and n_sims >= 1):
        raise ValueError(f"n_sims must be a positive integer, got {n_sims!r}")
    rng = np.random.default_rng(seed)
    types = model.types
    n_e, n_t = types.n_edges, model.horizon
    resource = types.edge_resource.astype(np.int64)
    duration = types.edge_duration.astype(np.int64)
    weight = types.edge_weight
    capacity = types.capacity.astype(np.int64)
    first_slot = np.concatenate([[0], np.cumsum(capacity)])
    # one column per vehicle; resource u owns columns first_slot[u] .. first_slot[u + 1]
    busy_until = np.zeros((n_sims, int(first_slot[-1])), dtype=np.int64)
    beta = np.full((n_e, n_t), np.nan)
    half = np.zeros((n_e, n_t))
    accepted = np.zeros((n_e, n_t))
    total = np.zeros(n_sims)
    cells = _cells(model, lp)
    runs = np.arange(n_sims)
    for t in range(n_t):
        arrived = rng.random((n_sims, types.n_requests)) < model.p[:, t]
        soonest = np.minimum.reduceat(busy_until, first_slot[:-1], axis=1)
        taken = np.zeros_like(arrived)
        for g, edges in cells[t]:
            group = types.group(g)
            available = arrived[:, group].all(axis=1)
            n = int(available.sum())
            members_free = available & ~taken[:, group].any(axis=1)
            est = np.ones(edges.size)
            for j, e in enumerate(edges.tolist()):
                if n:
                    est[j] = (members_free & (soonest[:, resource[e]] <= t)).sum() / n
            beta[edges, t] = est
            half[edges, t] = np.sqrt(np.log(2 / delta) / (2 * n)) if n else np.inf
            idx = runs[available]
            if not idx.size:
                continue
            y = np.cumsum(lp.x[edges, t] / lp.q[g, t])
            pick = np.searchsorted(y, rng.random(idx.size), side="right")
            coin = rng.random(idx.size)
            ok = pick < edges.size
            idx, pick, coin = idx[ok], pick[ok], coin[ok]
            e_sel = edges[pick]
            u_sel = resource[e_sel]
            go = (
                members_free[idx]
                & (soonest[idx, u_sel] <= t)
                & (coin < np.minimum(1.0, gamma / np.maximum(est[pick], 1e-300)))
            )
            idx, e_sel, u_sel = idx[go], e_sel[go], u_sel[go]
            for u in np.unique(u_sel).tolist():
                runs_u = idx[u_sel == u]
                block = busy_until[runs_u, first_slot[u] : first_slot[u + 1]]
                slot = first_slot[u] + block.argmin(axis=1)
                busy_until[runs_u, slot] = t + duration[e_sel[u_sel == u]]
                fresh = busy_until[runs_u, first_slot[u] : first_slot[u + 1]].min(axis=1)
                soonest[runs_u, u] = fresh
            taken[np.ix_(idx, group)] = True
            np.add.at(accepted[:, t], e_sel, 1.0)
            total[idx] += weight[e_sel]
    return Availability(beta, accepted / n_sims, float(total.mean()), "simulated", n_sims, half)


def safe_gamma(
    model: RideshareModel,
    lp: RideshareLP,
    target: float,
    *,
    iterations: int = 30,
) -> float:
    """Return the largest ``gamma <= target`` whose exact availabilities are ``>= gamma``.

    Found by bisection to ``target / 2^iterations``.

    With that ``gamma`` every used cell is accepted with probability exactly
    ``gamma x`` on this model, so ``E[ALG] = gamma LP``. Enumerates exactly (tiny models).

    Examples
    --------
    >>> import numpy as np
    >>> from matching import Instance
    >>> from matching.rideshare import RideshareModel, rideshare_lp
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 1), (0, 1, 1, 1, 1), (0, 2, 2, 1, 1)])
    >>> model = RideshareModel(groups, np.full((2, 2), 0.5))
    >>> safe_gamma(model, rideshare_lp(model), 0.3)  # every beta >= 0.3 here
    0.3
    """
    if not 0 < target <= 1:
        raise ValueError(f"target must lie in (0, 1], got {target!r}")
    if exact_availability(model, lp, target).min_beta() >= target:
        return float(target)
    lo, hi = 0.0, float(target)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if exact_availability(model, lp, mid).min_beta() >= mid:
            lo = mid
        else:
            hi = mid
    return lo


class RideshareAttenuatePolicy(OnlinePolicy):
    """LP sample-and-attenuate for online ridesharing (see the module docstring).

    A batch policy: the driver hands each step's available groups to
    :meth:`~matching.stream.OnlineMatcher.arrive_batch` at ``time = t``, each group's
    ``type`` its group index in the prior and its requests fresh ids. Works from the
    declared prior (:class:`~matching.rideshare.RideshareModel`) alone.

    Parameters
    ----------
    gamma : float, optional
        Target acceptance ``gamma x``; default :func:`~matching.rideshare.gamma_k` of
        the prior's largest group.
    availability : {"auto", "exact", "simulated"}
        How ``beta`` is computed; ``"auto"`` enumerates exactly when the model is small
        enough and simulates otherwise.
    n_sims : int
        Runs for the simulated availabilities.
    """

    name = "rideshare-attenuate"
    window = 1.0

    def __init__(
        self,
        gamma: float | None = None,
        *,
        availability: str = "auto",
        n_sims: int = 2000,
        seed: int = 0,
    ) -> None:
        if gamma is not None and not (
            isinstance(gamma, int | float) and not isinstance(gamma, bool) and 0 < gamma <= 1
        ):
            raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
        if availability not in ("auto", "exact", "simulated"):
            raise ValueError(
                f"availability must be 'auto', 'exact' or 'simulated', got {availability!r}"
            )
        self.gamma_arg = gamma
        self.availability_method = availability
        self.n_sims = n_sims
        self.seed = seed
        self._cache: tuple[RideshareModel, RideshareLP, Availability, float] | None = None

    def reset(self, setup: MatcherSetup, rng: np.random.Generator) -> None:
        """Solve the benchmark LP and the availabilities of the declared prior (cached)."""
        super().reset(setup, rng)
        model = setup.prior
        if not isinstance(model, RideshareModel):
            raise TypeError(
                "the ridesharing policy needs a RideshareModel prior: pass prior= to the matcher"
            )
        if not setup.reusable:
            raise ValueError("the ridesharing model has reusable vehicles: use reusable=True")
        cached = self._cache
        if cached is None or cached[0] is not model:
            gamma = gamma_k(model.k) if self.gamma_arg is None else float(self.gamma_arg)
            lp = rideshare_lp(model)
            self._cache = (model, lp, self._availability(model, lp, gamma), gamma)
        self.model, self.lp, self.availability, self.gamma = self._cache
        if not np.array_equal(setup.capacity, model.types.capacity):
            raise ValueError(
                "the matcher's capacities differ from the prior's depots; the "
                "availabilities are computed for the declared vehicles"
            )
        self._last_step = -1
        self.rng = rng
        self.q = self.lp.q
        ge = model.types.group_edges
        self._edges = [
            ge.indices[ge.indptr[g] : ge.indptr[g + 1]].astype(np.int64)
            for g in range(model.types.n_groups)
        ]

    def _availability(self, model: RideshareModel, lp: RideshareLP, gamma: float) -> Availability:
        if self.availability_method in ("auto", "exact"):
            try:
                return exact_availability(model, lp, gamma)
            except TooLargeToEnumerate:
                if self.availability_method == "exact":
                    raise
        return simulated_availability(model, lp, gamma, n_sims=self.n_sims, seed=self.seed)

    def choose_batch(
        self, state: MatcherState, arrivals: list[Arrival], candidates: list[np.ndarray]
    ) -> list[int]:
        """Process the step's groups in ascending group index: sample, then attenuate."""
        model = self.model
        answer = [-1] * len(arrivals)
        order = sorted(range(len(arrivals)), key=lambda i: _group_of(arrivals[i], model))
        t = _step_of(arrivals, model)
        if t <= self._last_step:
            raise ValueError(
                f"step {t} comes after step {self._last_step}: each step's groups arrive in "
                "one batch, steps in increasing order"
            )
        self._last_step = t
        used_vehicles: dict[int, int] = {}
        used_requests: set[int] = set()
        for i in order:
            a = arrivals[i]
            g = _group_of(a, model)
            edges = self._edges[g]
            _check_edges(a, model, edges)
            sample, coin = self.rng.random(), self.rng.random()
            q = self.q[g, t]
            if q <= 0:
                raise ValueError(
                    f"arrival {a.index}: group {g} at step {t} has probability 0 under the prior"
                )
            if not edges.size:
                continue
            y = np.cumsum(self.lp.x[edges, t] / q)
            pick = int(np.searchsorted(y, sample, side="right"))
            if pick >= edges.size:
                continue
            u = int(a.resources[pick])
            free = (
                used_vehicles.get(u, 0) < state.remaining[u]
                and bool(np.isin(pick, candidates[i]))
                and not used_requests.intersection(a.request_index)
                and not any(r < state.served.size and state.served[r] for r in a.request_index)
            )
            beta = self.availability.beta[edges[pick], t]
            if free and coin < (1.0 if beta <= 0 else min(1.0, self.gamma / beta)):
                answer[i] = pick
                used_vehicles[u] = used_vehicles.get(u, 0) + 1
                used_requests.update(a.request_index)
        return answer

    def __repr__(self) -> str:
        return (
            f"RideshareAttenuatePolicy(gamma={self.gamma_arg}, "
            f"availability={self.availability_method!r})"
        )


def _group_of(arrival: Arrival, model: RideshareModel) -> int:
    g = arrival.type
    if g is None or not 0 <= g < model.types.n_groups:
        raise ValueError(
            f"arrival {arrival.index} has type {g!r}: the ridesharing policy needs the group "
            f"index (0..{model.types.n_groups - 1}) of every arriving group"
        )
    return int(g)


def _step_of(arrivals: list[Arrival], model: RideshareModel) -> int:
    times = {a.time for a in arrivals}
    if len(times) > 1:
        raise ValueError(f"one batch must hold one step's groups, got times {sorted(times)}")
    t = times.pop() if times else 0.0
    if t != int(t) or not 0 <= t < model.horizon:
        raise ValueError(f"time {t!r} is not a step of the prior (0..{model.horizon - 1})")
    return int(t)


def _check_edges(arrival: Arrival, model: RideshareModel, edges: np.ndarray) -> None:
    types = model.types
    problem = declared_edges_problem(
        arrival, types, edges, ("resources", "weights", "loads", "durations")
    )
    if problem is not None:
        raise ValueError(problem)
    if len(arrival.requests) != types.group(int(arrival.type)).size:
        raise ValueError(
            f"arrival {arrival.index} of group {arrival.type} has {len(arrival.requests)} "
            f"requests, the prior's group has {types.group(int(arrival.type)).size}"
        )
