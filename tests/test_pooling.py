"""scheduling.pooling against independent brute force over stop orders and subsets."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.pooling import (
    Requests,
    Route,
    best_route,
    feasible_groups,
    shareable_pairs,
    vehicle_group_edges,
)
from scheduling.roads import RoadNetwork

GRID = RoadNetwork.grid(5, spacing_km=0.2, speed_kmh=25.0)  # 28.8 s per block
BIG = RoadNetwork.grid(6, spacing_km=0.3, speed_kmh=20.0, perturb=0.5, seed=3)
FULL = {id(GRID): GRID.travel_time_matrix(np.arange(GRID.num_nodes))}
FULL[id(BIG)] = BIG.travel_time_matrix(np.arange(BIG.num_nodes))


@cache
def brute_orders(k: int) -> tuple[tuple[tuple[int, str], ...], ...]:
    """All permutations of the 2k stops (rider, kind), keeping pickup-before-dropoff."""
    stops = [(r, "pickup") for r in range(k)] + [(r, "dropoff") for r in range(k)]
    out = []
    for perm in itertools.permutations(stops):
        seen: set[int] = set()
        good = True
        for r, kind in perm:
            if kind == "pickup":
                seen.add(r)
            elif r not in seen:
                good = False
                break
        if good:
            out.append(perm)
    return tuple(out)


def simulate(T, req, riders, order, start_node, start_time, return_to):
    """Driving cost of one order, or None if some limit is broken (start None: first pickup)."""
    stops = [(riders[r], kind) for r, kind in order]
    node = [req.origin[r] if k == "pickup" else req.destination[r] for r, k in stops]
    if start_node is None:
        start_node, start_time = node[0], req.request_time[stops[0][0]]
    cost, t, here = 0.0, float(start_time), start_node
    for (r, kind), nd in zip(stops, node, strict=True):
        leg = T[here, nd]
        cost += leg
        t = t + leg
        if kind == "pickup":
            t = max(t, req.request_time[r])
            if t > req.request_time[r] + req.max_wait[r]:
                return None
        elif t > req.request_time[r] + req.direct[r] + req.max_detour[r]:
            return None
        here = nd
    if return_to is not None:
        cost += T[here, return_to]
    return cost


def brute_best(net, req, riders, start_node, start_time, return_to=None):
    T = FULL[id(net)]
    costs = [
        simulate(T, req, list(riders), o, start_node, start_time, return_to)
        for o in brute_orders(len(riders))
    ]
    costs = [c for c in costs if c is not None]
    return min(costs) if costs else None


def verify(net, req, route: Route, riders) -> None:
    """Re-check a returned route from scratch."""
    T = FULL[id(net)]
    assert sorted(route.riders) == sorted(riders)
    assert sorted(route.stops) == sorted(
        [(r, "pickup") for r in riders] + [(r, "dropoff") for r in riders]
    )
    pos = {s: i for i, s in enumerate(route.stops)}
    assert all(pos[(r, "pickup")] < pos[(r, "dropoff")] for r in riders)
    here, t, cost = route.start_node, route.start_time, 0.0
    for i, ((r, kind), nd) in enumerate(zip(route.stops, route.nodes, strict=True)):
        assert nd == (req.origin[r] if kind == "pickup" else req.destination[r])
        cost += T[here, nd]
        t = t + T[here, nd]
        assert route.arrival[i] == pytest.approx(t)
        if kind == "pickup":
            t = max(t, req.request_time[r])
            assert t <= req.request_time[r] + req.max_wait[r] + 1e-9
        else:
            assert t <= req.request_time[r] + req.direct[r] + req.max_detour[r] + 1e-9
        assert route.times[i] == pytest.approx(t)
        here = nd
    if route.return_to is not None:
        cost += T[here, route.return_to]
        t += T[here, route.return_to]
    assert route.cost == pytest.approx(cost)
    assert route.end_time == pytest.approx(t)
    for j, r in enumerate(route.riders):
        pick = route.times[pos[(r, "pickup")]]
        drop = route.times[pos[(r, "dropoff")]]
        assert route.wait[j] == pytest.approx(pick - req.request_time[r])
        assert route.detour[j] == pytest.approx(drop - req.request_time[r] - req.direct[r])
        assert -1e-9 <= route.wait[j] <= req.max_wait[r] + 1e-9
        assert route.detour[j] <= req.max_detour[r] + 1e-9


@st.composite
def cases(draw, max_k=3):
    nn = GRID.num_nodes
    n = draw(st.integers(1, 5))
    node = st.integers(0, nn - 1)
    o = draw(st.lists(node, min_size=n, max_size=n))
    d = draw(st.lists(node, min_size=n, max_size=n))
    t = draw(st.lists(st.integers(0, 8).map(lambda x: 28.8 * x), min_size=n, max_size=n))
    w = draw(st.lists(st.sampled_from([0.0, 28.8, 100.0, 200.0, 400.0]), min_size=n, max_size=n))
    det = draw(st.lists(st.sampled_from([0.0, 57.6, 150.0, 400.0, 800.0]), min_size=n, max_size=n))
    req = Requests.from_network(GRID, o, d, t, w, det)
    k = draw(st.integers(1, min(max_k, n)))
    riders = draw(st.permutations(range(n)))[:k]
    start = draw(node)
    start_time = draw(st.sampled_from([0.0, 28.8, 100.0]))
    ret = draw(st.one_of(st.none(), node))
    return req, riders, start, start_time, ret


@settings(max_examples=150)
@given(cases())
def test_best_route_equals_brute_force(case):
    req, riders, start, start_time, ret = case
    got = best_route(GRID, start, start_time, riders, req, return_to=ret)
    want = brute_best(GRID, req, riders, start, start_time, ret)
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert got.cost == pytest.approx(want)
        verify(GRID, req, got, riders)
        assert got.return_to == ret


def test_best_route_k4_equals_brute_force_and_time_fn():
    rng = np.random.default_rng(0)
    hits = 0
    for w, det in [(900.0, 2000.0), (700.0, 1200.0), (500.0, 900.0), (300.0, 600.0)]:
        req = Requests.random(BIG, 4, horizon=120.0, max_wait=w, max_detour=det, seed=rng)
        want = brute_best(BIG, req, (0, 1, 2, 3), 7, 0.0, 7)
        got = best_route(BIG, 7, 0.0, [0, 1, 2, 3], req, return_to=7)
        # a plain vectorised time function gives the same answer as the network
        via_fn = best_route(BIG.travel_time, 7, 0.0, [3, 2, 1, 0], req, return_to=7)
        if want is None:
            assert got is None and via_fn is None
            continue
        hits += 1
        assert got.cost == pytest.approx(want) == via_fn.cost
        verify(BIG, req, got, (0, 1, 2, 3))
    assert hits >= 2


def test_infeasible_returns_none_and_bad_inputs_raise():
    req = Requests.from_network(GRID, [0, 24], [24, 0], [0.0, 0.0], [30.0, 30.0], [30.0, 0.0])
    # vehicle far from rider 0 with 30 s of patience
    assert best_route(GRID, 24, 0.0, [0], req) is None
    # opposite directions, little slack: only alone
    assert best_route(GRID, 0, 0.0, [0, 1], req) is None
    assert best_route(GRID, 0, 0.0, [0], req).cost == pytest.approx(req.direct[0])
    # picked up on time only if the vehicle is free early enough
    assert best_route(GRID, 1, 0.0, [0], req) is not None
    assert best_route(GRID, 1, 10.0, [0], req) is None
    assert feasible_groups(req, GRID, max_size=2).counts == {1: 2, 2: 0}
    req5 = Requests.random(GRID, 5, seed=0)
    with pytest.raises(ValueError, match="at most 4"):
        best_route(GRID, 0, 0.0, range(5), req5)
    with pytest.raises(ValueError, match="max_size"):
        feasible_groups(req5, GRID, max_size=5)
    with pytest.raises(ValueError, match="distinct"):
        best_route(GRID, 0, 0.0, [1, 1], req5)
    with pytest.raises(ValueError, match="request indices"):
        best_route(GRID, 0, 0.0, [7], req5)
    with pytest.raises(ValueError, match="max_wait"):
        Requests.from_network(GRID, [0], [1], 0.0, -1.0, 10.0)
    with pytest.raises(ValueError, match="destination has 2 entries"):
        Requests.from_network(GRID, [0], [1, 2], 0.0, 1.0, 10.0)
    with pytest.raises(ValueError, match="depots"):
        vehicle_group_edges([0], 0.0, None, [(0,)], req5, GRID)


def brute_groups(net, req, k):
    out = {}
    for s in range(1, k + 1):
        for g in itertools.combinations(range(len(req)), s):
            c = brute_best(net, req, g, None, None)
            if c is not None:
                out[g] = c
    return out


@pytest.mark.parametrize(
    ("seed", "k", "limits"),
    [
        (0, 3, (240, 420, 240)),
        (1, 3, (240, 420, 240)),
        (2, 4, (300, 600, 120)),
        (3, 4, (400, 700, 120)),
    ],
)
def test_group_enumeration_equals_brute_force_over_subsets(seed, k, limits):
    w, det, h = limits
    req = Requests.random(BIG, 7, horizon=h, max_wait=w, max_detour=det, seed=seed)
    e = feasible_groups(req, BIG, max_size=k)
    want = brute_groups(BIG, req, k)
    assert set(e.groups) == set(want)
    assert len(e.groups) == len(set(e.groups))
    assert e.counts == {s: sum(len(g) == s for g in want) for s in range(1, k + 1)}
    assert e.seconds >= 0 and set(e.tried) == set(range(1, k + 1))
    for g, r in zip(e.groups, e.routes, strict=True):
        assert r.cost == pytest.approx(want[g])
        assert r.start_node == r.nodes[0] and r.return_to is None
        verify(BIG, req, r, g)
    # the instances must make the check non-trivial: full-size groups exist, and some
    # candidates whose subgroups are all feasible are still rejected
    assert e.counts[k] >= 1
    assert any(e.tried[s] > e.counts[s] for s in range(2, k + 1))
    pairs = shareable_pairs(req, BIG)
    assert pairs == sorted(g for g in want if len(g) == 2)


def test_vehicle_group_edges_equal_brute_force():
    req = Requests.random(BIG, 6, horizon=200.0, max_wait=200.0, max_detour=400.0, seed=5)
    e = feasible_groups(req, BIG, max_size=3)
    assert e.counts[2] >= 1
    vehicles, free, depots = [0, 14, 35, 20], [0.0, 50.0, 0.0, 300.0], [0, 14, 35, 3]
    for ret in (True, False):
        edges = vehicle_group_edges(vehicles, free, depots, e, req, BIG, return_to_depot=ret)
        got = {
            (int(v), e.groups[g]): c
            for v, g, c in zip(edges.vehicle, edges.group, edges.cost, strict=True)
        }
        want = {}
        for v in range(len(vehicles)):
            for g in e.groups:
                c = brute_best(BIG, req, g, vehicles[v], free[v], depots[v] if ret else None)
                if c is not None:
                    want[(v, g)] = c
        assert set(got) == set(want)
        assert any(len(g) > 1 for _, g in want)
        for key, c in got.items():
            assert c == pytest.approx(want[key])
        for v, g, r in zip(edges.vehicle, edges.group, edges.routes, strict=True):
            assert r.start_node == vehicles[v] and r.start_time == free[v]
            assert r.return_to == (depots[v] if ret else None)
            verify(BIG, req, r, e.groups[g])


def test_partner_pruning_keeps_every_pair_and_only_feasible_larger_groups():
    net = RoadNetwork.grid(6, spacing_km=0.3, speed_kmh=25.0, seed=2)
    req = Requests.random(net, 40, horizon=120.0, max_wait=300.0, max_detour=600.0, seed=3)
    full = feasible_groups(req, net, max_size=3)
    pruned = feasible_groups(req, net, max_size=3, max_partners=2)
    pairs = [g for g in full.groups if len(g) <= 2]
    assert [g for g in pruned.groups if len(g) <= 2] == pairs
    assert set(pruned.groups) <= set(full.groups)
    # every triple is built from pairs within both riders' 2 best partners (brute force)
    routes = {g: r for g, r in zip(full.groups, full.routes, strict=True)}
    saving = {
        g: req.direct[g[0]] + req.direct[g[1]] - routes[g].cost for g in pairs if len(g) == 2
    }

    def rank(rider, pair):
        mine = sorted(
            (p for p in saving if rider in p),
            key=lambda p: (-saving[p], sorted(saving).index(p)),
        )
        return mine.index(pair)

    for g in (g for g in pruned.groups if len(g) == 3):
        for pair in ((g[0], g[1]), (g[0], g[2]), (g[1], g[2])):
            assert rank(pair[0], pair) < 2 and rank(pair[1], pair) < 2
    assert pruned.counts[3] < full.counts[3]
    with pytest.raises(ValueError, match="max_partners"):
        feasible_groups(req, net, max_size=3, max_partners=0)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.sampled_from([3, 4]))
def test_vehicle_group_edges_with_candidates_price_like_every_order(seed, size):
    """A candidates mask prices exactly the masked pairs, each at its best order."""
    from scheduling.pooling import _Batch, _evaluate

    net = RoadNetwork.grid(5, spacing_km=0.3, speed_kmh=25.0, seed=seed % 7)
    req = Requests.random(net, 9, horizon=240.0, max_wait=400.0, max_detour=700.0, seed=seed)
    groups = [g for g in feasible_groups(req, net, max_size=size).groups if len(g) == size]
    if not groups:
        return
    rng = np.random.default_rng(seed)
    vehicles = rng.integers(0, net.num_nodes, 5)
    free = rng.uniform(0.0, 200.0, 5)
    mask = rng.random((5, len(groups))) < 0.6
    edges = vehicle_group_edges(vehicles, free, vehicles, groups, req, net, candidates=mask)
    batch = _Batch(net, req, np.concatenate([vehicles, vehicles]))
    garr = np.array(groups)
    vv, gg = np.meshgrid(np.arange(5), np.arange(len(groups)), indexing="ij")
    vv, gg = vv.ravel(), gg.ravel()
    stop_idx, ready, deadline = batch.stops(garr[gg])
    loc = batch.local(vehicles)
    cost, order = _evaluate(batch.D, stop_idx, ready, deadline, loc[vv], free[vv], loc[vv])
    want = {
        (int(v), int(g)): (c, o)
        for v, g, c, o in zip(vv, gg, cost, order, strict=True)
        if np.isfinite(c) and mask[v, g]
    }
    got = {
        (int(v), int(g)): c for v, g, c in zip(edges.vehicle, edges.group, edges.cost, strict=True)
    }
    assert set(got) == set(want)
    for key, c in got.items():
        assert c == want[key][0]
