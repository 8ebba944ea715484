"""Online driver invariants, known competitive ratios and the offline benchmark."""

import itertools

import numpy as np
import pytest
from helpers import brute_force_optimum, small_instances
from hypothesis import given, settings
from hypothesis import strategies as st

import matching
from matching.arrivals import (
    adversarial_order,
    known_adversarial,
    known_iid,
    poisson_arrivals,
    random_order,
)
from matching.driver import OnlineState, PolicyError, simulate
from matching.hindsight import offline_lp, offline_optimum
from matching.online import (
    BalancePolicy,
    BatchedResolvePolicy,
    GreedyPolicy,
    OnlinePolicy,
    RankingPolicy,
)
from matching.online_families import KADReusable, KUniformGroups, RandomBipartite, UpperTriangular
from matching.ratio import competitive_ratio

POLICIES = [
    GreedyPolicy,
    RankingPolicy,
    lambda: RankingPolicy(vertex_weighted=True),
    BalancePolicy,
    lambda: BatchedResolvePolicy(2.5),
]


def independent_check(run):
    """Replay the decisions from scratch: requests once, capacity and busy periods."""
    seq = run.sequence
    inst = seq.instance
    served = set()
    holds = []  # (resource, start, end, load)
    for i, e in enumerate(run.decisions.tolist()):
        if e < 0:
            continue
        g = int(seq.order[i])
        assert inst.edge_group[e] == g
        requests = set(inst.group(g).tolist())
        assert not requests & served, "request served twice"
        served |= requests
        r = int(inst.edge_resource[e])
        start = float(run.decision_times[i])
        assert start >= seq.times[i]
        end = start + float(inst.edge_duration[e]) if seq.reusable else np.inf
        held = sum(load for rr, s, en, load in holds if rr == r and s <= start < en)
        assert held + inst.edge_load[e] <= inst.capacity[r] + 1e-9, "capacity or busy"
        holds.append((r, start, end, float(inst.edge_load[e])))
    assert run.value == pytest.approx(float(inst.edge_weight[run.edges].sum()))


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
    run = simulate(policy, sequence, seed=seed)
    independent_check(run)
    assert run.replay_check()
    again = simulate(POLICIES[which](), sequence, seed=seed)
    assert np.array_equal(run.decisions, again.decisions)  # same seed, same decisions
    opt = offline_optimum(sequence, run.decision_times)
    assert opt.status is matching.Status.OPTIMAL
    assert run.value <= opt.value + 1e-7
    assert offline_lp(sequence, run.decision_times) >= opt.value - 1e-7


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
    assert offline_lp(seq) >= expected - 1e-7


def test_non_reusable_optimum_is_plain_solve():
    seq = random_order(matching.families.random_groups(4, 12, 10, seed=2), seed=3)
    assert offline_optimum(seq).value == pytest.approx(brute_force_optimum(seq.instance))


class Cheater(OnlinePolicy):
    name = "cheater"

    def choose(self, state: OnlineState, group: int, candidates: np.ndarray) -> int:
        return int(state.group_edges(group)[0]) if state.group_edges(group).size else -1


def test_driver_rejects_infeasible_proposals():
    inst = matching.Instance([[0], [0]], [(0, 0, 1.0), (1, 1, 1.0)])
    with pytest.raises(PolicyError, match="request 0 of group 1 is already served"):
        simulate(Cheater(), adversarial_order(inst))
    inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 1.0)])
    with pytest.raises(PolicyError, match="resource 0 has 0 free"):
        simulate(Cheater(), adversarial_order(inst))


def test_reusable_resource_returns_after_duration():
    inst = matching.Instance(
        [[0], [1], [2]], [(0, 0, 1.0, 1, 2.0), (0, 1, 1.0, 1, 2.0), (0, 2, 1.0, 1, 2.0)]
    )
    run = simulate(GreedyPolicy(), adversarial_order(inst, reusable=True))
    assert run.decisions.tolist() == [0, -1, 2]  # busy at t=1, free again at t=2


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
