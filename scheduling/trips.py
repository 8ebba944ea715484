r"""Trip records from taxi CSV files, placed on a road network.

:func:`load_trips` reads a CSV with a header row into :class:`Trips` arrays (request time in
seconds after the first pickup, origin and destination latitude/longitude, optional dropoff
time), sorted by pickup time. Column names are detected for the three NYC samples in
``../shared/data/rides`` (yellow 2016 and green 2016 with coordinates, yellow 2019 with
zone ids) or given explicitly. Zone ids are placed at their zone's centroid
(:func:`load_zone_centroids`).

Each bad row is either an error (``on_bad_row="raise"``, the default) naming the file, the
1-based data row (header not counted), the line and the problem, or skipped and counted by
reason in :attr:`Trips.skipped` (``on_bad_row="skip"``). The reasons are
``"missing column"``, ``"unparseable time"``, ``"unparseable coordinate"``,
``"zero coordinates"`` (a zero latitude or longitude at either end: the taxi meter's
"no GPS fix"), ``"outside bounds"`` and ``"unknown zone id"``.

Examples
--------
>>> import io
>>> text = io.StringIO(
...     "pickup_time,origin_lat,origin_lon,dest_lat,dest_lon\n"
...     "2016-01-01 00:10:00,40.75,-73.99,40.76,-73.98\n"
...     "2016-01-01 00:00:00,40.70,-74.00,0,0\n"
...     "2016-01-01 00:05:00,40.72,-73.99,40.73,-73.98\n"
... )
>>> trips = load_trips(text, on_bad_row="skip")
>>> trips.request_time.tolist(), trips.skipped
([0.0, 300.0], {'zero coordinates': 1})
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from os import PathLike
from typing import Literal

import numpy as np

from scheduling.roads import RoadNetwork

__all__ = [
    "KNOWN_FORMATS",
    "SnappedTrips",
    "TripDataError",
    "Trips",
    "load_trips",
    "load_zone_centroids",
    "snap_to_network",
    "time_compress",
]

KNOWN_FORMATS: dict[str, dict[str, str]] = {
    "nyc_yellow_2016": {
        "pickup_time": "tpepPickupDateTime",
        "dropoff_time": "tpepDropoffDateTime",
        "origin_lon": "startLon",
        "origin_lat": "startLat",
        "dest_lon": "endLon",
        "dest_lat": "endLat",
    },
    "nyc_green_2016": {
        "pickup_time": "lpepPickupDatetime",
        "dropoff_time": "lpepDropoffDatetime",
        "origin_lon": "pickupLongitude",
        "origin_lat": "pickupLatitude",
        "dest_lon": "dropoffLongitude",
        "dest_lat": "dropoffLatitude",
    },
    "nyc_yellow_2019_zones": {
        "pickup_time": "pickup_datetime",
        "dropoff_time": "dropoff_datetime",
        "origin_zone": "pickup_location_id",
        "dest_zone": "dropoff_location_id",
    },
    "generic": {
        "pickup_time": "pickup_time",
        "dropoff_time": "dropoff_time",
        "origin_lat": "origin_lat",
        "origin_lon": "origin_lon",
        "dest_lat": "dest_lat",
        "dest_lon": "dest_lon",
    },
}
"""Column mappings tried in order when ``columns`` is None (``dropoff_time`` optional)."""

_COORDS = ("origin_lat", "origin_lon", "dest_lat", "dest_lon")
_ZONES = ("origin_zone", "dest_zone")


class TripDataError(ValueError):
    """A bad row or file in a trip CSV; the message names the file, row and problem."""


@dataclass(frozen=True, eq=False)
class Trips:
    """Trips sorted by pickup time.

    Attributes
    ----------
    request_time : ndarray of float
        Pickup (request) time in seconds after the first pickup, ascending.
    origin_lat, origin_lon, dest_lat, dest_lon : ndarray of float
        Coordinates in degrees.
    dropoff_time : ndarray of float or None
        Dropoff time in seconds after the first pickup, when the file has it.
    start : datetime or None
        The first pickup's timestamp (``request_time == 0``).
    rows : ndarray of int
        1-based data row of each trip in its file.
    skipped : dict
        Count of skipped rows per reason (empty unless ``on_bad_row="skip"``).
    source : str
        Where the trips came from.
    """

    request_time: np.ndarray
    origin_lat: np.ndarray
    origin_lon: np.ndarray
    dest_lat: np.ndarray
    dest_lon: np.ndarray
    dropoff_time: np.ndarray | None = None
    start: datetime | None = None
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    skipped: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return int(self.request_time.size)

    def subset(self, mask: np.ndarray) -> Trips:
        """Return the trips selected by a boolean mask or index array (order kept)."""
        pick = np.asarray(mask)

        def sel(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[pick]

        return replace(
            self,
            request_time=self.request_time[pick],
            origin_lat=self.origin_lat[pick],
            origin_lon=self.origin_lon[pick],
            dest_lat=self.dest_lat[pick],
            dest_lon=self.dest_lon[pick],
            dropoff_time=sel(self.dropoff_time),
            rows=self.rows[pick] if self.rows.size else self.rows,
        )


def load_zone_centroids(path: str | PathLike[str]) -> dict[int, tuple[float, float]]:
    r"""Read zone centroids: ``{zone id: (lat, lon)}``.

    The file needs a header with ``LocationID``, ``centroid_lon`` and ``centroid_lat`` (the
    layout of ``nyc_taxi_zone_centroids.csv``); rows with an empty centroid are left out.

    Examples
    --------
    >>> import io
    >>> load_zone_centroids(io.StringIO(
    ...     "LocationID,zone,centroid_lon,centroid_lat\n4,Alphabet City,-73.977,40.724\n"
    ... ))
    {4: (40.724, -73.977)}
    """
    out: dict[int, tuple[float, float]] = {}
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        need = {"LocationID", "centroid_lon", "centroid_lat"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise TripDataError(
                f"{_name(path)}: zone centroid file needs columns {sorted(need)}, "
                f"has {reader.fieldnames}"
            )
        for k, row in enumerate(reader, start=1):
            if not row["centroid_lon"] or not row["centroid_lat"]:
                continue
            try:
                out[int(row["LocationID"])] = (
                    float(row["centroid_lat"]),
                    float(row["centroid_lon"]),
                )
            except (TypeError, ValueError):
                raise TripDataError(
                    f"{_name(path)}: data row {k}: unparseable zone centroid {row}"
                ) from None
    return out


@contextlib.contextmanager
def _open(src: str | PathLike[str] | io.TextIOBase) -> Iterator[io.TextIOBase]:
    """Open a path for CSV reading, or pass a text stream through (not closing it)."""
    if isinstance(src, str | PathLike):
        with open(src, newline="", encoding="utf-8-sig") as fh:
            yield fh
    else:
        yield src


def _name(src) -> str:
    return str(src) if isinstance(src, str | PathLike) else "<stream>"


def _detect(header: list[str], source: str) -> dict[str, str]:
    have = set(header)
    for fmt in KNOWN_FORMATS.values():
        required = {k: v for k, v in fmt.items() if k != "dropoff_time"}
        if set(required.values()) <= have:
            return {k: v for k, v in fmt.items() if v in have}
    raise TripDataError(
        f"{source}: cannot detect the trip columns in header {header}; pass columns= with "
        f"keys pickup_time, origin_lat/origin_lon/dest_lat/dest_lon or origin_zone/dest_zone"
    )


def load_trips(
    path: str | PathLike[str] | io.TextIOBase,
    *,
    columns: Mapping[str, str] | None = None,
    centroids: Mapping[int, tuple[float, float]] | str | PathLike[str] | None = None,
    on_bad_row: Literal["raise", "skip"] = "raise",
    bounds: tuple[float, float, float, float] | None = None,
    time_format: str | None = None,
) -> Trips:
    r"""Load trips from a CSV file with a header row.

    Parameters
    ----------
    path : path or text stream
        The CSV file.
    columns : mapping, optional
        Our field name to the file's column name. Fields: ``pickup_time`` (required),
        ``dropoff_time`` (optional), and either ``origin_lat``, ``origin_lon``,
        ``dest_lat``, ``dest_lon`` or ``origin_zone``, ``dest_zone``. Detected from the
        header when None (see :data:`KNOWN_FORMATS`).
    centroids : mapping or path, optional
        Zone id to ``(lat, lon)``, or a centroid file for :func:`load_zone_centroids`;
        required for zone-id files.
    on_bad_row : {"raise", "skip"}
        Raise :class:`TripDataError` on the first bad row, or skip bad rows and count them
        per reason in :attr:`Trips.skipped`.
    bounds : tuple of float, optional
        ``(min_lat, min_lon, max_lat, max_lon)``: rows with an end outside are bad
        (``"outside bounds"``); e.g. ``RoadNetwork.bounds(margin_km=1.0)``.
    time_format : str, optional
        A :func:`datetime.strptime` format; default ISO 8601 (``2016-01-06 12:09:13``).

    Returns
    -------
    Trips
        Sorted by pickup time (stable), times relative to the first pickup.

    Raises
    ------
    TripDataError
        Naming the file, the 1-based data row and line, and the problem.

    Examples
    --------
    >>> import io
    >>> text = io.StringIO("when,a,b\n2019-01-01 00:00:00,4,7\n2019-01-01 00:00:30,7,99\n")
    >>> cols = {"pickup_time": "when", "origin_zone": "a", "dest_zone": "b"}
    >>> cents = {4: (40.72, -73.98), 7: (40.76, -73.92)}
    >>> load_trips(text, columns=cols, centroids=cents)
    Traceback (most recent call last):
    ...
    scheduling.trips.TripDataError: <stream>: data row 2 (line 3): unknown zone id: '99' ...
    """
    if on_bad_row not in ("raise", "skip"):
        raise ValueError(f"on_bad_row must be 'raise' or 'skip', got {on_bad_row!r}")
    source = _name(path)
    cents = centroids
    if cents is not None and not isinstance(cents, Mapping):
        cents = load_zone_centroids(cents)
    with _open(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise TripDataError(f"{source}: empty file (no header row)")
        header = [h.strip() for h in header]
        cols = dict(columns) if columns is not None else _detect(header, source)
        if "pickup_time" not in cols:
            raise TripDataError(f"{source}: columns must name 'pickup_time'")
        zoned = all(k in cols for k in _ZONES)
        if not zoned and not all(k in cols for k in _COORDS):
            raise TripDataError(
                f"{source}: columns need {list(_COORDS)} or {list(_ZONES)}, got {sorted(cols)}"
            )
        if zoned and cents is None:
            raise TripDataError(
                f"{source}: zone ids ({cols['origin_zone']}, {cols['dest_zone']}) need "
                "centroids= (e.g. nyc_taxi_zone_centroids.csv)"
            )
        missing = [v for v in cols.values() if v not in header]
        if missing:
            raise TripDataError(f"{source}: missing column(s) {missing} in header {header}")
        pos = {k: header.index(v) for k, v in cols.items()}
        fields = ["pickup_time", *(_ZONES if zoned else _COORDS)]
        has_drop = "dropoff_time" in pos
        if has_drop:
            fields.append("dropoff_time")
        parse = (
            datetime.fromisoformat
            if time_format is None
            else (lambda s: datetime.strptime(s, time_format))
        )
        skipped: dict[str, int] = {}
        times: list[datetime] = []
        drops: list[datetime] = []
        coords: list[tuple[float, float, float, float]] = []
        rows: list[int] = []
        data_row = 0
        for rec in reader:
            if not rec or all(not c.strip() for c in rec):
                continue
            data_row += 1
            try:
                vals = {}
                for f in fields:
                    i = pos[f]
                    v = rec[i].strip() if i < len(rec) else ""
                    if not v:
                        raise _Bad("missing column", f"no value in column {cols[f]!r}")
                    vals[f] = v
                try:
                    t = parse(vals["pickup_time"])
                    d = parse(vals["dropoff_time"]) if has_drop else None
                except ValueError:
                    bad = "dropoff_time" if has_drop else "pickup_time"
                    try:
                        parse(vals["pickup_time"])
                    except ValueError:
                        bad = "pickup_time"
                    raise _Bad(
                        "unparseable time", f"{vals[bad]!r} in column {cols[bad]!r}"
                    ) from None
                if zoned:
                    c = []
                    for f in _ZONES:
                        try:
                            c.extend(cents[int(vals[f])])
                        except (ValueError, KeyError):
                            raise _Bad(
                                "unknown zone id", f"{vals[f]!r} in column {cols[f]!r}"
                            ) from None
                else:
                    c = []
                    for f in _COORDS:
                        try:
                            x = float(vals[f])
                        except ValueError:
                            raise _Bad(
                                "unparseable coordinate", f"{vals[f]!r} in column {cols[f]!r}"
                            ) from None
                        if not np.isfinite(x):
                            raise _Bad("unparseable coordinate", f"{x} in column {cols[f]!r}")
                        c.append(x)
                    zeros = [cols[f] for f, x in zip(_COORDS, c, strict=True) if x == 0]
                    if zeros:
                        raise _Bad("zero coordinates", f"columns {zeros} are 0")
                olat, olon, dlat, dlon = c
                if bounds is not None:
                    lo_lat, lo_lon, hi_lat, hi_lon = bounds
                    for name, la, lo in (("origin", olat, olon), ("destination", dlat, dlon)):
                        if not (lo_lat <= la <= hi_lat and lo_lon <= lo <= hi_lon):
                            raise _Bad(
                                "outside bounds",
                                f"{name} ({la}, {lo}) outside lat [{lo_lat}, {hi_lat}], "
                                f"lon [{lo_lon}, {hi_lon}]",
                            )
            except _Bad as bad:
                if on_bad_row == "raise":
                    raise TripDataError(
                        f"{source}: data row {data_row} (line {reader.line_num}): "
                        f"{bad.reason}: {bad.detail}"
                    ) from None
                skipped[bad.reason] = skipped.get(bad.reason, 0) + 1
                continue
            times.append(t)
            if d is not None:
                drops.append(d)
            coords.append((olat, olon, dlat, dlon))
            rows.append(data_row)
    if not times:
        arr = np.zeros(0)
        return Trips(
            arr,
            arr,
            arr,
            arr,
            arr,
            arr.copy() if has_drop else None,
            None,
            np.zeros(0, dtype=np.int64),
            skipped,
            source,
        )
    start = min(times)
    rel = np.array([(t - start).total_seconds() for t in times])
    order = np.argsort(rel, kind="stable")
    xy = np.array(coords)[order]
    drop = np.array([(d - start).total_seconds() for d in drops])[order] if has_drop else None
    return Trips(
        request_time=rel[order],
        origin_lat=xy[:, 0],
        origin_lon=xy[:, 1],
        dest_lat=xy[:, 2],
        dest_lon=xy[:, 3],
        dropoff_time=drop,
        start=start,
        rows=np.array(rows, dtype=np.int64)[order],
        skipped=skipped,
        source=source,
    )


class _Bad(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, eq=False)
class SnappedTrips:
    """Trips placed on a road network's nodes.

    Attributes
    ----------
    trips : Trips
        The trips kept (both ends within the distance limit).
    origin_node, dest_node : ndarray of int
        Node indices of each kept trip's ends.
    origin_km, dest_km : ndarray of float
        Straight-line distance from each end to its node.
    rejected : int
        Trips dropped because an end lies farther than the limit from every node.
    """

    trips: Trips
    origin_node: np.ndarray
    dest_node: np.ndarray
    origin_km: np.ndarray
    dest_km: np.ndarray
    rejected: int


def snap_to_network(
    trips: Trips, network: RoadNetwork, *, max_distance_km: float = 0.5
) -> SnappedTrips:
    r"""Place each trip's ends at their nearest network nodes.

    Trips with an end farther than ``max_distance_km`` from every node are rejected
    (counted in :attr:`SnappedTrips.rejected`).

    Examples
    --------
    >>> import io
    >>> net = RoadNetwork.grid(3, spacing_km=1.0)
    >>> lat, lon = net.lat, net.lon
    >>> text = io.StringIO(
    ...     "pickup_time,origin_lat,origin_lon,dest_lat,dest_lon\n"
    ...     f"2016-01-01 00:00:00,{lat[0]},{lon[0]},{lat[8]},{lon[8]}\n"
    ...     f"2016-01-01 00:01:00,{lat[0]},{lon[0]},{lat[8] + 1},{lon[8]}\n"
    ... )
    >>> s = snap_to_network(load_trips(text), net, max_distance_km=0.3)
    >>> s.origin_node.tolist(), s.dest_node.tolist(), s.rejected
    ([0], [8], 1)
    """
    if not max_distance_km >= 0:
        raise ValueError(f"max_distance_km must be non-negative, got {max_distance_km}")
    o, od = network.nearest_node(trips.origin_lat, trips.origin_lon)
    d, dd = network.nearest_node(trips.dest_lat, trips.dest_lon)
    keep = (od <= max_distance_km) & (dd <= max_distance_km)
    return SnappedTrips(
        trips=trips.subset(keep),
        origin_node=o[keep],
        dest_node=d[keep],
        origin_km=od[keep],
        dest_km=dd[keep],
        rejected=int((~keep).sum()),
    )


def time_compress(trips: Trips, duration_s: float) -> Trips:
    """Replay trips into a window of ``duration_s`` seconds, keeping their order.

    Request times are scaled linearly so the first is 0 and the last is ``duration_s``
    (a month-long sample becomes, say, an hour of dense demand); each trip keeps its own
    ride duration, so ``dropoff_time`` moves with its request time.

    Examples
    --------
    >>> t = Trips(np.array([0.0, 50.0, 100.0]), *np.zeros((4, 3)), np.array([10.0, 60.0, 130.0]))
    >>> c = time_compress(t, 10.0)
    >>> c.request_time.tolist(), c.dropoff_time.tolist()
    ([0.0, 5.0, 10.0], [10.0, 15.0, 40.0])
    """
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    t = trips.request_time
    if t.size == 0:
        return trips
    t0 = t.min()
    span = t.max() - t0
    new = (t - t0) * (duration_s / span) if span > 0 else np.zeros_like(t)
    drop = None if trips.dropoff_time is None else new + (trips.dropoff_time - t)
    return replace(trips, request_time=new, dropoff_time=drop)
