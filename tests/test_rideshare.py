"""Online ridesharing model, policy, certificate and fitted models (matching.rideshare)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import Instance
from matching.online import BatchedResolvePolicy, GreedyPolicy
from matching.rideshare import RideshareModel, gamma_k, rideshare_lp
from matching.rideshare_policy import (
    RideshareAttenuatePolicy,
    exact_availability,
    safe_gamma,
    simulated_availability,
)
from matching.rideshare_run import realise, ride_ratio_table, run_ride_policy
from matching.stream import OnlineMatcher
from proofs.rideshare import gamma_bracket, gamma_table, rideshare_certificate
from scheduling.ride_model import fit_ride_model, grid_zone_trips, nearest_zone, nyc_zone_trips
from scheduling.roads import RoadNetwork, default_data_dir


def random_model(
    seed: int, k: int = 2, max_types: int = 4, max_steps: int = 3, max_capacity: int = 1
) -> RideshareModel:
    rng = np.random.default_rng(seed)
    n_types = int(rng.integers(2, max_types + 1))
    n_vehicles = int(rng.integers(1, 3))
    n_steps = int(rng.integers(1, max_steps + 1))
    groups = [
        list(c)
        for s in range(1, k + 1)
        for c in itertools.combinations(range(n_types), s)
        if s == 1 or rng.random() < 0.6
    ]
    edges = [
        (u, g, float(rng.integers(1, 5)), 1, int(rng.integers(1, 3)))
        for g in range(len(groups))
        for u in range(n_vehicles)
        if rng.random() < 0.8 or (g, u) == (0, 0)
    ]
    p = rng.choice([1.0, 0.75, 0.5, 0.25], size=(n_types, n_steps))  # dyadic: exact floats
    capacity = rng.integers(1, max_capacity + 1, size=n_vehicles)
    types = Instance(groups, edges, capacity=capacity, n_requests=n_types)
    return RideshareModel(types, p)


#: A k = 2 model found by search on which the product argument fails (exact data).
COUNTER_GROUPS = [[0], [1], [3], [0, 2], [0, 3], [1, 2], [1, 3]]
COUNTER_EDGES = [
    (0, 0, 0.5345039665767217, 1, 3),
    (0, 1, 0.09401784876233706, 1, 1),
    (1, 1, 1.0994250354115909, 1, 2),
    (0, 2, 0.4877504769379601, 1, 3),
    (1, 2, 0.5307588308772655, 1, 2),
    (0, 3, 3.429353446407605, 1, 3),
    (1, 3, 1.3858248083462938, 1, 1),
    (1, 4, 0.5328483747433294, 1, 1),
    (0, 5, 2.9361438299957525, 1, 3),
    (1, 5, 3.393078497376368, 1, 1),
    (1, 6, 0.7249320624935738, 1, 3),
]
COUNTER_P = [
    [0.0, 0.9070388167510816, 0.40120521462367775],
    [0.03773825335830637, 0.8517804452265318, 0.4670381388262913],
    [0.1764225286554368, 0.18662787625194271, 0.6482395676133695],
    [0.7524083512652763, 1.0, 1.0],
]


def counter_model() -> RideshareModel:
    types = Instance(COUNTER_GROUPS, COUNTER_EDGES, capacity=[1, 1], n_requests=4)
    return RideshareModel(types, np.array(COUNTER_P))


# ---------------------------------------------------------------- model and gamma_k
def test_model_refuses_bad_input_naming_it():
    good = Instance([[0]], [(0, 0, 1.0, 1, 2)])
    with pytest.raises(ValueError, match=r"p\[0, 1\] = 1.5"):
        RideshareModel(good, np.array([[0.5, 1.5]]))
    with pytest.raises(ValueError, match="shape"):
        RideshareModel(good, np.array([0.5]))
    with pytest.raises(ValueError, match=r"edge 0 has duration 0\.5"):
        RideshareModel(Instance([[0]], [(0, 0, 1.0, 1, 0.5)]), np.array([[0.5]]))
    with pytest.raises(ValueError, match=r"resource 0 has capacity 1\.5"):
        RideshareModel(Instance([[0]], [(0, 0, 1.0, 1, 1)], capacity=[1.5]), np.array([[0.5]]))
    with pytest.raises(ValueError, match="durations"):
        RideshareModel(Instance([[0]], [(0, 0, 1.0)]), np.array([[0.5]]))


def test_gamma_k_matches_the_published_constant_and_its_polynomial():
    assert gamma_k(1) == pytest.approx(0.5, abs=1e-14)
    g2 = gamma_k(2)
    assert round(g2, 5) == 0.31767  # Lowalekar et al.'s ratio for capacity 2
    assert abs(g2**3 - 3 * g2**2 + 4 * g2 - 1) < 1e-14
    for row in gamma_table(6):
        m, lo, hi = row["m"], row["lo"], row["hi"]
        if lo == hi:  # an exact root: k = 1, gamma = 1/2
            assert (row["k"], lo, lo - (1 - lo) ** m) == (1, Fraction(1, 2), 0)
        else:
            assert lo - (1 - lo) ** m < 0 < hi - (1 - hi) ** m
        assert float(lo) <= gamma_k(row["k"]) <= float(hi)
    values = [gamma_k(k) for k in range(1, 7)]
    assert values == sorted(values, reverse=True)


# ------------------------------------------------------------------- LP and policy
def test_lp_matches_a_hand_computed_optimum():
    # one vehicle busy 2 steps per ride, one type with p = 1/2 at each of 3 steps
    model = RideshareModel(Instance([[0]], [(0, 0, 1.0, 1, 2)]), np.full((1, 3), 0.5))
    lp = rideshare_lp(model)
    assert lp.value == pytest.approx(1.5)  # x = 1/2 every step: 1/2 + 1/2 <= 1 per row
    assert lp.x[0] == pytest.approx([0.5, 0.5, 0.5])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.sampled_from([1, 2, 3]), cap=st.sampled_from([1, 2]))
def test_exact_acceptance_is_gamma_x_wherever_beta_reaches_gamma(seed, k, cap):
    model = random_model(seed, k=k, max_capacity=cap)
    lp = rideshare_lp(model)
    gamma = min(gamma_k(k), 0.2)
    av = exact_availability(model, lp, gamma)
    used = av.used()
    capped = used & (av.beta < gamma)
    ok = used & ~capped
    assert np.allclose(av.accept[ok], gamma * lp.x[ok], atol=1e-12)
    # a capped cell is accepted with probability x * beta < gamma x
    assert np.allclose(av.accept[capped], lp.x[capped] * av.beta[capped].astype(float))
    assert av.expected_value <= gamma * lp.value + 1e-9


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_k1_availability_is_at_least_one_minus_gamma(seed):
    """The written proof for k = 1 (depots of 1..3 vehicles): beta >= 1 - gamma."""
    model = random_model(seed, k=1, max_types=5, max_capacity=3)
    lp = rideshare_lp(model)
    av = exact_availability(model, lp, 0.5)
    assert av.min_beta() >= 0.5 - 1e-12
    assert av.expected_value == pytest.approx(0.5 * lp.value, rel=1e-9, abs=1e-12)


def test_simulated_availability_within_its_stated_error():
    model = random_model(7, k=2)
    lp = rideshare_lp(model)
    exact = exact_availability(model, lp, 0.3)
    sim = simulated_availability(model, lp, 0.3, n_sims=6000, seed=3, delta=0.001)
    used = exact.used()
    # Hoeffding at delta = 0.001 per cell, plus the drift of earlier estimated cells
    assert (np.abs(sim.beta[used] - exact.beta[used].astype(float)) <= sim.half_width[used]).all()
    assert sim.expected_value == pytest.approx(exact.expected_value, rel=0.05)


def test_policy_mean_matches_gamma_lp_two_sided():
    model = next(m for s in range(11, 99) if (m := random_model(s, k=2, max_types=3)).k == 2)
    lp = rideshare_lp(model)
    gamma = gamma_k(2)
    assert exact_availability(model, lp, gamma).min_beta() >= gamma
    rep = ride_ratio_table(model, {"att": RideshareAttenuatePolicy}, trials=1500, seed=2)
    alg = rep.values["att"]
    assert rep.gamma == gamma
    half = 4.0 * alg.std(ddof=1) / np.sqrt(alg.size)
    assert abs(alg.mean() - gamma * lp.value) <= half
    assert (alg <= rep.opt + 1e-9).all()


def test_policy_refuses_inputs_outside_its_model():
    model = random_model(3, k=2)
    with pytest.raises(TypeError, match="RideshareModel prior"):
        OnlineMatcher(model.types.capacity, RideshareAttenuatePolicy(), reusable=True)
    with pytest.raises(ValueError, match="reusable"):
        OnlineMatcher(model.types.capacity, RideshareAttenuatePolicy(), prior=model)
    with pytest.raises(ValueError, match="availability"):
        RideshareAttenuatePolicy(availability="guess")
    matcher = OnlineMatcher(
        model.types.capacity, RideshareAttenuatePolicy(), prior=model, reusable=True
    )
    from matching.stream import ArrivingGroup

    g = 0
    edges = model.types.group_edges
    e = edges.indices[edges.indptr[g] : edges.indptr[g + 1]]
    bad = ArrivingGroup(
        [("x", 0)],
        model.types.edge_resource[e],
        model.types.edge_weight[e] + 1.0,
        durations=model.types.edge_duration[e],
        time=0.0,
        type=g,
    )
    if e.size:
        with pytest.raises(ValueError, match="weights differ"):
            matcher.arrive_batch([bad], time=0.0)


def test_baselines_never_beat_the_hindsight_optimum():
    model = random_model(5, k=3, max_types=4)
    rep = ride_ratio_table(
        model,
        {"greedy": GreedyPolicy, "batched": lambda: BatchedResolvePolicy(1.0)},
        trials=40,
    )
    for values in rep.values.values():
        assert (values <= rep.opt + 1e-9).all()
    # batched exact with the step as window solves each step exactly: at least greedy
    # on average
    assert rep.values["batched"].mean() >= rep.values["greedy"].mean() - 1e-9


def test_matcher_enforces_busy_vehicles_and_fresh_requests():
    model = random_model(9, k=2)
    real = realise(model, np.ones((model.horizon, model.types.n_requests), bool))
    matcher = run_ride_policy(real, GreedyPolicy())
    busy_until: dict[int, float] = {}
    for d in matcher.decisions:
        if d.accepted:
            assert busy_until.get(d.resource, -1.0) <= d.time
            busy_until[d.resource] = d.release


def split_depots(model: RideshareModel) -> RideshareModel:
    """The same model with every depot of capacity c written as c vehicles."""
    types = model.types
    owner = np.repeat(np.arange(types.n_resources), types.capacity.astype(int))
    edges = [
        (int(v), int(g), float(w), 1, int(d))
        for v, u in enumerate(owner.tolist())
        for g, w, d, uu in zip(
            types.edge_group,
            types.edge_weight,
            types.edge_duration,
            types.edge_resource,
            strict=True,
        )
        if uu == u
    ]
    groups = [types.group(g).tolist() for g in range(types.n_groups)]
    split = Instance(groups, edges, capacity=[1] * owner.size, n_requests=types.n_requests)
    return RideshareModel(split, model.p)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_a_depot_of_c_vehicles_has_the_lp_and_opt_of_c_single_vehicles(seed):
    from proofs.rideshare import expected_opt

    model = random_model(seed, k=2, max_types=3, max_steps=2, max_capacity=3)
    split = split_depots(model)
    assert rideshare_lp(model).value == pytest.approx(rideshare_lp(split).value, abs=1e-8)
    assert expected_opt(model) == expected_opt(split)
    av = exact_availability(model, rideshare_lp(model), 0.25)
    sim = simulated_availability(model, rideshare_lp(model), 0.25, n_sims=4000, seed=1)
    assert sim.expected_value == pytest.approx(av.expected_value, rel=0.08, abs=0.05)


# ------------------------------------------------------------------- certificate
def test_certificate_passes_on_small_models_and_rebuilds_every_row():
    for seed in range(6):
        model = random_model(seed, k=2, max_types=3, max_steps=2)
        lp = rideshare_lp(model)
        lo, _ = gamma_bracket(2)
        if exact_availability(model, lp, float(lo)).min_beta() < float(lo):
            continue
        cert = rideshare_certificate(model)
        result = cert.verify()
        assert result.ok, result.message
        assert cert.opt <= cert.lp_value
        assert cert.alg == cert.gamma * cert.lp_value
    forged = rideshare_certificate(random_model(0, k=2, max_types=3, max_steps=2))
    bigger = tuple(tuple(v * 2 for v in row) for row in forged.x)
    import dataclasses

    result = dataclasses.replace(forged, x=bigger).verify()
    assert not result.ok and "row" in result.message


def test_product_argument_fails_on_the_counterexample_and_safe_gamma_repairs_it():
    model = counter_model()
    lp = rideshare_lp(model)
    gamma = gamma_k(2)
    av = exact_availability(model, lp, gamma)
    assert av.min_beta() < gamma  # a used cell is free with probability < gamma_2
    assert av.expected_value < gamma * lp.value  # and E[ALG] / LP falls below gamma_2
    result = rideshare_certificate(model).verify()
    assert not result.ok and "beta" in result.message and "< gamma" in result.message
    safe = safe_gamma(model, lp, gamma)
    assert 0.29 < safe < gamma
    target = Fraction(safe).limit_denominator(10**6) - Fraction(1, 10**6)
    repaired = rideshare_certificate(model, gamma=target).verify()
    assert repaired.ok, repaired.message


# ------------------------------------------------------------------ fitted models
def test_fitted_model_on_the_generated_city():
    net = RoadNetwork.grid(8, spacing_km=0.4, speed_kmh=25.0, seed=0)
    fit = fit_ride_model(
        *grid_zone_trips(net, 3000, zones_per_side=3, seed=1),
        net,
        n_types=6,
        n_vehicles=3,
        k=3,
        step_s=300.0,
        n_steps=6,
        requests_per_step=2.0,
    )
    model = fit.model
    assert model.p.shape == (6, 6) and model.n_vehicles == 3
    # the fitted rates sum to requests_per_step times the step's profile
    assert fit.rate.sum(axis=0).mean() == pytest.approx(2.0)
    assert ((model.p > 0) & (model.p < 1)).all()
    sizes = model.types.group_sizes
    assert sizes.max() <= 3 and (model.types.edge_weight == sizes[model.types.edge_group]).all()
    assert (model.types.edge_duration >= 1).all()


def test_nearest_zone_refuses_empty_centroids():
    with pytest.raises(ValueError, match="at least one zone"):
        nearest_zone(np.zeros(1), np.zeros(1), {})


@pytest.mark.skipif(
    not (default_data_dir() / "rides" / "manhattan").is_dir(),
    reason="../shared/data/rides is absent: the NYC-calibrated model needs the real data",
)
def test_fitted_model_on_manhattan_and_nyc_trips():
    data = default_data_dir() / "rides"
    net = RoadNetwork.manhattan(hour=8)
    oz, dz, tod, zone_node = nyc_zone_trips(
        data / "nyc_yellow_2016-01_sample.csv", data / "nyc_taxi_zone_centroids.csv", net
    )
    fit = fit_ride_model(oz, dz, tod, zone_node, net, n_types=8, n_vehicles=3, k=2, n_steps=4)
    assert len(fit.pairs) == 8 and all(a != b for a, b in fit.pairs)
    assert fit.n_trips > 1000
    assert rideshare_lp(fit.model).value > 0


def test_prove_command_certifies_the_catalog_models():
    from groupmatch.cli import main
    from proofs.catalog import build_certificate

    for k in (1, 2):
        cert = build_certificate("rideshare", k=k, seed=1)
        assert cert.verify().ok
        assert cert.gamma == gamma_bracket(cert.model.k)[0]
    assert main(["prove", "--policy", "rideshare", "--seed", "1"]) == 0
    # a target above gamma_k is refused by the bracket check, naming it
    assert main(["prove", "--policy", "rideshare", "--seed", "1", "--gamma", "1/2"]) == 1


def test_two_groups_with_the_same_types_are_refused():
    # with them, k = 1 availabilities fall to 81/256 < 1/2 and E[ALG] / E[OPT] < 1/2
    groups = Instance(
        [[0], [1], [1]],
        [(1, 0, 1.0, 1, 2), (0, 1, 1.0, 1, 1), (1, 2, 1.5, 1, 1)],
        capacity=[1, 1],
        n_requests=2,
    )
    with pytest.raises(ValueError, match="groups 1 and 2 hold the same request types"):
        RideshareModel(groups, np.array([[0.875, 0.0], [0.0, 1.0]]))


def test_auto_availability_falls_back_to_simulation_before_enumerating():
    import time

    n = 22
    groups = Instance([[v] for v in range(n)], [(0, v, 1.0, 1, 1) for v in range(n)])
    model = RideshareModel(groups, np.full((n, 2), 0.5))
    start = time.perf_counter()
    matcher = OnlineMatcher(
        model.types.capacity,
        RideshareAttenuatePolicy(availability="auto", n_sims=200),
        prior=model,
        reusable=True,
    )
    assert matcher.policy.availability.method == "simulated"
    assert time.perf_counter() - start < 10.0


def test_policy_refuses_capacity_load_step_and_impossible_arrivals():
    from matching.stream import ArrivingGroup

    groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 2), (0, 1, 1, 1, 2), (0, 2, 2, 1, 2)])
    model = RideshareModel(groups, np.array([[0.5, 0.5], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="capacities differ"):
        OnlineMatcher([7.0], RideshareAttenuatePolicy(), prior=model, reusable=True)

    def matcher():
        return OnlineMatcher([1.0], RideshareAttenuatePolicy(), prior=model, reusable=True)

    def group(g, t, load=1.0):
        return ArrivingGroup(
            [(t, v) for v in groups.group(g).tolist()],
            [0],
            [float(groups.edge_weight[g])],
            loads=[load],
            durations=[2.0],
            time=float(t),
            type=g,
        )

    with pytest.raises(ValueError, match="loads differ"):
        matcher().arrive_batch([group(0, 0, load=0.5)], time=0.0)
    m = matcher()
    m.arrive_batch([group(0, 0)], time=0.0)
    with pytest.raises(ValueError, match="steps in increasing order"):
        m.arrive_batch([group(1, 0)], time=0.0)
    with pytest.raises(ValueError, match="probability 0"):
        matcher().arrive_batch([group(1, 1)], time=1.0)


def test_certificate_refuses_floats_bad_p_and_wide_brackets():
    import dataclasses

    cert = rideshare_certificate(random_model(0, k=2, max_types=3, max_steps=2))
    assert cert.verify().ok
    floats = tuple(tuple(float(v) for v in row) for row in cert.x)
    result = dataclasses.replace(cert, x=floats).verify()
    assert not result.ok and "not an exact rational" in result.message
    wide = dataclasses.replace(cert, gamma_hi=Fraction(99, 100)).verify()
    assert not wide.ok and "wider" in wide.message
    bad_model = dataclasses.replace(cert.model)
    object.__setattr__(bad_model, "p", np.full_like(cert.model.p, 2.0))
    result = dataclasses.replace(cert, model=bad_model).verify()
    assert not result.ok and "0 <= p <= 1" in result.message
