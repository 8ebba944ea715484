import itertools

import numpy as np
import pytest
from helpers import SHARED_DATA, brute_force_optimum
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import matching
from scheduling.queue import SLO_CLASSES, group_placement, request_groups
from scheduling.rides import shareable_groups, synthetic_ride_batch
from scheduling.rollout import (
    RolloutState,
    chunk_placement,
    group_length_estimates,
    longest_first_weights,
    synthetic_rollout,
)
from scheduling.traces import (
    PROFILES,
    LLMRequests,
    load_azure_trace,
    synthetic_requests,
)

TRACE_DIR = SHARED_DATA / "llm-traces"


def test_ride_groups_are_cliques_within_radius():
    batch = synthetic_ride_batch(20, 150, share_radius=1.2, seed=7)
    inst = batch.instance
    assert inst.group_sizes.max() <= 3
    for g in range(inst.n_groups):
        members = inst.group(g)
        for a in members:
            for b in members:
                assert np.abs(batch.origins[a] - batch.origins[b]).max() <= 1.2
                assert np.abs(batch.destinations[a] - batch.destinations[b]).max() <= 1.2
    assert (inst.edge_weight > 0).all()
    res = matching.solve(inst)
    assert res.check(inst)


def test_shareable_groups_brute_force():
    rng = np.random.default_rng(3)
    o, d = rng.uniform(0, 3, (25, 2)), rng.uniform(0, 3, (25, 2))
    found = set(shareable_groups(o, d, max_size=3, radius=0.8))

    def ok(a, b):
        return max(np.abs(o[a] - o[b]).max(), np.abs(d[a] - d[b]).max()) <= 0.8

    expected = {(i,) for i in range(25)}
    expected |= {(i, j) for i in range(25) for j in range(i + 1, 25) if ok(i, j)}
    expected |= {
        (i, j, k)
        for i in range(25)
        for j in range(i + 1, 25)
        for k in range(j + 1, 25)
        if ok(i, j) and ok(i, k) and ok(j, k)
    }
    assert found == expected


def test_request_groups_partition_by_model_and_slo():
    rng = np.random.default_rng(0)
    model, slo = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    groups = request_groups(model, slo, group_size=8)
    flat = np.concatenate(groups)
    assert sorted(flat.tolist()) == list(range(200))
    for g in groups:
        assert 1 <= g.size <= 8
        assert len(set(model[g])) == 1 and len(set(slo[g])) == 1


def test_group_placement_hand_computed_round():
    # six requests, groups of at most two with equal (model, SLO class)
    reqs = LLMRequests(
        arrival=np.arange(6.0),
        prompt_tokens=np.array([100, 200, 300, 400, 500, 600]),
        output_tokens=np.array([10, 20, 30, 40, 50, 60]),
    )
    model = np.array([0, 0, 1, 0, 1, 0])
    slo = np.array([0, 0, 1, 2, 1, 0])  # values 3, 3, 2, 1, 2, 3
    plan = group_placement(
        reqs, model, slo, gpu_kv_tokens=[1000, 700], gpu_model=[0, 1], group_size=2
    )
    inst = plan.instance
    # (model 0, interactive): [0, 1], [5]; (model 0, batch-2): [3]; (model 1, batch-1): [2, 4]
    assert [inst.group(g).tolist() for g in range(inst.n_groups)] == [[0, 1], [5], [3], [2, 4]]
    assert plan.group_model.tolist() == [0, 0, 0, 1]
    assert plan.group_slo.tolist() == [0, 0, 2, 1]
    # loads: 110 + 220, 660, 440, 330 + 550 KV tokens; values 6, 3, 1, 4 less 4 per swap.
    # GPU 0 (model 0) drops group 3 (4 - 4 = 0); GPU 1 (model 1, 700 tokens) keeps only
    # group 0 (6 - 4 = 2): groups 1 and 2 lose value and group 3 (880 tokens) does not fit.
    edges = set(
        zip(
            inst.edge_resource.tolist(),
            inst.edge_group.tolist(),
            inst.edge_weight.tolist(),
            inst.edge_load.tolist(),
            strict=True,
        )
    )
    assert edges == {
        (0, 0, 6.0, 330.0),
        (0, 1, 3.0, 660.0),
        (0, 2, 1.0, 440.0),
        (1, 0, 2.0, 330.0),
    }
    # best: groups 0 and 1 share GPU 0 (330 + 660 <= 1000) for 9; every other choice,
    # e.g. group 0 on GPU 1 with group 1 on GPU 0 (5), is worth less
    res = matching.solve(inst)
    assert res.value == 9.0 == brute_force_optimum(inst)
    assert sorted(map(tuple, res.assignment.tolist())) == [(0, 0), (0, 1)]
    with pytest.raises(ValueError, match="slo_class"):
        group_placement(reqs, np.zeros(6), np.full(6, len(SLO_CLASSES)), [1], [0])


def _read_azure_csv(path):
    """Arrival seconds, context and generated tokens, parsed with plain numpy."""
    with path.open() as handle:
        assert handle.readline().strip() == "TIMESTAMP,ContextTokens,GeneratedTokens"
    rows = np.loadtxt(path, delimiter=",", skiprows=1, dtype=str)
    stamps = rows[:, 0].astype("datetime64[ns]")
    seconds = (stamps - stamps.min()) / np.timedelta64(1, "s")
    return seconds, rows[:, 1].astype(np.int64), rows[:, 2].astype(np.int64)


def _trace_path(profile):
    path = TRACE_DIR / f"azure2023_{profile.split('-')[1]}.csv"
    if not path.exists():
        pytest.skip(f"real Azure trace not found at {path} (../shared/data is absent)")
    return path


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_generator_matches_real_trace(name):
    arrival, prompt, output = _read_azure_csv(_trace_path(name))
    fake = synthetic_requests(prompt.size, profile=name, seed=0)
    for real, gen in ((prompt, fake.prompt_tokens), (output, fake.output_tokens)):
        assert abs(np.median(gen) / np.median(real) - 1) < 0.1
        assert abs(gen.mean() / real.mean() - 1) < 0.1
        assert gen.min() >= 1 and gen.max() <= real.max()
    rate_real = arrival.size / arrival.max()
    rate_fake = len(fake) / fake.arrival.max()
    assert abs(rate_fake / rate_real - 1) < 0.1


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_load_azure_trace_agrees_with_numpy_parse(name):
    arrival, prompt, output = _read_azure_csv(_trace_path(name))
    trace = load_azure_trace(_trace_path(name))
    np.testing.assert_array_equal(trace.prompt_tokens, prompt)
    np.testing.assert_array_equal(trace.output_tokens, output)
    np.testing.assert_allclose(trace.arrival, arrival, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "field"), list(itertools.product(sorted(PROFILES), ["prompt", "output"]))
)
def test_token_sampler_is_the_truncated_lognormal(name, field):
    # Exact law of max(1, round(X)) for X log-normal conditioned on round(X) <= cap,
    # from scipy's log-normal CDF. Clipping at the cap instead of redrawing would raise
    # the mean by about a third for conversation outputs and code prompts, where 8% and
    # 13% of the draws exceed the cap.
    p = PROFILES[name]
    mu, sigma, cap = (
        getattr(p, f"{field}_log_mean"),
        getattr(p, f"{field}_log_std"),
        getattr(p, f"{field}_max"),
    )
    law = stats.lognorm(sigma, scale=np.exp(mu))
    k = np.arange(1, cap + 1)
    cdf = law.cdf(k + 0.5)
    pmf = np.diff(cdf, prepend=0.0) / cdf[-1]
    mean = float(k @ pmf)
    median = int(k[np.searchsorted(np.cumsum(pmf), 0.5)])
    sample = getattr(synthetic_requests(200_000, profile=name, seed=11), f"{field}_tokens")
    assert abs(sample.mean() / mean - 1) < 0.01
    assert abs(np.median(sample) - median) <= max(1, 0.01 * median)
    assert sample.min() >= 1 and sample.max() <= cap


def test_load_azure_trace_reads_hand_written_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,374,44\n"
        "2023-11-16 18:15:47.0000000,396,109\n"
        "2023-11-16 18:16:47.9305900,12,1\n"
    )
    trace = load_azure_trace(path)
    np.testing.assert_allclose(trace.arrival, [0.0, 0.31941, 61.25], rtol=0, atol=1e-6)
    assert trace.prompt_tokens.tolist() == [374, 396, 12]
    assert trace.output_tokens.tolist() == [44, 109, 1]


def test_load_azure_trace_reports_bad_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.0,x,1\n"
    )
    with pytest.raises(ValueError, match="line 3"):
        load_azure_trace(path)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="expected columns"):
        load_azure_trace(path)


def test_rollout_estimates_and_finished_requests():
    state = synthetic_rollout("kimi-k2", n_prompts=6, seed=4)
    assert (state.output_tokens <= 98_304).all()
    # siblings are more alike than strangers
    by_group = np.log(state.output_tokens).reshape(6, 8)
    assert by_group.std(axis=1).mean() < by_group.std()
    generated = np.minimum(state.output_tokens, 20_000)
    state = RolloutState(
        state.group_of, state.prompt_tokens, state.output_tokens, generated, state.max_tokens
    )
    est = group_length_estimates(state)
    for g in range(6):
        done = state.finished & (state.group_of == g)
        expected = state.output_tokens[done].max() if done.any() else state.max_tokens
        assert est[g] == expected
    kv = np.array([500_000, 300_000])
    inst, grpo = chunk_placement(state, kv, chunk_size=8192)
    assert grpo.tolist() == sorted(set(state.group_of[~state.finished].tolist()))
    for g in range(inst.n_groups):
        members = inst.group(g)
        assert (state.group_of[members] == grpo[g]).all()
        assert not state.finished[members].any()  # finished requests are never scheduled
    res = matching.solve(inst)
    assert res.check(inst)
    with pytest.raises(ValueError, match="workload"):
        synthetic_rollout("gpt-x")


def _state(groups, max_tokens):
    """RolloutState from per-group lists of (prompt, output, generated) per request."""
    rows = np.array([(g, *req) for g, reqs in enumerate(groups) for req in reqs], dtype=np.int64)
    group_of, prompt, output, generated = rows.T
    return RolloutState(group_of, prompt, output, generated, max_tokens)


def _placed(inst, res, grpo):
    return sorted(grpo[g] for g in res.assignment[:, 1].tolist())


def test_rollout_round_loads_and_weights_by_hand():
    state = _state(
        [
            [(1000, 30_000, 0), (1000, 20_000, 0)],  # nothing finished: estimate 40,960
            # one sibling finished at 5000 tokens; the others are past it
            [(1000, 5000, 5000), (1000, 30_000, 8192), (1000, 40_960, 36_864)],
        ],
        max_tokens=40_960,
    )
    assert group_length_estimates(state).tolist() == [40_960, 5000]
    inst, grpo = chunk_placement(state, [60_000, 20_000], chunk_size=8192)
    assert grpo.tolist() == [0, 1]
    assert [inst.group(g).tolist() for g in range(2)] == [[0, 1], [3, 4]]
    # group 0: 2 x (1000 + 0 + 8192); group 1: (1000 + 8192 + 8192) + (1000 + 36,864 + 4096),
    # the last chunk cut at the 40,960-token cap. Remaining: 40,960 - 0 and
    # max(5000 - 22,528, 1) = 1, so group 0 outweighs group 1: weights 2 and 1.
    edges = set(
        zip(
            inst.edge_resource.tolist(),
            inst.edge_group.tolist(),
            inst.edge_weight.tolist(),
            inst.edge_load.tolist(),
            strict=True,
        )
    )
    assert edges == {(0, 0, 2.0, 18_384.0), (1, 0, 2.0, 18_384.0), (0, 1, 1.0, 59_344.0)}
    res = matching.solve(inst)
    assert sorted(map(tuple, res.assignment.tolist())) == [(0, 1), (1, 0)]


def test_rollout_long_group_is_not_dropped_for_many_short_ones():
    # One group of 8 requests at the cap estimate against 8 groups whose estimate is a
    # finished 2048-token sibling; each side needs 73,728 KV tokens and only one fits.
    long_group = [(1024, 40_960, 0)] * 8
    short_group = [(1024, 2048, 2048), (1024, 40_960, 0)]
    state = _state([long_group] + [short_group] * 8, max_tokens=40_960)
    inst, grpo = chunk_placement(state, [73_728], chunk_size=8192)
    assert inst.edge_load.tolist() == [8 * 9216.0] + [9216.0] * 8
    res = matching.solve(inst)
    assert res.status is matching.Status.OPTIMAL
    assert _placed(inst, res, grpo) == [0]


def test_rollout_many_levels_stay_exact_and_longest_first():
    # 60 groups with distinct estimates (one finished sibling each) and equal loads of
    # 64 + 512 KV tokens. 2**t * (1 + 60 - t) <= 2**40 holds up to t = 35, so the 35
    # longest levels stay separate and the 25 shortest weigh 1.
    rng = np.random.default_rng(5)
    lengths = rng.permutation(np.arange(100, 100 + 37 * 60, 37))
    state = _state([[(64, int(n), int(n)), (64, 4096, 0)] for n in lengths], max_tokens=4096)
    longest = np.argsort(-lengths)
    for fits, value in ((3, 2**34 * 26 + 2**33 * 26 + 2**32 * 26), (36, 2**35 * 26 - 25)):
        inst, grpo = chunk_placement(state, [fits * 576], chunk_size=512)
        assert (inst.edge_load == 576).all()
        assert inst.edge_weight.sum() == 2**35 * 26 - 1 < 2**40
        res = matching.solve(inst)
        assert res.status is matching.Status.OPTIMAL
        assert res.value == value
        placed = _placed(inst, res, grpo)
        assert len(placed) == fits
        assert set(longest[: min(fits, 35)].tolist()) <= set(placed)


@st.composite
def rollout_rounds(draw):
    """Small rounds: up to 5 GRPO groups on up to 3 instances, many tied estimates."""
    max_tokens, chunk = 64, draw(st.sampled_from([8, 16, 32]))
    groups = []
    for _ in range(draw(st.integers(1, 5))):
        prompt = draw(st.sampled_from([4, 8, 16]))
        reqs = [
            (prompt, max_tokens, draw(st.sampled_from([0, 16, 32, 48])))
            for _ in range(draw(st.integers(1, 3)))
        ]
        if draw(st.booleans()):  # a finished sibling sets the estimate
            done = draw(st.sampled_from([8, 24, 40, 64]))
            reqs.append((prompt, done, done))
        groups.append(reqs)
    capacity = draw(st.lists(st.integers(0, 250), min_size=1, max_size=3))
    return groups, max_tokens, chunk, capacity


def _longest_first_by_brute_force(groups, max_tokens, chunk, capacity):
    """Lexicographically largest longest-first list of placed remaining estimates."""
    remaining, need = [], []
    for reqs in groups:
        finished = [out for _, out, gen in reqs if gen >= out]
        pending = [(p, gen) for p, out, gen in reqs if gen < out]
        estimate = max(finished) if finished else max_tokens
        remaining.append(max(estimate - sum(g for _, g in pending) / len(pending), 1.0))
        need.append(sum(p + g + min(chunk, max_tokens - g) for p, g in pending))
    best = []
    for where in itertools.product([None, *range(len(capacity))], repeat=len(groups)):
        used = [0] * len(capacity)
        for g, r in enumerate(where):
            if r is not None:
                used[r] += need[g]
        if all(u <= c for u, c in zip(used, capacity, strict=True)):
            key = sorted(
                (remaining[g] for g, r in enumerate(where) if r is not None), reverse=True
            )
            best = max(best, key)
    return best, remaining


@settings(max_examples=300)
@given(rollout_rounds())
def test_rollout_optimum_is_longest_first(round_):
    groups, max_tokens, chunk, capacity = round_
    best, remaining = _longest_first_by_brute_force(groups, max_tokens, chunk, capacity)
    inst, grpo = chunk_placement(_state(groups, max_tokens), capacity, chunk_size=chunk)
    res = matching.solve(inst)
    assert res.check(inst) and res.status is matching.Status.OPTIMAL
    got = sorted((remaining[g] for g in _placed(inst, res, grpo)), reverse=True)
    assert got == best


@settings(max_examples=300)
@given(
    st.lists(st.integers(0, 6).map(float), max_size=12),
    st.integers(1, 5000),
)
def test_longest_first_weights_dominate_within_budget(remaining, max_total):
    w = longest_first_weights(remaining, max_total=max_total).tolist()
    r = remaining
    n = len(r)
    for i, j in itertools.product(range(n), repeat=2):
        if r[i] == r[j]:
            assert w[i] == w[j]
        elif r[i] > r[j]:
            assert w[i] >= w[j]
    if 1 + n > max_total:
        assert w == [1] * n
        return
    assert sum(w) < max_total
    exact = np.prod([1 + r.count(v) for v in set(r)]) <= max_total
    for i in range(n):
        shorter = sum(w[j] for j in range(n) if r[j] < r[i])
        # one group outweighs every shorter group together, unless it is merged
        assert w[i] > shorter or (w[i] == 1 and not exact)


def test_longest_first_weights_rejects_bad_input():
    with pytest.raises(ValueError, match="remaining"):
        longest_first_weights([[1.0, 2.0]])
    with pytest.raises(ValueError, match="remaining"):
        longest_first_weights([1.0, np.inf])
    with pytest.raises(ValueError, match="max_total"):
        longest_first_weights([1.0], max_total=0)
    with pytest.raises(TypeError, match="max_total"):
        longest_first_weights([1.0], max_total=2.0**40)
