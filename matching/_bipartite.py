"""Maximum-weight bipartite matching through scipy's assignment solvers.

Applies when every group is a single request and all loads and capacities are 1. A
matching need not be perfect: pairs without a positive edge are worth 0, which is the
same as leaving both ends unmatched, so a maximum-weight *assignment* on the weight
matrix (non-edges 0, non-positive weights clipped to 0) is a maximum-weight matching
once the zero-valued pairs are dropped.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from matching.model import Instance

__all__ = ["DENSE_CELL_LIMIT", "bipartite_edges"]

#: Largest ``n_resources * n_requests`` solved with the dense assignment solver; larger
#: sparse instances go through ``min_weight_full_bipartite_matching``.
DENSE_CELL_LIMIT = 25_000_000


def _positive_pairs(instance: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges with positive weight and their (resource, request) endpoints."""
    weight = instance.edge_weight
    positive = np.flatnonzero(weight > 0)
    if positive.size == weight.size:
        positive = np.arange(weight.size)
        rows = instance.edge_resource
        groups = instance.edge_group
    else:
        rows = instance.edge_resource[positive]
        groups = instance.edge_group[positive]
    members = instance.group_members
    if np.array_equal(members, np.arange(members.size)):
        cols = groups  # group g is request g
    else:
        cols = members[instance.group_ptr[groups]]
    return positive, rows, cols


def _dense_layout(instance: Instance, shape: tuple[int, int]) -> np.ndarray:
    """Edges laid out as the cells of a row-major matrix (``Instance.bipartite``)."""
    weights = instance.edge_weight.reshape(shape)
    if weights.min(initial=1.0) <= 0:
        weights = np.maximum(weights, 0.0)
    rows, cols = linear_sum_assignment(weights, maximize=True)
    chosen = rows * np.int64(shape[1]) + cols
    return chosen[instance.edge_weight[chosen] > 0]


def _dense(instance: Instance, edge: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    n_q = instance.n_requests
    cells = rows * np.int64(n_q) + cols
    weights = np.zeros(instance.n_resources * n_q)
    w = instance.edge_weight[edge]
    shared = np.bincount(instance.group_members, minlength=n_q).max(initial=0) > 1
    if shared and np.bincount(cells, minlength=weights.size).max() > 1:
        np.maximum.at(weights, cells, w)  # parallel edges: keep the heaviest
        best = w == weights[cells]
        edge, cells = edge[best], cells[best]
    else:
        weights[cells] = w
    weights = weights.reshape(instance.n_resources, n_q)
    pick_rows, pick_cols = linear_sum_assignment(weights, maximize=True)
    index = np.full(weights.size, -1, dtype=np.int64)
    index[cells] = edge
    chosen = index[pick_rows * np.int64(n_q) + pick_cols]
    return chosen[chosen >= 0]


def _heaviest_per_pair(
    instance: Instance, edge: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep, for each (resource, request) pair, its heaviest edge."""
    key = rows * np.int64(max(instance.n_requests, 1)) + cols
    order = np.lexsort((-instance.edge_weight[edge], key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = np.diff(key[order]) != 0
    keep = order[first]
    return edge[keep], rows[keep], cols[keep]


def _sparse(instance: Instance, edge: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    """Perfect matching on the graph doubled with zero-value dummies (LAPJVsp).

    Rows are the resources then one dummy per request; columns the requests then one
    dummy per resource. Resource ``r`` may take its own dummy column, request ``q`` its
    own dummy row, and dummy row ``q`` may meet dummy column ``r`` wherever ``(r, q)`` is
    an edge, so a perfect matching always exists and its cost is ``-value`` plus a
    constant shift that keeps every stored cost positive.
    """
    n_r, n_q = instance.n_resources, instance.n_requests
    w = instance.edge_weight[edge]
    shift = float(w.max()) + 1.0
    m = rows.size
    r_idx = np.concatenate([rows, np.arange(n_r), n_r + np.arange(n_q), n_r + cols])
    c_idx = np.concatenate([cols, n_q + np.arange(n_r), np.arange(n_q), n_q + rows])
    cost = np.concatenate([shift - w, np.full(n_r + n_q + m, shift)])
    graph = sp.csr_array((cost, (r_idx, c_idx)), shape=(n_r + n_q, n_q + n_r))
    match_rows, match_cols = min_weight_full_bipartite_matching(graph)
    real = (match_rows < n_r) & (match_cols < n_q)
    lookup = sp.csr_array((edge + 1, (rows, cols)), shape=(n_r, n_q))
    chosen = np.asarray(lookup[match_rows[real], match_cols[real]]).ravel() - 1
    return chosen[chosen >= 0]


def bipartite_edges(instance: Instance) -> np.ndarray:
    """Return the edges of a maximum-weight matching of a bipartite instance.

    Dense matrices (``n_resources * n_requests <= DENSE_CELL_LIMIT`` or at least 10%
    filled) use :func:`scipy.optimize.linear_sum_assignment`; sparse ones use
    :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`.
    """
    if not instance.is_bipartite:
        raise ValueError("method 'bipartite' needs singleton groups and unit loads and capacities")
    if instance._dense_shape is not None:
        return _dense_layout(instance, instance._dense_shape)
    edge, rows, cols = _positive_pairs(instance)
    if edge.size == 0:
        return edge
    cells = instance.n_resources * instance.n_requests
    if cells <= DENSE_CELL_LIMIT or edge.size >= 0.1 * cells:
        return _dense(instance, edge, rows, cols)
    return _sparse(instance, *_heaviest_per_pair(instance, edge, rows, cols))
