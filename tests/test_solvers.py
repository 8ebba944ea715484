"""Every exact method against brute force; LP, greedy and bipartite against theory."""

import dataclasses
import itertools

import networkx as nx
import numpy as np
import pytest
from helpers import assert_close, brute_force_optimum, lp_dual_check, small_instances
from hypothesis import given, settings

import matching
from matching import _bipartite
from matching.families import random_bipartite, random_groups
from scheduling.rides import synthetic_ride_batch


@settings(max_examples=2000)
@given(small_instances())
def test_exact_methods_equal_brute_force(inst):
    optimum = brute_force_optimum(inst)
    for method in ("cpsat", "mip", "auto"):
        res = matching.solve(inst, method)
        assert res.check(inst)
        assert res.status is matching.Status.OPTIMAL
        assert_close(res.value, optimum)
        assert res.bound >= optimum - 1e-7
    lp = matching.solve(inst, "lp")
    assert lp.check(inst)
    assert lp.value >= optimum - 1e-7
    greedy = matching.solve(inst, "greedy")
    assert greedy.check(inst)
    assert greedy.value <= optimum + 1e-9


@settings(max_examples=1000)
@given(small_instances(unit=True))
def test_greedy_is_within_one_over_k_plus_one(inst):
    optimum = brute_force_optimum(inst)
    k = int(inst.group_sizes.max())
    for key in ("weight", "density"):
        res = matching.solve(inst, "greedy", key=key)
        assert res.check(inst)
        assert res.value >= optimum / (k + 1) - 1e-9


@settings(max_examples=500)
@given(small_instances(decimal_weights=False))
def test_cpsat_with_arbitrary_float_weights(inst):
    optimum = brute_force_optimum(inst)
    res = matching.solve(inst, "cpsat")
    assert res.check(inst)
    # weights scaled to 2**-40 of the largest: the value may miss the optimum only by
    # the rounding, which the bound accounts for
    assert_close(res.value, optimum, 1e-9)
    assert res.bound >= optimum - 1e-12
    assert res.bound - res.value <= 1e-9 * max(1.0, optimum)


@settings(max_examples=500)
@given(small_instances())
def test_lp_duals_are_feasible_and_tight(inst):
    for solver in ("glop", "highs"):
        res = matching.solve(inst, "lp", solver=solver)
        assert res.status is matching.Status.OPTIMAL
        lp_dual_check(inst, res)


def test_generalized_assignment_known_answer():
    # 4 jobs (singleton groups), 2 machines with capacities 5 and 4.
    loads = [[3, 2], [2, 3], [4, 1], [1, 4]]
    values = [[6, 5], [5, 6], [8, 3], [2, 7]]
    caps = [5, 4]
    edges = [(r, j, values[j][r], loads[j][r]) for j in range(4) for r in range(2)]
    inst = matching.Instance([[j] for j in range(4)], edges, capacity=caps)
    best = 0.0
    for choice in itertools.product([None, 0, 1], repeat=4):  # each job: no machine, 0, 1
        used = [0, 0]
        total = 0.0
        for j, r in enumerate(choice):
            if r is not None:
                used[r] += loads[j][r]
                total += values[j][r]
        if used[0] <= caps[0] and used[1] <= caps[1]:
            best = max(best, total)
    # by hand: jobs 0 and 1 on machine 0 (loads 3 + 2 = 5, value 11), job 3 on machine 1
    # (load 4, value 7)
    assert best == 18.0
    for method in ("cpsat", "mip"):
        res = matching.solve(inst, method)
        assert res.check(inst)
        assert res.value == best


@pytest.mark.parametrize("seed", range(5))
def test_bipartite_against_networkx(seed):
    rng = np.random.default_rng(seed)
    weights = np.round(rng.random((12, 17)) * 100) * (rng.random((12, 17)) < 0.4)
    inst = matching.Instance.bipartite(weights)
    graph = nx.Graph()
    for r, q in zip(*np.nonzero(weights), strict=True):
        graph.add_edge(("r", r), ("q", q), weight=weights[r, q])
    expected = sum(graph.edges[e]["weight"] for e in nx.max_weight_matching(graph))
    for method in ("bipartite", "cpsat", "mip"):
        res = matching.solve(inst, method)
        assert res.check(inst)
        assert res.value == pytest.approx(expected)
    assert matching.solve(inst).method == "bipartite"


@pytest.mark.parametrize("seed", range(4))
def test_sparse_bipartite_path_matches_dense(seed, monkeypatch):
    inst = random_bipartite(30, 45, density=0.08, seed=seed)
    dense = matching.solve(inst, "bipartite")
    monkeypatch.setattr(_bipartite, "DENSE_CELL_LIMIT", 0)
    sparse = matching.solve(inst, "bipartite")
    assert sparse.check(inst)
    assert sparse.value == pytest.approx(dense.value)
    assert sparse.value == pytest.approx(matching.solve(inst, "mip").value)


def test_bipartite_with_parallel_singleton_groups():
    # groups 0 and 1 are the same request: the heavier edge counts, never both
    inst = matching.Instance([[0], [0], [1]], [(0, 0, 1.0), (0, 1, 5.0), (1, 2, 2.0), (1, 0, 4.0)])
    res = matching.solve(inst, "bipartite")
    assert res.check(inst)
    assert res.value == 7.0 == brute_force_optimum(inst)  # r0 takes group 1, r1 group 2


def test_time_limit_returns_checked_incumbent_and_bound():
    inst = synthetic_ride_batch(150, 750, share_radius=1.5, seed=3).instance
    res = matching.solve(inst, "cpsat", time_limit=0.2)
    assert res.check(inst)
    assert res.status in (matching.Status.TIME_LIMIT, matching.Status.OPTIMAL)
    assert res.bound >= res.value
    if res.status is matching.Status.TIME_LIMIT:
        assert res.gap > 0


def test_medium_instance_methods_agree():
    inst = random_groups(20, 60, 120, degree=3, capacity=3, max_load=2, seed=5)
    cp = matching.solve(inst, "cpsat")
    mip = matching.solve(inst, "mip")
    scip = matching.solve(inst, "mip", solver="scip")
    lp = matching.solve(inst, "lp")
    pdlp = matching.solve(inst, "lp", solver="pdlp")
    greedy = matching.solve(inst, "greedy", key="density")
    for res in (cp, mip, scip, lp, pdlp, greedy):
        assert res.check(inst)
    assert cp.value == pytest.approx(mip.value, rel=1e-9)
    assert scip.value == pytest.approx(mip.value, rel=1e-9)
    assert lp.value >= cp.value - 1e-7
    assert pdlp.value == pytest.approx(lp.value, rel=1e-5)
    # a PDLP result is still held to 1e-6: an x pushed past that is caught
    broken = pdlp.x.copy()
    broken[int(np.argmax(broken))] += 1e-3
    with pytest.raises(matching.InfeasibleMatchingError):
        dataclasses.replace(pdlp, _x=broken).check(inst)
    assert greedy.value <= cp.value + 1e-9
    lp_dual_check(inst, lp)


def test_fractional_loads_need_mip():
    inst = matching.Instance(
        [[0], [1]], [(0, 0, 1.0, 0.1234567891), (0, 1, 1.0, 0.5)], capacity=[0.6]
    )
    with pytest.raises(ValueError, match="loads and capacities"):
        matching.solve(inst, "cpsat")
    res = matching.solve(inst, "mip")
    assert res.check(inst) and res.value == 1.0


def test_decimal_loads_are_scaled_exactly():
    inst = matching.Instance(
        [[0], [1], [2]], [(0, 0, 1.0, 0.1), (0, 1, 1.0, 0.2), (0, 2, 1.0, 0.3)], capacity=[0.3]
    )
    res = matching.solve(inst, "cpsat")
    assert res.check(inst)
    assert res.value == 2.0 == brute_force_optimum(inst)
    assert res.stats["load_scale"] == 10.0


def test_empty_and_edgeless_instances():
    inst = matching.Instance([[0]], [], capacity=[1])
    for method in ("auto", "cpsat", "mip", "lp", "greedy"):
        res = matching.solve(inst, method)
        assert res.check(inst)
        assert res.value == 0.0 and res.edges.size == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"method": "simplex"}, ValueError, "unknown method"),
        ({"time_limit": -1}, ValueError, "time_limit"),
        ({"threads": 0}, ValueError, "threads"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"method": "greedy", "key": "ratio"}, ValueError, "greedy key"),
        ({"method": "lp", "solver": "cplex"}, ValueError, "unknown lp solver"),
        ({"method": "cpsat", "solver": "highs"}, TypeError, "takes no option"),
        ({"method": "bipartite"}, ValueError, "singleton groups"),
    ],
)
def test_bad_arguments_are_rejected_before_solving(kwargs, error, pattern):
    inst = matching.Instance([[0, 1]], [(0, 0, 1.0)])
    with pytest.raises(error, match=pattern):
        matching.solve(inst, **kwargs)


def test_solve_rejects_non_instances():
    with pytest.raises(TypeError, match=r"matching\.Instance"):
        matching.solve([[0]])
