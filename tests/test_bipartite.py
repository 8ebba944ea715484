"""The bipartite paths (dense grid, dense matrix, min-cost flow, scipy sparse) against
brute force, scipy and the LP."""

import math

import numpy as np
import pytest
from helpers import brute_force_optimum
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import matching
from matching import _bipartite

PATHS = ("auto", "dense", "flow", "scipy-sparse")


def force_path(monkeypatch, path):
    """Route every non-grid instance to one solver."""
    if path == "dense":
        monkeypatch.setattr(_bipartite, "DENSE_FILL", 0.0)
    elif path in ("flow", "scipy-sparse"):
        monkeypatch.setattr(_bipartite, "DENSE_CELL_LIMIT", -1)
    if path == "scipy-sparse":  # every certificate "fails": the flow falls back to scipy
        monkeypatch.setattr(_bipartite, "_tolerance", lambda *data: -math.inf)


def solve_path(inst, path, monkeypatch, **kwargs):
    with monkeypatch.context() as patch:
        force_path(patch, path)
        return _bipartite.bipartite_solution(inst, **kwargs)


def brute_force(n_resources, n_requests, rows, cols, weights, serve_all):
    """Best total weight over all matchings (all requests served if asked), or None."""
    best = None

    def visit(e, used_r, used_q, value):
        nonlocal best
        if e == len(weights):
            if serve_all and used_q != (1 << n_requests) - 1:
                return
            if best is None or value > best:
                best = value
            return
        visit(e + 1, used_r, used_q, value)
        r, q = 1 << rows[e], 1 << cols[e]
        if not used_r & r and not used_q & q:
            visit(e + 1, used_r | r, used_q | q, value + weights[e])

    visit(0, 0, 0, 0.0)
    return best


def assert_is_matching(inst, edges, serve_all):
    requests = inst.group_members[inst.edge_group[edges]]
    assert np.unique(inst.edge_resource[edges]).size == edges.size
    assert np.unique(requests).size == edges.size
    assert np.array_equal(edges, np.sort(edges)) and edges.dtype == np.int64
    if serve_all:
        assert np.array_equal(np.sort(requests), np.arange(inst.n_requests))


@st.composite
def bipartite_instances(draw):
    """Small bipartite instances with parallel edges and shared singleton requests."""
    n_res = draw(st.integers(1, 4))
    n_req = draw(st.integers(1, 4))
    groups = list(range(n_req)) + draw(st.lists(st.integers(0, n_req - 1), max_size=2))
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n_res - 1), st.integers(0, len(groups) - 1)), max_size=9)
    )
    weight = st.floats(-5, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    weights = [draw(weight) for _ in pairs]
    return matching.Instance.from_arrays(
        group_ptr=np.arange(len(groups) + 1),
        group_members=groups,
        edge_resource=[r for r, _ in pairs],
        edge_group=[g for _, g in pairs],
        edge_weight=weights,
        n_requests=n_req,
        n_resources=n_res,
        check_duplicates=False,
    )


@settings(max_examples=150)
@given(inst=bipartite_instances(), serve_all=st.booleans(), negate=st.booleans())
def test_every_path_equals_brute_force(inst, serve_all, negate, monkeypatch_module):
    weights = -inst.edge_weight if negate else None
    w = inst.edge_weight if weights is None else weights
    cols = inst.group_members[inst.edge_group]
    expected = brute_force(
        inst.n_resources, inst.n_requests, inst.edge_resource, cols, w, serve_all
    )
    for path in PATHS:
        sol = solve_path(inst, path, monkeypatch_module, weights=weights, serve_all=serve_all)
        if expected is None:
            assert sol is None, path
            continue
        assert sol is not None, path
        assert_is_matching(inst, sol.edges, serve_all)
        assert sol.value == pytest.approx(math.fsum(w[sol.edges]), abs=1e-12)
        assert sol.value == pytest.approx(expected, rel=1e-12, abs=1e-12), path
        assert sol.bound >= expected - 1e-12, path
        assert sol.bound - sol.value <= 1e-9, path
    edges = _bipartite.bipartite_edges(inst, weights=weights, serve_all=serve_all)
    if expected is None:
        assert edges is None
    else:
        assert_is_matching(inst, edges, serve_all)
        assert math.fsum(w[edges]) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_brute_force_agrees_with_the_instance_model():
    inst = matching.Instance([[0], [1], [2]], [(0, 0, 2.0), (0, 1, 3.0), (1, 1, 2.5), (1, 2, 1)])
    cols = inst.group_members[inst.edge_group]
    value = brute_force(2, 3, inst.edge_resource, cols, inst.edge_weight, False)
    assert value == brute_force_optimum(inst)


@pytest.mark.parametrize("path", PATHS)
def test_duplicate_edges_keep_the_heavier(path, monkeypatch):
    for weights in ([5.0, 1.0], [1.0, 5.0]):
        inst = matching.Instance.from_arrays(
            group_ptr=[0, 1],
            group_members=[0],
            edge_resource=[0, 0],
            edge_group=[0, 0],
            edge_weight=weights,
            check_duplicates=False,
        )
        sol = solve_path(inst, path, monkeypatch)
        assert sol.value == max(weights) == brute_force_optimum(inst)
        assert inst.edge_weight[sol.edges].tolist() == [max(weights)]
        with monkeypatch.context() as patch:
            force_path(patch, path)
            res = matching.solve(inst)
        assert res.check(inst) and res.value == max(weights)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("groups", "edges", "n_resources"),
    [
        ([0, 1], [(0, 0, 1.0), (1, 0, 2.0)], 2),  # request 1 has no edge
        ([0, 1, 2], [(0, 0, 1.0), (1, 1, 1.0), (1, 2, 1.0)], 2),  # more requests
        ([0, 1, 2], [(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 1.0), (2, 0, 1.0)], 3),
    ],
    ids=["edgeless-request", "too-many-requests", "hall"],
)
def test_serve_all_is_none_when_impossible(groups, edges, n_resources, path, monkeypatch):
    inst = matching.Instance(
        [[q] for q in groups], edges, n_requests=len(groups), n_resources=n_resources
    )
    cols = inst.group_members[inst.edge_group]
    w = inst.edge_weight
    assert brute_force(n_resources, len(groups), inst.edge_resource, cols, w, True) is None
    assert solve_path(inst, path, monkeypatch, serve_all=True) is None
    assert solve_path(inst, path, monkeypatch).value > 0  # a partial matching exists


@pytest.mark.parametrize("shape", [(100, 100), (60, 45)])
@pytest.mark.parametrize("path", PATHS)
def test_or_library_style_assignment_equals_scipy(shape, path, monkeypatch):
    # assign100-like: integer costs 1..100, every request served at least cost
    cost = np.random.default_rng(shape[0]).integers(1, 101, size=shape).astype(float)
    r, c = linear_sum_assignment(cost)
    for inst in (
        matching.Instance.bipartite(cost),
        matching.Instance.bipartite(sparse_copy(cost)),  # no grid layout: real sparse paths
    ):
        sol = solve_path(inst, path, monkeypatch, weights=-inst.edge_weight, serve_all=True)
        assert_is_matching(inst, sol.edges, True)
        assert -sol.value == cost[r, c].sum()
        assert sol.bound == pytest.approx(sol.value, abs=1e-9)


def sparse_copy(matrix):
    import scipy.sparse as sp

    return sp.coo_array(matrix)


@pytest.mark.parametrize("order", ["row-major", "shuffled"])
def test_grid_layout_is_detected_for_from_arrays(order):
    rng = np.random.default_rng(7)
    w = rng.integers(1, 100, size=(5, 8)).astype(float)
    perm = np.arange(w.size) if order == "row-major" else rng.permutation(w.size)
    rows, cols = np.divmod(perm, 8)
    inst = matching.Instance.from_arrays(
        group_ptr=np.arange(9),
        group_members=np.arange(8),
        edge_resource=rows,
        edge_group=cols,
        edge_weight=w.ravel()[perm],
        check_duplicates=False,
    )
    layout = inst.dense_layout
    assert layout is not None and layout.shape == (5, 8)
    if order == "row-major":
        assert layout.cell_edge is None
    else:
        assert np.array_equal(inst.edge_weight[layout.cell_edge], w.ravel())
    r, c = linear_sum_assignment(w, maximize=True)
    sol = _bipartite.bipartite_solution(inst)
    assert sol.solver == "scipy-dense" and sol.value == w[r, c].sum()
    assert np.array_equal(np.sort(perm[sol.edges]), np.sort(r * 8 + c))
    assert matching.Instance.bipartite(w).dense_layout.shape == (5, 8)


def test_incomplete_or_repeated_grids_have_no_layout():
    base = {"group_ptr": [0, 1, 2], "group_members": [0, 1], "edge_group": [0, 1, 1, 0]}
    repeated = matching.Instance.from_arrays(
        **base, edge_resource=[0, 0, 1, 0], edge_weight=[1.0] * 4, check_duplicates=False
    )
    assert repeated.dense_layout is None
    swapped = matching.Instance.from_arrays(  # group g is not request g
        group_ptr=[0, 1, 2],
        group_members=[1, 0],
        edge_resource=[0, 0],
        edge_group=[0, 1],
        edge_weight=[1.0, 2.0],
    )
    assert swapped.dense_layout is None
    assert matching.Instance([[0, 1]], [(0, 0, 1.0)]).dense_layout is None


@pytest.mark.parametrize("seed", range(3))
def test_sparse_flow_matches_lp_and_is_certified(seed):
    # 10k x 10k, 5 edges per row, float weights: the flow path (scipy took ~4 s here)
    rng = np.random.default_rng(seed)
    n = 2_000 if seed else 10_000
    rows = np.repeat(np.arange(n), 5)
    inst = matching.Instance.from_arrays(
        group_ptr=np.arange(n + 1),
        group_members=np.arange(n),
        edge_resource=rows,
        edge_group=rng.integers(0, n, rows.size),
        edge_weight=rng.random(rows.size),
        n_resources=n,
        check_duplicates=False,
    )
    sol = _bipartite.bipartite_solution(inst)
    assert sol.solver == "ortools-flow"
    lp = matching.solve(inst, "lp")
    assert sol.value == pytest.approx(lp.value, rel=1e-9)
    assert sol.value <= sol.bound <= sol.value + 1e-9
    res = matching.solve(inst)
    assert res.check(inst) and res.value == sol.value


def test_integer_weights_are_scaled_exactly():
    w = np.array([3.0, 2.5, -1.25, 2.0**40, 0.0])
    costs = _bipartite._integer_costs(w, 10)
    assert np.array_equal(costs / 4, w)  # two fractional bits: factor 4
    third = _bipartite._integer_costs(np.array([1.0, 1 / 3]), 10)
    assert third[1] / third[0] == 1 / 3  # 54 fractional bits still fit: exact
    big, tiny = _bipartite._integer_costs(np.array([1.0, 2.0**-60]), 10).tolist()
    limit = 2.0**62 / 11 / 8  # OR-Tools' range for 10 nodes, with room for the shift
    assert limit / 2 < big <= limit and big & (big - 1) == 0 and tiny == 0


def test_bad_weights_are_refused():
    inst = matching.Instance.bipartite([[1.0, 2.0]])
    with pytest.raises(ValueError, match="weights has 1 entries"):
        _bipartite.bipartite_edges(inst, weights=[1.0])
    with pytest.raises(ValueError, match=r"weights\[1\] = nan"):
        _bipartite.bipartite_edges(inst, weights=[1.0, np.nan])
    with pytest.raises(TypeError, match="serve_all"):
        _bipartite.bipartite_edges(inst, serve_all="yes")
    with pytest.raises(ValueError, match="singleton groups"):
        _bipartite.bipartite_edges(matching.Instance([[0, 1]], [(0, 0, 1.0)]))


def test_certificate_rejects_a_matching_from_coarse_costs(monkeypatch):
    # costs rounded to whole units pick suboptimal matchings; the dual certificate must
    # catch each one and the scipy path must then return the optimum
    monkeypatch.setattr(_bipartite, "DENSE_CELL_LIMIT", -1)
    monkeypatch.setattr(_bipartite, "_integer_costs", lambda w, n: np.rint(w).astype(np.int64))
    solvers = set()
    for seed in range(30):
        rng = np.random.default_rng(seed)
        rows, cols = np.divmod(rng.choice(16, size=8, replace=False), 4)
        w = rng.uniform(0.1, 2.0, rows.size)
        inst = matching.Instance.from_arrays(
            group_ptr=np.arange(5),
            group_members=np.arange(4),
            edge_resource=rows,
            edge_group=cols,
            edge_weight=w,
            n_resources=4,
        )
        for serve_all in (False, True):
            expected = brute_force(4, 4, rows, cols, w, serve_all)
            sol = _bipartite.bipartite_solution(inst, serve_all=serve_all)
            if expected is None:
                assert sol is None
                continue
            assert sol.value == pytest.approx(expected, rel=1e-12)
            assert expected - 1e-12 <= sol.bound <= sol.value + 1e-9
            solvers.add(sol.solver)
    assert solvers == {"ortools-flow", "scipy-sparse"}  # some passed, some were caught
