"""Adversary search: bad inputs for an online policy, i.e. upper bounds on its ratio.

The search space is unweighted ``n x n`` bipartite graphs: online vertex ``i`` arrives
``i``-th and may be matched to resources ``adj[i]``. OPT is computed exactly (augmenting
paths) and ``E[ALG]`` exactly by enumerating the policy's random choices (all ``n!``
rankings for RANKING), so every ratio found is an exact :class:`~fractions.Fraction`
and an upper bound on the policy's competitive ratio. Tiny ``n`` are searched
exhaustively, larger ``n`` by local search (single-edge flips with restarts).

Policies follow the library's tie-breaking: greedy takes the free neighbour with the
lowest index (the first edge listed), RANKING the free neighbour of lowest rank.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from matching.model import Instance

__all__ = [
    "AdversaryResult",
    "expected_alg",
    "instance_from_adjacency",
    "maximum_matching",
    "search",
    "upper_triangular_adjacency",
]

POLICIES = ("greedy", "ranking")


def maximum_matching(adj: tuple[int, ...], n: int) -> int:
    """Size of a maximum matching (augmenting paths over bitmask adjacency)."""
    match_of: list[int] = [-1] * n  # resource -> online vertex

    def augment(i: int, seen: list[bool]) -> bool:
        mask = adj[i]
        while mask:
            r = (mask & -mask).bit_length() - 1
            mask &= mask - 1
            if not seen[r]:
                seen[r] = True
                if match_of[r] < 0 or augment(match_of[r], seen):
                    match_of[r] = i
                    return True
        return False

    return sum(augment(i, [False] * n) for i in range(len(adj)))


def _greedy_by(adj: tuple[int, ...], order: tuple[int, ...]) -> int:
    """Count matches when each arrival takes its free neighbour first in ``order``."""
    free = (1 << len(order)) - 1
    matched = 0
    for mask in adj:
        options = mask & free
        if options:
            for r in order:
                if options >> r & 1:
                    free &= ~(1 << r)
                    matched += 1
                    break
    return matched


def expected_alg(adj: tuple[int, ...], n: int, policy: str) -> Fraction:
    """Exact ``E[ALG]``: greedy is deterministic; RANKING averages over all ``n!`` ranks."""
    if policy == "greedy":
        return Fraction(_greedy_by(adj, tuple(range(n))))
    if policy == "ranking":
        total = sum(_greedy_by(adj, perm) for perm in itertools.permutations(range(n)))
        return Fraction(total, math.factorial(n))
    raise ValueError(f"unknown policy {policy!r}; choose one of {POLICIES}")


def upper_triangular_adjacency(n: int) -> tuple[int, ...]:
    """Online ``i`` adjacent to resources ``i .. n-1``, relabelled for lowest-index ties.

    With greedy taking the lowest free index, the bad labelling is the mirror image:
    online ``i`` sees resources ``0 .. n-1-i``.
    """
    return tuple((1 << (n - i)) - 1 for i in range(n))


def instance_from_adjacency(adj: tuple[int, ...], n: int) -> Instance:
    """Build the matching instance of an adjacency.

    Singleton groups, unit weights, edges in ascending resource order (so the
    library's greedy breaks ties as the search did).
    """
    resource, group = [], []
    for i, mask in enumerate(adj):
        for r in range(n):
            if mask >> r & 1:
                resource.append(r)
                group.append(i)
    return Instance.from_arrays(
        group_ptr=np.arange(len(adj) + 1),
        group_members=np.arange(len(adj)),
        edge_resource=np.array(resource, dtype=np.int64),
        edge_group=np.array(group, dtype=np.int64),
        edge_weight=np.ones(len(resource)),
        capacity=np.ones(n),
        n_requests=len(adj),
    )


def _ratio(adj: tuple[int, ...], n: int, policy: str) -> tuple[Fraction, Fraction, int]:
    opt = maximum_matching(adj, n)
    if opt == 0:
        return Fraction(1), Fraction(0), 0
    alg = expected_alg(adj, n, policy)
    return alg / opt, alg, opt


@dataclass(frozen=True)
class AdversaryResult:
    """The worst input found and its exact ratio (an upper bound on the policy's)."""

    policy: str
    n: int
    ratio: Fraction
    alg: Fraction
    opt: int
    adjacency: tuple[int, ...]
    worst: tuple[tuple[int, ...], ...]
    examined: int
    method: str

    @property
    def instance(self) -> Instance:
        """The worst input as a :class:`matching.Instance`."""
        return instance_from_adjacency(self.adjacency, self.n)

    def isomorphic_to(self, other: tuple[int, ...]) -> bool:
        """Whether some worst input equals ``other`` up to relabelling resources."""
        targets = set()
        for perm in itertools.permutations(range(self.n)):
            targets.add(
                tuple(sum(1 << perm[r] for r in range(self.n) if m >> r & 1) for m in other)
            )
        return any(adj in targets for adj in self.worst)


def search(
    policy: str,
    n: int,
    *,
    method: str = "auto",
    restarts: int = 20,
    steps: int = 400,
    seed: int = 0,
) -> AdversaryResult:
    """Find an ``n x n`` input minimising ``E[ALG] / OPT`` for ``policy``.

    Parameters
    ----------
    policy : {"greedy", "ranking"}
    n : int
    method : {"auto", "exhaustive", "local"}
        ``auto``: exhaustive when ``2^(n^2)`` inputs are few enough (``n <= 4`` for
        greedy, ``n <= 3`` for RANKING), local search otherwise.
    restarts, steps, seed
        Local search budget: random starting graphs, edge flips tried per restart.

    Returns
    -------
    AdversaryResult

    Examples
    --------
    >>> res = search("ranking", 3)
    >>> res.ratio, res.isomorphic_to(upper_triangular_adjacency(3))
    (Fraction(13, 18), True)
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {POLICIES}")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if method == "auto":
        method = "exhaustive" if n <= (4 if policy == "greedy" else 3) else "local"
    if method == "exhaustive":
        return _exhaustive(policy, n)
    if method == "local":
        return _local(policy, n, restarts, steps, seed)
    raise ValueError(f"unknown method {method!r}; choose auto, exhaustive or local")


def _exhaustive(policy: str, n: int) -> AdversaryResult:
    best = Fraction(2)
    worst: list[tuple[int, ...]] = []
    examined = 0
    for adj in itertools.product(range(1 << n), repeat=n):
        examined += 1
        ratio = _ratio(adj, n, policy)[0]
        if ratio < best:
            best, worst = ratio, [adj]
        elif ratio == best:
            worst.append(adj)
    # report the worst input with the largest optimum: the gadget, not a padded copy
    shown = max(worst, key=lambda adj: maximum_matching(adj, n))
    best_opt = maximum_matching(shown, n)
    return AdversaryResult(
        policy, n, best, best * best_opt, best_opt, shown, tuple(worst), examined, "exhaustive"
    )


def _local(policy: str, n: int, restarts: int, steps: int, seed: int) -> AdversaryResult:
    rng = np.random.default_rng(seed)
    best = Fraction(2)
    best_adj: tuple[int, ...] = ()
    best_alg, best_opt = Fraction(0), 0
    examined = 0
    starts = [upper_triangular_adjacency(n)]
    starts += [tuple(int(v) for v in rng.integers(1, 1 << n, size=n)) for _ in range(restarts)]
    for start in starts:
        adj = list(start)
        current, alg, opt = _ratio(tuple(adj), n, policy)
        examined += 1
        for _ in range(steps):
            i, r = int(rng.integers(n)), int(rng.integers(n))
            adj[i] ^= 1 << r
            ratio, a, o = _ratio(tuple(adj), n, policy)
            examined += 1
            if ratio <= current:
                current, alg, opt = ratio, a, o
            else:
                adj[i] ^= 1 << r
        if current < best:
            best, best_adj, best_alg, best_opt = current, tuple(adj), alg, opt
    return AdversaryResult(
        policy, n, best, best_alg, best_opt, best_adj, (best_adj,), examined, "local"
    )
