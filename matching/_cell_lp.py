"""The time-expanded benchmark LPs of the known-distribution models, built once.

Both LP sample-and-attenuate models (:mod:`matching.attenuation`, group types arriving
at most one a step; :mod:`matching.rideshare`, request types arriving independently)
have one LP variable per *cell* ``(group, step)`` with positive arrival probability
``prob`` and per edge of the group. Written as a matching instance for the primitive's
LP path, cell ``c`` is a group holding one fresh request, its edges have weight
``w_e prob`` and load ``prob``, so the LP variable of an edge is ``y = x / prob`` -- the
policy's sampling probability -- and ``x = y prob``. The vehicle (resource) rows say
that the routes running at ``(u, t)`` carry mass at most 1. A model adds its own rows
after those and solves with :func:`cell_lp_solve`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching._mathopt import solve_mathopt
from matching.model import Instance
from matching.result import Status
from matching.stream import Arrival


@dataclass(frozen=True)
class CellColumns:
    """The LP columns: one per (cell, edge of the cell's group).

    Attributes
    ----------
    expanded : Instance
        One group (with one request) per cell; edges weighted ``w prob``, loaded ``prob``.
    type_edge, step, prob, resource : ndarray
        Per column: the model's edge, the step, the cell's probability, the resource.
    """

    expanded: Instance
    type_edge: np.ndarray
    step: np.ndarray
    prob: np.ndarray
    resource: np.ndarray


def expand_rows(
    indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Entries of the CSR rows ``rows`` (in order): ``(position in rows, entry)`` pairs.

    Examples
    --------
    >>> owner, entry = expand_rows(np.array([0, 2, 3]), np.array([7, 8, 9]), np.array([1, 0]))
    >>> owner.tolist(), entry.tolist()
    ([0, 1, 1], [9, 7, 8])
    """
    size = np.diff(indptr)[rows]
    owner = np.repeat(np.arange(rows.size), size)
    first = np.repeat(indptr[rows] - np.cumsum(size) + size, size)
    return owner, indices[first + np.arange(owner.size)]


def cell_columns(types: Instance, prob: np.ndarray) -> CellColumns:
    """Columns for every cell ``(g, t)`` with ``prob[g, t] > 0`` and at least one edge."""
    ge = types.group_edges
    degree = np.diff(ge.indptr)
    cell_g, cell_t = np.nonzero((prob > 0) & (degree > 0)[:, None])
    cell_of_edge = np.repeat(np.arange(cell_g.size), degree[cell_g])
    starts = np.repeat(
        ge.indptr[cell_g] - np.cumsum(degree[cell_g]) + degree[cell_g], degree[cell_g]
    )
    type_edge = ge.indices[starts + np.arange(cell_of_edge.size)].astype(np.int64)
    step = cell_t[cell_of_edge]
    p = prob[cell_g, cell_t][cell_of_edge]
    resource = types.edge_resource[type_edge].astype(np.int64)
    expanded = Instance.from_arrays(
        group_ptr=np.arange(cell_g.size + 1),
        group_members=np.arange(cell_g.size),
        edge_resource=resource,
        edge_group=cell_of_edge,
        edge_weight=types.edge_weight[type_edge] * p,
        edge_load=p,
        capacity=np.ones(types.n_resources),
        n_requests=cell_g.size,
        check_duplicates=False,
    )
    return CellColumns(expanded, type_edge, step, p, resource)


def running_rows(
    types: Instance, cols: CellColumns, n_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the vehicle rows as ``(row, col, coefficient)`` triplets.

    Row ``u * n_steps + t`` holds the columns at ``u`` started at ``t' <= t`` with
    ``t - t' < d``.
    """
    duration = types.edge_duration[cols.type_edge].astype(np.int64)
    rows, idx = [], []
    for offset in range(int(duration.max(initial=1))):
        live = np.flatnonzero((duration > offset) & (cols.step + offset < n_steps))
        rows.append(cols.resource[live] * n_steps + cols.step[live] + offset)
        idx.append(live)
    col = np.concatenate(idx) if idx else np.zeros(0, np.int64)
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return row, col, cols.prob[col]


def cell_lp_solve(
    types: Instance,
    cols: CellColumns,
    n_steps: int,
    triplets: tuple[np.ndarray, np.ndarray, np.ndarray],
    rhs: np.ndarray,
    solver: str = "glop",
) -> tuple[np.ndarray, float]:
    """Solve the cell LP with the given rows; return ``x`` (edges x steps) and its value.

    Solver noise below ``1e-12`` of a cell's probability is dropped from ``x``.
    """
    row, col, val = triplets
    matrix = sp.csr_array((val, (row, col)), shape=(rhs.size, cols.expanded.n_edges))
    out = solve_mathopt(
        cols.expanded,
        relax=True,
        solver=solver,
        time_limit=None,
        seed=0,
        threads=None,
        capacity_rows=(matrix, rhs),
    )
    if out.status is not Status.OPTIMAL:
        raise RuntimeError(f"benchmark LP not solved: {out.stats['solver_status']}")
    y = np.where(out.x > 1e-12, np.clip(out.x, 0.0, 1.0), 0.0)
    x = np.zeros((types.n_edges, n_steps))
    np.add.at(x, (cols.type_edge, cols.step), y * cols.prob)
    return x, float(types.edge_weight @ x.sum(axis=1))


def declared_edges_problem(
    arrival: Arrival, types: Instance, edges: np.ndarray, fields: tuple[str, ...]
) -> str | None:
    """Name the first of ``fields`` in which ``arrival`` differs from the prior's edges."""
    declared = {
        "resources": types.edge_resource,
        "weights": types.edge_weight,
        "loads": types.edge_load,
        "durations": types.edge_duration,
    }
    for name in fields:
        mine = getattr(arrival, name)
        want = declared[name][edges]
        if mine is None or mine.shape != want.shape or not np.array_equal(mine, want):
            return (
                f"arrival {arrival.index} of type {arrival.type}: its {name} differ from the "
                "prior's; the guarantee needs realised edges equal to the declared ones"
            )
    return None
