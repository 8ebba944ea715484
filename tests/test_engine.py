"""The serving-instance cost model (scheduling.engine) against hand computation."""

from __future__ import annotations

import math

import pytest

from scheduling.engine import GPUS, MODELS, Instance, gpu_preset, model_preset


def hand_step(model, gpu, tp, prefill, decode, ce=0.6, me=0.8, overhead=0.004):
    """The roofline of the module docstring, written out term by term."""
    params = model.params_b * 1e9
    tokens = sum(prefill) + len(decode)
    attention_pairs = sum(x * x for x in prefill) + 2 * sum(decode)
    flops = 2 * params * tokens + 2 * model.layers * model.heads * model.head_dim * (
        attention_pairs
    )
    kv = 2 * model.layers * model.kv_heads * model.head_dim * 2
    moved = params * 2 + kv * (sum(prefill) + sum(decode) + len(decode))
    compute = flops / (tp * gpu.peak_tflops * 1e12 * ce)
    memory = moved / (tp * gpu.hbm_gb_s * 1e9 * me)
    allreduce = 0.0
    if tp > 1:
        allreduce = 2 * model.layers * model.hidden * tokens * 2 * (tp - 1) / tp
        allreduce /= gpu.nvlink_gb_s * 1e9
    return max(compute, memory) + overhead + allreduce


@pytest.mark.parametrize(
    ("model", "gpu", "tp", "prefill", "decode"),
    [
        ("mistral-7b", "a10", 1, [512], []),
        ("mistral-7b", "a100", 1, [], [100] * 64),
        ("vicuna-13b", "a100", 1, [300, 700], [2000] * 16),
        ("codellama-34b", "a100", 2, [4096], []),
        ("codellama-34b", "a100", 2, [], [1500] * 32),
        ("llama-2-70b", "h100", 4, [1024] * 4, [512] * 128),
        ("llama-2-70b", "h800", 8, [8192], [1] * 3),
    ],
)
def test_step_time_equals_the_hand_computed_roofline(model, gpu, tp, prefill, decode):
    inst = Instance(model, gpu, tp=tp)
    want = hand_step(model_preset(model), gpu_preset(gpu), tp, prefill, decode)
    assert inst.step_time(prefill, decode) == pytest.approx(want, rel=1e-12)


def test_prefill_is_compute_bound_and_small_decode_memory_bound():
    inst = Instance("mistral-7b", "a100")
    m, g = inst.model, inst.gpu
    # one decode token: the weights dominate and the step is the memory time
    memory = (m.weight_bytes + m.kv_bytes_per_token * 101) / (g.hbm_gb_s * 1e9 * 0.8)
    assert inst.step_time(decode_contexts=[100]) == pytest.approx(memory + 0.004)
    # a long prompt: compute time
    assert inst.step_time(prefill_lengths=[4096]) > 10 * inst.step_time(decode_contexts=[100])
    # more sequences never make a step faster
    times = [inst.step_time(decode_contexts=[500] * b) for b in (1, 8, 64, 256)]
    assert times == sorted(times)


def test_kv_bytes_per_token_of_every_preset():
    # 2 (K and V) * layers * kv_heads * head_dim * 2 bytes, from the published configs
    assert MODELS["mistral-7b"].kv_bytes_per_token == 2 * 32 * 8 * 128 * 2
    assert MODELS["vicuna-13b"].kv_bytes_per_token == 2 * 40 * 40 * 128 * 2
    assert MODELS["llama-2-70b"].kv_bytes_per_token == 2 * 80 * 8 * 128 * 2
    assert MODELS["codellama-34b"].kv_bytes_per_token == 2 * 48 * 8 * 128 * 2


@pytest.mark.parametrize(
    ("model", "gpu", "tp"),
    [("codellama-34b", "a100", 2), ("mistral-7b", "a10", 1), ("llama-2-70b", "h100", 2)],
)
def test_kv_capacity_is_whole_blocks_of_the_memory_left(model, gpu, tp):
    inst = Instance(model, gpu, tp=tp, block_size=16)
    g, m = GPUS[gpu if gpu != "a100" else "a100-80gb"], MODELS[model]
    left = tp * g.memory_gb * 1e9 * 0.9 - m.params_b * 2e9 - tp * 2e9
    blocks = math.floor(left / (16 * m.kv_bytes_per_token))
    assert inst.kv_blocks == blocks and inst.kv_tokens == 16 * blocks
    assert inst.blocks_for(0) == 0 and inst.blocks_for(16) == 1 and inst.blocks_for(17) == 2


def test_swap_and_model_load_times():
    inst = Instance("codellama-34b", "a100", tp=2)
    # KV of 50,000 tokens over two PCIe links of 32 GB/s
    assert inst.swap_time(50_000) == pytest.approx(50_000 * 196_608 / (2 * 32e9))
    assert inst.model_load_time() == pytest.approx(67.4e9 / 2e9)  # 33.7 s from storage
    assert inst.model_load_time(warm=True) == pytest.approx(67.4e9 / (2 * 32e9))
    assert inst.model_load_time(warm=True) < inst.model_load_time()


def test_bad_instances_are_refused_by_name():
    with pytest.raises(ValueError, match="does not fit on 1 x A10"):
        Instance("llama-2-70b", "a10", tp=1)
    with pytest.raises(ValueError, match="unknown GPU 'v100'"):
        Instance("mistral-7b", "v100")
    with pytest.raises(ValueError, match="unknown model 'gpt-5'"):
        Instance("gpt-5", "a100")
    with pytest.raises(ValueError, match="tp must be an integer >= 1"):
        Instance("mistral-7b", "a100", tp=0)
    with pytest.raises(ValueError, match="memory_utilization"):
        Instance("mistral-7b", "a100", memory_utilization=1.5)
    with pytest.raises(ValueError, match="prefill lengths must be >= 1"):
        Instance("mistral-7b", "a100").step_time(prefill_lengths=[0])
