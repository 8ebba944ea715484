"""The matching integer program and its LP relaxation through OR-Tools MathOpt.

The model is written straight into a ``ModelProto`` from numpy arrays (no Python object
per variable), so building stays fast at hundreds of thousands of edges.

Rows are the requests, then the resources. The LP gives every variable the bounds
``[0, inf)``: ``x_e <= 1`` already follows from the row of any request in the group, so
the dual values are exactly the prices ``y_q >= 0`` of requests and ``z_r >= 0`` of
resources with ``w_e <= sum_{q in g(e)} y_q + l_e z_{r(e)}`` for every edge (with
``serve_all`` the request rows are equalities and ``y_q`` is free in sign).

Numerics. The weights reach the solver multiplied by a power of two that brings the
largest into ``[0.5, 1)``, so the scaling is exact and the solvers' absolute tolerances
act relative to the data. The LP bound is the value of the solver's dual prices after
they are repaired to exact dual feasibility, summed with rounding error bounds, so it
is an upper bound of the LP optimum whatever the solver's accuracy. The MIP bound is the
solver's dual bound plus its tolerance slack (``stats["optimality_tolerance"]``). A
status is ``OPTIMAL`` only when the solver says so *and* the recomputed value is within
that tolerance of the bound; otherwise ``FEASIBLE``.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from ortools.math_opt import model_pb2, result_pb2
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.python import mathopt
from pybind11_abseil.status import StatusNotOk

from matching._greedy import best_greedy_edges
from matching._scaling import decimal_weight_scaling
from matching._timing import solver_time_left
from matching.model import Instance
from matching.result import Status

__all__ = ["LP_SOLVERS", "MIP_SOLVERS", "MathOptOutcome", "solve_mathopt"]

MIP_SOLVERS = {
    "highs": mathopt.SolverType.HIGHS,
    "scip": mathopt.SolverType.GSCIP,
    "cpsat": mathopt.SolverType.CP_SAT,
}
LP_SOLVERS = {
    "glop": mathopt.SolverType.GLOP,
    "pdlp": mathopt.SolverType.PDLP,
    "highs": mathopt.SolverType.HIGHS,
}

_REASON = result_pb2.TerminationReasonProto
#: PDLP's optimality tolerance (absolute and relative); its default, 1e-6, leaves
#: request rows violated by more than 1e-6.
_PDLP_EPS = 1e-8
#: Feasibility tolerance of the solvers on the scaled model (HiGHS, SCIP and GLOP use
#: 1e-7 or tighter); the optimality tolerance charges it once per variable and row.
_SOLVER_TOL = 1e-7
#: Absolute MIP gap on the scaled objective (largest weight in ``[0.5, 1)``).
_MIP_GAP = 1e-9
#: ``mip`` calls a matching optimal when its value is within this fraction of itself
#: of the bound (after the bound is rounded to the data's decimal grid, if it has one).
MIP_RELATIVE_TOLERANCE = 1e-6
#: Under a time limit HiGHS's MIP presolve is switched off above this many variables.
PRESOLVE_LIMIT_VARIABLES = 20_000

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class MathOptOutcome:
    """Primal values per edge, duals, bound, status and statistics.

    ``bound`` and the prices are in the units of the weights that were maximised.
    """

    x: np.ndarray
    bound: float
    status: Status
    request_prices: np.ndarray | None
    resource_prices: np.ndarray | None
    stats: dict[str, Any]


def power_of_two_scale(weights: np.ndarray) -> float:
    """Return the power of two bringing the largest ``|w|`` into ``[0.5, 1)`` (1 for none).

    Examples
    --------
    >>> power_of_two_scale(np.array([3e-7, -1e-7]))
    2097152.0
    """
    largest = float(np.abs(weights).max(initial=0.0))
    if largest == 0.0:
        return 1.0
    return math.ldexp(1.0, -math.frexp(largest)[1])


def _constraint_matrix(
    instance: Instance, cols: np.ndarray, capacity_matrix: sp.csr_array
) -> sp.csr_array:
    """Rows: requests then capacity rows; columns: the chosen edges ``cols``."""
    requests = instance.request_edges[:, cols]
    resources = capacity_matrix[:, cols]
    stacked = sp.vstack([requests, resources], format="csr")
    stacked.sort_indices()
    return stacked


def _build_proto(
    matrix: sp.csr_array,
    costs: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    integer: bool,
) -> model_pb2.ModelProto:
    proto = model_pb2.ModelProto(name="groupmatch")
    n = costs.size
    variables = proto.variables
    variables.ids.extend(range(n))
    variables.lower_bounds.extend(np.zeros(n).tolist())
    variables.upper_bounds.extend(np.full(n, 1.0 if integer else np.inf).tolist())
    variables.integers.extend([integer] * n)
    objective = proto.objective
    objective.maximize = True
    objective.linear_coefficients.ids.extend(range(n))
    objective.linear_coefficients.values.extend(costs.tolist())
    rows = proto.linear_constraints
    rows.ids.extend(range(lower.size))
    rows.lower_bounds.extend(lower.tolist())
    rows.upper_bounds.extend(upper.tolist())
    coo = matrix.tocoo()
    entries = proto.linear_constraint_matrix
    entries.row_ids.extend(coo.row.tolist())
    entries.column_ids.extend(coo.col.tolist())
    entries.coefficients.extend(coo.data.tolist())
    return proto


def _sparse_values(vector: Any, size: int) -> np.ndarray:
    out = np.zeros(size)
    ids = np.asarray(vector.ids, dtype=np.int64)
    if ids.size:
        out[ids] = np.asarray(vector.values, dtype=np.float64)
    return out


def _c_stdio_flush() -> None:
    """Flush the C library's stdio buffers (the solvers print through them)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def silenced_stdout(active: bool) -> Iterator[None]:
    """Point file descriptor 1 at the null device while ``active``.

    The C++ solvers write to the process's standard output directly, past
    ``sys.stdout``; this is the only way to keep them quiet. Output of other threads
    during the solve is dropped too.
    """
    if not active:
        yield
        return
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()
    _c_stdio_flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        _c_stdio_flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _upper_sum(values: np.ndarray) -> float:
    """Return a float at least the exact sum of ``values`` (any signs)."""
    total = float(values.sum())
    spread = float(np.abs(values).sum())
    if spread == 0.0:
        return 0.0
    return math.nextafter(total + (values.size + 2) * _EPS * spread, math.inf)


def repaired_dual_bound(
    matrix: sp.csr_array,
    costs: np.ndarray,
    rhs: np.ndarray,
    duals: np.ndarray,
    free: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Repair LP prices to exact dual feasibility and bound their value from above.

    For ``max c x, A x <= rhs (= on the rows marked free), x >= 0`` with ``A >= 0`` and
    every column holding a request row of coefficient 1, any ``u`` with ``u >= 0`` off
    the free rows and ``A^T u >= c`` proves ``c x <= rhs u``. Prices below zero are
    clipped, and a column short of its cost raises the price of its first row (a
    request row) by the shortfall plus the rounding error bound of its float dot
    product, rounded up; ``rhs u`` is summed with its error bound.

    Returns the repaired prices and the bound.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[1.0, 1.0], [1.0, 0.0]]))
    >>> u, b = repaired_dual_bound(a, np.array([1.0, 2.0]), np.ones(2), np.zeros(2),
    ...                            np.zeros(2, dtype=bool))
    >>> bool(b >= 2.0), bool((a.T @ u >= [1.0, 2.0]).all())
    (True, True)
    """
    u = np.where(free, duals, np.maximum(duals, 0.0))
    if costs.size:
        csc = matrix.tocsc()
        csc.sort_indices()
        activity = csc.T @ u
        spread = abs(csc).T @ np.abs(u) + np.abs(costs)
        depth = int(np.diff(csc.indptr).max(initial=0)) + 4
        short = costs - activity + depth * _EPS * spread
        need = np.flatnonzero(short > 0)
        if need.size:
            first = csc.indices[csc.indptr[need]]
            raise_by = np.zeros(u.size)
            np.maximum.at(raise_by, first, short[need] * (1.0 + 4 * _EPS))
            rows = np.flatnonzero(raise_by > 0)
            u[rows] = np.nextafter(u[rows] + raise_by[rows], np.inf)
    return u, _upper_sum(rhs * u) if u.size else 0.0


def mip_proves_on_grid(weights: np.ndarray, n_rows: int) -> bool:
    """Whether the MIP's tolerance allowance is finer than the weights' decimal grid.

    Then the grid rounding of :func:`_grid_bound` closes the allowance and the MIP proves
    optimality exactly; on wide-ranging or non-decimal weights it cannot.

    Examples
    --------
    >>> import numpy as np
    >>> mip_proves_on_grid(np.array([12.0, 50.0, 31.0]), 5)
    True
    >>> mip_proves_on_grid(np.array([1.0, 2.0**34]), 5)
    False
    """
    weights = np.asarray(weights, dtype=np.float64)
    scaling = decimal_weight_scaling(weights)
    if scaling is None or weights.size == 0:
        return False
    largest = float(np.abs(weights).max())
    allowance = 2 * _SOLVER_TOL * (weights.size + n_rows) * largest
    return allowance < 0.5 / scaling.scale


def _grid_bound(weights: np.ndarray, bound: float, value: float) -> tuple[float, float]:
    """Round a MIP bound down to the decimal grid of the weights; return it and the tolerance.

    The solver's bound carries its feasibility tolerances, which on wide-ranging data
    exceed the small weights. When the weights are decimals ``n / 10**d`` (up to their
    floats' half ulp, ``delta`` in all), every matching is worth a multiple of ``10**-d``
    up to ``delta``, so a valid bound ``B`` rounds down to ``floor((B + delta) 10**d) /
    10**d + delta``. The result is optimal only within ``2 delta`` plus
    :data:`MIP_RELATIVE_TOLERANCE` of its value of this bound: a tolerance relative to
    the answer, never to the largest weight, so that a huge weight cannot bless a wrong
    answer among small ones.
    """
    rounding = MIP_RELATIVE_TOLERANCE * abs(value) if math.isfinite(value) else 0.0
    scaling = decimal_weight_scaling(weights) if math.isfinite(bound) else None
    if scaling is None:
        return bound, rounding
    grid = math.floor((Fraction(bound) + Fraction(scaling.slack)) * Fraction(scaling.scale))
    return min(bound, scaling.upper_bound(Fraction(grid))), 2 * scaling.slack + rounding


def solve_mathopt(
    instance: Instance,
    *,
    relax: bool,
    solver: str,
    time_limit: float | None,
    seed: int,
    threads: int | None,
    log: bool = False,
    capacity_rows: tuple[sp.csr_array, np.ndarray] | None = None,
    weights: np.ndarray | None = None,
    serve_all: bool = False,
) -> MathOptOutcome:
    """Solve the matching IP (``relax=False``) or its LP relaxation with MathOpt.

    ``capacity_rows`` replaces the per-resource constraints (see ``solve_cpsat``); the
    resource prices are then one per row. ``weights`` (default the instance's) are
    maximised; ``serve_all`` makes every request row an equality. ``time_limit`` covers
    building the model too. The MIP returns the better of the solver's matching and the
    greedy one (unless ``serve_all``). ``solve_mathopt`` never raises on a solver
    failure: the status then is ``INFEASIBLE_INPUT`` (a numerical failure) and the
    bound ``inf``, or ``INFEASIBLE`` when the solver proved that ``serve_all`` cannot
    be met.
    """
    start = time.perf_counter()
    capacity_rows = capacity_rows or (instance.resource_edges, instance.capacity)
    weights = instance.edge_weight if weights is None else np.asarray(weights, np.float64)
    table = LP_SOLVERS if relax else MIP_SOLVERS
    if solver not in table:
        kind = "LP" if relax else "MIP"
        raise ValueError(f"unknown {kind} solver {solver!r}; choose one of {sorted(table)}")
    wanted = np.ones(instance.n_edges, dtype=bool) if serve_all else weights > 0
    if not relax:
        wanted &= instance.edge_fits
    cols = np.flatnonzero(wanted)
    scale = power_of_two_scale(weights[cols])
    costs = weights[cols] * scale  # exact: a power of two within the supported range
    capacity_matrix, capacity = capacity_rows
    matrix = _constraint_matrix(instance, cols, capacity_matrix)
    n_req = instance.n_requests
    n_rows = n_req + capacity.size
    upper = np.concatenate([np.ones(n_req), capacity])
    lower = np.full(n_rows, -np.inf)
    if serve_all:
        lower[:n_req] = 1.0
    proto = _build_proto(matrix, costs, lower, upper, integer=not relax)
    incumbent = None if relax or serve_all else best_greedy_edges(instance, weights)
    # the bound carries the solvers' tolerances once (slack); a value within twice that
    # (plus the MIP gap) of the bound is optimal up to the stated tolerance
    slack = _SOLVER_TOL * (cols.size + n_rows) / scale
    tolerance = 2 * slack + _MIP_GAP / scale

    params = mathopt.SolveParameters(enable_output=bool(log))
    if threads is not None and solver != "highs":  # HiGHS takes threads only globally
        params.threads = int(threads)
    if not relax or solver == "highs":
        params.random_seed = int(seed)
    if relax and solver == "pdlp":
        criteria = params.pdlp.termination_criteria.simple_optimality_criteria
        criteria.eps_optimal_absolute = _PDLP_EPS
        criteria.eps_optimal_relative = _PDLP_EPS
    if not relax:
        params.relative_gap_tolerance = 0.0
        params.absolute_gap_tolerance = _MIP_GAP
    if time_limit is not None and not relax and solver == "highs":
        # HiGHS's MIP presolve does not look at the clock (35 s and more for a 1 s limit
        # at 100,000 edges): under a time limit large models run without it
        if cols.size > PRESOLVE_LIMIT_VARIABLES:
            params.presolve = mathopt.Emphasis.OFF
    build_time = time.perf_counter() - start
    if time_limit is not None:
        seconds = solver_time_left(time_limit, start, cols.size)
        params.time_limit = datetime.timedelta(seconds=seconds)
    detail = ""
    try:
        with silenced_stdout(not log):
            raw = core_solver.solve(
                proto,
                table[solver].value,
                mathopt.StreamableSolverInitArguments().to_proto(),
                params.to_proto(),
                mathopt.ModelSolveParameters().to_proto(),
                None,
                mathopt.CallbackRegistration().to_proto(),
                None,
                None,
            )
        result = result_pb2.SolveResultProto.FromString(raw) if isinstance(raw, bytes) else raw
    except StatusNotOk as error:  # the solver failed; report it in the status
        result = result_pb2.SolveResultProto()
        result.termination.reason = _REASON.TERMINATION_REASON_OTHER_ERROR
        detail = str(error)
    solve_time = time.perf_counter() - start - build_time

    termination = result.termination
    reason = termination.reason
    x = np.zeros(instance.n_edges)
    duals = None
    if result.solutions:
        solution = result.solutions[0]
        if solution.HasField("primal_solution"):
            x[cols] = _sparse_values(solution.primal_solution.variable_values, cols.size)
        if relax:
            for candidate in result.solutions:
                if candidate.HasField("dual_solution"):
                    duals = _sparse_values(candidate.dual_solution.dual_values, n_rows)
                    break
    if reason == _REASON.TERMINATION_REASON_OPTIMAL:
        status = Status.OPTIMAL
    elif reason in (
        _REASON.TERMINATION_REASON_FEASIBLE,
        _REASON.TERMINATION_REASON_NO_SOLUTION_FOUND,
    ):
        status = Status.TIME_LIMIT
    elif serve_all and reason in (
        _REASON.TERMINATION_REASON_INFEASIBLE,
        # x in [0, 1] keeps every objective bounded: GLOP's "or unbounded" is infeasible
        _REASON.TERMINATION_REASON_INFEASIBLE_OR_UNBOUNDED,
    ):
        status = Status.INFEASIBLE
    else:
        status = Status.INFEASIBLE_INPUT
    bound = math.inf
    request_prices = resource_prices = None
    if relax:
        if duals is None and cols.size == 0 and not serve_all:
            duals = np.zeros(n_rows)  # no positive edge: zero prices are optimal
        if duals is not None and status is not Status.INFEASIBLE:
            free = np.zeros(n_rows, dtype=bool)
            free[:n_req] = serve_all
            prices, scaled_bound = repaired_dual_bound(matrix, costs, upper, duals, free)
            bound = scaled_bound / scale
            request_prices, resource_prices = prices[:n_req] / scale, prices[n_req:] / scale
        value = float(weights @ x)
    else:
        x = np.where(x > 0.5, 1.0, 0.0)
        dual_bound = termination.objective_bounds.dual_bound
        if cols.size == 0 and not serve_all:
            bound = 0.0
        elif status in (Status.OPTIMAL, Status.TIME_LIMIT) and np.isfinite(dual_bound):
            bound = math.nextafter(float(dual_bound) / scale + slack, math.inf)
        served = x.any() or not serve_all or instance.n_requests == 0
        value = float(weights @ x) if served else math.nan
        if incumbent is not None and float(weights[incumbent].sum()) > value:
            x = np.zeros(instance.n_edges)
            x[incumbent] = 1.0
            value = float(weights @ x)
        bound, tolerance = _grid_bound(weights[cols], bound, value)
    if status is Status.OPTIMAL and not bound - value <= tolerance:
        status = Status.FEASIBLE  # the solver's claim fails the check on the true weights
    stats = {
        "solver": f"MathOpt/{table[solver].name}",
        "solver_status": _REASON.Name(reason),
        "termination_detail": detail or termination.detail,
        "build_time": build_time,
        "solve_time": solve_time,
        "n_variables": int(cols.size),
        "n_constraints": int(n_rows),
        "weight_scale": scale,
        "optimality_tolerance": tolerance,
        # PDLP is a first-order method: its primal values are feasible to about 1e-6
        "feasibility_tolerance": 1e-6 if solver == "pdlp" else 1e-9,
    }
    return MathOptOutcome(
        x=x,
        bound=bound,
        status=status,
        request_prices=request_prices,
        resource_prices=resource_prices,
        stats=stats,
    )
