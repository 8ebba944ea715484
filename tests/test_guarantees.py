"""Guarantees state their preconditions, and a ratio is only claimed where they hold."""

import dataclasses
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from helpers import brute_force_optimum, small_instances
from hypothesis import given, settings
from hypothesis import strategies as st

import matching
from matching.arrivals import adversarial_order, known_iid
from matching.attenuation import LPSampleAttenuatePolicy
from matching.driver import simulate
from matching.guarantees import (
    GUARANTEES,
    InputProperties,
    balance_ratio,
    greedy_ratio,
    guarantee_for,
)
from matching.online import BalancePolicy, BatchedResolvePolicy, GreedyPolicy, RankingPolicy
from matching.online_families import (
    KADReusable,
    KnownIIDBipartite,
    KUniformGroups,
    RandomBipartite,
    UpperTriangular,
)

FAMILIES = {
    "upper-triangular": UpperTriangular(7),
    "random-bipartite": RandomBipartite(6, 9, density=0.4),
    "random-bipartite-dense": RandomBipartite(4, 5, density=1.0),
    "k-uniform": KUniformGroups(6, 12, 10, k=3),
    "kad-reusable": KADReusable(n_resources=4, n_types=5, horizon=12),
    "known-iid": KnownIIDBipartite(n_resources=6, n_types=8, n_arrivals=20),
}
SEEDS = range(5)
SINGLE_USE_POLICIES = ("greedy", "ranking", "ranking-vw", "balance")
ONE_MINUS_INV_E = 1 - math.exp(-1)

# Inputs that meet every precondition of the single-use guarantees, and of lp-attenuate.
IDEAL_SINGLE_USE = InputProperties(
    unit_weights=True,
    unit_loads=True,
    min_capacity=1.0,
    max_capacity=1.0,
    max_group_size=1,
    disjoint_groups=True,
    reusable=False,
    arrival_model="adversarial",
)
IDEAL_KAD = InputProperties(
    unit_loads=True,
    min_capacity=1.0,
    max_capacity=1.0,
    max_group_size=3,
    disjoint_groups=True,
    reusable=True,
    integer_durations=True,
    durations_match_prior=True,
    arrival_model="known-adversarial",
)
# One way to break each precondition, leaving the others as they are.
BREAK = {
    "unit weights": {"unit_weights": False},
    "vertex weights": {"unit_weights": False, "vertex_weights": False},
    "unit loads": {"unit_loads": False},
    "unit capacity": {"max_capacity": 2.0},
    "integer capacities": {"max_capacity": 2.5, "integer_capacities": False},
    "group size bound": {"max_group_size": None},
    "singleton groups": {"max_group_size": 2},
    "disjoint groups": {"disjoint_groups": False},
    "single-use": {"reusable": True},
    "whole-group arrivals": {"arrival_model": None},
    "reusable": {"reusable": False},
    "integer durations": {"integer_durations": False},
    "durations match prior": {"durations_match_prior": False},
    "known distributions": {"arrival_model": "random-order"},
}


def ideal(policy):
    return IDEAL_KAD if policy == "lp-attenuate" else IDEAL_SINGLE_USE


def adversarial_props(inst):
    return InputProperties.of(inst, reusable=False, arrival_model="adversarial")


def alg_over_opt(policy, inst, seed=0):
    run = simulate(policy, adversarial_order(inst), seed=seed)
    run.replay_check()
    return run.value / matching.solve(inst).value


# --------------------------------------------------------------- family declarations
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", FAMILIES)
def test_family_declarations_hold_on_every_draw(name, seed):
    family = FAMILIES[name]
    seq = family(np.random.default_rng(seed))
    actual = InputProperties.of_sequence(seq)
    assert family.properties.mismatches(actual) == []
    assert family.properties.holds_on(actual)
    # of_sequence is `of` on the realised instance plus the prior's durations
    of = InputProperties.of(seq.instance, reusable=seq.reusable, arrival_model=seq.arrival_model)
    assert of == dataclasses.replace(actual, durations_match_prior=None)


def test_a_false_declaration_is_reported_by_name():
    seq = FAMILIES["k-uniform"](np.random.default_rng(0))
    actual = InputProperties.of_sequence(seq)
    claim = InputProperties(unit_weights=True, max_group_size=1, reusable=False)
    assert claim.mismatches(actual) == [
        "unit_weights: declared True, the input has False",
        "vertex_weights: declared True, the input has False",  # implied by unit weights
        f"max_group_size: declared <= 1, the input has {actual.max_group_size}",
    ]
    assert not claim.holds_on(actual)
    assert not InputProperties(durations_match_prior=True).holds_on(
        InputProperties.of(seq.instance, reusable=False, arrival_model="random-order")
    ), "an unknown actual value must not confirm a declaration"


EXPECTED_ON_FAMILY = {
    "upper-triangular": {"greedy", "ranking", "ranking-vw", "balance"},
    "known-iid": {"greedy", "ranking", "ranking-vw", "balance"},
    "random-bipartite": set(),
    "random-bipartite-dense": set(),
    "k-uniform": set(),
    "kad-reusable": {"lp-attenuate"},
}


@pytest.mark.parametrize("name", FAMILIES)
def test_guarantees_claimed_for_each_family(name):
    declared = FAMILIES[name].properties
    claimed = {p for p, g in GUARANTEES.items() if g.applies(declared)}
    assert claimed == EXPECTED_ON_FAMILY[name]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", FAMILIES)
def test_a_guarantee_claimed_for_a_family_holds_on_its_draws(name, seed):
    family = FAMILIES[name]
    actual = InputProperties.of_sequence(family(np.random.default_rng(seed)))
    for guarantee in GUARANTEES.values():
        if guarantee.applies(family.properties):
            assert guarantee.applies(actual), guarantee.unmet(actual)
            assert guarantee.ratio_for(actual) >= guarantee.ratio_for(family.properties)


# ------------------------------------------------------------------ preconditions
@pytest.mark.parametrize("policy", [p for p in GUARANTEES if p != "batched"])
def test_ideal_inputs_meet_every_precondition(policy):
    assert GUARANTEES[policy].unmet(ideal(policy)) == []
    assert GUARANTEES[policy].applies(ideal(policy))


CASES = [
    (policy, c.name)
    for policy, g in GUARANTEES.items()
    if policy != "batched"
    for c in g.preconditions
]


def test_every_precondition_has_a_breaking_case():
    assert {name for _, name in CASES} == set(BREAK)


@pytest.mark.parametrize(("policy", "precondition"), CASES)
def test_breaking_one_precondition_names_exactly_it(policy, precondition):
    broken = dataclasses.replace(ideal(policy), **BREAK[precondition])
    assert GUARANTEES[policy].unmet(broken) == [precondition]
    assert not GUARANTEES[policy].applies(broken)
    with pytest.raises(ValueError, match=precondition):
        GUARANTEES[policy].ratio_for(broken)


def test_ranking_on_groups_of_two_needs_singleton_groups():
    inst = matching.Instance(
        [[0, 1], [2, 3]], [(0, 0, 1.0), (1, 0, 1.0), (1, 1, 1.0)], capacity=[1, 1]
    )
    props = adversarial_props(inst)
    assert guarantee_for("ranking").unmet(props) == ["singleton groups"]
    assert guarantee_for("balance").unmet(props) == ["singleton groups"]
    assert guarantee_for("greedy").ratio_for(props) == Fraction(1, 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_single_use_guarantees_do_not_apply_to_reusable_resources(seed):
    seq = FAMILIES["kad-reusable"](np.random.default_rng(seed))
    props = InputProperties.of_sequence(seq)
    for policy in SINGLE_USE_POLICIES:
        assert "single-use" in GUARANTEES[policy].unmet(props), policy
    assert GUARANTEES["lp-attenuate"].applies(props)


def test_lp_attenuate_needs_reusable_resources_and_a_known_prior():
    seq = FAMILIES["k-uniform"](np.random.default_rng(0))
    unmet = GUARANTEES["lp-attenuate"].unmet(InputProperties.of_sequence(seq))
    assert {"reusable", "integer durations", "durations match prior", "known distributions"} <= (
        set(unmet)
    )


def test_lp_attenuate_needs_the_prior_durations():
    types = matching.Instance([[0], [1]], [(0, 0, 2.0, 1, 2.0), (1, 1, 1.0, 1, 1.0)])
    as_declared = known_iid(types, [1.0, 1.0], 10, seed=0, reusable=True)
    redrawn = known_iid(
        types, [1.0, 1.0], 10, seed=0, reusable=True, durations=lambda rng, e: np.full(e.size, 3.0)
    )
    lp = guarantee_for("lp-attenuate")
    assert lp.unmet(InputProperties.of_sequence(as_declared)) == []
    assert lp.unmet(InputProperties.of_sequence(redrawn)) == ["durations match prior"]
    assert lp.unmet(
        InputProperties.of(as_declared.instance, reusable=True, arrival_model="known-iid")
    ) == ["durations match prior"], "an instance alone cannot show the prior's durations"


def test_batched_claims_no_ratio():
    batched = guarantee_for("batched")
    assert batched.unmet(IDEAL_SINGLE_USE) == ["a proven ratio"]
    assert not batched.applies(IDEAL_KAD)
    with pytest.raises(ValueError, match="does not apply"):
        batched.ratio_for(IDEAL_SINGLE_USE)
    assert batched.describe(IDEAL_SINGLE_USE) == "no guarantee: no competitive ratio is proven"


# --------------------------------------------------- counter-examples, simulated
def test_balance_with_edge_weights_falls_below_its_ratio():
    """Light edges arrive first and fill the capacity: the printed 1 - 1/e would be false."""
    b = 50
    edges = [(0, g, 0.01) for g in range(b)] + [(0, g, 1.0) for g in range(b, 2 * b)]
    inst = matching.Instance([[g] for g in range(2 * b)], edges, capacity=[b])
    ratio = alg_over_opt(BalancePolicy(), inst)
    assert ratio == pytest.approx(0.01)
    assert ratio < float(balance_ratio(b)) and ratio < 0.5
    balance = guarantee_for("balance")
    props = adversarial_props(inst)
    assert not balance.applies(props)
    assert balance.unmet(props) == ["unit weights"]
    assert balance.describe(props).startswith("no guarantee")
    # the same input unweighted meets every precondition and the bound holds
    unweighted = inst.replace(edge_weight=np.ones(inst.n_edges))
    assert balance.ratio_for(adversarial_props(unweighted)) == balance_ratio(b)
    assert alg_over_opt(BalancePolicy(), unweighted) >= float(balance_ratio(b))


def test_greedy_with_one_heavy_load_falls_below_its_ratio():
    """A load-20 edge arrives first and blocks twenty unit edges: 1/20 < 1/2."""
    edges = [(0, 0, 1.0, 20)] + [(0, g, 1.0, 1) for g in range(1, 21)]
    inst = matching.Instance([[g] for g in range(21)], edges, capacity=[20])
    ratio = alg_over_opt(GreedyPolicy(), inst)
    assert ratio == pytest.approx(1 / 20)
    greedy = guarantee_for("greedy")
    props = adversarial_props(inst)
    assert ratio < greedy_ratio(props.max_group_size)
    assert not greedy.applies(props)
    assert greedy.unmet(props) == ["unit loads"]


@pytest.mark.parametrize("seed", range(10))
def test_ranking_with_a_request_in_two_groups_falls_below_its_ratio(seed):
    """Request 0's first group takes the only resource request 1 can use."""
    inst = matching.Instance([[0], [1], [0]], [(0, 0, 1.0), (0, 1, 1.0), (1, 2, 1.0)])
    ratio = alg_over_opt(RankingPolicy(), inst, seed=seed)
    assert ratio == 0.5 < ONE_MINUS_INV_E
    props = adversarial_props(inst)
    assert guarantee_for("ranking").unmet(props) == ["disjoint groups"]
    # greedy's 1/(k+1) allows shared requests, and holds here with equality
    assert alg_over_opt(GreedyPolicy(), inst) >= guarantee_for("greedy").ratio_for(props)


@settings(max_examples=150)
@given(inst=small_instances(max_edges=10), order_seed=st.integers(0, 2**16))
def test_greedy_meets_its_ratio_with_any_capacities_and_shared_requests(inst, order_seed):
    inst = inst.replace(edge_weight=np.ones(inst.n_edges), edge_load=np.ones(inst.n_edges))
    order = np.random.default_rng(order_seed).permutation(inst.n_groups)
    props = InputProperties.of(inst, reusable=False, arrival_model="adversarial")
    bound = guarantee_for("greedy").ratio_for(props)
    run = simulate(GreedyPolicy(), adversarial_order(inst, order))
    assert run.value >= float(bound) * brute_force_optimum(inst) - 1e-9


@settings(max_examples=100)
@given(
    adjacency=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=4),
    capacity=st.lists(st.integers(1, 3), min_size=4, max_size=4),
    order_seed=st.integers(0, 2**16),
)
def test_balance_meets_its_ratio_on_unweighted_bipartite_inputs(adjacency, capacity, order_seed):
    weights = np.asarray(adjacency, dtype=float)
    inst = matching.Instance.bipartite(weights, capacity=capacity[: weights.shape[0]])
    inst = inst.replace(edge_weight=np.ones(inst.n_edges))  # every stored edge weighs 1
    props = InputProperties.of(inst, reusable=False, arrival_model="random-order")
    bound = guarantee_for("balance").ratio_for(props)
    order = np.random.default_rng(order_seed).permutation(inst.n_groups)
    run = simulate(BalancePolicy(), adversarial_order(inst, order))
    assert run.value >= float(bound) * matching.solve(inst).value - 1e-9


# --------------------------------------------------------------------- formulas
def test_balance_ratio_rises_from_one_half_towards_one_minus_inv_e():
    assert balance_ratio(1) == Fraction(1, 2)
    assert balance_ratio(2) == 1 - Fraction(2, 3) ** 2
    values = [balance_ratio(b) for b in range(1, 301)]
    assert all(a < b for a, b in itertools.pairwise(values))
    for b in (1, 10, 100, 1000):
        gap = ONE_MINUS_INV_E - float(balance_ratio(b))
        assert 0 < gap < 1 / b


def test_greedy_ratio_is_one_over_k_plus_one():
    for k in range(1, 11):
        assert greedy_ratio(k) == Fraction(1, k + 1)
        assert isinstance(greedy_ratio(k), Fraction)
    props = dataclasses.replace(IDEAL_SINGLE_USE, max_group_size=4)
    assert guarantee_for("greedy").ratio_for(props) == Fraction(1, 5)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None])
def test_ratio_formulas_reject_bad_parameters(bad):
    for formula in (greedy_ratio, balance_ratio):
        with pytest.raises((TypeError, ValueError)):
            formula(bad)


def test_balance_uses_the_smallest_capacity():
    props = dataclasses.replace(
        IDEAL_SINGLE_USE, min_capacity=3.0, max_capacity=7.0, integer_capacities=True
    )
    assert guarantee_for("balance").ratio_for(props) == balance_ratio(3)
    assert guarantee_for("ranking").applies(props)
    assert guarantee_for("ranking-vw").unmet(props) == ["unit capacity"]


def test_constant_ratios():
    assert guarantee_for("ranking").ratio_for(IDEAL_SINGLE_USE) == pytest.approx(ONE_MINUS_INV_E)
    assert guarantee_for("ranking-vw").ratio_for(IDEAL_SINGLE_USE) == pytest.approx(
        ONE_MINUS_INV_E
    )
    assert guarantee_for("lp-attenuate").ratio_for(IDEAL_KAD) == Fraction(1, 2)
    assert guarantee_for("lp-attenuate").benchmark == "LP"


# ---------------------------------------------------------------- descriptions
@pytest.mark.parametrize("policy", list(GUARANTEES))
def test_full_statement_lists_every_precondition(policy):
    guarantee = GUARANTEES[policy]
    text = guarantee.describe()
    assert text.startswith(f"{policy}: ")
    for c in guarantee.preconditions:
        if c.name != "a proven ratio":
            assert f"{c.name}: {c.meaning}" in text
    if guarantee.formula is not None:
        assert guarantee.formula in text


def test_description_with_properties_gives_the_concrete_value():
    two = dataclasses.replace(IDEAL_SINGLE_USE, max_group_size=2)
    assert guarantee_for("greedy").describe(two) == "ALG/OPT >= 1/3 = 0.333 (groups of <= 2)"
    assert guarantee_for("ranking").describe(IDEAL_SINGLE_USE) == "E[ALG]/OPT >= 1 - 1/e = 0.632"
    assert guarantee_for("lp-attenuate").describe(IDEAL_KAD) == "E[ALG]/LP >= 1/2 = 0.500"
    fifty = dataclasses.replace(IDEAL_SINGLE_USE, min_capacity=50.0, max_capacity=50.0)
    assert guarantee_for("balance").describe(fifty) == (
        f"ALG/OPT >= {float(balance_ratio(50)):.3f} (smallest capacity b = 50)"
    )
    weighted = dataclasses.replace(fifty, unit_weights=False)
    assert guarantee_for("balance").describe(weighted) == (
        "no guarantee: 1 - (b/(b+1))^b needs unit weights"
    )


# ---------------------------------------------------------------------- registry
def test_registry_covers_every_policy_name():
    names = {
        GreedyPolicy().name,
        RankingPolicy().name,
        RankingPolicy(vertex_weighted=True).name,
        BalancePolicy().name,
        BatchedResolvePolicy(1.0).name,
        LPSampleAttenuatePolicy().name,
    }
    assert set(GUARANTEES) == names
    for name in names:
        assert guarantee_for(name) is GUARANTEES[name]
        assert GUARANTEES[name].policy == name


@pytest.mark.parametrize("bad", ["Greedy", "ranking_vw", "", 3])
def test_unknown_policy_names_are_refused(bad):
    with pytest.raises(ValueError, match="known policies: balance, batched, greedy"):
        guarantee_for(bad)


# ------------------------------------------------------------ computed properties
def test_properties_of_a_hand_built_instance():
    inst = matching.Instance(
        [[0, 1], [1], [2]],
        [(0, 0, 2.0, 1, 3.0), (0, 1, 2.0, 1, 1.0), (1, 2, 5.0, 2, 2.0)],
        capacity=[1, 2.5],
    )
    props = InputProperties.of(inst, reusable=True, arrival_model="poisson")
    assert props == InputProperties(
        unit_weights=False,
        vertex_weights=True,
        unit_loads=False,
        min_capacity=1.0,
        max_capacity=2.5,
        integer_capacities=False,
        max_group_size=2,
        disjoint_groups=False,
        reusable=True,
        integer_durations=True,
        resource_durations=False,  # resource 0 holds edges of durations 3 and 1
        arrival_model="poisson",
    )
    assert props.unit_capacity is False and props.singleton_groups is False
    other = inst.replace(edge_weight=[2.0, 3.0, 5.0], edge_duration=[0.5, 1.0, 2.0])
    props = InputProperties.of(other, reusable=True, arrival_model="poisson")
    assert not props.vertex_weights and not props.integer_durations


def test_properties_of_an_input_without_groups_or_resources():
    empty = matching.Instance([], [], capacity=[])
    props = InputProperties.of(empty, reusable=False, arrival_model="adversarial")
    assert props.unit_weights and props.unit_loads and props.disjoint_groups
    assert props.max_group_size == 1
    assert props.min_capacity == math.inf and props.unit_capacity is False


def test_invalid_properties_are_refused():
    with pytest.raises(ValueError, match="arrival_model"):
        InputProperties(arrival_model="batch")
    with pytest.raises(ValueError, match="implies vertex_weights"):
        InputProperties(unit_weights=True, vertex_weights=False)
    with pytest.raises(ValueError, match="max_group_size"):
        InputProperties(max_group_size=0)
    with pytest.raises(ValueError, match="exceeds max_capacity"):
        InputProperties(min_capacity=2.0, max_capacity=1.0)
    with pytest.raises(TypeError, match="unit_loads"):
        InputProperties(unit_loads="yes")
    with pytest.raises(TypeError, match="max_group_size"):
        InputProperties(max_group_size=2.0)
    with pytest.raises(TypeError, match="reusable"):
        InputProperties.of(matching.Instance([[0]], []), reusable=1, arrival_model="adversarial")
    with pytest.raises(TypeError, match="InputProperties"):
        guarantee_for("greedy").unmet({"unit_loads": True})
