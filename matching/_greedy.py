"""Greedy matching: scan edges by decreasing key, keep each one that still fits."""

from __future__ import annotations

import numpy as np

from matching.model import Instance

__all__ = ["GREEDY_KEYS", "best_greedy_edges", "greedy_edges"]

GREEDY_KEYS = ("weight", "density")


def greedy_edges(
    instance: Instance, key: str = "weight", weights: np.ndarray | None = None
) -> np.ndarray:
    """Return the edges chosen by the greedy rule.

    Edges are scanned by decreasing ``weight`` (or ``weight / load`` for
    ``key="density"``; zero-load edges first), ties broken by edge index. An edge is
    kept when its weight is positive, none of its group's requests is served yet and its
    resource has room for its load. For unit loads and groups of at most ``k`` requests
    the result is at least ``1 / (k + 1)`` of the optimum. ``weights`` replaces
    ``instance.edge_weight`` (the sign-flipped weights of a minimisation).
    """
    if key not in GREEDY_KEYS:
        raise ValueError(f"greedy key must be one of {GREEDY_KEYS}, got {key!r}")
    weight = instance.edge_weight if weights is None else weights
    load = instance.edge_load
    if key == "weight":
        score = weight
    else:
        with np.errstate(divide="ignore"):
            score = np.where(load > 0, weight / np.where(load > 0, load, 1.0), np.inf)
    if weights is None:
        candidates = instance.servable_edges
    else:
        fits = load <= instance.capacity[instance.edge_resource]
        candidates = np.flatnonzero((weight > 0) & fits)
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    remaining = instance.capacity.astype(np.float64).tolist()
    served = bytearray(instance.n_requests)
    ptr = instance.group_ptr.tolist()
    members = instance.group_members.tolist()
    resources = instance.edge_resource.tolist()
    groups = instance.edge_group.tolist()
    loads = load.tolist()
    chosen: list[int] = []
    for e in order.tolist():
        r = resources[e]
        if loads[e] > remaining[r]:
            continue
        g = groups[e]
        requests = members[ptr[g] : ptr[g + 1]]
        if any(served[q] for q in requests):
            continue
        for q in requests:
            served[q] = 1
        remaining[r] -= loads[e]
        chosen.append(e)
    return np.asarray(chosen, dtype=np.int64)


def best_greedy_edges(instance: Instance, weights: np.ndarray | None = None) -> np.ndarray:
    """Return the heavier of the greedy matchings by weight and by density.

    The incumbent of the exact methods: by weight is best for unit loads, by density
    when loads differ (it fills capacity with the edges worth most per unit of load).
    """
    weight = instance.edge_weight if weights is None else weights
    options = [greedy_edges(instance, key, weights) for key in GREEDY_KEYS]
    return max(options, key=lambda edges: float(weight[edges].sum()))
