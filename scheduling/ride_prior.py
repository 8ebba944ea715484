"""The ridesharing paper's algorithm as a window dispatch policy, from a fitted prior.

LP sample-and-attenuate (:mod:`matching.rideshare_policy`) is stated for a model: request
*types* arrive independently per step, at most one of each, and are served in the step
they arrive or never; depots hold identical vehicles that return after each route.
:class:`PriorDispatchPolicy` fits that model to a *training* demand on the dispatcher's
own network and depots, and then decides each dispatch window of a *different* demand:

* regions: k-means over the training trips' ends; a request's type is its (origin
  region, destination region) pair; each type stands at its most typical training trip;
* steps: the dispatch windows; ``p[v, t] = 1 - exp(-rate)`` with the rate fitted
  separably (the type's share of training trips times the training arrivals in window
  ``t``, smoothed over five windows);
* resources: the regions holding depots, with their vehicles as capacity; groups and
  route durations from :mod:`scheduling.pooling` on the types' typical trips, in whole
  windows including the return to the depot; value = riders.

In window ``t`` only the requests that arrived in that window are the model's arrivals
(the first of each type; a second request of a type in the same window, or a request
whose type the model does not have, is outside the model and left alone). Each model
group whose types all arrived is processed in ascending group index: a region is sampled
with probability ``x / q``; the real group of those riders is served from an idle
vehicle of that region (the cheapest feasible real route the dispatcher priced) when one
exists and its riders are free, with probability ``min(1, gamma_k / beta)``.

Nothing here carries the model's guarantee into the real simulation: real routes, real
arrivals (several per type and window) and waiting riders all differ from the model.
It is the paper's algorithm run as a dispatcher, to compare with the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.spatial import cKDTree

from matching.rideshare import RideshareLP, RideshareModel, gamma_k, rideshare_lp
from matching.rideshare_policy import Availability, simulated_availability
from scheduling.pooling import Requests, VehicleGroupEdges
from scheduling.ride_model import types_model
from scheduling.roads import RoadNetwork

__all__ = ["PriorDispatchPolicy"]


@dataclass
class PriorDispatchPolicy:
    """A fitted model and its LP, ready to decide windows (see the module docstring).

    Build with :meth:`fit`. ``counts`` tallies the window riders by how the model saw
    them: ``"typed"`` (the model's arrival of its type), ``"second of type"``,
    ``"no type"``.
    """

    model: RideshareModel
    lp: RideshareLP
    availability: Availability
    gamma: float
    region_of_node: np.ndarray
    type_of_pair: dict[tuple[int, int], int]
    region_of_resource: np.ndarray
    window_s: float
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        network: RoadNetwork,
        depots: np.ndarray,
        train_origin: np.ndarray,
        train_destination: np.ndarray,
        train_time: np.ndarray,
        *,
        horizon_s: float,
        window_s: float = 30.0,
        n_regions: int = 6,
        k: int = 2,
        max_wait: float = 300.0,
        max_detour: float = 600.0,
        n_sims: int = 1000,
        seed: int = 0,
    ) -> PriorDispatchPolicy:
        """Fit the model to a training demand, solve its LP and availabilities.

        Parameters
        ----------
        network : RoadNetwork
        depots : array of int
            Depot node of every vehicle of the fleet the policy will dispatch.
        train_origin, train_destination, train_time : arrays
            The training requests (nodes, seconds in the dispatch clock).
        horizon_s, window_s : float
            The dispatch span and window: ``ceil(horizon_s / window_s)`` steps.
        n_regions, k : int
            Regions (types are region pairs) and the largest group of the model.
        max_wait, max_detour : float
            Rider limits (s) for the model's groups.
        n_sims, seed : int
            Runs and seed of the simulated availabilities.

        Examples
        --------
        >>> from scheduling.ride_sim import generate_demand
        >>> net = RoadNetwork.grid(8, spacing_km=0.3, speed_kmh=25.0, seed=0)
        >>> o, d, t = generate_demand(net, 400, 600.0, seed=1)
        >>> pol = PriorDispatchPolicy.fit(net, np.array([0, 0, 63]), o, d, t,
        ...                               horizon_s=600.0, n_regions=3, n_sims=200)
        >>> pol.model.horizon, int(pol.model.types.capacity.sum())
        (20, 3)
        """
        o = np.asarray(train_origin, dtype=np.int64)
        d = np.asarray(train_destination, dtype=np.int64)
        times = np.asarray(train_time, dtype=float)
        if not (o.shape == d.shape == times.shape and o.ndim == 1 and o.size):
            raise ValueError("training origin, destination and time must be 1-d, equal, non-empty")
        if not (horizon_s > 0 and window_s > 0):
            raise ValueError("horizon_s and window_s must be positive")
        if not (isinstance(n_regions, int) and n_regions >= 1):
            raise ValueError(f"n_regions must be an integer >= 1, got {n_regions!r}")
        xy = network.xy
        points = np.concatenate([xy[o], xy[d]])
        centres, _ = kmeans2(points, n_regions, minit="++", seed=seed)
        region_of_node = cKDTree(centres).query(xy)[1].astype(np.int64)
        ro, rd = region_of_node[o], region_of_node[d]
        pairs, inverse, count = np.unique(
            np.column_stack([ro, rd]), axis=0, return_inverse=True, return_counts=True
        )
        inverse = inverse.ravel()
        # each type stands at its most typical training trip
        rep_o = np.empty(len(pairs), np.int64)
        rep_d = np.empty(len(pairs), np.int64)
        for v in range(len(pairs)):
            mine = np.flatnonzero(inverse == v)
            spread = np.linalg.norm(xy[o[mine]] - xy[o[mine]].mean(0), axis=1) + np.linalg.norm(
                xy[d[mine]] - xy[d[mine]].mean(0), axis=1
            )
            best = mine[int(np.argmin(spread))]
            rep_o[v], rep_d[v] = o[best], d[best]
        keep = rep_o != rep_d
        pairs, count, rep_o, rep_d = pairs[keep], count[keep], rep_o[keep], rep_d[keep]
        n_steps = math.ceil(horizon_s / window_s)
        per_window = np.histogram(times, bins=np.arange(n_steps + 1) * window_s)[0].astype(float)
        smooth = np.convolve(per_window, np.ones(5) / 5, mode="same")
        rate = (count / o.size)[:, None] * smooth[None, :]
        p = 1.0 - np.exp(-rate)
        dep = np.asarray(depots, dtype=np.int64)
        dep_region = region_of_node[dep]
        regions = np.unique(dep_region)
        capacity = np.array([(dep_region == r).sum() for r in regions], dtype=float)
        rep_depot = np.array(
            [
                dep[dep_region == r][
                    np.argmin(np.linalg.norm(xy[dep[dep_region == r]] - centres[r], axis=1))
                ]
                for r in regions.tolist()
            ],
            dtype=np.int64,
        )
        model = types_model(
            network,
            rep_o,
            rep_d,
            p,
            rep_depot,
            capacity,
            k=k,
            step_s=window_s,
            max_wait=max_wait,
            max_detour=max_detour,
        )
        lp = rideshare_lp(model)
        gamma = gamma_k(model.k)
        availability = simulated_availability(model, lp, gamma, n_sims=n_sims, seed=seed)
        return cls(
            model=model,
            lp=lp,
            availability=availability,
            gamma=gamma,
            region_of_node=region_of_node,
            type_of_pair={(int(a), int(b)): v for v, (a, b) in enumerate(pairs.tolist())},
            region_of_resource=regions.astype(np.int64),
            window_s=float(window_s),
        )

    def _tally(self, key: str, by: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + by

    def choose(
        self,
        step: int,
        new: np.ndarray,
        requests: Requests,
        asked: np.ndarray,
        groups: list[tuple[int, ...]],
        edges: VehicleGroupEdges,
        resource_nodes: np.ndarray,
        capacity: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Return the chosen edges (indices into ``edges``) for window ``step``.

        ``new`` marks the window riders that arrived in this window; ``groups`` are the
        dispatcher's feasible groups (tuples of window rider indices) and ``edges`` its
        priced (idle node, group) pairs; ``capacity`` the idle vehicles at each node.
        """
        model = self.model
        if not 0 <= step < model.horizon:
            return np.zeros(0, dtype=np.int64)
        designated: dict[int, int] = {}
        for i in sorted(np.flatnonzero(new).tolist(), key=lambda i: (asked[i], i)):
            key = (
                int(self.region_of_node[requests.origin[i]]),
                int(self.region_of_node[requests.destination[i]]),
            )
            v = self.type_of_pair.get(key)
            if v is None:
                self._tally("no type")
            elif v in designated:
                self._tally("second of type")
            else:
                designated[v] = i
                self._tally("typed")
        real_group = {g: i for i, g in enumerate(groups)}
        node_region = self.region_of_node[resource_nodes]
        used = np.zeros(resource_nodes.size, dtype=np.int64)
        taken: set[int] = set()
        chosen: list[int] = []
        types = model.types
        ge = types.group_edges
        present = set(designated)
        for g in range(types.n_groups):
            members = types.group(g).tolist()
            if not present.issuperset(members):
                continue
            sample, coin = rng.random(), rng.random()
            mine = ge.indices[ge.indptr[g] : ge.indptr[g + 1]]
            q = self.lp.q[g, step]
            if q <= 0 or mine.size == 0:
                continue
            pick = int(np.searchsorted(np.cumsum(self.lp.x[mine, step] / q), sample, "right"))
            if pick >= mine.size:
                continue
            e_model = int(mine[pick])
            region = int(self.region_of_resource[types.edge_resource[e_model]])
            riders = tuple(sorted(designated[v] for v in members))
            if taken.intersection(riders) or riders not in real_group:
                continue
            cand = np.flatnonzero(
                (edges.group == real_group[riders])
                & (node_region[edges.vehicle] == region)
                & (used[edges.vehicle] < capacity[edges.vehicle])
            )
            if cand.size == 0:
                continue
            beta = self.availability.beta[e_model, step]
            if coin >= (1.0 if beta <= 0 else min(1.0, self.gamma / beta)):
                continue
            e = int(cand[np.argmin(edges.cost[cand])])
            chosen.append(e)
            used[edges.vehicle[e]] += 1
            taken.update(riders)
        return np.array(sorted(chosen), dtype=np.int64)
