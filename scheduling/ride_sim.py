"""Ride-pooling simulator: demand, a fleet and a :class:`~scheduling.dispatch.Dispatcher`.

The simulator runs on :class:`scheduling.sim.Simulation`: each request is an event at its
request time, and a dispatch tick every ``window`` seconds (after the requests of the
same instant) hands the dispatcher the requests that arrived since the previous tick.
The simulator owns the ground truth (each vehicle's position and free time, who was
served) and checks every assignment independently before applying it: it recomputes the
route from its stops with the network's travel times (each pickup before its dropoff,
pickups not before the request time, every rider's wait and detour within the limits,
the return to the depot), and verifies that the vehicle is idle and where the dispatcher
believes it is, and that no rider is served twice. Any violation raises
:class:`DispatchViolation`. Dispatch ticks continue after the last request until every
request is served or expired.

Metrics: service rate, mean and p95 wait, mean detour (both in s), vehicle-hours busy
(dispatch to route end, return leg included), empty km (km driven with nobody on board,
along the travel-time-shortest paths: :class:`PathLengths`), decision seconds per window
(median, p99, over the windows with something to decide: ``windows_deciding``; a window
with no pending rider or no idle vehicle takes microseconds and is left out) and feasible
groups per window.

Scenarios
---------
:func:`embedded_city` (no data): a 30 x 30 grid city (0.25 km blocks, 25 km/h with up to
30% congestion noise) and :func:`generate_demand`, a generator calibrated to NYC-like
taxi statistics: about two thirds of origins around a few hotspots, the rest uniform,
trip lengths log-normal with a median of 2.5 km (NYC yellow-cab median of about 1.6
miles), Poisson arrivals (uniform times given the count) at ``requests / duration`` per
second. :func:`manhattan_scenario` reads the Manhattan network and one NYC sample with
:func:`~scheduling.trips.load_trips` (``on_bad_row="skip"``; zone ids placed through the
centroid file), snaps it, drops trips whose two ends snap to one node, and replays it
time-compressed into the simulated duration (resampled with replacement when more
requests are asked than the sample holds). Every count is kept in
:attr:`RideScenario.info`.

Depots (:func:`spread_depots`): k-means (a few Lloyd steps from a seeded sample) on the
scenario's request origins, each centre snapped to its nearest node; vehicle ``v`` gets
depot ``v mod n_depots``. Default ``n_depots = min(vehicles, ceil(3 sqrt(vehicles)))``.
Siting depots from the demand's spatial distribution is planning-time knowledge; the
dispatcher itself only ever sees requests that have arrived.

Examples
--------
>>> from scheduling.ride_sim import embedded_city, simulate
>>> scen = embedded_city(requests=60, duration=600.0, grid=12, seed=1)
>>> res = simulate(scen, vehicles=6, capacity=2, policy="batched", seed=1)
>>> s = res.summary
>>> s["served"] + s["expired"] == 60, 0 < s["service_rate"] <= 1
(True, True)
"""

from __future__ import annotations

import csv
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy.sparse.csgraph import dijkstra

from scheduling._plots import share_by_policy
from scheduling.dispatch import (
    POLICIES,
    PRIOR_POLICIES,
    Assignment,
    Dispatcher,
    Policy,
    RideRequest,
)
from scheduling.roads import RoadNetwork, default_data_dir
from scheduling.sim import Event, Simulation
from scheduling.trips import load_trips, snap_to_network, time_compress

__all__ = [
    "DispatchViolation",
    "PathLengths",
    "RideScenario",
    "RideSimResult",
    "embedded_city",
    "format_summary",
    "generate_demand",
    "manhattan_scenario",
    "plot_routes",
    "plot_sweep",
    "simulate",
    "spread_depots",
    "training_demand",
    "write_rows",
]

_EPS = 1e-6


class DispatchViolation(AssertionError):
    """An assignment broke a rule the simulator checks; the message says which."""


# ---------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class RideScenario:
    """A network and a demand: request ids ``0 .. n - 1`` sorted by time.

    Attributes
    ----------
    name : str
    network : RoadNetwork
    origin, destination : ndarray of int
        Node indices.
    request_time : ndarray of float
        Seconds, ascending.
    duration : float
        The span the requests cover (s).
    info : dict
        Where the demand came from, and counts of rows kept, skipped and rejected.
    """

    name: str
    network: RoadNetwork
    origin: np.ndarray
    destination: np.ndarray
    request_time: np.ndarray
    duration: float
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.origin.size)


def generate_demand(
    network: RoadNetwork,
    n: int,
    duration: float,
    *,
    hotspots: int = 5,
    hotspot_share: float = 0.65,
    hotspot_km: float = 0.8,
    median_trip_km: float = 2.5,
    seed: int | None = None,
    layout_seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` NYC-like requests: ``(origin, destination, request_time)``.

    ``hotspot_share`` of the origins lie around ``hotspots`` centres (normal with
    ``hotspot_km`` spread), the rest uniformly over the network's extent; each trip
    heads in a uniform direction over a log-normal distance (median ``median_trip_km``,
    sigma 0.6), clipped to the extent; both ends snap to the nearest node and a trip
    whose ends coincide is moved one node over. Times are uniform on ``[0, duration)``
    and sorted (a Poisson process of rate ``n / duration`` given its count). The hotspot
    centres come from ``layout_seed`` (default ``seed``), so two draws with the same
    ``layout_seed`` and different ``seed`` come from the same demand distribution.

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> net = RoadNetwork.grid(10, spacing_km=0.5)
    >>> o, d, t = generate_demand(net, 200, 3600.0, seed=0)
    >>> len(o), bool((o != d).all()), bool((np.diff(t) >= 0).all())
    (200, True, True)
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if not duration > 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if network.num_nodes < 2:
        raise ValueError("the network needs at least 2 nodes")
    rng = np.random.default_rng(seed)
    lo, hi = network.xy.min(axis=0), network.xy.max(axis=0)
    layout = (
        rng if layout_seed is None or layout_seed == seed else np.random.default_rng(layout_seed)
    )
    centres = lo + layout.random((hotspots, 2)) * (hi - lo)
    near = rng.random(n) < hotspot_share
    start = lo + rng.random((n, 2)) * (hi - lo)
    pick = centres[rng.integers(0, hotspots, n)] + rng.normal(0, hotspot_km, (n, 2))
    start = np.clip(np.where(near[:, None], pick, start), lo, hi)
    angle = rng.random(n) * 2 * np.pi
    dist = median_trip_km * np.exp(rng.normal(0, 0.6, n))
    end = np.clip(start + dist[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1), lo, hi)
    o, _ = network.nearest_node(start[:, 0], start[:, 1], frame="xy")
    d, _ = network.nearest_node(end[:, 0], end[:, 1], frame="xy")
    d = np.where(o == d, (d + 1) % network.num_nodes, d)
    t = np.sort(rng.random(n) * duration)
    return o.astype(np.int64), d.astype(np.int64), t


def embedded_city(
    *,
    requests: int = 1000,
    duration: float = 3600.0,
    grid: int = 30,
    spacing_km: float = 0.25,
    seed: int = 0,
) -> RideScenario:
    """Build the embedded default: a generated grid city with :func:`generate_demand`.

    Examples
    --------
    >>> s = embedded_city(requests=50, duration=600.0, grid=10)
    >>> len(s), s.network.num_nodes, s.info["requests per hour"]
    (50, 100, 300.0)
    """
    net = RoadNetwork.grid(grid, spacing_km=spacing_km, speed_kmh=25.0, perturb=0.3, seed=seed)
    o, d, t = generate_demand(net, requests, duration, seed=seed)
    info = {
        "source": "generated (NYC-like hotspots and trip lengths)",
        "demand seed": seed,
        "requests per hour": requests / duration * 3600.0,
    }
    return RideScenario(f"city {grid}x{grid}", net, o, d, t, float(duration), info)


def manhattan_scenario(
    trips_file: str | Path | None = None,
    *,
    network_dir: str | Path | None = None,
    requests: int | None = None,
    duration: float = 3600.0,
    hour: int = 8,
    max_snap_km: float = 0.5,
    seed: int = 0,
    network: RoadNetwork | None = None,
) -> RideScenario:
    """Manhattan with an NYC trip sample replayed time-compressed into ``duration``.

    Parameters
    ----------
    trips_file : path, optional
        A trip CSV; default ``rides/nyc_yellow_2016-01_sample.csv`` of
        :func:`~scheduling.roads.default_data_dir`. Zone-id files are placed through
        ``nyc_taxi_zone_centroids.csv`` found next to the file.
    network_dir : path, optional
        Passed to :meth:`RoadNetwork.manhattan` (default: the shared data).
    requests : int, optional
        How many requests to replay; default all trips kept. Fewer are sampled without
        replacement, more with replacement (each copy's time jittered by up to one mean
        inter-arrival gap).
    duration, hour, max_snap_km, seed
        The replay window (s), the hour of the travel times, the snapping distance
        limit (km) and the sampling seed.
    network : RoadNetwork, optional
        Use this network instead of loading the Manhattan one (``network_dir`` and
        ``hour`` are then ignored).

    Raises
    ------
    FileNotFoundError
        When the network or the trip file is absent.
    """
    net = RoadNetwork.manhattan(network_dir, hour=hour) if network is None else network
    path = Path(trips_file) if trips_file is not None else _rides_dir() / _DEFAULT_TRIPS
    if not path.exists():
        raise FileNotFoundError(f"trip file not found: {path}")
    with open(path) as fh:
        header = fh.readline()
    centroids = None
    if "location_id" in header.lower() and "lat" not in header.lower():
        centroids = path.parent / "nyc_taxi_zone_centroids.csv"
    trips = load_trips(path, centroids=centroids, on_bad_row="skip")
    snapped = snap_to_network(trips, net, max_distance_km=max_snap_km)
    same = snapped.origin_node == snapped.dest_node
    kept = snapped.trips.subset(~same)
    o, d = snapped.origin_node[~same], snapped.dest_node[~same]
    t = time_compress(kept, duration).request_time if len(kept) else np.zeros(0)
    o, d, t = _resample(o, d, t, requests, duration, seed)
    info = {
        "source": path.name,
        "trips file": str(path),
        "rows kept by load_trips": len(trips),
        "rows skipped": dict(trips.skipped),
        "trips rejected by snapping": snapped.rejected,
        "trips with both ends on one node": int(same.sum()),
        "sample trips used": len(kept),
        "requests": int(o.size),
        "requests per hour": o.size / duration * 3600.0,
    }
    return RideScenario(f"Manhattan + {path.stem}", net, o, d, t, float(duration), info)


_DEFAULT_TRIPS = "nyc_yellow_2016-01_sample.csv"


def _rides_dir() -> Path:
    return default_data_dir() / "rides"


def _resample(
    o: np.ndarray,
    d: np.ndarray,
    t: np.ndarray,
    n: int | None,
    duration: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if n is None or n == o.size:
        return o, d, t
    if n < 0:
        raise ValueError(f"requests must be non-negative, got {n}")
    if o.size == 0:
        raise ValueError("no trips left to replay")
    rng = np.random.default_rng(seed)
    idx = rng.choice(o.size, n, replace=n > o.size)
    times = t[idx]
    if n > o.size:
        times = np.clip(times + rng.random(n) * duration / o.size, 0.0, duration)
    order = np.argsort(times, kind="stable")
    return o[idx][order], d[idx][order], times[order]


#: The NYC trip samples, in the order :func:`training_demand` looks for another one.
NYC_SAMPLES = (
    "nyc_yellow_2016-01_sample.csv",
    "nyc_yellow_2019-01_zones_sample.csv",
    "nyc_green_2016-01_sample.csv",
)


def training_demand(scenario: RideScenario, seed: int) -> RideScenario:
    """Demand to fit a prior on: another draw from ``scenario``'s distribution.

    A generated city gets :func:`generate_demand` with the scenario's hotspot layout and
    another ``seed``. A replayed NYC sample gets a *different* sample file of
    :data:`NYC_SAMPLES` found next to it (other trips, another month or fleet), replayed
    the same way on the same network: the prior never sees the trips it dispatches.

    Raises
    ------
    FileNotFoundError
        When a replayed scenario has no other sample beside its file.

    Examples
    --------
    >>> s = embedded_city(requests=50, duration=600.0, grid=10)
    >>> t = training_demand(s, seed=1)
    >>> t.network is s.network, len(t), bool((t.origin != s.origin).any())
    (True, 50, True)
    """
    if "trips file" in scenario.info:
        own = Path(scenario.info["trips file"])
        others = [own.parent / f for f in NYC_SAMPLES if f != own.name]
        other = next((p for p in others if p.exists()), None)
        if other is None:
            raise FileNotFoundError(
                f"no other NYC sample beside {own} to fit a prior on (looked for "
                f"{[p.name for p in others]})"
            )
        return manhattan_scenario(
            other,
            requests=len(scenario),
            duration=scenario.duration,
            seed=seed,
            network=scenario.network,
        )
    layout = scenario.info.get("demand seed")
    o, d, t = generate_demand(
        scenario.network, len(scenario), scenario.duration, seed=seed, layout_seed=layout
    )
    return RideScenario(
        f"{scenario.name} (training)", scenario.network, o, d, t, scenario.duration
    )


def spread_depots(
    network: RoadNetwork,
    nodes: np.ndarray,
    vehicles: int,
    *,
    n_depots: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Depot node of each of ``vehicles`` vehicles: k-means over ``nodes``' positions.

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> net = RoadNetwork.grid(5)
    >>> spread_depots(net, np.array([0, 1, 2, 22, 23, 24]), 3, n_depots=2).tolist()
    [1, 23, 1]
    """
    if vehicles < 1:
        raise ValueError(f"vehicles must be at least 1, got {vehicles}")
    if n_depots is None:
        n_depots = min(vehicles, math.ceil(3 * math.sqrt(vehicles)))
    if n_depots < 1:
        raise ValueError(f"n_depots must be at least 1, got {n_depots}")
    pts = network.xy[np.asarray(nodes, dtype=np.int64)]
    if pts.shape[0] == 0:
        pts = network.xy
    rng = np.random.default_rng(seed)
    k = min(n_depots, pts.shape[0])
    centres = pts[rng.choice(pts.shape[0], k, replace=False)]
    for _ in range(15):
        label = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for c in range(k):
            if (label == c).any():
                centres[c] = pts[label == c].mean(axis=0)
    depot, _ = network.nearest_node(centres[:, 0], centres[:, 1], frame="xy")
    depot = depot[np.lexsort((depot,))]
    return depot[np.arange(vehicles) % k].astype(np.int64)


# ---------------------------------------------------------------------- path lengths
class PathLengths:
    """Kilometres along travel-time-shortest paths (positions ``xy``, predecessor trees).

    Trees are computed once per source (forward) or per target (on the reversed graph)
    with :func:`scipy.sparse.csgraph.dijkstra` and kept in a bounded LRU cache; a length
    sums the straight segments between consecutive nodes of the path.

    Examples
    --------
    >>> from scheduling.roads import RoadNetwork
    >>> net = RoadNetwork.grid(3, spacing_km=1.0)
    >>> PathLengths(net).km(0, 8), PathLengths(net).km(8, 0, reverse=True)
    (4.0, 4.0)
    """

    def __init__(self, network: RoadNetwork, cache: int = 4096) -> None:
        self.network = network
        self._forward = network.matrix.tocsr()
        self._backward = network.matrix.T.tocsr()
        self._cache: OrderedDict[tuple[int, bool], np.ndarray] = OrderedDict()
        self._size = cache

    def _tree(self, root: int, reverse: bool) -> np.ndarray:
        key = (root, reverse)
        pred = self._cache.get(key)
        if pred is None:
            graph = self._backward if reverse else self._forward
            _, pred = dijkstra(graph, directed=True, indices=root, return_predecessors=True)
            self._cache[key] = pred
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return pred

    def km(self, u: int, v: int, *, reverse: bool = False) -> float:
        """Length (km) of a shortest-time path from ``u`` to ``v``.

        ``reverse=True`` roots the tree at ``v`` (cheaper when many sources share a
        target, such as returns to a depot).
        """
        if u == v:
            return 0.0
        path = [u]
        if reverse:
            pred = self._tree(v, True)
            while path[-1] != v:
                nxt = int(pred[path[-1]])
                if nxt < 0:
                    return math.inf
                path.append(nxt)
        else:
            pred = self._tree(u, False)
            path = [v]
            while path[-1] != u:
                nxt = int(pred[path[-1]])
                if nxt < 0:
                    return math.inf
                path.append(nxt)
        xy = self.network.xy[np.array(path)]
        return float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum())


# ---------------------------------------------------------------------- simulation
@dataclass
class RideSimResult:
    """What :func:`simulate` measured.

    Attributes
    ----------
    summary : dict
        Headline metrics (see the module docstring).
    requests : list of dict
        One row per request: times, status, vehicle, wait, detour, group size.
    windows : list of dict
        One row per dispatch window (:class:`~scheduling.dispatch.WindowStats`).
    assignments : list of (float, Assignment)
        Every assignment with its dispatch time.
    scenario : RideScenario
    depots : ndarray of int
    """

    summary: dict[str, Any]
    requests: list[dict[str, Any]]
    windows: list[dict[str, Any]]
    assignments: list[tuple[float, Assignment]]
    scenario: RideScenario
    depots: np.ndarray

    def write_csv(self, folder: str | Path, stem: str = "rides") -> tuple[Path, Path]:
        """Write ``{stem}_requests.csv`` and ``{stem}_windows.csv``; return the paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = (out / f"{stem}_requests.csv", out / f"{stem}_windows.csv")
        for path, rows in zip(paths, (self.requests, self.windows), strict=True):
            write_rows(path, rows)
        return paths


def write_rows(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write dict rows as CSV (the first row's keys are the header)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)


class _Limits(NamedTuple):
    """The rules the simulator checks, from its own arguments (not the dispatcher's)."""

    seats: int
    max_wait: float
    max_detour: float
    return_to_depot: bool


class _Truth:
    """The simulator's own state of the fleet and requests, and its checks."""

    def __init__(self, scen: RideScenario, depots: np.ndarray, limits: _Limits) -> None:
        self.scen = scen
        self.net = scen.network
        self.depots = depots
        self.d = limits
        self.free = np.zeros(depots.size)
        self.node = depots.copy()
        self.direct = self.net.travel_time(scen.origin, scen.destination)
        n = len(scen)
        self.status = np.array(["pending"] * n, dtype=object)
        self.rows: dict[int, dict[str, Any]] = {}
        self.lengths = PathLengths(self.net)
        self.empty_km = 0.0
        self.busy_s = 0.0

    def check_and_apply(self, a: Assignment, now: float) -> None:
        """Verify ``a`` from first principles, then move the fleet and riders."""
        v = a.vehicle
        if not 0 <= v < self.depots.size:
            raise DispatchViolation(f"unknown vehicle {v}")
        if self.free[v] > now + _EPS:
            raise DispatchViolation(f"vehicle {v} is busy until {self.free[v]} at {now}")
        r = a.route
        if r.start_node != self.node[v] or abs(r.start_time - now) > _EPS:
            raise DispatchViolation(
                f"vehicle {v} starts at node {r.start_node} at {r.start_time}; "
                f"it is at {self.node[v]} at {now}"
            )
        self._check_riders(a, now)
        times, end, loads = self._replay(a, now)
        if abs(end - r.end_time) > _EPS:
            raise DispatchViolation(
                f"vehicle {v}: route ends at {end} recomputed, {r.end_time} claimed"
            )
        self._apply(a, now, times, end, loads)

    def _check_riders(self, a: Assignment, now: float) -> None:
        riders = set(a.riders)
        if len(riders) != len(a.riders) or len(riders) > self.d.seats:
            raise DispatchViolation(f"vehicle {a.vehicle}: bad group {a.riders}")
        for q in a.riders:
            if not 0 <= q < len(self.scen) or self.scen.request_time[q] > now:
                raise DispatchViolation(f"rider {q} has not asked by {now}")
            if self.status[q] != "pending":
                raise DispatchViolation(f"rider {q} is already {self.status[q]}")
        picks = [q for q, kind in a.route.stops if kind == "pickup"]
        drops = [q for q, kind in a.route.stops if kind == "dropoff"]
        if sorted(picks) != sorted(riders) or sorted(drops) != sorted(riders):
            raise DispatchViolation(f"stops {a.route.stops} do not serve {a.riders} once each")
        for q in riders:
            if a.route.stops.index((q, "pickup")) > a.route.stops.index((q, "dropoff")):
                raise DispatchViolation(f"rider {q} is dropped off before being picked up")

    def _replay(self, a: Assignment, now: float) -> tuple[dict[Any, float], float, list[int]]:
        """Drive the stops with the network's times; check every limit on the way."""
        sc, d = self.scen, self.d
        pos, t = int(self.node[a.vehicle]), now
        times: dict[Any, float] = {}
        loads, load = [], 0
        for q, kind in a.route.stops:
            node = int(sc.origin[q] if kind == "pickup" else sc.destination[q])
            loads.append(load)
            t += float(self.net.travel_time(pos, node))
            if kind == "pickup":
                t = max(t, float(sc.request_time[q]))
                if t - sc.request_time[q] > d.max_wait + _EPS:
                    raise DispatchViolation(f"rider {q} waits {t - sc.request_time[q]:.1f} s")
                load += 1
            else:
                detour = t - sc.request_time[q] - self.direct[q]
                if detour > d.max_detour + _EPS:
                    raise DispatchViolation(f"rider {q} has a detour of {detour:.1f} s")
                load -= 1
            times[(q, kind)] = t
            pos = node
        loads.append(load)
        if d.return_to_depot:
            t += float(self.net.travel_time(pos, int(self.depots[a.vehicle])))
        return times, t, loads

    def _apply(
        self, a: Assignment, now: float, times: dict[Any, float], end: float, loads: list[int]
    ) -> None:
        sc, v = self.scen, a.vehicle
        stops = [
            int(sc.origin[q] if k == "pickup" else sc.destination[q]) for q, k in a.route.stops
        ]
        legs = [(int(self.node[v]), stops[0], False)]
        legs += [(stops[i - 1], stops[i], False) for i in range(1, len(stops))]
        if self.d.return_to_depot:
            legs.append((stops[-1], int(self.depots[v]), True))
        for (u, w, back), load in zip(legs, loads[: len(legs)], strict=True):
            if load == 0:
                self.empty_km += self.lengths.km(u, w, reverse=back)
        self.busy_s += end - now
        self.free[v] = end
        self.node[v] = self.depots[v] if self.d.return_to_depot else stops[-1]
        for q in a.riders:
            self.status[q] = "served"
            pick, drop = times[(q, "pickup")], times[(q, "dropoff")]
            self.rows[q] = {
                "vehicle": v,
                "dispatch_time": now,
                "pickup_time": pick,
                "dropoff_time": drop,
                "wait": pick - sc.request_time[q],
                "detour": drop - sc.request_time[q] - self.direct[q],
                "group_size": len(a.riders),
            }


def simulate(
    scenario: RideScenario,
    *,
    vehicles: int,
    capacity: int = 4,
    policy: Policy = "batched",
    window: float = 30.0,
    max_wait: float = 300.0,
    max_detour: float = 600.0,
    return_to_depot: bool = True,
    cost_weight: float = 0.1,
    max_candidates: int | None = 20,
    time_limit: float | None = None,
    n_depots: int | None = None,
    seed: int = 0,
    training: RideScenario | None = None,
    regions: int = 6,
    prior_k: int = 2,
) -> RideSimResult:
    """Run one dispatch simulation of ``scenario`` with ``vehicles`` vehicles.

    Parameters are those of :class:`~scheduling.dispatch.Dispatcher` (``capacity`` is
    its ``seats``), plus the dispatch ``window`` (s) and the depots' count
    (:func:`spread_depots`, sited on the scenario's origins).

    Returns
    -------
    RideSimResult

    Raises
    ------
    DispatchViolation
        When an assignment breaks a rule (see the module docstring).
    """
    if policy not in POLICIES + PRIOR_POLICIES:
        raise ValueError(f"policy must be one of {POLICIES + PRIOR_POLICIES}, got {policy!r}")
    if policy in PRIOR_POLICIES and training is None:
        raise ValueError(
            f"policy {policy!r} fits its prior to a training demand: pass training= (a "
            "RideScenario on the same network, not the one simulated)"
        )
    if not window > 0:
        raise ValueError(f"window must be positive, got {window}")
    depots = spread_depots(
        scenario.network, scenario.origin, vehicles, n_depots=n_depots, seed=seed
    )
    prior = None
    if policy in PRIOR_POLICIES:
        from scheduling.ride_prior import PriorDispatchPolicy

        assert training is not None
        if training.network is not scenario.network:
            raise ValueError("training must be a demand on the scenario's own network")
        prior = PriorDispatchPolicy.fit(
            scenario.network,
            depots,
            training.origin,
            training.destination,
            training.request_time,
            horizon_s=scenario.duration,
            window_s=window,
            n_regions=regions,
            k=min(prior_k, capacity),
            max_wait=max_wait,
            max_detour=max_detour,
            seed=seed,
        )
    dispatcher = Dispatcher(
        scenario.network,
        depots,
        capacity,
        max_wait=max_wait,
        max_detour=max_detour,
        policy=policy,
        return_to_depot=return_to_depot,
        cost_weight=cost_weight,
        max_candidates=max_candidates,
        time_limit=time_limit,
        seed=seed,
        prior=prior,
    )
    truth = _Truth(
        scenario,
        depots,
        _Limits(int(capacity), float(max_wait), float(max_detour), bool(return_to_depot)),
    )
    sim = Simulation()
    inbox: list[RideRequest] = []
    windows: list[dict[str, Any]] = []
    log: list[tuple[float, Assignment]] = []

    def arrive(sim: Simulation, ev: Event) -> None:
        q = int(ev.payload)
        inbox.append(
            RideRequest(
                q,
                int(scenario.origin[q]),
                int(scenario.destination[q]),
                float(scenario.request_time[q]),
            )
        )

    def dispatch(sim: Simulation, ev: Event) -> None:
        decision = dispatcher.decide(sim.now, inbox)
        inbox.clear()
        for a in decision.assignments:
            truth.check_and_apply(a, sim.now)
            log.append((sim.now, a))
        for q in decision.expired:
            if truth.status[q] != "pending":
                raise DispatchViolation(f"request {q} expired but is {truth.status[q]}")
            truth.status[q] = "expired"
        busy = int((truth.free > sim.now).sum())
        sim.metrics.gauge("busy_vehicles", busy)
        windows.append(decision.stats.__dict__.copy())
        if decision.stats.status != "empty":
            sim.metrics.observe("decision_s", decision.stats.seconds)
        sim.metrics.observe("groups", decision.stats.groups)

    sim.on("request", arrive)
    sim.on("dispatch", dispatch)
    for q, t in enumerate(scenario.request_time.tolist()):
        sim.schedule(t, "request", q, priority=0)
    last = float(scenario.request_time.max()) if len(scenario) else 0.0
    sim.periodic("dispatch", window, start=window, end=last + max_wait + 2 * window, priority=1)
    sim.run()
    if (truth.status == "pending").any():
        q = int(np.flatnonzero(truth.status == "pending")[0])
        raise DispatchViolation(f"request {q} was neither served nor expired")
    return _result(scenario, truth, sim, windows, log, depots, policy, vehicles, capacity)


def _result(
    scen: RideScenario,
    truth: _Truth,
    sim: Simulation,
    windows: list[dict[str, Any]],
    log: list[tuple[float, Assignment]],
    depots: np.ndarray,
    policy: str,
    vehicles: int,
    capacity: int,
) -> RideSimResult:
    rows = []
    for q in range(len(scen)):
        row = {
            "request": q,
            "request_time": float(scen.request_time[q]),
            "origin": int(scen.origin[q]),
            "destination": int(scen.destination[q]),
            "direct_s": float(truth.direct[q]),
            "status": truth.status[q],
        }
        row.update(truth.rows.get(q, dict.fromkeys(_SERVED_FIELDS, "")))
        rows.append(row)
    served = [truth.rows[q] for q in sorted(truth.rows)]
    wait = np.array([r["wait"] for r in served])
    detour = np.array([r["detour"] for r in served])
    decision = sim.metrics.summary("decision_s")
    groups = sim.metrics.summary("groups")
    n = len(scen)
    summary = {
        "scenario": scen.name,
        "policy": policy,
        "vehicles": vehicles,
        "capacity": capacity,
        "requests": n,
        "served": len(served),
        "expired": int((truth.status == "expired").sum()),
        "service_rate": len(served) / n if n else math.nan,
        "wait_mean_s": float(wait.mean()) if wait.size else math.nan,
        "wait_p95_s": float(np.percentile(wait, 95)) if wait.size else math.nan,
        "detour_mean_s": float(detour.mean()) if detour.size else math.nan,
        "riders_per_trip": len(served) / len(log) if log else math.nan,
        "vehicle_hours": truth.busy_s / 3600.0,
        "empty_km": truth.empty_km,
        "windows": len(windows),
        "windows_deciding": sum(w["status"] != "empty" for w in windows),
        "decision_median_s": decision.median,
        "decision_p99_s": decision.p99,
        "decision_max_s": decision.max,
        "groups_mean": groups.mean,
        "groups_max": groups.max,
        "non_optimal_windows": sum(
            w["status"] not in ("optimal", "online", "empty", "attenuate") for w in windows
        ),
    }
    return RideSimResult(summary, rows, windows, log, scen, depots)


_SERVED_FIELDS = ("vehicle", "dispatch_time", "pickup_time", "dropoff_time", "wait", "detour")
_SERVED_FIELDS += ("group_size",)


# ---------------------------------------------------------------------- plots
def plot_sweep(rows: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Plot service rate against fleet size, one line per policy (rows of summaries)."""
    title = title or "service rate vs fleet size"
    return share_by_policy(rows, path, x="vehicles", y="service_rate", xlabel="vehicles",
                           ylabel="service rate", title=title)  # fmt: skip


def plot_routes(
    result: RideSimResult, path: str | Path, *, start: float = 0.0, span: float = 300.0
) -> Path:
    """Draw the routes dispatched in ``[start, start + span)`` on the network map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = result.scenario.network
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(net.xy[:, 0], net.xy[:, 1], s=1, c="0.8")
    cmap = plt.get_cmap("tab20")
    shown = [(t, a) for t, a in result.assignments if start <= t < start + span]
    for i, (_, a) in enumerate(shown):
        nodes = [a.route.start_node, *a.route.nodes]
        if a.route.return_to is not None:
            nodes.append(a.route.return_to)
        xy = net.xy[np.array(nodes)]
        ax.plot(xy[:, 0], xy[:, 1], color=cmap(i % 20), lw=1.2, alpha=0.8)
    dep = net.xy[np.unique(result.depots)]
    ax.scatter(dep[:, 0], dep[:, 1], marker="s", s=18, c="k", label="depots")
    ax.set_aspect("equal")
    ax.set_xlabel("km east")
    ax.set_ylabel("km north")
    ax.legend(loc="upper right")
    ax.set_title(f"{len(shown)} routes dispatched in [{start:g}, {start + span:g}) s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


_COLUMNS = (
    ("policy", "policy", "{:<9}"),
    ("vehicles", "veh", "{:>6}"),
    ("requests", "req", "{:>7}"),
    ("service_rate", "served", "{:>8.1%}"),
    ("wait_mean_s", "wait s", "{:>8.0f}"),
    ("wait_p95_s", "p95", "{:>6.0f}"),
    ("detour_mean_s", "detour", "{:>8.0f}"),
    ("riders_per_trip", "/trip", "{:>7.2f}"),
    ("vehicle_hours", "veh-h", "{:>8.1f}"),
    ("empty_km", "empty km", "{:>10.0f}"),
    ("decision_median_s", "dec p50", "{:>9.3f}"),
    ("decision_p99_s", "dec p99", "{:>9.3f}"),
    ("groups_mean", "groups", "{:>8.0f}"),
)


def format_summary(summaries: Sequence[dict[str, Any]]) -> str:
    """Render simulation summaries as a fixed-width table (decision times in s).

    Examples
    --------
    >>> row = dict(policy="batched", vehicles=2, requests=3, service_rate=2 / 3,
    ...            wait_mean_s=61.0, wait_p95_s=90.0, detour_mean_s=80.0,
    ...            riders_per_trip=1.0, vehicle_hours=0.5, empty_km=3.2,
    ...            decision_median_s=0.01, decision_p99_s=0.02, groups_mean=4.0)
    >>> head, line = format_summary([row]).splitlines()
    >>> head.split()[:5]
    ['policy', 'veh', 'req', 'served', 'wait']
    >>> line.split()
    ['batched', '2', '3', '66.7%', '61', '90', '80', '1.00', '0.5', '3', '0.010', '0.020', '4']
    """
    head = "".join(
        f"{label:<9}" if key == "policy" else f"{label:>{len(fmt.format(0))}}"
        for key, label, fmt in _COLUMNS
    )
    lines = [head]
    for s in summaries:
        lines.append("".join(fmt.format(s[key]) for key, _, fmt in _COLUMNS))
    return "\n".join(lines)
