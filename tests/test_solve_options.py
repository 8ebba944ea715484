"""objective="min" and serve_all=True against brute force, scipy and the result checks."""

import dataclasses
import math

import numpy as np
import pytest
from helpers import brute_force_optimum, small_instances
from hypothesis import given, settings
from scipy.optimize import linear_sum_assignment

import matching
from matching import offline
from matching.families import random_groups
from matching.gap_families import generalized_assignment

INFEASIBLE = matching.Status.INFEASIBLE
OPTIMAL = matching.Status.OPTIMAL


def close(a, b):
    return abs(a - b) <= 1e-7 * max(1.0, abs(a), abs(b))


@settings(max_examples=300)
@given(small_instances(max_requests=5))
def test_exact_methods_equal_brute_force_in_every_sense(inst):
    for objective in ("max", "min"):
        for serve_all in (False, True):
            optimum = brute_force_optimum(inst, objective, serve_all)
            for method in ("cpsat", "mip"):
                res = matching.solve(inst, method, objective=objective, serve_all=serve_all)
                assert res.objective == objective and res.serve_all == serve_all
                assert res.check(inst)
                if math.isnan(optimum):
                    assert res.status is INFEASIBLE
                    assert res.edges.size == 0 and math.isnan(res.value)
                    assert res.bound == (-math.inf if objective == "max" else math.inf)
                    continue
                assert res.status is OPTIMAL, (method, objective, serve_all, res.stats)
                assert close(res.value, optimum), (method, objective, serve_all, res, optimum)
                if objective == "max":
                    assert res.bound >= optimum - 1e-7 * max(1.0, abs(optimum))
                else:
                    assert res.bound <= optimum + 1e-7 * max(1.0, abs(optimum))


@settings(max_examples=150)
@given(small_instances(max_requests=5))
def test_lp_bounds_the_optimum_in_every_sense(inst):
    for objective in ("max", "min"):
        for serve_all in (False, True):
            optimum = brute_force_optimum(inst, objective, serve_all)
            res = matching.solve(inst, "lp", objective=objective, serve_all=serve_all)
            if res.status is INFEASIBLE:
                assert math.isnan(optimum)  # no fractional cover: no integral one
                continue
            assert res.check(inst)
            if math.isnan(optimum):
                continue  # a fractional cover may exist where no integral one does
            if objective == "max":
                assert res.bound >= optimum
            else:
                assert res.bound <= optimum
            y, z = res.request_prices, res.resource_prices
            assert close(float(y.sum() + z @ inst.capacity), res.bound)


@pytest.mark.parametrize("method", ["cpsat", "mip", "auto"])
def test_assignment_problem_equals_linear_sum_assignment(method):
    rng = np.random.default_rng(7)
    cost = np.round(rng.uniform(1.0, 10.0, (6, 6)), 2)  # decimal data: "mip" proves it too
    rows, cols = linear_sum_assignment(cost)
    inst = matching.Instance.bipartite(cost)
    res = matching.solve(inst, method, objective="min", serve_all=True)
    assert res.check(inst)
    assert res.status is OPTIMAL
    assert close(res.value, float(cost[rows, cols].sum()))
    assert res.bound <= res.value + 1e-9
    assert res.method == ("bipartite" if method == "auto" else method)


def test_min_without_serve_all_takes_only_negative_edges():
    inst = matching.Instance([[0], [1]], [(0, 0, 2.0), (0, 1, -3.0), (1, 0, -1.0)], [1, 1])
    for method in ("cpsat", "mip", "greedy"):
        res = matching.solve(inst, method, objective="min")
        assert res.check(inst)
        assert res.value == -4.0 == brute_force_optimum(inst, "min")
    positive = inst.replace(edge_weight=[2.0, 3.0, 1.0])
    assert matching.solve(positive, "cpsat", objective="min").edges.size == 0


def test_a_request_without_an_edge_is_infeasible_before_any_solver():
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0)], n_requests=3)
    for method in ("cpsat", "mip", "lp", "auto"):
        res = matching.solve(inst, method, serve_all=True)
        assert res.status is INFEASIBLE
        assert res.stats == {"solver": "none", "infeasible_request": 1}
        assert res.check(inst)


def test_too_little_capacity_is_infeasible():
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0, 2.0), (0, 1, 1.0, 2.0)], capacity=[3.0])
    for method in ("cpsat", "mip", "lp"):
        res = matching.solve(inst, method, serve_all=True, objective="min")
        assert res.status is INFEASIBLE, method
        assert res.bound == math.inf and res.gap == math.inf


def test_check_verifies_serve_all_and_the_sense():
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (1, 1, 2.0)], capacity=[1, 1])
    res = matching.solve(inst, "cpsat", serve_all=True, objective="min")
    assert res.value == 3.0 and res.check(inst)
    short = dataclasses.replace(
        res, edges=res.edges[:1], value=1.0, _resources=res._resources[:1], _groups=res._groups[:1]
    )
    with pytest.raises(matching.InfeasibleMatchingError, match="request 1 is served 0 times"):
        short.check(inst)
    with pytest.raises(matching.InfeasibleMatchingError, match="above value"):
        dataclasses.replace(res, bound=4.0).check(inst)
    assert dataclasses.replace(res, bound=2.5).gap == pytest.approx(0.5 / 2.5)


def test_mip_returns_at_least_the_greedy_matching_at_its_time_limit():
    inst = random_groups(200, 6000, 12000, degree=4, capacity=4, max_load=3, seed=5)
    greedy = matching.solve(inst, "greedy")
    res = matching.solve(inst, "mip", time_limit=0.05)
    assert res.check(inst)
    assert res.value >= greedy.value


def test_cpsat_time_limit_covers_building_the_model():
    inst = random_groups(400, 20000, 20000, max_group_size=1, degree=5, capacity=10, seed=1)
    res = matching.solve(inst, "cpsat", time_limit=0.5)
    assert res.check(inst)
    # before the build counted, 100k edges took 1.2-1.9 s to build on top of the limit
    assert res.wall_time <= 0.5 + 1.1


@pytest.mark.parametrize("method", ["bipartite", "auto"])
@pytest.mark.parametrize("shape", [(5, 5), (7, 4)])
def test_bipartite_method_minimises_a_full_assignment(method, shape):
    cost = np.random.default_rng(3).uniform(1.0, 5.0, shape)
    rows, cols = linear_sum_assignment(cost)
    inst = matching.Instance.bipartite(cost)
    res = matching.solve(inst, method, objective="min", serve_all=True)
    assert res.method == "bipartite" and res.status is OPTIMAL
    assert res.check(inst)
    assert close(res.value, float(cost[rows, cols].sum()))
    assert res.bound <= res.value + 1e-9


def test_sparse_bipartite_min_full_assignment_equals_cpsat():
    rng = np.random.default_rng(5)
    n_res, n_req = 300, 200
    edges = [
        (int(r), q, float(rng.integers(1, 50)))
        for q in range(n_req)
        for r in rng.choice(n_res, 4, replace=False)
    ]
    inst = matching.Instance([[q] for q in range(n_req)], edges, n_requests=n_req)
    flow = matching.solve(inst, objective="min", serve_all=True)
    exact = matching.solve(inst, "cpsat", objective="min", serve_all=True)
    assert flow.stats["solver"] == "ortools-flow"
    assert flow.status is exact.status
    if exact.status is OPTIMAL:
        assert flow.check(inst) and close(flow.value, exact.value)
        assert flow.bound <= exact.value + 1e-6


@settings(max_examples=200)
@given(small_instances(max_requests=5))
def test_share_bound_bounds_the_optimum_in_every_sense(inst):
    # the fallback bound of a solve that stopped before proving one
    for objective in ("max", "min"):
        sign = 1.0 if objective == "max" else -1.0
        for serve_all in (False, True):
            optimum = brute_force_optimum(inst, objective, serve_all)
            if math.isnan(optimum):
                continue
            bound = sign * offline._share_bound(inst, sign * inst.edge_weight, serve_all)
            assert sign * (bound - optimum) >= 0, (objective, serve_all, bound, optimum)


def test_a_stopped_solve_reports_the_share_bound_not_infinity():
    inst = random_groups(400, 20000, 20000, max_group_size=1, degree=5, capacity=10, seed=1)
    res = matching.solve(inst, "cpsat", time_limit=0.05)
    assert math.isfinite(res.bound) and res.bound >= res.value
    if res.stats.get("bound_source") == "request shares":
        assert res.bound == offline._share_bound(inst, inst.edge_weight, False)


@pytest.mark.parametrize("solver", ["glop", "highs", "pdlp"])
def test_lp_states_an_impossible_serve_all_as_infeasible(solver):
    # two requests, one resource of capacity 1: no LP point serves both
    inst = matching.Instance(
        [[0], [1], [0], [0], [1], [1]],
        [(0, 0, 0.5), (0, 1, 7e11 + 0.3), (0, 2, -1.0), (0, 3, 3.5), (0, 4, 8.2e11), (0, 5, 1e12)],
        n_requests=2,
    )
    res = matching.solve(inst, "lp", serve_all=True, solver=solver)
    assert res.status is INFEASIBLE and res.edges.size == 0
    assert res.check(inst)


@pytest.mark.parametrize("method", ["cpsat", "mip", "lp", "auto"])
def test_serve_all_with_no_requests_is_the_empty_optimum(method):
    inst = matching.Instance([], [], n_requests=0, n_resources=1)
    res = matching.solve(inst, method, serve_all=True)
    assert res.status is OPTIMAL and res.value == 0.0 and res.check(inst)


def test_auto_picks_the_path_measured_best_for_the_structure():
    gap = generalized_assignment("c", 3, 12, seed=1)
    assert offline._auto_method(gap.instance(), gap.instance().edge_weight) == "mip"
    res = matching.solve(gap.instance(), objective="min", serve_all=True)
    exact = matching.solve(gap.instance(), "cpsat", objective="min", serve_all=True)
    assert res.method == "mip" and res.status is OPTIMAL and res.value == exact.value
    floats = gap.instance().replace(edge_weight=gap.instance().edge_weight / 3)
    assert offline._auto_method(floats, floats.edge_weight) == "cpsat"  # no decimal grid
    pairs = random_groups(20, 30, 40, max_group_size=2, seed=0)
    assert offline._auto_method(pairs, pairs.edge_weight) == "cpsat"
    square = matching.Instance.bipartite(np.ones((3, 3)))
    assert offline._auto_method(square, square.edge_weight) == "bipartite"


def test_auto_keeps_wide_ranging_weights_off_the_mip():
    # integer weights from 1 to 2**34 on singleton groups: the MIP's tolerance allowance
    # (1e-7 of the largest weight per variable and row) is coarser than the integer grid
    inst = matching.Instance(
        [[0], [1], [2]], [(0, 0, 1.0, 2), (0, 1, 2.0**34, 1), (1, 2, 3.0, 1)], capacity=[2, 1]
    )
    assert offline._auto_method(inst, inst.edge_weight) == "cpsat"
    res = matching.solve(inst)
    assert res.status is OPTIMAL and res.value == 2.0**34 + 3.0
