"""Seeded random instance families for tests, benchmarks and teaching."""

from __future__ import annotations

import numpy as np

from matching._validate import MAX_REQUESTS, MAX_RESOURCES, check_int, check_real
from matching.model import Instance

__all__ = ["as_generator", "check_density", "random_bipartite", "random_groups"]


def check_density(density: object) -> float:
    """Return an edge density in ``(0, 1]``, refusing anything else by name."""
    value = check_real(density, "density")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {density!r}")
    return value


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return ``seed`` itself when it is a Generator, else ``default_rng(seed)``.

    ``seed`` may be None, a non-negative int, a :class:`numpy.random.Generator`,
    :class:`~numpy.random.SeedSequence` or bit generator; anything else (a negative or
    float seed, a string, a bool) raises naming ``seed``.

    Examples
    --------
    >>> as_generator(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be at least 0, got -1
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence | np.random.BitGenerator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    return np.random.default_rng(check_int(seed, "seed", low=0))


def _distinct_rows(rng: np.random.Generator, rows: int, k: int, n: int) -> np.ndarray:
    """``rows`` x ``k`` array whose rows are ``k`` distinct draws from ``range(n)``."""
    if n <= 64 or 4 * k > n:
        return np.argsort(rng.random((rows, n)), axis=1)[:, :k]
    out = rng.integers(0, n, size=(rows, k))
    while True:
        ordered = np.sort(out, axis=1)
        bad = (np.diff(ordered, axis=1) == 0).any(axis=1)
        if not bad.any():
            return out
        out[bad] = rng.integers(0, n, size=(int(bad.sum()), k))


def random_bipartite(
    n_resources: int,
    n_requests: int,
    *,
    density: float = 1.0,
    seed: int | np.random.Generator | None = 0,
) -> Instance:
    """Bipartite instance with uniform(0, 1) weights.

    Parameters
    ----------
    n_resources, n_requests : int
        Sizes of the two sides.
    density : float, default 1.0
        Probability that a resource-request pair is an edge (1.0: complete graph).
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    Instance

    Examples
    --------
    >>> from matching.families import random_bipartite
    >>> inst = random_bipartite(3, 4, seed=1)
    >>> inst.n_edges, inst.is_bipartite
    (12, True)
    """
    n_resources = check_int(n_resources, "n_resources", low=0, high=MAX_RESOURCES)
    n_requests = check_int(n_requests, "n_requests", low=0, high=MAX_REQUESTS)
    check_density(density)
    rng = as_generator(seed)
    weights = rng.random((n_resources, n_requests))
    if density == 1.0:
        return Instance.bipartite(weights)
    import scipy.sparse as sp

    mask = rng.random((n_resources, n_requests)) < density
    return Instance.bipartite(sp.coo_array(np.where(mask, weights, 0.0)))


def random_groups(
    n_resources: int,
    n_requests: int,
    n_groups: int,
    *,
    max_group_size: int = 3,
    degree: int = 3,
    capacity: int = 1,
    max_load: int = 1,
    seed: int | np.random.Generator | None = 0,
) -> Instance:
    """Random request groups of 1..``max_group_size`` requests, each joined to resources.

    Every group draws its size uniformly, its requests without replacement, and
    ``degree`` distinct resources; an edge's weight is the group size times a
    uniform(0.5, 1.5) factor and its load is uniform on ``1..max_load``.

    Examples
    --------
    >>> from matching.families import random_groups
    >>> inst = random_groups(4, 10, 12, seed=3)
    >>> inst.n_groups, inst.n_edges, int(inst.group_sizes.max()) <= 3
    (12, 36, True)
    """
    check_int(n_resources, "n_resources", low=1, high=MAX_RESOURCES)
    check_int(n_requests, "n_requests", low=1, high=MAX_REQUESTS)
    check_int(n_groups, "n_groups", low=0)
    check_int(max_group_size, "max_group_size", low=1)
    check_int(degree, "degree", low=0)
    check_real(capacity, "capacity", low=0)
    check_int(max_load, "max_load", low=1)
    rng = as_generator(seed)
    if max_group_size > n_requests:
        raise ValueError(f"max_group_size={max_group_size} exceeds n_requests={n_requests}")
    if degree > n_resources:
        raise ValueError(f"degree={degree} exceeds n_resources={n_resources}")
    sizes = rng.integers(1, max_group_size + 1, size=n_groups)
    members = _distinct_rows(rng, n_groups, max_group_size, n_requests)
    mask = np.arange(max_group_size)[None, :] < sizes[:, None]
    group_members = members[mask]
    group_ptr = np.concatenate([[0], np.cumsum(sizes)])
    resources = _distinct_rows(rng, n_groups, degree, n_resources).ravel()
    groups = np.repeat(np.arange(n_groups), degree)
    weight = sizes[groups] * rng.uniform(0.5, 1.5, size=groups.size)
    load = rng.integers(1, max_load + 1, size=groups.size)
    return Instance.from_arrays(
        group_ptr=group_ptr,
        group_members=group_members,
        edge_resource=resources,
        edge_group=groups,
        edge_weight=weight,
        edge_load=load,
        capacity=np.full(n_resources, capacity),
        n_requests=n_requests,
    )
