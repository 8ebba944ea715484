"""Continuous-batching serving simulation (scheduling.llm_sim): conservation and timing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_checks import small

from scheduling.engine import Instance
from scheduling.llm_sim import ServingInstance, _Seq, simulate_fcfs


def test_one_request_takes_the_hand_computed_steps():
    spec = Instance("mistral-7b", "a100")
    res = simulate_fcfs(spec, [2.0], [100], [3])
    t1 = spec.step_time([100], [])  # prefill, first token
    t2 = spec.step_time([], [101])
    t3 = spec.step_time([], [102])
    assert res.first_token[0] == pytest.approx(2.0 + t1)
    assert res.finish[0] == pytest.approx(2.0 + t1 + t2 + t3)
    assert res.summary["steps"] == 3


def test_two_requests_share_steps_by_continuous_batching():
    spec = Instance("mistral-7b", "a100")
    res = simulate_fcfs(spec, [0.0, 0.0], [50, 70], [2, 2])
    t1 = spec.step_time([50, 70], [])
    t2 = spec.step_time([], [51, 71])
    assert res.first_token.tolist() == pytest.approx([t1, t1])
    assert res.finish.tolist() == pytest.approx([t1 + t2, t1 + t2])


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    blocks=st.integers(40, 400),
    instances=st.integers(1, 3),
    placement=st.sampled_from(["least-loaded", "round-robin"]),
)
def test_conservation_under_kv_pressure(seed, blocks, instances, placement):
    """Every request finishes once with exactly its tokens; KV never overflows."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    arrival = np.sort(rng.uniform(0, 5.0, n))
    prompt = rng.integers(1, 200, n)
    output = rng.integers(1, 150, n)
    spec = small("mistral-7b", blocks)
    keep = np.array(
        [spec.blocks_for(p + o) <= spec.kv_blocks for p, o in zip(prompt, output, strict=True)]
    )
    arrival, prompt, output = arrival[keep], prompt[keep], output[keep]
    res = simulate_fcfs(
        spec, arrival, prompt, output, instances=instances, placement=placement, max_batch=16
    )
    assert (res.tokens == output).all()  # no token missing, none twice
    assert (res.first_token > res.arrival).all() and (res.finish >= res.first_token).all()
    assert max(res.summary["peak_kv_blocks"], default=0) <= spec.kv_blocks
    assert set(res.instance.tolist()) <= set(range(instances))


def test_preemption_by_recompute_keeps_generated_tokens():
    spec = small("mistral-7b", 12)  # 12 blocks of 16 tokens
    eng = ServingInstance(spec, max_batch=8)
    a, b = _Seq(0, 60, 100), _Seq(1, 60, 100)
    eng.enqueue(a)
    eng.enqueue(b)
    now, produced = 0.0, {0: 0, 1: 0}
    while eng.queued:
        assert eng.kv_blocks_used() + eng.free_blocks == spec.kv_blocks
        now, _, done = eng.step(now)
        for s in done:
            produced[s.rid] = s.generated
    assert produced == {0: 100, 1: 100}
    assert eng.preemptions >= 1  # 2 x (60 + 100) tokens need 20 blocks > 12


def test_bad_workloads_are_refused_by_name():
    spec = Instance("mistral-7b", "a100")
    with pytest.raises(ValueError, match="request 1: prompt 0"):
        simulate_fcfs(spec, [0.0, 1.0], [5, 0], [5, 5])
    with pytest.raises(ValueError, match="non-decreasing"):
        simulate_fcfs(spec, [1.0, 0.0], [5, 5], [5, 5])
    with pytest.raises(ValueError, match="placement"):
        simulate_fcfs(spec, [0.0], [5], [5], placement="random")
    with pytest.raises(ValueError, match="more than the instance's"):
        simulate_fcfs(small("mistral-7b", 4), [0.0], [500], [500])


def test_chunked_prefill_splits_a_long_prompt_and_keeps_decoding():
    """A 5,000-token prompt with a 2,048-token budget takes three steps to prefill while
    a request already decoding produces one token in each of them."""
    spec = Instance("mistral-7b", "a100")
    eng = ServingInstance(spec, max_batched_tokens=2048, chunked_prefill=True)
    eng.enqueue(_Seq(0, 10, 50))
    t = eng.step(0.0)[0]  # request 0 prefilled, first token
    assert t == pytest.approx(spec.step_time([10], [], [0]))
    eng.enqueue(_Seq(1, 5000, 3))
    times = []
    for _ in range(3):
        end, first, _ = eng.step(t)
        times.append(end - t)
        t = end
    budget = 2048 - 1  # one token goes to the decoding request
    chunks = [budget, budget, 5000 - 2 * budget]
    offsets = [0, budget, 2 * budget]
    expect = [
        spec.step_time([c], [ctx], [o])
        for c, o, ctx in zip(chunks, offsets, (11, 12, 13), strict=True)
    ]
    assert times == pytest.approx(expect)
    assert [s.rid for s in first] == [1]  # its first token comes with the last chunk
    assert eng.running[0].generated == 4 and eng.running[1].generated == 1


def test_chunk_attention_is_hand_computed():
    """A chunk of L after o cached tokens: attention pairs L^2 + 2 L o, o tokens read."""
    spec = Instance("mistral-7b", "a100")
    m = spec.model
    L, o = 1000, 3000
    flops = 2 * m.params_b * 1e9 * L + 2 * m.layers * m.heads * m.head_dim * (L * L + 2 * L * o)
    compute = flops / (spec.gpu.peak_tflops * 1e12 * spec.compute_efficiency)
    memory = (m.weight_bytes + m.kv_bytes_per_token * (L + o)) / (
        spec.gpu.hbm_gb_s * 1e9 * spec.memory_efficiency
    )
    assert spec.step_time([L], [], [o]) == pytest.approx(max(compute, memory) + 0.004)
