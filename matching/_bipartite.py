"""Maximum-weight bipartite matching: scipy's dense assignment and an OR-Tools flow.

Applies when every group is a single request and all loads and capacities are 1, so a
matching pairs resources with requests. Three paths, chosen by the shape of the data:

- a complete weight grid (:attr:`matching.Instance.dense_layout`) or a well-filled one
  goes to :func:`scipy.optimize.linear_sum_assignment` on the weight matrix;
- a sparse graph goes to OR-Tools' min-cost flow
  (:class:`ortools.graph.python.min_cost_flow.SimpleMinCostFlow`) on integer costs. When
  the weights are not exactly integers after a power-of-two scaling, the matching found
  is proven optimal for the float weights by an LP dual certificate (see
  :func:`_dual_bound`);
- should that proof fail, :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`
  solves the sparse problem again in floating point.

Without ``serve_all`` a matching need not be perfect: an edge of weight ``<= 0`` is never
worth taking. With ``serve_all`` every request must be matched (resources may stay free)
and edges of any sign may be used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from matching import _validate as v
from matching.model import DenseLayout, Instance

__all__ = [
    "DENSE_CELL_LIMIT",
    "DENSE_FILL",
    "BipartiteSolution",
    "bipartite_edges",
    "bipartite_solution",
]

#: Largest ``n_resources * n_requests`` ever solved with the dense assignment solver.
DENSE_CELL_LIMIT = 25_000_000

#: Smallest fraction of the weight matrix that must be edges for the dense solver to be
#: used on an instance that is not a complete grid (measured crossover with the flow).
DENSE_FILL = 0.1

_EPS = float(np.finfo(np.float64).eps)

#: Most Bellman-Ford rounds spent on the dual certificate (random graphs need < 100).
_BELLMAN_FORD_ROUNDS = 4096


@dataclass(frozen=True)
class BipartiteSolution:
    """A bipartite matching and its proof.

    Attributes
    ----------
    edges : numpy.ndarray
        Chosen edge indices (sorted ``int64``).
    value : float
        Sum of the weights of the chosen edges.
    bound : float
        Proven upper bound on the best value: ``value`` itself for the exact floating
        point solvers, the LP dual bound for the min-cost flow.
    solver : str
        ``"scipy-dense"``, ``"ortools-flow"`` or ``"scipy-sparse"``.
    tolerance : float
        The float64 noise of sums over the data: ``bound - value`` within it is a proof
        of optimality.
    """

    edges: np.ndarray
    value: float
    bound: float
    solver: str
    tolerance: float


def bipartite_edges(
    instance: Instance, *, weights: np.ndarray | None = None, serve_all: bool = False
) -> np.ndarray | None:
    """Return the edges of a maximum-weight matching of a bipartite instance.

    Parameters
    ----------
    instance : Instance
        Singleton groups, unit loads and unit capacities (``instance.is_bipartite``).
    weights : numpy.ndarray, optional
        One finite weight per edge, of any sign; defaults to ``instance.edge_weight``.
    serve_all : bool, default False
        Match every request ``0 .. n_requests - 1`` (resources may stay free). Without
        it, edges of weight ``<= 0`` are never chosen.

    Returns
    -------
    numpy.ndarray or None
        Sorted ``int64`` edge indices of a matching of the largest total weight; None
        when ``serve_all`` is asked and no matching serves every request (a request with
        no edge, more requests than resources, or any other Hall violation).

    Raises
    ------
    ValueError
        If the instance is not bipartite, or ``weights`` has the wrong length or a
        non-finite entry.
    TypeError
        If ``weights`` holds something that is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> import matching
    >>> from matching._bipartite import bipartite_edges
    >>> inst = matching.Instance.bipartite([[4.0, 1.0], [2.0, 3.0]])
    >>> bipartite_edges(inst).tolist()
    [0, 3]

    A minimum-cost full assignment of the requests: negate the costs.

    >>> cost = np.array([[4.0, 1.0], [2.0, 3.0]])
    >>> bipartite_edges(inst, weights=-cost.ravel(), serve_all=True).tolist()
    [1, 2]
    >>> sparse = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 2.0)])
    >>> print(bipartite_edges(sparse, serve_all=True))
    None
    """
    solution = bipartite_solution(instance, weights=weights, serve_all=serve_all)
    return None if solution is None else solution.edges


def bipartite_solution(
    instance: Instance, *, weights: np.ndarray | None = None, serve_all: bool = False
) -> BipartiteSolution | None:
    """Solve like :func:`bipartite_edges` and return the matching with its bound.

    Examples
    --------
    >>> import matching
    >>> from matching._bipartite import bipartite_solution
    >>> inst = matching.Instance([[0], [1]], [(0, 0, 0.5), (1, 0, 0.25), (1, 1, 0.125)])
    >>> sol = bipartite_solution(inst)
    >>> sol.edges.tolist(), sol.value, sol.bound >= sol.value
    ([0, 2], 0.625, True)
    """
    if not instance.is_bipartite:
        raise ValueError("method 'bipartite' needs singleton groups and unit loads and capacities")
    w = _weights(instance, weights)
    serve_all = v.check_bool(serve_all, "serve_all")
    n_r, n_q = instance.n_resources, instance.n_requests
    if serve_all and n_q > n_r:
        return None
    layout = instance.dense_layout
    if layout is not None:
        return _grid(w if layout.cell_edge is None else w[layout.cell_edge], layout, serve_all)
    edge = np.arange(w.size) if serve_all else np.flatnonzero(w > 0)
    rows = instance.edge_resource[edge]
    cols = instance.group_members[instance.edge_group[edge]]  # singleton groups
    if serve_all and np.bincount(cols, minlength=n_q).min(initial=1) == 0:
        return None  # a request without an edge
    if edge.size == 0:
        return BipartiteSolution(edge.astype(np.int64), 0.0, 0.0, "scipy-dense", 0.0)
    pairs = _Pairs(n_r, n_q, edge, rows, cols, w[edge])
    cells = n_r * n_q
    if cells <= DENSE_CELL_LIMIT and edge.size >= DENSE_FILL * cells:
        return _dense(pairs, serve_all)
    return _flow(pairs, serve_all)


def _weights(instance: Instance, weights: np.ndarray | None) -> np.ndarray:
    """Return the weights to maximise: ``instance.edge_weight`` or checked finite floats."""
    if weights is None:
        return instance.edge_weight
    w = v.as_real_array(weights, "weights", instance.n_edges)
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        raise ValueError(f"weights[{bad[0]}] = {w[bad[0]]} is not finite")
    return w


@dataclass(frozen=True)
class _Pairs:
    """Candidate edges (instance ids) with their resource rows and request columns."""

    n_r: int
    n_q: int
    edge: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    w: np.ndarray

    def solution(self, chosen: np.ndarray, bound: float | None, solver: str) -> BipartiteSolution:
        """Solution for candidate positions ``chosen`` (bound None: equal to the value)."""
        value = math.fsum(self.w[chosen])
        edges = np.sort(self.edge[chosen]).astype(np.int64, copy=False)
        bound = value if bound is None else bound
        tolerance = _tolerance(self.n_r, self.n_q, self.w)
        return BipartiteSolution(edges, value, bound, solver, tolerance)


# --------------------------------------------------------------------------- dense
def _assign(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``linear_sum_assignment`` maximising; None when ``-inf`` cells leave no assignment."""
    try:
        return linear_sum_assignment(matrix, maximize=True)
    except ValueError as err:
        if "infeasible" in str(err):
            return None
        raise


def _grid(w: np.ndarray, layout: DenseLayout, serve_all: bool) -> BipartiteSolution:
    """Every (resource, request) cell is an edge: assign on the weight matrix itself."""
    n_r, n_q = layout.shape
    matrix = w.reshape(n_r, n_q)
    if not serve_all and matrix.min(initial=1.0) <= 0:
        matrix = np.maximum(matrix, 0.0)  # a non-positive cell is as good as no pair
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    cells = rows * np.int64(n_q) + cols
    if not serve_all:
        cells = cells[w[cells] > 0]
    # rows come back ascending, so row-major cells are already sorted edge ids
    edges = cells if layout.cell_edge is None else np.sort(layout.cell_edge[cells])
    value = math.fsum(w[cells])
    edges = edges.astype(np.int64, copy=False)
    return BipartiteSolution(edges, value, value, "scipy-dense", _tolerance(n_r, n_q, w))


def _dense(pairs: _Pairs, serve_all: bool) -> BipartiteSolution | None:
    """Assign on the resources x requests matrix; parallel edges keep the heaviest."""
    n_r, n_q = pairs.n_r, pairs.n_q
    cells = pairs.rows * np.int64(n_q) + pairs.cols
    matrix = np.full(n_r * n_q, -np.inf if serve_all else 0.0)
    np.maximum.at(matrix, cells, pairs.w)
    position = np.full(matrix.size, -1, dtype=np.int64)
    heaviest = np.flatnonzero(pairs.w == matrix[cells])
    position[cells[heaviest]] = heaviest
    picked = _assign(matrix.reshape(n_r, n_q))
    if picked is None:
        return None
    chosen = position[picked[0] * np.int64(n_q) + picked[1]]
    return pairs.solution(chosen[chosen >= 0], None, "scipy-dense")


# ---------------------------------------------------------------------------- flow
def _integer_costs(w: np.ndarray, n_nodes: int) -> np.ndarray:
    """Scale the weights to integer costs within OR-Tools' range.

    The factor is the smallest power of two that makes every weight an integer when
    that fits the range (the costs are then exact), else the largest one that fits.
    """
    limit = 2.0**62 / (n_nodes + 1) / 8  # room for the shift in _flow
    top = float(np.abs(w).max())
    if top == 0:
        return np.zeros(w.size, dtype=np.int64)
    mantissa, exponent = np.frexp(w[w != 0])
    significand = np.ldexp(mantissa, 53).astype(np.int64)  # exact 53-bit integers
    trailing = np.log2((significand & -significand).astype(np.float64)).astype(np.int64)
    k = int((53 - exponent - trailing).max())  # fractional bits the weights carry
    # top < 2**e: top * 2**k stays within the limit for k <= floor(log2(limit)) - e
    widest = math.floor(math.log2(limit)) - math.frexp(top)[1]
    if math.ldexp(top, widest + 1) <= limit:
        widest += 1
    k = min(k, widest)
    return np.rint(np.ldexp(w, k)).astype(np.int64)


def _flow(pairs: _Pairs, serve_all: bool) -> BipartiteSolution | None:
    """Min-cost flow on integer costs, certified by :func:`_dual_bound`, else scipy.

    Every resource (every request with ``serve_all``) passes exactly one unit, so a
    constant added to all of its arcs changes no optimum: costs are ``top - c`` for an
    edge of integer weight ``c`` and ``top`` for staying free, all positive, which the
    cost-scaling solver handles about a quarter faster than the negated weights.
    """
    n_r, n_q, m = pairs.n_r, pairs.n_q, pairs.w.size
    hub = n_r + n_q  # the sink, or for serve_all the source feeding the resources
    resources, requests = np.arange(n_r), n_r + np.arange(n_q)
    scaled = _integer_costs(pairs.w, hub + 1)
    top = int(scaled.max()) + 1
    if serve_all:  # hub -> resource -> request, each request takes one unit
        tails = np.concatenate([pairs.rows, np.full(n_r, hub)])
        heads = np.concatenate([n_r + pairs.cols, resources])
        supply = np.concatenate([np.zeros(n_r, np.int64), np.full(n_q, -1), [n_q]])
        costs = np.concatenate([top - scaled, np.zeros(n_r, np.int64)])
    else:  # resource -> request -> hub, or resource -> hub when it stays free
        tails = np.concatenate([pairs.rows, resources, requests])
        heads = np.concatenate([n_r + pairs.cols, np.full(n_r + n_q, hub)])
        supply = np.concatenate([np.ones(n_r, np.int64), np.zeros(n_q, np.int64), [-n_r]])
        costs = np.concatenate([top - scaled, np.full(n_r, top), np.zeros(n_q, np.int64)])
    network = min_cost_flow.SimpleMinCostFlow()
    network.add_arcs_with_capacity_and_unit_cost(
        tails, heads, np.ones(tails.size, dtype=np.int64), costs
    )
    network.set_nodes_supplies(np.arange(hub + 1), supply)
    status = network.solve()
    if status == network.INFEASIBLE:
        return None
    if status == network.OPTIMAL:
        chosen = np.flatnonzero(network.flows(np.arange(m)))
        bound = _dual_bound(pairs, chosen, serve_all)
        if bound - math.fsum(pairs.w[chosen]) <= _tolerance(pairs.n_r, pairs.n_q, pairs.w):
            return pairs.solution(chosen, bound, "ortools-flow")
    return _scipy_sparse(pairs, serve_all)


def _tolerance(n_r: int, n_q: int, w: np.ndarray) -> float:
    """Float64 noise of sums over the data: what a proven gap may still show."""
    return 16 * _EPS * (n_r + n_q) * float(np.abs(w).max(initial=0.0))


def _dual_bound(pairs: _Pairs, chosen: np.ndarray, serve_all: bool) -> float:
    r"""Upper bound on the best matching from LP duals built around ``chosen``.

    The dual of the matching LP is :math:`\min \sum_q y_q + \sum_r u_r` subject to
    :math:`y_q + u_r \ge w_{rq}` on every edge, :math:`u \ge 0`, and :math:`y \ge 0`
    unless every request must be served. Complementary slackness with the matching
    (:math:`u_r = w_{rq} - y_q` on a chosen edge, :math:`u_r = 0` at a free resource,
    :math:`y_q = 0` at a free request) leaves difference constraints
    :math:`y_{q} \le y_{q'} + w_{rq} - w_{rq'}` for a chosen ``(r, q)`` and any edge
    ``(r, q')``; their greatest solution below :math:`y_q \le w_{rq}` is found by
    Bellman-Ford from the nodes that changed. Whatever ``y`` results, ``u`` is then
    repaired to make the duals feasible (the largest :math:`w - y` at each resource),
    so the bound is valid even for a matching that is not optimal; it equals the
    matching's value when the matching is optimal. The sums are exact (``math.fsum``)
    plus a margin for the rounding of each :math:`w - y`.
    """
    n_r, n_q, rows, cols, w = pairs.n_r, pairs.n_q, pairs.rows, pairs.cols, pairs.w
    mate = np.full(n_r, -1, dtype=np.int64)
    mate[rows[chosen]] = cols[chosen]
    mate_weight = np.zeros(n_r)
    mate_weight[rows[chosen]] = w[chosen]
    y = np.zeros(n_q)
    y[cols[chosen]] = w[chosen]
    # arcs src -> dst: y[dst] <= y[src] + length, for every edge at a matched resource
    arc = np.flatnonzero(mate[rows] >= 0)
    src, dst = cols[arc], mate[rows[arc]]
    length = mate_weight[rows[arc]] - w[arc]
    order = np.argsort(src, kind="stable")
    src, dst, length = src[order], dst[order], length[order]
    start = np.zeros(n_q + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_q), out=start[1:])
    frontier = np.arange(n_q)
    # n_q + 1 rounds would mean a cycle: the matching is not optimal (by a rounding,
    # say); the cap keeps such a cycle from spinning, and any y still gives a bound
    for _ in range(min(n_q + 1, _BELLMAN_FORD_ROUNDS)):
        count = start[frontier + 1] - start[frontier]
        total = int(count.sum())
        if total == 0:
            break
        offsets = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        at = np.repeat(start[frontier], count) + offsets
        candidate = y[src[at]] + length[at]
        lower = candidate < y[dst[at]]
        if not lower.any():
            break
        np.minimum.at(y, dst[at][lower], candidate[lower])
        frontier = np.unique(dst[at][lower])
    if not serve_all:
        np.maximum(y, 0.0, out=y)
    u = np.zeros(n_r)
    np.maximum.at(u, rows, w - y[cols])
    margin = 2 * _EPS * n_r * (float(np.abs(w).max()) + float(np.abs(y).max(initial=0.0)))
    return math.fsum(y) + math.fsum(u) + margin


# ---------------------------------------------------------------------- scipy sparse
def _heaviest_per_pair(pairs: _Pairs) -> _Pairs:
    """Keep, for each (resource, request) pair, its heaviest edge."""
    key = pairs.rows * np.int64(max(pairs.n_q, 1)) + pairs.cols
    order = np.lexsort((-pairs.w, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = np.diff(key[order]) != 0
    keep = order[first]
    return _Pairs(
        pairs.n_r, pairs.n_q, pairs.edge[keep], pairs.rows[keep], pairs.cols[keep], pairs.w[keep]
    )


def _scipy_sparse(pairs: _Pairs, serve_all: bool) -> BipartiteSolution | None:
    """LAPJVsp in floating point, certified by the same dual bound.

    Every row is matched once, so a constant per row does not change the answer:
    costs are ``shift_r - w`` with ``shift_r`` a power of two above the row's weights
    (scipy drops zero costs). Without ``serve_all`` rows are the resources, each with a
    private zero-value column to stay free; with it rows are the requests.
    """
    pairs = _heaviest_per_pair(pairs)
    n_r, n_q, m = pairs.n_r, pairs.n_q, pairs.w.size
    rows, cols = (pairs.cols, pairs.rows) if serve_all else (pairs.rows, pairs.cols)
    n_rows, n_cols = (n_q, n_r) if serve_all else (n_r, n_q + n_r)
    top = np.zeros(n_rows)
    np.maximum.at(top, rows, np.abs(pairs.w))
    shift = np.ldexp(1.0, np.frexp(top)[1] + 1)
    cost, r_idx, c_idx = shift[rows] - pairs.w, rows, cols
    if not serve_all:
        r_idx = np.concatenate([rows, np.arange(n_r)])
        c_idx = np.concatenate([cols, n_q + np.arange(n_r)])
        cost = np.concatenate([cost, shift])
    graph = sp.csr_array((cost, (r_idx, c_idx)), shape=(n_rows, n_cols))
    try:
        match_rows, match_cols = min_weight_full_bipartite_matching(graph)
    except ValueError as err:
        if serve_all and "no full matching" in str(err):
            return None
        raise
    position = sp.csr_array((np.arange(1, m + 1), (rows, cols)), shape=(n_rows, n_cols))
    chosen = np.asarray(position[match_rows, match_cols]).ravel() - 1
    chosen = chosen[chosen >= 0]
    return pairs.solution(chosen, _dual_bound(pairs, chosen, serve_all), "scipy-sparse")
