"""The one result object of every solve, with an independent feasibility check."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching._intervals import overloaded, peak_loads
from matching._validate import check_real, check_type
from matching.model import Instance

__all__ = ["InfeasibleMatchingError", "MatchingResult", "Status"]

_EPS = float(np.finfo(np.float64).eps)


class Status(enum.StrEnum):
    """How a solve ended.

    ``OPTIMAL``: proven optimal (``bound`` equals ``value`` up to the stated tolerance).
    ``FEASIBLE``: a valid matching without a proof of optimality (heuristics).
    ``TIME_LIMIT``: the time limit stopped the solver; the best matching found and the
    proven bound are returned.
    A solver's claim of optimality that fails the check on the true weights (value
    further from the bound than ``stats["optimality_tolerance"]``) is reported as
    ``FEASIBLE`` too.
    ``INFEASIBLE_INPUT``: the solver failed (never expected: the empty matching is always
    feasible, so this signals a numerical failure of the backend); the returned matching
    is valid but the bound is ``inf``.
    ``INFEASIBLE``: the constraints admit no matching at all (``serve_all=True`` with a
    request that no feasible choice of groups covers); no edges, ``value`` is NaN and
    ``bound`` is ``-inf`` for ``objective="max"``, ``+inf`` for ``"min"``.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    TIME_LIMIT = "time-limit"
    INFEASIBLE_INPUT = "infeasible-input"
    INFEASIBLE = "infeasible"


class InfeasibleMatchingError(ValueError):
    """A result violates a constraint of its instance; the message names which."""


@dataclass(frozen=True, eq=False)
class MatchingResult:
    """Outcome of :func:`matching.solve`.

    Attributes
    ----------
    edges : ndarray of int
        Indices of the chosen edges, ascending. For ``method="lp"``, the support of the
        fractional solution ``x``.
    x : ndarray of float
        Value of every edge variable: 0/1 for a matching (built on access from
        ``edges``), fractional for the LP.
    value : float
        Objective ``sum(weight[e] * x[e])``, recomputed in float64 from the instance;
        NaN when no matching meets the constraints (``serve_all``) or none was found.
    bound : float
        Proven bound on the optimum: an upper bound for ``objective="max"`` (``inf``
        when the method proves none), a lower bound for ``"min"`` (``-inf`` for none).
    status : Status
    method : str
        The method that ran (``"auto"`` is resolved to the method it chose).
    wall_time : float
        Seconds spent in :func:`matching.solve`, model building included.
    request_prices, resource_prices : ndarray or None
        LP dual values of the request and resource constraints (``method="lp"``).
    stats : dict
        Backend details: solver name, build and solve seconds, weight scaling, ...
    objective : {"max", "min"}
        The sense that was optimised.
    serve_all : bool
        True when every request had to be served; :meth:`check` then verifies it.
    start : ndarray of float or None
        For schedules on reusable resources (the hindsight optimum of an online input):
        when each edge of the instance would start; a chosen edge ``e`` holds
        ``load[e]`` of its resource during ``[start[e], start[e] + duration[e])``, and
        :meth:`check` verifies capacity at every instant of those intervals.
    """

    edges: np.ndarray
    n_edges: int
    value: float
    bound: float
    status: Status
    method: str
    wall_time: float
    request_prices: np.ndarray | None = None
    resource_prices: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    objective: str = "max"
    serve_all: bool = False
    start: np.ndarray | None = field(default=None, repr=False)
    _x: np.ndarray | None = field(default=None, repr=False)
    _resources: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    _groups: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    @property
    def x(self) -> np.ndarray:
        """Value of every edge variable (0/1 for a matching, fractional for the LP)."""
        return self._x if self._x is not None else _indicator(self.edges, self.n_edges)

    @property
    def fractional(self) -> bool:
        """True for relaxed (LP) results whose ``x`` may be fractional."""
        return self.method == "lp"

    @property
    def assignment(self) -> np.ndarray:
        """Chosen ``(resource, group)`` pairs, one row per chosen edge."""
        return np.column_stack([self._resources, self._groups]).astype(np.int64)

    @property
    def gap(self) -> float:
        """Relative gap ``|bound - value| / max(1, |bound|)`` in the objective's sense.

        ``(bound - value)`` for ``"max"``, ``(value - bound)`` for ``"min"``, never below
        0; ``inf`` without a finite bound or value.
        """
        if not (np.isfinite(self.bound) and np.isfinite(self.value)):
            return float("inf")
        distance = self.bound - self.value if self.objective == "max" else self.value - self.bound
        return max(0.0, distance / max(1.0, abs(self.bound)))

    def __repr__(self) -> str:
        return (
            f"MatchingResult(status={self.status.value!r}, method={self.method!r}, "
            f"value={self.value:.6g}, bound={self.bound:.6g}, gap={self.gap:.3g}, "
            f"n_chosen={self.edges.size}, wall_time={self.wall_time:.3g}s)"
        )

    def check(self, instance: Instance, *, tol: float = 1e-9) -> bool:
        """Re-verify every constraint of ``instance`` for this result.

        Checks, independently of the solver: edge ids in range and distinct; the
        assignment matches the edges; ``x`` is 0/1 on exactly the chosen edges (or
        within [0, 1] for the LP); every request is covered at most once; every
        resource's load is within capacity; with ``serve_all`` every request is covered
        exactly once; ``value`` equals the weights of ``x``; and ``bound >= value``
        (``bound <= value`` for ``objective="min"``). A result without a matching
        (``value`` NaN: status ``"infeasible"``, or a ``"time-limit"`` that found none
        under ``serve_all``) must have no edges.

        Parameters
        ----------
        instance : Instance
            The instance that was solved.
        tol : float, default 1e-9
            Absolute slack allowed on each inequality of a fractional (LP) result
            (scaled by the capacity for loads), and relative slack of ``value``. Raised
            to ``stats["feasibility_tolerance"]`` when the solver states a looser one
            (PDLP, a first-order LP method: 1e-6). A 0/1 result is held to float noise
            instead: each request served at most once, each resource's accurately
            summed load within a few ulps of its capacity and of the summed loads (so
            decimal data like ``0.1 + 0.2 <= 0.3`` passes, ``1e12 + 0.8 <= 1e12 + 0.5``
            fails), and ``bound`` below ``value`` only by the rounding of the sum of
            weights (plus a tolerance the solver states).

        Returns
        -------
        bool
            True; a violation raises instead.

        Raises
        ------
        InfeasibleMatchingError
            Naming the first violated constraint.
        TypeError, ValueError
            When ``instance`` is not a :class:`~matching.Instance` or ``tol`` is not a
            non-negative number.

        Examples
        --------
        >>> import matching
        >>> inst = matching.Instance([[0, 1], [1], [2]], [(0, 0, 2.0), (0, 1, 1.0), (1, 2, 1.0)])
        >>> matching.solve(inst).check(inst)
        True
        """
        check_type(instance, Instance, "instance", "a matching.Instance")
        tol = check_real(tol, "tol", low=0.0)
        fail = InfeasibleMatchingError
        stated = float(self.stats.get("feasibility_tolerance", 0.0))
        tol = max(tol, stated)
        n_e = instance.n_edges
        edges = np.asarray(self.edges)
        if np.isnan(self.value) or self.status is Status.INFEASIBLE:
            if edges.size or not np.isnan(self.value):
                raise fail("a result without a matching must have no edges and a NaN value")
            if self.status not in (Status.INFEASIBLE, Status.TIME_LIMIT):
                raise fail(f"status {self.status.value!r} needs a matching")
            return True
        if edges.size and (edges.min() < 0 or edges.max() >= n_e):
            raise fail(f"edge index out of range 0..{n_e - 1}: {edges.min()}..{edges.max()}")
        if np.unique(edges).size != edges.size:
            raise fail("an edge is chosen twice")
        x = np.asarray(self.x if self._x is not None else _indicator(edges, n_e))
        if x.shape != (n_e,):
            raise fail(f"x has shape {x.shape}, expected ({n_e},)")
        if not np.isfinite(x).all() or (x < -tol).any() or (x > 1 + tol).any():
            e = int(np.flatnonzero(~(np.abs(x - 0.5) <= 0.5 + tol))[0])
            raise fail(f"x[{e}] = {x[e]!r} is outside [0, 1]")
        if self.fractional:
            support = np.flatnonzero(x > tol)
            if not np.array_equal(np.sort(edges), support):
                raise fail("edges must list the support of x for an LP result")
        else:
            chosen = np.zeros(n_e, dtype=bool)
            chosen[edges] = True
            if not np.array_equal(x, chosen.astype(np.float64)):
                e = int(np.flatnonzero(x != chosen)[0])
                raise fail(f"x[{e}] = {x[e]!r} disagrees with the chosen edges")
            pairs = np.column_stack([instance.edge_resource[edges], instance.edge_group[edges]])
            if not np.array_equal(self.assignment.reshape(-1, 2), pairs):
                raise fail("assignment does not match the chosen edges")
        served = instance.request_edges @ x  # exact counts for a 0/1 result
        over = np.flatnonzero(served > 1 + (tol if self.fractional else 0.0))
        if over.size:
            q = int(over[0])
            cover = instance.request_edges.indices[
                instance.request_edges.indptr[q] : instance.request_edges.indptr[q + 1]
            ]
            used = [int(e) for e in cover if x[e] > tol]
            raise fail(f"request {q} is served {served[q]:.6g} times (edges {used})")
        if self.serve_all:
            under = np.flatnonzero(served < 1 - (tol if self.fractional else 0.0))
            if under.size:
                q = int(under[0])
                raise fail(f"request {q} is served {served[q]:.6g} times, not once (serve_all)")
        if self.start is not None:
            self._check_schedule(instance, x, tol)
        else:
            if self.fractional:
                load = np.bincount(
                    instance.edge_resource,
                    weights=instance.edge_load * x,
                    minlength=instance.n_resources,
                )
                limit = instance.capacity + tol * np.maximum(1.0, instance.capacity)
                over = np.flatnonzero(~(load <= limit))
            else:  # exact, on the decimals the data print as
                over, load, _ = overloaded(
                    instance.edge_resource[edges],
                    np.zeros(edges.size),
                    np.full(edges.size, np.inf),
                    instance.edge_load[edges],
                    instance.capacity,
                )
            if over.size:
                r = int(over[0])
                raise fail(
                    f"resource {r} carries load {load[r]:.17g} over its capacity "
                    f"{instance.capacity[r]:.17g}"
                )
        value = float(instance.edge_weight @ x)
        scale = max(1.0, abs(value))
        if abs(value - self.value) > tol * scale * 10:
            raise fail(f"value {self.value!r} differs from the weight of x, {value!r}")
        if self.fractional:
            below = tol * scale * 10
        else:  # the rounding of a float sum of the chosen weights
            rounding = (edges.size + 1) * _EPS * float(np.abs(instance.edge_weight[edges]).sum())
            below = rounding + stated * scale * 10
        if self.objective == "max" and self.bound < self.value - below:
            raise fail(f"bound {self.bound!r} is below value {self.value!r}")
        if self.objective == "min" and self.bound > self.value + below:
            raise fail(f"bound {self.bound!r} is above value {self.value!r} (objective='min')")
        return True

    def _check_schedule(self, instance: Instance, x: np.ndarray, tol: float) -> None:
        """Capacity at every instant of the half-open busy intervals of a schedule."""
        fail = InfeasibleMatchingError
        start = np.asarray(self.start, dtype=np.float64)
        if instance.edge_duration is None:
            raise fail("a schedule (start times) needs an instance with edge durations")
        if start.shape != (instance.n_edges,):
            raise fail(f"start has shape {start.shape}, expected ({instance.n_edges},)")
        used = np.flatnonzero(x > 0)
        if not np.isfinite(start[used]).all():
            raise fail("a chosen edge has no finite start time")
        if self.fractional:  # an LP solver's stated feasibility tolerance
            peak, when = peak_loads(
                instance.edge_resource[used],
                start[used],
                start[used] + instance.edge_duration[used],
                instance.edge_load[used] * x[used],
                instance.n_resources,
            )
            limit = instance.capacity + tol * np.maximum(1.0, instance.capacity)
            over = np.flatnonzero(peak > limit)
        else:  # exact, on the decimals the data print as
            over, peak, when = overloaded(
                instance.edge_resource[used],
                start[used],
                start[used] + instance.edge_duration[used],
                instance.edge_load[used],
                instance.capacity,
            )
        if over.size:
            r = int(over[0])
            raise fail(
                f"resource {r} holds load {peak[r]:.17g} at time {when[r]:.6g}, over its "
                f"capacity {instance.capacity[r]:.17g}"
            )


def integral_result(
    instance: Instance,
    edges: np.ndarray | None,
    *,
    bound: float,
    status: Status,
    method: str,
    stats: dict[str, Any],
    objective: str = "max",
    serve_all: bool = False,
) -> MatchingResult:
    """Assemble a :class:`MatchingResult` for a 0/1 choice of ``edges`` (internal).

    ``bound`` is reported as given: the solver's proven bound, never raised to the value.
    ``edges=None`` stands for no matching (value NaN).
    """
    found = edges is not None
    edges = np.sort(np.asarray(edges if found else [], dtype=np.int64))
    value = float(instance.edge_weight[edges].sum()) if found else float("nan")
    return MatchingResult(
        edges=edges,
        n_edges=instance.n_edges,
        value=value,
        bound=bound,
        status=status,
        method=method,
        wall_time=0.0,
        stats=stats,
        objective=objective,
        serve_all=serve_all,
        _resources=instance.edge_resource[edges],
        _groups=instance.edge_group[edges],
    )


def _indicator(edges: np.ndarray, n_edges: int) -> np.ndarray:
    x = np.zeros(n_edges)
    x[edges] = 1.0
    return x
