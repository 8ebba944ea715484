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
  the chunk); its weight (:func:`longest_first_weights`) makes the optimum longest-first
  by estimated remaining tokens: no number of shorter groups displaces a longer one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching import Instance
from matching.families import as_generator
from scheduling._placement import all_pairs_instance

__all__ = [
    "MAX_TOTAL_WEIGHT",
    "WORKLOADS",
    "RolloutState",
    "RolloutWorkload",
    "chunk_placement",
    "demo_rollout",
    "group_length_estimates",
    "longest_first_weights",
    "synthetic_rollout",
]

#: Default bound on the summed weight of a round's groups (see
#: :func:`longest_first_weights`). The weights are integers, so every matching's value is
#: exact in float64 (below 2**53) and CP-SAT takes them unscaled: its integer model needs
#: the sum over all edges, at most ``n_instances * MAX_TOTAL_WEIGHT``, below 2**62.
MAX_TOTAL_WEIGHT = 2**40


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


def longest_first_weights(
    remaining: np.ndarray, *, max_total: int = MAX_TOTAL_WEIGHT
) -> np.ndarray:
    r"""Integer group weights whose maximum-weight matching is longest-first.

    Let :math:`v_1 > v_2 > \dots > v_L` be the distinct values of ``remaining`` and
    :math:`n_k` the number of groups at :math:`v_k`. A group at level :math:`k` weighs

    .. math:: w_k = \prod_{j > k} (1 + n_j) = 1 + \sum_{j > k} n_j w_j,

    more than all strictly shorter groups together. A maximum-weight placement therefore
    places as many groups of the longest level as fit, subject to that as many of the
    second-longest, and so on. Equivalently, among all feasible placements it picks one
    whose placed ``remaining`` values, sorted in decreasing order, form the
    lexicographically largest sequence (a sequence beats its own proper prefix). Groups
    of one level are interchangeable.

    The weights of all groups sum to :math:`\prod_k (1 + n_k) - 1`, which at least
    doubles with every level. To keep that sum below ``max_total``, the shortest levels
    are merged into one (their groups then weigh the same): the longest :math:`t` levels
    stay separate, :math:`t` the largest number with

    .. math:: \Bigl(1 + \sum_{k > t} n_k\Bigr) \prod_{k \le t} (1 + n_k) \le \mathrm{max\_total}

    (a round of ``max_total`` or more groups fails even :math:`t = 0`; then every group
    weighs 1). The order above is then exact over the :math:`t` longest levels, and the
    merged rest counts as one level.
    With the default budget (:math:`2^{40}`) at most 40 levels stay separate; for
    example, 60 groups with distinct estimates keep their 35 longest separate.

    Parameters
    ----------
    remaining : array_like of float, shape (n_groups,)
        Estimated remaining generation of each group (any unit; only the order and
        equality of values matter).
    max_total : int, default :data:`MAX_TOTAL_WEIGHT`
        Bound on the summed weight, between 1 and 2**53.

    Returns
    -------
    numpy.ndarray of int64, shape (n_groups,)

    Raises
    ------
    TypeError
        If ``max_total`` is not an integer.
    ValueError
        If ``remaining`` is not 1-D and finite, or ``max_total`` is out of range.

    Examples
    --------
    >>> longest_first_weights([5.0, 1.0, 1.0, 3.0])
    array([6, 1, 1, 3])
    >>> longest_first_weights([4.0, 3.0, 2.0, 1.0], max_total=8)  # 3 shortest merged
    array([4, 1, 1, 1])
    """
    values = np.asarray(remaining, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError("remaining must be a 1-D array of finite numbers")
    if isinstance(max_total, bool) or not isinstance(max_total, int | np.integer):
        raise TypeError(f"max_total must be an int, got {max_total!r}")
    if not 1 <= max_total <= 2**53:
        raise ValueError(f"max_total must lie in 1..2**53, got {max_total}")
    # level 0 is the longest
    _, level, counts = np.unique(-values, return_inverse=True, return_counts=True)
    sizes = counts.tolist()
    kept, product, rest = 0, 1, values.size
    while kept < len(sizes):
        rest -= sizes[kept]
        if product * (1 + sizes[kept]) * (1 + rest) > max_total:
            break
        product *= 1 + sizes[kept]
        kept += 1
    bucket = np.minimum(level.ravel(), kept)
    factor = 1 + np.bincount(bucket).astype(np.int64)
    # w_b is the product of the factors of all shorter buckets
    weight = np.append(np.cumprod(factor[:0:-1])[::-1], np.int64(1))
    return weight[bucket]


def chunk_placement(
    state: RolloutState, instance_kv_tokens: np.ndarray, *, chunk_size: int = 8192
) -> tuple[Instance, np.ndarray]:
    """Build the round's instance; returns it with the GRPO group id of each group.

    Each GRPO group with pending requests is one group of the instance. Its estimated
    remaining generation is the group's length estimate
    (:func:`group_length_estimates`) minus the mean tokens its pending requests have
    generated, at least 1; its weight on every instance is
    :func:`longest_first_weights` of those estimates, so the optimum is longest-first.
    Its load is the KV tokens its pending requests hold after their next chunk: prompt
    plus generated tokens plus ``min(chunk_size, max_tokens - generated)`` each.

    Parameters
    ----------
    state : RolloutState
    instance_kv_tokens : array_like of int, shape (n_instances,)
        Free KV-cache tokens of each inference instance.
    chunk_size : int, default 8192
        Largest number of tokens a request generates per chunk.

    Returns
    -------
    instance : matching.Instance
    grpo : numpy.ndarray of int64
        GRPO group id (a value of ``state.group_of``) of each instance group.

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
    weight_matrix = np.broadcast_to(longest_first_weights(remaining), (kv.size, grpo.size))
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
