"""Dual fitting for greedy on a concrete instance: ``OPT <= LP <= dual <= (k + 1) ALG``.

Preconditions: unit weights, unit loads, unit capacities, single-use resources and
groups of at most ``k`` requests; the arrival order does not matter. Take any maximal
matching ``M`` (what a greedy scan in any order produces: every edge not chosen shares
a request with a chosen edge or has its resource filled by one). The LP relaxation of
the instance is

    max sum_e x_e   s.t.   sum_{e covers q} x_e <= 1,   sum_{e at r} x_e <= 1,   x >= 0,

and its dual is ``min sum_q y_q + sum_r z_r`` s.t. ``sum_{q in g} y_q + z_r >= 1`` for
every edge ``e = (r, g)``, ``y, z >= 0``. Set ``y_q = 1`` for every request ``M`` serves
and ``z_r = 1`` for every resource ``M`` uses. Every dual row holds *because* ``M`` is
maximal (the non-trivial step), and the dual objective is
``sum_{e in M} (|g_e| + 1) <= (k + 1) |M|``. Weak duality then gives
``OPT <= LP <= dual <= (k + 1) ALG``.

:meth:`GreedyDualCertificate.verify` re-checks the preconditions, that the chosen edges
are a matching, every dual row (naming the first uncovered edge) and the objective, in
exact :class:`fractions.Fraction` arithmetic.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

import matching
from matching.model import Instance
from proofs._preconditions import unit_data_problem
from proofs.exact import Check, Verification, exact, floor_decimal

__all__ = [
    "GreedyDualCertificate",
    "certify_greedy",
    "greedy_dual_certificate",
    "greedy_tight_instance",
    "unit_instance",
]


def _precondition_problem(instance: Instance, k: int) -> str | None:
    """Name the first violated precondition of the dual fitting, or return None."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        return f"k must be a positive int, got {k!r}"
    problem = unit_data_problem(instance, "weights", "loads", "capacities")
    if problem is not None:
        return problem
    if instance.edge_duration is not None:
        return (
            "precondition 'single-use resources' fails: the instance has edge durations "
            "(reusable resources)"
        )
    big = np.flatnonzero(instance.group_sizes > k)
    if big.size:
        g = int(big[0])
        return (
            f"precondition 'groups of <= k = {k} requests' fails: group {g} has "
            f"{int(instance.group_sizes[g])} requests"
        )
    return None


def _matching_problem(instance: Instance, chosen: tuple[int, ...]) -> str | None:
    """Name the first reason why ``chosen`` is not a matching of ``instance``."""
    request_of: dict[int, int] = {}
    resource_of: dict[int, int] = {}
    for e in chosen:
        if not 0 <= e < instance.n_edges:
            return f"chosen edge {e} is not an edge of the instance (n_edges={instance.n_edges})"
        r = int(instance.edge_resource[e])
        if r in resource_of:
            other = resource_of[r]
            if other == e:
                return f"edge {e} is chosen twice"
            return (
                f"not a matching: chosen edges {other} and {e} both use resource {r} of capacity 1"
            )
        resource_of[r] = e
        for q in instance.group(int(instance.edge_group[e])).tolist():
            if q in request_of:
                return (
                    f"not a matching: chosen edges {request_of[q]} and {e} both serve request {q}"
                )
            request_of[q] = e
    return None


@dataclass(frozen=True)
class GreedyDualCertificate:
    """Greedy's dual fitting on one instance.

    Attributes
    ----------
    instance : Instance
        The instance the claim is about (its LP relaxation's dual rows are rebuilt
        from it).
    chosen : tuple of int
        The edges greedy accepted.
    k : int
        The largest group size the claim allows.
    y : tuple of Fraction
        Dual value per request.
    z : tuple of Fraction
        Dual value per resource.
    alg : Fraction
        Claimed ``ALG``, the weight of the chosen edges.
    dual_value : Fraction
        Claimed ``sum y + sum z``: an upper bound on the LP and so on ``OPT``.
    """

    instance: Instance
    chosen: tuple[int, ...]
    k: int
    y: tuple[Fraction, ...]
    z: tuple[Fraction, ...]
    alg: Fraction
    dual_value: Fraction

    check: ClassVar[Check] = Check.DUAL_FITTING
    policy: ClassVar[str] = "greedy"
    arrival_model: ClassVar[str] = "any arrival order (any maximal matching)"

    @property
    def ratio(self) -> Fraction:
        """``ALG / dual``, a lower bound on ``ALG / OPT`` here (1 when the dual is 0)."""
        return self.alg / self.dual_value if self.dual_value else Fraction(1)

    def headline(self) -> str:
        """Return the certified bound in a few words (meaningful once verified)."""
        return f"ALG/OPT >= {floor_decimal(self.ratio)}"

    def details(self) -> list[str]:
        """Return what was checked, one line each (for the command line)."""
        inst = self.instance
        return [
            f"instance: {inst.n_resources} resources, {inst.n_requests} requests, "
            f"{inst.n_groups} groups of <= {self.k}, {inst.n_edges} edges",
            f"ALG = {self.alg} chosen edges, dual sum y + sum z = {self.dual_value}, "
            f"(k + 1) ALG = {(self.k + 1) * self.alg}",
        ]

    def verify(self) -> Verification:
        """Re-check preconditions, the matching, every dual row and the objective.

        Returns
        -------
        Verification
            ``ok`` True with the statement worded from the verified numbers, or False
            naming the violated precondition, the clash in the matching, the first
            uncovered edge (its dual row fails) or the failed objective bound.
        """
        problem = (
            _precondition_problem(self.instance, self.k)
            or _matching_problem(self.instance, self.chosen)
            or self._alg_problem()
            or self._sign_problem()
            or self._uncovered_edge()
            or self._objective_problem()
        )
        if problem is not None:
            return Verification.fail(problem)
        return Verification(
            True,
            f"verified: y, z >= 0, all {self.instance.n_edges} dual rows hold, "
            f"dual {self.dual_value} <= {self.k + 1} * ALG = {(self.k + 1) * self.alg}",
            self._statement(),
        )

    def _alg_problem(self) -> str | None:
        weight = exact(Fraction(float(self.instance.edge_weight[e])) for e in self.chosen)
        if weight != self.alg:
            return f"claimed ALG = {self.alg} but the chosen edges weigh {weight}"
        return None

    def _sign_problem(self) -> str | None:
        inst = self.instance
        if len(self.y) != inst.n_requests or len(self.z) != inst.n_resources:
            return (
                f"the dual has {len(self.y)} request and {len(self.z)} resource entries "
                f"for {inst.n_requests} requests and {inst.n_resources} resources"
            )
        for name, values in (("y", self.y), ("z", self.z)):
            for i, v in enumerate(values):
                if v < 0:
                    return f"dual {name}[{i}] = {v} < 0"
        return None

    def _uncovered_edge(self) -> str | None:
        """Name the first edge whose dual row ``sum_{q in g} y_q + z_r >= w_e`` fails."""
        inst = self.instance
        for e in range(inst.n_edges):
            r, g = int(inst.edge_resource[e]), int(inst.edge_group[e])
            requests = inst.group(g).tolist()
            lhs = exact(self.y[q] for q in requests) + self.z[r]
            weight = Fraction(float(inst.edge_weight[e]))
            if lhs < weight:
                return (
                    f"dual row of edge {e} (resource {r}, group {g}, requests {requests}) "
                    f"fails: sum y + z_{r} = {lhs} < w = {weight}; no chosen edge shares its "
                    "requests or fills its resource, so the matching is not maximal"
                )
        return None

    def _objective_problem(self) -> str | None:
        value = exact(self.y) + exact(self.z)
        if value != self.dual_value:
            return f"claimed dual value {self.dual_value} != sum y + sum z = {value}"
        if value > (self.k + 1) * self.alg:
            return (
                f"dual objective {value} > (k + 1) ALG = {self.k + 1} * {self.alg} "
                f"= {(self.k + 1) * self.alg}"
            )
        return None

    def _statement(self) -> str:
        if not self.alg:
            return "greedy on this instance: OPT = 0 (no edge)"
        return (
            f"greedy on this instance: OPT <= LP <= {self.dual_value} <= {self.k + 1} ALG "
            f"with ALG = {self.alg}, so ALG/OPT >= {floor_decimal(self.ratio)} "
            f">= 1/{self.k + 1}"
        )


def _edge_ids(chosen_edges: Iterable[int] | np.ndarray) -> tuple[int, ...]:
    try:
        return tuple(operator.index(e) for e in np.asarray(chosen_edges).ravel().tolist())
    except TypeError:
        raise TypeError("chosen_edges must be edge indices (ints)") from None


def greedy_dual_certificate(
    instance: Instance, chosen_edges: Iterable[int] | np.ndarray, k: int | None = None
) -> GreedyDualCertificate:
    """Build the dual fitting of the module docstring for greedy's chosen edges.

    Parameters
    ----------
    instance : Instance
        Unit weights, loads and capacities, single-use resources.
    chosen_edges : iterable of int
        The edges greedy accepted (in any order); they must form a matching.
        Maximality is not assumed: :meth:`GreedyDualCertificate.verify` checks it
        through the dual rows.
    k : int, optional
        Largest group size of the claim; defaults to the instance's largest group.

    Returns
    -------
    GreedyDualCertificate
        ``y_q = 1`` for every served request, ``z_r = 1`` for every used resource.

    Raises
    ------
    ValueError
        Naming the violated precondition, or why the chosen edges are not a matching.

    Examples
    --------
    >>> import matching
    >>> inst = greedy_tight_instance(2)
    >>> cert = greedy_dual_certificate(inst, matching.solve(inst, "greedy").edges)
    >>> result = cert.verify()
    >>> bool(result), cert.alg, cert.dual_value
    (True, Fraction(1, 1), Fraction(3, 1))
    >>> result.statement
    'greedy on this instance: OPT <= LP <= 3 <= 3 ALG with ALG = 1, so ALG/OPT >= 0.333333 >= 1/3'
    """
    chosen = _edge_ids(chosen_edges)
    if k is None:
        k = max(1, int(instance.group_sizes.max(initial=1)))
    problem = _precondition_problem(instance, k) or _matching_problem(instance, chosen)
    if problem is not None:
        raise ValueError(problem)
    y = [Fraction(0)] * instance.n_requests
    z = [Fraction(0)] * instance.n_resources
    for e in chosen:
        z[int(instance.edge_resource[e])] = Fraction(1)
        for q in instance.group(int(instance.edge_group[e])).tolist():
            y[q] = Fraction(1)
    return GreedyDualCertificate(
        instance=instance,
        chosen=chosen,
        k=k,
        y=tuple(y),
        z=tuple(z),
        alg=Fraction(len(chosen)),
        dual_value=exact(y) + exact(z),
    )


def certify_greedy(instance: Instance, k: int | None = None) -> GreedyDualCertificate:
    """Run the library's greedy (``matching.solve(instance, "greedy")``) and certify it.

    Examples
    --------
    >>> from proofs.adversary import instance_from_adjacency, upper_triangular_adjacency
    >>> cert = certify_greedy(instance_from_adjacency(upper_triangular_adjacency(4), 4))
    >>> bool(cert.verify()), cert.alg, cert.dual_value
    (True, Fraction(2, 1), Fraction(4, 1))
    """
    return greedy_dual_certificate(instance, matching.solve(instance, "greedy").edges, k)


def unit_instance(instance: Instance) -> Instance:
    """Return ``instance`` with unit weights, loads and capacities (same graph).

    Examples
    --------
    >>> from matching.families import random_groups
    >>> inst = unit_instance(random_groups(4, 10, 8, capacity=2, max_load=2, seed=1))
    >>> inst.n_edges, float(inst.edge_weight.max()), inst.is_bipartite
    (24, 1.0, False)
    >>> bool((inst.edge_load == 1).all() and (inst.capacity == 1).all())
    True
    """
    return instance.replace(
        edge_weight=np.ones(instance.n_edges),
        edge_load=np.ones(instance.n_edges),
        capacity=np.ones(instance.n_resources),
        edge_duration=None,
    )


def greedy_tight_instance(k: int) -> Instance:
    """Build the instance where greedy gets 1 and ``OPT = k + 1``: the bound is attained.

    Group 0 holds requests ``0 .. k-1`` on resource 0 and comes first; group ``i``
    (``1 <= i <= k``) is request ``i - 1`` alone on resource ``i``; group ``k + 1`` is
    request ``k`` alone on resource 0. Greedy takes group 0, which blocks every other
    group; the optimum serves the other ``k + 1`` groups.

    Examples
    --------
    >>> import matching
    >>> inst = greedy_tight_instance(3)
    >>> matching.solve(inst, "greedy").value, matching.solve(inst, "mip").value
    (1.0, 4.0)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    groups = [list(range(k)), *([i] for i in range(k)), [k]]
    edges = [(0, 0, 1.0), *((i, i, 1.0) for i in range(1, k + 1)), (0, k + 1, 1.0)]
    return Instance(groups, edges, capacity=np.ones(k + 1))
