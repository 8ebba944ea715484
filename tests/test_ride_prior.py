"""The ridesharing paper's algorithm as a dispatch policy (scheduling.ride_prior)."""

from __future__ import annotations

import numpy as np
import pytest

from matching.rideshare import gamma_k
from scheduling.dispatch import Dispatcher
from scheduling.ride_prior import PriorDispatchPolicy
from scheduling.ride_sim import (
    embedded_city,
    generate_demand,
    manhattan_scenario,
    simulate,
    training_demand,
)
from scheduling.roads import default_data_dir


@pytest.fixture(scope="module")
def city():
    scen = embedded_city(requests=400, duration=900.0, grid=12, seed=3)
    return scen, training_demand(scen, seed=4)


def fit_on(city, depots, **options):
    """The prior fitted to the fixture's training demand for ``depots``."""
    scen, train = city
    options = {"horizon_s": 900.0, "n_sims": 100, **options}
    return PriorDispatchPolicy.fit(
        scen.network,
        np.asarray(depots),
        train.origin,
        train.destination,
        train.request_time,
        **options,
    )


def test_fitted_prior_matches_the_fleet_and_the_windows(city):
    scen, train = city
    depots = np.array([0, 0, 5, 77, 77, 77, 143])
    prior = PriorDispatchPolicy.fit(
        scen.network,
        depots,
        train.origin,
        train.destination,
        train.request_time,
        horizon_s=900.0,
        window_s=30.0,
        n_regions=3,
        k=2,
        n_sims=200,
    )
    model = prior.model
    assert model.horizon == 30  # 900 s of 30 s windows
    assert int(model.types.capacity.sum()) == depots.size  # every vehicle in one depot
    assert model.k <= 2 and prior.gamma == gamma_k(model.k)
    assert ((model.p >= 0) & (model.p < 1)).all()
    # the expected arrivals per window follow the training demand (smoothed)
    per_window = np.histogram(train.request_time, bins=np.arange(31) * 30.0)[0]
    rates = -np.log1p(-model.p).sum(axis=0)
    assert rates.sum() == pytest.approx(per_window.sum() * (model.p.shape[0] > 0), rel=0.25)
    # every training trip with two distinct regions has a type
    ro = prior.region_of_node[train.origin]
    rd = prior.region_of_node[train.destination]
    assert all(
        (int(a), int(b)) in prior.type_of_pair for a, b in zip(ro, rd, strict=True) if a != b
    )
    assert prior.lp.value > 0


def test_attenuate_dispatch_serves_riders_only_in_their_window(city):
    scen, train = city
    res = simulate(scen, vehicles=12, capacity=4, policy="attenuate", training=train, seed=1)
    assert res.summary["policy"] == "attenuate"
    served = 0
    for when, a in res.assignments:
        assert len(a.riders) <= 2  # the model's groups: k = min(2, seats)
        for rid in a.riders:
            asked = float(scen.request_time[rid])
            assert when - 30.0 < asked <= when  # the window it arrived in
            served += 1
    assert served > 0
    # every other request expired, none was served twice (the simulator checks both)
    statuses = [r["status"] for r in res.requests]
    assert statuses.count("served") == served
    assert set(statuses) <= {"served", "expired"}


def test_attenuate_needs_its_prior_and_training(city):
    scen = city[0]
    with pytest.raises(ValueError, match="needs prior="):
        Dispatcher(scen.network, [0, 1], 2, policy="attenuate")
    prior = fit_on(city, np.array([0, 1, 2]), n_regions=2)
    with pytest.raises(ValueError, match="fitted for 3 vehicles, the fleet has 2"):
        Dispatcher(scen.network, [0, 1], 2, policy="attenuate", prior=prior)
    with pytest.raises(ValueError, match="training="):
        simulate(scen, vehicles=4, policy="attenuate")
    other = embedded_city(requests=10, duration=900.0, grid=12, seed=3)
    with pytest.raises(ValueError, match="own network"):
        simulate(scen, vehicles=4, policy="attenuate", training=other)
    with pytest.raises(ValueError, match="training origin"):
        PriorDispatchPolicy.fit(scen.network, np.array([0]), [], [], [], horizon_s=60.0)


def test_training_demand_shares_the_layout_not_the_draw():
    scen = embedded_city(requests=3000, duration=900.0, grid=12, seed=3)
    train = training_demand(scen, seed=4)
    assert train.network is scen.network and len(train) == len(scen)
    assert not np.array_equal(train.origin, scen.origin)
    # same hotspots: the origin histograms over a 4 x 4 partition agree closely
    cells = (scen.network.xy // (scen.network.xy.max(0) / 3.999)).astype(int)
    cell = cells[:, 0] * 4 + cells[:, 1]
    a = np.bincount(cell[scen.origin], minlength=16) / len(scen)
    b = np.bincount(cell[train.origin], minlength=16) / len(train)
    assert np.abs(a - b).max() < 0.03
    other = generate_demand(scen.network, 3000, 900.0, seed=4)  # another layout
    c = np.bincount(cell[other[0]], minlength=16) / 3000
    assert np.abs(a - c).max() > np.abs(a - b).max()


@pytest.mark.skipif(
    not (default_data_dir() / "rides" / "manhattan").is_dir(),
    reason="../shared/data/rides is absent: the replayed training demand needs the samples",
)
def test_training_demand_of_a_replay_is_another_sample():
    scen = manhattan_scenario(requests=300, duration=900.0, seed=0)
    train = training_demand(scen, seed=1)
    assert train.info["source"] != scen.info["source"]
    assert train.network is scen.network and len(train) == 300


def test_a_prior_policy_cannot_double_book_or_write_the_dispatcher(city):
    from matching.stream import PolicyError
    from scheduling.dispatch import RideRequest

    scen = city[0]
    prior = fit_on(city, np.array([0]), n_regions=2)

    class EveryEdge:
        model = prior.model

        def __init__(self, how):
            self.how = how

        def choose(self, step, new, requests, asked, groups, edges, nodes, counts, rng):
            if self.how == "write":
                asked[:] = 0.0  # read-only: raises
            return np.arange(len(edges))  # every edge: the one vehicle many times

    # riders next to the one vehicle's depot (node 0 of the 12 x 12 grid)
    reqs = [RideRequest(i, o, 40 + i, 1.0) for i, o in enumerate((1, 12, 13, 2))]
    for how, error in (("book", PolicyError), ("write", ValueError)):
        d = Dispatcher(scen.network, [0], 4, policy="attenuate", prior=EveryEdge(how))
        with pytest.raises(error):
            d.decide(30.0, reqs)
        assert d.vehicle(0).free_time == 0.0  # nothing applied
    d = Dispatcher(scen.network, [0], 4, policy="batched")
    assert len(d.decide(30.0, reqs).assignments) == 1  # the edges exist


def test_a_prior_that_can_serve_nothing_is_refused_by_name(city):
    with pytest.raises(ValueError, match="no depot region reaches any request type"):
        fit_on(city, np.array([0]), horizon_s=900.0, n_regions=2, max_wait=1.0, n_sims=10)
