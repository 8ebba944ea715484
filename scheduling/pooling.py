"""Ride-pooling shareability and feasible groups on a road network (RTV-style).

The pieces of a request-trip-vehicle (RTV) dispatch batch, with travel times in seconds
from a :class:`scheduling.roads.RoadNetwork` (or any vectorised ``time(origins,
destinations)`` function):

* :class:`Requests` holds the riders as arrays;
* :func:`best_route` finds the cheapest valid pickup/dropoff order for a group and a
  vehicle, exactly, by enumerating every order (groups of at most 4 riders);
* :func:`shareable_pairs` and :func:`feasible_groups` build all feasible groups level by
  level (a group is tried only if all its subgroups are feasible);
* :func:`vehicle_group_edges` prices every feasible (vehicle, group) pair.

Definitions (all times in seconds)
----------------------------------
``direct``
    Shortest travel time from a rider's origin to its destination.
Waiting
    A vehicle may arrive at a pickup early, but it may not pick the rider up before the
    request time: it idles until then. A rider's *wait* is ``pickup_time -
    request_time`` and must be at most ``max_wait``.
Detour
    An absolute number of seconds (not a factor). A rider's *detour* is its delay
    against a direct trip starting at the request time, ``dropoff_time - (request_time
    + direct)`` (so it includes the wait), and must be at most ``max_detour``: the
    rider is delivered no later than ``request_time + direct + max_detour``.
Route cost
    Total driving time from the vehicle's start over all stops, plus the return leg to
    ``return_to`` when given. Idle time is not a cost. Stops take no time. Vehicle
    capacity is assumed to be at least the group size.
Group feasibility (vehicle-independent)
    A group is feasible when some order of its stops meets every rider's limits for an
    ideal vehicle that stands at the order's first pickup at that rider's request time.
    This is monotone (dropping a rider from a feasible order leaves a feasible order,
    by the triangle inequality of shortest paths and the waiting rule), so building
    groups level by level from feasible subgroups finds exactly all feasible groups.
Shareable pair
    A feasible group of two riders in the sense above.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from scheduling.roads import RoadNetwork

__all__ = [
    "MAX_EXACT_GROUP",
    "GroupEnumeration",
    "Requests",
    "Route",
    "Routes",
    "VehicleGroupEdges",
    "best_partner_pairs",
    "best_route",
    "feasible_groups",
    "shareable_pairs",
    "valid_orders",
    "vehicle_group_edges",
]

MAX_EXACT_GROUP = 4
"""Largest group :func:`best_route` solves (by exact enumeration of orders)."""

TimeSource = RoadNetwork | Callable[[np.ndarray, np.ndarray], np.ndarray]
_CHUNK_ELEMENTS = 2_000_000


def _time_matrix(times: TimeSource, nodes: np.ndarray) -> np.ndarray:
    """Travel times between all pairs of ``nodes`` (square matrix, seconds)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if isinstance(times, RoadNetwork):
        return np.asarray(times.travel_time_matrix(nodes), dtype=float)
    if not callable(times):
        raise TypeError(
            f"network must be a RoadNetwork or a callable time(origins, destinations), "
            f"got {type(times).__name__}"
        )
    out = np.asarray(times(nodes[:, None], nodes[None, :]), dtype=float)
    if out.shape != (nodes.size, nodes.size):
        raise ValueError(
            f"time function returned shape {out.shape}, expected {(nodes.size, nodes.size)}"
        )
    return out


def _as_1d(name: str, values: object, n: int | None, dtype: type) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=dtype))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.size == 1 and n != 1:
        arr = np.full(n, arr[0], dtype=dtype)
    if n is not None and arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries, expected {n}")
    return arr


@dataclass(frozen=True)
class Requests:
    """Ride requests as arrays, one entry per rider.

    Build with :meth:`from_network`, which computes ``direct`` from the network.

    Attributes
    ----------
    origin, destination : ndarray of int
        Node indices.
    request_time : ndarray of float
        When the rider asks (s); no pickup happens earlier.
    max_wait : ndarray of float
        Latest pickup is ``request_time + max_wait`` (s, non-negative).
    max_detour : ndarray of float
        Latest dropoff is ``request_time + direct + max_detour`` (s, non-negative,
        absolute seconds, includes the wait).
    direct : ndarray of float
        Shortest origin-to-destination time (s, finite).
    """

    origin: np.ndarray
    destination: np.ndarray
    request_time: np.ndarray
    max_wait: np.ndarray
    max_detour: np.ndarray
    direct: np.ndarray

    def __post_init__(self) -> None:
        n = np.atleast_1d(np.asarray(self.origin)).size
        for name, dtype in [
            ("origin", np.int64),
            ("destination", np.int64),
            ("request_time", float),
            ("max_wait", float),
            ("max_detour", float),
            ("direct", float),
        ]:
            arr = _as_1d(name, getattr(self, name), n, dtype)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        for name in ("request_time", "direct"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{name} must be finite (unreachable destination?)")
        for name in ("max_wait", "max_detour", "direct"):
            arr = getattr(self, name)
            if np.isnan(arr).any() or (arr < 0).any():
                raise ValueError(f"{name} must be non-negative, got {arr[~(arr >= 0)][:5]}")
        if (self.origin < 0).any() or (self.destination < 0).any():
            raise ValueError("origin and destination must be non-negative node indices")

    def __len__(self) -> int:
        return int(self.origin.size)

    @property
    def latest_pickup(self) -> np.ndarray:
        """``request_time + max_wait`` (s)."""
        return self.request_time + self.max_wait

    @property
    def latest_dropoff(self) -> np.ndarray:
        """``request_time + direct + max_detour`` (s)."""
        return self.request_time + self.direct + self.max_detour

    @classmethod
    def from_network(
        cls,
        network: TimeSource,
        origin: Sequence[int] | np.ndarray,
        destination: Sequence[int] | np.ndarray,
        request_time: float | Sequence[float] | np.ndarray,
        max_wait: float | Sequence[float] | np.ndarray,
        max_detour: float | Sequence[float] | np.ndarray,
    ) -> Requests:
        """Build requests with ``direct`` computed from ``network``; scalars broadcast.

        Examples
        --------
        >>> from scheduling.roads import RoadNetwork
        >>> from scheduling.pooling import Requests
        >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
        >>> req = Requests.from_network(net, [0, 1], [8, 5], [0.0, 10.0], 120.0, 300.0)
        >>> req.direct.tolist(), req.latest_dropoff.tolist()
        ([240.0, 120.0], [540.0, 430.0])
        """
        o = _as_1d("origin", origin, None, np.int64)
        d = _as_1d("destination", destination, o.size, np.int64)
        if o.size == 0:
            direct = np.zeros(0)
        elif isinstance(network, RoadNetwork):
            direct = network.travel_time(o, d)
        else:
            direct = np.asarray(network(o, d), dtype=float)
        return cls(o, d, request_time, max_wait, max_detour, direct)

    @classmethod
    def random(
        cls,
        network: RoadNetwork,
        n: int,
        *,
        horizon: float = 600.0,
        max_wait: float = 300.0,
        max_detour: float = 600.0,
        seed: int | None = None,
    ) -> Requests:
        """``n`` requests with uniform random distinct origin/destination nodes and times.

        Request times are uniform on ``[0, horizon)`` and sorted.

        Examples
        --------
        >>> from scheduling.roads import RoadNetwork
        >>> from scheduling.pooling import Requests
        >>> len(Requests.random(RoadNetwork.grid(5), 10, seed=1))
        10
        """
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        if network.num_nodes < 2:
            raise ValueError("the network needs at least 2 nodes for random requests")
        rng = np.random.default_rng(seed)
        o = rng.integers(0, network.num_nodes, n)
        d = (o + rng.integers(1, network.num_nodes, n)) % network.num_nodes
        t = np.sort(rng.random(n) * horizon)
        return cls.from_network(network, o, d, t, max_wait, max_detour)


@dataclass(frozen=True)
class Route:
    """A vehicle's stop sequence for one group, with its times.

    Attributes
    ----------
    riders : tuple of int
        The group (request indices, sorted).
    stops : tuple of (int, str)
        ``(request index, "pickup" | "dropoff")`` in visiting order.
    nodes : tuple of int
        Node of each stop.
    arrival : ndarray of float
        When the vehicle reaches each stop (s).
    times : ndarray of float
        When each stop is served: ``max(arrival, request_time)`` at pickups (the vehicle
        idles), ``arrival`` at dropoffs.
    wait, detour : ndarray of float
        Per rider, in the order of :attr:`riders`: ``pickup - request_time`` and
        ``dropoff - request_time - direct``.
    cost : float
        Total driving time (s), including the leg to :attr:`return_to` when given.
    end_time : float
        Time of arrival at :attr:`return_to`, or of the last dropoff.
    start_node, start_time, return_to
        Where and when the vehicle starts, and the node it returns to (or None).
    """

    riders: tuple[int, ...]
    stops: tuple[tuple[int, str], ...]
    nodes: tuple[int, ...]
    arrival: np.ndarray
    times: np.ndarray
    wait: np.ndarray
    detour: np.ndarray
    cost: float
    end_time: float
    start_node: int
    start_time: float
    return_to: int | None = None


@cache
def valid_orders(k: int) -> np.ndarray:
    """All stop orders of ``k`` riders with each pickup before its dropoff.

    Stop ``i < k`` is rider ``i``'s pickup and stop ``k + i`` its dropoff; there are
    ``(2k)! / 2**k`` orders. Read-only array of shape ``(orders, 2k)``.

    Examples
    --------
    >>> from scheduling.pooling import valid_orders
    >>> valid_orders(2).tolist()
    [[0, 1, 2, 3], [0, 1, 3, 2], [0, 2, 1, 3], [1, 0, 2, 3], [1, 0, 3, 2], [1, 3, 0, 2]]
    >>> [len(valid_orders(k)) for k in (1, 2, 3, 4)]
    [1, 6, 90, 2520]
    """
    if not 1 <= k <= MAX_EXACT_GROUP:
        raise ValueError(f"group size must be 1..{MAX_EXACT_GROUP}, got {k}")
    out: list[tuple[int, ...]] = []
    for perm in itertools.permutations(range(2 * k)):
        pos = {s: p for p, s in enumerate(perm)}
        if all(pos[i] < pos[k + i] for i in range(k)):
            out.append(perm)
    arr = np.array(out, dtype=np.int64)
    arr.setflags(write=False)
    return arr


def _evaluate(
    D: np.ndarray,
    stop_idx: np.ndarray,
    ready: np.ndarray,
    deadline: np.ndarray,
    start_idx: np.ndarray | None,
    start_time: np.ndarray | None,
    end_idx: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best order per candidate: (cost, order index); cost ``inf`` when none is valid.

    ``stop_idx``, ``ready`` and ``deadline`` have shape ``(C, 2s)`` (pickups first, then
    dropoffs, riders in the same order); ``stop_idx``, ``start_idx`` and ``end_idx``
    index rows/columns of ``D``. ``start_idx is None`` starts every order at its first
    stop at that stop's ready time.
    """
    c, two_s = stop_idx.shape
    orders = valid_orders(two_s // 2)
    m = len(orders)
    best_cost = np.full(c, np.inf)
    best_order = np.zeros(c, dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // (m * two_s))
    for lo in range(0, c, step):
        sl = slice(lo, min(c, lo + step))
        seq = stop_idx[sl][:, orders]
        rdy = ready[sl][:, orders]
        dl = deadline[sl][:, orders]
        if start_idx is None:
            t = rdy[:, :, 0].copy()
            cost = np.zeros(t.shape)
        else:
            assert start_time is not None
            cost = D[start_idx[sl, None], seq[:, :, 0]]
            t = np.maximum(start_time[sl, None] + cost, rdy[:, :, 0])
        ok = t <= dl[:, :, 0]
        for p in range(1, two_s):
            leg = D[seq[:, :, p - 1], seq[:, :, p]]
            cost = cost + leg
            t = np.maximum(t + leg, rdy[:, :, p])
            ok &= t <= dl[:, :, p]
        if end_idx is not None:
            cost = cost + D[seq[:, :, -1], end_idx[sl, None]]
        cost = np.where(ok, cost, np.inf)
        arg = np.argmin(cost, axis=1)
        best_order[sl] = arg
        best_cost[sl] = cost[np.arange(arg.size), arg]
    return best_cost, best_order


class _Batch:
    """Travel times over a node set plus the request arrays, for batched evaluation."""

    def __init__(self, times: TimeSource, requests: Requests, extra: np.ndarray) -> None:
        self.req = requests
        nodes = np.unique(
            np.concatenate([requests.origin, requests.destination, np.asarray(extra, np.int64)])
        )
        self.nodes = nodes
        self.D = _time_matrix(times, nodes) if nodes.size else np.zeros((0, 0))
        self.o_idx = np.searchsorted(nodes, requests.origin)
        self.d_idx = np.searchsorted(nodes, requests.destination)
        self.ready = requests.request_time
        self.lp = requests.latest_pickup
        self.ld = requests.latest_dropoff

    def local(self, node_array: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.nodes, np.asarray(node_array, dtype=np.int64))

    def stops(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(C, 2s)`` stop indices, ready times and deadlines for groups ``(C, s)``."""
        stop_idx = np.concatenate([self.o_idx[groups], self.d_idx[groups]], axis=1)
        ready = np.concatenate([self.ready[groups], np.full(groups.shape, -np.inf)], axis=1)
        deadline = np.concatenate([self.lp[groups], self.ld[groups]], axis=1)
        return stop_idx, ready, deadline

    def route(
        self,
        group: Sequence[int],
        order: np.ndarray,
        start_node: int | None,
        start_time: float | None,
        return_to: int | None,
    ) -> Route:
        """Recompute the route of ``group`` in ``order`` (stop numbering of ``stops``)."""
        s = len(group)
        req = self.req
        riders = [int(r) for r in group]
        stop_rider = [riders[i % s] for i in order]
        is_pick = [i < s for i in order]
        nodes = [
            int(req.origin[r]) if pk else int(req.destination[r])
            for r, pk in zip(stop_rider, is_pick, strict=True)
        ]
        loc = self.local(np.array(nodes))
        if start_node is None:
            start_node = nodes[0]
            start_time = float(req.request_time[stop_rider[0]])
        assert start_time is not None
        prev = int(self.local(np.array([start_node]))[0])
        t = float(start_time)
        cost = 0.0
        arrival, served = [], []
        pick_t: dict[int, float] = {}
        drop_t: dict[int, float] = {}
        for r, pk, li in zip(stop_rider, is_pick, loc, strict=True):
            leg = float(self.D[prev, li])
            cost += leg
            arr = t + leg
            t = max(arr, float(req.request_time[r])) if pk else arr
            arrival.append(arr)
            served.append(t)
            (pick_t if pk else drop_t)[r] = t
            prev = int(li)
        if return_to is not None:
            leg = float(self.D[prev, int(self.local(np.array([return_to]))[0])])
            cost += leg
            t += leg
        rs = np.array(riders)
        return Route(
            riders=tuple(riders),
            stops=tuple(
                (r, "pickup" if pk else "dropoff")
                for r, pk in zip(stop_rider, is_pick, strict=True)
            ),
            nodes=tuple(nodes),
            arrival=np.array(arrival),
            times=np.array(served),
            wait=np.array([pick_t[r] for r in riders]) - req.request_time[rs],
            detour=np.array([drop_t[r] for r in riders]) - req.request_time[rs] - req.direct[rs],
            cost=cost,
            end_time=t,
            start_node=int(start_node),
            start_time=float(start_time),
            return_to=None if return_to is None else int(return_to),
        )


class Routes(Sequence[Route]):
    """The routes of an enumeration or of priced edges, each built when first read.

    Pricing finds every best order in one vectorised pass; the :class:`Route` objects
    (stops, times, waits, detours) are only worth building for the few pairs a caller
    looks at, so they are made on access and kept.
    """

    def __init__(
        self,
        batch: _Batch,
        specs: list[tuple[tuple[int, ...], np.ndarray, int | None, float | None, int | None]],
    ) -> None:
        self._batch = batch
        self._specs = specs
        self._built: dict[int, Route] = {}

    def __len__(self) -> int:
        return len(self._specs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # normalises negatives, raises IndexError
        route = self._built.get(i)
        if route is None:
            route = self._built[i] = self._batch.route(*self._specs[i])
        return route


def _check_group(riders: Iterable[int], n: int) -> tuple[int, ...]:
    group = tuple(sorted(int(r) for r in riders))
    if not group:
        raise ValueError("riders must name at least one request")
    if len(set(group)) != len(group):
        raise ValueError(f"riders must be distinct, got {group}")
    if group[0] < 0 or group[-1] >= n:
        raise ValueError(f"riders must be request indices in [0, {n}), got {group}")
    if len(group) > MAX_EXACT_GROUP:
        raise ValueError(
            f"best_route enumerates orders exactly only for groups of at most "
            f"{MAX_EXACT_GROUP} riders, got {len(group)}"
        )
    return group


def best_route(
    network_or_time_fn: TimeSource,
    start_node: int,
    start_time: float,
    riders: Iterable[int],
    requests: Requests,
    *,
    return_to: int | None = None,
) -> Route | None:
    """Cheapest valid stop order for a vehicle serving ``riders``, or None if none is valid.

    Every order with each pickup before its dropoff is tried (exact; at most
    ``MAX_EXACT_GROUP`` = 4 riders, 2520 orders). The vehicle leaves ``start_node`` at
    ``start_time``, idles at a pickup reached before the request time, and must pick
    each rider up by ``request_time + max_wait`` and drop it off by ``request_time +
    direct + max_detour``. The cost is the total driving time, including the leg to
    ``return_to`` when given; ties go to the first order of :func:`valid_orders`.

    Parameters
    ----------
    network_or_time_fn : RoadNetwork or callable
        Travel times: a network, or a vectorised ``time(origins, destinations)``.
    start_node : int
        The vehicle's node.
    start_time : float
        When the vehicle is free there (s).
    riders : iterable of int
        Request indices of the group (1 to 4 distinct).
    requests : Requests
    return_to : int, optional
        Node the vehicle drives to after the last dropoff (its depot).

    Returns
    -------
    Route or None

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> from scheduling.pooling import Requests, best_route
    >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)  # 60 s per block
    >>> req = Requests.from_network(net, [0, 1], [8, 5], [0.0, 0.0], 120.0, 300.0)
    >>> r = best_route(net, 0, 0.0, [0, 1], req)
    >>> r.stops
    ((0, 'pickup'), (1, 'pickup'), (1, 'dropoff'), (0, 'dropoff'))
    >>> r.cost, r.end_time, r.wait.tolist(), r.detour.tolist()
    (240.0, 240.0, [0.0, 60.0], [0.0, 60.0])
    >>> best_route(net, 0, 0.0, [0, 1], req, return_to=0).cost  # plus 240 s back to 0
    480.0
    >>> best_route(net, 8, 0.0, [0, 1], req) is None  # too far to pick up in time
    True
    """
    group = _check_group(riders, len(requests))
    extra = [start_node] + ([] if return_to is None else [return_to])
    batch = _Batch(network_or_time_fn, requests, np.array(extra, dtype=np.int64))
    if not np.isfinite(start_time):
        raise ValueError(f"start_time must be finite, got {start_time}")
    g = np.array([group])
    stop_idx, ready, deadline = batch.stops(g)
    end = None if return_to is None else batch.local(np.array([return_to]))
    cost, order = _evaluate(
        batch.D,
        stop_idx,
        ready,
        deadline,
        batch.local(np.array([start_node])),
        np.array([float(start_time)]),
        end,
    )
    if not np.isfinite(cost[0]):
        return None
    return batch.route(
        group, valid_orders(len(group))[order[0]], start_node, start_time, return_to
    )


@dataclass(frozen=True)
class GroupEnumeration:
    """All feasible groups up to a size, with their vehicle-independent best routes.

    Attributes
    ----------
    groups : list of tuple of int
        Feasible groups (sorted request indices), by size, then lexicographically.
    routes : sequence of Route
        Each group's best route started at its first pickup (no return leg), built
        when read.
    counts : dict of int to int
        Feasible groups per size.
    tried : dict of int to int
        Candidates evaluated per size (those whose subgroups were all feasible).
    seconds : float
        Wall time of the enumeration.
    seconds_by_size : dict of int to float
    """

    groups: list[tuple[int, ...]]
    routes: Sequence[Route]
    counts: dict[int, int]
    tried: dict[int, int]
    seconds: float
    seconds_by_size: dict[int, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.groups)


def _next_candidates(level: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Size ``s + 1`` sets all of whose size-``s`` subsets are in ``level`` (sorted)."""
    feasible = set(level)
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    for g in level:
        by_prefix.setdefault(g[:-1], []).append(g[-1])
    out: list[tuple[int, ...]] = []
    for prefix, lasts in by_prefix.items():
        lasts.sort()
        for a, b in itertools.combinations(lasts, 2):
            cand = (*prefix, a, b)
            if all(cand[:i] + cand[i + 1 :] in feasible for i in range(len(prefix))):
                out.append(cand)
    out.sort()
    return out


def best_partner_pairs(
    pairs: list[tuple[int, ...]], cost: np.ndarray, direct: np.ndarray, m: int
) -> list[tuple[int, ...]]:
    """Pairs that are among both riders' ``m`` best partners.

    A partner is better the more driving time the pair saves against two direct trips
    (``direct[a] + direct[b] - cost``, ``cost`` the pair's route cost); ties go to the
    earlier pair.

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    >>> req = Requests.from_network(net, [0, 0, 0], [8, 8, 2], 0.0, 300.0, 600.0)
    >>> e = feasible_groups(req, net, max_size=2)
    >>> pairs = [(g, r) for g, r in zip(e.groups, e.routes) if len(g) == 2]
    >>> costs = np.array([r.cost for _, r in pairs])
    >>> best_partner_pairs([g for g, _ in pairs], costs, req.direct, 1)
    [(0, 1)]
    """
    if not pairs:
        return []
    a = np.array([g[0] for g in pairs])
    b = np.array([g[1] for g in pairs])
    saving = direct[a] + direct[b] - np.asarray(cost, dtype=float)
    rider = np.concatenate([a, b])
    pair = np.tile(np.arange(a.size), 2)
    order = np.lexsort((pair, -np.tile(saving, 2), rider))
    start = np.searchsorted(rider[order], rider[order], side="left")
    rank = np.empty(rider.size, dtype=np.int64)
    rank[order] = np.arange(rider.size) - start
    keep = (rank[: a.size] < m) & (rank[a.size :] < m)
    return [pairs[i] for i in np.flatnonzero(keep).tolist()]


def feasible_groups(
    requests: Requests,
    network: TimeSource,
    *,
    max_size: int = 2,
    max_partners: int | None = None,
) -> GroupEnumeration:
    """All feasible groups of 1..``max_size`` riders, built level by level.

    A group is feasible when some order meets all its riders' limits for a vehicle that
    stands at the order's first pickup at that rider's request time (see the module
    docstring); a group of size ``s`` is evaluated only when all its subgroups of size
    ``s - 1`` are feasible, which loses nothing since feasibility is monotone. Each
    level is evaluated in one vectorised batch over all candidates and orders.

    Parameters
    ----------
    requests : Requests
    network : RoadNetwork or callable
    max_size : int
        Largest group, 1 to 4.
    max_partners : int, optional
        Build groups of three or more only from pairs among both riders'
        ``max_partners`` best partners (:func:`best_partner_pairs`); the feasible pairs
        themselves are all kept. ``None`` (default) builds every feasible group, exactly;
        with dense demand and loose limits the count of groups of 3 and 4 grows steeply.

    Returns
    -------
    GroupEnumeration

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> from scheduling.pooling import Requests, feasible_groups
    >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    >>> req = Requests.from_network(net, [0, 1, 8], [8, 5, 0], 0.0, 120.0, 300.0)
    >>> e = feasible_groups(req, net, max_size=3)
    >>> e.groups, e.counts
    ([(0,), (1,), (2,), (0, 1)], {1: 3, 2: 1, 3: 0})
    >>> e.routes[3].cost
    240.0
    """
    if not 1 <= max_size <= MAX_EXACT_GROUP:
        raise ValueError(f"max_size must be 1..{MAX_EXACT_GROUP}, got {max_size}")
    if max_partners is not None and not (isinstance(max_partners, int) and max_partners >= 1):
        raise ValueError(f"max_partners must be an integer >= 1 or None, got {max_partners!r}")
    t0 = time.perf_counter()
    n = len(requests)
    batch = _Batch(network, requests, np.zeros(0, dtype=np.int64))
    groups: list[tuple[int, ...]] = []
    specs: list = []
    counts: dict[int, int] = {}
    tried: dict[int, int] = {}
    by_size: dict[int, float] = {}
    level: list[tuple[int, ...]] = [(i,) for i in range(n)]
    for s in range(1, max_size + 1):
        ts = time.perf_counter()
        if s > 1:
            level = _next_candidates(level)
        tried[s] = len(level)
        kept: list[tuple[int, ...]] = []
        kept_cost = np.zeros(0)
        if level:
            g = np.array(level, dtype=np.int64)
            cost, order = _evaluate(batch.D, *batch.stops(g), None, None, None)
            orders = valid_orders(s)
            fin = np.flatnonzero(np.isfinite(cost))
            kept = [level[i] for i in fin.tolist()]
            kept_cost = cost[fin]
            specs.extend((level[i], orders[order[i]], None, None, None) for i in fin.tolist())
        groups.extend(kept)
        counts[s] = len(kept)
        level = kept
        if s == 2 and max_partners is not None:
            level = best_partner_pairs(kept, kept_cost, requests.direct, max_partners)
        by_size[s] = time.perf_counter() - ts
    routes = Routes(batch, specs)
    return GroupEnumeration(groups, routes, counts, tried, time.perf_counter() - t0, by_size)


def shareable_pairs(requests: Requests, network: TimeSource) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, that one vehicle can serve together.

    A pair is shareable when some order of its four stops meets both riders' wait and
    detour limits for a vehicle that stands at the order's first pickup at that
    rider's request time (and may not pick the other rider up before its request
    time): the size-2 groups of :func:`feasible_groups`.

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> from scheduling.pooling import Requests, shareable_pairs
    >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    >>> req = Requests.from_network(net, [0, 1, 8], [8, 5, 0], 0.0, 120.0, 300.0)
    >>> shareable_pairs(req, net)
    [(0, 1)]
    """
    e = feasible_groups(requests, network, max_size=2)
    return [(g[0], g[1]) for g in e.groups if len(g) == 2]


@dataclass(frozen=True)
class VehicleGroupEdges:
    """Feasible (vehicle, group) pairs with their best routes.

    Attributes
    ----------
    vehicle, group : ndarray of int
        Vehicle index and index into the ``groups`` passed in, one entry per edge.
    cost : ndarray of float
        Driving time of the best route (s), including the return to the depot when asked.
    routes : sequence of Route (built when read)
    seconds : float
    """

    vehicle: np.ndarray
    group: np.ndarray
    cost: np.ndarray
    routes: Sequence[Route]
    seconds: float

    def __len__(self) -> int:
        return int(self.vehicle.size)


def vehicle_group_edges(
    vehicles_nodes: Sequence[int] | np.ndarray,
    vehicle_free_time: float | Sequence[float] | np.ndarray,
    depots: Sequence[int] | np.ndarray | None,
    groups: GroupEnumeration | Sequence[Sequence[int]],
    requests: Requests,
    network: TimeSource,
    *,
    return_to_depot: bool = True,
    candidates: np.ndarray | None = None,
) -> VehicleGroupEdges:
    """Best route and cost for every feasible (vehicle, group) pair.

    Vehicle ``v`` is free at ``vehicles_nodes[v]`` at ``vehicle_free_time[v]`` and, with
    ``return_to_depot``, drives back to ``depots[v]`` after its last dropoff (the leg
    counts in the cost). Pairs where the vehicle cannot reach some rider's origin by
    that rider's latest pickup are skipped before evaluation (a necessary condition);
    the rest are solved exactly as in :func:`best_route`, batched per group size.
    ``candidates``, a boolean ``(vehicles, groups)`` mask, restricts the pairs priced
    further (e.g. to each group's nearest vehicles).

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> from scheduling.pooling import Requests, feasible_groups, vehicle_group_edges
    >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
    >>> req = Requests.from_network(net, [0, 1], [8, 5], 0.0, 120.0, 300.0)
    >>> groups = feasible_groups(req, net, max_size=2)
    >>> e = vehicle_group_edges([0, 8], 0.0, [0, 8], groups, req, net)
    >>> list(zip(e.vehicle.tolist(), [groups.groups[g] for g in e.group], e.cost.tolist()))
    [(0, (0,), 480.0), (0, (1,), 360.0), (0, (0, 1), 480.0)]
    """
    t0 = time.perf_counter()
    vn = _as_1d("vehicles_nodes", vehicles_nodes, None, np.int64)
    nv = vn.size
    vt = _as_1d("vehicle_free_time", vehicle_free_time, nv, float)
    if not np.isfinite(vt).all():
        raise ValueError("vehicle_free_time must be finite")
    if return_to_depot:
        if depots is None:
            raise ValueError("depots are required when return_to_depot is True")
        dep = _as_1d("depots", depots, nv, np.int64)
    else:
        dep = vn
    glist = groups.groups if isinstance(groups, GroupEnumeration) else list(groups)
    n = len(requests)
    checked = [_check_group(g, n) for g in glist]
    batch = _Batch(network, requests, np.concatenate([vn, dep]))
    v_loc, d_loc = batch.local(vn), batch.local(dep)
    # reach[v, i]: vehicle v can get to rider i's origin by its latest pickup.
    reach = vt[:, None] + batch.D[v_loc][:, batch.o_idx] <= batch.lp[None, :]
    if candidates is not None:
        candidates = np.asarray(candidates, dtype=bool)
        if candidates.shape != (nv, len(checked)):
            raise ValueError(
                f"candidates must be a bool mask of shape (vehicles={nv}, groups="
                f"{len(checked)}), got {candidates.shape}"
            )
    out_v: list[np.ndarray] = []
    out_g: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    out_o: list[np.ndarray] = []
    for s in sorted({len(g) for g in checked}):
        gi = np.array([i for i, g in enumerate(checked) if len(g) == s], dtype=np.int64)
        garr = np.array([checked[i] for i in gi], dtype=np.int64)
        ok = reach[:, garr].all(axis=2)  # (V, G_s)
        if candidates is not None:
            ok &= candidates[:, gi]
        vv, gg = np.nonzero(ok)
        if vv.size == 0:
            continue
        stop_idx, ready, deadline = batch.stops(garr[gg])
        end = d_loc[vv] if return_to_depot else None
        cost, order = _evaluate(batch.D, stop_idx, ready, deadline, v_loc[vv], vt[vv], end)
        fin = np.isfinite(cost)
        out_v.append(vv[fin])
        out_g.append(gi[gg[fin]])
        out_c.append(cost[fin])
        out_o.append(order[fin])
    if out_v:
        v_all = np.concatenate(out_v)
        g_all = np.concatenate(out_g)
        c_all = np.concatenate(out_c)
        o_all = np.concatenate(out_o)
        srt = np.lexsort((g_all, v_all))
        v_all, g_all, c_all, o_all = v_all[srt], g_all[srt], c_all[srt], o_all[srt]
    else:
        v_all = g_all = o_all = np.zeros(0, dtype=np.int64)
        c_all = np.zeros(0)
    routes = Routes(
        batch,
        [
            (
                checked[g],
                valid_orders(len(checked[g]))[o],
                int(vn[v]),
                float(vt[v]),
                int(dep[v]) if return_to_depot else None,
            )
            for v, g, o in zip(v_all.tolist(), g_all.tolist(), o_all.tolist(), strict=True)
        ],
    )
    return VehicleGroupEdges(v_all, g_all, c_all, routes, time.perf_counter() - t0)
