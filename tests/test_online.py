"""Online driver invariants, known competitive ratios and the offline benchmark."""

import dataclasses
import itertools
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from helpers import brute_force_optimum, small_instances
from hypothesis import given, settings
from hypothesis import strategies as st

import matching
from matching.arrivals import (
    ArrivalSequence,
    adversarial_order,
    known_adversarial,
    known_iid,
    poisson_arrivals,
    random_order,
)
from matching.attenuation import LPSampleAttenuatePolicy
from matching.driver import PolicyError, ReplayError, simulate
from matching.hindsight import offline_lp, offline_optimum
from matching.online import (
    BalancePolicy,
    BatchedResolvePolicy,
    GreedyPolicy,
    OnlinePolicy,
    RankingPolicy,
)
from matching.online_families import KADReusable, KUniformGroups, RandomBipartite, UpperTriangular
from matching.ratio import RatioError, compare_policies, competitive_ratio
from matching.stream import ArrivingGroup, OnlineMatcher

POLICIES = [
    GreedyPolicy,
    RankingPolicy,
    lambda: RankingPolicy(vertex_weighted=True),
    BalancePolicy,
    lambda: BatchedResolvePolicy(2.5),
]


def independent_check(run):
    """Replay the decisions from scratch: requests once, capacity at every instant.

    An arrival at ``a`` decided at ``b`` holds its resource over ``[a, b + d)``
    (single-use: for ever); the held load only rises at a start, so checking every
    start suffices.
    """
    seq = run.sequence
    inst = seq.instance
    served = set()
    holds = []  # (resource, start, end, load)
    for i, e in enumerate(run.decisions.tolist()):
        decided = float(run.decision_times[i])
        assert decided >= seq.times[i]
        if e < 0:
            continue
        g = int(seq.order[i])
        assert inst.edge_group[e] == g
        requests = set(inst.group(g).tolist())
        assert not requests & served, "request served twice"
        served |= requests
        end = decided + float(inst.edge_duration[e]) if seq.reusable else np.inf
        holds.append((int(inst.edge_resource[e]), float(seq.times[i]), end, inst.edge_load[e]))
    for r, start, _, _ in holds:
        held = sum(load for rr, s, en, load in holds if rr == r and s <= start < en)
        assert held <= inst.capacity[r] + 1e-9, "capacity or busy period broken"
    assert run.value == pytest.approx(float(inst.edge_weight[run.edges].sum()))


def feed_matcher(policy, sequence, seed):
    """Drive an OnlineMatcher through its public API, as a scheduler's loop would."""
    inst = sequence.instance
    matcher = OnlineMatcher(
        inst.capacity.tolist(),
        policy,
        prior=sequence.model,
        reusable=sequence.reusable,
        seed=seed,
    )

    def group(i):
        g = int(sequence.order[i])
        edges = inst.group_edges.indices[
            inst.group_edges.indptr[g] : inst.group_edges.indptr[g + 1]
        ]
        return ArrivingGroup(
            requests=[f"q{q}" for q in inst.group(g).tolist()],
            resources=inst.edge_resource[edges].tolist(),
            weights=inst.edge_weight[edges].tolist(),
            loads=inst.edge_load[edges].tolist(),
            durations=inst.edge_duration[edges].tolist() if sequence.reusable else None,
            time=float(sequence.times[i]),
            type=None if sequence.types is None else int(sequence.types[i]),
        ), edges

    chosen = []
    if policy.window == 0:
        for i in range(len(sequence)):
            spec, edges = group(i)
            d = matcher.arrive(
                spec.requests,
                spec.resources,
                spec.weights,
                loads=spec.loads,
                durations=spec.durations,
                time=spec.time,
                type=spec.type,
            )
            chosen.append(int(edges[d.edge]) if d.accepted else -1)
    else:
        w = policy.window
        batches = {}
        for i in range(len(sequence)):
            batches.setdefault(np.floor(sequence.times[i] / w), []).append(i)
        for k in sorted(batches):
            specs = [group(i) for i in batches[k]]
            out = matcher.arrive_batch([s for s, _ in specs], time=(k + 1) * w)
            chosen += [
                int(e[d.edge]) if d.accepted else -1 for d, (_, e) in zip(out, specs, strict=True)
            ]
    return np.array(chosen, dtype=np.int64), matcher


@st.composite
def online_inputs(draw):
    inst = draw(small_instances())
    kind = draw(st.sampled_from(["adversarial", "random", "iid", "kad", "poisson"]))
    seed = draw(st.integers(0, 2**16))
    if kind in ("adversarial", "random"):
        if kind == "adversarial":
            order = draw(st.permutations(range(inst.n_groups)))
            return adversarial_order(inst, order)
        return random_order(inst, seed=seed)
    rng = np.random.default_rng(seed)
    durations = rng.integers(1, 4, size=inst.n_edges).astype(float)
    types = inst.replace(edge_duration=durations)
    reusable = draw(st.booleans())
    if kind == "iid":
        return known_iid(
            types,
            rng.random(types.n_groups) + 0.1,
            draw(st.integers(0, 8)),
            seed=rng,
            reusable=reusable,
        )
    if kind == "kad":
        p = rng.dirichlet(np.ones(types.n_groups), size=8).T * 0.8
        return known_adversarial(types, p, seed=rng, reusable=reusable)
    return poisson_arrivals(types, rng.random(types.n_groups), 4.0, seed=rng)


@settings(max_examples=300)
@given(online_inputs(), st.integers(0, len(POLICIES) - 1), st.integers(0, 1000))
def test_driver_invariants_for_every_policy(sequence, which, seed):
    policy = POLICIES[which]()
    if policy.window and sequence.reusable:
        pass  # batches hold from arrival: still bounded by the one OPT below
    run = simulate(policy, sequence, seed=seed)
    independent_check(run)
    assert run.replay_check()
    again = simulate(POLICIES[which](), sequence, seed=seed)
    assert np.array_equal(run.decisions, again.decisions)  # same seed, same decisions
    through_matcher, matcher = feed_matcher(POLICIES[which](), sequence, seed)
    assert np.array_equal(run.decisions, through_matcher)  # public API, same decisions
    assert matcher.value == pytest.approx(run.value)
    opt = offline_optimum(sequence)  # one OPT per input, the same for every policy
    assert opt.status is matching.Status.OPTIMAL
    assert opt.check(sequence.instance)
    assert run.value <= opt.value + 1e-7
    assert offline_lp(sequence) >= opt.value - 1e-7


def test_greedy_on_upper_triangular_is_one_half():
    for n in (10, 101, 400):
        run = simulate(GreedyPolicy(), UpperTriangular(n)(np.random.default_rng(0)))
        assert run.value == (n + 1) // 2


def test_ranking_on_upper_triangular_tends_to_one_minus_one_over_e():
    seq = UpperTriangular(1000)(np.random.default_rng(0))
    values = [simulate(RankingPolicy(), seq, seed=s).value / 1000 for s in range(200)]
    assert abs(np.mean(values) - (1 - 1 / np.e)) < 0.01


def test_batched_single_window_equals_offline_optimum():
    for seed in range(5):
        seq = RandomBipartite(12, 18, density=0.4)(np.random.default_rng(seed))
        run = simulate(BatchedResolvePolicy(window=1e9), seq)
        assert run.value == pytest.approx(matching.solve(seq.instance).value)
    seq = KUniformGroups(6, 20, 25, k=3)(np.random.default_rng(1))
    run = simulate(BatchedResolvePolicy(window=1e9), seq)
    assert run.value == pytest.approx(matching.solve(seq.instance).value)


def brute_force_time_expanded(seq, start):
    inst = seq.instance
    s = np.full(inst.n_groups, np.inf)
    s[seq.order] = start
    best = 0.0
    for k in range(inst.n_edges + 1):
        for subset in itertools.combinations(range(inst.n_edges), k):
            used = set()
            ok = True
            for e in subset:
                members = set(inst.group(int(inst.edge_group[e])).tolist())
                if members & used:
                    ok = False
                    break
                used |= members
            if not ok:
                continue
            for e in subset:
                r, t = inst.edge_resource[e], s[inst.edge_group[e]]
                held = sum(
                    inst.edge_load[f]
                    for f in subset
                    if inst.edge_resource[f] == r
                    and s[inst.edge_group[f]] <= t < s[inst.edge_group[f]] + inst.edge_duration[f]
                )
                if held > inst.capacity[r] + 1e-9:
                    ok = False
                    break
            if ok:
                best = max(best, float(inst.edge_weight[list(subset)].sum()))
    return best


@settings(max_examples=150)
@given(st.integers(0, 10_000))
def test_time_expanded_optimum_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    types, p = KADReusable(
        n_resources=2, n_types=3, horizon=6, k=2, degree=1, max_duration=3
    ).types_and_probabilities(rng)
    seq = known_adversarial(types, p, seed=rng, reusable=True)
    if seq.instance.n_edges > 9:
        return
    expected = brute_force_time_expanded(seq, seq.times)
    got = offline_optimum(seq)
    assert got.value == pytest.approx(expected)
    assert got.check(seq.instance)
    assert offline_lp(seq) >= expected - 1e-7


def test_non_reusable_optimum_is_plain_solve():
    seq = random_order(matching.families.random_groups(4, 12, 10, seed=2), seed=3)
    assert offline_optimum(seq).value == pytest.approx(brute_force_optimum(seq.instance))


class Cheater(OnlinePolicy):
    """Proposes the arrival's first edge whether or not it fits."""

    name = "cheater"

    def choose(self, state, arrival, candidates):
        return 0 if arrival.n_edges else -1


def test_driver_rejects_infeasible_proposals():
    inst = matching.Instance([[0], [0]], [(0, 0, 1.0), (1, 1, 1.0)])
    with pytest.raises(PolicyError, match="request 0 is already served"):
        simulate(Cheater(), adversarial_order(inst))
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 1.0)])
    with pytest.raises(PolicyError, match="resource 0 has 0 free"):
        simulate(Cheater(), adversarial_order(inst))


class Answer(OnlinePolicy):
    """Answers a fixed value, to test the matcher's checks of answers."""

    name = "answer"

    def __init__(self, value):
        self.value = value

    def choose(self, state, arrival, candidates):
        return self.value


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (5, "out of range"),
        (2**70, "out of range"),
        (-7, "out of range"),
        (0.9, "int edge index"),
        (True, "int edge index"),
        ("0", "int edge index"),
        (None, "int edge index"),
        (float("nan"), "int edge index"),
    ],
)
def test_bad_answers_are_errors_never_rejections(answer, message):
    inst = matching.Instance([[0]], [(0, 0, 1.0)])
    with pytest.raises(PolicyError, match=message):
        simulate(Answer(answer), adversarial_order(inst))


class Writer(OnlinePolicy):
    """Tries to write the state it is shown."""

    name = "writer"

    def __init__(self, target):
        self.target = target

    def choose(self, state, arrival, candidates):
        view = {
            "remaining": state.remaining,
            "capacity": state.capacity,
            "served": state.served,
            "weights": arrival.weights,
            "loads": arrival.loads,
            "resources": arrival.resources,
            "candidates": candidates,
        }[self.target]
        if self.target == "remaining":
            view.flags.writeable = True  # re-enabling the flag must fail too
        view[:] = 10**9
        return -1


@pytest.mark.parametrize(
    "target", ["remaining", "capacity", "served", "weights", "loads", "resources", "candidates"]
)
def test_policy_writing_the_state_gets_an_error(target):
    family = KUniformGroups(5, 10, 8, k=2)
    with pytest.raises(ValueError, match=r"read-only|WRITEABLE"):
        competitive_ratio(Writer(target), family, trials=1)


def reachable(*roots):
    """Everything reachable from ``roots`` through instance data (not classes or modules)."""
    import gc
    import types

    seen, stack, out = set(), list(roots), []
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        out.append(obj)
        if isinstance(obj, np.ndarray):
            continue
        stack.extend(gc.get_referents(obj))
    return out


class Spy(OnlinePolicy):
    """Records every number it can reach from what the matcher hands it."""

    name = "spy"

    def reset(self, setup, rng):
        super().reset(setup, rng)
        self.seen = [self._numbers(setup)]

    def _numbers(self, *roots):
        found = set()
        for obj in reachable(*roots):
            if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
                found |= set(obj.ravel().tolist())
            elif isinstance(obj, float):
                found.add(obj)
        return found

    def choose(self, state, arrival, candidates):
        self.seen.append(self._numbers(state, arrival, candidates, self.setup))
        return int(candidates[0]) if candidates.size else -1


class BaseWriter(OnlinePolicy):
    """Forces its way past the read-only views to their base arrays, then proposes."""

    name = "base-writer"

    def choose(self, state, arrival, candidates):
        for view in (state.remaining, state.capacity):
            base = view
            while base.base is not None:
                base = base.base
            try:
                base.flags.writeable = True
                base[:] = 1e9
            except ValueError:
                pass
        assert not hasattr(state, "_matcher")
        return 0 if arrival.n_edges else -1


def test_forcing_a_views_base_changes_nothing_the_matcher_enforces():
    matcher = OnlineMatcher([1.0], BaseWriter())
    assert matcher.arrive(["a"], [0], [1.0], time=0).accepted
    with pytest.raises(PolicyError, match="resource 0 has 0 free, needs 1"):
        matcher.arrive(["b"], [0], [1.0], time=1)
    assert matcher.value == 1.0


@pytest.mark.parametrize(("t", "window"), [(19395.8, 0.1), (346175.19999999995, 0.7)])
def test_batch_windows_end_after_their_first_arrival_despite_rounding(t, window):
    inst = matching.Instance([[0]], [(0, 0, 1.0)])
    run = simulate(BatchedResolvePolicy(window), ArrivalSequence(inst, [0], [t]))
    assert run.value == 1.0 and run.decision_times[0] > t
    run.replay_check()


@pytest.mark.parametrize(
    ("loads", "capacity", "fits"),
    [
        ([0.1, 0.1, 0.1], 0.3, True),  # as decimals 0.3 <= 0.3 (as floats 0.30000000000000004)
        ([1e12 + 0.01], 1e12, False),
        ([1e9 + 1e-6, 1e9 + 1e-6], 2e9 + 1e-6, False),
        ([1e9 + 1e-6, 1e9 + 1e-6], 2e9 + 2e-6, True),
        ([1e15 + 10], 1e15, False),
    ],
)
def test_capacity_is_decided_exactly_on_the_decimals(loads, capacity, fits):
    n = len(loads)
    matcher = OnlineMatcher([capacity], GreedyPolicy())
    for i, load in enumerate(loads):
        decision = matcher.arrive([i], [0], [1.0], loads=[load], time=i)
    assert decision.accepted == fits
    # the offline check and an independent Fraction sum agree
    inst = matching.Instance(
        [[i] for i in range(n)], [(0, i, 1.0, loads[i]) for i in range(n)], capacity=[capacity]
    )
    exact = sum(Fraction(Decimal(repr(x))) for x in loads) <= Fraction(Decimal(repr(capacity)))
    assert exact == fits
    result = matching.result.integral_result(
        inst,
        np.arange(n),
        bound=float(n),
        status=matching.Status.FEASIBLE,
        method="test",
        stats={},
    )
    if fits:
        assert result.check(inst)
    else:
        with pytest.raises(matching.InfeasibleMatchingError, match="over its capacity"):
            result.check(inst)


def test_capacity_stays_exact_through_many_reusable_round_trips():
    matcher = OnlineMatcher([0.3], GreedyPolicy(), reusable=True)
    accepted = 0
    for t in range(300):  # 0.1 held for 1 unit: three at a time fit exactly
        for k in range(4):
            d = matcher.arrive([(t, k)], [0], [1.0], loads=[0.1], durations=[1.0], time=t)
            accepted += d.accepted
    assert accepted == 900


def test_every_group_must_arrive():
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (1, 1, 5.0)], capacity=[1, 1])
    with pytest.raises(ValueError, match="order lists 1 of the instance's 2 groups"):
        ArrivalSequence(inst, [0], [0.0])


def test_huge_int_times_are_value_errors():
    matcher = OnlineMatcher([1.0], GreedyPolicy())
    with pytest.raises(ValueError, match="time must be a finite number"):
        matcher.arrive(["a"], [0], [1.0], time=10**400)


def test_a_batch_that_fails_validation_registers_nothing():
    matcher = OnlineMatcher([1.0], BatchedResolvePolicy(1.0))
    with pytest.raises(ValueError):
        matcher.arrive_batch(
            [ArrivingGroup(["a"], [0], [1.0]), ArrivingGroup(["b"], [7], [1.0])], time=0.5
        )
    assert matcher.state.request_index("a") == -1 and matcher.state.served.size == 0
    assert matcher.decisions == []


def test_a_policy_cannot_reach_the_future():
    # arrival i brings the unique weight 1000 + i; before it arrives nobody may see it
    n = 30
    edges = [(i % 4, i, 1000.0 + i) for i in range(n)]
    seq = random_order(matching.Instance([[i] for i in range(n)], edges), seed=1)
    spy = Spy()
    simulate(spy, seq)
    for step, numbers in enumerate(spy.seen):  # step 0 is reset, step i + 1 arrival i
        future = {1000.0 + g for g in seq.order[step:].tolist()}
        assert not numbers & future, f"step {step} sees future weights {sorted(numbers & future)}"


class Clairvoyant(OnlinePolicy):
    """Would follow the offline optimum if it could find the realised input in reset."""

    name = "clairvoyant"

    def reset(self, setup, rng):
        super().reset(setup, rng)
        found = [o for o in reachable(setup) if isinstance(o, matching.Instance)]
        self.plan = matching.solve(found[0]) if found else None

    def choose(self, state, arrival, candidates):
        return int(candidates[0]) if candidates.size else -1


def test_solving_the_optimum_in_reset_is_impossible():
    report = competitive_ratio(Clairvoyant(), UpperTriangular(50), trials=3, with_lp=False)
    assert (report.ratio_opt <= 0.5 + 1e-9).all()  # lowest free resource first: n/2


def test_batches_pay_for_waiting_and_stay_below_the_one_opt():
    # A (t=1, d=2) and B (t=2, d=1) on one unit resource overlap when served at arrival;
    # decided at window ends 2 and 4 they would not, but the wait is charged to the policy
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0, 1, 2.0), (0, 1, 1.0, 1, 1.0)])
    seq = matching.arrivals.ArrivalSequence(inst, [0, 1], [1.0, 2.0], reusable=True)
    run = simulate(BatchedResolvePolicy(2.0), seq)
    assert run.decisions.tolist() == [0, -1]
    assert run.decision_times.tolist() == [2.0, 4.0]
    assert offline_optimum(seq).value == 1.0
    assert run.replay_check()


def test_replay_check_catches_broken_runs():
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0, 1, 2.0), (0, 1, 1.0, 1, 1.0)])
    seq = matching.arrivals.ArrivalSequence(inst, [0, 1], [1.0, 2.0], reusable=True)
    run = simulate(BatchedResolvePolicy(2.0), seq)
    import dataclasses

    both = dataclasses.replace(run, decisions=np.array([0, 1]), value=2.0)
    with pytest.raises(ReplayError, match="resource 0 holds 2 at time 2"):
        both.replay_check()
    early = dataclasses.replace(run, decision_times=np.array([0.5, 4.0]))
    with pytest.raises(ReplayError, match="before it arrived"):
        early.replay_check()
    inflated = dataclasses.replace(run, value=5.0)
    with pytest.raises(ReplayError, match="differs"):
        inflated.replay_check()


def test_alg_above_opt_is_an_error_not_a_number(monkeypatch):
    import matching.ratio as ratio

    def empty(sequence, **kw):  # a wrong "optimum" of 0, proven
        from matching.result import integral_result

        inst = sequence.instance
        return integral_result(
            inst, [], bound=0.0, status=matching.Status.OPTIMAL, method="fake", stats={}
        )

    monkeypatch.setattr(ratio, "offline_optimum", empty)
    with pytest.raises(RatioError, match="above the hindsight optimum"):
        competitive_ratio(GreedyPolicy(), UpperTriangular(6), trials=1, with_lp=False)


@dataclasses.dataclass(frozen=True)
class _ClaimsUnitWeights:
    """RandomBipartite (edge-weighted) wrongly declaring unit weights."""

    inner: RandomBipartite

    @property
    def properties(self):
        return dataclasses.replace(self.inner.properties, unit_weights=True)

    def __call__(self, rng):
        return self.inner(rng)


def test_a_family_whose_inputs_break_its_declaration_is_an_error():
    family = _ClaimsUnitWeights(RandomBipartite(6, 6, density=0.5))
    with pytest.raises(RatioError, match="unit_weights: declared True"):
        competitive_ratio(GreedyPolicy(), family, trials=2, with_lp=False)


def test_reports_state_a_guarantee_only_where_its_preconditions_hold():
    unit = compare_policies([GreedyPolicy(), RankingPolicy()], UpperTriangular(8), 2)
    assert unit["greedy"].guarantee == "ALG/OPT >= 1/2 = 0.500 (groups of <= 1)"
    assert unit["ranking"].guarantee == "E[ALG]/OPT >= 1 - 1/e = 0.632"
    weighted = competitive_ratio(GreedyPolicy(), RandomBipartite(6, 6), 2, with_lp=False)
    assert weighted.guarantee.startswith("no guarantee: 1/(k+1) needs unit weights")
    reusable = competitive_ratio(RankingPolicy(), KADReusable(3, 4, 8), 2, with_lp=False)
    assert "single-use" in reusable.guarantee and ">=" not in reusable.guarantee


class NeverAccepts(GreedyPolicy):
    """Inherits greedy's name but rejects everything."""

    def choose(self, state, arrival, candidates):
        return -1


def test_a_guarantee_follows_the_rule_not_the_name():
    report = competitive_ratio(NeverAccepts(), UpperTriangular(5), 2, with_lp=False)
    assert report.ratio_opt.max() == 0.0
    assert report.guarantee == "none recorded for NeverAccepts named 'greedy'"
    quarter = competitive_ratio(
        LPSampleAttenuatePolicy(gamma=0.25), KADReusable(3, 4, 8), 2, with_lp=False
    )
    assert quarter.guarantee == "E[ALG]/LP >= 1/4 = 0.250"


@pytest.mark.parametrize("family", ["upper-triangular", "known-iid", "k-uniform", "city-grid"])
@pytest.mark.parametrize("name", ["greedy", "balance"])
def test_deterministic_guarantees_hold_on_every_trial(family, name):
    """Where a deterministic policy's ratio applies to a family, no trial falls below it."""
    from groupmatch.registry import make_family, make_policy
    from matching.guarantees import guarantee_for

    fam = make_family(family, 16)
    guarantee = guarantee_for(name)
    report = competitive_ratio(make_policy(name), fam, trials=6, seed=5, with_lp=False)
    if not guarantee.applies(fam.properties):
        assert report.guarantee.startswith("no guarantee")
        return
    bound = float(guarantee.ratio_for(fam.properties))
    assert report.ratio_opt.min() >= bound - 1e-12


def test_report_gives_mean_of_ratios_and_ratio_of_means_by_name():
    fam = KUniformGroups(4, 8, 8, k=2)
    report = competitive_ratio(GreedyPolicy(), fam, trials=6, seed=3, with_lp=False)
    alg, opt = [], []
    for i in range(6):  # recomputed outside the harness, from its documented seeding
        seq = fam(np.random.default_rng(np.random.SeedSequence(3, spawn_key=(i, 0))))
        opt.append(offline_optimum(seq).value)
        alg.append(simulate(GreedyPolicy(), seq, seed=0).value)
    alg, opt = np.array(alg), np.array(opt)
    s = report.summary()
    assert s["mean_alg_opt"] == pytest.approx((alg / opt).mean())
    assert s["alg_opt_of_means"] == pytest.approx(alg.sum() / opt.sum())
    assert abs(s["mean_alg_opt"] - s["alg_opt_of_means"]) > 1e-6  # two different figures
    assert "mean ALG / mean OPT" in report.table()
    empty = matching.ratio.RatioReport(policy="greedy", family="none")
    with pytest.raises(ValueError, match="the report of policy 'greedy' on none has no trials"):
        empty.table()


def test_one_opt_per_input_shared_by_every_policy():
    fam = KADReusable(4, 5, 16, k=2)
    reports = compare_policies(
        {"greedy": GreedyPolicy(), "batched": BatchedResolvePolicy(3.0)}, fam, trials=4, seed=3
    )
    assert np.array_equal(reports["greedy"].opt, reports["batched"].opt)
    for i, t in enumerate(reports["greedy"].trials):
        rng = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(i, 0)))
        assert t.opt == pytest.approx(offline_optimum(fam(rng)).value)
    alone = competitive_ratio(GreedyPolicy(), fam, trials=4, seed=3)
    assert alone.alg.tolist() == reports["greedy"].alg.tolist()  # independent of the others


def test_matcher_validates_input_before_deciding():
    m = OnlineMatcher([1, 1], GreedyPolicy())
    with pytest.raises(ValueError, match=r"resources of group 0 must be integers in 0\.\.1"):
        m.arrive(["a"], [2], [1.0], time=0)
    with pytest.raises(ValueError, match="1 weights for 2 resources"):
        m.arrive(["a"], [0, 1], [1.0], time=0)
    with pytest.raises(ValueError, match="weights of group 0 must be finite"):
        m.arrive(["a"], [0], [float("nan")], time=0)
    with pytest.raises(ValueError, match="single-use"):
        m.arrive(["a"], [0], [1.0], durations=[1.0], time=0)
    with pytest.raises(ValueError, match="lists a request twice"):
        m.arrive(["a", "a"], [0], [1.0], time=0)
    m.arrive(["a"], [0], [1.0], time=5)
    with pytest.raises(ValueError, match="before the matcher's clock"):
        m.arrive(["b"], [1], [1.0], time=4)
    with pytest.raises(TypeError, match="arrive_batch"):
        OnlineMatcher([1], BatchedResolvePolicy(1.0)).arrive(["a"], [0], [1.0], time=0)
    reusable = OnlineMatcher([1], GreedyPolicy(), reusable=True)
    with pytest.raises(ValueError, match="durations of group 0 must be finite and > 0"):
        reusable.arrive(["a"], [0], [1.0], durations=[0.0], time=0)
    assert m.decisions[0].resource == 0 and len(m.decisions) == 1  # nothing else logged


def test_reusable_resource_returns_after_duration():
    inst = matching.Instance(
        [[0], [1], [2]], [(0, 0, 1.0, 1, 2.0), (0, 1, 1.0, 1, 2.0), (0, 2, 1.0, 1, 2.0)]
    )
    run = simulate(GreedyPolicy(), adversarial_order(inst, reusable=True))
    assert run.decisions.tolist() == [0, -1, 2]  # busy at t=1, free again at t=2


def test_zero_durations_are_refused_for_reusable_inputs():
    inst = matching.Instance([[0]], [(0, 0, 1.0, 1, 0.0)])
    with pytest.raises(ValueError, match="durations > 0"):
        adversarial_order(inst, reusable=True)


def test_harness_local_and_process_agree_and_write_outputs(tmp_path):
    fam = KUniformGroups(5, 15, 12, k=2)
    local = competitive_ratio(RankingPolicy(), fam, trials=6, seed=7)
    procs = competitive_ratio(
        RankingPolicy(), fam, trials=6, seed=7, executor="process", workers=2
    )
    assert [t.alg for t in local.trials] == [t.alg for t in procs.trials]
    assert [t.opt for t in local.trials] == [t.opt for t in procs.trials]
    assert (local.ratio_opt <= 1 + 1e-9).all() and (local.ratio_lp <= local.ratio_opt + 1e-9).all()
    s = local.summary()
    lo, hi = s["ci_alg_opt"]
    assert lo <= s["mean_alg_opt"] <= hi
    local.to_csv(tmp_path / "r.csv")
    local.plot(tmp_path / "r.png")
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 7
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_harness_ray_matches_local():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install '.[ray]')")
    fam = KUniformGroups(5, 15, 12, k=2)
    local = competitive_ratio(GreedyPolicy(), fam, trials=3, seed=1)
    remote = competitive_ratio(GreedyPolicy(), fam, trials=3, seed=1, executor="ray")
    ray.shutdown()
    assert [t.alg for t in local.trials] == [t.alg for t in remote.trials]


def test_bad_arguments():
    with pytest.raises(ValueError, match="window"):
        BatchedResolvePolicy(0)
    with pytest.raises(ValueError, match="executor"):
        competitive_ratio(GreedyPolicy(), UpperTriangular(3), 1, executor="dask")
    inst = matching.Instance([[0]], [(0, 0, 1.0)])
    with pytest.raises(ValueError, match="sums to"):
        known_adversarial(inst, np.array([[0.7, 1.2]]))
    with pytest.raises(ValueError, match="edge durations"):
        adversarial_order(inst, reusable=True)
