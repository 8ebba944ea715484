"""Shared checks for the serving tests: workloads, the audit invariants, hidden lengths."""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict

import numpy as np

from scheduling.engine import Instance
from scheduling.serving_sim import ClusterConfig
from scheduling.traces import LLMRequests

MODELS = ("mistral-7b", "vicuna-13b")


def workload(n, *, seed=0, models=MODELS, span=5.0, prompt=300, output=120):
    rng = np.random.default_rng(seed)
    return LLMRequests(
        np.sort(rng.uniform(0, span, n)),
        rng.integers(1, prompt, n),
        rng.integers(1, output, n),
        model=rng.choice(models, n),
        slo_class=rng.choice(["interactive", "batch"], n),
        slo_s=rng.choice([20.0, 600.0], n),
    )


def small(model: str, blocks: int) -> Instance:
    """``model`` on an A100 with memory for about ``blocks`` KV blocks of 16 tokens."""
    base = Instance(model, "a100")
    per_block = 16 * base.model.kv_bytes_per_token
    need = base.model.weight_bytes + 2e9 + (blocks + 0.5) * per_block
    return Instance(model, "a100", memory_utilization=need / 80e9)


def check_audit(run, reqs, config: ClusterConfig, specs: dict[str, Instance]):
    """Independent invariants from the step log."""
    steps = run.audit["steps"]
    loads = run.audit["loads"]
    produced = defaultdict(int)
    by_instance = defaultdict(list)
    for k, start, end, model, ids in steps:
        assert end > start
        by_instance[k].append((start, end, "step", model))
        assert len(set(ids)) == len(ids) <= config.max_batch
        spec = specs[model]
        need = 0
        for rid in ids:
            assert reqs.model[rid] == model  # one model per instance at a time
            need += spec.blocks_for(int(reqs.prompt_tokens[rid]) + produced[rid] + 1)
            produced[rid] += 1
        assert need <= spec.kv_blocks  # the KV cache never overflows
    for k, start, end, model in loads:
        by_instance[k].append((start, end, "load", model))
    for spans in by_instance.values():
        spans.sort()
        for (_, e0, _, m0), (s1, _, kind, m1) in itertools.pairwise(spans):
            assert s1 >= e0 - 1e-12  # steps and loads never overlap on an instance
            assert kind == "load" or m0 == m1, "a step ran a model that was not loaded"
    served = np.flatnonzero(np.isfinite(run.finish))
    for rid in range(len(reqs)):
        if rid in run.dropped:
            assert produced[rid] == 0
            continue
        # every token exactly once, across preemptions, evictions and swaps
        assert produced[rid] == reqs.output_tokens[rid] == run.tokens[rid]
    assert served.size + len(run.dropped) == len(reqs)


class HiddenLengths:
    """Output lengths only the simulator may read (before a request finishes)."""

    def __init__(self, lengths):
        self._lengths = np.asarray(lengths)
        self.reads = 0

    def __len__(self):
        return self._lengths.size

    def __getitem__(self, i):
        caller = sys._getframe(1).f_globals.get("__name__")
        if caller != "scheduling.serving_sim":
            raise AssertionError(f"{caller} read a true output length")
        self.reads += 1
        return self._lengths[i]

    def __array__(self, dtype=None, copy=None):
        raise AssertionError(f"{sys._getframe(1).f_globals.get('__name__')} read every length")


def hidden_workload(n, seed=0):
    reqs = workload(n, seed=seed)
    return LLMRequests(reqs.arrival, reqs.prompt_tokens, HiddenLengths(reqs.output_tokens),
                       reqs.model, reqs.slo_class, reqs.slo_s)  # fmt: skip
