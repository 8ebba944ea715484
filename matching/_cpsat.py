"""The matching integer program with OR-Tools CP-SAT."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model

from matching._greedy import best_greedy_edges
from matching._scaling import CPSAT_SUM_LIMIT, WeightScaling, scale_exactly, scale_weights
from matching._timing import solver_time_left
from matching.model import Instance
from matching.result import Status

__all__ = ["CpSatOutcome", "default_workers", "solve_cpsat"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class CpSatOutcome:
    """Chosen edges (None: no matching found), proven bound, status and statistics."""

    edges: np.ndarray | None
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


def _candidate_edges(
    instance: Instance, weights: np.ndarray, load: np.ndarray, cap: np.ndarray, serve_all: bool
) -> np.ndarray:
    """Return the edges that fit their capacity (with positive weight unless serve_all)."""
    fits = load <= cap[instance.edge_resource]
    return np.flatnonzero(fits if serve_all else fits & (weights > 0))


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


def _add_request_rows(proto: Any, rows: sp.csr_array, serve_all: bool) -> int:
    """At most one (exactly one with ``serve_all``) chosen edge per request; return how many."""
    ptr, idx = rows.indptr, rows.indices
    sizes = np.diff(ptr)
    needed = np.flatnonzero(sizes >= 0 if serve_all else sizes >= 2)
    for q in needed.tolist():
        constraint = proto.constraints.add()
        literals = constraint.exactly_one if serve_all else constraint.at_most_one
        literals.literals.extend(idx[ptr[q] : ptr[q + 1]].tolist())
    return int(needed.size)


def _add_capacity_rows(
    proto: Any,
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
        members = idx[ptr[row] : ptr[row + 1]]
        loads = load[members]
        constraint = proto.constraints.add()
        if cap[row] < 2 * loads.min():
            constraint.at_most_one.literals.extend(members.tolist())  # no two fit together
            continue
        if total[row] >= CPSAT_SUM_LIMIT:
            raise ValueError(
                f"method 'cpsat' cannot add the loads of capacity row {row}: scaled to "
                "integers they sum to 2**62 or more, beyond safe int64 arithmetic. "
                "Use method='mip'."
            )
        linear = constraint.linear
        linear.vars.extend(members.tolist())
        linear.coeffs.extend(loads.tolist())
        linear.domain.extend([0, int(cap[row])])
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


def _rounding_tolerance(weights: np.ndarray, scaling: WeightScaling) -> float:
    """Return the most by which a scaled optimum can miss the true one, rounded up."""
    residue = np.abs(weights - scaling.integers / scaling.scale)
    spread = float(np.abs(weights).sum())
    total = scaling.slack + float(residue.sum()) + (weights.size + 4) * _EPS * spread
    return math.nextafter(total, math.inf) if total > 0 else 0.0


def solve_cpsat(
    instance: Instance,
    *,
    time_limit: float | None,
    seed: int,
    threads: int | None,
    log: bool = False,
    hint: bool = True,
    capacity_rows: tuple[sp.csr_array, np.ndarray] | None = None,
    weights: np.ndarray | None = None,
    serve_all: bool = False,
) -> CpSatOutcome:
    """Solve the matching IP with CP-SAT (see :func:`matching.solve`).

    ``capacity_rows`` replaces the per-resource capacity constraints by the rows of a
    (rows x edges) matrix of loads and their capacities; each row must only hold edges
    of one resource and have that resource's capacity (time-expanded models).
    ``weights`` (default the instance's) are maximised; ``serve_all`` makes every
    request's row an equality (then ``edges`` is None when no matching was found).
    ``time_limit`` covers building the model too. The model is written into CP-SAT's
    proto from arrays, without a Python object per variable.
    """
    start = time.perf_counter()
    weights = instance.edge_weight if weights is None else np.asarray(weights, np.float64)
    rows, row_cap = capacity_rows or (instance.resource_edges, instance.capacity)
    load_scale, (load, cap, row_cap) = scale_exactly(
        {"edge_load": instance.edge_load, "capacity": instance.capacity, "capacity row": row_cap},
        "loads and capacities",
    )
    cand = _candidate_edges(instance, weights, load, cap, serve_all)
    scaled = scale_weights(weights[cand])

    model = cp_model.CpModel()
    proto = model.proto
    if cand.size:
        proto.merge_text_format("variables { domain: [0, 1] } " * cand.size)
    n_request_rows = _add_request_rows(
        proto, sp.csr_array(instance.request_edges[:, cand]), serve_all
    )
    n_resource_rows = 0
    if cand.size:
        n_resource_rows = _add_capacity_rows(
            proto, sp.csr_array(rows[:, cand]), load[cand], row_cap
        )
    objective = proto.objective  # CP-SAT minimises: maximise w x as -(min -w x)
    objective.vars.extend(range(cand.size))
    objective.coeffs.extend((-scaled.integers).tolist())
    objective.scaling_factor = -1.0
    incumbent = best_greedy_edges(instance, weights)
    # the greedy matching leaves requests unserved, so under serve_all it is no hint
    if hint and cand.size and not serve_all:
        position = np.full(instance.n_edges, -1, dtype=np.int64)
        position[cand] = np.arange(cand.size)
        chosen = np.zeros(cand.size, dtype=np.int64)
        chosen[position[incumbent]] = 1
        proto.solution_hint.vars.extend(range(cand.size))
        proto.solution_hint.values.extend(chosen.tolist())
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
        params.max_time_in_seconds = solver_time_left(time_limit, start, cand.size)
    params.log_search_progress = bool(log)
    code = solver.solve(model)
    solve_time = time.perf_counter() - start - build_time

    edges: np.ndarray | None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = np.asarray(solver.response_proto.solution, dtype=np.int64)[: cand.size]
        edges = cand[values > 0]
    else:  # CP-SAT found nothing in time: keep the greedy matching
        edges = None if serve_all else incumbent
    if edges is not None and not serve_all:
        if float(weights[incumbent].sum()) > float(weights[edges].sum()):
            edges = incumbent  # at a time limit the greedy matching may be the better one
    if code == cp_model.OPTIMAL:
        status = Status.OPTIMAL
    elif code in (cp_model.FEASIBLE, cp_model.UNKNOWN):
        status = Status.TIME_LIMIT
    elif code == cp_model.INFEASIBLE and serve_all:
        status = Status.INFEASIBLE
    else:
        status = Status.INFEASIBLE_INPUT
    if cand.size == 0 and not serve_all:
        bound = 0.0
    elif code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = scaled.upper_bound(_objective_bound(solver, model))
    else:
        bound = math.inf  # no solution, no proven bound
    tolerance = _rounding_tolerance(weights[cand], scaled)
    if status is Status.OPTIMAL and edges is not None:
        if not bound - float(weights[edges].sum()) <= tolerance:
            status = Status.FEASIBLE  # the claim fails the check on the true weights
    stats = {
        "solver": "CP-SAT",
        "solver_status": solver.status_name(code),
        "build_time": build_time,
        "solve_time": solve_time,
        "n_variables": int(cand.size),
        "n_request_constraints": n_request_rows,
        "n_resource_constraints": n_resource_rows,
        "weight_scale": scaled.scale,
        "weight_rounding_slack": scaled.slack,
        "optimality_tolerance": tolerance,
        "load_scale": load_scale,
        "threads": params.num_workers,
    }
    return CpSatOutcome(edges=edges, bound=float(bound), status=status, stats=stats)
