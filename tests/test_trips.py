import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from scheduling.roads import RoadNetwork
from scheduling.trips import (
    TripDataError,
    Trips,
    load_trips,
    load_zone_centroids,
    snap_to_network,
    time_compress,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RIDES = DATA / "rides"


def _need(name: str) -> Path:
    path = RIDES / name
    if not path.exists():
        pytest.skip(f"real data file {path} not found (../shared/data is absent)")
    return path


HEADER = "pickup_time,dropoff_time,origin_lat,origin_lon,dest_lat,dest_lon\n"
GOOD = "2016-01-01 00:00:00,2016-01-01 00:10:00,40.75,-73.99,40.76,-73.98\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    p = tmp_path / "trips.csv"
    p.write_text(header + body)
    return p


BAD_ROWS = {
    "missing column": "2016-01-01 00:05:00,2016-01-01 00:10:00,40.75,-73.99\n",
    "unparseable time": "2016-13-45 99:00:00,2016-01-01 00:10:00,40.75,-73.99,40.76,-73.98\n",
    "unparseable coordinate": (
        "2016-01-01 00:05:00,2016-01-01 00:10:00,north,-73.99,40.76,-73.98\n"
    ),
    "zero coordinates": "2016-01-01 00:05:00,2016-01-01 00:10:00,0.0,0.0,40.76,-73.98\n",
    "outside bounds": "2016-01-01 00:05:00,2016-01-01 00:10:00,41.9,-73.99,40.76,-73.98\n",
}
BOUNDS = (40.5, -74.3, 41.0, -73.7)


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_each_bad_row_kind_raises_with_row_number(tmp_path, reason):
    p = _write(tmp_path, GOOD + GOOD + BAD_ROWS[reason] + GOOD)
    with pytest.raises(TripDataError) as info:
        load_trips(p, bounds=BOUNDS)
    msg = str(info.value)
    assert str(p) in msg
    assert "data row 3 (line 4)" in msg
    assert reason in msg


def test_skip_counts_each_reason(tmp_path):
    body = GOOD + "".join(BAD_ROWS[r] for r in sorted(BAD_ROWS)) + BAD_ROWS["zero coordinates"]
    t = load_trips(_write(tmp_path, body), bounds=BOUNDS, on_bad_row="skip")
    assert len(t) == 1
    assert t.skipped == {r: (2 if r == "zero coordinates" else 1) for r in BAD_ROWS}
    assert t.rows.tolist() == [1]


def test_unknown_zone_and_missing_centroids(tmp_path):
    p = tmp_path / "z.csv"
    p.write_text(
        "pickup_datetime,pickup_location_id,dropoff_location_id\n"
        "2019-01-01 00:00:00,4,7\n"
        "2019-01-01 00:01:00,4,264\n"
        "2019-01-01 00:02:00,7,4\n"
    )
    cents = {4: (40.72, -73.98), 7: (40.76, -73.92)}
    with pytest.raises(TripDataError, match=r"data row 2 \(line 3\): unknown zone id: '264'"):
        load_trips(p, centroids=cents)
    t = load_trips(p, centroids=cents, on_bad_row="skip")
    assert t.skipped == {"unknown zone id": 1}
    assert t.origin_lat.tolist() == [40.72, 40.76]
    assert t.dest_lon.tolist() == [-73.92, -73.98]
    with pytest.raises(TripDataError, match="need centroids"):
        load_trips(p)


def test_explicit_columns_undetectable_header_and_bad_option(tmp_path):
    p = _write(tmp_path, "2016-01-02 03:04:05,1.5,2.5,3.5,4.5\n", header="t,a,b,c,d\n")
    with pytest.raises(TripDataError, match="cannot detect the trip columns"):
        load_trips(p)
    cols = {"pickup_time": "t", "origin_lat": "a", "origin_lon": "b", "dest_lat": "c"}
    with pytest.raises(TripDataError, match="columns need"):
        load_trips(p, columns=cols)
    cols["dest_lon"] = "d"
    t = load_trips(p, columns=cols)
    assert (t.origin_lat[0], t.origin_lon[0], t.dest_lat[0], t.dest_lon[0]) == (1.5, 2.5, 3.5, 4.5)
    assert t.start == datetime(2016, 1, 2, 3, 4, 5)
    assert t.dropoff_time is None
    cols["dest_lon"] = "e"
    with pytest.raises(TripDataError, match=r"missing column\(s\) \['e'\]"):
        load_trips(p, columns=cols)
    with pytest.raises(ValueError, match="on_bad_row"):
        load_trips(p, columns=cols, on_bad_row="ignore")


def test_sorted_relative_times_and_time_format(tmp_path):
    p = _write(
        tmp_path,
        "02/01/2016 00:10,02/01/2016 00:20,40.75,-73.99,40.76,-73.98\n"
        "02/01/2016 00:00,02/01/2016 00:05,40.70,-73.99,40.76,-73.98\n",
    )
    t = load_trips(p, time_format="%d/%m/%Y %H:%M")
    assert t.request_time.tolist() == [0.0, 600.0]
    assert t.dropoff_time.tolist() == [300.0, 1200.0]
    assert t.rows.tolist() == [2, 1]
    assert t.origin_lat.tolist() == [40.70, 40.75]


def test_time_compress():
    t = Trips(
        np.array([0.0, 1000.0, 4000.0]),
        *np.zeros((4, 3)),
        dropoff_time=np.array([60.0, 1100.0, 4010.0]),
    )
    c = time_compress(t, 400.0)
    assert c.request_time.tolist() == [0.0, 100.0, 400.0]
    assert c.dropoff_time.tolist() == [60.0, 200.0, 410.0]
    with pytest.raises(ValueError, match="positive"):
        time_compress(t, 0)


def test_snap_to_network_rejects_far_points():
    net = RoadNetwork.grid(4, spacing_km=1.0)
    lat = np.array([net.lat[0], net.lat[5], net.lat[3] + 0.05])
    lon = np.array([net.lon[0], net.lon[5], net.lon[3]])
    t = Trips(np.arange(3.0), lat, lon, lat[::-1].copy(), lon[::-1].copy())
    s = snap_to_network(t, net, max_distance_km=0.5)
    assert s.rejected == 2
    assert s.origin_node.tolist() == [5] and s.dest_node.tolist() == [5]
    assert len(s.trips) == 1


def _check_january(t: Trips, year: int) -> None:
    assert (np.diff(t.request_time) >= 0).all()
    assert t.start >= datetime(year, 1, 1)
    assert t.request_time.max() < 31 * 86400 - (t.start - datetime(year, 1, 1)).total_seconds()


def test_real_yellow_2016():
    p = _need("nyc_yellow_2016-01_sample.csv")
    with pytest.raises(TripDataError, match=r"data row 3 \(line 4\): zero coordinates"):
        load_trips(p)
    t = load_trips(p, on_bad_row="skip")
    # measured: 69 rows are all zeros, 17 have a zero pickup, 12 a zero dropoff
    assert t.skipped == {"zero coordinates": 98}
    assert len(t) == 5000 - 98
    assert t.dropoff_time is not None and (t.dropoff_time >= t.request_time).all()
    _check_january(t, 2016)


def test_real_green_2016():
    p = _need("nyc_green_2016-01_sample.csv")
    t = load_trips(p, on_bad_row="skip")
    # the README's 5 zero-coordinate rows have a zero pickup; 2 more have a zero dropoff
    assert t.skipped == {"zero coordinates": 7}
    assert len(t) == 5000 - 7
    _check_january(t, 2016)
    assert 40.4 < t.origin_lat.min() and t.origin_lat.max() < 41.0


def test_real_yellow_2019_zones():
    p = _need("nyc_yellow_2019-01_zones_sample.csv")
    cpath = _need("nyc_taxi_zone_centroids.csv")
    cents = load_zone_centroids(cpath)
    assert len(cents) == 260 and not {57, 104, 105} & set(cents)
    t = load_trips(p, centroids=cpath, on_bad_row="skip")
    with open(p, newline="") as fh:
        raw = list(csv.DictReader(fh))
    unknown = [
        r
        for r in raw
        if not {int(r["pickup_location_id"]), int(r["dropoff_location_id"])} <= set(cents)
    ]
    assert t.skipped == {"unknown zone id": len(unknown)}
    assert len(t) == 10000 - len(unknown) == 9750
    _check_january(t, 2019)
    # placement equals the centroid of the zone id, row by row
    for k in range(0, len(t), 97):
        r = raw[t.rows[k] - 1]
        assert (t.origin_lat[k], t.origin_lon[k]) == cents[int(r["pickup_location_id"])]
        assert (t.dest_lat[k], t.dest_lon[k]) == cents[int(r["dropoff_location_id"])]
    with open(cpath, newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["LocationID"] == "161")
    assert cents[161] == (float(row["centroid_lat"]), float(row["centroid_lon"]))


def test_real_trips_onto_manhattan():
    _need("manhattan/week.csv")
    net = RoadNetwork.manhattan(DATA, hour=8)
    t = load_trips(
        _need("nyc_yellow_2016-01_sample.csv"), on_bad_row="skip", bounds=net.bounds(1.0)
    )
    assert t.skipped["zero coordinates"] == 98 and t.skipped["outside bounds"] > 0
    s = snap_to_network(t, net, max_distance_km=0.3)
    assert len(s.trips) + s.rejected == len(t)
    assert s.origin_km.max() <= 0.3
    times = net.travel_time(s.origin_node[:50], s.dest_node[:50])
    assert np.isfinite(times).all()
