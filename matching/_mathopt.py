"""The matching integer program and its LP relaxation through OR-Tools MathOpt.

The model is written straight into a ``ModelProto`` from numpy arrays (no Python object
per variable), so building stays fast at hundreds of thousands of edges.

Rows are the requests, then the resources. The LP gives every variable the bounds
``[0, inf)``: ``x_e <= 1`` already follows from the row of any request in the group, so
the dual values are exactly the prices ``y_q >= 0`` of requests and ``z_r >= 0`` of
resources with ``w_e <= sum_{q in g(e)} y_q + l_e z_{r(e)}`` for every edge.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from ortools.math_opt import model_pb2, result_pb2
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.python import mathopt

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


@dataclass(frozen=True)
class MathOptOutcome:
    """Primal values per edge, duals, bound, status and statistics."""

    x: np.ndarray
    bound: float
    status: Status
    request_prices: np.ndarray | None
    resource_prices: np.ndarray | None
    stats: dict[str, Any]


def _constraint_matrix(
    instance: Instance, cols: np.ndarray, capacity_matrix: sp.csr_array
) -> sp.coo_array:
    """Rows: requests then capacity rows; columns: the chosen edges ``cols``."""
    requests = instance.request_edges[:, cols]
    resources = capacity_matrix[:, cols]
    stacked = sp.vstack([requests, resources], format="csr")
    stacked.sort_indices()
    return stacked.tocoo()


def _build_proto(
    instance: Instance,
    cols: np.ndarray,
    *,
    integer: bool,
    capacity_rows: tuple[sp.csr_array, np.ndarray],
) -> tuple[model_pb2.ModelProto, int]:
    proto = model_pb2.ModelProto(name="groupmatch")
    n = cols.size
    variables = proto.variables
    variables.ids.extend(range(n))
    variables.lower_bounds.extend(np.zeros(n).tolist())
    variables.upper_bounds.extend(np.full(n, 1.0 if integer else np.inf).tolist())
    variables.integers.extend([integer] * n)
    objective = proto.objective
    objective.maximize = True
    objective.linear_coefficients.ids.extend(range(n))
    objective.linear_coefficients.values.extend(instance.edge_weight[cols].tolist())
    capacity_matrix, capacity = capacity_rows
    n_rows = instance.n_requests + capacity.size
    rows = proto.linear_constraints
    rows.ids.extend(range(n_rows))
    rows.lower_bounds.extend(np.full(n_rows, -np.inf).tolist())
    upper = np.concatenate([np.ones(instance.n_requests), capacity])
    rows.upper_bounds.extend(upper.tolist())
    matrix = _constraint_matrix(instance, cols, capacity_matrix)
    entries = proto.linear_constraint_matrix
    entries.row_ids.extend(matrix.row.tolist())
    entries.column_ids.extend(matrix.col.tolist())
    entries.coefficients.extend(matrix.data.tolist())
    return proto, n_rows


def _sparse_values(vector: Any, size: int) -> np.ndarray:
    out = np.zeros(size)
    ids = np.asarray(vector.ids, dtype=np.int64)
    if ids.size:
        out[ids] = np.asarray(vector.values, dtype=np.float64)
    return out


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
) -> MathOptOutcome:
    """Solve the matching IP (``relax=False``) or its LP relaxation with MathOpt.

    ``capacity_rows`` replaces the per-resource constraints (see ``solve_cpsat``); the
    resource prices are then one per row.
    """
    capacity_rows = capacity_rows or (instance.resource_edges, instance.capacity)
    table = LP_SOLVERS if relax else MIP_SOLVERS
    if solver not in table:
        kind = "LP" if relax else "MIP"
        raise ValueError(f"unknown {kind} solver {solver!r}; choose one of {sorted(table)}")
    start = time.perf_counter()
    if relax:
        cols = np.flatnonzero(instance.edge_weight > 0)
    else:
        cols = instance.servable_edges
    proto, n_rows = _build_proto(instance, cols, integer=not relax, capacity_rows=capacity_rows)
    params = mathopt.SolveParameters(enable_output=bool(log))
    if time_limit is not None:
        params.time_limit = datetime.timedelta(seconds=float(time_limit))
    if threads is not None:
        params.threads = int(threads)
    if not relax or solver == "highs":
        params.random_seed = int(seed)
    if relax and solver == "pdlp":
        criteria = params.pdlp.termination_criteria.simple_optimality_criteria
        criteria.eps_optimal_absolute = _PDLP_EPS
        criteria.eps_optimal_relative = _PDLP_EPS
    if not relax:
        params.relative_gap_tolerance = 0.0
        params.absolute_gap_tolerance = 1e-9
    build_time = time.perf_counter() - start
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
    solve_time = time.perf_counter() - start - build_time

    termination = result.termination
    reason = termination.reason
    x = np.zeros(instance.n_edges)
    request_prices = resource_prices = None
    if result.solutions:
        solution = result.solutions[0]
        if solution.HasField("primal_solution"):
            x[cols] = _sparse_values(solution.primal_solution.variable_values, cols.size)
        if relax:
            for candidate in result.solutions:
                if candidate.HasField("dual_solution"):
                    duals = _sparse_values(candidate.dual_solution.dual_values, n_rows)
                    request_prices = duals[: instance.n_requests]
                    resource_prices = duals[instance.n_requests :]
                    break
    if reason == _REASON.TERMINATION_REASON_OPTIMAL:
        status = Status.OPTIMAL
    elif reason in (
        _REASON.TERMINATION_REASON_FEASIBLE,
        _REASON.TERMINATION_REASON_NO_SOLUTION_FOUND,
    ):
        status = Status.TIME_LIMIT
    else:
        status = Status.INFEASIBLE_INPUT
    # a dual bound is proven only when the solver ended within its tolerances
    dual_bound = termination.objective_bounds.dual_bound
    proven = status is not Status.INFEASIBLE_INPUT and np.isfinite(dual_bound)
    bound = float(dual_bound) if proven else float("inf")
    if cols.size == 0:
        bound = 0.0
        if relax:  # no positive edge: zero prices are dual feasible and optimal
            request_prices = np.zeros(instance.n_requests)
            resource_prices = np.zeros(capacity_rows[1].size)
    stats = {
        "solver": f"MathOpt/{table[solver].name}",
        "solver_status": _REASON.Name(reason),
        "termination_detail": termination.detail,
        "build_time": build_time,
        "solve_time": solve_time,
        "n_variables": int(cols.size),
        "n_constraints": int(n_rows),
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
