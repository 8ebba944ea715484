import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.roads import RoadNetwork

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MANHATTAN = DATA / "rides" / "manhattan"
needs_manhattan = pytest.mark.skipif(
    not (MANHATTAN / "week.csv").exists(),
    reason=f"real Manhattan network not found at {MANHATTAN} (../shared/data is absent)",
)


@pytest.fixture(scope="module")
def manhattan():
    if not (MANHATTAN / "week.csv").exists():
        pytest.skip(f"real Manhattan network not found at {MANHATTAN}")
    return RoadNetwork.manhattan(DATA, hour=8)


def _nx_time(g: nx.DiGraph, s: int, t: int) -> float:
    try:
        return nx.shortest_path_length(g, s, t, weight="time")
    except nx.NetworkXNoPath:
        return np.inf


def test_grid_travel_times_match_networkx():
    net = RoadNetwork.grid(6, spacing_km=0.3, speed_kmh=20.0, perturb=0.8, seed=3)
    g = net.to_networkx()
    rng = np.random.default_rng(0)
    o = rng.integers(0, net.num_nodes, 60)
    d = rng.integers(0, net.num_nodes, 60)
    got = net.travel_time(o, d)
    want = np.array([_nx_time(g, int(a), int(b)) for a, b in zip(o, d, strict=True)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # independent check of the perturbed times against the unperturbed grid
    assert (got >= RoadNetwork.grid(6, spacing_km=0.3, speed_kmh=20.0).travel_time(o, d)).all()


def test_grid_structure_and_manhattan_distance():
    net = RoadNetwork.grid(5, spacing_km=0.5, speed_kmh=30.0)
    assert net.num_nodes == 25
    assert net.num_edges == 2 * 2 * 5 * 4
    assert net.is_strongly_connected()
    m = net.travel_time_matrix(np.arange(25))
    r, c = np.divmod(np.arange(25), 5)
    blocks = np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])
    np.testing.assert_allclose(m, blocks * 60.0)


def test_from_networkx_undirected_latlon_and_parallel_edges():
    g = nx.MultiGraph()
    g.add_node("a", lat=40.0, lon=-74.0)
    g.add_node("b", lat=40.01, lon=-74.0)
    g.add_node("c", lat=40.02, lon=-74.0)
    g.add_edge("a", "b", time=30.0)
    g.add_edge("a", "b", time=10.0)
    g.add_edge("b", "c", time=0.0)  # a zero-time edge stays an edge
    net = RoadNetwork.from_networkx(g)
    a, _, c = net.index_of(["a", "b", "c"])
    assert net.travel_time(a, c) == 10.0
    assert net.travel_time(c, a) == 10.0
    assert net.num_edges == 4


def test_directed_unreachable_is_inf_and_largest_component():
    g = nx.DiGraph()
    for i in range(5):
        g.add_node(i, x=float(i), y=0.0)
    g.add_edges_from([(0, 1), (1, 2), (2, 0), (2, 3), (4, 3)], time=5.0)
    net = RoadNetwork.from_networkx(g)
    assert not net.is_strongly_connected()
    assert net.largest_component_size == 3
    assert net.travel_time(3, 0) == np.inf
    assert net.travel_time(0, 3) == 15.0
    sub = net.restrict_to_largest_component()
    assert sub.node_ids == [0, 1, 2]
    assert sub.is_strongly_connected()
    assert np.isfinite(sub.travel_time_matrix(np.arange(3))).all()


@pytest.mark.parametrize(
    ("times", "match"),
    [(-1.0, "non-negative"), (np.nan, "finite")],
)
def test_bad_edge_times_are_named(times, match):
    g = nx.DiGraph()
    g.add_node("p", x=0.0, y=0.0)
    g.add_node("q", x=1.0, y=0.0)
    g.add_edge("p", "q", time=times)
    with pytest.raises(ValueError, match=match) as info:
        RoadNetwork.from_networkx(g)
    assert "'p' -> 'q'" in str(info.value)


def test_bad_inputs():
    with pytest.raises(ValueError, match="no nodes"):
        RoadNetwork.from_networkx(nx.DiGraph())
    g = nx.DiGraph()
    g.add_node("p", lat=np.nan, lon=0.0)
    with pytest.raises(ValueError, match="node 'p'"):
        RoadNetwork.from_networkx(g)
    g = nx.DiGraph()
    g.add_node("p", x=0.0, y=0.0)
    g.add_node("q", x=0.0, y=1.0)
    g.add_edge("p", "q", length=3)
    with pytest.raises(ValueError, match=r"lacks travel time attribute 'time'"):
        RoadNetwork.from_networkx(g)
    net = RoadNetwork.grid(3)
    with pytest.raises(ValueError, match=r"outside \[0, 9\).*\[9\]"):
        net.travel_time(0, 9)
    with pytest.raises(ValueError, match="origins"):
        net.travel_time(-1, 0)
    with pytest.raises(KeyError, match="unknown node id"):
        net.index_of("nope")
    with pytest.raises(TypeError, match="integer"):
        net.travel_time(0.5, 1)
    with pytest.raises(ValueError, match="non-finite"):
        net.nearest_node([0.0, np.nan], [0.0, 0.0])
    with pytest.raises(ValueError, match="hour"):
        RoadNetwork.manhattan(DATA, hour=24)
    with pytest.raises(FileNotFoundError, match=r"points\.csv"):
        RoadNetwork.manhattan("/nonexistent-folder", hour=3)


def test_cache_identical_and_bounded():
    net = RoadNetwork.grid(8, perturb=0.5, seed=1, cache_rows=5)
    fresh = RoadNetwork.grid(8, perturb=0.5, seed=1, cache_rows=1000)
    nodes = np.arange(20)
    first = net.travel_time_matrix(nodes)
    assert net.cache_info()["size"] == 5
    assert net.cache_info()["misses"] == 20
    again = net.travel_time_matrix(nodes)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, fresh.travel_time_matrix(nodes))
    assert net.cache_info()["size"] <= 5
    # the last five sources are cached: asking for them is all hits
    before = net.cache_info()
    net.travel_time(nodes[-5:], 0)
    after = net.cache_info()
    assert after["hits"] - before["hits"] == 5
    assert after["misses"] == before["misses"]
    # cached rows are read-only: a caller cannot corrupt them
    row = next(iter(net._cache.values()))
    with pytest.raises(ValueError):
        row[0] = -1.0
    net.clear_cache()
    assert net.cache_info() == {"hits": 0, "misses": 0, "size": 0, "maxsize": 5}


@given(
    pts=st.lists(st.tuples(st.floats(-0.5, 3.5), st.floats(-0.5, 3.5)), min_size=1, max_size=20),
    seed=st.integers(0, 5),
)
def test_nearest_node_matches_brute_force(pts, seed):
    net = RoadNetwork.grid(4, spacing_km=1.0, perturb=0.2, seed=seed)
    p = np.array(pts)
    nodes, dist = net.nearest_node(p[:, 0], p[:, 1], frame="xy")
    all_d = np.linalg.norm(p[:, None, :] - net.xy[None, :, :], axis=2)
    np.testing.assert_allclose(dist, all_d.min(axis=1), atol=1e-12)
    np.testing.assert_allclose(all_d[np.arange(len(p)), nodes], all_d.min(axis=1), atol=1e-12)


def test_nearest_node_latlon_roundtrip():
    net = RoadNetwork.grid(5, spacing_km=0.4)
    nodes, dist = net.nearest_node(net.lat, net.lon)
    np.testing.assert_array_equal(nodes, np.arange(25))
    assert dist.max() < 1e-9
    n0, _ = net.nearest_node(float(net.lat[7]), float(net.lon[7]))
    assert n0.shape == () and int(n0) == 7


@needs_manhattan
def test_manhattan_shape_and_zero_policy(manhattan):
    assert manhattan.num_nodes == 4091
    assert manhattan.num_edges == 9452
    assert manhattan.hour == 8
    assert manhattan.zero_time_edges == 21  # zeros in the 08:00 column of week.csv
    assert (manhattan.matrix.data > 0).all()
    assert manhattan.largest_component_size == manhattan.num_nodes
    week = np.loadtxt(MANHATTAN / "week.csv", delimiter=",")
    zeros = [RoadNetwork.manhattan(DATA, hour=h).zero_time_edges for h in (0, 8)]
    assert zeros == [int((week[:, 1] == 0).sum()), int((week[:, 9] == 0).sum())]


@needs_manhattan
def test_manhattan_travel_times_match_networkx(manhattan):
    g = manhattan.to_networkx()
    rng = np.random.default_rng(7)
    o = rng.integers(0, manhattan.num_nodes, 12)
    d = rng.integers(0, manhattan.num_nodes, 12)
    got = manhattan.travel_time(o, d)
    want = [
        nx.shortest_path_length(g, int(a), int(b), weight="time")
        for a, b in zip(o, d, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.isfinite(got).all()


@needs_manhattan
def test_manhattan_nearest_node_brute_force(manhattan):
    rng = np.random.default_rng(2)
    lat = rng.uniform(40.70, 40.80, 50)
    lon = rng.uniform(-74.02, -73.93, 50)
    _, dist = manhattan.nearest_node(lat, lon)
    xy = np.stack(
        [
            6371.0088
            * np.radians(lon - manhattan.origin[1])
            * np.cos(np.radians(manhattan.origin[0])),
            6371.0088 * np.radians(lat - manhattan.origin[0]),
        ],
        axis=1,
    )
    all_d = np.linalg.norm(xy[:, None, :] - manhattan.xy[None], axis=2)
    np.testing.assert_allclose(dist, all_d.min(axis=1), atol=1e-9)


def test_rides_doc_examples_run():
    doc = Path(__file__).resolve().parents[1] / "docs" / "rides.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert blocks
    for k, block in enumerate(blocks):
        exec(compile(block, f"rides.md[{k}]", "exec"), {})
