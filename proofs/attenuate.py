"""The attenuation chain of LP sample-and-attenuate, checked exactly on a concrete model.

Model: known adversarial distributions over group types (``types``, ``p``: at step
``t`` type ``v`` arrives with probability ``p[v, t]``, at most one arrival per step),
unit capacities and loads, reusable resources with integer durations ``d_e >= 1``.
Given an LP solution ``x`` (type edges x steps), the certificate checks in exact
:class:`fractions.Fraction` arithmetic:

1. ``x >= 0`` and every row of the benchmark LP: ``sum_{e in E(v)} x[e, t] <= p[v, t]``
   per type and step, and per resource and step ``B[u, t] + S[u, t] <= 1``, where
   ``S[u, t]`` is the mass of edges at ``u`` started at ``t`` and
   ``B[u, t] = sum_{t' < t} sum_{e at u, t - t' < d_e} x[e, t']`` the busy mass from
   earlier steps; hence ``B[u, t] <= 1 - S[u, t] <= 1``;
2. ``beta[u, t] = 1 - gamma B[u, t] >= gamma`` at every cell with ``S[u, t] > 0``, so the
   acceptance probability ``gamma / beta[u, t]`` is at most 1 wherever the policy uses it
   (for ``gamma = 1/2`` this follows from ``B <= 1``: ``beta >= 1 - gamma >= gamma``);
3. the claimed ``LP(x) = sum w_e x[e, t]``, the minimal ``beta`` and
   ``E[ALG] = gamma LP(x)``.

That every edge is then accepted with probability exactly ``gamma x[e, t]`` (so that
``E[ALG] = gamma LP(x)``) is the written induction of docs/proofs/lp_attenuate.md; the
check above is the step that makes it valid.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

import numpy as np

from matching.attenuation import kad_benchmark_lp
from matching.model import Instance
from proofs._preconditions import integer_durations_problem, unit_data_problem
from proofs.exact import (
    Check,
    Verification,
    exact,
    floor_decimal,
    rationalize,
    scaled_into_rows,
    show,
)

__all__ = ["AttenuationCertificate", "lp_attenuate_certificate"]

Table = tuple[tuple[Fraction, ...], ...]


def _model_problem(types: Instance, p: Table, gamma: Fraction) -> str | None:
    """Name the first violated precondition of the model or of ``gamma``."""
    if not 0 < gamma <= 1:
        return f"gamma must lie in (0, 1], got {gamma}"
    problem = unit_data_problem(types, "loads", "capacities") or integer_durations_problem(types)
    if problem is not None:
        return problem
    if len(p) != types.n_groups or len({len(row) for row in p}) > 1:
        return f"p must be a table of n_types={types.n_groups} rows of equal length"
    for v, row in enumerate(p):
        for t, pv in enumerate(row):
            if not 0 <= pv <= 1:
                return f"precondition '0 <= p <= 1' fails: p[v={v}, t={t}] = {show(pv)}"
    for t in range(len(p[0]) if p else 0):
        total = exact(row[t] for row in p)
        if total > 1:
            return (
                f"precondition 'at most one arrival per step' fails: sum_v p[v, t={t}] "
                f"= {show(total)} > 1"
            )
    return None


def _busy_and_started(types: Instance, x: Table, n_steps: int) -> tuple[list, list]:
    """``B[u][t]`` (busy mass from earlier steps) and ``S[u][t]`` (mass started at t)."""
    busy = [[Fraction(0)] * n_steps for _ in range(types.n_resources)]
    started = [[Fraction(0)] * n_steps for _ in range(types.n_resources)]
    for e, row in enumerate(x):
        u, d = int(types.edge_resource[e]), int(types.edge_duration[e])
        for t_start, mass in enumerate(row):
            if mass:
                started[u][t_start] += mass
                for t in range(t_start + 1, min(n_steps, t_start + d)):
                    busy[u][t] += mass
    return busy, started


def _rows(types: Instance, p: Table, x: Table) -> Iterator[tuple[str, Fraction, Fraction]]:
    """Every benchmark LP row as ``(name, lhs, rhs)`` with ``lhs <= rhs`` required."""
    n_steps = len(p[0]) if p else 0
    ge = types.group_edges
    for v in range(types.n_groups):
        edges = ge.indices[ge.indptr[v] : ge.indptr[v + 1]].tolist()
        for t in range(n_steps):
            lhs = exact(x[e][t] for e in edges)
            yield (
                f"type row (v={v}, t={t}): sum_e x[e, t] = {show(lhs)} > p = {show(p[v][t])}",
                lhs,
                p[v][t],
            )
    busy, started = _busy_and_started(types, x, n_steps)
    for u in range(types.n_resources):
        for t in range(n_steps):
            lhs = busy[u][t] + started[u][t]
            yield (
                f"resource row (u={u}, t={t}): busy mass B = {show(busy[u][t])} plus mass "
                f"started S = {show(started[u][t])} is {show(lhs)} > 1",
                lhs,
                Fraction(1),
            )


def _attenuation(
    types: Instance, x: Table, n_steps: int, gamma: Fraction
) -> tuple[Fraction, str | None]:
    """Minimal ``beta`` over used cells, and the first cell where ``gamma / beta > 1``."""
    busy, started = _busy_and_started(types, x, n_steps)
    least, problem = Fraction(1), None
    for u in range(types.n_resources):
        for t in range(n_steps):
            if started[u][t] <= 0:
                continue
            beta = 1 - gamma * busy[u][t]
            least = min(least, beta)
            if problem is None and beta < gamma:
                problem = (
                    f"cell (u={u}, t={t}): beta = 1 - gamma B = 1 - {gamma} * "
                    f"{show(busy[u][t])} = {show(beta)} < gamma = {gamma}, so the "
                    "acceptance gamma / beta > 1 is no probability"
                )
    return least, problem


def _lp_value(types: Instance, x: Table) -> Fraction:
    return exact(
        Fraction(float(types.edge_weight[e])) * mass for e, row in enumerate(x) for mass in row
    )


@dataclass(frozen=True)
class AttenuationCertificate:
    """LP sample-and-attenuate's chain on one model (see the module docstring).

    Attributes
    ----------
    types : Instance
        Group types with their edges' resources, weights and durations.
    p : tuple of tuples of Fraction
        Arrival probabilities ``p[v][t]``, exactly.
    x : tuple of tuples of Fraction
        The LP solution ``x[e][t]`` (type edges x steps).
    gamma : Fraction
        Target acceptance: every edge accepted with probability ``gamma x[e, t]``.
    lp_value : Fraction
        Claimed ``LP(x) = sum_{e, t} w_e x[e, t]``.
    min_beta : Fraction
        Claimed least availability ``beta`` over the cells the policy uses.
    alg : Fraction
        Claimed ``E[ALG] = gamma LP(x)``.
    lp_optimum : float
        The benchmark LP's floating-point optimum ``x`` was rounded from (not checked;
        ``LP(x) <= lp_optimum`` up to the solver's tolerance).
    """

    types: Instance
    p: Table
    x: Table
    gamma: Fraction
    lp_value: Fraction
    min_beta: Fraction
    alg: Fraction
    lp_optimum: float = field(default=float("nan"), compare=False)

    check: ClassVar[Check] = Check.ATTENUATION
    policy: ClassVar[str] = "lp-attenuate"
    arrival_model: ClassVar[str] = "known adversarial distributions, reusable resources"

    @property
    def n_steps(self) -> int:
        """Number of steps ``T``."""
        return len(self.p[0]) if self.p else 0

    def headline(self) -> str:
        """Return the certified bound in a few words (meaningful once verified)."""
        return f"E[ALG] = {self.gamma} LP(x), min beta {floor_decimal(self.min_beta, 3)}"

    def details(self) -> list[str]:
        """Return what was checked, one line each (for the command line)."""
        types = self.types
        return [
            f"model: {types.n_groups} types, {self.n_steps} steps, {types.n_resources} "
            f"resources, {types.n_edges} type edges, gamma = {self.gamma}",
            f"LP(x) = {float(self.lp_value):.9f} (benchmark LP optimum "
            f"{self.lp_optimum:.9f}, floating point), min beta = {float(self.min_beta):.6f}, "
            f"E[ALG] = {float(self.alg):.9f}",
        ]

    def verify(self) -> Verification:
        """Re-check the model, every LP row, every attenuation and the claimed values.

        Returns
        -------
        Verification
            ``ok`` True with the statement worded from the verified numbers, or False
            naming the violated precondition, LP row (type or resource, and step), cell
            whose attenuation exceeds 1, or claimed value.
        """
        problem = (
            _model_problem(self.types, self.p, self.gamma)
            or self._x_problem()
            or next((name for name, lhs, rhs in self._rows() if lhs > rhs), None)
        )
        if problem is not None:
            return Verification.fail(problem)
        least, cell = _attenuation(self.types, self.x, self.n_steps, self.gamma)
        problem = cell or self._value_problem(least)
        if problem is not None:
            return Verification.fail(problem)
        cells = self.types.n_resources * self.n_steps
        return Verification(
            True,
            f"verified: x >= 0, {self.types.n_groups * self.n_steps + cells} LP rows, "
            f"gamma <= beta at every used cell (min beta = {float(least):.9f})",
            self._statement(),
        )

    def _rows(self) -> Iterator[tuple[str, Fraction, Fraction]]:
        return _rows(self.types, self.p, self.x)

    def _x_problem(self) -> str | None:
        if len(self.x) != self.types.n_edges or any(len(r) != self.n_steps for r in self.x):
            return f"x must have {self.types.n_edges} rows (edges) of {self.n_steps} steps"
        for e, row in enumerate(self.x):
            for t, mass in enumerate(row):
                if mass < 0:
                    return f"x[e={e}, t={t}] = {show(mass)} < 0"
        return None

    def _value_problem(self, least: Fraction) -> str | None:
        value = _lp_value(self.types, self.x)
        for name, claimed, actual in (
            ("LP(x)", self.lp_value, value),
            ("min beta", self.min_beta, least),
            ("E[ALG]", self.alg, self.gamma * value),
        ):
            if claimed != actual:
                return (
                    f"claimed {name} = {show(claimed)} is off by {show(claimed - actual)} "
                    f"(recomputed {show(actual)})"
                )
        return None

    def _statement(self) -> str:
        return (
            f"LP sample-and-attenuate on this model: every gamma/beta <= 1 (min beta >= "
            f"{floor_decimal(self.min_beta)}), so E[ALG] = {self.gamma} * LP(x) >= "
            f"{floor_decimal(self.alg)} with LP(x) = {float(self.lp_value):.6f}"
        )


def _exact_table(values: Sequence[Sequence[float | Fraction]] | np.ndarray) -> Table:
    """Fractions equal to the given numbers (floats converted exactly)."""
    return tuple(
        tuple(v if isinstance(v, Fraction) else Fraction(float(v)) for v in row) for row in values
    )


def _as_gamma(gamma: Fraction | float | int) -> Fraction:
    if isinstance(gamma, bool) or not isinstance(gamma, Fraction | float | int):
        raise TypeError(f"gamma must be a number, got {gamma!r}")
    return Fraction(repr(gamma)) if isinstance(gamma, float) else Fraction(gamma)


def lp_attenuate_certificate(
    types: Instance,
    p: Sequence[Sequence[float | Fraction]] | np.ndarray,
    gamma: Fraction | float = Fraction(1, 2),
    *,
    x: Sequence[Sequence[float | Fraction]] | np.ndarray | None = None,
) -> AttenuationCertificate:
    """Build the attenuation certificate of a model, from the benchmark LP by default.

    Parameters
    ----------
    types : Instance
        Group types: unit loads and capacities, integer durations ``>= 1``.
    p : array_like, shape (n_types, T)
        Arrival probabilities; floats are taken exactly.
    gamma : Fraction or float, default 1/2
        Target acceptance (a float is read as the decimal it prints as: 0.6 is 3/5).
    x : array_like, shape (n_edges, T), optional
        The LP solution to certify, taken as given. By default the optimum of
        :func:`matching.attenuation.kad_benchmark_lp`, rounded to fractions, clipped
        at 0 and scaled down until every LP row holds exactly.

    Returns
    -------
    AttenuationCertificate
        Not yet verified; :meth:`~AttenuationCertificate.verify` checks it.

    Raises
    ------
    ValueError
        Naming the violated precondition of the model (or of ``gamma``).

    Examples
    --------
    >>> import numpy as np, matching
    >>> types = matching.Instance([[0]], [(0, 0, 1.0, 1, 2.0)])  # one type, duration 2
    >>> cert = lp_attenuate_certificate(types, np.array([[0.5, 0.5, 0.5]]))
    >>> result = cert.verify()
    >>> bool(result), cert.lp_value, cert.min_beta, cert.alg
    (True, Fraction(3, 2), Fraction(3, 4), Fraction(3, 4))
    >>> bool(lp_attenuate_certificate(types, np.array([[0.9, 0.9, 0.9]]), 0.6).verify())
    False
    """
    gamma = _as_gamma(gamma)
    p_exact = _exact_table(p)
    problem = _model_problem(types, p_exact, gamma)
    if problem is not None:
        raise ValueError(problem)
    optimum = float("nan")
    if x is None:
        bench = kad_benchmark_lp(types, np.array(p, dtype=np.float64))
        optimum = bench.value
        x_exact = scaled_into_rows(
            tuple(map(tuple, map(rationalize, bench.x))), lambda x: _rows(types, p_exact, x)
        )
    else:
        x_exact = _exact_table(x)
    n_steps = len(p_exact[0]) if p_exact else 0
    least, _ = _attenuation(types, x_exact, n_steps, gamma)
    value = _lp_value(types, x_exact)
    return AttenuationCertificate(
        types=types,
        p=p_exact,
        x=x_exact,
        gamma=gamma,
        lp_value=value,
        min_beta=least,
        alg=gamma * value,
        lp_optimum=optimum,
    )
