"""Offline solves of a matching instance: exact, relaxed and greedy."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from matching._bipartite import bipartite_solution
from matching._cpsat import solve_cpsat
from matching._greedy import greedy_edges
from matching._mathopt import mip_proves_on_grid, solve_mathopt
from matching._validate import check_solve_arguments
from matching.model import Instance
from matching.result import MatchingResult, Status, integral_result

__all__ = ["METHODS", "solve"]


#: Methods accepted by :func:`solve`.
METHODS = ("auto", "cpsat", "mip", "lp", "bipartite", "greedy")

_OPTIONS = {
    "auto": set(),
    "cpsat": {"hint"},
    "mip": {"solver"},
    "lp": {"solver"},
    "bipartite": set(),
    "greedy": {"key"},
}


def solve(
    instance: Instance,
    method: str = "auto",
    *,
    time_limit: float | None = None,
    seed: int = 0,
    threads: int | None = None,
    log: bool = False,
    objective: str = "max",
    serve_all: bool = False,
    **options: Any,
) -> MatchingResult:
    """Find a maximum- (or minimum-) weight matching of a tripartite instance.

    Maximises ``sum(w[e] * x[e])`` subject to every request lying in at most one chosen
    group and every resource's chosen loads summing to at most its capacity.

    Weights must satisfy ``MIN_ABS_WEIGHT <= |w| <= MAX_ABS_WEIGHT`` (``1e-100`` and
    ``1e100``, :data:`matching.MIN_ABS_WEIGHT`, :data:`matching.MAX_ABS_WEIGHT`) or be
    zero; any other weight raises a ValueError naming the edge and the value before any
    solver runs. Within that range one power of two scales the weights exactly into
    ``[0.5, 1)`` for the MathOpt solvers, whose tolerances therefore act relative to
    the largest weight; ``stats["optimality_tolerance"]`` states the absolute
    tolerance of the answer. Status ``"optimal"`` is only reported when the value,
    recomputed from the true weights, lies within that tolerance of the bound.

    Parameters
    ----------
    instance : Instance
        The instance; it was validated when it was built.
    method : {"auto", "cpsat", "mip", "lp", "bipartite", "greedy"}, default "auto"
        - ``"cpsat"``: the integer program with OR-Tools CP-SAT. Loads and capacities,
          read as the decimals they print as, must become integers below ``2**53``
          when scaled by one ``10**d`` (``d <= 6``); other data raises a ValueError
          that names the value. Weights are scaled to integers exactly when they are
          such decimals and to a resolution of ``2**-40`` of the largest weight
          otherwise; the bound then includes the rounding
          (``stats["weight_rounding_slack"]``, for decimals the sub-ulp gap to their
          floats) so it stays valid.
          Option ``hint`` (default True) seeds the search with the greedy matching
          (not under ``serve_all``, which the greedy matching does not meet).
        - ``"mip"``: the integer program through OR-Tools MathOpt; option ``solver``:
          ``"highs"`` (default), ``"scip"`` or ``"cpsat"``. The bound is the solver's
          dual bound plus its tolerances (one ``1e-7`` of the largest weight per
          variable and row). The greedy matching is returned when it is better than the
          solver's (at a time limit); under a time limit HiGHS runs without presolve,
          which does not look at the clock.
        - ``"lp"``: the LP relaxation through MathOpt; option ``solver``: ``"glop"``
          (default), ``"pdlp"`` or ``"highs"``. Returns the fractional ``x`` and the
          dual prices of requests and resources; the prices are repaired to exact dual
          feasibility and the bound is their value summed with rounding error bounds,
          so it bounds the LP optimum whatever the solver's accuracy. With
          ``serve_all`` the request rows are equalities and their prices are free in
          sign.
        - ``"bipartite"``: singleton groups, unit loads and capacities. Graphs with at
          least 10% of the possible edges go to
          :func:`scipy.optimize.linear_sum_assignment` (the grid layout is detected
          however the instance was built); sparser ones to OR-Tools' min-cost flow,
          whose matching is proven optimal by an LP dual certificate computed in
          floating point with a data-relative tolerance (``bound`` is that dual value),
          with :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching` as the
          fallback when the certificate does not close. Parallel edges of one pair keep
          the heaviest.
        - ``"greedy"``: edges by decreasing weight (option ``key="weight"``) or weight
          per unit load (``key="density"``); at least ``1/(k+1)`` of the optimum for
          unit loads and groups of at most ``k`` requests. No bound is proven.
        - ``"auto"``: ``"bipartite"`` when it applies; ``"mip"`` for singleton groups
          with loads (generalized assignment) and decimal weights, where HiGHS measured
          best; else ``"cpsat"`` (groups of several requests, as in ride-sharing).
    time_limit : float, optional
        Seconds for ``cpsat``, ``mip`` and ``lp``, at most ``10**7`` (about 116 days;
        :data:`matching.MAX_TIME_LIMIT`); None for no limit. The limit covers the whole
        call: the solver gets what is left after building the model. On the limit the
        best matching found is returned with status ``"time-limit"`` and the proven
        bound; ``cpsat`` and ``mip`` return at least the greedy matching.
        The polynomial methods ``bipartite`` and ``greedy`` always run to completion.
    seed : int, default 0
        Random seed passed to the solver, ``0 <= seed <= 2**31 - 1``.
    threads : int, optional
        Worker threads for the solver, ``1 .. 2**31 - 1`` (solver default when None).
    log : bool, default False
        Print the solver's log. Without it the MathOpt solvers print nothing: the
        process's standard output is pointed at the null device during their solve.
    objective : {"max", "min"}, default "max"
        ``"min"`` minimises ``sum(w[e] * x[e])`` (the back ends maximise the negated
        weights). ``value`` is the true weight of the choice and ``bound`` a lower bound
        of the minimum. Without ``serve_all`` the empty matching is feasible, so with
        non-negative weights the minimum is the empty matching (value 0).
    serve_all : bool, default False
        Every request ``0 .. n_requests - 1`` must lie in exactly one chosen group
        (equality rows). When no matching does that the result has status
        ``"infeasible"``, no edges, value NaN and bound ``-inf`` (``"max"``) or ``+inf``
        (``"min"``); a request without an edge that fits is detected before any solver
        runs. ``"greedy"`` refuses it (it cannot guarantee coverage); ``"bipartite"``
        passes it to the assignment solver.
    **options
        Method-specific options listed above.

    Returns
    -------
    MatchingResult
        Chosen edges, value, bound, gap, status, time; ``result.check(instance)``
        re-verifies it.

    Raises
    ------
    ValueError, TypeError
        On an unknown method or option, a bad argument (a string, a bool or a value
        out of the ranges above, naming the argument; ``hint`` and ``log`` must be
        bools), or data that the chosen method cannot take (for example fractional
        loads with ``"cpsat"``), before any solver runs. See
        :func:`matching._validate.check_solve_arguments`.

    Examples
    --------
    >>> import matching
    >>> inst = matching.Instance(
    ...     groups=[[0, 1], [1], [2]],
    ...     edges=[(0, 0, 2.0), (0, 1, 1.0), (1, 2, 1.0)],
    ...     capacity=[1, 1],
    ... )
    >>> res = matching.solve(inst)
    >>> res.status.value, res.value, res.assignment.tolist()
    ('optimal', 3.0, [[0, 0], [1, 2]])
    >>> lp = matching.solve(inst, "lp")
    >>> float(lp.value), lp.request_prices.tolist()
    (3.0, [...])
    >>> matching.solve(inst, "greedy").value
    3.0

    An assignment problem: every task (request) to one worker (resource) at least cost.

    >>> cost = [[4.0, 1.0, 3.0], [2.0, 0.5, 5.0], [3.0, 2.0, 2.0]]
    >>> task = matching.Instance.bipartite(cost)
    >>> res = matching.solve(task, "cpsat", objective="min", serve_all=True)
    >>> res.status.value, res.value, res.assignment.tolist()
    ('optimal', 5.0, [[0, 1], [1, 0], [2, 2]])
    >>> res.bound <= res.value and res.check(task)
    True
    """
    check_solve_arguments(
        instance,
        method,
        time_limit=time_limit,
        seed=seed,
        threads=threads,
        log=log,
        options=options,
        methods=_OPTIONS,
        objective=objective,
        serve_all=serve_all,
    )
    start = time.perf_counter()
    sense = _Sense(objective, bool(serve_all))
    # the back ends maximise; a minimisation hands them the sign-flipped weights
    weights = instance.edge_weight if objective == "max" else -instance.edge_weight
    if method == "auto":
        method = _auto_method(instance, weights)
    unservable = _unservable_request(instance) if serve_all else None
    if unservable is not None:
        result = sense.result(
            instance,
            None,
            bound=-math.inf,
            status=Status.INFEASIBLE,
            method=method,
            stats={"solver": "none", "infeasible_request": unservable},
        )
    elif method == "cpsat":
        out = solve_cpsat(
            instance,
            time_limit=time_limit,
            seed=int(seed),
            threads=threads,
            log=log,
            hint=bool(options.get("hint", True)),
            weights=weights,
            serve_all=sense.serve_all,
        )
        result = sense.result(
            instance, out.edges, bound=out.bound, status=out.status, method=method, stats=out.stats
        )
    elif method in ("mip", "lp"):
        result = _solve_mathopt(
            instance, method, time_limit, int(seed), threads, log, options, weights, sense
        )
    elif method == "bipartite":
        solution = bipartite_solution(instance, weights=weights, serve_all=sense.serve_all)
        found = solution is not None
        if not found:
            status = Status.INFEASIBLE
        elif solution.bound - solution.value <= solution.tolerance:
            status = Status.OPTIMAL
        else:
            status = Status.FEASIBLE  # a certificate that does not close is no proof
        result = sense.result(
            instance,
            solution.edges if found else None,
            bound=solution.bound if found else -math.inf,
            status=status,
            method=method,
            stats={
                "solver": solution.solver if found else "none",
                "optimality_tolerance": solution.tolerance if found else 0.0,
            },
        )
    else:
        key = options.get("key", "weight")
        result = sense.result(
            instance,
            greedy_edges(instance, key, weights=weights),
            bound=math.inf,
            status=Status.FEASIBLE,
            method=method,
            stats={"solver": "greedy", "key": key},
        )
    if method in ("cpsat", "mip", "lp") and sense.sign * result.bound == math.inf:
        # the solver proved no bound (stopped early): fall back on the requests' shares
        share = _share_bound(instance, weights, sense.serve_all)
        result = dataclasses.replace(result, bound=sense.sign * share)
        result.stats["bound_source"] = "request shares"
    return _with_time(result, time.perf_counter() - start)


@dataclasses.dataclass(frozen=True)
class _Sense:
    """The objective sense and ``serve_all`` of a solve, and the results in its terms."""

    objective: str
    serve_all: bool

    @property
    def sign(self) -> float:
        """+1 for ``"max"``, -1 for ``"min"``: real weights = sign * maximised weights."""
        return 1.0 if self.objective == "max" else -1.0

    @property
    def plain(self) -> bool:
        """True for the classic problem: maximise, requests may stay unserved."""
        return self.objective == "max" and not self.serve_all

    def result(
        self,
        instance: Instance,
        edges: np.ndarray | None,
        *,
        bound: float,
        status: Status,
        method: str,
        stats: dict[str, Any],
    ) -> MatchingResult:
        """Return a 0/1 result; ``bound`` is on the maximised (sign-flipped) weights."""
        if status is Status.INFEASIBLE:
            edges, bound = None, -math.inf
        return integral_result(
            instance,
            edges,
            bound=self.sign * bound,
            status=status,
            method=method,
            stats=stats,
            objective=self.objective,
            serve_all=self.serve_all,
        )


def _auto_method(instance: Instance, weights: np.ndarray) -> str:
    """Pick the exact path that measured fastest for the instance's structure.

    Bipartite instances take the assignment path. Singleton groups with loads -- the
    generalized assignment structure -- take HiGHS's MIP, which proved more Chu-Beasley
    instances and found cheaper assignments at the time limit than CP-SAT on one worker
    (``benchmarks/gap_auto.py``), when its proof can be exact: decimal weights whose grid
    is coarser than the MIP's tolerance allowance (not on wide-ranging weights).
    Everything else -- groups of several requests, as in ride-sharing -- takes CP-SAT,
    which won there (``benchmarks/solver_speed.py``).
    """
    if instance.is_bipartite:
        return "bipartite"
    singletons = bool((instance.group_sizes == 1).all())
    n_rows = instance.n_requests + instance.n_resources
    if singletons and mip_proves_on_grid(weights, n_rows):
        return "mip"
    return "cpsat"


def _share_bound(instance: Instance, weights: np.ndarray, serve_all: bool) -> float:
    """Return a proven upper bound on the maximum of ``weights``: the requests' best shares.

    Split each edge's weight evenly over its group's requests. Every request lies in at
    most one chosen group (exactly one with ``serve_all``), so the optimum -- and the LP
    optimum -- is at most the sum over requests of the best share that an edge fitting
    its capacity offers them (floored at 0 unless ``serve_all``). Rounded up.
    """
    share = np.where(
        instance.edge_fits, weights / instance.group_sizes[instance.edge_group], -np.inf
    )
    rows = instance.request_edges
    best = np.full(instance.n_requests, -np.inf)
    filled = np.flatnonzero(np.diff(rows.indptr) > 0)
    if filled.size:
        best[filled] = np.maximum.reduceat(share[rows.indices], rows.indptr[filled])
    if not serve_all:
        best = np.maximum(best, 0.0)
    total = math.fsum(best.tolist())
    # each share is within half an ulp of its quotient; the sum is correctly rounded
    slack = float(np.spacing(np.abs(best[np.isfinite(best)])).sum()) + abs(total) * 2.0**-52
    return math.nextafter(total + slack, math.inf)


def _unservable_request(instance: Instance) -> int | None:
    """Return the first request that no edge can serve (none fits its capacity)."""
    reach = instance.request_edges @ instance.edge_fits.astype(np.float64)
    missing = np.flatnonzero(reach == 0)
    return int(missing[0]) if missing.size else None


def _solve_mathopt(
    instance: Instance,
    method: str,
    time_limit: float | None,
    seed: int,
    threads: int | None,
    log: bool,
    options: dict[str, Any],
    weights: np.ndarray,
    sense: _Sense,
) -> MatchingResult:
    relax = method == "lp"
    solver = options.get("solver", "glop" if relax else "highs")
    out = solve_mathopt(
        instance,
        relax=relax,
        solver=solver,
        time_limit=time_limit,
        seed=seed,
        threads=threads,
        log=log,
        weights=weights,
        serve_all=sense.serve_all,
    )
    if not relax or out.status is Status.INFEASIBLE:
        found = out.x.any() or not sense.serve_all or instance.n_requests == 0
        return sense.result(
            instance,
            np.flatnonzero(out.x > 0.5) if found else None,
            bound=out.bound,
            status=out.status,
            method=method,
            stats=out.stats,
        )
    x = out.x
    prices = [
        None if p is None else sense.sign * p for p in (out.request_prices, out.resource_prices)
    ]
    return MatchingResult(
        edges=np.flatnonzero(x > max(1e-9, out.stats["feasibility_tolerance"])),
        n_edges=instance.n_edges,
        value=float(instance.edge_weight @ x),
        bound=sense.sign * out.bound,
        status=out.status,
        method=method,
        wall_time=0.0,
        request_prices=prices[0],
        resource_prices=prices[1],
        stats=out.stats,
        objective=sense.objective,
        serve_all=sense.serve_all,
        _x=x,
    )


def _with_time(result: MatchingResult, seconds: float) -> MatchingResult:
    return dataclasses.replace(result, wall_time=seconds)
