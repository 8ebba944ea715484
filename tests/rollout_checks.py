"""Checks of a simulated rollout read from its audit log, shared by the rollout tests."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
from hypothesis import strategies as st

#: the simulator settings every rollout property test draws
RUN_SETTINGS = {
    "seed": st.integers(0, 10**6),
    "policy": st.sampled_from(["fifo", "divided", "context-aware", "oracle"]),
    "static": st.booleans(),
    "migration": st.sampled_from(["recompute", "transfer"]),
    "chunk": st.integers(8, 64),
}


def tokens_by_audit(audit: list, until: float = math.inf) -> dict[int, int]:
    """Tokens each request produced in the logged steps that ended by ``until``."""
    made: dict[int, int] = defaultdict(int)
    for _, _, end, ids, tokens in audit:
        if end <= until:
            for rid, t in zip(ids, tokens, strict=True):
                made[rid] += t
    return made


def check_conservation(res, length: np.ndarray, max_batch: int, max_step_tokens: int = 1):
    """Every token once; at most ``max_batch`` sequences and ``max_step_tokens`` tokens
    per sequence in a step; a request never on two instances at once. Returns the
    instances each request ran on."""
    assert res.tokens.tolist() == length.tolist()
    made = tokens_by_audit(res.audit)
    assert [made[r] for r in range(length.size)] == length.tolist()  # every token once
    spans = defaultdict(list)
    for k, start, end, ids, tokens in res.audit:
        assert len(ids) == len(set(ids)) <= max_batch
        assert all(1 <= t <= max_step_tokens for t in tokens)
        for rid in ids:
            spans[rid].append((start, end, k))
    for runs in spans.values():
        runs.sort()
        for (_, e0, k0), (s1, _, k1) in itertools.pairwise(runs):
            assert k0 == k1 or s1 >= e0
    return {rid: {k for *_, k in runs} for rid, runs in spans.items()}


def random_workload(seed: int, max_groups: int, cap: int):
    """Groups of 1-4 siblings, prompts of 1-39 tokens, lengths 1..``cap`` (from ``seed``).

    Returns ``(rng, group, prompt, length)``; ``rng`` continues the draws."""
    rng = np.random.default_rng(seed)
    groups, size = int(rng.integers(1, max_groups + 1)), int(rng.integers(1, 5))
    n = groups * size
    group = np.repeat(np.arange(groups), size)
    return rng, group, rng.integers(1, 40, n), rng.integers(1, cap + 1, n)
