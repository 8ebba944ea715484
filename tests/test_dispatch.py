import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.dispatch import POLICIES, Dispatcher, RideRequest
from scheduling.roads import RoadNetwork

NET = RoadNetwork.grid(4, spacing_km=0.5, speed_kmh=30.0, perturb=0.4, seed=3)


# ---------------------------------------------------------------- independent checks
def replay(net, start, now, stops, req, depot):
    """Drive ``stops`` [(id, kind)] from ``start`` at ``now``; return times and cost."""
    pos, t, cost, out = start, now, 0.0, {}
    for q, kind in stops:
        node = req[q].origin if kind == "pickup" else req[q].destination
        leg = float(net.travel_time(pos, node))
        cost += leg
        t += leg
        if kind == "pickup":
            t = max(t, req[q].time)
        out[(q, kind)] = t
        pos = node
    if depot is not None:
        leg = float(net.travel_time(pos, depot))
        cost += leg
        t += leg
    return out, t, cost


def check_assignment(net, a, start, now, req, depot, max_wait, max_detour, seats):
    riders = a.riders
    assert 1 <= len(riders) <= seats and len(set(riders)) == len(riders)
    stops = list(a.route.stops)
    assert sorted(stops) == sorted([(q, k) for q in riders for k in ("pickup", "dropoff")])
    for q in riders:
        assert stops.index((q, "pickup")) < stops.index((q, "dropoff"))
    times, end, cost = replay(net, start, now, stops, req, depot)
    for q in riders:
        direct = float(net.travel_time(req[q].origin, req[q].destination))
        assert times[(q, "pickup")] - req[q].time <= max_wait + 1e-6
        assert times[(q, "dropoff")] - req[q].time - direct <= max_detour + 1e-6
    assert a.route.end_time == pytest.approx(end)
    assert a.route.cost == pytest.approx(cost)
    assert a.route.start_node == start
    assert a.route.return_to == depot
    return cost


# ---------------------------------------------------------------- many windows
windows_case = st.fixed_dictionaries(
    {
        "depots": st.lists(st.integers(0, NET.num_nodes - 1), min_size=1, max_size=4),
        "seats": st.integers(1, 3),
        "policy": st.sampled_from(POLICIES),
        "back": st.booleans(),
        "wait": st.sampled_from([60.0, 180.0, 300.0]),
        "detour": st.sampled_from([60.0, 200.0, 600.0]),
        "trips": st.lists(
            st.tuples(
                st.integers(0, NET.num_nodes - 1),
                st.integers(0, NET.num_nodes - 1),
                st.floats(0, 600, allow_nan=False),
            ),
            min_size=1,
            max_size=14,
        ),
    }
)


@settings(max_examples=40)
@given(windows_case)
def test_every_assignment_is_feasible_and_no_vehicle_or_rider_is_used_twice(case):
    d = Dispatcher(
        NET,
        case["depots"],
        case["seats"],
        max_wait=case["wait"],
        max_detour=case["detour"],
        policy=case["policy"],
        return_to_depot=case["back"],
    )
    req = {i: RideRequest(i, o, t_d, t) for i, (o, t_d, t) in enumerate(case["trips"])}
    order = sorted(req.values(), key=lambda r: r.time)
    node = list(case["depots"])
    busy = [0.0] * len(node)
    seen, expired = set(), set()
    k = 0
    for now in np.arange(30.0, 1500.0, 30.0):
        new = []
        while k < len(order) and order[k].time <= now:
            new.append(order[k])
            k += 1
        out = d.decide(float(now), new)
        for a in out.assignments:
            v = a.vehicle
            assert busy[v] <= now, "vehicle used while busy"
            assert not set(a.riders) & (seen | expired), "rider served twice or after expiring"
            depot = case["depots"][v] if case["back"] else None
            check_assignment(
                NET, a, node[v], now, req, depot, case["wait"], case["detour"], case["seats"]
            )
            seen |= set(a.riders)
            busy[v] = a.route.end_time
            node[v] = case["depots"][v] if case["back"] else a.route.nodes[-1]
        for q in out.expired:
            assert q not in seen and q not in expired
            assert now > req[q].time + min(case["wait"], case["detour"])
            expired.add(q)
    assert seen | expired == set(req), "every request is served or expires"
    assert not d.pending


# ---------------------------------------------------------------- one window = hindsight
def brute_force_optimum(net, depots, req, now, seats, wait, detour, cost_weight):
    """Best total weight over disjoint feasible groups on distinct vehicles."""
    ids = sorted(req)
    options = []  # (vehicle, frozenset riders, weight)
    for size in range(1, seats + 1):
        for group in itertools.combinations(ids, size):
            stops = [(q, k) for q in group for k in ("pickup", "dropoff")]
            for v, dep in enumerate(depots):
                best = None
                for perm in itertools.permutations(stops):
                    if any(perm.index((q, "pickup")) > perm.index((q, "dropoff")) for q in group):
                        continue
                    times, _, cost = replay(net, dep, now, perm, req, dep)
                    ok = all(
                        times[(q, "pickup")] - req[q].time <= wait + 1e-9
                        and times[(q, "dropoff")]
                        - req[q].time
                        - float(net.travel_time(req[q].origin, req[q].destination))
                        <= detour + 1e-9
                        for q in group
                    )
                    if ok and (best is None or cost < best):
                        best = cost
                if best is not None:
                    options.append((v, frozenset(group), size - cost_weight * best / 3600))

    def best_from(i, used_v, used_q):
        if i == len(options):
            return 0.0
        skip = best_from(i + 1, used_v, used_q)
        v, g, w = options[i]
        if v in used_v or g & used_q:
            return skip
        return max(skip, w + best_from(i + 1, used_v | {v}, used_q | g))

    return best_from(0, frozenset(), frozenset())


one_window = st.fixed_dictionaries(
    {
        "depots": st.lists(st.integers(0, NET.num_nodes - 1), min_size=1, max_size=3),
        "seats": st.integers(1, 3),
        "wait": st.sampled_from([120.0, 300.0]),
        "detour": st.sampled_from([120.0, 400.0]),
        "trips": st.lists(
            st.tuples(
                st.integers(0, NET.num_nodes - 1),
                st.integers(0, NET.num_nodes - 1),
                st.floats(0, 60, allow_nan=False),
            ),
            min_size=1,
            max_size=5,
        ),
    }
)


@settings(max_examples=25)
@given(one_window)
def test_one_window_batched_equals_brute_force_and_online_never_exceeds(case):
    now = 60.0
    req = {i: RideRequest(i, o, d, t) for i, (o, d, t) in enumerate(case["trips"])}
    args = (case["depots"], case["seats"])
    kw = {"max_wait": case["wait"], "max_detour": case["detour"], "cost_weight": 0.1}
    opt = brute_force_optimum(
        NET, case["depots"], req, now, *args[1:], case["wait"], case["detour"], 0.1
    )
    values = {}
    for policy in POLICIES:
        out = Dispatcher(NET, *args, policy=policy, **kw).decide(now, list(req.values()))
        values[policy] = sum(len(a.riders) - 0.1 * a.route.cost / 3600 for a in out.assignments)
        assert out.stats.objective == pytest.approx(values[policy], abs=1e-9)
    assert values["batched"] == pytest.approx(opt, abs=1e-6)
    assert values["greedy"] <= opt + 1e-9
    assert values["ranking"] <= opt + 1e-9


def test_pooling_two_riders_in_one_vehicle_beats_two_vehicles_only_when_cheaper():
    net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    riders = [RideRequest(0, 0, 8, 0.0), RideRequest(1, 1, 5, 0.0)]
    out = Dispatcher(net, [0, 0], 2).decide(0.0, riders)
    assert [a.riders for a in out.assignments] == [(0, 1)]  # 480 s together, 720 s apart
    assert out.stats.resources == 1 and out.stats.idle_vehicles == 2
    assert out.stats.status == "optimal"


def test_idle_vehicles_at_one_node_are_pooled_into_one_resource():
    net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    riders = [RideRequest(i, o, d, 0.0) for i, (o, d) in enumerate([(0, 2), (6, 8), (3, 5)])]
    d = Dispatcher(net, [4, 4, 4, 0], 1, max_wait=300.0)
    out = d.decide(0.0, riders)
    assert out.stats.resources == 2 and out.stats.idle_vehicles == 4
    assert sorted(q for a in out.assignments for q in a.riders) == [0, 1, 2]
    assert len({a.vehicle for a in out.assignments}) == 3


def test_return_to_depot_false_frees_the_vehicle_at_its_last_dropoff():
    net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    d = Dispatcher(net, [0], 1, return_to_depot=False)
    out = d.decide(0.0, [RideRequest(5, 0, 8, 0.0)])
    (a,) = out.assignments
    assert a.route.return_to is None and a.route.end_time == 240.0
    assert d.vehicle(0) == (0, 8, 240.0, 0)
    assert d.decide(100.0, [RideRequest(6, 8, 0, 100.0)]).assignments == ()  # still busy
    nxt = d.decide(240.0, [])
    assert [(a.vehicle, a.riders, a.route.start_node) for a in nxt.assignments] == [(0, (6,), 8)]
    assert nxt.assignments[0].route.wait.tolist() == [140.0]  # asked at 100, picked at 240


def test_requests_expire_after_their_latest_pickup():
    net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    d = Dispatcher(net, [0], 1, max_wait=100.0)
    d.decide(0.0, [RideRequest(0, 0, 8, 0.0)])  # vehicle busy until 480
    out = d.decide(50.0, [RideRequest(1, 0, 8, 10.0)])
    assert out.expired == () and d.pending == (1,)
    out = d.decide(111.0, [])
    assert out.expired == (1,) and d.pending == ()


# ---------------------------------------------------------------- bad input
@pytest.fixture
def disp():
    return Dispatcher(NET, [0, 5], 2)


@pytest.mark.parametrize(
    ("now", "requests", "message"),
    [
        (-1.0, [], "now must be non-negative"),
        (float("nan"), [], "now must be finite"),
        (10.0, [RideRequest(1, 0, 99, 5.0)], "destination: node 99 outside"),
        (10.0, [RideRequest(1, -1, 3, 5.0)], "origin: node -1 outside"),
        (10.0, [RideRequest(1, 0, 3, -5.0)], "time must be non-negative"),
        (10.0, [RideRequest(1, 0, 3, 50.0)], "never handed the future"),
        (10.0, [RideRequest(1, 0, 3, 5.0), RideRequest(1, 2, 3, 5.0)], "duplicate request id 1"),
        (10.0, [RideRequest("a", 0, 3, 5.0)], "id must be an integer"),
        (10.0, [(1, 0, 3)], "must be \\(id, origin, destination, time\\)"),
    ],
)
def test_bad_requests_are_refused_before_any_work(disp, now, requests, message):
    with pytest.raises(ValueError, match=message):
        disp.decide(now, requests)
    assert disp.pending == ()
    assert disp.decide(10.0, [RideRequest(1, 0, 3, 5.0)]).stats.new == 1  # state untouched


def test_time_going_backwards_and_reused_ids_are_refused(disp):
    disp.decide(100.0, [RideRequest(1, 0, 3, 5.0)])
    with pytest.raises(ValueError, match=r"before the previous decision time 100\.0"):
        disp.decide(99.0, [])
    with pytest.raises(ValueError, match="duplicate request id 1"):
        disp.decide(130.0, [RideRequest(1, 0, 3, 120.0)])


def test_unknown_vehicle_and_bad_construction_are_named(disp):
    with pytest.raises(ValueError, match=r"unknown vehicle 2: vehicles are 0\.\.1"):
        disp.vehicle(2)
    with pytest.raises(ValueError, match="depots: vehicle 1 has node 16 outside"):
        Dispatcher(NET, [0, 16], 2)
    with pytest.raises(ValueError, match=r"seats must be 1\.\.4"):
        Dispatcher(NET, [0], 5)
    with pytest.raises(ValueError, match="policy must be one of"):
        Dispatcher(NET, [0], 2, policy="fifo")
    with pytest.raises(ValueError, match="max_wait must be non-negative"):
        Dispatcher(NET, [0], 2, max_wait=-1)
    with pytest.raises(ValueError, match="max_candidates must be at least 1"):
        Dispatcher(NET, [0], 2, max_candidates=0)
    with pytest.raises(ValueError, match="time_limit must be positive"):
        Dispatcher(NET, [0], 2, time_limit=0)


def test_late_and_unreachable_requests_are_refused_before_any_state_change():
    import networkx as nx

    from scheduling.roads import RoadNetwork

    g = nx.DiGraph()
    g.add_edge(0, 1, time=60.0)
    g.add_edge(1, 0, time=60.0)
    g.add_edge(1, 2, time=60.0)  # node 2 is a sink: nothing leaves it
    for n, (x, y) in {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (2.0, 0.0)}.items():
        g.nodes[n]["x"], g.nodes[n]["y"] = x, y
    net = RoadNetwork.from_networkx(g)
    d = Dispatcher(net, [0], 2)
    with pytest.raises(ValueError, match="request 1's destination 0 cannot be reached"):
        d.decide(10.0, [RideRequest(1, 2, 0, 5.0)])
    assert d.pending == ()
    assert d.decide(10.0, [RideRequest(1, 0, 1, 5.0)]).stats.new == 1  # state untouched
    with pytest.raises(ValueError, match=r"not after the previous decision at 10\.0"):
        d.decide(40.0, [RideRequest(2, 0, 1, 8.0)])
