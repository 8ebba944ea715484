"""The ridesharing guarantee, checked exactly on a concrete model.

Model and policy: :mod:`matching.rideshare` and :mod:`matching.rideshare_policy`
(request types arriving independently per step, groups of at most ``k`` types, vehicles
busy ``d`` whole steps per route, LP sample-and-attenuate with availabilities
``beta``). The written argument is ``docs/proofs/rideshare.md``. The certificate checks,
in exact :class:`fractions.Fraction` arithmetic (the model's floats taken as the
rationals they store):

1. the preconditions: unit loads, whole capacities (vehicles per depot) and durations
   ``>= 1``,
   ``0 <= p <= 1``;
2. ``gamma_k`` bracketed: ``f(lo) < 0 < f(hi)`` for ``f(g) = g - (1 - g)^m``, which is
   increasing on ``[0, 1]``, so the root lies in ``(lo, hi)`` (at most ``2^-30`` wide);
   the target ``gamma`` is at most ``lo``;
3. ``x`` made of Fractions, ``x >= 0`` and every row of the benchmark LP (group,
   request and vehicle rows), rebuilt from the model;
4. the step the argument rests on: by exhaustive enumeration of every arrival outcome
   and every choice of the policy, the availability ``beta[e, t]`` of every used cell
   is at least ``lo`` (so ``lo / beta`` is a probability), and every cell is then
   accepted with probability exactly ``lo x[e, t]``; hence ``E[ALG] = lo LP(x)``;
5. the chain to the hindsight optimum: ``E[OPT]``, computed by enumerating every arrival
   outcome and solving each exactly by search, is at most ``LP(x)``, so
   ``E[ALG] = lo LP(x) >= lo E[OPT]``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any, ClassVar

import numpy as np

from matching.rideshare import RideshareModel, attenuation_parties, rideshare_lp
from matching.rideshare_policy import exact_availability
from proofs._preconditions import integer_durations_problem, unit_data_problem
from proofs.exact import (
    Check,
    Verification,
    floor_decimal,
    rationalize,
    scaled_into_rows,
    show,
)

__all__ = [
    "RideshareCertificate",
    "gamma_bracket",
    "gamma_table",
    "rideshare_certificate",
]

#: Largest number of random arrival bits (types x steps with 0 < p < 1) the exact
#: enumeration of E[OPT] accepts.
MAX_OUTCOME_BITS = 14

XTable = tuple[tuple[Fraction, ...], ...]

#: Widest gamma_k bracket a certificate may claim.
MAX_BRACKET = Fraction(1, 2**30)


def _f(g: Fraction, m: int) -> Fraction:
    return g - (1 - g) ** m


def gamma_bracket(k: int, bits: int = 40) -> tuple[Fraction, Fraction]:
    """Return rationals ``lo < hi``, ``hi - lo = 2^-bits``, around ``gamma_k``.

    ``gamma_k`` is the root of ``g = (1 - g)^m``, ``m = attenuation_parties(k)``; the
    bracket comes from exact bisection. When a bisection point is the root exactly
    (``k = 1``: ``1/2``) it is returned as ``(root, root)``.

    Examples
    --------
    >>> lo, hi = gamma_bracket(2)
    >>> 0.3176721 < float(lo) < float(hi) < 0.3176723, hi - lo == Fraction(1, 2**40)
    (True, True)
    """
    m = attenuation_parties(k)
    lo, hi = Fraction(0), Fraction(1)
    for _ in range(bits):
        mid = (lo + hi) / 2
        if _f(mid, m) == 0:  # an exact rational root (k = 1: gamma = 1/2)
            return mid, mid
        if _f(mid, m) < 0:
            lo = mid
        else:
            hi = mid
    return lo, hi


def gamma_table(k_max: int = 6) -> list[dict[str, object]]:
    """``gamma_k`` for ``k = 1 .. k_max``: parties ``m``, exact bracket, decimal value.

    Examples
    --------
    >>> [row["gamma"] for row in gamma_table(3)]
    ['0.500000', '0.317672', '0.275508']
    """
    rows = []
    for k in range(1, k_max + 1):
        lo, hi = gamma_bracket(k)
        rows.append(
            {
                "k": k,
                "m": attenuation_parties(k),
                "lo": lo,
                "hi": hi,
                "gamma": floor_decimal(lo, 6),
            }
        )
    return rows


def _model_problem(model: RideshareModel) -> str | None:
    types = model.types
    cap = types.capacity
    bad = np.flatnonzero((cap < 1) | (cap != np.round(cap)))
    if bad.size:
        u = int(bad[0])
        return f"precondition 'whole capacities >= 1' fails: capacity[{u}] = {cap[u]!r}"
    p = np.asarray(model.p)
    bad_p = np.argwhere(~((p >= 0) & (p <= 1)))
    if bad_p.size:
        v, t = (int(i) for i in bad_p[0])
        return f"precondition '0 <= p <= 1' fails: p[{v}, {t}] = {p[v, t]!r}"
    return unit_data_problem(types, "loads") or integer_durations_problem(types)


def _rows(model: RideshareModel, x: XTable) -> Iterator[tuple[str, Fraction, Fraction]]:
    """Every benchmark-LP row as ``(name, lhs, rhs)``, exactly."""
    types = model.types
    n_t = model.horizon
    p = [[Fraction(float(v)) for v in row] for row in model.p]
    members = [types.group(g).tolist() for g in range(types.n_groups)]
    group_of = types.edge_group.tolist()
    for t in range(n_t):
        for g in range(types.n_groups):
            q = Fraction(1)
            for v in members[g]:
                q *= p[v][t]
            lhs = sum((x[e][t] for e in range(types.n_edges) if group_of[e] == g), Fraction(0))
            yield f"group row (g={g}, t={t})", lhs, q
        for v in range(types.n_requests):
            lhs = sum(
                (x[e][t] for e in range(types.n_edges) if v in members[group_of[e]]),
                Fraction(0),
            )
            yield f"request row (v={v}, t={t})", lhs, p[v][t]
        for u in range(types.n_resources):
            lhs = Fraction(0)
            for e in range(types.n_edges):
                if int(types.edge_resource[e]) != u:
                    continue
                d = int(types.edge_duration[e])
                lhs += sum((x[e][s] for s in range(max(0, t - d + 1), t + 1)), Fraction(0))
            yield f"vehicle row (u={u}, t={t})", lhs, Fraction(int(types.capacity[u]))


def _lp_value(model: RideshareModel, x: XTable) -> Fraction:
    w = [Fraction(float(v)) for v in model.types.edge_weight]
    return sum((w[e] * sum(row, Fraction(0)) for e, row in enumerate(x)), Fraction(0))


def _outcome_optimum(
    items: tuple[tuple[int, int], ...],
    members: list[frozenset],
    edges_of: list[list[int]],
    weight: list[Fraction],
    resource: list[int],
    duration: list[int],
    capacity: list[int],
) -> Fraction:
    """Best total weight over the available (step, group) items of one outcome.

    The state per depot is the sorted tuple of its vehicles' remaining busy steps.
    """

    @cache
    def best(i: int, busy: tuple, taken: frozenset, step: int) -> Fraction:
        if i == len(items):
            return Fraction(0)
        t, g = items[i]
        if t != step:  # a new step: requests are fresh, vehicles age
            busy = tuple(tuple(max(0, b - (t - step)) for b in slots) for slots in busy)
            taken, step = frozenset(), t
        value = best(i + 1, busy, taken, step)
        if taken.isdisjoint(members[g]):
            for e in edges_of[g]:
                u = resource[e]
                if busy[u][0] == 0:
                    slots = tuple(sorted((*busy[u][1:], duration[e])))
                    moved = (*busy[:u], slots, *busy[u + 1 :])
                    value = max(value, weight[e] + best(i + 1, moved, taken | members[g], step))
        return value

    return best(0, tuple((0,) * c for c in capacity), frozenset(), 0)


def expected_opt(model: RideshareModel) -> Fraction:
    """``E[OPT]`` exactly: every arrival outcome, each solved by exhaustive search.

    Raises ``ValueError`` when the model has more than :data:`MAX_OUTCOME_BITS`
    uncertain (type, step) arrivals.
    """
    types = model.types
    n_t = model.horizon
    p = [[Fraction(float(v)) for v in row] for row in model.p]
    bits = [(v, t) for t in range(n_t) for v in range(types.n_requests) if 0 < p[v][t] < 1]
    if len(bits) > MAX_OUTCOME_BITS:
        raise ValueError(
            f"{len(bits)} uncertain arrivals; the exact E[OPT] enumerates at most "
            f"2^{MAX_OUTCOME_BITS} outcomes"
        )
    certain = {(v, t) for t in range(n_t) for v in range(types.n_requests) if p[v][t] == 1}
    members = [frozenset(types.group(g).tolist()) for g in range(types.n_groups)]
    ge = types.group_edges
    edges_of = [
        ge.indices[ge.indptr[g] : ge.indptr[g + 1]].tolist() for g in range(types.n_groups)
    ]
    weight = [Fraction(float(v)) for v in types.edge_weight]
    resource = types.edge_resource.tolist()
    duration = types.edge_duration.astype(int).tolist()
    capacity = types.capacity.astype(int).tolist()
    total = Fraction(0)
    for outcome in itertools.product((False, True), repeat=len(bits)):
        here = set(certain) | {b for b, on in zip(bits, outcome, strict=True) if on}
        prob = Fraction(1)
        for b, on in zip(bits, outcome, strict=True):
            prob *= p[b[0]][b[1]] if on else 1 - p[b[0]][b[1]]
        items = tuple(
            (t, g)
            for t in range(n_t)
            for g in range(types.n_groups)
            if all((v, t) in here for v in members[g])
        )
        total += prob * _outcome_optimum(
            items, members, edges_of, weight, resource, duration, capacity
        )
    return total


@dataclass(frozen=True)
class RideshareCertificate:
    """The ridesharing chain on one model (see the module docstring).

    Attributes
    ----------
    model : RideshareModel
    x : tuple of tuples of Fraction
        LP solution ``x[e][t]`` (edges x steps).
    gamma : Fraction
        The certified target: every used cell accepted with probability ``gamma x``;
        at most ``gamma_lo``.
    gamma_lo, gamma_hi : Fraction
        Claimed bracket of ``gamma_k``.
    lp_value : Fraction
        Claimed ``LP(x)``.
    min_beta : Fraction
        Claimed least availability over the used cells.
    alg : Fraction
        Claimed ``E[ALG] = gamma_lo LP(x)``.
    opt : Fraction
        Claimed ``E[OPT]``.
    lp_optimum : float
        The benchmark LP's floating-point optimum (reported, not checked).
    """

    model: RideshareModel
    x: XTable
    gamma: Fraction
    gamma_lo: Fraction
    gamma_hi: Fraction
    lp_value: Fraction
    min_beta: Fraction
    alg: Fraction
    opt: Fraction
    lp_optimum: float = field(default=float("nan"), compare=False)

    check: ClassVar[Check] = Check.ATTENUATION
    policy: ClassVar[str] = "rideshare-attenuate"
    arrival_model: ClassVar[str] = (
        "request types arriving independently per step (known distributions), groups of "
        "at most k, vehicles returning to their depot"
    )

    def headline(self) -> str:
        """Return the certified bound in a few words (meaningful once verified)."""
        return f"E[ALG] >= {floor_decimal(self.gamma, 6)} E[OPT] (k = {self.model.k})"

    def details(self) -> list[str]:
        """Return what was checked, one line each (for the command line)."""
        types = self.model.types
        return [
            f"model: {types.n_requests} request types, {types.n_groups} groups (k = "
            f"{self.model.k}), {types.n_resources} vehicles, {self.model.horizon} steps",
            f"LP(x) = {float(self.lp_value):.9f} (benchmark optimum {self.lp_optimum:.9f}), "
            f"E[OPT] = {float(self.opt):.9f}, E[ALG] = {float(self.alg):.9f}, "
            f"min beta = {float(self.min_beta):.6f}",
        ]

    def verify(self) -> Verification:
        """Re-check the model, the bracket, every LP row, every availability and the chain.

        Returns
        -------
        Verification
            ``ok`` True with the statement worded from the verified numbers, or False
            naming the first failure.
        """
        model = self.model
        problem = _model_problem(model) or self._bracket_problem() or self._x_problem()
        if problem is None:
            problem = next(
                (
                    f"{name}: {show(lhs)} > {show(rhs)}"
                    for name, lhs, rhs in _rows(model, self.x)
                    if lhs > rhs
                ),
                None,
            )
        if problem is not None:
            return Verification.fail(problem)
        x_map = {(e, t): v for e, row in enumerate(self.x) for t, v in enumerate(row) if v > 0}
        av = exact_availability(model, None, self.gamma, exact=True, x=x_map)
        least = min((b for b in av.beta.ravel() if b == b), default=Fraction(1))
        for (e, t), mass in sorted(x_map.items()):
            if av.beta[e, t] < self.gamma:
                return Verification.fail(
                    f"cell (e={e}, t={t}): beta = {show(av.beta[e, t])} < gamma = "
                    f"{show(self.gamma)}; the attenuation gamma / beta exceeds 1"
                )
            if av.accept[e, t] != self.gamma * mass:
                return Verification.fail(
                    f"cell (e={e}, t={t}) is accepted with probability {show(av.accept[e, t])}"
                    f", not gamma x = {show(self.gamma * mass)}"
                )
        value = _lp_value(model, self.x)
        opt = expected_opt(model)
        for name, claimed, actual in (
            ("LP(x)", self.lp_value, value),
            ("min beta", self.min_beta, least),
            ("E[ALG]", self.alg, av.expected_value),
            ("E[ALG] = gamma LP(x)", self.alg, self.gamma * value),
            ("E[OPT]", self.opt, opt),
        ):
            if claimed != actual:
                return Verification.fail(
                    f"claimed {name} = {show(claimed)} is off by {show(claimed - actual)} "
                    f"(recomputed {show(actual)})"
                )
        if opt > value:
            return Verification.fail(
                f"E[OPT] = {show(opt)} exceeds LP(x) = {show(value)}: the chain "
                "E[ALG] = gamma LP(x) >= gamma E[OPT] is not shown for this x"
            )
        return Verification(
            True,
            f"verified: gamma_k in ({show(self.gamma_lo)}, {show(self.gamma_hi)}), target "
            f"gamma = {show(self.gamma)}, "
            f"{sum(1 for _ in _rows(model, self.x))} LP rows, beta >= gamma and acceptance "
            f"= gamma x at {len(x_map)} used cells (min beta = {float(least):.9f}), "
            f"E[OPT] <= LP(x)",
            self._statement(),
        )

    def _bracket_problem(self) -> str | None:
        m = attenuation_parties(self.model.k)
        lo, hi = self.gamma_lo, self.gamma_hi
        if not all(isinstance(v, Fraction) for v in (lo, hi, self.gamma)):
            return "gamma, gamma_lo and gamma_hi must be Fractions"
        if hi - lo > MAX_BRACKET:
            return f"the bracket ({show(lo)}, {show(hi)}) is wider than {MAX_BRACKET}"
        if not 0 < lo <= hi < 1:
            return f"the bracket must satisfy 0 < lo <= hi < 1, got ({show(lo)}, {show(hi)})"
        if not 0 < self.gamma <= lo:
            return f"the target gamma = {show(self.gamma)} must lie in (0, gamma_lo = {show(lo)}]"
        exact_root = lo == hi and _f(lo, m) == 0
        if not (exact_root or _f(lo, m) < 0 < _f(hi, m)):
            return (
                f"({show(lo)}, {show(hi)}) does not bracket the root of g = (1 - g)^{m}: "
                f"f(lo) = {show(_f(lo, m))}, f(hi) = {show(_f(hi, m))}"
            )
        return None

    def _x_problem(self) -> str | None:
        types = self.model.types
        n_t = self.model.horizon
        if len(self.x) != types.n_edges or any(len(r) != n_t for r in self.x):
            return f"x must have {types.n_edges} rows (edges) of {n_t} steps"
        for e, row in enumerate(self.x):
            for t, mass in enumerate(row):
                if not isinstance(mass, Fraction | int) or isinstance(mass, bool):
                    return f"x[e={e}, t={t}] = {mass!r} is not an exact rational (Fraction)"
                if mass < 0:
                    return f"x[e={e}, t={t}] = {show(mass)} < 0"
        return None

    def _statement(self) -> str:
        return (
            f"rideshare LP sample-and-attenuate on this model (k = {self.model.k}) with this "
            f"x and exact availabilities: every cell accepted with probability gamma x, "
            f"gamma = {floor_decimal(self.gamma, 9)}"
            f" <= gamma_k = {floor_decimal(self.gamma_lo, 6)}...; E[ALG] = "
            f"{floor_decimal(self.alg)} = gamma LP(x) >= gamma E[OPT] "
            f"(E[OPT] = {float(self.opt):.6f} <= LP(x) = {float(self.lp_value):.6f})"
        )


def _rational_solution(model: RideshareModel, x_float: np.ndarray) -> XTable:
    """Return the LP solution as fractions that keep every row exactly.

    Tried in turn: the floats as the rationals they store, then the roundings with
    denominators up to 10^4, 10^6 and 10^9; else the finest rounding, scaled down until
    every row holds.
    """
    candidates = [tuple(tuple(Fraction(float(v)) for v in row) for row in x_float)]
    candidates += [
        tuple(tuple(rationalize(row, d)) for row in x_float) for d in (10**4, 10**6, 10**9)
    ]
    for x in candidates:
        if (
            all(lhs <= rhs for _, lhs, rhs in _rows(model, x))
            and min((v for row in x for v in row), default=0) >= 0
        ):
            return x
    return scaled_into_rows(
        tuple(tuple(rationalize(row)) for row in x_float), lambda x: _rows(model, x)
    )


def rideshare_certificate(
    model: RideshareModel,
    *,
    gamma: Fraction | None = None,
    x: Any = None,
    gamma_bits: int = 40,
) -> RideshareCertificate:
    """Build the certificate of ``model`` (not yet verified).

    ``gamma`` defaults to the lower end of the ``gamma_k`` bracket; ``x`` (an
    ``(n_edges, T)`` array of floats or Fractions) defaults to the benchmark LP's
    optimum, rounded to fractions and scaled down until every row holds exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from matching import Instance
    >>> from matching.rideshare import RideshareModel
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 1), (0, 1, 1, 1, 1), (0, 2, 2, 1, 1)])
    >>> cert = rideshare_certificate(RideshareModel(groups, np.full((2, 2), 0.5)))
    >>> bool(cert.verify()), float(cert.opt), float(cert.lp_value)
    (True, 2.0, 2.0)
    """
    if not isinstance(model, RideshareModel):
        raise TypeError(f"model must be a RideshareModel, got {type(model).__name__}")
    problem = _model_problem(model)
    if problem is not None:
        raise ValueError(problem)
    lp = rideshare_lp(model)
    if x is None:
        x = _rational_solution(model, lp.x)
    else:
        x = tuple(
            tuple(v if isinstance(v, Fraction) else Fraction(float(v)) for v in row) for row in x
        )
    lo, hi = gamma_bracket(model.k, gamma_bits)
    target = lo if gamma is None else Fraction(gamma)
    x_map = {(e, t): v for e, row in enumerate(x) for t, v in enumerate(row) if v > 0}
    av = exact_availability(model, lp, target, exact=True, x=x_map)
    least = min((b for b in av.beta.ravel() if b == b), default=Fraction(1))
    return RideshareCertificate(
        model=model,
        x=x,
        gamma=target,
        gamma_lo=lo,
        gamma_hi=hi,
        lp_value=_lp_value(model, x),
        min_beta=least,
        alg=av.expected_value,
        opt=expected_opt(model),
        lp_optimum=lp.value,
    )
