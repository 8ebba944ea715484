"""objective="min" and serve_all=True against brute force, scipy and the result checks."""

import dataclasses
import inspect
import math

import numpy as np
import pytest
from helpers import brute_force_optimum, small_instances
from hypothesis import given, settings
from scipy.optimize import linear_sum_assignment

import matching
from matching import _bipartite
from matching.families import random_groups

INFEASIBLE = matching.Status.INFEASIBLE
OPTIMAL = matching.Status.OPTIMAL


def _bipartite_supports_options() -> bool:
    return "serve_all" in inspect.signature(_bipartite.bipartite_edges).parameters


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
    cost = rng.uniform(1.0, 10.0, (6, 6))
    rows, cols = linear_sum_assignment(cost)
    inst = matching.Instance.bipartite(cost)
    res = matching.solve(inst, method, objective="min", serve_all=True)
    assert res.check(inst)
    assert res.status is OPTIMAL
    assert close(res.value, float(cost[rows, cols].sum()))
    assert res.bound <= res.value + 1e-9
    assert res.method == "cpsat" if method == "auto" else method


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
    assert res.wall_time <= 1.2 * 0.5 + 0.5


@pytest.mark.skipif(not _bipartite_supports_options(), reason="bipartite_edges takes no options")
def test_bipartite_method_minimises_a_full_assignment():
    cost = np.random.default_rng(3).uniform(1.0, 5.0, (5, 5))
    rows, cols = linear_sum_assignment(cost)
    inst = matching.Instance.bipartite(cost)
    res = matching.solve(inst, "bipartite", objective="min", serve_all=True)
    assert res.check(inst)
    assert close(res.value, float(cost[rows, cols].sum()))
