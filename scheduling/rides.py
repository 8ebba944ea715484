"""Ride-sharing batches as matching instances: vehicles, riders and shareable groups.

One dispatch batch of a ride-pooling system (in the spirit of the request-trip-vehicle
graph) becomes a :class:`matching.Instance`: resources are vehicles (capacity 1: a
vehicle serves one group per batch and returns to its depot afterwards), requests are
riders, and groups are sets of at most ``vehicle_capacity`` riders whose origins and
destinations all lie within ``share_radius`` of each other (max-norm, in km). A group's
route picks its riders up and drops them off in the order that minimises its length;
the value of serving group ``g`` with vehicle ``v`` is the fare of its riders' direct
trips minus the driving cost of the pickup leg and the shared route.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from matching import Instance
from matching.families import as_generator
from matching.guarantees import InputProperties

__all__ = ["CityGridRides", "RideBatch", "shareable_groups", "synthetic_ride_batch"]


@dataclass(frozen=True)
class RideBatch:
    """A dispatch batch: the matching instance and the geometry behind it (km)."""

    instance: Instance
    origins: np.ndarray
    destinations: np.ndarray
    vehicles: np.ndarray
    route_km: np.ndarray


def shareable_groups(
    origins: np.ndarray, destinations: np.ndarray, *, max_size: int, radius: float
) -> list[tuple[int, ...]]:
    """All rider sets of size 1..``max_size`` that are pairwise within ``radius``.

    Two riders are compatible when both their origins and their destinations are within
    ``radius`` in the max-norm; a group is a clique of compatible riders.

    Examples
    --------
    >>> import numpy as np
    >>> from scheduling.rides import shareable_groups
    >>> o = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    >>> shareable_groups(o, o + 1.0, max_size=2, radius=0.5)
    [(0,), (1,), (2,), (0, 1)]
    """
    if max_size not in (1, 2, 3):
        raise ValueError(f"max_size must be 1, 2 or 3, got {max_size}")
    n = len(origins)
    groups: list[tuple[int, ...]] = [(i,) for i in range(n)]
    if max_size == 1 or n < 2:
        return groups
    tree = cKDTree(np.hstack([origins, destinations]))
    pairs = sorted(tuple(sorted(p)) for p in tree.query_pairs(radius, p=np.inf))
    groups.extend(pairs)
    if max_size == 3:
        neighbours: list[set[int]] = [set() for _ in range(n)]
        for i, j in pairs:
            neighbours[i].add(j)
        for i, j in pairs:
            groups.extend((i, j, k) for k in sorted(neighbours[i] & neighbours[j]) if k > j)
    return groups


def _route_lengths(
    origins: np.ndarray, destinations: np.ndarray, groups: list[tuple[int, ...]]
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest pickups-then-dropoffs route of each group and its first pickup."""
    length = np.empty(len(groups))
    first = np.empty(len(groups), dtype=np.int64)
    by_size: dict[int, list[int]] = {}
    for idx, g in enumerate(groups):
        by_size.setdefault(len(g), []).append(idx)
    for size, idx in by_size.items():
        members = np.array([groups[i] for i in idx])  # (m, size)
        best = np.full(len(idx), np.inf)
        best_first = members[:, 0].copy()
        for up in itertools.permutations(range(size)):
            for down in itertools.permutations(range(size)):
                stops = np.concatenate(
                    [origins[members[:, up]], destinations[members[:, down]]], axis=1
                )
                legs = np.linalg.norm(np.diff(stops, axis=1), axis=2).sum(axis=1)
                better = legs < best
                best[better] = legs[better]
                best_first[better] = members[better, up[0]]
        length[idx] = best
        first[idx] = best_first
    return length, first


def synthetic_ride_batch(
    n_vehicles: int,
    n_requests: int,
    *,
    vehicle_capacity: int = 3,
    city_km: float = 10.0,
    share_radius: float = 1.0,
    vehicles_per_group: int = 5,
    fare_per_km: float = 2.0,
    cost_per_km: float = 1.0,
    seed: int | np.random.Generator | None = 0,
) -> RideBatch:
    """Build a batch on a square city with uniform origins, destinations and vehicles.

    Each group is joined to its ``vehicles_per_group`` nearest vehicles (by distance to
    the group's first pickup); edges whose value is not positive are left out. Values
    are rounded to 3 decimals (metres of driving cost), so CP-SAT solves them exactly.

    Examples
    --------
    >>> import matching
    >>> from scheduling.rides import synthetic_ride_batch
    >>> batch = synthetic_ride_batch(10, 40, seed=2)
    >>> res = matching.solve(batch.instance)
    >>> res.check(batch.instance), res.status.value
    (True, 'optimal')
    """
    if n_vehicles < 1 or n_requests < 1:
        raise ValueError("need at least one vehicle and one request")
    rng = as_generator(seed)
    origins = rng.uniform(0, city_km, size=(n_requests, 2))
    destinations = rng.uniform(0, city_km, size=(n_requests, 2))
    vehicles = rng.uniform(0, city_km, size=(n_vehicles, 2))
    groups = shareable_groups(
        origins, destinations, max_size=vehicle_capacity, radius=share_radius
    )
    route, first = _route_lengths(origins, destinations, groups)
    direct = np.linalg.norm(destinations - origins, axis=1)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    members = np.fromiter(itertools.chain.from_iterable(groups), dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    fare = fare_per_km * np.add.reduceat(direct[members], ptr[:-1])
    k = min(vehicles_per_group, n_vehicles)
    dist, near = cKDTree(vehicles).query(origins[first], k=k)
    dist = np.asarray(dist).reshape(len(groups), k)
    near = np.asarray(near).reshape(len(groups), k)
    weight = fare[:, None] - cost_per_km * (dist + route[:, None])
    keep = weight > 0
    group_ids = np.repeat(np.arange(len(groups)), k).reshape(len(groups), k)
    instance = Instance.from_arrays(
        group_ptr=ptr,
        group_members=members,
        edge_resource=near[keep],
        edge_group=group_ids[keep],
        edge_weight=np.round(weight[keep], 3),
        capacity=np.ones(n_vehicles),
        n_requests=n_requests,
    )
    return RideBatch(
        instance=instance,
        origins=origins,
        destinations=destinations,
        vehicles=vehicles,
        route_km=route,
    )


@dataclass(frozen=True)
class CityGridRides:
    """Online family: the groups of a synthetic ride batch arrive in random order.

    A small city for teaching and competitive-ratio runs: ``n_vehicles`` vehicles,
    ``n_requests`` riders and their shareable groups (see :func:`synthetic_ride_batch`);
    each group is an online arrival that a vehicle may take once.
    """

    n_vehicles: int
    n_requests: int
    city_km: float = 5.0
    share_radius: float = 1.0

    @property
    def properties(self) -> InputProperties:
        """Weighted groups of up to 3 riders, who may share groups, on single-use vehicles."""
        return InputProperties(
            unit_loads=True,
            min_capacity=1.0,
            max_capacity=1.0,
            max_group_size=3,
            disjoint_groups=False,
            reusable=False,
            arrival_model="random-order",
        )

    def __call__(self, rng: np.random.Generator):
        """Draw one realised arrival sequence."""
        from matching.arrivals import random_order

        batch = synthetic_ride_batch(
            self.n_vehicles,
            self.n_requests,
            city_km=self.city_km,
            share_radius=self.share_radius,
            seed=rng,
        )
        return random_order(batch.instance, seed=rng)
