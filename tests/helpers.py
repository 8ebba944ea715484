"""Independent reference answers and Hypothesis strategies for the tests."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

import matching

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def as_decimal(value: float) -> Decimal:
    """The decimal a float prints as (how decimal data such as 0.1 is typed)."""
    return Decimal(repr(float(value)))


def brute_force_optimum(
    inst: matching.Instance, objective: str = "max", serve_all: bool = False
) -> float:
    """Exhaustive search over edge subsets (depth-first, include/exclude each edge).

    Loads and capacities are compared exactly, as the decimals they print as. With
    ``serve_all`` only subsets covering every request count; NaN when there is none.
    """
    resources = inst.edge_resource.tolist()
    weights = inst.edge_weight.tolist()
    loads = [as_decimal(v) for v in inst.edge_load]
    masks = []
    for g in inst.edge_group.tolist():
        mask = 0
        for q in inst.group(g).tolist():
            mask |= 1 << q
        masks.append(mask)
    remaining = [as_decimal(v) for v in inst.capacity]
    everyone = (1 << inst.n_requests) - 1
    values = []

    def visit(e: int, used: int, value: float) -> None:
        if e == len(weights):
            if used == everyone or not serve_all:
                values.append(value)
            return
        visit(e + 1, used, value)
        r = resources[e]
        if not used & masks[e] and loads[e] <= remaining[r]:
            remaining[r] -= loads[e]
            visit(e + 1, used | masks[e], value + weights[e])
            remaining[r] += loads[e]

    visit(0, 0, 0.0)
    if not values:
        return float("nan")
    return max(values) if objective == "max" else min(values)


@st.composite
def wide_range_instances(draw, low: int = -9, high: int = 12):
    """Small instances whose weights mix magnitudes from ``10**low`` to ``10**high``.

    Every weight is ``m * 10**k`` with a random mantissa ``1 <= m < 10`` and exponent
    ``low <= k < high``; one in eight is negative and one in sixteen is zero.
    """
    inst = draw(small_instances())
    magnitude = st.tuples(st.floats(1.0, 10.0, exclude_max=True), st.integers(low, high - 1)).map(
        lambda mk: mk[0] * 10.0 ** mk[1]
    )
    sign = st.sampled_from([1.0] * 13 + [-1.0] * 2 + [0.0])
    weights = [draw(sign) * draw(magnitude) for _ in range(inst.n_edges)]
    return inst.replace(edge_weight=weights)


@st.composite
def small_instances(
    draw,
    max_requests=8,
    max_resources=4,
    max_group=3,
    max_edges=12,
    unit=False,
    decimal_weights=True,
):
    """Random small instances: <= 8 requests, <= 4 resources, groups of <= 3 requests."""
    n_req = draw(st.integers(1, max_requests))
    n_res = draw(st.integers(1, max_resources))
    n_groups = draw(st.integers(1, 6))
    groups = [
        draw(
            st.lists(
                st.integers(0, n_req - 1), min_size=1, max_size=min(max_group, n_req), unique=True
            )
        )
        for _ in range(n_groups)
    ]
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_res - 1), st.integers(0, n_groups - 1)),
            max_size=max_edges,
            unique=True,
        )
    )
    if decimal_weights:
        weight = st.integers(-4, 40).map(lambda v: v / 4)
    else:
        weight = st.floats(-1, 10, allow_nan=False, allow_infinity=False).map(
            lambda w: w if abs(w) >= matching.MIN_ABS_WEIGHT else 0.0
        )
    edges = []
    for r, g in pairs:
        w = draw(weight)
        if unit:
            edges.append((r, g, w))
        else:
            edges.append((r, g, w, draw(st.integers(0, 3))))
    capacity = [1] * n_res if unit else [draw(st.integers(0, 4)) for _ in range(n_res)]
    return matching.Instance(groups, edges, capacity=capacity, n_requests=n_req)


@st.composite
def large_load_instances(draw, units=(10**3, 10**11, 10**14)):
    """Small instances whose loads and capacities are ``unit * k + f``: ``unit`` up to
    1e14, small integers ``k`` and one decimal place ``f``, so that which subsets fit
    is decided by fractional parts far below the float resolution of the sums.
    """
    unit = draw(st.sampled_from(units))

    def value(high: int) -> st.SearchStrategy[float]:
        return st.tuples(st.integers(0, high), st.integers(0, 9)).map(
            lambda kf: float(f"{kf[0] * unit}.{kf[1]}")
        )

    inst = draw(small_instances())
    loads = [draw(value(3)) for _ in range(inst.n_edges)]
    capacity = [draw(value(6)) for _ in range(inst.n_resources)]
    return inst.replace(edge_load=loads, capacity=capacity)


def assert_close(a: float, b: float, tol: float = 1e-7) -> None:
    assert abs(a - b) <= tol * max(1.0, abs(a), abs(b)), (a, b)


def lp_dual_check(inst: matching.Instance, res: matching.MatchingResult, tol=1e-6) -> None:
    """Dual feasibility and strong duality of the LP prices, computed from scratch."""
    y, z = res.request_prices, res.resource_prices
    assert (y >= -tol).all() and (z >= -tol).all()
    dual_value = float(y.sum() + z @ inst.capacity)
    assert_close(dual_value, res.value, 1e-6)
    positive = inst.edge_weight > 0
    covered = inst.edge_requests @ y + inst.edge_load * z[inst.edge_resource]
    assert (inst.edge_weight[positive] <= covered[positive] + tol).all()
    np.testing.assert_array_less(-tol, res.x)
