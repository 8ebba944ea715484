"""The matching integer program with OR-Tools CP-SAT."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model

from matching._greedy import greedy_edges
from matching._scaling import CPSAT_SUM_LIMIT, scale_exactly, scale_weights
from matching.model import Instance
from matching.result import Status

__all__ = ["CpSatOutcome", "default_workers", "solve_cpsat"]


@dataclass(frozen=True)
class CpSatOutcome:
    """Chosen edges, proven bound on the true weights, status and statistics."""

    edges: np.ndarray
    bound: float
    status: Status
    stats: dict[str, Any]


def default_workers() -> int:
    """CP-SAT workers used when ``threads`` is None.

    CP-SAT's parallel portfolio pays off from about 8 workers; below that a single
    LP-guided worker proved faster on set-packing matchings (the 2-core benchmark
    machine solved ride-sharing batches about 1.7x faster with 1 worker than with 2).
    """
    cores = os.cpu_count() or 1
    return cores if cores >= 8 else 1


def _candidate_edges(instance: Instance, load: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Edges that can be in an optimal matching: positive weight, load within capacity."""
    return np.flatnonzero((instance.edge_weight > 0) & (load <= cap[instance.edge_resource]))


def _row_totals(ptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Exact sums of the int64 ``values`` over the rows of a CSR ``ptr``.

    A row whose sum reaches ``CPSAT_SUM_LIMIT`` holds the int64 maximum instead.
    """
    sizes = np.diff(ptr)
    approx = np.bincount(
        np.repeat(np.arange(sizes.size), sizes), weights=values, minlength=sizes.size
    )
    total = np.zeros(sizes.size, dtype=np.int64)
    rows = np.flatnonzero(sizes > 0)
    if rows.size:
        total[rows] = np.add.reduceat(values, ptr[rows])
    total[approx >= CPSAT_SUM_LIMIT] = np.iinfo(np.int64).max
    return total


def _add_capacity_rows(
    model: cp_model.CpModel,
    xs: list[cp_model.IntVar],
    rows: sp.csr_array,
    load: np.ndarray,
    cap: np.ndarray,
) -> int:
    """Add the rows whose loads can exceed their capacity; return how many.

    ``rows`` (rows x candidate edges) gives the members of each row, ``load`` the
    scaled integer load of every candidate edge and ``cap`` the scaled capacities.
    """
    ptr, idx = rows.indptr, rows.indices
    total = _row_totals(ptr, load[idx])
    over = np.flatnonzero(total > cap)
    for row in over.tolist():
        members = idx[ptr[row] : ptr[row + 1]].tolist()
        loads = load[members]
        if cap[row] < 2 * loads.min():
            model.add_at_most_one([xs[i] for i in members])  # no two fit together
            continue
        if total[row] >= CPSAT_SUM_LIMIT:
            raise ValueError(
                f"method 'cpsat' cannot add the loads of capacity row {row}: scaled to "
                "integers they sum to 2**62 or more, beyond safe int64 arithmetic. "
                "Use method='mip'."
            )
        model.add(
            cp_model.LinearExpr.weighted_sum([xs[i] for i in members], loads.tolist())
            <= int(cap[row])
        )
    return int(over.size)


def _objective_bound(solver: cp_model.CpSolver, model: cp_model.CpModel) -> Fraction:
    """CP-SAT's proven bound on the scaled objective, exactly.

    ``best_objective_bound`` is a float that CP-SAT computes with rounding (it may read
    774.9999999999999 for a proven 775); the integer bound on the objective's inner
    expression, mapped through the objective's scaling factor and offset, is exact.
    """
    objective = model.proto.objective
    factor = Fraction(objective.scaling_factor or 1.0)
    inner = solver.response_proto.inner_objective_lower_bound
    return factor * (inner + Fraction(objective.offset))


def solve_cpsat(
    instance: Instance,
    *,
    time_limit: float | None,
    seed: int,
    threads: int | None,
    log: bool = False,
    hint: bool = True,
    capacity_rows: tuple[sp.csr_array, np.ndarray] | None = None,
) -> CpSatOutcome:
    """Solve the matching IP with CP-SAT (see :func:`matching.solve`).

    ``capacity_rows`` replaces the per-resource capacity constraints by the rows of a
    (rows x edges) matrix of loads and their capacities; each row must only hold edges
    of one resource and have that resource's capacity (time-expanded models).
    """
    start = time.perf_counter()
    rows, row_cap = capacity_rows or (instance.resource_edges, instance.capacity)
    load_scale, (load, cap, row_cap) = scale_exactly(
        {"edge_load": instance.edge_load, "capacity": instance.capacity, "capacity row": row_cap},
        "loads and capacities",
    )
    cand = _candidate_edges(instance, load, cap)
    weights = scale_weights(instance.edge_weight[cand])

    model = cp_model.CpModel()
    xs = [model.new_bool_var("") for _ in range(cand.size)]
    request_rows = instance.request_edges[:, cand].tocsr() if cand.size else None
    n_request_rows = 0
    if request_rows is not None:
        ptr, idx = request_rows.indptr, request_rows.indices
        for q in np.flatnonzero(np.diff(ptr) >= 2).tolist():
            model.add_at_most_one([xs[i] for i in idx[ptr[q] : ptr[q + 1]].tolist()])
            n_request_rows += 1
    n_resource_rows = 0
    if cand.size:
        n_resource_rows = _add_capacity_rows(
            model, xs, sp.csr_array(rows[:, cand]), load[cand], row_cap
        )
    model.maximize(cp_model.LinearExpr.weighted_sum(xs, weights.integers.tolist()))
    incumbent = greedy_edges(instance)
    if hint and cand.size:
        position = np.full(instance.n_edges, -1, dtype=np.int64)
        position[cand] = np.arange(cand.size)
        chosen = np.zeros(cand.size, dtype=bool)
        chosen[position[incumbent]] = True
        for var, value in zip(xs, chosen.tolist(), strict=True):
            model.add_hint(var, value)
    build_time = time.perf_counter() - start

    solver = cp_model.CpSolver()
    params = solver.parameters
    params.random_seed = int(seed)
    params.num_workers = default_workers() if threads is None else int(threads)
    if params.num_workers == 1:
        # one LP-guided worker: a full linear relaxation and no probing were about 25%
        # faster over five ride-sharing batches (benchmarks/solver_speed.py sizes)
        params.linearization_level = 2
        params.cp_model_probing_level = 0
    if time_limit is not None:
        params.max_time_in_seconds = float(time_limit)
    params.log_search_progress = bool(log)
    code = solver.solve(model)
    solve_time = time.perf_counter() - start - build_time

    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = np.asarray(solver.response_proto.solution, dtype=np.int64)[: cand.size]
        edges = cand[values > 0]
    else:
        edges = incumbent  # CP-SAT found nothing in time: keep the greedy matching
    if code == cp_model.OPTIMAL:
        status = Status.OPTIMAL
    elif code in (cp_model.FEASIBLE, cp_model.UNKNOWN):
        status = Status.TIME_LIMIT
    else:
        status = Status.INFEASIBLE_INPUT
    if cand.size == 0:
        bound = 0.0
    elif code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = weights.upper_bound(_objective_bound(solver, model))
    else:
        bound = float("inf")  # no solution, no proven bound
    stats = {
        "solver": "CP-SAT",
        "solver_status": solver.status_name(code),
        "build_time": build_time,
        "solve_time": solve_time,
        "n_variables": int(cand.size),
        "n_request_constraints": n_request_rows,
        "n_resource_constraints": n_resource_rows,
        "weight_scale": weights.scale,
        "weight_rounding_slack": weights.slack,
        "load_scale": load_scale,
        "threads": params.num_workers,
    }
    return CpSatOutcome(edges=edges, bound=float(bound), status=status, stats=stats)
