"""QLM request groups and their placement on GPU instances as a matching instance.

QLM (Patke et al., SoCC 2024) groups LLM requests that share a model and an SLO class,
and places whole groups on serving instances. Here one placement round becomes a
generalized-assignment :class:`matching.Instance`: resources are GPU instances whose
capacity is their KV-cache size in tokens, a group's load is the KV tokens its requests
need at completion (prompt + output), and its weight is the SLO value of its requests
minus a model-swap penalty when the GPU holds another model.

This is a single offline round for the matching primitive: the token counts are those of
the ``LLMRequests`` passed in (true lengths when it stands for an offline instance,
predictions when a caller builds it online). The serving system itself -- request groups
in virtual queues, the waiting-time estimator learned from completed requests, the
global plan with model-swap times and deadlines, eviction and the other LSOs -- is
:mod:`scheduling.qlm` (with :mod:`scheduling.qlm_plan` and :mod:`scheduling.serving_sim`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching import Instance
from scheduling._placement import all_pairs_instance
from scheduling.traces import LLMRequests, synthetic_requests

__all__ = ["SLO_CLASSES", "GroupPlacement", "demo_placement", "group_placement", "request_groups"]

#: SLO classes of the QLM evaluation: name, time-to-first-token target (s), value.
SLO_CLASSES: tuple[tuple[str, float, float], ...] = (
    ("interactive", 20.0, 3.0),
    ("batch-1", 60.0, 2.0),
    ("batch-2", 3600.0, 1.0),
)


@dataclass(frozen=True)
class GroupPlacement:
    """A placement round: the instance plus each group's model and SLO class."""

    instance: Instance
    group_model: np.ndarray
    group_slo: np.ndarray


def request_groups(
    model: np.ndarray, slo_class: np.ndarray, *, group_size: int
) -> list[np.ndarray]:
    """Split requests into groups of equal (model, SLO class), in arrival order.

    Each (model, SLO class) stream is cut into consecutive chunks of at most
    ``group_size`` requests.

    Examples
    --------
    >>> import numpy as np
    >>> from scheduling.queue import request_groups
    >>> [g.tolist() for g in request_groups(np.array([0, 0, 1, 0]), np.array([0, 0, 0, 0]),
    ...                                      group_size=2)]
    [[0, 1], [3], [2]]
    """
    model = np.asarray(model)
    slo_class = np.asarray(slo_class)
    if model.shape != slo_class.shape or model.ndim != 1:
        raise ValueError("model and slo_class must be 1-D arrays of equal length")
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    groups: list[np.ndarray] = []
    keys = np.stack([model, slo_class], axis=1)
    for key in np.unique(keys, axis=0):
        members = np.flatnonzero((model == key[0]) & (slo_class == key[1]))
        groups.extend(np.split(members, np.arange(group_size, members.size, group_size)))
    return groups


def group_placement(
    requests: LLMRequests,
    model: np.ndarray,
    slo_class: np.ndarray,
    gpu_kv_tokens: np.ndarray,
    gpu_model: np.ndarray,
    *,
    group_size: int = 8,
    swap_penalty: float = 4.0,
) -> GroupPlacement:
    """Build the group-to-GPU placement instance of one scheduling round.

    Parameters
    ----------
    requests : LLMRequests
        Token counts of the waiting requests.
    model, slo_class : array_like of int
        Model id and SLO class (index into :data:`SLO_CLASSES`) of each request.
    gpu_kv_tokens : array_like of int
        KV-cache capacity in tokens of each GPU instance.
    gpu_model : array_like of int
        Model currently loaded on each GPU instance.
    group_size : int, default 8
        Largest group.
    swap_penalty : float, default 4.0
        Value lost when a group runs on a GPU that must swap in its model.

    Returns
    -------
    GroupPlacement

    Examples
    --------
    >>> import numpy as np, matching
    >>> from scheduling.queue import group_placement
    >>> from scheduling.traces import synthetic_requests
    >>> reqs = synthetic_requests(40, seed=0)
    >>> rng = np.random.default_rng(0)
    >>> plan = group_placement(reqs, rng.integers(0, 2, 40), rng.integers(0, 3, 40),
    ...                        gpu_kv_tokens=[20_000, 20_000], gpu_model=[0, 1])
    >>> res = matching.solve(plan.instance)
    >>> res.check(plan.instance)
    True
    """
    model = np.asarray(model, dtype=np.int64)
    slo_class = np.asarray(slo_class, dtype=np.int64)
    n = len(requests)
    if model.size != n or slo_class.size != n:
        raise ValueError(f"model and slo_class need one entry per request ({n})")
    if ((slo_class < 0) | (slo_class >= len(SLO_CLASSES))).any():
        raise ValueError(f"slo_class must lie in 0..{len(SLO_CLASSES) - 1}")
    gpu_kv = np.asarray(gpu_kv_tokens, dtype=np.int64)
    gpu_model = np.asarray(gpu_model, dtype=np.int64)
    if gpu_kv.shape != gpu_model.shape:
        raise ValueError("gpu_kv_tokens and gpu_model need one entry per GPU")
    groups = request_groups(model, slo_class, group_size=group_size)
    value = np.array([v for _, _, v in SLO_CLASSES])[slo_class]
    tokens = requests.prompt_tokens + requests.output_tokens
    group_model = np.array([model[g[0]] for g in groups], dtype=np.int64)
    group_slo = np.array([slo_class[g[0]] for g in groups], dtype=np.int64)
    group_value = np.array([value[g].sum() for g in groups])
    group_tokens = np.array([tokens[g].sum() for g in groups], dtype=np.int64)
    swap = gpu_model[:, None] != group_model[None, :]
    weight = group_value[None, :] - swap_penalty * swap
    instance = all_pairs_instance(groups, weight, group_tokens, gpu_kv, n)
    return GroupPlacement(instance=instance, group_model=group_model, group_slo=group_slo)


def demo_placement(
    n_requests: int = 160, n_gpus: int = 4, n_models: int = 3, seed: int = 0
) -> GroupPlacement:
    """Build a placement round on calibrated synthetic Azure-conversation requests."""
    rng = np.random.default_rng(seed)
    requests = synthetic_requests(n_requests, seed=rng)
    model = rng.integers(0, n_models, size=n_requests)
    slo = rng.choice(len(SLO_CLASSES), size=n_requests, p=[0.5, 0.3, 0.2])
    gpu_kv = np.full(n_gpus, 40_000)
    gpu_model = np.arange(n_gpus) % n_models
    return group_placement(requests, model, slo, gpu_kv, gpu_model)
