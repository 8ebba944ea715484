"""Seeded families of online inputs for competitive-ratio studies and teaching.

Each family is a small picklable object: calling it with a ``numpy.random.Generator``
returns an :class:`~matching.arrivals.ArrivalSequence`. They run unchanged in worker
processes and Ray tasks. Each family's ``properties`` declare what is true of every
input it draws (:class:`~matching.guarantees.InputProperties`; None where the family
fixes nothing), so the guarantees that hold on the whole family can be told apart from
those that do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from matching._validate import MAX_REQUESTS, MAX_RESOURCES, check_int, check_real
from matching.arrivals import (
    MAX_ARRIVALS,
    ArrivalSequence,
    adversarial_order,
    known_adversarial,
    known_iid,
    random_order,
)
from matching.families import check_density, random_bipartite, random_groups
from matching.guarantees import InputProperties
from matching.model import Instance

__all__ = [
    "MAX_UPPER_TRIANGULAR",
    "KADReusable",
    "KUniformGroups",
    "KnownIIDBipartite",
    "RandomBipartite",
    "UpperTriangular",
]


#: Largest ``n`` of :class:`UpperTriangular` (its ``n (n + 1) / 2`` edges stay near 10**8).
MAX_UPPER_TRIANGULAR = 14_000


def _check_group_size(k: object, n_requests: int, field: str) -> None:
    check_int(k, "k", low=1)
    if k > n_requests:  # type: ignore[operator]
        raise ValueError(f"k={k} exceeds {field}={n_requests}")


def _check_degree(degree: object, n_resources: int) -> None:
    check_int(degree, "degree", low=1)
    if degree > n_resources:  # type: ignore[operator]
        raise ValueError(f"degree={degree} exceeds n_resources={n_resources}")


@dataclass(frozen=True)
class UpperTriangular:
    """The upper-triangular instance: online request ``i`` may use resources ``j >= i``.

    Requests arrive in order ``0 .. n-1`` with unit weights; the optimum is ``n``. Each
    request lists its edges from the highest resource down, so a greedy rule that
    breaks ties by edge order takes the highest free resource and ends with ``n/2``,
    while RANKING gets ``(1 - 1/e) n`` in expectation as ``n`` grows (Karp, Vazirani,
    Vazirani). It is the tight example for both.

    Examples
    --------
    >>> import numpy as np
    >>> from matching.online_families import UpperTriangular
    >>> seq = UpperTriangular(3)(np.random.default_rng(0))
    >>> seq.instance.edge_resource.tolist(), seq.instance.edge_group.tolist()
    ([2, 1, 0, 2, 1, 2], [0, 0, 0, 1, 1, 2])
    >>> UpperTriangular(3).properties.singleton_groups
    True
    """

    n: int

    def __post_init__(self) -> None:
        check_int(self.n, "n", low=1, high=MAX_UPPER_TRIANGULAR)

    @property
    def properties(self) -> InputProperties:
        """Unweighted bipartite matching on unit-capacity single-use resources."""
        return InputProperties(
            unit_weights=True,
            unit_loads=True,
            min_capacity=1.0,
            max_capacity=1.0,
            max_group_size=1,
            disjoint_groups=True,
            reusable=False,
            arrival_model="adversarial",
        )

    def __call__(self, rng: np.random.Generator) -> ArrivalSequence:
        """Draw one realised arrival sequence."""
        n = self.n
        group = np.repeat(np.arange(n), np.arange(n, 0, -1))
        # resources n-1 down to i for request i
        resource = np.concatenate([np.arange(n - 1, i - 1, -1) for i in range(n)])
        inst = Instance.from_arrays(
            group_ptr=np.arange(n + 1),
            group_members=np.arange(n),
            edge_resource=resource,
            edge_group=group,
            edge_weight=np.ones(resource.size),
            capacity=np.ones(n),
            n_requests=n,
            check_duplicates=False,
        )
        return adversarial_order(inst)


@dataclass(frozen=True)
class RandomBipartite:
    """Random bipartite graph with uniform(0, 1) weights, requests in random order."""

    n_resources: int
    n_requests: int
    density: float = 0.2

    def __post_init__(self) -> None:
        check_int(self.n_resources, "n_resources", low=1, high=MAX_RESOURCES)
        check_int(self.n_requests, "n_requests", low=1, high=MAX_REQUESTS)
        check_density(self.density)

    @property
    def properties(self) -> InputProperties:
        """Edge-weighted bipartite matching on unit-capacity single-use resources."""
        return InputProperties(
            unit_loads=True,
            min_capacity=1.0,
            max_capacity=1.0,
            max_group_size=1,
            disjoint_groups=True,
            reusable=False,
            arrival_model="random-order",
        )

    def __call__(self, rng: np.random.Generator) -> ArrivalSequence:
        """Draw one realised arrival sequence."""
        inst = random_bipartite(self.n_resources, self.n_requests, density=self.density, seed=rng)
        return random_order(inst, seed=rng)


@dataclass(frozen=True)
class KUniformGroups:
    """Random groups of at most ``k`` requests on unit-capacity resources, random order."""

    n_resources: int
    n_requests: int
    n_groups: int
    k: int = 2
    degree: int = 3

    def __post_init__(self) -> None:
        check_int(self.n_resources, "n_resources", low=1, high=MAX_RESOURCES)
        check_int(self.n_requests, "n_requests", low=1, high=MAX_REQUESTS)
        check_int(self.n_groups, "n_groups", low=0, high=MAX_ARRIVALS)
        _check_group_size(self.k, self.n_requests, "n_requests")
        _check_degree(self.degree, self.n_resources)

    @property
    def properties(self) -> InputProperties:
        """Weighted groups of at most ``k`` requests (which may share requests), unit loads."""
        return InputProperties(
            unit_loads=True,
            min_capacity=1.0,
            max_capacity=1.0,
            max_group_size=self.k,
            reusable=False,
            arrival_model="random-order",
        )

    def __call__(self, rng: np.random.Generator) -> ArrivalSequence:
        """Draw one realised arrival sequence."""
        inst = random_groups(
            self.n_resources,
            self.n_requests,
            self.n_groups,
            max_group_size=self.k,
            degree=self.degree,
            seed=rng,
        )
        return random_order(inst, seed=rng)


@dataclass(frozen=True)
class KADReusable:
    """Known adversarial distributions over group types with reusable resources.

    ``n_types`` types, each a group of 1..``k`` requests joined to ``degree`` random
    resources with uniform(0.5, 1.5) x size weights and integer durations uniform on
    ``1..max_duration``. At step ``t`` type ``v`` arrives with probability ``p[v, t]``,
    drawn once per instance with column sums ``arrival_rate``.
    """

    n_resources: int
    n_types: int
    horizon: int
    k: int = 2
    degree: int = 2
    max_duration: int = 4
    arrival_rate: float = 0.9

    def __post_init__(self) -> None:
        check_int(self.n_resources, "n_resources", low=1, high=MAX_RESOURCES)
        check_int(self.n_types, "n_types", low=1, high=MAX_REQUESTS)
        check_int(self.horizon, "horizon", low=0, high=MAX_ARRIVALS)
        check_int(self.k, "k", low=1)
        _check_degree(self.degree, self.n_resources)
        check_int(self.max_duration, "max_duration", low=1)
        rate = check_real(self.arrival_rate, "arrival_rate")
        if not 0 < rate <= 1:
            raise ValueError(f"arrival_rate must lie in (0, 1], got {self.arrival_rate!r}")

    @property
    def properties(self) -> InputProperties:
        """Weighted groups of at most ``k`` fresh requests on reusable unit-capacity resources.

        Durations are whole steps copied from the prior's type edges.
        """
        return InputProperties(
            unit_loads=True,
            min_capacity=1.0,
            max_capacity=1.0,
            max_group_size=self.k,
            disjoint_groups=True,
            reusable=True,
            integer_durations=True,
            durations_match_prior=True,
            arrival_model="known-adversarial",
        )

    def types_and_probabilities(self, rng: np.random.Generator) -> tuple[Instance, np.ndarray]:
        """Draw the type instance and the arrival probabilities ``p`` (types x steps)."""
        base = random_groups(
            self.n_resources,
            max(self.k, self.n_types),
            self.n_types,
            max_group_size=self.k,
            degree=self.degree,
            seed=rng,
        )
        duration = rng.integers(1, self.max_duration + 1, size=base.n_edges).astype(float)
        types = base.replace(edge_duration=duration)
        p = rng.dirichlet(np.ones(self.n_types), size=self.horizon).T * self.arrival_rate
        return types, p

    def __call__(self, rng: np.random.Generator) -> ArrivalSequence:
        """Draw one realised arrival sequence."""
        types, p = self.types_and_probabilities(rng)
        return known_adversarial(types, p, seed=rng, reusable=True)


@dataclass(frozen=True)
class KnownIIDBipartite:
    """Unweighted bipartite graph of resources and request types, known-IID arrivals.

    A fixed random graph (``degree`` resources per type, unit weights, loads and
    capacities) is the declared prior; ``n_arrivals`` requests then arrive, each of a
    type drawn uniformly (Feldman et al.'s known-IID model, as in the experimental
    studies of RANKING on real graphs). The graph is drawn from ``graph_seed`` so that
    every trial shares it and only the arrivals vary.
    """

    n_resources: int
    n_types: int
    n_arrivals: int
    degree: int = 3
    graph_seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.n_resources, "n_resources", low=1, high=MAX_RESOURCES)
        check_int(self.n_types, "n_types", low=1, high=MAX_REQUESTS)
        check_int(self.n_arrivals, "n_arrivals", low=0, high=MAX_ARRIVALS)
        check_int(self.degree, "degree", low=1)
        check_int(self.graph_seed, "graph_seed", low=0)

    @property
    def properties(self) -> InputProperties:
        """Unweighted bipartite matching on unit-capacity single-use resources."""
        return InputProperties(
            unit_weights=True,
            unit_loads=True,
            min_capacity=1.0,
            max_capacity=1.0,
            max_group_size=1,
            disjoint_groups=True,
            reusable=False,
            arrival_model="known-iid",
        )

    @cached_property
    def types(self) -> Instance:
        """The type graph (one singleton group per type), built once."""
        rng = np.random.default_rng(self.graph_seed)
        degree = min(self.degree, self.n_resources)
        resource = np.argsort(rng.random((self.n_types, self.n_resources)), axis=1)[:, :degree]
        return Instance.from_arrays(
            group_ptr=np.arange(self.n_types + 1),
            group_members=np.arange(self.n_types),
            edge_resource=resource.ravel(),
            edge_group=np.repeat(np.arange(self.n_types), degree),
            edge_weight=np.ones(resource.size),
            capacity=np.ones(self.n_resources),
            n_requests=self.n_types,
            check_duplicates=False,
        )

    def __call__(self, rng: np.random.Generator) -> ArrivalSequence:
        """Draw one realised arrival sequence."""
        return known_iid(self.types, np.ones(self.n_types), self.n_arrivals, seed=rng)
