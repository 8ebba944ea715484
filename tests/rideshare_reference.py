"""Independent reference implementations for the online-ridesharing model.

Written from the module docstrings of ``matching/rideshare*.py`` only (no library code
is imported here): the benchmark LP, the exact availabilities / acceptance
probabilities / ``E[ALG]`` of LP sample-and-attenuate, the hindsight optimum of one
realisation and ``E[OPT]``.

A model is given raw: ``groups`` (tuples of type ids), ``edges`` as
``(vehicle, group, weight, duration)``, ``n_vehicles`` and ``p`` of shape ``(V, T)``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import scipy.optimize


@dataclass(frozen=True)
class RawModel:
    """A ridesharing model as plain data."""

    groups: tuple[tuple[int, ...], ...]
    edges: tuple[tuple[int, int, float, int], ...]
    n_vehicles: int
    p: np.ndarray  # (V, T)

    @property
    def n_types(self) -> int:
        return int(self.p.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.p.shape[1])

    def q(self, g: int, t: int) -> float:
        """Probability that every type of group ``g`` arrives at step ``t``."""
        out = 1.0
        for v in self.groups[g]:
            out *= float(self.p[v, t])
        return out

    def edges_of_group(self, g: int) -> list[int]:
        """Edges of group ``g`` in ascending edge index (the group's edge order)."""
        return [e for e, (_, gg, _, _) in enumerate(self.edges) if gg == g]


# --------------------------------------------------------------------------- LP


def lp_rows(m: RawModel) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every benchmark-LP row ``A x <= b`` over variables ``x[e, t]`` (index e*T + t)."""
    n_e, n_t = len(m.edges), m.horizon

    def col(e: int, t: int) -> int:
        return e * n_t + t

    rows, rhs, names = [], [], []
    for g in range(len(m.groups)):
        for t in range(n_t):
            r = np.zeros(n_e * n_t)
            for e, (_, ge, _, _) in enumerate(m.edges):
                if ge == g:
                    r[col(e, t)] = 1.0
            rows.append(r)
            rhs.append(m.q(g, t))
            names.append(f"group {g} step {t}")
    for v in range(m.n_types):
        for t in range(n_t):
            r = np.zeros(n_e * n_t)
            for e, (_, ge, _, _) in enumerate(m.edges):
                if v in m.groups[ge]:
                    r[col(e, t)] = 1.0
            rows.append(r)
            rhs.append(float(m.p[v, t]))
            names.append(f"type {v} step {t}")
    for u in range(m.n_vehicles):
        for t in range(n_t):
            r = np.zeros(n_e * n_t)
            for e, (ue, _, _, d) in enumerate(m.edges):
                if ue != u:
                    continue
                for t0 in range(t + 1):
                    if t - t0 < d:
                        r[col(e, t0)] = 1.0
            rows.append(r)
            rhs.append(1.0)
            names.append(f"vehicle {u} step {t}")
    return np.array(rows), np.array(rhs), names


def lp_value(m: RawModel) -> float:
    """Optimum of the benchmark LP, solved with HiGHS."""
    a, b, _ = lp_rows(m)
    w = np.repeat([w for (_, _, w, _) in m.edges], m.horizon)
    res = scipy.optimize.linprog(-w, A_ub=a, b_ub=b, bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return float(-res.fun)


def lp_violation(m: RawModel, x: np.ndarray) -> tuple[float, str]:
    """Largest violation of any row (or of ``x >= 0``) by ``x`` (shape (E, T))."""
    a, b, names = lp_rows(m)
    slack = a @ np.asarray(x, dtype=float).reshape(-1) - b
    i = int(np.argmax(slack))
    worst, where = float(slack[i]), names[i]
    if -float(np.min(x)) > worst:
        worst, where = -float(np.min(x)), "x >= 0"
    return worst, where


# ------------------------------------------------------------------ the policy


@dataclass
class PolicyExact:
    """Exact availabilities, acceptance probabilities and expected value."""

    beta: dict[tuple[int, int], float]  # (e, t) -> beta, for every edge of an available-able group
    accept: np.ndarray  # (E, T)
    value: float


def policy_exact(m: RawModel, x: np.ndarray, gamma: float) -> PolicyExact:
    """Propagate the exact distribution of the policy's state through every step and group.

    Within step ``t`` a state is ``(arrived set, vehicle free-from steps, taken types)``.
    Groups are visited in ascending index; the availability of each of the group's
    edges is read off the distribution just before the group's turn (conditioned on
    the group being available), then the group samples and attenuates.
    """
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    n_e, n_t, n_v = len(m.edges), m.horizon, m.n_types
    accept = np.zeros((n_e, n_t))
    beta: dict[tuple[int, int], float] = {}
    group_mask = [sum(1 << v for v in g) for g in m.groups]
    dist: dict[tuple[int, ...], float] = {tuple([0] * m.n_vehicles): 1.0}
    for t in range(n_t):
        # Arrival outcomes of this step, each with its probability.
        states: dict[tuple[int, tuple[int, ...], int], float] = defaultdict(float)
        for bits in itertools.product((0, 1), repeat=n_v):
            pa = 1.0
            for v, b in enumerate(bits):
                pa *= float(m.p[v, t]) if b else 1.0 - float(m.p[v, t])
            if pa == 0.0:
                continue
            arrived = sum(1 << v for v, b in enumerate(bits) if b)
            for free, pr in dist.items():
                states[(arrived, free, 0)] += pr * pa
        for g in range(len(m.groups)):
            qg = m.q(g, t)
            if qg == 0.0:
                continue
            gm = group_mask[g]
            edges = m.edges_of_group(g)
            # Availability of every edge of g at its turn, given g available.
            for e in edges:
                u = m.edges[e][0]
                joint = sum(
                    pr
                    for (arr, free, taken), pr in states.items()
                    if arr & gm == gm and free[u] <= t and taken & gm == 0
                )
                beta[(e, t)] = joint / qg
            # Sample and attenuate.
            nxt: dict[tuple[int, tuple[int, ...], int], float] = defaultdict(float)
            for (arr, free, taken), pr in states.items():
                if pr <= 0.0:
                    continue  # a branch emptied by rounding
                if arr & gm != gm:
                    nxt[(arr, free, taken)] += pr
                    continue
                stay = pr
                for e in edges:
                    u, _, _, d = m.edges[e]
                    s = x[e, t] / qg
                    if s <= 0.0 or free[u] > t or taken & gm:
                        continue
                    a = min(1.0, gamma / beta[(e, t)])
                    branch = pr * s * a
                    accept[e, t] += branch
                    stay -= branch
                    nf = list(free)
                    nf[u] = t + d
                    nxt[(arr, tuple(nf), taken | gm)] += branch
                if stay > 0.0:
                    nxt[(arr, free, taken)] += stay
            states = nxt
        dist = defaultdict(float)
        for (_, free, _), pr in states.items():
            dist[free] += pr
    value = float(sum(m.edges[e][2] * accept[e].sum() for e in range(n_e)))
    return PolicyExact(beta, accept, value)


# ------------------------------------------------------------------------- OPT


def hindsight_opt(m: RawModel, arrived: np.ndarray) -> float:
    """Best total weight on one realisation ``arrived`` (shape (T, V)), by search.

    Every step, every available group is either skipped or served by one of its edges
    whose vehicle is free and none of whose types is already served this step.
    """
    n_t = m.horizon
    avail = [
        [g for g, grp in enumerate(m.groups) if all(arrived[t, v] for v in grp)]
        for t in range(n_t)
    ]
    memo: dict[tuple[int, tuple[int, ...]], float] = {}

    def future(t: int, free: tuple[int, ...]) -> float:
        if t == n_t:
            return 0.0
        key = (t, free)
        if key not in memo:
            memo[key] = within(t, 0, free, frozenset())
        return memo[key]

    def within(t: int, i: int, free: tuple[int, ...], used: frozenset[int]) -> float:
        if i == len(avail[t]):
            return future(t + 1, free)
        g = avail[t][i]
        best = within(t, i + 1, free, used)
        if used.isdisjoint(m.groups[g]):
            for e in m.edges_of_group(g):
                u, _, w, d = m.edges[e]
                if free[u] <= t:
                    nf = list(free)
                    nf[u] = t + d
                    val = w + within(t, i + 1, tuple(nf), used | set(m.groups[g]))
                    best = max(best, val)
        return best

    return future(0, tuple([0] * m.n_vehicles))


def expected_opt(m: RawModel) -> float:
    """``E[OPT]`` over every arrival outcome (uncertain cells only are enumerated)."""
    n_v, n_t = m.n_types, m.horizon
    cells = [(t, v) for t in range(n_t) for v in range(n_v) if 0.0 < m.p[v, t] < 1.0]
    base = np.array([[m.p[v, t] >= 1.0 for v in range(n_v)] for t in range(n_t)])
    total = 0.0
    for bits in itertools.product((False, True), repeat=len(cells)):
        arrived = base.copy()
        pr = 1.0
        for (t, v), b in zip(cells, bits, strict=True):
            arrived[t, v] = b
            pr *= float(m.p[v, t]) if b else 1.0 - float(m.p[v, t])
        total += pr * hindsight_opt(m, arrived)
    return total


def check_run(m: RawModel, arrived: np.ndarray, served: list[tuple[int, int, int]]) -> float:
    """Check a run's served ``(step, group, edge)`` list is feasible; return its value."""
    free = [0] * m.n_vehicles
    used: set[tuple[int, int]] = set()
    total = 0.0
    for t, g, e in sorted(served):
        u, ge, w, d = m.edges[e]
        assert ge == g, (t, g, e)
        assert all(arrived[t, v] for v in m.groups[g]), f"group {g} not available at {t}"
        assert free[u] <= t, f"vehicle {u} busy at step {t}"
        for v in m.groups[g]:
            assert (t, v) not in used, f"request {(t, v)} served twice"
            used.add((t, v))
        free[u] = t + d
        total += w
    return total
