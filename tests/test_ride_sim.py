import csv
import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupmatch.cli import main
from scheduling.dispatch import DispatchDecision, Dispatcher
from scheduling.pooling import Requests, feasible_groups
from scheduling.ride_sim import (
    DispatchViolation,
    PathLengths,
    embedded_city,
    manhattan_scenario,
    simulate,
    spread_depots,
)
from scheduling.roads import RoadNetwork, default_data_dir

RIDES = default_data_dir() / "rides"
needs_data = pytest.mark.skipif(
    not (RIDES / "manhattan" / "points.csv").exists(),
    reason=f"Manhattan network and NYC samples not found under {RIDES}",
)


@pytest.fixture(scope="module")
def small():
    return embedded_city(requests=120, duration=900.0, grid=12, seed=2)


@pytest.fixture(scope="module")
def runs(small):
    return {
        pol: simulate(small, vehicles=8, capacity=3, policy=pol, seed=2)
        for pol in ("batched", "greedy", "ranking")
    }


def test_rows_agree_with_the_limits_and_the_summary(small, runs):
    for res in runs.values():
        s = res.summary
        assert s["served"] + s["expired"] == len(small) == len(res.requests)
        served = [r for r in res.requests if r["status"] == "served"]
        assert len(served) == s["served"] > 0
        for r in served:
            assert -1e-6 <= r["wait"] <= 300 + 1e-6 and r["detour"] <= 600 + 1e-6
            assert r["pickup_time"] >= r["request_time"] - 1e-9
            assert r["dropoff_time"] - r["pickup_time"] >= r["direct_s"] - 1e-6
        busy = sum(a.route.end_time - t for t, a in res.assignments) / 3600
        assert s["vehicle_hours"] == pytest.approx(busy)
        assert s["wait_mean_s"] == pytest.approx(np.mean([r["wait"] for r in served]))
        assert s["empty_km"] > 0
        # a vehicle's trips never overlap in time
        by_vehicle = {}
        for t, a in res.assignments:
            by_vehicle.setdefault(a.vehicle, []).append((t, a.route.end_time))
        for spans in by_vehicle.values():
            spans.sort()
            assert all(b[0] >= a[1] - 1e-9 for a, b in itertools.pairwise(spans))


def test_plenty_of_vehicles_serve_more_than_few(small):
    few = simulate(small, vehicles=2, capacity=2, policy="batched")
    many = simulate(small, vehicles=40, capacity=2, policy="batched")
    assert many.summary["service_rate"] > few.summary["service_rate"]


def tamper(monkeypatch, change):
    real = Dispatcher.decide

    def decide(self, now, new):
        out = real(self, now, new)
        if out.assignments:
            first = change(out.assignments[0])
            return DispatchDecision(
                out.time, (first, *out.assignments[1:]), out.expired, out.stats
            )
        return out

    monkeypatch.setattr(Dispatcher, "decide", decide)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda a: dataclasses.replace(
                a, route=dataclasses.replace(a.route, stops=a.route.stops[::-1])
            ),
            "dropped off before being picked up",
        ),
        (
            lambda a: dataclasses.replace(
                a, route=dataclasses.replace(a.route, end_time=a.route.end_time - 5)
            ),
            "recomputed",
        ),
        (lambda a: dataclasses.replace(a, vehicle=99), "unknown vehicle 99"),
        (
            lambda a: dataclasses.replace(
                a,
                riders=(*a.riders, a.riders[0]),
            ),
            "bad group",
        ),
    ],
)
def test_the_simulator_catches_bad_assignments(small, monkeypatch, change, message):
    tamper(monkeypatch, change)
    with pytest.raises(DispatchViolation, match=message):
        simulate(small, vehicles=8, capacity=3, policy="batched")


def test_the_simulator_catches_a_rider_served_twice(small, monkeypatch):
    real = Dispatcher.decide
    first = {}

    def decide(self, now, new):
        out = real(self, now, new)
        if out.assignments and "a" not in first:
            first["a"] = out.assignments[0]
        elif out.assignments and first:
            v = out.assignments[0].vehicle
            again = dataclasses.replace(
                first["a"],
                vehicle=v,
                route=dataclasses.replace(first["a"].route, start_node=self.vehicle(v).node),
            )
            return DispatchDecision(out.time, (again,), out.expired, out.stats)
        return out

    monkeypatch.setattr(Dispatcher, "decide", decide)
    with pytest.raises(DispatchViolation, match=r"already served|busy|starts at"):
        simulate(small, vehicles=8, capacity=3, policy="batched")


@settings(max_examples=20)
@given(st.integers(0, 48), st.integers(0, 48))
def test_path_km_on_a_regular_grid_is_the_block_distance(u, v):
    net = RoadNetwork.grid(7, spacing_km=0.5)
    blocks = abs(u % 7 - v % 7) + abs(u // 7 - v // 7)
    lengths = PathLengths(net)
    assert lengths.km(u, v) == pytest.approx(0.5 * blocks)
    assert lengths.km(u, v, reverse=True) == pytest.approx(0.5 * blocks)


def test_pruned_groups_are_feasible_groups_and_none_is_exact():
    net = RoadNetwork.grid(8, spacing_km=0.25, speed_kmh=25.0)
    req = Requests.random(net, 40, horizon=1.0, seed=5)
    exact = set(feasible_groups(req, net, max_size=4).groups)
    full = Dispatcher(net, [0], 4, max_partners=None)._groups(req)
    pruned = Dispatcher(net, [0], 4, max_partners=2)._groups(req)
    assert set(full) == exact
    assert set(pruned) < exact
    assert {g for g in exact if len(g) <= 2} <= set(pruned)


def test_depots_spread_over_the_origins():
    net = RoadNetwork.grid(10)
    origins = np.array([0, 1, 10, 11, 88, 89, 98, 99])
    dep = spread_depots(net, origins, 6, n_depots=2, seed=1)
    assert sorted(set(dep.tolist())) in ([0, 88], [0, 89], [0, 98], [0, 99], [1, 88], [11, 88])
    assert np.bincount(dep).max() == 3


def test_bad_simulation_parameters(small):
    with pytest.raises(ValueError, match="window must be positive"):
        simulate(small, vehicles=2, window=0)
    with pytest.raises(ValueError, match="policy must be one of"):
        simulate(small, vehicles=2, policy="fifo")
    with pytest.raises(ValueError, match="vehicles must be at least 1"):
        simulate(small, vehicles=0)


def test_rides_command_writes_csv_and_pngs(tmp_path, capsys):
    code = main(
        [
            "rides",
            "--vehicles",
            "6",
            "--capacity",
            "2",
            "--requests",
            "60",
            "--duration",
            "600",
            "--grid",
            "10",
            "--sweep",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    for pol in ("batched", "greedy", "ranking", "attenuate"):
        assert pol in out
    with open(tmp_path / "rides_requests.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60 * 4  # every request once per policy
    assert {r["status"] for r in rows} <= {"served", "expired"}
    assert (tmp_path / "rides_sweep.png").stat().st_size > 1000
    assert (tmp_path / "rides_routes.png").stat().st_size > 1000


def test_rides_command_refuses_bad_arguments(capsys):
    assert main(["rides", "--vehicles", "0"]) == 2
    assert "vehicles" in capsys.readouterr().err
    assert main(["rides", "--trips", "x.csv"]) == 2
    assert "--trips needs --network" in capsys.readouterr().err


@needs_data
@pytest.mark.parametrize(
    ("name", "kept", "skipped"),
    [
        ("nyc_yellow_2016-01_sample.csv", 4902, {"zero coordinates": 98}),
        ("nyc_green_2016-01_sample.csv", 4993, {"zero coordinates": 7}),
        ("nyc_yellow_2019-01_zones_sample.csv", 9750, {"unknown zone id": 250}),
    ],
)
def test_manhattan_with_each_nyc_sample(name, kept, skipped):
    scen = manhattan_scenario(RIDES / name, requests=150, duration=600.0, seed=1)
    assert scen.info["rows kept by load_trips"] == kept
    assert scen.info["rows skipped"] == skipped
    assert scen.info["sample trips used"] > 0 and len(scen) == 150
    assert (np.diff(scen.request_time) >= 0).all() and scen.request_time.max() <= 600.0
    res = simulate(scen, vehicles=20, capacity=2, policy="batched", seed=1)
    assert res.summary["served"] + res.summary["expired"] == 150
    assert res.summary["served"] > 0


def test_vehicles_that_stay_at_their_last_dropoff_are_checked_from_there():
    scen = embedded_city(requests=120, duration=900.0, grid=8, seed=5)
    res = simulate(scen, vehicles=4, capacity=2, return_to_depot=False, seed=5)
    assert res.summary["served"] > 0
    last: dict[int, int] = {}
    for _, a in sorted(res.assignments, key=lambda x: x[0]):
        # each route starts where the vehicle's previous one ended (or at its depot)
        assert a.route.start_node == last.get(a.vehicle, int(res.depots[a.vehicle]))
        assert a.route.return_to is None
        last[a.vehicle] = a.route.nodes[-1]
