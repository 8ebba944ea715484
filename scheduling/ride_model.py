"""Fit the online-ridesharing model (:class:`matching.rideshare.RideshareModel`) to trips.

Request *types* are the most frequent origin-destination zone pairs of a trip sample;
the arrival probability of type ``v`` in step ``t`` is fitted separably, by zone pair
and by time of day::

    rate[v, t] = requests_per_step * share[v] * profile[t]
    p[v, t]    = 1 - exp(-rate[v, t])        (at least one Poisson arrival in the step)

with ``share[v]`` the pair's share of the kept trips and ``profile[t]`` the trips of the
whole sample starting in step ``t``'s time-of-day window, relative to the mean over the
modelled steps. ``requests_per_step`` sets the demand level (the sample is a thin draw
from a month of trips, so its absolute counts are not a rate).

Groups are the feasible groups of types (:func:`scheduling.pooling.feasible_groups`,
all riders requesting at the same instant, under ``max_wait`` and ``max_detour``); each
vehicle stands at a depot (the nodes of the busiest origin zones, in turn) and an edge
(vehicle, group) exists when its best route meets every limit; its duration is the
route's driving time including the return to the depot, in whole steps (rounded up),
and its value the number of riders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matching.model import Instance
from matching.rideshare import RideshareModel
from scheduling.pooling import Requests, feasible_groups, vehicle_group_edges
from scheduling.roads import RoadNetwork

__all__ = [
    "FittedRideModel",
    "types_model",
    "fit_ride_model",
    "grid_zone_trips",
    "nearest_zone",
    "nyc_zone_trips",
]


@dataclass(frozen=True)
class FittedRideModel:
    """A fitted model and what it was fitted from.

    Attributes
    ----------
    model : RideshareModel
    pairs : list of (zone, zone)
        The zone pair of each request type.
    origin_node, dest_node : ndarray of int
        Network node of each type's ends.
    depots : ndarray of int
        Node of each depot (the model's resources; capacity = vehicles there).
    rate : ndarray, shape (V, T)
        Fitted expected arrivals per type and step.
    n_trips : int
        Trips the fit used.
    """

    model: RideshareModel
    pairs: list[tuple[int, int]]
    origin_node: np.ndarray
    dest_node: np.ndarray
    depots: np.ndarray
    rate: np.ndarray
    n_trips: int


def nearest_zone(
    lat: np.ndarray, lon: np.ndarray, centroids: Mapping[int, tuple[float, float]]
) -> np.ndarray:
    """Zone id of the nearest centroid to each point (planar approximation).

    Examples
    --------
    >>> nearest_zone(np.array([40.7, 40.8]), np.array([-74.0, -73.9]),
    ...              {1: (40.71, -74.0), 2: (40.79, -73.91)}).tolist()
    [1, 2]
    """
    from scipy.spatial import cKDTree

    if not centroids:
        raise ValueError("centroids must name at least one zone")
    ids = np.array(list(centroids), dtype=np.int64)
    pts = np.array([centroids[z] for z in ids.tolist()], dtype=float)
    scale = math.cos(math.radians(float(np.mean(pts[:, 0]))))
    tree = cKDTree(np.column_stack([pts[:, 0], pts[:, 1] * scale]))
    _, idx = tree.query(np.column_stack([np.asarray(lat), np.asarray(lon) * scale]))
    return ids[idx]


def grid_zone_trips(
    network: RoadNetwork, n: int, *, zones_per_side: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, int]]:
    """Synthetic trips on a generated city, with the city cut into square zones.

    Origins are drawn with a weight that peaks at the centre (a downtown), destinations
    uniformly; times of day uniformly between 07:00 and 10:00. Returns ``(origin_zone,
    dest_zone, time_of_day_s, zone_node)`` for :func:`fit_ride_model`.

    Examples
    --------
    >>> o, d, tod, zn = grid_zone_trips(RoadNetwork.grid(6), 100, zones_per_side=2)
    >>> sorted(zn), int(o.size)
    ([0, 1, 2, 3], 100)
    """
    rng = np.random.default_rng(seed)
    xy = network.xy
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    cell = np.minimum(
        ((xy - lo) / np.maximum(hi - lo, 1e-9) * zones_per_side).astype(int), zones_per_side - 1
    )
    zone_of_node = cell[:, 1] * zones_per_side + cell[:, 0]
    centre = (lo + hi) / 2
    dist = np.linalg.norm(xy - centre, axis=1)
    weight = np.exp(-dist / max(float(dist.mean()), 1e-9))
    weight /= weight.sum()
    o = rng.choice(network.num_nodes, size=n, p=weight)
    d = (o + rng.integers(1, network.num_nodes, size=n)) % network.num_nodes
    tod = rng.uniform(7 * 3600, 10 * 3600, size=n)
    zone_node = {}
    for z in np.unique(zone_of_node).tolist():
        members = np.flatnonzero(zone_of_node == z)
        zone_node[z] = int(
            members[np.argmin(np.linalg.norm(xy[members] - xy[members].mean(0), axis=1))]
        )
    return zone_of_node[o], zone_of_node[d], tod, zone_node


def nyc_zone_trips(
    trips_file: str | Path, centroids_file: str | Path, network: RoadNetwork
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, int]]:
    """NYC trips as zone pairs on ``network``, for :func:`fit_ride_model`.

    Loads ``trips_file`` with :func:`~scheduling.trips.load_trips` (columns detected,
    zone-id files placed through the centroids, bad rows skipped and counted), keeps the
    taxi zones whose centroid lies within the network's bounds, assigns every trip end to
    its nearest such zone and every zone to the network node nearest its centroid.
    Returns ``(origin_zone, dest_zone, time_of_day_s, zone_node)``.
    """
    from scheduling.trips import load_trips, load_zone_centroids

    centroids = load_zone_centroids(centroids_file)
    trips = load_trips(trips_file, centroids=centroids, on_bad_row="skip")
    lat0, lon0, lat1, lon1 = network.bounds(margin_km=0.0)
    inside = {z: c for z, c in centroids.items() if lat0 <= c[0] <= lat1 and lon0 <= c[1] <= lon1}
    if not inside:
        raise ValueError(f"no zone centroid of {centroids_file} lies within the network")
    nodes, _ = network.nearest_node(
        np.array([c[0] for c in inside.values()]), np.array([c[1] for c in inside.values()])
    )
    zone_node = dict(zip(inside, nodes.tolist(), strict=True))
    oz = nearest_zone(trips.origin_lat, trips.origin_lon, inside)
    dz = nearest_zone(trips.dest_lat, trips.dest_lon, inside)
    s = trips.start
    offset = 0.0 if s is None else s.hour * 3600 + s.minute * 60 + s.second
    tod = (offset + trips.request_time) % 86400.0
    return oz, dz, tod, zone_node


def types_model(
    network: RoadNetwork,
    origin_node: np.ndarray,
    dest_node: np.ndarray,
    p: np.ndarray,
    depots: np.ndarray,
    capacity: np.ndarray,
    *,
    k: int,
    step_s: float,
    max_wait: float,
    max_detour: float,
) -> RideshareModel:
    """Build the ridesharing model of types standing at ``(origin_node, dest_node)``.

    Groups are the feasible groups of up to ``k`` types (all requesting at the same
    instant); resource ``u`` is a depot at ``depots[u]`` holding ``capacity[u]``
    vehicles; an edge (depot, group) exists when its best route (return to the depot
    included) meets every limit, lasts that route in whole steps of ``step_s`` (at least
    one) and is worth the group's riders.

    Raises
    ------
    ValueError
        When no depot can serve any type within the limits (the model would serve
        nothing).

    Examples
    --------
    >>> net = RoadNetwork.grid(4, spacing_km=0.3, speed_kmh=25.0)
    >>> m = types_model(net, np.array([0, 1]), np.array([15, 14]), np.full((2, 3), 0.5),
    ...                 np.array([0]), np.array([2]), k=2, step_s=60.0,
    ...                 max_wait=300.0, max_detour=600.0)
    >>> m.k, m.n_vehicles
    (2, 2)
    """
    requests = Requests.from_network(network, origin_node, dest_node, 0.0, max_wait, max_detour)
    groups = feasible_groups(requests, network, max_size=k)
    depots = np.asarray(depots, dtype=np.int64)
    edges = vehicle_group_edges(depots, 0.0, depots, groups, requests, network)
    if len(edges) == 0:
        raise ValueError(
            f"no depot region reaches any request type within max_wait = {max_wait} s "
            f"(and max_detour = {max_detour} s) on the typical trips: the model would "
            "serve nothing; widen the limits or add depots or regions"
        )
    sizes = np.array([len(g) for g in groups.groups], dtype=np.int64)
    types = Instance.from_arrays(
        group_ptr=np.concatenate([[0], np.cumsum(sizes)]),
        group_members=np.array([v for g in groups.groups for v in g], dtype=np.int64),
        edge_resource=edges.vehicle,
        edge_group=edges.group,
        edge_weight=sizes[edges.group].astype(float),
        edge_load=np.ones(len(edges)),
        edge_duration=np.maximum(1, np.ceil(edges.cost / step_s)),
        capacity=np.asarray(capacity, dtype=float),
        n_requests=len(requests),
    )
    return RideshareModel(types, p)


def fit_ride_model(
    origin_zone: np.ndarray,
    dest_zone: np.ndarray,
    time_of_day_s: np.ndarray,
    zone_node: Mapping[int, int],
    network: RoadNetwork,
    *,
    n_types: int = 10,
    n_vehicles: int = 4,
    n_depots: int | None = None,
    k: int = 2,
    start_hour: float = 8.0,
    step_s: float = 300.0,
    n_steps: int = 12,
    requests_per_step: float = 2.0,
    max_wait: float = 300.0,
    max_detour: float = 600.0,
) -> FittedRideModel:
    """Fit a :class:`~matching.rideshare.RideshareModel` (see the module docstring).

    Parameters
    ----------
    origin_zone, dest_zone : array_like of int
        Zone of each trip's ends; trips with an end in a zone missing from
        ``zone_node`` are left out.
    time_of_day_s : array_like of float
        Each trip's request time of day in seconds (0 .. 86400).
    zone_node : mapping
        The network node standing for each zone.
    network : RoadNetwork
    n_types, n_vehicles, k : int
        Request types (most frequent zone pairs), vehicles, largest group.
    n_depots : int, optional
        Depots at the busiest origin zones (default: one per vehicle, at most one per
        zone); the vehicles are spread over them in turn and each depot is one resource
        whose capacity is its number of vehicles.
    start_hour, step_s, n_steps : float, float, int
        The modelled window: ``n_steps`` steps of ``step_s`` seconds from ``start_hour``.
    requests_per_step : float
        Expected requests per step over all types (the demand level).
    max_wait, max_detour : float
        Rider limits in seconds (see :mod:`scheduling.pooling`).

    Examples
    --------
    >>> net = RoadNetwork.grid(6, spacing_km=0.4, speed_kmh=25.0)
    >>> fit = fit_ride_model(*grid_zone_trips(net, 500, zones_per_side=2), net,
    ...                      n_types=4, n_vehicles=2, k=2, n_steps=4)
    >>> fit.model.p.shape, int(fit.model.types.capacity.sum()), len(fit.pairs)
    ((4, 4), 2, 4)
    """
    o = np.asarray(origin_zone, dtype=np.int64)
    d = np.asarray(dest_zone, dtype=np.int64)
    tod = np.asarray(time_of_day_s, dtype=float)
    if not (o.shape == d.shape == tod.shape and o.ndim == 1):
        raise ValueError("origin_zone, dest_zone and time_of_day_s must be 1-d of equal length")
    for name, value, least in (
        ("n_types", n_types, 1),
        ("n_vehicles", n_vehicles, 1),
        ("n_depots", 1 if n_depots is None else n_depots, 1),
        ("n_steps", n_steps, 1),
        ("k", k, 1),
    ):
        if not (isinstance(value, int) and value >= least):
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    if n_depots is not None and n_depots > n_vehicles:
        raise ValueError(
            f"n_depots ({n_depots}) exceeds n_vehicles ({n_vehicles}): a depot holds vehicles"
        )
    if not (step_s > 0 and requests_per_step > 0):
        raise ValueError("step_s and requests_per_step must be positive")
    known = np.array([z in zone_node for z in o.tolist()], bool) & np.array(
        [z in zone_node for z in d.tolist()], bool
    )
    keep = known & (o != d)
    o, d, tod = o[keep], d[keep], tod[keep]
    if o.size == 0:
        raise ValueError("no trip joins two different known zones")
    pairs, counts = np.unique(np.column_stack([o, d]), axis=0, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:n_types]
    pairs, counts = pairs[top], counts[top]
    share = counts / counts.sum()
    window = start_hour * 3600 + step_s * np.arange(n_steps + 1)
    per_step = np.histogram(np.mod(tod, 86400.0), bins=window)[0].astype(float)
    profile = per_step / per_step.mean() if per_step.sum() > 0 else np.ones(n_steps)
    rate = requests_per_step * share[:, None] * profile[None, :]
    p = 1.0 - np.exp(-rate)
    o_node = np.array([zone_node[int(z)] for z in pairs[:, 0]], dtype=np.int64)
    d_node = np.array([zone_node[int(z)] for z in pairs[:, 1]], dtype=np.int64)
    zones, zone_count = np.unique(o, return_counts=True)
    busiest = zones[np.argsort(-zone_count, kind="stable")].tolist()
    n_res = min(n_vehicles, len(busiest)) if n_depots is None else n_depots
    # vehicle i waits at the (i mod n_res)-th busiest origin zone; one resource per depot
    per_depot = np.bincount(np.arange(n_vehicles) % n_res, minlength=n_res)
    depots = np.array([zone_node[int(busiest[i % len(busiest)])] for i in range(n_res)])
    model = types_model(
        network,
        o_node,
        d_node,
        p,
        depots,
        per_depot,
        k=k,
        step_s=step_s,
        max_wait=max_wait,
        max_detour=max_detour,
    )
    return FittedRideModel(
        model, [(int(a), int(b)) for a, b in pairs], o_node, d_node, depots, rate, int(o.size)
    )
