"""Road networks with shortest travel times: a generated grid city and real Manhattan.

A :class:`RoadNetwork` holds node positions (latitude/longitude and a local planar frame in
km) and a sparse directed travel-time matrix in seconds. Shortest travel times come from
:func:`scipy.sparse.csgraph.dijkstra` run from the source nodes a query needs only; each
source's row of times is kept in a bounded least-recently-used cache. Nearest nodes come
from a :class:`scipy.spatial.cKDTree` over the planar positions.

Unreachable pairs have travel time ``inf``. A directed real network need not be strongly
connected (Manhattan's is not); :attr:`RoadNetwork.largest_component_size` reports the
largest strongly connected component and :meth:`RoadNetwork.restrict_to_largest_component`
keeps only it, so that every pair is reachable.

The grid city (:meth:`RoadNetwork.grid`) is the embedded default: it needs no data. The
Manhattan network (:meth:`RoadNetwork.manhattan`) reads ``../shared/data/rides/manhattan``
(4,091 nodes, 9,452 directed edges, 24 hourly travel times per edge).

Zero travel times in the Manhattan data
---------------------------------------
``week.csv`` holds 715 zero entries over 73 edges (17 edges are zero in all 24 hours). A
zero-second traversal of a street segment is physically impossible and, left in, would
give zero-cost cycles that let routes cross blocks for free, so a zero is read as "not
measured in that hour". It is replaced by the smallest positive time the same edge has in
another hour of the week (the edge's own free-flow measurement); an edge with no positive
time in any hour gets its straight-line length at ``fallback_speed_kmh`` (default 25 km/h,
Manhattan's typical free-flow taxi speed), and at least one second. The number of edges
replaced in the chosen hour is :attr:`RoadNetwork.zero_time_edges`.

Examples
--------
>>> net = RoadNetwork.grid(4, spacing_km=0.5, speed_kmh=30.0)
>>> net.num_nodes, net.num_edges
(16, 48)
>>> float(net.travel_time(0, 15))  # 6 blocks of 0.5 km at 30 km/h
360.0
"""

from __future__ import annotations

import csv
import math
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

__all__ = ["EARTH_RADIUS_KM", "RoadNetwork", "default_data_dir"]

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius used by the local planar projection (km)."""

_DEFAULT_ORIGIN = (40.7580, -73.9855)


def default_data_dir() -> Path:
    """Return ``../shared/data`` relative to the repository root (it may not exist).

    Examples
    --------
    >>> default_data_dir().name
    'data'
    """
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _project(lat: np.ndarray, lon: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Equirectangular projection around ``origin`` to planar km (x east, y north)."""
    lat0, lon0 = origin
    x = EARTH_RADIUS_KM * np.radians(np.asarray(lon, float) - lon0) * math.cos(math.radians(lat0))
    y = EARTH_RADIUS_KM * np.radians(np.asarray(lat, float) - lat0)
    return np.stack([x, y], axis=-1)


def _unproject(xy: np.ndarray, origin: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    lat0, lon0 = origin
    lat = lat0 + np.degrees(xy[:, 1] / EARTH_RADIUS_KM)
    lon = lon0 + np.degrees(xy[:, 0] / (EARTH_RADIUS_KM * math.cos(math.radians(lat0))))
    return lat, lon


class RoadNetwork:
    """A directed road network with node positions and travel times in seconds.

    Build one with :meth:`grid`, :meth:`manhattan` or :meth:`from_networkx` rather than
    directly. Nodes are addressed by index ``0 .. num_nodes - 1``; :attr:`node_ids` holds
    the original identifiers and :meth:`index_of` maps them to indices.

    Parameters
    ----------
    node_ids : sequence
        Original node identifiers, one per node.
    lat, lon : ndarray
        Node coordinates in degrees.
    sources, targets : ndarray of int
        Directed edges as node indices.
    times : ndarray of float
        Edge travel times in seconds (finite, non-negative).
    origin : tuple of float
        ``(lat, lon)`` of the planar frame's origin.
    cache_rows : int
        Most shortest-path rows (one per source node) kept in the cache.
    name : str
        A label for reports.

    Attributes
    ----------
    xy : ndarray, shape (n, 2)
        Planar positions in km (x east, y north of :attr:`origin`).
    matrix : scipy.sparse.csr_matrix
        Edge travel times; parallel edges keep the fastest.
    zero_time_edges : int
        Edges whose zero travel time was replaced when loading (0 unless loaded from data).
    hour : int or None
        The hour of day of the travel times, when they depend on it.
    """

    def __init__(
        self,
        node_ids: Sequence[Hashable],
        lat: np.ndarray,
        lon: np.ndarray,
        sources: np.ndarray,
        targets: np.ndarray,
        times: np.ndarray,
        *,
        origin: tuple[float, float] | None = None,
        cache_rows: int = 1024,
        name: str = "network",
    ) -> None:
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        n = len(node_ids)
        if lat.shape != (n,) or lon.shape != (n,):
            raise ValueError(f"lat and lon need one entry per node ({n}), got {lat.shape}")
        bad = np.flatnonzero(~np.isfinite(lat) | ~np.isfinite(lon))
        if bad.size:
            raise ValueError(
                f"node coordinates must be finite: node {node_ids[bad[0]]!r} has "
                f"lat={lat[bad[0]]}, lon={lon[bad[0]]} ({bad.size} such nodes)"
            )
        src = np.asarray(sources, dtype=np.int64)
        dst = np.asarray(targets, dtype=np.int64)
        t = np.asarray(times, dtype=float)
        if not (src.shape == dst.shape == t.shape) or src.ndim != 1:
            raise ValueError("sources, targets and times must be 1-d arrays of equal length")
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise ValueError(f"edge endpoints must be node indices in [0, {n})")
        bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"edge travel times must be finite and non-negative: edge "
                f"{node_ids[src[i]]!r} -> {node_ids[dst[i]]!r} has time {t[i]}"
            )
        if cache_rows < 1:
            raise ValueError(f"cache_rows must be at least 1, got {cache_rows}")
        # Parallel edges: keep the fastest. Sort by (src, dst, time) and keep the first.
        order = np.lexsort((t, dst, src))
        src, dst, t = src[order], dst[order], t[order]
        first = np.ones(src.size, dtype=bool)
        first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
        src, dst, t = src[first], dst[first], t[first]
        # Build CSR directly so that explicit zero times stay edges for csgraph.
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.add.at(indptr, src + 1, 1)
        self.matrix = sp.csr_matrix((t, dst, np.cumsum(indptr)), shape=(n, n))
        self.node_ids = list(node_ids)
        self._index = {v: i for i, v in enumerate(self.node_ids)}
        if len(self._index) != n:
            raise ValueError("node ids must be unique")
        self.lat = lat
        self.lon = lon
        self.origin = origin if origin is not None else (float(lat.mean()), float(lon.mean()))
        self.xy = _project(lat, lon, self.origin) if n else np.zeros((0, 2))
        self._tree = cKDTree(self.xy) if n else None
        self.cache_rows = int(cache_rows)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0
        self.name = name
        self.zero_time_edges = 0
        self.hour: int | None = None
        ncomp, labels = connected_components(self.matrix, directed=True, connection="strong")
        self._scc_labels = labels
        self.num_components = int(ncomp)
        self.largest_component_size = int(np.bincount(labels).max()) if n else 0

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_networkx(
        cls,
        graph: nx.Graph,
        *,
        time_attr: str = "time",
        pos_attrs: tuple[str, str] | None = None,
        origin: tuple[float, float] | None = None,
        cache_rows: int = 1024,
        name: str = "networkx",
    ) -> RoadNetwork:
        """Build a network from a networkx graph.

        Parameters
        ----------
        graph : networkx.Graph or networkx.DiGraph (multigraphs allowed)
            An undirected graph gives each edge both directions.
        time_attr : str
            Edge attribute with the travel time in seconds (required on every edge).
        pos_attrs : tuple of str, optional
            Node attributes with the position: ``("lat", "lon")`` in degrees, or
            ``("x", "y")`` in km in a planar frame around ``origin``. Detected when None.
        origin : tuple of float, optional
            ``(lat, lon)`` of the planar frame; with x/y positions it places the graph on
            the globe (default: Times Square, 40.7580, -73.9855).
        cache_rows : int
            Size of the shortest-path row cache.
        name : str
            A label for reports.

        Returns
        -------
        RoadNetwork

        Examples
        --------
        >>> import networkx as nx
        >>> g = nx.DiGraph()
        >>> g.add_node("a", x=0.0, y=0.0)
        >>> g.add_node("b", x=1.0, y=0.0)
        >>> g.add_edge("a", "b", time=60.0)
        >>> net = RoadNetwork.from_networkx(g)
        >>> float(net.travel_time(net.index_of("a"), net.index_of("b")))
        60.0
        >>> float(net.travel_time(net.index_of("b"), net.index_of("a")))
        inf
        """
        nodes = list(graph.nodes)
        if not nodes:
            raise ValueError("the graph has no nodes")
        if pos_attrs is None:
            data = graph.nodes[nodes[0]] if nodes else {}
            if "lat" in data and "lon" in data:
                pos_attrs = ("lat", "lon")
            elif "x" in data and "y" in data:
                pos_attrs = ("x", "y")
            else:
                raise ValueError(
                    "cannot detect node positions: give pos_attrs; nodes need 'lat'/'lon' "
                    f"or 'x'/'y' attributes (node {nodes[0]!r} has {sorted(data)})"
                )
        a, b = pos_attrs
        pos = np.empty((len(nodes), 2))
        for i, v in enumerate(nodes):
            d = graph.nodes[v]
            if a not in d or b not in d:
                raise ValueError(f"node {v!r} lacks position attribute {a!r} or {b!r}")
            pos[i] = (d[a], d[b])
        index = {v: i for i, v in enumerate(nodes)}
        src, dst, times = [], [], []
        for u, v, d in graph.edges(data=True):
            if time_attr not in d:
                raise ValueError(f"edge {u!r} -> {v!r} lacks travel time attribute {time_attr!r}")
            src.append(index[u])
            dst.append(index[v])
            times.append(float(d[time_attr]))
            if not graph.is_directed():
                src.append(index[v])
                dst.append(index[u])
                times.append(float(d[time_attr]))
        if pos_attrs == ("lat", "lon"):
            lat, lon = pos[:, 0], pos[:, 1]
        else:
            bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
            if bad.size:
                raise ValueError(f"node {nodes[bad[0]]!r} has a non-finite position")
            origin = origin if origin is not None else _DEFAULT_ORIGIN
            lat, lon = _unproject(pos, origin)
        net = cls(
            nodes,
            lat,
            lon,
            np.array(src, dtype=np.int64),
            np.array(dst, dtype=np.int64),
            np.array(times, dtype=float),
            origin=origin,
            cache_rows=cache_rows,
            name=name,
        )
        if pos_attrs != ("lat", "lon"):
            net.xy = pos.copy()  # exact planar positions as given
            net._tree = cKDTree(net.xy) if len(nodes) else None
        return net

    @classmethod
    def grid(
        cls,
        n: int = 10,
        *,
        spacing_km: float = 0.2,
        speed_kmh: float = 25.0,
        perturb: float = 0.0,
        seed: int | None = None,
        origin: tuple[float, float] = _DEFAULT_ORIGIN,
        cache_rows: int = 1024,
    ) -> RoadNetwork:
        """Generate an ``n`` by ``n`` grid city: the embedded default network.

        Every block is a two-way street of length ``spacing_km`` driven at ``speed_kmh``;
        with ``perturb > 0`` each directed street's time is multiplied by an independent
        factor drawn uniformly from ``[1, 1 + perturb]`` (congestion). The grid is strongly
        connected. Node ``r * n + c`` sits ``c * spacing_km`` east and ``r * spacing_km``
        north of ``origin``.

        Parameters
        ----------
        n : int
            Nodes per side (at least 1).
        spacing_km, speed_kmh : float
            Block length and driving speed (positive).
        perturb : float
            Relative travel-time noise (non-negative).
        seed : int, optional
            Seed for the noise.
        origin : tuple of float
            ``(lat, lon)`` of node 0.
        cache_rows : int
            Size of the shortest-path row cache.

        Returns
        -------
        RoadNetwork

        Examples
        --------
        >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
        >>> net.travel_time_matrix([0, 8]).tolist()
        [[0.0, 240.0], [240.0, 0.0]]
        """
        if n < 1:
            raise ValueError(f"grid size n must be at least 1, got {n}")
        if not (spacing_km > 0 and speed_kmh > 0):
            raise ValueError(
                f"spacing_km and speed_kmh must be positive, got {spacing_km}, {speed_kmh}"
            )
        if not perturb >= 0:
            raise ValueError(f"perturb must be non-negative, got {perturb}")
        idx = np.arange(n * n).reshape(n, n)
        pairs = [
            np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()]),
            np.stack([idx[:-1, :].ravel(), idx[1:, :].ravel()]),
        ]
        e = np.concatenate(pairs, axis=1)
        src = np.concatenate([e[0], e[1]])
        dst = np.concatenate([e[1], e[0]])
        base = spacing_km / speed_kmh * 3600.0
        times = np.full(src.size, base)
        if perturb > 0:
            times *= 1.0 + perturb * np.random.default_rng(seed).random(src.size)
        cols, rows = np.meshgrid(np.arange(n), np.arange(n))
        xy = np.stack([cols.ravel() * spacing_km, rows.ravel() * spacing_km], axis=1).astype(float)
        lat, lon = _unproject(xy, origin)
        net = cls(
            list(range(n * n)),
            lat,
            lon,
            src,
            dst,
            times,
            origin=origin,
            cache_rows=cache_rows,
            name=f"grid{n}x{n}",
        )
        net.xy = xy
        net._tree = cKDTree(xy)
        return net

    @classmethod
    def manhattan(
        cls,
        data_dir: str | Path | None = None,
        hour: int = 8,
        *,
        fallback_speed_kmh: float = 25.0,
        cache_rows: int = 1024,
    ) -> RoadNetwork:
        """Load the Manhattan network with the travel times of one hour of the day.

        Parameters
        ----------
        data_dir : path, optional
            The shared data folder (holding ``rides/manhattan``) or the ``manhattan``
            folder itself; default :func:`default_data_dir`.
        hour : int
            Hour of day, 0 to 23: which of the 24 travel-time columns to use.
        fallback_speed_kmh : float
            Speed for edges whose time is zero in every hour (see the module notes).
        cache_rows : int
            Size of the shortest-path row cache.

        Returns
        -------
        RoadNetwork
            With :attr:`zero_time_edges` counting the edges whose zero time was replaced.

        Raises
        ------
        FileNotFoundError
            When the data folder or one of its three files is absent.
        ValueError
            On a malformed file (named, with the line), or an hour outside 0 to 23.
        """
        if not (isinstance(hour, int | np.integer) and 0 <= hour <= 23):
            raise ValueError(f"hour must be an integer from 0 to 23, got {hour!r}")
        base = Path(data_dir) if data_dir is not None else default_data_dir()
        folder = base if (base / "points.csv").exists() else base / "rides" / "manhattan"
        files = {k: folder / f"{k}.csv" for k in ("points", "edges", "week")}
        for f in files.values():
            if not f.exists():
                raise FileNotFoundError(f"Manhattan network file not found: {f}")
        points = _read_numeric(files["points"], 3)
        edges = _read_numeric(files["edges"], 3)
        week = _read_numeric(files["week"], 25)
        node_ids = points[:, 0].astype(np.int64)
        index = {int(v): i for i, v in enumerate(node_ids)}
        times_by_edge = {int(r[0]): r[1:] for r in week}
        src = np.empty(len(edges), dtype=np.int64)
        dst = np.empty(len(edges), dtype=np.int64)
        week_t = np.empty((len(edges), 24))
        for k, (eid, s, d) in enumerate(edges.astype(np.int64)):
            try:
                src[k], dst[k] = index[int(s)], index[int(d)]
            except KeyError as exc:
                raise ValueError(
                    f"{files['edges']}: line {k + 1}: edge {eid} uses unknown node {exc.args[0]}"
                ) from None
            if int(eid) not in times_by_edge:
                raise ValueError(f"{files['week']}: no travel times for edge {eid}")
            week_t[k] = times_by_edge[int(eid)]
        if (week_t < 0).any() or not np.isfinite(week_t).all():
            k = int(np.flatnonzero((week_t < 0).any(1) | ~np.isfinite(week_t).all(1))[0])
            raise ValueError(f"{files['week']}: edge {int(edges[k, 0])} has a negative time")
        lat, lon = points[:, 1], points[:, 2]
        times = week_t[:, hour].copy()
        zero = times == 0
        if zero.any():
            positive = np.where(week_t > 0, week_t, np.inf).min(axis=1)
            xy = _project(lat, lon, (float(lat.mean()), float(lon.mean())))
            length_km = np.linalg.norm(xy[src] - xy[dst], axis=1)
            fallback = np.maximum(length_km / fallback_speed_kmh * 3600.0, 1.0)
            times[zero] = np.where(np.isfinite(positive), positive, fallback)[zero]
        net = cls(
            [int(v) for v in node_ids],
            lat,
            lon,
            src,
            dst,
            times,
            cache_rows=cache_rows,
            name=f"manhattan@{hour:02d}h",
        )
        net.zero_time_edges = int(zero.sum())
        net.hour = int(hour)
        return net

    # ------------------------------------------------------------------ properties
    @property
    def num_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        """Number of directed edges (parallel edges merged)."""
        return int(self.matrix.nnz)

    def is_strongly_connected(self) -> bool:
        """Whether every node reaches every other (all travel times finite).

        Examples
        --------
        >>> RoadNetwork.grid(3).is_strongly_connected()
        True
        """
        return self.num_components <= 1

    def largest_component(self) -> np.ndarray:
        """Node indices of the largest strongly connected component, ascending."""
        big = np.argmax(np.bincount(self._scc_labels))
        return np.flatnonzero(self._scc_labels == big)

    def restrict_to_largest_component(self) -> RoadNetwork:
        """Return the network induced by its largest strongly connected component.

        Node ids, coordinates, the planar frame and :attr:`zero_time_edges` carry over;
        indices are renumbered (use :meth:`index_of`).

        Examples
        --------
        >>> import networkx as nx
        >>> g = nx.DiGraph()
        >>> g.add_edges_from([(0, 1), (1, 0), (1, 2)], time=1.0)
        >>> nx.set_node_attributes(g, 0.0, "x"); nx.set_node_attributes(g, 0.0, "y")
        >>> net = RoadNetwork.from_networkx(g)
        >>> net.largest_component_size, net.restrict_to_largest_component().node_ids
        (2, [0, 1])
        """
        keep = self.largest_component()
        new_index = np.full(self.num_nodes, -1, dtype=np.int64)
        new_index[keep] = np.arange(keep.size)
        coo = self.matrix.tocoo()
        ok = (new_index[coo.row] >= 0) & (new_index[coo.col] >= 0)
        net = RoadNetwork(
            [self.node_ids[i] for i in keep],
            self.lat[keep],
            self.lon[keep],
            new_index[coo.row[ok]],
            new_index[coo.col[ok]],
            coo.data[ok],
            origin=self.origin,
            cache_rows=self.cache_rows,
            name=f"{self.name}[scc]",
        )
        net.xy = self.xy[keep].copy()
        net._tree = cKDTree(net.xy)
        net.zero_time_edges = self.zero_time_edges
        net.hour = self.hour
        return net

    def bounds(self, margin_km: float = 1.0) -> tuple[float, float, float, float]:
        """Return ``(min_lat, min_lon, max_lat, max_lon)`` of the nodes plus a margin.

        Examples
        --------
        >>> b = RoadNetwork.grid(2, spacing_km=1.0).bounds(margin_km=0.0)
        >>> round(b[2] - b[0], 4)  # 1 km of latitude
        0.009
        """
        dlat = math.degrees(margin_km / EARTH_RADIUS_KM)
        dlon = dlat / math.cos(math.radians(self.origin[0]))
        return (
            float(self.lat.min() - dlat),
            float(self.lon.min() - dlon),
            float(self.lat.max() + dlat),
            float(self.lon.max() + dlon),
        )

    # ------------------------------------------------------------------ lookups
    def index_of(self, node_ids: Hashable | Sequence[Hashable]) -> np.ndarray | int:
        """Map original node ids to node indices (one id gives an int).

        Raises
        ------
        KeyError
            Naming the unknown ids.
        """
        if isinstance(node_ids, list | tuple | np.ndarray):
            missing = [v for v in node_ids if v not in self._index]
            if missing:
                raise KeyError(f"unknown node ids: {missing[:10]} ({len(missing)} in all)")
            return np.array([self._index[v] for v in node_ids], dtype=np.int64)
        if node_ids not in self._index:
            raise KeyError(f"unknown node id: {node_ids!r}")
        return self._index[node_ids]

    def nearest_node(
        self, a: float | np.ndarray, b: float | np.ndarray, *, frame: str = "latlon"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the nearest node to each point and its straight-line distance in km.

        Parameters
        ----------
        a, b : float or array_like
            Latitudes and longitudes in degrees (``frame="latlon"``) or planar x and y in
            km (``frame="xy"``), broadcast together.
        frame : {"latlon", "xy"}
            How to read ``a`` and ``b``.

        Returns
        -------
        nodes : ndarray of int
            Node indices, in the broadcast shape of ``a`` and ``b``.
        distance_km : ndarray of float
            Planar distance to that node: reject points farther than you accept.

        Examples
        --------
        >>> net = RoadNetwork.grid(3, spacing_km=1.0)
        >>> nodes, dist = net.nearest_node([0.1, 1.9], [0.0, 2.2], frame="xy")
        >>> nodes.tolist(), dist.round(2).tolist()
        ([0, 8], [0.1, 0.22])
        """
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        a, b = np.broadcast_arrays(a, b)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            k = int(np.flatnonzero(~(np.isfinite(a) & np.isfinite(b)).ravel())[0])
            raise ValueError(f"point {k} has a non-finite coordinate: ({a.flat[k]}, {b.flat[k]})")
        if frame == "latlon":
            xy = _project(a.ravel(), b.ravel(), self.origin)
        elif frame == "xy":
            xy = np.stack([a.ravel(), b.ravel()], axis=-1)
        else:
            raise ValueError(f"frame must be 'latlon' or 'xy', got {frame!r}")
        if self._tree is None:
            raise ValueError("the network has no nodes")
        dist, idx = self._tree.query(xy)
        return idx.astype(np.int64).reshape(a.shape), dist.reshape(a.shape)

    # ------------------------------------------------------------------ travel times
    def _check_nodes(self, nodes: np.ndarray, what: str) -> np.ndarray:
        arr = np.asarray(nodes)
        if arr.dtype.kind not in "iu":
            if arr.size == 0:
                return arr.astype(np.int64)
            raise TypeError(f"{what} must be integer node indices, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= self.num_nodes)
        if bad.any():
            raise ValueError(
                f"{what} holds node indices outside [0, {self.num_nodes}): "
                f"{np.unique(arr[bad])[:10].tolist()} (map original ids with index_of)"
            )
        return arr.astype(np.int64)

    def _rows(self, sources: np.ndarray) -> np.ndarray:
        """Shortest-time rows for ``sources`` (1-d), computing missing ones in one call."""
        uniq = np.unique(sources)
        missing = [int(s) for s in uniq if int(s) not in self._cache]
        self.cache_misses += len(missing)
        self.cache_hits += int(uniq.size) - len(missing)
        fresh: dict[int, np.ndarray] = {}
        if missing:
            dist = dijkstra(self.matrix, directed=True, indices=missing)
            dist = np.atleast_2d(dist)
            for s, row in zip(missing, dist, strict=True):
                row.setflags(write=False)
                fresh[s] = row
        out = np.empty((uniq.size, self.num_nodes))
        for k, s in enumerate(uniq):
            s = int(s)
            row = fresh.get(s)
            if row is None:
                row = self._cache[s]
                self._cache.move_to_end(s)
            else:
                self._cache[s] = row
            out[k] = row
        while len(self._cache) > self.cache_rows:
            self._cache.popitem(last=False)
        pos = np.searchsorted(uniq, sources)
        return out[pos]

    def travel_time(self, origins: int | np.ndarray, destinations: int | np.ndarray) -> np.ndarray:
        """Shortest travel time in seconds from each origin to its destination.

        ``origins`` and ``destinations`` are node indices broadcast together; Dijkstra
        runs from the distinct origins not already cached. Unreachable pairs give ``inf``.

        Examples
        --------
        >>> net = RoadNetwork.grid(3, spacing_km=1.0, speed_kmh=60.0)
        >>> net.travel_time([0, 0, 4], [0, 2, 8]).tolist()
        [0.0, 120.0, 120.0]
        """
        o = self._check_nodes(origins, "origins")
        d = self._check_nodes(destinations, "destinations")
        o, d = np.broadcast_arrays(o, d)
        if o.size == 0:
            return np.zeros(o.shape)
        rows = self._rows(o.ravel())
        return rows[np.arange(o.size), d.ravel()].reshape(o.shape)

    def travel_time_matrix(
        self, nodes: Sequence[int] | np.ndarray, targets: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """Travel times in seconds from each of ``nodes`` to each of ``targets``.

        ``targets`` defaults to ``nodes`` (a square matrix). Entry ``[i, j]`` is the time
        from ``nodes[i]`` to ``targets[j]``; ``inf`` where unreachable.

        Examples
        --------
        >>> net = RoadNetwork.grid(2, spacing_km=1.0, speed_kmh=60.0)
        >>> net.travel_time_matrix([0, 3]).tolist()
        [[0.0, 120.0], [120.0, 0.0]]
        """
        src = self._check_nodes(np.atleast_1d(nodes), "nodes")
        dst = src if targets is None else self._check_nodes(np.atleast_1d(targets), "targets")
        if src.size == 0:
            return np.zeros((0, dst.size))
        return self._rows(src)[:, dst]

    def cache_info(self) -> dict[str, int]:
        """Cache statistics: ``hits``, ``misses`` (source rows computed), ``size``, ``maxsize``.

        Examples
        --------
        >>> net = RoadNetwork.grid(3, cache_rows=2)
        >>> _ = net.travel_time([0, 1, 2], 4)
        >>> net.cache_info()
        {'hits': 0, 'misses': 3, 'size': 2, 'maxsize': 2}
        """
        return {
            "hits": self.cache_hits,
            "misses": self.cache_misses,
            "size": len(self._cache),
            "maxsize": self.cache_rows,
        }

    def clear_cache(self) -> None:
        """Drop every cached shortest-path row and reset the statistics."""
        self._cache.clear()
        self.cache_hits = 0
        self.cache_misses = 0

    def to_networkx(self) -> nx.DiGraph:
        """Return the network as a ``networkx.DiGraph`` over node indices.

        Nodes carry ``lat``, ``lon``, ``x``, ``y`` and ``node_id``; edges carry ``time``.
        """
        g = nx.DiGraph()
        for i in range(self.num_nodes):
            g.add_node(
                i,
                lat=float(self.lat[i]),
                lon=float(self.lon[i]),
                x=float(self.xy[i, 0]),
                y=float(self.xy[i, 1]),
                node_id=self.node_ids[i],
            )
        coo = self.matrix.tocoo()
        g.add_weighted_edges_from(
            zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True), weight="time"
        )
        return g

    def __repr__(self) -> str:
        return (
            f"RoadNetwork({self.name!r}, nodes={self.num_nodes}, edges={self.num_edges}, "
            f"largest_scc={self.largest_component_size})"
        )


def _read_numeric(path: Path, ncols: int) -> np.ndarray:
    """Read a headerless numeric CSV with ``ncols`` columns, naming the bad line."""
    rows = []
    with open(path, newline="") as fh:
        for line_no, row in enumerate(csv.reader(fh), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != ncols:
                raise ValueError(
                    f"{path}: line {line_no}: expected {ncols} columns, got {len(row)}"
                )
            try:
                rows.append([float(c) for c in row])
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: non-numeric value in {row}") from None
    return np.array(rows, dtype=float).reshape(-1, ncols)
