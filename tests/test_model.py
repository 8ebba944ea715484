"""Instance construction, validation messages, conversions and result checks."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import small_instances
from hypothesis import given, settings

import matching
from matching.families import random_groups


def example():
    return matching.Instance(
        groups=[[0, 1], [1], [2]],
        edges=[(0, 0, 2.0), (0, 1, 1.0), (1, 2, 1.0)],
        capacity=[1, 1],
    )


def test_issue_example_builds_and_solves():
    inst = example()
    assert (inst.n_resources, inst.n_requests, inst.n_groups, inst.n_edges) == (2, 3, 3, 3)
    assert inst.edge_load.tolist() == [1.0, 1.0, 1.0]
    assert inst.membership.toarray().tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert inst.edge_requests.toarray().tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    res = matching.solve(inst)
    assert res.value == 3.0 and res.assignment.tolist() == [[0, 0], [1, 2]]


def test_arrays_are_read_only():
    inst = example()
    with pytest.raises(ValueError):
        inst.edge_weight[0] = 5.0


def test_defaults_infer_sizes():
    inst = matching.Instance([[0], [3]], [(2, 0, 1.0)])
    assert inst.n_requests == 4 and inst.n_resources == 3
    assert inst.capacity.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("groups", "edges", "kwargs", "pattern"),
    [
        ([[0, 5]], [(0, 0, 1.0)], {"n_requests": 3}, r"groups\[0\] names unknown request id 5"),
        ([[0, -1]], [(0, 0, 1.0)], {}, r"groups\[0\] names unknown request id -1"),
        ([[0], [1, 2, 1]], [(0, 0, 1.0)], {}, r"groups\[1\] contains request 1 twice"),
        ([[0], []], [(0, 0, 1.0)], {}, r"groups\[1\] is empty"),
        ([[0]], [(0, 0, float("nan"))], {}, r"edges\[0\] has weight nan"),
        (
            [[0]],
            [(0, 0, 1.0), (1, 0, float("inf"))],
            {"capacity": [1, 1]},
            r"edges\[1\] has weight inf",
        ),
        ([[0]], [(0, 0, 1.0)], {"capacity": [-1]}, r"capacity\[0\] = -1.0"),
        ([[0]], [(0, 0, 1.0, -2)], {}, r"edges\[0\] has load -2"),
        (
            [[0]],
            [(3, 0, 1.0)],
            {"capacity": [1, 1]},
            r"edges\[0\] goes to resource 3, which does not exist",
        ),
        ([[0]], [(0, 1, 1.0)], {}, r"edges\[0\] names unknown group id 1"),
        ([[0]], [(0, 0, 1.0), (0, 0, 2.0)], {}, r"edges\[1\] repeats edges\[0\]"),
        ([[0]], [(0, 0, 1.0, 1, -1.0)], {}, r"edges\[0\] has duration -1"),
        ([[0]], [(0, 0)], {}, r"edges\[0\] has 2 fields"),
        ([[0]], [(0, 0, 1.0, 1, 2.0), (0, 0, 1.0)], {}, "duration on every edge"),
        ([[0]], [(0, 0, 1.0)], {"capacity": [1], "n_resources": 2}, "disagrees"),
        ([[0]], [(0, 0, 1.0)], {"n_requests": -1}, "n_requests must be at least 0, got -1"),
    ],
)
def test_validation_names_field_and_index(groups, edges, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        matching.Instance(groups, edges, **kwargs)


@pytest.mark.parametrize(
    ("groups", "edges", "pattern"),
    [
        ([[0.5]], [(0, 0, 1.0)], r"groups\[0\]\[0\] = 0.5 is not an integer id"),
        ([[0]], [(0, 0, "heavy")], "edge_weight\\[0\\] = .heavy. is a str, not a number"),
        ("abc", [(0, 0, 1.0)], "groups must be a sequence"),
        ([[0]], [(0.5, 0, 1.0)], "edge_resource"),
    ],
)
def test_type_errors_name_the_field(groups, edges, pattern):
    with pytest.raises(TypeError, match=pattern):
        matching.Instance(groups, edges)


def test_from_arrays_checks_shapes():
    with pytest.raises(ValueError, match="edge_weight has 1 entries, expected 2"):
        matching.Instance.from_arrays(
            group_ptr=[0, 1],
            group_members=[0],
            edge_resource=[0, 0],
            edge_group=[0, 0],
            edge_weight=[1.0],
        )
    with pytest.raises(ValueError, match="group_ptr ends at 2"):
        matching.Instance.from_arrays(
            group_ptr=[0, 2],
            group_members=[0],
            edge_resource=[0],
            edge_group=[0],
            edge_weight=[1.0],
        )


def test_bipartite_constructor_dense_and_sparse_agree():
    rng = np.random.default_rng(0)
    w = rng.random((4, 6)) * (rng.random((4, 6)) < 0.5)
    dense = matching.Instance.bipartite(w)
    sparse = matching.Instance.bipartite(sp.csr_array(w))
    assert dense.n_edges == 24 and sparse.n_edges == int((w != 0).sum())
    assert matching.solve(dense).value == pytest.approx(matching.solve(sparse).value)


@settings(max_examples=200)
@given(small_instances())
def test_json_round_trip_is_exact(inst):
    again = matching.Instance.from_json(inst.to_json())
    assert again == inst
    assert np.array_equal(again.edge_weight, inst.edge_weight)


def test_json_round_trip_with_durations_and_file(tmp_path):
    inst = matching.Instance(
        [[0, 1], [2]], [(0, 0, 0.1, 2, 3.25), (1, 1, 1 / 3, 1, 0.0)], capacity=[2.5, 1]
    )
    path = tmp_path / "inst.json"
    inst.to_json(path)
    again = matching.Instance.from_json(path)
    assert again == inst and again.edge_duration.tolist() == [3.25, 0.0]
    assert again.edge_weight[1] == 1 / 3


def test_json_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match=r"not a 'groupmatch\.instance' document"):
        matching.Instance.from_json('{"format": "other"}')
    with pytest.raises(ValueError, match="lacks the field 'edges'"):
        matching.Instance.from_json(
            '{"format": "groupmatch.instance", "version": 1, '
            '"n_requests": 1, "capacity": [1], "groups": [[0]]}'
        )
    with pytest.raises(ValueError, match="not valid JSON"):
        matching.Instance.from_json("{oops")


@settings(max_examples=100)
@given(small_instances())
def test_networkx_round_trip(inst):
    graph = inst.to_networkx()
    assert graph.number_of_nodes() == inst.n_resources + inst.n_requests + inst.n_groups
    assert graph.number_of_edges() == inst.n_edges + inst.group_members.size
    assert matching.Instance.from_networkx(graph) == inst


def test_networkx_round_trip_keeps_member_order_and_durations():
    inst = matching.Instance([[2, 0, 1]], [(0, 0, 1.5, 2, 4.0)], capacity=[3])
    assert matching.Instance.from_networkx(inst.to_networkx()) == inst


def test_from_networkx_rejects_bad_nodes():
    import networkx as nx

    g = nx.Graph()
    g.add_node("vehicle")
    with pytest.raises(ValueError, match="is not"):
        matching.Instance.from_networkx(g)


def test_repr_and_summary():
    inst = example()
    assert repr(inst) == "Instance(n_resources=2, n_requests=3, n_groups=3, n_edges=3)"
    assert "3 groups" in inst.summary() and "durations" in inst.summary()


def test_million_edges_build_in_arrays():
    inst = random_groups(2000, 20000, 400_000, degree=3, seed=0)
    assert inst.n_edges == 1_200_000
    assert inst.edge_requests.shape == (1_200_000, 20000)
    res = matching.solve(inst, "greedy")
    assert res.check(inst)


# --------------------------------------------------------------- check() on broken results
def solved():
    inst = matching.Instance(
        groups=[[0, 1], [1], [2], [3]],
        edges=[(0, 0, 2.0), (0, 1, 1.0), (1, 2, 1.0), (1, 3, 1.0, 2)],
        capacity=[1, 2],
    )
    res = matching.solve(inst)
    assert res.check(inst)
    return inst, res


def broken(res, inst, edges, **changes):
    edges = np.asarray(edges)
    fields = {
        "edges": edges,
        "_resources": inst.edge_resource[edges],
        "_groups": inst.edge_group[edges],
        "value": float(inst.edge_weight[edges].sum()),
    }
    fields.update(changes)
    return dataclasses.replace(res, **fields)


def test_check_catches_request_served_twice():
    inst, res = solved()
    bad = broken(res, inst, [0, 1])
    with pytest.raises(matching.InfeasibleMatchingError, match="request 1 is served 2"):
        bad.check(inst)


def test_check_catches_capacity_overflow():
    inst, res = solved()
    bad = broken(res, inst, [0, 2, 3])
    with pytest.raises(matching.InfeasibleMatchingError, match="resource 1 carries load 3"):
        bad.check(inst)


def test_check_catches_wrong_value_bound_and_edges():
    inst, res = solved()
    with pytest.raises(matching.InfeasibleMatchingError, match="value"):
        dataclasses.replace(res, value=res.value + 1).check(inst)
    with pytest.raises(matching.InfeasibleMatchingError, match="bound"):
        dataclasses.replace(res, bound=res.value - 1).check(inst)
    with pytest.raises(matching.InfeasibleMatchingError, match="out of range"):
        dataclasses.replace(res, edges=np.array([7])).check(inst)
    with pytest.raises(matching.InfeasibleMatchingError, match="disagrees"):
        dataclasses.replace(res, _x=np.zeros(inst.n_edges)).check(inst)
    with pytest.raises(matching.InfeasibleMatchingError, match="assignment"):
        dataclasses.replace(res, _groups=res._groups[::-1] + 1).check(inst)
