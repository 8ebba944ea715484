"""Seer-style rollout rounds: GRPO groups' next chunks placed on inference instances.

Seer (Qin et al., 2025) cuts each rollout request into chunks of at most ``chunk_size``
generated tokens and, after every chunk, decides what runs next and where. Requests of
one GRPO group share a prompt and have similar lengths, so the group's length estimate
(the longest finished sibling, or the generation cap while none has finished) drives
approximately longest-first scheduling. One scheduling round becomes a
:class:`matching.Instance`:

- resources: inference instances, capacity = free KV-cache tokens;
- requests: rollout requests that are not finished;
- groups: the pending requests of one GRPO group (kept together so that grouped
  speculative decoding sees the siblings on one instance);
- an edge's load is the KV tokens the group's next chunks hold (context so far plus
  the chunk); its weight ranks groups longest-first by estimated remaining tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching import Instance
from matching.families import as_generator
from scheduling._placement import all_pairs_instance

__all__ = [
    "WORKLOADS",
    "RolloutState",
    "RolloutWorkload",
    "chunk_placement",
    "demo_rollout",
    "group_length_estimates",
    "synthetic_rollout",
]


@dataclass(frozen=True)
class RolloutWorkload:
    """Group size and output-length statistics of one RL workload (Seer, Table 3)."""

    group_size: int
    max_tokens: int
    mean_tokens: int


WORKLOADS: dict[str, RolloutWorkload] = {
    "moonlight": RolloutWorkload(8, 65_536, 22_386),
    "qwen2-vl-72b": RolloutWorkload(16, 40_960, 7_615),
    "kimi-k2": RolloutWorkload(8, 98_304, 38_959),
}


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout stands: per request its group, prompt, true and generated length."""

    group_of: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    generated: np.ndarray
    max_tokens: int

    @property
    def finished(self) -> np.ndarray:
        """Requests that generated all their tokens."""
        return self.generated >= self.output_tokens


def synthetic_rollout(
    workload: str = "qwen2-vl-72b",
    n_prompts: int = 8,
    *,
    prompt_tokens: int = 1024,
    sigma: float = 1.0,
    seed: int | np.random.Generator | None = 0,
) -> RolloutState:
    """Draw output lengths per GRPO group, log-normal around the workload's mean.

    Each group draws a group scale and its requests vary around it (siblings are
    similar); lengths are truncated at the workload's generation cap.

    Examples
    --------
    >>> state = synthetic_rollout("moonlight", n_prompts=4, seed=1)
    >>> state.group_of.size, int(state.output_tokens.max()) <= 65_536
    (32, True)
    """
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; choose one of {sorted(WORKLOADS)}")
    w = WORKLOADS[workload]
    rng = as_generator(seed)
    mu = np.log(w.mean_tokens) - sigma**2 / 2
    group_scale = rng.normal(mu, sigma * 0.8, size=n_prompts)
    per_request = group_scale.repeat(w.group_size) + rng.normal(
        0.0, sigma * 0.6, size=n_prompts * w.group_size
    )
    lengths = np.clip(np.round(np.exp(per_request)), 1, w.max_tokens).astype(np.int64)
    n = lengths.size
    return RolloutState(
        group_of=np.repeat(np.arange(n_prompts), w.group_size),
        prompt_tokens=np.full(n, prompt_tokens, dtype=np.int64),
        output_tokens=lengths,
        generated=np.zeros(n, dtype=np.int64),
        max_tokens=w.max_tokens,
    )


def group_length_estimates(state: RolloutState) -> np.ndarray:
    """Seer's estimate per group: longest finished sibling, else the generation cap."""
    n_groups = int(state.group_of.max()) + 1 if state.group_of.size else 0
    estimate = np.full(n_groups, float(state.max_tokens))
    done = state.finished
    if done.any():
        longest = np.zeros(n_groups)
        np.maximum.at(longest, state.group_of[done], state.output_tokens[done])
        has = np.bincount(state.group_of[done], minlength=n_groups) > 0
        estimate[has] = longest[has]
    return estimate


def chunk_placement(
    state: RolloutState, instance_kv_tokens: np.ndarray, *, chunk_size: int = 8192
) -> tuple[Instance, np.ndarray]:
    """Build the round's instance; returns it with the GRPO group id of each group.

    Examples
    --------
    >>> import matching
    >>> state = synthetic_rollout(n_prompts=3, seed=0)
    >>> inst, grpo = chunk_placement(state, [400_000, 400_000])
    >>> res = matching.solve(inst)
    >>> res.check(inst), inst.n_groups
    (True, 3)
    """
    kv = np.asarray(instance_kv_tokens, dtype=np.int64)
    if kv.ndim != 1 or (kv < 0).any():
        raise ValueError("instance_kv_tokens must be a 1-D array of non-negative tokens")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    pending = np.flatnonzero(~state.finished)
    estimate = group_length_estimates(state)
    grpo = np.unique(state.group_of[pending])
    members = [pending[state.group_of[pending] == g] for g in grpo.tolist()]
    chunk = np.minimum(chunk_size, state.max_tokens - state.generated)
    need = state.prompt_tokens + state.generated + chunk  # KV held after the chunk
    load = np.array([need[m].sum() for m in members], dtype=np.int64)
    remaining = np.array(
        [
            max(estimate[g] - state.generated[m].mean(), 1.0)
            for g, m in zip(grpo, members, strict=True)
        ]
    )
    weight = 1.0 + np.round(remaining / state.max_tokens, 4)  # longest-first
    weight_matrix = np.broadcast_to(weight, (kv.size, grpo.size))
    return all_pairs_instance(members, weight_matrix, load, kv, state.group_of.size), grpo


def demo_rollout(seed: int = 0) -> Instance:
    """Build a round midway through a Qwen2-VL-72B-like rollout on 4 instances."""
    rng = as_generator(seed)
    state = synthetic_rollout("qwen2-vl-72b", n_prompts=12, seed=rng)
    progress = np.minimum(state.output_tokens, rng.integers(0, 3, state.group_of.size) * 4096)
    state = RolloutState(
        state.group_of, state.prompt_tokens, state.output_tokens, progress, state.max_tokens
    )
    inst, _ = chunk_placement(state, np.full(4, 300_000))
    return inst
