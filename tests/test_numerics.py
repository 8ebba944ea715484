"""MathOpt and CP-SAT stay honest across weight magnitudes: no wrong "optimal", valid bounds."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import brute_force_optimum, wide_range_instances
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import matching
from matching._mathopt import power_of_two_scale, repaired_dual_bound
from matching.families import random_groups
from matching.gap_families import generalized_assignment

OPTIMAL = matching.Status.OPTIMAL
EPS = float(np.finfo(np.float64).eps)

EXACT = [("cpsat", {}), ("mip", {"solver": "highs"}), ("auto", {})]
RELAXED = [("lp", {"solver": s}) for s in ("glop", "pdlp", "highs")]


def noise(inst):
    """Float rounding of sums of the instance's weights."""
    return 8 * (inst.n_edges + 2) * EPS * float(np.abs(inst.edge_weight).sum())


def tolerance(res, inst):
    return res.stats.get("optimality_tolerance", 0.0) + noise(inst)


def assert_truthful(inst, res, optimum):
    """Bound valid; "optimal" only within the stated tolerance of the optimum."""
    tol = tolerance(res, inst)
    assert res.check(inst)
    assert res.bound >= optimum - (0.0 if res.fractional else tol), (res, optimum, tol)
    if res.fractional:
        # the LP bound comes from repaired duals: an upper bound of the LP optimum
        if res.status is OPTIMAL:
            assert res.value >= optimum - tol
    else:
        assert res.value <= optimum + noise(inst)
        if res.status is OPTIMAL:
            assert res.value >= optimum - tol, (res, optimum, tol)


# ------------------------------------------------------------------ reproducers


def test_mip_sees_weights_near_its_gap_tolerance():
    inst = matching.Instance([[0], [1]], [(0, 0, 1e-7), (0, 1, 2e-7), (1, 1, 3e-7)])
    res = matching.solve(inst, "mip")
    assert res.status is OPTIMAL
    assert res.edges.tolist() == [0, 2]  # 1e-7 + 3e-7 beats 2e-7 + nothing
    assert res.value == pytest.approx(4e-7, rel=1e-12)
    assert res.bound >= 4e-7
    assert res.stats["optimality_tolerance"] < 1e-11


@pytest.mark.parametrize("solver", ["glop", "pdlp", "highs"])
def test_lp_sees_weights_below_its_tolerances(solver):
    inst = matching.Instance([[0, 1]], [(0, 0, 9e-10), (1, 0, 2e-10)])
    res = matching.solve(inst, "lp", solver=solver)
    assert res.status is OPTIMAL
    assert res.value == pytest.approx(9e-10, rel=1e-6)
    assert res.bound >= 9e-10


def test_lp_with_weights_fifteen_orders_apart_is_solved():
    w = [908941388723.6361, 726539005306.8035, 0.000707318784970551, 396906249244.5423]
    inst = matching.Instance(
        [[0], [1]],
        [(0, 0, w[0]), (1, 0, w[1]), (0, 1, w[2]), (1, 1, w[3])],
        capacity=[1, 1],
    )
    optimum = brute_force_optimum(inst)
    for solver in ("glop", "pdlp", "highs"):
        res = matching.solve(inst, "lp", solver=solver)
        assert res.status is OPTIMAL, res.stats
        assert_truthful(inst, res, optimum)


@pytest.mark.parametrize("method", ["mip", "lp", "cpsat"])
@pytest.mark.parametrize("weight", [1e20, 1e100, 2e-100])
def test_extreme_weights_in_range_are_solved(method, weight):
    inst = matching.Instance([[0], [1]], [(0, 0, weight), (0, 1, weight * 0.75)])
    res = matching.solve(inst, method)
    assert res.status is OPTIMAL
    assert res.value == weight
    assert weight <= res.bound <= weight * (1 + 1e-6)


@pytest.mark.parametrize("weight", [1e101, -1e200, 1e-101, float(np.nextafter(1e-100, 0))])
def test_weights_out_of_range_are_refused_before_solving(weight):
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, weight)])
    for method in matching.METHODS:
        with pytest.raises(ValueError, match=rf"edge 1 has weight {re_float(weight)}, outside"):
            matching.solve(inst, method)


def re_float(value):
    return repr(value).replace("+", r"\+").replace(".", r"\.")


def test_range_constants():
    assert matching.MIN_ABS_WEIGHT == 1e-100 and matching.MAX_ABS_WEIGHT == 1e100
    # the whole range scales by one power of two to normal floats, exactly
    w = np.array([matching.MIN_ABS_WEIGHT, matching.MAX_ABS_WEIGHT])
    scaled = w * power_of_two_scale(w)
    assert (scaled >= np.finfo(np.float64).tiny).all()
    assert np.array_equal(scaled / power_of_two_scale(w), w)


@pytest.mark.parametrize(("method", "solver"), [("mip", "highs"), ("lp", "highs"), ("lp", "glop")])
def test_solvers_print_nothing_without_log(capfd, method, solver):
    inst = random_groups(20, 60, 120, seed=4, capacity=2, max_load=2)
    for weights in (inst.edge_weight, inst.edge_weight * 1e-9):
        matching.solve(inst.replace(edge_weight=weights), method, solver=solver, time_limit=5)
    out, _ = capfd.readouterr()
    assert out == ""


# ------------------------------------------------------------------ dual repair


@settings(max_examples=60)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_repaired_duals_bound_the_lp_from_any_prices(seed, free):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 4, 6
    a = (rng.random((n_rows, n_cols)) < 0.5) * rng.integers(1, 4, (n_rows, n_cols))
    a[0] = 1  # every column has a coefficient-1 row first (a request)
    costs = rng.normal(size=n_cols) * 10.0 ** rng.integers(-8, 8, n_cols)
    rhs = rng.integers(1, 4, n_rows).astype(float)
    lp = linprog(
        -costs,
        A_ub=None if free else a,
        b_ub=None if free else rhs,
        A_eq=a[:1] if free else None,
        b_eq=rhs[:1] if free else None,
        bounds=(0, None),
        method="highs",
    )
    if free:  # row 0 an equality, the rest inequalities
        lp = linprog(-costs, A_ub=a[1:], b_ub=rhs[1:], A_eq=a[:1], b_eq=rhs[:1], bounds=(0, None))
    rows = np.zeros(n_rows, dtype=bool)
    rows[0] = free
    prices = rng.normal(size=n_rows)  # arbitrary, infeasible prices
    u, bound = repaired_dual_bound(sp.csr_array(a.astype(float)), costs, rhs, prices, rows)
    assert (u[~rows] >= 0).all()
    assert (a.T @ u >= costs).all()
    if lp.status == 0:
        assert bound >= -lp.fun


# ------------------------------------------------------------------ fuzzing


@settings(max_examples=300)
@given(wide_range_instances())
def test_no_wrong_optimal_across_magnitudes(inst):
    optimum = brute_force_optimum(inst)
    for method, options in EXACT + RELAXED:
        res = matching.solve(inst, method, **options)
        assert_truthful(inst, res, optimum)


def test_a_huge_weight_cannot_make_a_wrong_mip_answer_optimal():
    # the tolerance is relative to the answer (2.0 against the true minimum 0.0), never to
    # the largest weight (1.3e12), which once let the solver's slack bless it
    inst = matching.Instance([[0]], [(0, 0, 0.0), (1, 0, 1338177316137.3667), (2, 0, 2.0)])
    res = matching.solve(inst, "mip", objective="min", serve_all=True)
    assert res.check(inst)
    assert res.bound <= 0.0
    assert res.status is OPTIMAL or res.value > 0.0
    if res.status is OPTIMAL:
        assert res.value == 0.0


def test_mip_bound_rounds_to_the_decimal_grid():
    gap = generalized_assignment("a", 10, 200, seed=0)
    res = matching.solve(gap.instance(), "mip", objective="min", serve_all=True)
    # integer costs: the solver's fractional bound rounds up to the integer optimum
    assert res.status is OPTIMAL and res.bound == res.value == round(res.value)


@settings(max_examples=100)
@given(wide_range_instances())
def test_no_wrong_optimal_in_either_sense_or_with_serve_all(inst):
    for objective, serve_all in (("min", False), ("max", True), ("min", True)):
        sign = 1.0 if objective == "max" else -1.0
        optimum = brute_force_optimum(inst, objective, serve_all)
        for method, options in EXACT:
            res = matching.solve(inst, method, objective=objective, serve_all=serve_all, **options)
            if np.isnan(optimum):
                assert res.status is matching.Status.INFEASIBLE, (method, res)
                continue
            tol = tolerance(res, inst)
            assert res.check(inst)
            assert sign * (res.bound - optimum) >= -tol, (method, objective, serve_all, res)
            assert sign * (res.value - optimum) <= noise(inst), (method, res, optimum)
            if res.status is OPTIMAL:
                assert sign * (optimum - res.value) <= tol, (method, res, optimum, tol)
