"""Every bad input across the public surface gets a clear error, before any work is done.

One row per case: the call, the error it must raise and a pattern the message must match
(the field and the offending value). The command-line rows check the exit status 2 and a
one-line message on standard error instead.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

import matching
from groupmatch.cli import main
from matching.arrivals import (
    ArrivalSequence,
    adversarial_order,
    known_adversarial,
    known_iid,
    poisson_arrivals,
    random_order,
)
from matching.attenuation import LPSampleAttenuatePolicy
from matching.driver import simulate
from matching.families import random_bipartite, random_groups
from matching.hindsight import offline_lp, offline_optimum
from matching.online import BatchedResolvePolicy, GreedyPolicy, OnlinePolicy, RankingPolicy
from matching.online_families import (
    KADReusable,
    KnownIIDBipartite,
    KUniformGroups,
    RandomBipartite,
    UpperTriangular,
)
from matching.ratio import RatioReport, compare_policies, competitive_ratio
from matching.stream import ArrivingGroup, OnlineMatcher, PolicyError
from proofs.adversary import search
from proofs.attenuate import lp_attenuate_certificate
from proofs.catalog import build_certificate
from scheduling.traces import load_azure_trace, synthetic_requests

INST = matching.Instance([[0, 1], [1], [2]], [(0, 0, 2.0), (0, 1, 1.0), (1, 2, 1.0)])
SEQ = adversarial_order(INST)
TYPES = matching.Instance([[0], [0, 1]], [(0, 0, 1.0, 1, 2.0), (0, 1, 3.0, 1, 1.0)])


def _doc(**changes):
    """The JSON text of INST with some top-level or ``edges.*`` fields replaced."""
    doc = json.loads(INST.to_json())
    for key, value in changes.items():
        if key.startswith("edges_"):
            doc["edges"][key.removeprefix("edges_")] = value
        else:
            doc[key] = value
    return json.dumps(doc)


def _graph(edit):
    """INST's networkx graph after ``edit(graph)``."""
    graph = INST.to_networkx()
    edit(graph)
    return graph


def _set_serves(attr, value, edge=(("resource", 0), ("group", 0))):
    return lambda g: g.edges[edge].__setitem__(attr, value)


def _duplicate_index(graph):
    graph.edges[("resource", 0), ("group", 1)]["index"] = 0


def _tmp_file(tmp_path, name, data):
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


BINARY = bytes(range(256)) * 4


def row(case_id, call, error, match):
    return pytest.param(call, error, match, id=case_id)


# --------------------------------------------------------------- instance and arrays
INSTANCE_CASES = [
    row(
        "tuple-string-weight",
        lambda: matching.Instance([[0]], [(0, 0, "1.5")]),
        TypeError,
        r"edge_weight\[0\] = '1\.5'.*not a number",
    ),
    row(
        "tuple-bool-weight",
        lambda: matching.Instance([[0]], [(0, 0, True)]),
        TypeError,
        r"edge_weight\[0\] = True.*not a number",
    ),
    row(
        "tuple-bool-among-numbers",
        lambda: matching.Instance([[0], [1]], [(0, 0, 1.5), (0, 1, True)]),
        TypeError,
        r"edge_weight\[1\] = True is a bool, not a number",
    ),
    row(
        "bool-request-id",
        lambda: matching.Instance([[0, True]], [(0, 0, 1.0)]),
        TypeError,
        r"groups\[0\]\[1\] = True is a bool, not an integer id",
    ),
    row(
        "tuple-string-load",
        lambda: matching.Instance([[0]], [(0, 0, 1.0, "2")]),
        TypeError,
        r"edge_load\[0\] = '2'",
    ),
    row(
        "arrays-string-weights",
        lambda: matching.Instance.from_arrays(
            group_ptr=[0, 1],
            group_members=[0],
            edge_resource=[0],
            edge_group=[0],
            edge_weight=["1.5"],
        ),
        TypeError,
        r"edge_weight\[0\] = '1\.5'",
    ),
    row(
        "arrays-bool-weights",
        lambda: matching.Instance.from_arrays(
            group_ptr=[0, 1],
            group_members=[0],
            edge_resource=[0],
            edge_group=[0],
            edge_weight=np.array([True]),
        ),
        TypeError,
        r"edge_weight\[0\] = True",
    ),
    row(
        "string-capacity",
        lambda: matching.Instance([[0]], [(0, 0, 1.0)], capacity=["2"]),
        TypeError,
        r"capacity\[0\] = '2'",
    ),
    row(
        "bool-capacity",
        lambda: matching.Instance([[0]], [(0, 0, 1.0)], capacity=[True]),
        TypeError,
        r"capacity\[0\] = True",
    ),
    row(
        "none-weight",
        lambda: matching.Instance([[0]], [(0, 0, None)]),
        TypeError,
        r"edge_weight\[0\] = None",
    ),
    row(
        "request-id-2**63",
        lambda: matching.Instance([[2**63]], [(0, 0, 1.0)]),
        ValueError,
        r"groups\[0\]\[0\] = 9223372036854775808 .*too large",
    ),
    row(
        "request-id-2**64",
        lambda: matching.Instance([[2**64]], [(0, 0, 1.0)]),
        ValueError,
        r"groups\[0\]\[0\] = 18446744073709551616 .*too large",
    ),
    row(
        "uint64-members",
        lambda: matching.Instance.from_arrays(
            group_ptr=[0, 1],
            group_members=np.array([2**63], dtype=np.uint64),
            edge_resource=[0],
            edge_group=[0],
            edge_weight=[1.0],
        ),
        ValueError,
        r"group_members\[0\] = 9223372036854775808 .*too large",
    ),
    row(
        "uint64-resource",
        lambda: matching.Instance.from_arrays(
            group_ptr=[0, 1],
            group_members=[0],
            edge_resource=np.array([2**64 - 1], np.uint64),
            edge_group=[0],
            edge_weight=[1.0],
        ),
        ValueError,
        r"edge_resource\[0\] = 18446744073709551615 .*too large",
    ),
    row(
        "request-id-2**40",
        lambda: matching.Instance([[0], [2**40]], [(0, 0, 1.0)]),
        ValueError,
        r"groups\[1\] names request id 1099511627776.*at most 100000000 requests",
    ),
    row(
        "n_requests-10**12",
        lambda: matching.Instance([[0]], [(0, 0, 1.0)], n_requests=10**12),
        ValueError,
        r"n_requests=1000000000000 .*at most 100000000",
    ),
    row(
        "n_resources-10**12",
        lambda: matching.Instance([[0]], [(0, 0, 1.0)], n_resources=10**12),
        ValueError,
        r"n_resources=1000000000000 .*at most 100000000",
    ),
    row(
        "resource-id-2**40",
        lambda: matching.Instance([[0]], [(2**40, 0, 1.0)]),
        ValueError,
        r"edges\[0\] goes to resource 1099511627776.*at most 100000000 resources",
    ),
    row(
        "n_requests-float",
        lambda: matching.Instance([[0]], [(0, 0, 1.0)], n_requests=2.0),
        TypeError,
        r"n_requests must be an int, got 2\.0",
    ),
    row(
        "bipartite-strings",
        lambda: matching.Instance.bipartite([["1", "2"]]),
        TypeError,
        r"weights\[0, 0\] = '1'.*not a number",
    ),
    row(
        "bipartite-bools",
        lambda: matching.Instance.bipartite(np.ones((2, 2), bool)),
        TypeError,
        r"weights\[0, 0\] = True.*not a number",
    ),
    row(
        "bipartite-ragged",
        lambda: matching.Instance.bipartite([[1.0, 2.0], [3.0]]),
        ValueError,
        r"weights must be a rectangular matrix: row 1 has 1 entries, row 0 has 2",
    ),
    row(
        "bipartite-huge-sparse",
        lambda: matching.Instance.bipartite(sp.coo_array(([1.0], ([0], [0])), shape=(1, 10**12))),
        ValueError,
        r"n_requests=1000000000000 .*at most 100000000",
    ),
]


# ---------------------------------------------------------------------- solve, check
SOLVE_CASES = [
    row(
        "time_limit-string",
        lambda: matching.solve(INST, time_limit="5"),
        TypeError,
        r"time_limit must be a number of seconds, got '5'",
    ),
    row(
        "time_limit-bool",
        lambda: matching.solve(INST, time_limit=True),
        TypeError,
        r"time_limit must be a number of seconds, got True",
    ),
    row(
        "time_limit-1e15",
        lambda: matching.solve(INST, time_limit=1e15),
        ValueError,
        r"time_limit must be at most 10000000 seconds.*got 1000000000000000\.0",
    ),
    row(
        "time_limit-nan",
        lambda: matching.solve(INST, time_limit=float("nan")),
        ValueError,
        r"time_limit must be.*got nan",
    ),
    row(
        "time_limit-negative",
        lambda: matching.solve(INST, time_limit=-1),
        ValueError,
        r"time_limit must be.*got -1",
    ),
    row(
        "seed-2**31",
        lambda: matching.solve(INST, seed=2**31),
        ValueError,
        r"seed must be at most 2147483647, got 2147483648",
    ),
    row(
        "seed-negative",
        lambda: matching.solve(INST, seed=-1),
        ValueError,
        r"seed must be at least 0, got -1",
    ),
    row(
        "seed-string",
        lambda: matching.solve(INST, seed="1"),
        TypeError,
        r"seed must be an int, got '1'",
    ),
    row(
        "threads-2**31",
        lambda: matching.solve(INST, threads=2**31),
        ValueError,
        r"threads must be at most 2147483647, got 2147483648",
    ),
    row(
        "threads-zero",
        lambda: matching.solve(INST, threads=0),
        ValueError,
        r"threads must be at least 1, got 0",
    ),
    row(
        "hint-string",
        lambda: matching.solve(INST, "cpsat", hint="no"),
        TypeError,
        r"hint must be a bool, got 'no'",
    ),
    row(
        "log-string",
        lambda: matching.solve(INST, log="yes"),
        TypeError,
        r"log must be a bool, got 'yes'",
    ),
    row("method-none", lambda: matching.solve(INST, None), ValueError, r"unknown method None"),
    row(
        "objective-maximize",
        lambda: matching.solve(INST, objective="maximize"),
        ValueError,
        r"objective must be one of \('max', 'min'\), got 'maximize'",
    ),
    row(
        "objective-none",
        lambda: matching.solve(INST, "mip", objective=None),
        ValueError,
        r"objective must be one of \('max', 'min'\), got None",
    ),
    row(
        "check_duplicates-string",
        lambda: matching.Instance.from_arrays(
            group_ptr=[0, 1],
            group_members=[0],
            edge_resource=[0],
            edge_group=[0],
            edge_weight=[1.0],
            check_duplicates="no",
        ),
        TypeError,
        r"check_duplicates must be a bool, got 'no'",
    ),
    row(
        "serve_all-string",
        lambda: matching.solve(INST, serve_all="yes"),
        TypeError,
        r"serve_all must be a bool, got 'yes'",
    ),
    row(
        "serve_all-int",
        lambda: matching.solve(INST, "lp", serve_all=1),
        TypeError,
        r"serve_all must be a bool, got 1",
    ),
    row(
        "serve_all-greedy",
        lambda: matching.solve(INST, "greedy", serve_all=True),
        ValueError,
        r"method 'greedy' cannot take serve_all=True: .*cannot guarantee.*'cpsat' or 'mip'",
    ),
    row(
        "weight-1e200",
        lambda: matching.solve(matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 1e200)]), "lp"),
        ValueError,
        r"edge 1 has weight 1e\+200, outside the supported range 1e-100 <= \|weight\| <= 1e\+100",
    ),
    row(
        "weight-minus-1e-101",
        lambda: matching.solve(matching.Instance([[0]], [(0, 0, -1e-101)]), "greedy"),
        ValueError,
        r"edge 0 has weight -1e-101, outside the supported range",
    ),
    row(
        "solver-unknown",
        lambda: matching.solve(INST, "mip", solver="gurobi"),
        ValueError,
        r"unknown mip solver 'gurobi'",
    ),
    row(
        "instance-none",
        lambda: matching.solve(None),
        TypeError,
        r"instance must be a matching\.Instance, got NoneType",
    ),
    row(
        "check-none",
        lambda: matching.solve(INST).check(None),
        TypeError,
        r"instance must be a matching\.Instance, got NoneType",
    ),
    row(
        "check-tol-string",
        lambda: matching.solve(INST).check(INST, tol="0"),
        TypeError,
        r"tol must be a number, got '0'",
    ),
]


# ------------------------------------------------------------------------------ JSON
JSON_CASES = [
    row(
        "groups-int",
        lambda: matching.Instance.from_json(_doc(groups=5)),
        ValueError,
        r"'groups' must be a list of lists of request ids, got 5",
    ),
    row(
        "groups-flat",
        lambda: matching.Instance.from_json(_doc(groups=[5, 6, 7])),
        ValueError,
        r"'groups\[0\]' must be a list of request ids, got 5",
    ),
    row(
        "groups-object",
        lambda: matching.Instance.from_json(_doc(groups={"a": [0]})),
        ValueError,
        r"'groups' must be a list of lists of request ids, got \{\"a\": \[0\]\}",
    ),
    row(
        "groups-string-id",
        lambda: matching.Instance.from_json(_doc(groups=[["0"]])),
        ValueError,
        r"'groups\[0\]\[0\]' must be an integer id, got \"0\"",
    ),
    row(
        "edges-int",
        lambda: matching.Instance.from_json(_doc(edges=5)),
        ValueError,
        r"'edges' must be an object of arrays .*got 5",
    ),
    row(
        "edges-string-weight",
        lambda: matching.Instance.from_json(_doc(edges_weight=["2.0", 1.0, 1.0])),
        ValueError,
        r"'edges\.weight\[0\]' must be a number, got \"2\.0\"",
    ),
    row(
        "edges-bool-load",
        lambda: matching.Instance.from_json(_doc(edges_load=[True, 1, 1])),
        ValueError,
        r"'edges\.load\[0\]' must be a number, got true",
    ),
    row(
        "edges-weight-not-list",
        lambda: matching.Instance.from_json(_doc(edges_weight=1.0)),
        ValueError,
        r"'edges\.weight' must be a list of numbers, got 1\.0",
    ),
    row(
        "capacity-null",
        lambda: matching.Instance.from_json(_doc(capacity=None)),
        ValueError,
        r"'capacity' must be a list of numbers, got null",
    ),
    row(
        "load-null",
        lambda: matching.Instance.from_json(_doc(edges_load=None)),
        ValueError,
        r"'edges\.load' must be a list of numbers, got null",
    ),
    row(
        "n_requests-null",
        lambda: matching.Instance.from_json(_doc(n_requests=None)),
        ValueError,
        r"'n_requests' must be an integer, got null",
    ),
    row(
        "n_requests-10**20",
        lambda: matching.Instance.from_json(_doc(n_requests=10**20)),
        ValueError,
        r"n_requests=100000000000000000000 .*at most 100000000",
    ),
    row(
        "text-list",
        lambda: matching.Instance.from_json("[1, 2]"),
        ValueError,
        r"not a 'groupmatch\.instance' document",
    ),
    row(
        "text-empty",
        lambda: matching.Instance.from_json(""),
        ValueError,
        r"got an empty string: give JSON text or the path of a file",
    ),
    row(
        "text-blank",
        lambda: matching.Instance.from_json("  \n"),
        ValueError,
        r"got an empty string",
    ),
    row(
        "source-int",
        lambda: matching.Instance.from_json(5),
        TypeError,
        r"source must be JSON text or a file path, got int",
    ),
    row(
        "source-none",
        lambda: matching.Instance.from_json(None),
        TypeError,
        r"source must be JSON text or a file path, got NoneType",
    ),
]


def test_json_file_errors_name_the_path(tmp_path):
    binary = _tmp_file(tmp_path, "binary.json", BINARY)
    with pytest.raises(ValueError, match=r"binary\.json.*not UTF-8 text"):
        matching.Instance.from_json(binary)
    with pytest.raises(ValueError, match=r"binary\.json.*not UTF-8 text"):
        matching.Instance.from_json(str(binary))
    with pytest.raises(ValueError, match=r"is a directory, not an instance file"):
        matching.Instance.from_json(tmp_path)
    broken = _tmp_file(tmp_path, "broken.json", "{oops")
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        matching.Instance.from_json(broken)
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        matching.Instance.from_json(tmp_path / "missing.json")


def test_json_byte_order_mark_is_read(tmp_path):
    text = INST.to_json()
    assert matching.Instance.from_json("\ufeff" + text) == INST
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert matching.Instance.from_json(path) == INST


# ------------------------------------------------------------------------- networkx
NETWORKX_CASES = [
    row(
        "nx-none",
        lambda: matching.Instance.from_networkx(None),
        TypeError,
        r"graph must be a networkx graph, got NoneType",
    ),
    row(
        "nx-string-weight",
        lambda: matching.Instance.from_networkx(_graph(_set_serves("weight", "1.5"))),
        ValueError,
        r"edge \('resource', 0\)-\('group', 0\): weight must be a number, got '1\.5'",
    ),
    row(
        "nx-none-weight",
        lambda: matching.Instance.from_networkx(_graph(_set_serves("weight", None))),
        ValueError,
        r"edge \('resource', 0\)-\('group', 0\): weight must be a number, got None",
    ),
    row(
        "nx-bool-load",
        lambda: matching.Instance.from_networkx(_graph(_set_serves("load", True))),
        ValueError,
        r"load must be a number, got True",
    ),
    row(
        "nx-string-position",
        lambda: matching.Instance.from_networkx(
            _graph(lambda g: g.edges[("group", 0), ("request", 1)].__setitem__("position", "a"))
        ),
        ValueError,
        r"edge \('group', 0\)-\('request', 1\): position must be an integer, got 'a'",
    ),
    row(
        "nx-duplicate-position",
        lambda: matching.Instance.from_networkx(
            _graph(lambda g: g.edges[("group", 0), ("request", 1)].__setitem__("position", 0))
        ),
        ValueError,
        r"group 0 has two members at position 0",
    ),
    row(
        "nx-duplicate-index",
        lambda: matching.Instance.from_networkx(_graph(_duplicate_index)),
        ValueError,
        r"index 0 is on two resource-group edges",
    ),
    row(
        "nx-string-index",
        lambda: matching.Instance.from_networkx(_graph(_set_serves("index", "0"))),
        ValueError,
        r"index must be an integer, got '0'",
    ),
    row(
        "nx-string-capacity",
        lambda: matching.Instance.from_networkx(
            _graph(lambda g: g.nodes[("resource", 0)].__setitem__("capacity", "1"))
        ),
        ValueError,
        r"node \('resource', 0\): capacity must be a number, got '1'",
    ),
]


# --------------------------------------------------------------------------- traces
def test_trace_errors(tmp_path):
    header = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
    negative = _tmp_file(tmp_path, "neg.csv", header + "2023-11-16 18:15:46.6805900,-5,44\n")
    with pytest.raises(ValueError, match=r"neg\.csv, line 2: ContextTokens = -5 is negative"):
        load_azure_trace(negative)
    negative.write_text(header + "2023-11-16 18:15:46.6805900,5,-1\n")
    with pytest.raises(ValueError, match=r"line 2: GeneratedTokens = -1 is negative"):
        load_azure_trace(negative)
    binary = _tmp_file(tmp_path, "trace.bin", BINARY)
    with pytest.raises(ValueError, match=r"trace\.bin.*not UTF-8 text"):
        load_azure_trace(binary)


TRACE_CASES = [
    row(
        "synthetic-float",
        lambda: synthetic_requests(2.5),
        TypeError,
        r"n must be an int, got 2\.5",
    ),
    row(
        "synthetic-bool",
        lambda: synthetic_requests(True),
        TypeError,
        r"n must be an int, got True",
    ),
    row(
        "synthetic-negative",
        lambda: synthetic_requests(-1),
        ValueError,
        r"n must be at least 0, got -1",
    ),
    row(
        "synthetic-huge",
        lambda: synthetic_requests(10**12),
        ValueError,
        r"n must be at most 100000000, got 1000000000000",
    ),
]


# ------------------------------------------------------------- online, ratio, proofs
GREEDY = GreedyPolicy()
UT = UpperTriangular(4)

ONLINE_CASES = [
    row(
        "trials-string",
        lambda: compare_policies([GREEDY], UT, "5"),
        TypeError,
        r"trials must be an int, got '5'",
    ),
    row(
        "trials-float",
        lambda: compare_policies([GREEDY], UT, 2.5),
        TypeError,
        r"trials must be an int, got 2\.5",
    ),
    row(
        "family-string",
        lambda: compare_policies([GREEDY], "upper-triangular", 2),
        TypeError,
        r"family must be callable",
    ),
    row(
        "family-instance",
        lambda: competitive_ratio(GREEDY, INST, 2),
        TypeError,
        r"family must be callable",
    ),
    row(
        "policy-string",
        lambda: competitive_ratio("ranking", UT, 2),
        TypeError,
        r"policy must be an OnlinePolicy, got str",
    ),
    row(
        "policies-string",
        lambda: compare_policies("ranking", UT, 2),
        TypeError,
        r"policies must be OnlinePolicy objects, got str",
    ),
    row(
        "policies-list-of-strings",
        lambda: compare_policies(["ranking"], UT, 2),
        TypeError,
        r"policies\[0\] must be an OnlinePolicy, got 'ranking'",
    ),
    row(
        "simulate-policy-string",
        lambda: simulate("ranking", SEQ),
        TypeError,
        r"policy must be an OnlinePolicy",
    ),
    row(
        "ratio-seed-negative",
        lambda: compare_policies([GREEDY], UT, 2, seed=-1),
        ValueError,
        r"seed must be at least 0, got -1",
    ),
    row(
        "ratio-workers-zero",
        lambda: compare_policies([GREEDY], UT, 2, workers=0),
        ValueError,
        r"workers must be at least 1, got 0",
    ),
    row(
        "ratio-opt-time-limit",
        lambda: compare_policies([GREEDY], UT, 2, opt_time_limit="5"),
        TypeError,
        r"opt_time_limit must be a number of seconds, got '5'",
    ),
    row(
        "ratio-with-lp",
        lambda: compare_policies([GREEDY], UT, 2, with_lp="no"),
        TypeError,
        r"with_lp must be a bool, got 'no'",
    ),
    row(
        "simulate-seed-negative",
        lambda: simulate(GREEDY, SEQ, seed=-1),
        ValueError,
        r"seed must be at least 0, got -1",
    ),
    row(
        "random-order-seed-negative",
        lambda: random_order(INST, seed=-1),
        ValueError,
        r"seed must be at least 0, got -1",
    ),
    row(
        "matcher-seed-float",
        lambda: OnlineMatcher([1], GREEDY, seed=1.5),
        TypeError,
        r"seed must be an int, a numpy Generator or None, got 1\.5",
    ),
    row(
        "k-uniform-k0",
        lambda: KUniformGroups(4, 8, 8, k=0),
        ValueError,
        r"k must be at least 1, got 0",
    ),
    row(
        "k-uniform-k-string",
        lambda: KUniformGroups(4, 8, 8, k="2"),
        TypeError,
        r"k must be an int, got '2'",
    ),
    row(
        "k-uniform-k-too-big",
        lambda: KUniformGroups(4, 8, 8, k=9),
        ValueError,
        r"k=9 exceeds n_requests=8",
    ),
    row(
        "upper-triangular-zero",
        lambda: UpperTriangular(0),
        ValueError,
        r"n must be at least 1, got 0",
    ),
    row(
        "random-bipartite-density",
        lambda: RandomBipartite(3, 3, density=0),
        ValueError,
        r"density must lie in \(0, 1\], got 0",
    ),
    row(
        "kad-arrival-rate",
        lambda: KADReusable(3, 3, 4, arrival_rate=2.0),
        ValueError,
        r"arrival_rate must lie in \(0, 1\], got 2\.0",
    ),
    row(
        "known-iid-family-degree",
        lambda: KnownIIDBipartite(3, 3, 3, degree=0),
        ValueError,
        r"degree must be at least 1, got 0",
    ),
    row(
        "random-groups-k0",
        lambda: random_groups(3, 5, 5, max_group_size=0),
        ValueError,
        r"max_group_size must be at least 1, got 0",
    ),
    row(
        "random-bipartite-size",
        lambda: random_bipartite(-1, 3),
        ValueError,
        r"n_resources must be at least 0, got -1",
    ),
    row(
        "gamma-string-policy",
        lambda: LPSampleAttenuatePolicy(gamma="0.3"),
        TypeError,
        r"gamma must be a number, got '0\.3'",
    ),
    row(
        "gamma-string-certificate",
        lambda: lp_attenuate_certificate(TYPES, np.full((2, 3), 0.4), "0.3"),
        TypeError,
        r"gamma must be a number, got '0\.3'",
    ),
    row(
        "gamma-string-catalog",
        lambda: build_certificate("lp-attenuate", gamma="0.3"),
        TypeError,
        r"gamma must be a number, got '0\.3'",
    ),
    row(
        "batched-window-string",
        lambda: BatchedResolvePolicy("5"),
        TypeError,
        r"window must be a number, got '5'",
    ),
    row(
        "batched-method",
        lambda: BatchedResolvePolicy(5, method="fast"),
        ValueError,
        r"unknown method 'fast'",
    ),
    row(
        "batched-time-limit",
        lambda: BatchedResolvePolicy(5, time_limit="1"),
        TypeError,
        r"time_limit must be a number of seconds, got '1'",
    ),
    row(
        "ranking-vertex-weighted",
        lambda: RankingPolicy(vertex_weighted="no"),
        TypeError,
        r"vertex_weighted must be a bool, got 'no'",
    ),
    row(
        "known-iid-n-negative",
        lambda: known_iid(TYPES, [1.0, 1.0], -1),
        ValueError,
        r"n must be at least 0, got -1",
    ),
    row(
        "known-iid-n-float",
        lambda: known_iid(TYPES, [1.0, 1.0], 2.5),
        TypeError,
        r"n must be an int, got 2\.5",
    ),
    row(
        "known-iid-n-huge",
        lambda: known_iid(TYPES, [1.0, 1.0], 10**12),
        ValueError,
        r"n must be at most 10000000, got 1000000000000",
    ),
    row(
        "known-iid-rates-strings",
        lambda: known_iid(TYPES, ["1", "1"], 3),
        TypeError,
        r"rates\[0\] = '1'.*not a number",
    ),
    row(
        "known-iid-types-sequence",
        lambda: known_iid(SEQ, [1.0, 1.0], 3),
        TypeError,
        r"types must be a matching\.Instance, got ArrivalSequence",
    ),
    row(
        "known-adversarial-p-strings",
        lambda: known_adversarial(TYPES, [["0.5"], ["0.1"]]),
        TypeError,
        r"p\[0, 0\] = '0\.5'.*not a number",
    ),
    row(
        "poisson-horizon-1e12",
        lambda: poisson_arrivals(TYPES, [1.0, 1.0], 1e12),
        ValueError,
        r"about 2e\+12 arrivals \(rates sum to 2 over horizon 1e\+12\).*at most 10000000",
    ),
    row(
        "poisson-horizon-string",
        lambda: poisson_arrivals(TYPES, [1.0, 1.0], "5"),
        TypeError,
        r"horizon must be a number, got '5'",
    ),
    row(
        "adversarial-order-floats",
        lambda: adversarial_order(INST, [0.7, 1.2]),
        TypeError,
        r"order\[0\] = 0\.7 is not an integer id",
    ),
    row(
        "adversarial-order-instance",
        lambda: adversarial_order(SEQ),
        TypeError,
        r"instance must be a matching\.Instance, got ArrivalSequence",
    ),
    row(
        "arrival-sequence-instance",
        lambda: ArrivalSequence(SEQ, [0], [0.0]),
        TypeError,
        r"instance must be a matching\.Instance, got ArrivalSequence",
    ),
    row(
        "arrival-sequence-string-times",
        lambda: ArrivalSequence(INST, [0], ["0"]),
        TypeError,
        r"times\[0\] = '0'.*not a number",
    ),
    row(
        "simulate-instance",
        lambda: simulate(GREEDY, INST),
        TypeError,
        r"sequence must be an ArrivalSequence, got Instance",
    ),
    row(
        "offline-optimum-instance",
        lambda: offline_optimum(INST),
        TypeError,
        r"sequence must be an ArrivalSequence, got Instance",
    ),
    row(
        "offline-lp-instance",
        lambda: offline_lp(INST),
        TypeError,
        r"sequence must be an ArrivalSequence, got Instance",
    ),
    row(
        "empty-report-table",
        lambda: RatioReport("greedy", "fam").table(),
        ValueError,
        r"the report of policy 'greedy' on fam has no trials",
    ),
    row(
        "adversary-n-70", lambda: search("greedy", 70), ValueError, r"n must be at most 63, got 70"
    ),
    row(
        "adversary-n-float",
        lambda: search("greedy", 2.5),
        TypeError,
        r"n must be an int, got 2\.5",
    ),
    row(
        "adversary-seed",
        lambda: search("greedy", 5, seed=-1),
        ValueError,
        r"seed must be at least 0, got -1",
    ),
    row(
        "adversary-steps",
        lambda: search("greedy", 5, steps=-1),
        ValueError,
        r"steps must be at least 0, got -1",
    ),
    row(
        "certificate-n-string",
        lambda: build_certificate("ranking", n="5"),
        TypeError,
        r"n must be an int, got '5'",
    ),
]


@pytest.mark.parametrize(
    "call, error, match",
    INSTANCE_CASES + SOLVE_CASES + JSON_CASES + NETWORKX_CASES + TRACE_CASES + ONLINE_CASES,
)
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------------- policy answers
class Answer(OnlinePolicy):
    """A policy that gives a fixed answer (an edge, or a batch of edges)."""

    name = "answer"

    def __init__(self, answer, window=0.0):
        self.answer = answer
        self.window = window

    def choose(self, state, arrival, candidates):
        return self.answer

    def choose_batch(self, state, arrivals, candidates):
        return self.answer


@pytest.mark.parametrize(
    "answer, match",
    [
        pytest.param(2, r"edge 2 is out of range \(0\.\.1, or -1 to reject\)", id="out-of-range"),
        pytest.param(2**70, r"edge 1180591620717411303424 is out of range", id="2**70"),
        pytest.param(-7, r"edge -7 is out of range", id="minus-7"),
        pytest.param(0.9, r"must answer an int edge index or -1, got 0\.9", id="float"),
        pytest.param(True, r"must answer an int edge index or -1, got True", id="bool"),
        pytest.param("0", r"must answer an int edge index or -1, got '0'", id="string"),
        pytest.param(None, r"must answer an int edge index or -1, got None", id="none"),
        pytest.param(float("nan"), r"must answer an int edge index or -1, got nan", id="nan"),
        pytest.param(np.float64(1.0), r"got np\.float64\(1\.0\)|got 1\.0", id="numpy-float"),
    ],
)
def test_policy_answer_is_checked(answer, match):
    matcher = OnlineMatcher([1, 1], Answer(answer))
    with pytest.raises(PolicyError, match=match):
        matcher.arrive(["a"], resources=[0, 1], weights=[1.0, 2.0], time=0.0)
    assert matcher.decisions == [] and matcher.value == 0.0


def _batch():
    return [ArrivingGroup([q], [0, 1], [1.0, 2.0]) for q in "abc"]


@pytest.mark.parametrize(
    "answer, match",
    [
        pytest.param([0.9, -1, 4.2], r"group 0: the policy must answer an int", id="floats"),
        pytest.param([0, -1, 4.2], r"group 2: the policy must answer an int", id="late-float"),
        pytest.param([0, -1, 7], r"group 2: edge 7 is out of range", id="late-range"),
        pytest.param([0, -1], r"one edge per group \(3\), got 2", id="short"),
        pytest.param(
            [0, 0, -1], r"group 1, edge 0: resource 0 has 0 free, needs 1", id="late-capacity"
        ),
        pytest.param(np.array([0.9, -1, 4.2]), r"group 0: the policy must answer", id="array"),
        pytest.param(None, r"one edge per group \(3\), got NoneType", id="none"),
    ],
)
def test_policy_batch_answer_is_checked_before_any_commit(answer, match):
    matcher = OnlineMatcher([1, 1], Answer(answer, window=1.0))
    with pytest.raises(PolicyError, match=match):
        matcher.arrive_batch(_batch(), time=0.0)
    assert matcher.decisions == [] and matcher.value == 0.0
    assert matcher.state.remaining.tolist() == [1.0, 1.0]


# --------------------------------------------------------------------- command line
def _instance_file(tmp_path):
    return str(_tmp_file(tmp_path, "inst.json", INST.to_json()))


CLI_CASES = [
    pytest.param(
        lambda t: ["solve", str(t)], r"is a directory, not an instance file", id="solve-directory"
    ),
    pytest.param(lambda t: ["solve", ""], r"got an empty string", id="solve-empty-path"),
    pytest.param(
        lambda t: ["solve", str(_tmp_file(t, "bin.json", BINARY))],
        r"bin\.json.*not UTF-8 text",
        id="solve-binary",
    ),
    pytest.param(
        lambda t: ["solve", str(t / "missing.json")], r"missing\.json", id="solve-missing"
    ),
    pytest.param(
        lambda t: ["solve", _instance_file(t), "--seed", "99999999999"],
        r"seed must be at most 2147483647, got 99999999999",
        id="solve-seed",
    ),
    pytest.param(
        lambda t: ["solve", _instance_file(t), "--time-limit", "1e15"],
        r"time_limit must be at most",
        id="solve-time-limit",
    ),
    pytest.param(
        lambda t: ["solve", _instance_file(t), "--threads", "0"],
        r"threads must be at least 1",
        id="solve-threads",
    ),
    pytest.param(
        lambda t: ["ratio", "--k", "0", "--out", str(t)],
        r"k must be at least 1, got 0",
        id="ratio-k0",
    ),
    pytest.param(
        lambda t: ["ratio", "--trials", "0", "--out", str(t)],
        r"trials must be at least 1, got 0",
        id="ratio-trials",
    ),
    pytest.param(
        lambda t: ["ratio", "--policy", "batched", "--window", "0", "--out", str(t)],
        r"window must be a positive number",
        id="ratio-window",
    ),
    pytest.param(
        lambda t: ["ratio", "--out", str(_tmp_file(t, "taken", "x"))],
        r"--out .*taken is a file, not a folder",
        id="ratio-out-file",
    ),
    pytest.param(
        lambda t: ["adversary", "--n", "70"], r"n must be at most 63, got 70", id="adversary-n70"
    ),
    pytest.param(
        lambda t: ["adversary", "--policy", "ranking", "--n", "9"],
        r"would take about [\d.,]+ (minutes|hours) \(local search: 8421 inputs x 9! = "
        r"362880 rankings each.*--max-seconds",
        id="adversary-ranking-9",
    ),
    pytest.param(
        lambda t: ["adversary", "--n", "12"],
        r"would take about .*relabellings",
        id="adversary-greedy-12",
    ),
    pytest.param(
        lambda t: ["adversary", "--n", "0"], r"n must be at least 1, got 0", id="adversary-n0"
    ),
    pytest.param(
        lambda t: ["prove", "--gamma", "abc"], r"--gamma must be a fraction", id="prove-gamma"
    ),
    pytest.param(lambda t: ["prove", "--n", "0"], r"n must be at least 1, got 0", id="prove-n0"),
]


@pytest.mark.parametrize("make_args, match", CLI_CASES)
def test_cli_usage_errors_exit_2_with_one_line(make_args, match, tmp_path, capsys, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("the run started before the arguments were checked")

    import matching.ratio
    import proofs.adversary

    monkeypatch.setattr(matching.ratio, "_run_trial", no_run)
    monkeypatch.setattr(proofs.adversary, "_exhaustive", no_run)
    monkeypatch.setattr(proofs.adversary, "_local", no_run)
    assert main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("groupmatch: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(match, err), err


@pytest.mark.parametrize(
    "argv, match",
    [
        (["ratio", "--policy", "oracle"], "invalid choice"),
        (["solve", "x.json", "--seed", "abc"], "invalid int value"),
    ],
)
def test_cli_parser_errors_exit_2(argv, match, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert match in capsys.readouterr().err


def test_adversary_estimate_can_be_raised(capsys):
    assert main(["adversary", "--policy", "ranking", "--n", "3"]) == 0
    assert "E[ALG]/OPT = 13/18" in capsys.readouterr().out


def test_limits_are_documented():
    from matching import MAX_REQUESTS, MAX_RESOURCES, MAX_TIME_LIMIT
    from matching.arrivals import MAX_ARRIVALS
    from proofs.adversary import MAX_N

    assert MAX_REQUESTS == MAX_RESOURCES == 10**8
    assert MAX_TIME_LIMIT == 1e7 and MAX_ARRIVALS == 10**7 and MAX_N == 63
