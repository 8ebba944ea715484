"""Greedy on reusable resources with one duration per resource: ALG >= OPT/(k+1).

The theorem and its proof are docs/proofs/greedy_reusable.md. The optimum here is an
exhaustive search with its own feasibility check (not matching.hindsight, which one test
checks against it). Greedy runs through the streaming matcher exactly as a scheduler
would call it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matching
from matching.arrivals import ArrivalSequence
from matching.guarantees import GUARANTEES, Guarantee, InputProperties, guarantee_for
from matching.hindsight import offline_optimum
from matching.online import GreedyPolicy, OnlinePolicy
from matching.stream import MatcherSetup, OnlineMatcher

SETTING = "reusable resources, one duration per resource"
GREEDY = GUARANTEES["greedy"]
(REUSABLE_THEOREM,) = GREEDY.alternatives


# ------------------------------------------------------------------- the input
@dataclass(frozen=True)
class Group:
    """One arrival: its time, its requests and its edges ``(resource, weight, load, duration)``."""

    time: float
    requests: tuple[int, ...]
    edges: tuple[tuple[int, float, float, float], ...]


@dataclass(frozen=True)
class Reusable:
    """A realised online input on reusable resources: groups arrive in list order."""

    capacity: tuple[float, ...]
    groups: tuple[Group, ...]

    def instance(self) -> matching.Instance:
        edges = [
            (r, i, w, load, d) for i, g in enumerate(self.groups) for r, w, load, d in g.edges
        ]
        n_requests = 1 + max(q for g in self.groups for q in g.requests)
        return matching.Instance(
            [list(g.requests) for g in self.groups],
            edges,
            capacity=list(self.capacity),
            n_requests=n_requests,
            n_resources=len(self.capacity),
        )

    def sequence(self) -> ArrivalSequence:
        n = len(self.groups)
        times = [g.time for g in self.groups]
        return ArrivalSequence(self.instance(), np.arange(n), times, reusable=True)

    def properties(self) -> InputProperties:
        return InputProperties.of_sequence(self.sequence())


def single_requests(capacity, duration, arrivals):
    """Disjoint single requests; ``arrivals`` lists ``(time, resources)``; one duration each."""
    groups = tuple(
        Group(t, (i,), tuple((r, 1.0, 1.0, duration[r]) for r in resources))
        for i, (t, resources) in enumerate(arrivals)
    )
    return Reusable(tuple(capacity), groups)


# ------------------------------------------------------ the independent reference
def held(inp: Reusable, choice: list[int], r: int, t: float, upto: int) -> float:
    """Load of resource ``r`` at instant ``t`` held by the chosen edges of groups ``< upto``."""
    total = 0.0
    for j in range(upto):
        if choice[j] >= 0:
            res, _, load, d = inp.groups[j].edges[choice[j]]
            s = inp.groups[j].time
            if res == r and s <= t < s + d:
                total += load
    return total


def value_of_schedule(inp: Reusable, choice: list[int]) -> float:
    """Weight of a schedule (one edge index or -1 per group, served at arrival), checked.

    Feasible means every request is served at most once and, at every instant, each
    resource holds at most its capacity. The held load only rises when an edge starts, so
    checking at every start is enough.
    """
    seen: set[int] = set()
    for g, e in zip(inp.groups, choice, strict=True):
        if e >= 0:
            assert not seen & set(g.requests), f"a request of {g} is served twice"
            seen |= set(g.requests)
    n = len(inp.groups)
    for g, e in zip(inp.groups, choice, strict=True):
        if e >= 0:
            r = g.edges[e][0]
            assert held(inp, choice, r, g.time, n) <= inp.capacity[r], f"resource {r} overfull"
    return sum(g.edges[e][1] for g, e in zip(inp.groups, choice, strict=True) if e >= 0)


def brute_force(inp: Reusable) -> tuple[float, list[int]]:
    """Hindsight optimum by exhaustive search over one edge (or none) per group.

    Depth first in arrival order: an edge is added only if its requests are unserved and
    its load fits at its start, counting every earlier chosen edge still held then (all
    start no later). Branches that cannot beat the best found are cut.
    """
    n = len(inp.groups)
    best_w = max((w for g in inp.groups for _, w, _, _ in g.edges), default=0.0)
    choice = [-1] * n
    best: list = [-1.0, list(choice)]

    def visit(i: int, value: float, served: frozenset[int]) -> None:
        if value + best_w * (n - i) <= best[0]:
            return
        if i == n:
            best[:] = [value, list(choice)]
            return
        g = inp.groups[i]
        if not served & set(g.requests):
            for e, (r, w, load, _) in enumerate(g.edges):
                if held(inp, choice, r, g.time, i) + load <= inp.capacity[r]:
                    choice[i] = e
                    visit(i + 1, value + w, served | set(g.requests))
                    choice[i] = -1
        visit(i + 1, value, served)

    visit(0, 0.0, frozenset())
    value, schedule = best
    assert value_of_schedule(inp, schedule) == value
    return value, schedule


class AnyFit(OnlinePolicy):
    """Greedy with a random tie rule: any edge that fits."""

    name = "any-fit"

    def reset(self, setup: MatcherSetup, rng: np.random.Generator) -> None:
        super().reset(setup, rng)
        self.rng = rng

    def choose(self, state, arrival, candidates) -> int:
        return int(self.rng.choice(candidates)) if candidates.size else -1


def run_online(inp: Reusable, policy: OnlinePolicy, seed: int = 0) -> tuple[float, list[int]]:
    """Run ``policy`` through the streaming matcher; its value and chosen edge per group."""
    matcher = OnlineMatcher(list(inp.capacity), policy, reusable=True, seed=seed)
    choice = []
    for g in inp.groups:
        resources, weights, loads, durations = zip(*g.edges, strict=True)
        decision = matcher.arrive(
            list(g.requests),
            resources=list(resources),
            weights=list(weights),
            loads=list(loads),
            durations=list(durations),
            time=g.time,
        )
        choice.append(decision.edge)
    assert value_of_schedule(inp, choice) == matcher.value
    return matcher.value, choice


def assert_greedy_rule(inp: Reusable, choice: list[int]) -> None:
    """Each group took an edge exactly when one fitted and none of its requests was served."""
    served: set[int] = set()
    for i, g in enumerate(inp.groups):
        fitting = []
        if not served & set(g.requests):
            fitting = [
                e
                for e, (r, _, load, _) in enumerate(g.edges)
                if held(inp, choice, r, g.time, i) + load <= inp.capacity[r]
            ]
        if choice[i] < 0:
            assert not fitting, f"group {i} rejected although edges {fitting} fit"
        else:
            assert choice[i] in fitting
            served |= set(g.requests)


def assert_charging(inp: Reusable, alg: list[int], opt: list[int], k: int) -> None:
    """The proof's two counts: |S1| <= k |A| and, per resource, |S2_r| <= |A_r|."""
    greedy_requests = {
        q for g, e in zip(inp.groups, alg, strict=True) if e >= 0 for q in g.requests
    }
    n_alg = sum(e >= 0 for e in alg)
    s1 = [i for i, e in enumerate(opt) if e >= 0 and greedy_requests & set(inp.groups[i].requests)]
    assert len(s1) <= k * n_alg
    for r in range(len(inp.capacity)):
        s2_r = sum(
            1
            for i, e in enumerate(opt)
            if e >= 0 and i not in s1 and inp.groups[i].edges[e][0] == r
        )
        a_r = sum(1 for i, e in enumerate(alg) if e >= 0 and inp.groups[i].edges[e][0] == r)
        assert s2_r <= a_r, f"resource {r}: {s2_r} uncharged OPT edges, {a_r} greedy edges"


# ---------------------------------------------------------------- random inputs
TIMES = st.integers(0, 12).map(lambda h: h / 2)  # 0, 0.5, ..., 6: exact, and often equal
DURATIONS = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])
CAPACITIES = st.sampled_from([1.0, 1.0, 2.0, 3.0, 1.5, 2.5])  # c acts as floor(c) seats


@st.composite
def one_duration_per_resource(draw, max_group_size: int = 1) -> Reusable:
    """1-3 resources, each with one duration; 4-12 arrivals at random times.

    ``max_group_size == 1``: disjoint single requests. Otherwise groups of up to that many
    requests drawn from a small pool, so groups share requests.
    """
    n_resources = draw(st.integers(1, 3))
    capacity = tuple(draw(CAPACITIES) for _ in range(n_resources))
    duration = [draw(DURATIONS) for _ in range(n_resources)]
    n = draw(st.integers(4, 12))
    times = sorted(draw(st.lists(TIMES, min_size=n, max_size=n)))
    pool = draw(st.integers(2, n))
    groups = []
    for i, t in enumerate(times):
        resources = draw(
            st.lists(st.integers(0, n_resources - 1), min_size=1, max_size=3, unique=True)
        )
        requests = (
            (i,)
            if max_group_size == 1
            else tuple(
                draw(
                    st.lists(
                        st.integers(0, pool - 1), min_size=1, max_size=max_group_size, unique=True
                    )
                )
            )
        )
        groups.append(Group(t, requests, tuple((r, 1.0, 1.0, duration[r]) for r in resources)))
    return Reusable(capacity, tuple(groups))


@settings(max_examples=300)
@given(inp=one_duration_per_resource())
def test_greedy_gets_half_the_optimum_on_single_requests(inp):
    props = inp.properties()
    assert props.resource_durations and props.singleton_groups and props.disjoint_groups
    theorem = guarantee_for("greedy", props)
    assert theorem is REUSABLE_THEOREM
    assert GREEDY.applies(props) and GREEDY.ratio_for(props) == Fraction(1, 2)
    alg, alg_choice = run_online(inp, GreedyPolicy())
    assert_greedy_rule(inp, alg_choice)
    opt, opt_choice = brute_force(inp)
    assert 2 * alg >= opt
    assert_charging(inp, alg_choice, opt_choice, k=1)


@settings(max_examples=200)
@given(inp=one_duration_per_resource(max_group_size=2))
def test_greedy_gets_one_over_k_plus_one_with_shared_requests(inp):
    props = inp.properties()
    k = props.max_group_size
    assert GREEDY.ratio_for(props) == Fraction(1, k + 1)
    alg, alg_choice = run_online(inp, GreedyPolicy())
    assert_greedy_rule(inp, alg_choice)
    opt, opt_choice = brute_force(inp)
    assert (k + 1) * alg >= opt
    assert_charging(inp, alg_choice, opt_choice, k=k)


@settings(max_examples=150)
@given(inp=one_duration_per_resource(max_group_size=2), seed=st.integers(0, 2**16))
def test_the_bound_holds_for_any_tie_rule(inp, seed):
    k = inp.properties().max_group_size
    alg, alg_choice = run_online(inp, AnyFit(), seed=seed)
    assert_greedy_rule(inp, alg_choice)
    opt, opt_choice = brute_force(inp)
    assert (k + 1) * alg >= opt
    assert_charging(inp, alg_choice, opt_choice, k=k)


@settings(max_examples=40)
@given(inp=one_duration_per_resource(max_group_size=2))
def test_the_library_hindsight_optimum_agrees_with_the_search(inp):
    opt = offline_optimum(inp.sequence())
    assert opt.check(inp.instance())
    assert opt.value == brute_force(inp)[0]


# ------------------------------------------------------------------ tightness
@pytest.mark.parametrize("m", [1, 2, 5])
def test_the_tight_example_gives_exactly_one_half(m):
    """Pairs at 0, 3, 6, ...: A may use either resource, B only the one greedy gave A."""
    duration = (1.0, 3.0)  # different per resource; pairs spaced by the longest
    arrivals = [item for b in range(m) for item in ((3.0 * b, (0, 1)), (3.0 * b, (0,)))]
    inp = single_requests((1.0, 1.0), duration, arrivals)
    alg, _ = run_online(inp, GreedyPolicy())
    opt, _ = brute_force(inp)
    assert (alg, opt) == (m, 2 * m)
    assert offline_optimum(inp.sequence()).value == 2 * m
    props = inp.properties()
    assert GREEDY.ratio_for(props) == Fraction(int(alg), int(opt)) == Fraction(1, 2)
    assert GREEDY.describe(props) == f"ALG/OPT >= 1/2 = 0.500 (groups of <= 1; {SETTING})"


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_tight_example_for_groups_of_k(k):
    """greedy_tight_instance(k), reusable with duration 1 and every group at time 0."""
    groups = [Group(0.0, tuple(range(k)), ((0, 1.0, 1.0, 1.0),))]
    groups += [Group(0.0, (i,), ((i + 1, 1.0, 1.0, 1.0),)) for i in range(k)]
    groups += [Group(0.0, (k,), ((0, 1.0, 1.0, 1.0),))]
    inp = Reusable((1.0,) * (k + 1), tuple(groups))
    alg, _ = run_online(inp, GreedyPolicy())
    opt, _ = brute_force(inp)
    assert (alg, opt) == (1, k + 1)
    assert GREEDY.ratio_for(inp.properties()) == Fraction(1, k + 1) == Fraction(int(alg), int(opt))


# ------------------------------------------------------------- counterexamples
def long_then_short(n: int) -> Reusable:
    """One resource of capacity 1: a duration-n edge at 0, then n duration-1 edges at 0..n-1."""
    groups = [Group(0.0, (0,), ((0, 1.0, 1.0, float(n)),))]
    groups += [Group(float(i), (i + 1,), ((0, 1.0, 1.0, 1.0),)) for i in range(n)]
    return Reusable((1.0,), tuple(groups))


@pytest.mark.parametrize("n", [3, 4, 10])
def test_two_durations_at_one_resource_break_the_bound(n):
    inp = long_then_short(n)
    alg, _ = run_online(inp, GreedyPolicy())
    opt, _ = brute_force(inp)
    assert (alg, opt) == (1, n)
    assert alg / opt < 1 / 2
    props = inp.properties()
    assert props.resource_durations is False and props.integer_durations
    assert REUSABLE_THEOREM.unmet(props) == ["resource durations"]
    assert not GREEDY.applies(props)
    assert GREEDY.describe(props) == (
        f"no guarantee: 1/(k+1) needs single-use (or, for {SETTING}: resource durations)"
    )
    with pytest.raises(ValueError, match="does not apply"):
        GREEDY.ratio_for(props)


@pytest.mark.parametrize("n", [3, 6])
def test_non_unit_loads_break_the_bound(n):
    """Capacity n, one duration: a load-n edge first blocks n unit edges at the same time."""
    groups = [Group(0.0, (0,), ((0, 1.0, float(n), 1.0),))]
    groups += [Group(0.0, (i,), ((0, 1.0, 1.0, 1.0),)) for i in range(1, n + 1)]
    inp = Reusable((float(n),), tuple(groups))
    alg, _ = run_online(inp, GreedyPolicy())
    assert (alg, brute_force(inp)[0]) == (1, n)
    assert REUSABLE_THEOREM.unmet(inp.properties()) == ["unit loads"]
    assert not GREEDY.applies(inp.properties())


def test_edge_weights_break_the_bound():
    groups = (Group(0.0, (0,), ((0, 0.01, 1.0, 1.0),)), Group(0.0, (1,), ((0, 1.0, 1.0, 1.0),)))
    inp = Reusable((1.0,), groups)
    alg, _ = run_online(inp, GreedyPolicy())
    assert (alg, brute_force(inp)[0]) == (0.01, 1.0)
    assert REUSABLE_THEOREM.unmet(inp.properties()) == ["unit weights"]


def test_a_benchmark_that_may_delay_service_is_out_of_reach():
    """n requests at 0 on one seat: greedy and the at-arrival optimum serve 1; a queue n."""
    n = 5
    inp = single_requests((1.0,), (1.0,), [(0.0, (0,))] * n)
    assert run_online(inp, GreedyPolicy())[0] == brute_force(inp)[0] == 1
    queued = dataclasses.replace(
        inp, groups=tuple(dataclasses.replace(g, time=float(i)) for i, g in enumerate(inp.groups))
    )
    assert value_of_schedule(queued, [0] * n) == n  # the same requests served at 0, 1, ...


# -------------------------------------------------------------- the properties
def test_resource_durations_are_computed_from_the_instance():
    def props(edges, capacity=(1.0, 1.0)):
        inst = matching.Instance([[0], [1], [2]], edges, capacity=list(capacity))
        return InputProperties.of(inst, reusable=True, arrival_model="adversarial")

    same = [(0, 0, 1.0, 1, 2.5), (0, 1, 1.0, 1, 2.5), (1, 2, 1.0, 1, 7.0)]
    assert props(same).resource_durations is True
    assert props(same).integer_durations is False  # 2.5 is not a whole step: not needed
    two = [(0, 0, 1.0, 1, 2.0), (0, 1, 1.0, 1, 3.0), (1, 2, 1.0, 1, 7.0)]
    assert props(two).resource_durations is False
    none = [(0, 0, 1.0), (0, 1, 1.0), (1, 2, 1.0)]
    assert props(none).resource_durations is False
    zero = [(0, 0, 1.0, 1, 0.0), (0, 1, 1.0, 1, 0.0), (1, 2, 1.0, 1, 7.0)]
    assert props(zero).resource_durations is False
    declared = InputProperties(resource_durations=True)
    assert declared.holds_on(props(same)) and not declared.holds_on(props(two))


IDEAL_REUSABLE = InputProperties(
    unit_weights=True,
    unit_loads=True,
    min_capacity=1.0,
    max_capacity=3.0,
    integer_capacities=True,
    max_group_size=1,
    disjoint_groups=True,
    reusable=True,
    integer_durations=False,
    resource_durations=True,
    arrival_model="poisson",
)
BREAK = {
    "unit weights": {"unit_weights": False},
    "unit loads": {"unit_loads": False},
    "group size bound": {"max_group_size": None},
    "reusable": {"reusable": False},
    "resource durations": {"resource_durations": False},
    "whole-group arrivals": {"arrival_model": None},
}


def test_the_reusable_theorem_applies_exactly_where_its_preconditions_hold():
    assert [c.name for c in REUSABLE_THEOREM.preconditions] == list(BREAK)
    assert REUSABLE_THEOREM.setting == SETTING and REUSABLE_THEOREM.policy == "greedy"
    assert "docs/proofs/greedy_reusable.md" in REUSABLE_THEOREM.notes
    assert GREEDY.applies(IDEAL_REUSABLE) and REUSABLE_THEOREM.applies(IDEAL_REUSABLE)
    assert guarantee_for("greedy", IDEAL_REUSABLE) is REUSABLE_THEOREM
    assert GREEDY.ratio_for(dataclasses.replace(IDEAL_REUSABLE, max_group_size=3)) == Fraction(
        1, 4
    )
    for other in ("ranking", "ranking-vw", "balance", "lp-attenuate", "batched"):
        assert not guarantee_for(other).applies(IDEAL_REUSABLE), other


@pytest.mark.parametrize("precondition", list(BREAK))
def test_breaking_one_precondition_of_the_reusable_theorem_names_it(precondition):
    broken = dataclasses.replace(IDEAL_REUSABLE, **BREAK[precondition])
    assert REUSABLE_THEOREM.unmet(broken) == [precondition]
    with pytest.raises(ValueError, match=precondition):
        REUSABLE_THEOREM.ratio_for(broken)
    # single-use inputs fall under the registered theorem instead
    assert GREEDY.applies(broken) == (precondition == "reusable")


def test_single_use_inputs_keep_the_registered_theorem():
    single_use = dataclasses.replace(IDEAL_REUSABLE, reusable=False, resource_durations=False)
    assert guarantee_for("greedy", single_use) is GREEDY
    assert GREEDY.describe(single_use) == "ALG/OPT >= 1/2 = 0.500 (groups of <= 1)"
    statement = GREEDY.describe()
    assert statement.startswith("greedy: ALG/OPT >= 1/(k+1)")
    assert f"\ngreedy ({SETTING}): ALG/OPT >= 1/(k+1)" in statement
    assert "  - resource durations: every edge at a resource" in statement


def test_a_failing_input_is_told_what_each_theorem_needs():
    """The closest theorem speaks first (the registered one on ties); the other follows."""
    weighted = dataclasses.replace(IDEAL_REUSABLE, unit_weights=False)
    assert guarantee_for("greedy", weighted) is REUSABLE_THEOREM
    assert GREEDY.unmet(weighted) == ["unit weights"]
    assert GREEDY.describe(weighted) == (
        "no guarantee: 1/(k+1) needs unit weights (or: unit weights, single-use)"
    )
    tie = dataclasses.replace(IDEAL_REUSABLE, resource_durations=False)
    assert guarantee_for("greedy", tie) is GREEDY
    assert GREEDY.unmet(tie) == ["single-use"]


@dataclass(frozen=True)
class LLMPlacement:
    """Instances with batch seats and one reservation time each; single requests arrive.

    A family as the ratio harness takes it: ``family(rng)`` draws an input and
    ``properties`` declares what every input has.
    """

    n_instances: int = 3
    n_requests: int = 10

    @property
    def properties(self) -> InputProperties:
        return InputProperties(
            unit_weights=True,
            unit_loads=True,
            max_group_size=1,
            disjoint_groups=True,
            reusable=True,
            resource_durations=True,
            arrival_model="adversarial",
        )

    def __call__(self, rng: np.random.Generator) -> ArrivalSequence:
        seats = rng.integers(1, 4, size=self.n_instances).astype(float)
        reservation = rng.integers(1, 5, size=self.n_instances).astype(float)
        times = np.sort(rng.integers(0, 8, size=self.n_requests)).astype(float)
        arrivals = [
            (t, tuple(rng.choice(self.n_instances, size=rng.integers(1, 3), replace=False)))
            for t in times
        ]
        return single_requests(seats, reservation, arrivals).sequence()


def test_the_ratio_harness_states_the_reusable_guarantee():
    from matching.ratio import competitive_ratio

    report = competitive_ratio(GreedyPolicy(), LLMPlacement(), trials=8, seed=1, with_lp=False)
    assert report.guarantee == f"ALG/OPT >= 1/2 = 0.500 (groups of <= 1; {SETTING})"
    assert report.ratio_opt.min() >= 0.5


def test_alternatives_must_be_theorems_about_the_same_policy():
    other = dataclasses.replace(REUSABLE_THEOREM, policy="ranking")
    with pytest.raises(ValueError, match="is about 'ranking'"):
        dataclasses.replace(GREEDY, alternatives=(other,))
    with pytest.raises(ValueError, match="needs a formula and a setting"):
        dataclasses.replace(
            GREEDY, alternatives=(dataclasses.replace(REUSABLE_THEOREM, setting=""),)
        )
    with pytest.raises(TypeError, match="Guarantee objects"):
        dataclasses.replace(GREEDY, alternatives=("reusable",))
    assert isinstance(GREEDY.variant_for(IDEAL_REUSABLE), Guarantee)
