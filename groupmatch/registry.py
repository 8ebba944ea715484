"""Named policies and instance families for the command line and the benchmarks."""

from __future__ import annotations

from collections.abc import Callable

from matching._validate import check_int, check_real
from matching.attenuation import LPSampleAttenuatePolicy
from matching.online import (
    BalancePolicy,
    BatchedResolvePolicy,
    GreedyPolicy,
    OnlinePolicy,
    RankingPolicy,
)
from matching.online_families import (
    KADReusable,
    KnownIIDBipartite,
    KUniformGroups,
    RandomBipartite,
    UpperTriangular,
)
from scheduling.rides import CityGridRides

__all__ = ["FAMILIES", "POLICIES", "make_family", "make_policy"]

POLICIES: dict[str, Callable[[float], OnlinePolicy]] = {
    "greedy": lambda window: GreedyPolicy(),
    "ranking": lambda window: RankingPolicy(),
    "ranking-vw": lambda window: RankingPolicy(vertex_weighted=True),
    "balance": lambda window: BalancePolicy(),
    "batched": lambda window: BatchedResolvePolicy(window),
    "lp-attenuate": lambda window: LPSampleAttenuatePolicy(),
}

FAMILIES: dict[str, Callable[[int, int], object]] = {
    "upper-triangular": lambda n, k: UpperTriangular(n),
    "random-bipartite": lambda n, k: RandomBipartite(n, n, density=min(1.0, 10.0 / n)),
    "known-iid": lambda n, k: KnownIIDBipartite(n, n, n),
    "k-uniform": lambda n, k: KUniformGroups(n, 2 * n, 2 * n, k=k),
    "kad-reusable": lambda n, k: KADReusable(max(2, n // 4), max(2, n // 2), n, k=k),
    "city-grid": lambda n, k: CityGridRides(max(2, n // 4), n),
}


def make_policy(name: str, window: float = 10.0) -> OnlinePolicy:
    """Return a fresh policy by name (``window``, a positive number, is used by ``batched``)."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose one of {sorted(POLICIES)}")
    return POLICIES[name](check_real(window, "window", positive=True))


def make_family(name: str, n: int, k: int = 2) -> object:
    """Return an online family by name with size ``n >= 2`` (and group size ``k >= 1``).

    Both are checked for every family, also where one is not used, so that a bad
    argument is never dropped silently.
    """
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; choose one of {sorted(FAMILIES)}")
    check_int(n, "n", low=2)
    check_int(k, "k", low=1)
    return FAMILIES[name](n, k)
