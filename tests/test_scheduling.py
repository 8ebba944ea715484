import numpy as np
import pytest
from helpers import SHARED_DATA

import matching
from scheduling.queue import SLO_CLASSES, group_placement, request_groups
from scheduling.rides import shareable_groups, synthetic_ride_batch
from scheduling.traces import PROFILES, load_azure_trace, synthetic_requests


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


def test_group_placement_respects_kv_capacity():
    reqs = synthetic_requests(120, seed=2)
    rng = np.random.default_rng(2)
    plan = group_placement(
        reqs,
        rng.integers(0, 2, 120),
        rng.integers(0, 3, 120),
        gpu_kv_tokens=[15_000, 15_000, 15_000],
        gpu_model=[0, 1, 0],
    )
    res = matching.solve(plan.instance)
    assert res.check(plan.instance)
    tokens = reqs.prompt_tokens + reqs.output_tokens
    for gpu in range(3):
        served = [plan.instance.group(g) for r, g in res.assignment.tolist() if r == gpu]
        assert sum(tokens[m].sum() for m in served) <= 15_000
    with pytest.raises(ValueError, match="slo_class"):
        group_placement(reqs, np.zeros(120), np.full(120, len(SLO_CLASSES)), [1], [0])


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_generator_matches_real_trace(name):
    path = SHARED_DATA / "llm-traces" / f"azure2023_{name.split('-')[1]}.csv"
    if not path.exists():
        pytest.skip(f"real trace not found at {path} (../shared/data is absent)")
    real = load_azure_trace(path)
    fake = synthetic_requests(len(real), profile=name, seed=0)
    for a, b in (
        (real.prompt_tokens, fake.prompt_tokens),
        (real.output_tokens, fake.output_tokens),
    ):
        assert abs(np.median(b) / np.median(a) - 1) < 0.1
        assert abs(b.mean() / a.mean() - 1) < 0.1
        assert b.max() <= a.max()
    rate_real = len(real) / real.arrival.max()
    rate_fake = len(fake) / fake.arrival.max()
    assert abs(rate_fake / rate_real - 1) < 0.1


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


def test_rollout_chunk_placement_invariants():
    from scheduling.rollout import (
        RolloutState,
        chunk_placement,
        group_length_estimates,
        synthetic_rollout,
    )

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
    inst, _ = chunk_placement(state, kv, chunk_size=8192)
    res = matching.solve(inst)
    assert res.check(inst)
    served = (
        np.concatenate([inst.group(g) for g in res.assignment[:, 1]])
        if res.edges.size
        else np.zeros(0, int)
    )
    assert not state.finished[served].any()  # finished requests are never scheduled
    for r in range(2):
        groups = res.assignment[res.assignment[:, 0] == r, 1]
        need = sum(
            (
                state.prompt_tokens[m]
                + state.generated[m]
                + np.minimum(8192, state.max_tokens - state.generated[m])
            ).sum()
            for m in (inst.group(g) for g in groups)
        )
        assert need <= kv[r]
    with pytest.raises(ValueError, match="workload"):
        synthetic_rollout("gpt-x")
