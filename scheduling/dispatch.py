"""Ride-pooling dispatch: requests in, vehicle assignments out, one window at a time.

A :class:`Dispatcher` keeps its own view of the fleet (each vehicle's free time and
node) and of the pending requests. Each call of :meth:`Dispatcher.decide` hands it the
requests that arrived since the previous call (never the future) and returns a
:class:`DispatchDecision`: which vehicle serves which group of riders along which
:class:`~scheduling.pooling.Route`, which requests expired, and the window's statistics.

One window
----------
1. Pending requests whose latest pickup (``request_time + max_wait``) or latest dropoff
   (``request_time + direct + max_detour``) can no longer be met by a vehicle leaving
   now expire.
2. The rest become :class:`~scheduling.pooling.Requests` *as seen from now*: since no
   pickup can happen before ``now``, each rider is ready at ``now`` with its own
   deadlines unchanged (``max_wait`` and ``max_detour`` shortened by the time already
   waited). This is exact and prunes far more groups than the raw request times.
   Riders that no idle vehicle can reach in time wait for a later window.
3. :func:`~scheduling.pooling.feasible_groups` builds the feasible singles and pairs;
   groups of three and four are built level by level from the pairs that are among
   both riders' ``max_partners`` best partners (default 8; ``None``: every feasible
   group, exactly as ``feasible_groups(max_size=seats)``). Without this bound the
   groups of 3 and 4 explode with dense demand and loose limits (317,424 groups and
   311 s for one window of 192 riders in the embedded city).
4. Idle vehicles (free at ``now``) at the same node are interchangeable: they start at
   the same place and time and, with ``return_to_depot``, return to that same node (an
   idle vehicle waits at its depot). So each distinct node with idle vehicles is ONE
   resource whose capacity is the number of idle vehicles there; each group uses one
   vehicle, so the optimum is unchanged. :func:`~scheduling.pooling.vehicle_group_edges`
   prices (node, group) pairs on the distinct nodes only, each group on its
   ``max_candidates`` nearest nodes (default 20; by travel time to the group's
   farthest origin; ``None`` keeps every node that reaches all its riders in time).
5. The edge weight of serving group ``g`` with route cost ``c`` seconds is
   ``len(g) - cost_weight * c / 3600`` (default ``cost_weight`` 0.1): one more rider
   is worth ten vehicle-hours of driving, so serving riders dominates unless a window's
   routes differ by more than that, and shorter routes break ties.
6. ``policy="batched"``: one exact solve of the window's :class:`matching.Instance`
   with :func:`matching.solve` (status reported as the solver gives it; with a
   ``time_limit`` a non-optimal incumbent is reported as ``"time-limit"``).
   ``policy="greedy"`` / ``"ranking"``: the same edges decided by
   :class:`~matching.online.GreedyPolicy` / :class:`~matching.online.RankingPolicy`
   through a fresh :class:`~matching.stream.OnlineMatcher` per window (single-use
   node resources with the same capacities), so the online core enforces "no rider
   twice, no capacity exceeded". Groups arrive one by one in a fixed order: larger
   groups first, then by the request time of their newest rider, then by rider ids.
7. Each chosen (node, group) goes to the lowest-numbered idle vehicle at that node.
   The vehicle is busy until the route's end: its return to the depot, or its last
   dropoff when ``return_to_depot`` is False (it then waits there).

Examples
--------
>>> from scheduling.roads import RoadNetwork
>>> from scheduling.dispatch import Dispatcher, RideRequest
>>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)  # 60 s per block
>>> d = Dispatcher(net, depots=[0, 8], seats=2)
>>> out = d.decide(30.0, [RideRequest(7, 0, 8, 10.0), RideRequest(9, 1, 5, 20.0)])
>>> [(a.vehicle, a.riders, a.route.cost) for a in out.assignments]
[(0, (7, 9), 480.0)]
>>> out.stats.status, out.stats.groups, d.vehicle(0).free_time
('optimal', 3, 510.0)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

import matching
from matching.online import GreedyPolicy, RankingPolicy
from matching.stream import OnlineMatcher, PolicyError, sealed
from scheduling.pooling import (
    MAX_EXACT_GROUP,
    Requests,
    Route,
    VehicleGroupEdges,
    feasible_groups,
    vehicle_group_edges,
)
from scheduling.roads import RoadNetwork

if TYPE_CHECKING:
    from scheduling.ride_prior import PriorDispatchPolicy

__all__ = [
    "POLICIES",
    "PRIOR_POLICIES",
    "Assignment",
    "DispatchDecision",
    "Dispatcher",
    "RideRequest",
    "VehicleState",
    "WindowStats",
]

POLICIES = ("batched", "greedy", "ranking")
"""Dispatch policies: exact per-window solve, and two online policies."""

PRIOR_POLICIES = ("attenuate",)
"""Policies that need a fitted prior: the ridesharing paper's LP sample-and-attenuate
(:class:`scheduling.ride_prior.PriorDispatchPolicy`)."""

Policy = Literal["batched", "greedy", "ranking", "attenuate"]


class RideRequest(NamedTuple):
    """One ride request as handed to :meth:`Dispatcher.decide`.

    Attributes
    ----------
    id : int
        Unique request id (never reused).
    origin, destination : int
        Node indices of the network.
    time : float
        When the rider asked (s, non-negative, not after the decision time).
    """

    id: int
    origin: int
    destination: int
    time: float


class VehicleState(NamedTuple):
    """The dispatcher's view of one vehicle: where and from when it is free."""

    vehicle: int
    node: int
    free_time: float
    depot: int


@dataclass(frozen=True)
class Assignment:
    """One vehicle sent to serve one group.

    Attributes
    ----------
    vehicle : int
    riders : tuple of int
        Request ids of the group.
    route : Route
        The stops, in request ids (``route.riders`` and ``route.stops`` name ids), with
        ``wait`` and ``detour`` measured from each rider's own request time.
    """

    vehicle: int
    riders: tuple[int, ...]
    route: Route


@dataclass(frozen=True)
class WindowStats:
    """What one :meth:`Dispatcher.decide` call saw and did.

    Attributes
    ----------
    time : float
        The decision time.
    new, pending, expired : int
        Requests that arrived with this call, were pending after expiry, and expired
        in this call.
    offered : int
        Pending requests some idle vehicle can reach in time (the others wait for a
        later window); only these enter the group enumeration.
    idle_vehicles, resources : int
        Vehicles free now, and the distinct nodes they stand on.
    groups, edges : int
        Feasible groups enumerated, and priced (node, group) edges kept.
    assigned_riders, assigned_vehicles : int
    objective : float
        Total edge weight of the assignments.
    status : str
        ``"optimal"``, ``"time-limit"``, ``"feasible"`` (from :func:`matching.solve`),
        ``"online"`` (greedy, ranking) or ``"empty"`` (nothing to decide).
    seconds, enumerate_seconds, price_seconds, solve_seconds : float
        Wall time of the whole call and of its three main steps.
    """

    time: float
    new: int
    pending: int
    expired: int
    offered: int
    idle_vehicles: int
    resources: int
    groups: int
    edges: int
    assigned_riders: int
    assigned_vehicles: int
    objective: float
    status: str
    seconds: float
    enumerate_seconds: float = 0.0
    price_seconds: float = 0.0
    solve_seconds: float = 0.0


@dataclass(frozen=True)
class DispatchDecision:
    """The result of one :meth:`Dispatcher.decide` call."""

    time: float
    assignments: tuple[Assignment, ...]
    expired: tuple[int, ...]
    stats: WindowStats


@dataclass
class _Pending:
    origin: int
    destination: int
    time: float
    direct: float


class _Window(NamedTuple):
    """The window's requests as seen from now, and their ids and original times."""

    ids: np.ndarray
    requests: Requests
    asked: np.ndarray
    reach: np.ndarray


def _checked_choice(
    chosen: object, edges: VehicleGroupEdges, groups: list[tuple[int, ...]], counts: np.ndarray
) -> np.ndarray:
    """Return a prior policy's chosen edges; refuse them unless they are an assignment."""
    arr = np.asarray(chosen)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise PolicyError(f"the policy must return edge indices, got {chosen!r}")
    arr = np.sort(arr.astype(np.int64))
    if arr.size and (arr[0] < 0 or arr[-1] >= len(edges)):
        raise PolicyError(f"the policy chose edge {int(arr[-1])} of {len(edges)}")
    if np.unique(arr).size != arr.size:
        raise PolicyError("the policy chose an edge twice")
    riders = [r for e in arr.tolist() for r in groups[int(edges.group[e])]]
    if len(set(riders)) != len(riders):
        raise PolicyError("the policy put a rider in two groups")
    use = np.bincount(edges.vehicle[arr], minlength=counts.size)
    if (use > counts).any():
        r = int(np.flatnonzero(use > counts)[0])
        raise PolicyError(
            f"the policy used {int(use[r])} vehicles at idle node resource {r}, which has "
            f"{int(counts[r])}"
        )
    return arr


def _check_real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out!r}")
    return out


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


class Dispatcher:
    """Window-by-window ride-pooling dispatcher (state in, actions out).

    Parameters
    ----------
    network : RoadNetwork
        Travel times.
    depots : sequence of int
        Depot node of each vehicle (vehicles are ``0 .. len(depots) - 1``); every
        vehicle starts there, free at time 0.
    seats : int
        Riders per vehicle, 1 to 4 (the largest group).
    max_wait : float, default 300
        Latest pickup is ``request_time + max_wait`` (s).
    max_detour : float, default 600
        Latest dropoff is ``request_time + direct + max_detour`` (s, absolute; see
        :mod:`scheduling.pooling`).
    policy : {"batched", "greedy", "ranking", "attenuate"}
        Exact per-window solve, an online policy over the same edges, or the
        ridesharing paper's LP sample-and-attenuate from ``prior``.
    return_to_depot : bool, default True
        Whether a vehicle drives back to its depot after its last dropoff (the leg is
        in the route's cost and time); else it is free at its last dropoff.
    cost_weight : float, default 0.1
        Weight of one hour of driving against one rider served.
    max_candidates : int or None, default 20
        Nearest idle-vehicle nodes a group is priced on (None: every node that can
        reach all its riders in time).
    max_partners : int or None, default 8
        Groups of three or more riders are built only from pairs that are among both
        riders' ``max_partners`` best partners (largest time saved against two direct
        trips); None builds every feasible group (exact, but the count of groups of
        3 and 4 grows steeply with dense demand and loose limits).
    time_limit : float or None
        Seconds per exact solve (``policy="batched"``).
    seed : int
        Seed of the solver and of RANKING's resource orders.
    prior : PriorDispatchPolicy, optional
        Required by ``policy="attenuate"``: the model fitted to a training demand on
        this fleet (:meth:`scheduling.ride_prior.PriorDispatchPolicy.fit`); window ``k``
        of the dispatch is the model's step ``k``.
    """

    def __init__(
        self,
        network: RoadNetwork,
        depots: Sequence[int] | np.ndarray,
        seats: int,
        *,
        max_wait: float = 300.0,
        max_detour: float = 600.0,
        policy: Policy = "batched",
        return_to_depot: bool = True,
        cost_weight: float = 0.1,
        max_candidates: int | None = 20,
        max_partners: int | None = 8,
        time_limit: float | None = None,
        seed: int = 0,
        prior: PriorDispatchPolicy | None = None,
    ) -> None:
        if not isinstance(network, RoadNetwork):
            raise ValueError(f"network must be a RoadNetwork, got {type(network).__name__}")
        dep = np.atleast_1d(np.asarray(depots))
        if dep.ndim != 1 or dep.size == 0 or dep.dtype.kind not in "iu":
            raise ValueError(f"depots must be a non-empty list of node indices, got {depots!r}")
        bad = (dep < 0) | (dep >= network.num_nodes)
        if bad.any():
            raise ValueError(
                f"depots: vehicle {int(np.flatnonzero(bad)[0])} has node "
                f"{int(dep[bad][0])} outside [0, {network.num_nodes})"
            )
        seats = _check_int(seats, "seats")
        if not 1 <= seats <= MAX_EXACT_GROUP:
            raise ValueError(f"seats must be 1..{MAX_EXACT_GROUP}, got {seats}")
        for name, value in (("max_wait", max_wait), ("max_detour", max_detour)):
            if _check_real(value, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {value}")
        if policy not in POLICIES + PRIOR_POLICIES:
            raise ValueError(f"policy must be one of {POLICIES + PRIOR_POLICIES}, got {policy!r}")
        if policy in PRIOR_POLICIES:
            if prior is None:
                raise ValueError(f"policy {policy!r} needs prior= (PriorDispatchPolicy.fit)")
            if int(prior.model.types.capacity.sum()) != dep.size:
                raise ValueError(
                    f"the prior was fitted for {int(prior.model.types.capacity.sum())} "
                    f"vehicles, the fleet has {dep.size}"
                )
        if _check_real(cost_weight, "cost_weight") < 0:
            raise ValueError(f"cost_weight must be non-negative, got {cost_weight}")
        if max_candidates is not None and _check_int(max_candidates, "max_candidates") < 1:
            raise ValueError(f"max_candidates must be at least 1 or None, got {max_candidates}")
        if max_partners is not None and _check_int(max_partners, "max_partners") < 1:
            raise ValueError(f"max_partners must be at least 1 or None, got {max_partners}")
        if time_limit is not None and not _check_real(time_limit, "time_limit") > 0:
            raise ValueError(f"time_limit must be positive, got {time_limit}")
        self.network = network
        self.depots = dep.astype(np.int64)
        self.depots.setflags(write=False)
        self.seats = seats
        self.max_wait = float(max_wait)
        self.max_detour = float(max_detour)
        self.policy: Policy = policy
        self.return_to_depot = bool(return_to_depot)
        self.cost_weight = float(cost_weight)
        self.max_candidates = max_candidates
        self.max_partners = max_partners
        self.time_limit = time_limit
        self.seed = int(seed)
        self.prior = prior
        self._rng = np.random.default_rng(self.seed)
        self._node = self.depots.copy()
        self._free = np.zeros(dep.size)
        self._pending: dict[int, _Pending] = {}
        self._seen: set[int] = set()
        self._now = -math.inf
        self._previous = -math.inf
        self._windows = 0

    # ------------------------------------------------------------------ reading
    @property
    def n_vehicles(self) -> int:
        """Number of vehicles."""
        return int(self.depots.size)

    @property
    def pending(self) -> tuple[int, ...]:
        """Ids of the requests waiting for a vehicle."""
        return tuple(self._pending)

    def vehicle(self, v: int) -> VehicleState:
        """Return the dispatcher's view of vehicle ``v``.

        Raises
        ------
        ValueError
            When ``v`` is not a vehicle.
        """
        v = _check_int(v, "vehicle")
        if not 0 <= v < self.n_vehicles:
            raise ValueError(f"unknown vehicle {v}: vehicles are 0..{self.n_vehicles - 1}")
        return VehicleState(v, int(self._node[v]), float(self._free[v]), int(self.depots[v]))

    # ------------------------------------------------------------------ deciding
    def decide(self, now: float, new_requests: Iterable[RideRequest]) -> DispatchDecision:
        """Decide one window at time ``now``.

        Parameters
        ----------
        now : float
            Decision time (s); not before the previous call's.
        new_requests : iterable of RideRequest (or 4-tuples)
            The requests that arrived since the previous call, each with
            ``time <= now``.

        Returns
        -------
        DispatchDecision

        Raises
        ------
        ValueError
            On a bad request or time (naming the field), before any state changes.
        """
        t0 = time.perf_counter()
        now = self._check_now(now)
        new = self._check_requests(new_requests, now)
        self._admit(new)
        previous = self._previous = self._now
        self._now = now
        self._windows += 1
        expired = self._expire(now)
        idle = np.flatnonzero(self._free <= now)
        if not self._pending or idle.size == 0:
            stats = self._stats(now, len(new), expired, idle, t0, status="empty")
            return DispatchDecision(now, (), expired, stats)
        nodes, counts, members = self._resources(idle)
        window = self._window(now, nodes)
        if window.ids.size == 0:
            stats = self._stats(now, len(new), expired, idle, t0, status="empty")
            return DispatchDecision(now, (), expired, stats)
        t1 = time.perf_counter()
        groups = self._groups(window.requests)
        t2 = time.perf_counter()
        edges = self._price(nodes, now, groups, window)
        t3 = time.perf_counter()
        if self.policy == "batched":
            chosen, status = self._solve(edges, groups, counts, len(window.ids))
        elif self.policy in PRIOR_POLICIES:
            assert self.prior is not None
            view = VehicleGroupEdges(
                sealed(edges.vehicle), sealed(edges.group), sealed(edges.cost), edges.routes, 0.0
            )
            chosen = self.prior.choose(
                self._windows - 1,
                sealed(window.asked > previous),
                window.requests,
                sealed(window.asked),
                tuple(groups),
                view,
                sealed(nodes),
                sealed(counts),
                self._rng,
            )
            chosen = _checked_choice(chosen, edges, groups, counts)
            status = "attenuate"
        else:
            chosen, status = self._online(edges, groups, counts, window)
        t4 = time.perf_counter()
        assignments = self._apply(chosen, edges, members, window)
        weights = self._weights(edges, groups)
        stats = WindowStats(
            time=now,
            new=len(new),
            pending=len(self._pending) + sum(len(a.riders) for a in assignments),
            expired=len(expired),
            offered=len(window.ids),
            idle_vehicles=int(idle.size),
            resources=int(nodes.size),
            groups=len(groups),
            edges=len(edges),
            assigned_riders=sum(len(a.riders) for a in assignments),
            assigned_vehicles=len(assignments),
            objective=float(weights[chosen].sum()),
            status=status,
            seconds=time.perf_counter() - t0,
            enumerate_seconds=t2 - t1,
            price_seconds=t3 - t2,
            solve_seconds=t4 - t3,
        )
        return DispatchDecision(now, tuple(assignments), expired, stats)

    # ------------------------------------------------------------------ validation
    def _check_now(self, now: object) -> float:
        value = _check_real(now, "now")
        if value < 0:
            raise ValueError(f"now must be non-negative, got {value}")
        if value < self._now:
            raise ValueError(f"now={value} is before the previous decision time {self._now}")
        return value

    def _check_requests(
        self, new_requests: Iterable[RideRequest], now: float
    ) -> list[RideRequest]:
        out: list[RideRequest] = []
        batch: set[int] = set()
        n = self.network.num_nodes
        for i, raw in enumerate(new_requests):
            if len(raw) != 4:
                raise ValueError(f"new_requests[{i}] must be (id, origin, destination, time)")
            rid = _check_int(raw[0], f"new_requests[{i}].id")
            o = _check_int(raw[1], f"new_requests[{i}].origin")
            d = _check_int(raw[2], f"new_requests[{i}].destination")
            t = _check_real(raw[3], f"new_requests[{i}].time")
            if rid in self._seen or rid in batch:
                raise ValueError(f"new_requests[{i}].id: duplicate request id {rid}")
            for name, node in (("origin", o), ("destination", d)):
                if not 0 <= node < n:
                    raise ValueError(
                        f"new_requests[{i}].{name}: node {node} outside [0, {n}) (request {rid})"
                    )
            if t < 0:
                raise ValueError(f"new_requests[{i}].time must be non-negative, got {t}")
            if t > now:
                raise ValueError(
                    f"new_requests[{i}].time = {t} is after now = {now}: the dispatcher "
                    "is never handed the future"
                )
            if t <= self._now:
                raise ValueError(
                    f"new_requests[{i}].time = {t} is not after the previous decision at "
                    f"{self._now}: hand each request to the first decide after it asks"
                )
            batch.add(rid)
            out.append(RideRequest(rid, o, d, t))
        if out:
            direct = self.network.travel_time(
                np.array([r.origin for r in out]), np.array([r.destination for r in out])
            )
            bad = np.flatnonzero(~np.isfinite(direct))
            if bad.size:
                r = out[int(bad[0])]
                raise ValueError(
                    f"new_requests: request {r.id}'s destination {r.destination} cannot be "
                    f"reached from its origin {r.origin} on this network"
                )
        return out

    # ------------------------------------------------------------------ steps
    def _admit(self, new: list[RideRequest]) -> None:
        if not new:
            return
        o = np.array([r.origin for r in new], dtype=np.int64)
        d = np.array([r.destination for r in new], dtype=np.int64)
        direct = self.network.travel_time(o, d)
        for r, t in zip(new, direct.tolist(), strict=True):
            self._seen.add(r.id)
            self._pending[r.id] = _Pending(r.origin, r.destination, r.time, t)

    def _expire(self, now: float) -> tuple[int, ...]:
        """Drop requests no vehicle leaving at ``now`` can serve within their limits.

        Under a prior policy a request is served in the window it arrives or never (its
        model's rule), so the requests of earlier windows go too.
        """
        one_window = self.policy in PRIOR_POLICIES
        gone = [
            rid
            for rid, p in self._pending.items()
            if not (
                now <= p.time + self.max_wait
                and now + p.direct <= p.time + p.direct + self.max_detour
            )
            or (one_window and p.time <= self._previous)
        ]
        for rid in gone:
            del self._pending[rid]
        return tuple(gone)

    def _window(self, now: float, nodes: np.ndarray) -> _Window:
        """Pending requests some idle node reaches in time, ready now, deadlines kept.

        A rider no idle vehicle can reach by its latest pickup (or early enough to
        deliver it by its latest dropoff) cannot be in any group priced this window.
        """
        ids = np.fromiter(self._pending, dtype=np.int64, count=len(self._pending))
        ps = list(self._pending.values())
        origin = np.array([p.origin for p in ps], dtype=np.int64)
        asked = np.array([p.time for p in ps])
        waited = now - asked
        slack = np.minimum(self.max_wait, self.max_detour) - waited
        times = self.network.travel_time_matrix(nodes, origin)
        reach = times.min(axis=0) <= slack
        requests = Requests(
            origin=origin[reach],
            destination=np.array([p.destination for p in ps], dtype=np.int64)[reach],
            request_time=np.full(int(reach.sum()), now),
            max_wait=np.maximum(self.max_wait - waited[reach], 0.0),
            max_detour=np.maximum(self.max_detour - waited[reach], 0.0),
            direct=np.array([p.direct for p in ps])[reach],
        )
        return _Window(ids[reach], requests, asked[reach], times[:, reach])

    def _resources(self, idle: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
        """One resource per distinct idle-vehicle node: nodes, capacities, vehicles."""
        nodes, inverse, counts = np.unique(
            self._node[idle], return_inverse=True, return_counts=True
        )
        members: list[list[int]] = [[] for _ in range(nodes.size)]
        for v, r in zip(idle.tolist(), inverse.tolist(), strict=True):
            members[r].append(v)
        return nodes, counts, members

    def _groups(self, req: Requests) -> list[tuple[int, ...]]:
        """Feasible groups of up to ``seats`` riders (pairs pruned to ``max_partners``)."""
        partners = self.max_partners if self.seats > 2 else None
        return feasible_groups(
            req, self.network, max_size=self.seats, max_partners=partners
        ).groups

    def _price(
        self, nodes: np.ndarray, now: float, groups: list[tuple[int, ...]], window: _Window
    ) -> VehicleGroupEdges:
        """Price each group on its ``max_candidates`` nearest reachable idle nodes.

        A node's distance to a group is its travel time to the group's farthest
        origin; nodes that cannot reach some origin by that rider's latest pickup
        are never priced (as in :func:`~scheduling.pooling.vehicle_group_edges`).
        """
        cand = self._candidate_nodes(groups, window)
        return vehicle_group_edges(
            nodes,
            now,
            nodes,
            groups,
            window.requests,
            self.network,
            return_to_depot=self.return_to_depot,
            candidates=cand,
        )

    def _candidate_nodes(self, groups: list[tuple[int, ...]], window: _Window) -> np.ndarray:
        """Boolean ``(nodes, groups)``: the nodes each group is priced on."""
        times = window.reach
        slack = window.requests.latest_pickup - window.requests.request_time
        out = np.zeros((times.shape[0], len(groups)), dtype=bool)
        for size in range(1, self.seats + 1):
            gi = np.array([i for i, g in enumerate(groups) if len(g) == size], dtype=np.int64)
            if gi.size == 0:
                continue
            garr = np.array([groups[i] for i in gi.tolist()], dtype=np.int64)
            ok = (times[:, garr] <= slack[garr][None]).all(axis=2)
            far = np.where(ok, times[:, garr].max(axis=2), np.inf)
            if self.max_candidates is not None and far.shape[0] > self.max_candidates:
                kth = np.partition(far, self.max_candidates - 1, axis=0)[self.max_candidates - 1]
                ok &= far <= kth[None]
            out[:, gi] = ok
        return out

    def _weights(self, edges: VehicleGroupEdges, groups: list[tuple[int, ...]]) -> np.ndarray:
        sizes = np.array([len(g) for g in groups], dtype=float)
        if len(edges) == 0:
            return np.zeros(0)
        return sizes[edges.group] - self.cost_weight * edges.cost / 3600.0

    def _solve(
        self,
        edges: VehicleGroupEdges,
        groups: list[tuple[int, ...]],
        counts: np.ndarray,
        n_requests: int,
    ) -> tuple[np.ndarray, str]:
        if len(edges) == 0:
            return np.zeros(0, dtype=np.int64), "empty"
        used, local = np.unique(edges.group, return_inverse=True)
        sizes = np.array([len(groups[g]) for g in used.tolist()], dtype=np.int64)
        inst = matching.Instance.from_arrays(
            group_ptr=np.concatenate([[0], np.cumsum(sizes)]),
            group_members=np.fromiter(
                (r for g in used.tolist() for r in groups[g]), dtype=np.int64, count=sizes.sum()
            ),
            edge_resource=edges.vehicle,
            edge_group=local,
            edge_weight=self._weights(edges, groups),
            capacity=counts.astype(float),
            n_requests=n_requests,
            n_resources=counts.size,
        )
        result = matching.solve(inst, time_limit=self.time_limit, seed=self.seed)
        result.check(inst)
        return np.asarray(result.edges, dtype=np.int64), str(result.status.value)

    def _online(
        self,
        edges: VehicleGroupEdges,
        groups: list[tuple[int, ...]],
        counts: np.ndarray,
        window: _Window,
    ) -> tuple[np.ndarray, str]:
        policy = GreedyPolicy() if self.policy == "greedy" else RankingPolicy()
        matcher = OnlineMatcher(
            counts.astype(float), policy, seed=self.seed * 1_000_003 + self._windows
        )
        if len(edges) == 0:
            return np.zeros(0, dtype=np.int64), "online"
        weights = self._weights(edges, groups)
        by_group = np.argsort(edges.group, kind="stable")
        bounds = np.searchsorted(edges.group[by_group], np.arange(len(groups) + 1))
        newest = [max(window.asked[list(g)]) for g in groups]
        order = sorted(
            range(len(groups)),
            key=lambda g: (-len(groups[g]), newest[g], window.ids[list(groups[g])].tolist()),
        )
        chosen: list[int] = []
        now = self._now
        for g in order:
            own = by_group[bounds[g] : bounds[g + 1]]
            if own.size == 0:
                continue
            decision = matcher.arrive(
                [int(window.ids[r]) for r in groups[g]],
                resources=edges.vehicle[own],
                weights=weights[own],
                time=now,
            )
            if decision.accepted:
                chosen.append(int(own[decision.edge]))
        return np.array(sorted(chosen), dtype=np.int64), "online"

    def _apply(
        self,
        chosen: np.ndarray,
        edges: VehicleGroupEdges,
        members: list[list[int]],
        window: _Window,
    ) -> list[Assignment]:
        free = [list(m) for m in members]
        out: list[Assignment] = []
        for e in chosen.tolist():
            r = int(edges.vehicle[e])
            v = free[r].pop(0)
            route = self._in_ids(edges.routes[e], window)
            riders = route.riders
            for rid in riders:
                del self._pending[rid]
            self._free[v] = route.end_time
            self._node[v] = self.depots[v] if self.return_to_depot else route.nodes[-1]
            out.append(Assignment(v, riders, route))
        return out

    @staticmethod
    def _in_ids(route: Route, window: _Window) -> Route:
        """``route`` with request ids for indices and waits measured from asking."""
        idx = np.array(route.riders, dtype=np.int64)
        shift = route.start_time - window.asked[idx]
        ids = window.ids
        return dataclasses.replace(
            route,
            riders=tuple(int(ids[i]) for i in route.riders),
            stops=tuple((int(ids[i]), kind) for i, kind in route.stops),
            wait=route.wait + shift,
            detour=route.detour + shift,
        )

    def _stats(
        self,
        now: float,
        new: int,
        expired: tuple[int, ...],
        idle: np.ndarray,
        t0: float,
        *,
        status: str,
    ) -> WindowStats:
        return WindowStats(
            time=now,
            new=new,
            pending=len(self._pending),
            expired=len(expired),
            offered=0,
            idle_vehicles=int(idle.size),
            resources=int(np.unique(self._node[idle]).size),
            groups=0,
            edges=0,
            assigned_riders=0,
            assigned_vehicles=0,
            objective=0.0,
            status=status,
            seconds=time.perf_counter() - t0,
        )
