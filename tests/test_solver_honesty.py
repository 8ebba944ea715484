"""Exact CP-SAT scaling, float-noise feasibility checks and proven bounds."""

import dataclasses
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from helpers import as_decimal, brute_force_optimum, large_load_instances, small_instances
from hypothesis import given, settings
from hypothesis import strategies as st

import matching
from matching import offline
from matching._scaling import (
    MAX_DECIMALS,
    WeightScaling,
    decimal_integers,
    scale_exactly,
    scale_weights,
)
from matching.result import integral_result

OPTIMAL = matching.Status.OPTIMAL


def pair_on_one_resource(load, capacity, weights=(1.0, 1.0)):
    """Two single-request groups, each with an edge of ``load`` to one resource."""
    edges = [(0, 0, weights[0], load), (0, 1, weights[1], load)]
    return matching.Instance([[0], [1]], edges, capacity=[capacity])


# ------------------------------------------------------------------ exact scaling


@pytest.mark.parametrize(
    ("load", "capacity", "optimum"),
    [
        (5e11 + 0.4, 1e12 + 0.5, 1.0),  # 1e12 + 0.8 does not fit
        (5e11 + 0.6, 1e12 + 1.4, 2.0),  # 1e12 + 1.2 fits
    ],
)
def test_cpsat_scales_large_decimal_loads_exactly(load, capacity, optimum):
    inst = pair_on_one_resource(load, capacity)
    res = matching.solve(inst, "cpsat")
    assert res.check(inst)
    assert res.status is OPTIMAL
    assert res.value == optimum == brute_force_optimum(inst)
    assert res.bound >= optimum
    assert res.stats["load_scale"] == 10.0


@pytest.mark.parametrize(
    ("load", "capacity", "message"),
    [
        (1e12 + 1 / 3, 1e13, r"edge_load\[0\] = 1000000000000.3334 does not\."),
        (2.0**51 + 0.5, 2.0**52, r"edge_load\[0\] = 2251799813685248.5 does not\."),
        (0.001, 1e13, r"capacity\[0\] = 10000000000000.0 does not at the d = 3"),
    ],
)
def test_cpsat_refuses_loads_it_cannot_scale_exactly(load, capacity, message):
    inst = matching.Instance([[0]], [(0, 0, 1.0, load)], capacity=[capacity])
    with pytest.raises(ValueError, match=message) as info:
        matching.solve(inst, "cpsat")
    assert "loads and capacities" in str(info.value)
    assert "method='mip'" in str(info.value)


def test_cpsat_refuses_capacity_rows_beyond_safe_int64_sums():
    n = 2100  # 2100 loads of 2**51 sum past 2**62; three fit under 2**53 - 2
    inst = matching.Instance(
        [[i] for i in range(n)], [(0, i, 1.0, 2.0**51) for i in range(n)], capacity=[2.0**53 - 2]
    )
    with pytest.raises(ValueError, match=r"capacity row 0: .* 2\*\*62 .*method='mip'"):
        matching.solve(inst, "cpsat")


def test_scale_exactly_names_arrays_and_splits_them():
    scale, (load, cap) = scale_exactly(
        {"edge_load": np.array([0.25, 1.0]), "capacity": np.array([3.5])}, "loads"
    )
    assert scale == 100.0
    assert load.tolist() == [25, 100] and cap.tolist() == [350]
    assert load.dtype == np.int64


def test_scaling_a_million_loads():
    rng = np.random.default_rng(0)
    loads = rng.choice([0.25, 1.0, 3.0], 10**6)
    scale, (ints,) = scale_exactly({"edge_load": loads}, "loads")
    assert scale == 100.0
    assert np.array_equal(ints, np.rint(loads * 100).astype(np.int64))


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 8).flatmap(
                lambda p: st.decimals(-(10**15), 10**15, places=p, allow_nan=False)
            ),
            st.integers(-(2**54), 2**54).map(Decimal),
            st.floats(-1e16, 1e16).map(as_decimal),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_decimal_integers_read_floats_as_the_decimals_they_print_as(decimals):
    values = np.array([float(d) for d in decimals])
    typed = [as_decimal(v) for v in values]
    scaling = decimal_integers(values)
    places = [max(0, -d.normalize().as_tuple().exponent) for d in typed]
    ok = [
        p <= MAX_DECIMALS and abs(d.scaleb(p)) < 2**53 for p, d in zip(places, typed, strict=True)
    ]
    for d, good, bad, n in zip(typed, ok, scaling.bad, scaling.integers.tolist(), strict=True):
        if not good:
            assert bad
        elif not bad:
            assert Decimal(n) == d.scaleb(scaling.digits)
    if all(ok):
        assert scaling.digits == max(places)
        assert scaling.bad.tolist() == [abs(d.scaleb(scaling.digits)) >= 2**53 for d in typed]


# ------------------------------------------------------------------ weights


def test_cpsat_tells_large_decimal_weights_apart():
    # a relative tolerance used to round both to 1e12 and pick the lighter edge
    inst = matching.Instance([[0], [1]], [(0, 0, 1e12 + 0.1), (0, 1, 1e12 + 0.4)])
    res = matching.solve(inst, "cpsat", hint=False)
    assert res.check(inst)
    assert res.edges.tolist() == [1]
    assert res.value == 1e12 + 0.4 <= res.bound < res.value + 1e-3


def test_decimal_weights_scale_exactly():
    scaling = scale_weights(np.array([1e12 + 0.1, 1e12 + 0.4]))
    assert scaling.scale == 10.0
    assert scaling.integers.tolist() == [10000000000001, 10000000000004]


@pytest.mark.parametrize(
    "weights",
    [[0.1, 0.2], [1e12 + 0.1, 1e12 + 0.4], [1e12 + 1 / 3, 0.5], [1 / 3, 2 / 3, 1e-20], [7.0, 2.5]],
)
def test_weight_slack_covers_the_floats(weights):
    # every set of weights weighs at most its scaled integers / scale + slack, exactly
    scaling = scale_weights(np.array(weights))
    scaled = sum(Fraction(int(n)) for n in scaling.integers) / Fraction(scaling.scale)
    assert sum(Fraction(w) for w in weights) <= scaled + Fraction(scaling.slack)
    assert scaling.exact == (scaling.slack == 0.0)


def test_weight_slack_is_zero_for_binary_fractions():
    assert scale_weights(np.array([7.0, 2.5, 0.25])).exact


def test_weight_bound_rounds_up():
    scaling = WeightScaling(scale=10.0, integers=np.array([1, 2]), slack=0.0)
    assert scaling.upper_bound(Fraction(3)) >= Fraction(3, 10) > 3 / 10.0


# ------------------------------------------------------------------ check tolerance


def test_check_accepts_decimal_data_at_float_noise():
    inst = matching.Instance(
        [[0], [1], [2]], [(0, g, 1.0, 0.1) for g in range(3)], capacity=[0.3]
    )  # 0.1 + 0.1 + 0.1 == 0.30000000000000004 in floats
    res = integral_result(inst, [0, 1, 2], bound=3.0, status=OPTIMAL, method="cpsat", stats={})
    assert res.check(inst)


def test_check_rejects_a_genuine_excess_at_large_capacity():
    inst = pair_on_one_resource(5e11 + 0.4, 1e12 + 0.5)  # 1e12 + 0.8 > 1e12 + 0.5
    res = integral_result(inst, [0, 1], bound=2.0, status=OPTIMAL, method="cpsat", stats={})
    with pytest.raises(matching.InfeasibleMatchingError, match="resource 0 carries load"):
        res.check(inst)


@pytest.mark.parametrize("excess", [0.0, 0.1])
def test_check_sums_many_loads_accurately(excess):
    n = 2000
    loads = [float(f"{1_000_000_000 + i}.{i % 10}") for i in range(n)]
    capacity = float(sum(as_decimal(v) for v in loads) - Decimal(str(excess)))
    inst = matching.Instance(
        [[i] for i in range(n)], [(0, i, 1.0, v) for i, v in enumerate(loads)], capacity=[capacity]
    )
    res = integral_result(inst, range(n), bound=n, status=OPTIMAL, method="cpsat", stats={})
    if excess:
        with pytest.raises(matching.InfeasibleMatchingError, match="over its capacity"):
            res.check(inst)
    else:
        assert res.check(inst)


def test_check_counts_requests_of_0_1_results_exactly():
    inst = matching.Instance([[0], [0, 1]], [(0, 0, 1.0), (1, 1, 1.0)], capacity=[1, 1])
    res = integral_result(inst, [0, 1], bound=2.0, status=OPTIMAL, method="cpsat", stats={})
    with pytest.raises(matching.InfeasibleMatchingError, match="request 0 is served 2 times"):
        res.check(inst, tol=1.5)


def test_check_holds_0_1_bounds_to_float_noise():
    inst = matching.Instance([[0]], [(0, 0, 1e12)])
    res = matching.solve(inst, "cpsat")
    with pytest.raises(matching.InfeasibleMatchingError, match="bound"):
        dataclasses.replace(res, bound=1e12 - 1).check(inst)


# ------------------------------------------------------------------ proven bounds


def test_integral_result_keeps_the_bound_it_is_given():
    inst = matching.Instance([[0]], [(0, 0, 2.0)])
    res = integral_result(inst, [0], bound=1.5, status=OPTIMAL, method="fake", stats={})
    assert res.bound == 1.5


@pytest.mark.parametrize(
    ("method", "solver_name"), [("cpsat", "solve_cpsat"), ("lp", "solve_mathopt")]
)
def test_solve_reports_the_solver_bound(monkeypatch, method, solver_name):
    real = getattr(offline, solver_name)

    def low_bound(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), bound=0.5)

    monkeypatch.setattr(offline, solver_name, low_bound)
    inst = matching.Instance([[0]], [(0, 0, 2.0)])
    assert matching.solve(inst, method).bound == 0.5


def test_cpsat_bound_is_its_exact_integer_bound():
    # CP-SAT's float best_objective_bound reads 774.9999999999999 here, below 7.75 * 100
    groups = [[5], [1, 3, 0], [1, 3], [0, 1, 3], [4], [5]]
    edges = [(0, 1, 1.5, 2e11 + 0.3), (0, 5, 4.75, 0.1), (0, 3, 3.0, 1e11 + 0.3)]
    inst = matching.Instance(groups, edges, capacity=[6e11], n_requests=6)
    res = matching.solve(inst, "cpsat")
    assert res.value == brute_force_optimum(inst) == 7.75
    assert res.bound == 7.75


def solver_tolerance(res, optimum):
    """Float noise of the sums, or the solver's stated tolerance (PDLP: 1e-6)."""
    return 10 * res.stats.get("feasibility_tolerance", 1e-12) * max(1.0, abs(optimum))


BOUNDED_METHODS = [
    ("cpsat", {}),
    ("mip", {"solver": "highs"}),
    ("lp", {"solver": "glop"}),
    ("lp", {"solver": "pdlp"}),
]


def assert_honest(inst, res):
    optimum = brute_force_optimum(inst)
    tiny = solver_tolerance(res, optimum)
    assert res.check(inst)
    if res.status is matching.Status.INFEASIBLE_INPUT:
        assert res.bound == float("inf")  # a failed solve proves nothing
    assert res.bound >= optimum - tiny
    if not res.fractional:
        assert res.value <= optimum + tiny


@settings(max_examples=1000)
@given(small_instances())
def test_bounds_are_proven_on_fuzzed_instances(inst):
    for method, options in BOUNDED_METHODS:
        assert_honest(inst, matching.solve(inst, method, **options))


@settings(max_examples=500)
@given(small_instances(decimal_weights=False))
def test_bounds_are_proven_with_arbitrary_float_weights(inst):
    for method, options in BOUNDED_METHODS[:3]:
        assert_honest(inst, matching.solve(inst, method, **options))


@settings(max_examples=1500)
@given(large_load_instances())
def test_cpsat_is_exact_on_large_loads_with_decimal_parts(inst):
    res = matching.solve(inst, "cpsat")
    assert_honest(inst, res)
    assert res.status is OPTIMAL
    assert res.value == brute_force_optimum(inst)


@pytest.mark.parametrize("weights", [[5e-324, 1.0 / 3], [5e-324], [1e-310, 2e-310]])
def test_subnormal_weights_scale_to_a_finite_scale(weights):
    scaling = scale_weights(np.array(weights))
    assert np.isfinite(scaling.scale) and scaling.scale > 0
    # the rounding left over is covered by the slack, so the bound stays valid
    assert scaling.upper_bound(Fraction(int(scaling.integers.clip(0).sum()))) >= sum(
        w for w in weights if w > 0
    )
