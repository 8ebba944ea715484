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

from matching._validate import check_int
from matching.model import Instance

__all__ = [
    "MAX_N",
    "AdversaryResult",
    "estimated_seconds",
    "expected_alg",
    "search_plan",
    "instance_from_adjacency",
    "maximum_matching",
    "search",
    "upper_triangular_adjacency",
]

POLICIES = ("greedy", "ranking")
METHODS = ("auto", "exhaustive", "local")

#: Largest ``n`` searched: local search draws adjacency rows as 64-bit numpy integers
#: below ``2**n``.
MAX_N = 63

# Rough costs in seconds, measured on one core of the development machine and rounded
# up: one greedy pass over ``n`` arrivals, one maximum matching, one relabelling tried.
_PASS_S = (0.35e-6, 0.012e-6)  # a + b n^2
_MATCHING_S = 0.5e-6  # x n^2
_RELABEL_S = (1e-6, 0.08e-6)  # a + b n^2


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
        """Whether some worst input equals ``other`` up to relabelling resources.

        Tries the ``n!`` relabellings one at a time (stopping at the first match), so
        memory stays that of the worst inputs; see :func:`estimated_seconds`.
        """
        worst = set(self.worst)
        n = self.n
        for perm in itertools.permutations(range(n)):
            if tuple(sum(1 << perm[r] for r in range(n) if m >> r & 1) for m in other) in worst:
                return True
        return False


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
        ``1 .. MAX_N`` (63). The search's cost grows fast with ``n`` (``n!`` rankings
        per input for RANKING, ``2^(n^2)`` inputs when exhaustive): see
        :func:`estimated_seconds` before large runs.
    method : {"auto", "exhaustive", "local"}
        ``auto``: exhaustive when ``2^(n^2)`` inputs are few enough (``n <= 4`` for
        greedy, ``n <= 3`` for RANKING), local search otherwise.
    restarts, steps, seed
        Local search budget: random starting graphs, edge flips tried per restart
        (non-negative ints); the seed of the starting graphs and flips.

    Returns
    -------
    AdversaryResult

    Raises
    ------
    ValueError, TypeError
        On an unknown policy or method, or ``n``, ``restarts``, ``steps`` or ``seed``
        that is not an int in its range, naming it.

    Examples
    --------
    >>> res = search("ranking", 3)
    >>> res.ratio, res.isomorphic_to(upper_triangular_adjacency(3))
    (Fraction(13, 18), True)
    """
    method = _check_search(policy, n, method, restarts, steps, seed)
    if method == "exhaustive":
        return _exhaustive(policy, n)
    return _local(policy, n, restarts, steps, seed)


def _check_search(
    policy: object, n: object, method: object, restarts: object, steps: object, seed: object
) -> str:
    """Check the arguments of :func:`search`; return the method ``auto`` stands for."""
    if not isinstance(policy, str) or policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {POLICIES}")
    size = check_int(n, "n", low=1, high=MAX_N)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose auto, exhaustive or local")
    check_int(restarts, "restarts", low=0)
    check_int(steps, "steps", low=0)
    check_int(seed, "seed", low=0)
    if method == "auto":
        return "exhaustive" if size <= (4 if policy == "greedy" else 3) else "local"
    return method


def search_plan(
    policy: str, n: int, *, method: str = "auto", restarts: int = 20, steps: int = 400
) -> tuple[str, int]:
    """Return the method :func:`search` would run and how many inputs it examines.

    Examples
    --------
    >>> search_plan("ranking", 9)
    ('local', 8421)
    >>> search_plan("greedy", 3)
    ('exhaustive', 512)
    """
    method = _check_search(policy, n, method, restarts, steps, 0)
    if method == "exhaustive":
        return method, 2 ** (n * n)
    return method, (restarts + 1) * (steps + 1)


def estimated_seconds(
    policy: str,
    n: int,
    *,
    method: str = "auto",
    restarts: int = 20,
    steps: int = 400,
    relabellings: bool = False,
) -> float:
    """Estimate the seconds :func:`search` takes (one core, order of magnitude).

    Counts the inputs examined (``2^(n^2)`` exhaustive, ``(restarts + 1)(steps + 1)``
    local), the policy runs per input (1 for greedy, ``n!`` rankings for RANKING) and
    one maximum matching each; with ``relabellings`` also the ``n!`` relabellings that
    :meth:`AdversaryResult.isomorphic_to` may try. Checks the arguments like
    :func:`search`. Returns ``inf`` when the count overflows a float.

    Examples
    --------
    >>> estimated_seconds("greedy", 4) < 1
    True
    >>> estimated_seconds("ranking", 9) > 3600
    True
    """
    _, count = search_plan(policy, n, method=method, restarts=restarts, steps=steps)
    try:
        inputs = float(count)
        runs = float(math.factorial(n)) if policy == "ranking" else 1.0
        seconds = inputs * (runs * (_PASS_S[0] + _PASS_S[1] * n * n) + _MATCHING_S * n * n)
        if relabellings:
            seconds += float(math.factorial(n)) * (_RELABEL_S[0] + _RELABEL_S[1] * n * n)
    except OverflowError:
        return math.inf
    return seconds


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
