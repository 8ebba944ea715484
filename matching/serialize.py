"""Lossless JSON and networkx conversions of :class:`matching.Instance`."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from matching._validate import check_type, is_real
from matching.model import Instance

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "instance_from_json",
    "instance_from_networkx",
    "instance_to_json",
    "instance_to_networkx",
]

FORMAT_NAME = "groupmatch.instance"
FORMAT_VERSION = 1


def instance_to_json(instance: Instance, path: str | os.PathLike[str] | None = None) -> str:
    """Serialize an instance to JSON text, and write it to ``path`` when given.

    Floats are written with Python's shortest round-trip ``repr``, so
    ``instance_from_json(instance_to_json(inst)) == inst`` holds bit for bit.

    Parameters
    ----------
    instance : Instance
    path : str or os.PathLike, optional
        File to write.

    Returns
    -------
    str
        The JSON text.

    Examples
    --------
    >>> import matching
    >>> inst = matching.Instance([[0, 1], [1]], [(0, 0, 0.1), (0, 1, 2.5)])
    >>> text = inst.to_json()
    >>> matching.Instance.from_json(text) == inst
    True
    """
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "n_requests": instance.n_requests,
        "capacity": instance.capacity.tolist(),
        "groups": [instance.group(g).tolist() for g in range(instance.n_groups)],
        "edges": {
            "resource": instance.edge_resource.tolist(),
            "group": instance.edge_group.tolist(),
            "weight": instance.edge_weight.tolist(),
            "load": instance.edge_load.tolist(),
            "duration": None
            if instance.edge_duration is None
            else instance.edge_duration.tolist(),
        },
    }
    text = json.dumps(doc, allow_nan=False)
    if path is not None:
        Path(path).write_text(text)
    return text


def instance_from_json(source: str | os.PathLike[str]) -> Instance:
    """Read an instance from JSON text or from a file holding it.

    Parameters
    ----------
    source : str or os.PathLike
        JSON text or the path of a UTF-8 file holding it (a leading byte-order mark is
        skipped). A string is read as JSON text when its first non-blank character is
        ``{`` or ``[``, or when no file of that name exists and it parses as JSON;
        otherwise it is a path.

    Returns
    -------
    Instance

    Raises
    ------
    ValueError
        If the text is empty or not JSON, the file is a directory or not UTF-8 text
        (naming the path), the document is not a groupmatch instance, or a field is
        missing or of the wrong JSON type (naming the field, the index and the value:
        ``capacity`` and ``edges.load`` must be given in full, never ``null``); the
        usual :class:`Instance` validation errors otherwise.
    FileNotFoundError
        If ``source`` names no file and is not JSON text.
    TypeError
        If ``source`` is neither a string nor a path.

    Examples
    --------
    >>> import matching
    >>> matching.Instance.from_json("[1, 2]")
    Traceback (most recent call last):
    ...
    ValueError: not a 'groupmatch.instance' document (missing or wrong 'format' field)
    """
    text, where = _json_text(source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ValueError(f"not a {FORMAT_NAME!r} document (missing or wrong 'format' field)")
    if doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported version {doc.get('version')!r}; expected {FORMAT_VERSION}")
    for key in ("n_requests", "capacity", "groups", "edges"):
        if key not in doc:
            raise ValueError(f"instance JSON lacks the field {key!r}")
    edges = doc["edges"]
    if not isinstance(edges, dict):
        raise ValueError(
            "instance JSON field 'edges' must be an object of arrays (resource, group, "
            f"weight, load[, duration]), got {_shown(edges)}"
        )
    for key in ("resource", "group", "weight", "load"):
        if key not in edges:
            raise ValueError(f"instance JSON lacks the field 'edges.{key}'")
    n_requests = doc["n_requests"]
    if type(n_requests) is not int:
        raise ValueError(
            f"instance JSON field 'n_requests' must be an integer, got {_shown(n_requests)}"
        )
    groups = doc["groups"]
    if not isinstance(groups, list):
        raise ValueError(
            "instance JSON field 'groups' must be a list of lists of request ids, got "
            f"{_shown(groups)}"
        )
    for g, group in enumerate(groups):
        if type(group) is not list:  # name the group before flattening
            _json_list(group, f"groups[{g}]", int, "a list of request ids", "an integer id")
    members = [q for g in groups for q in g]
    if not set(map(type, members)) <= {int}:
        for g, group in enumerate(groups):
            _json_list(group, f"groups[{g}]", int, "a list of request ids", "an integer id")
    sizes = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
    ptr = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    duration = edges.get("duration")
    return Instance.from_arrays(
        group_ptr=ptr,
        group_members=members,
        edge_resource=_json_list(edges["resource"], "edges.resource", int),
        edge_group=_json_list(edges["group"], "edges.group", int),
        edge_weight=_json_list(edges["weight"], "edges.weight", float),
        edge_load=_json_list(edges["load"], "edges.load", float),
        edge_duration=None if duration is None else _json_list(duration, "edges.duration", float),
        capacity=_json_list(doc["capacity"], "capacity", float),
        n_requests=n_requests,
    )


def _json_text(source: object) -> tuple[str, str]:
    """Return the JSON text of ``source`` and, for a file, ``"<path>: "`` for messages."""
    if isinstance(source, str):
        text = source.lstrip("\ufeff")
        if not text.strip():
            raise ValueError(
                "Instance.from_json got an empty string: give JSON text or the path of a file"
            )
        if text.lstrip()[0] in "{[":
            return text, ""
        path = Path(source)
        if not path.exists():
            try:
                json.loads(text)
            except json.JSONDecodeError:
                raise FileNotFoundError(
                    f"no instance file {source!r} (and the string is not JSON text)"
                ) from None
            return text, ""
    elif isinstance(source, os.PathLike):
        path = Path(source)
    else:
        raise TypeError(f"source must be JSON text or a file path, got {type(source).__name__}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not an instance file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), f"{path}: "
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x}); an "
            "instance file holds the JSON written by Instance.to_json"
        ) from None


def _shown(value: object) -> str:
    """Return ``value`` as JSON, shortened for a message."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_list(
    value: object,
    field: str,
    kind: type,
    what: str | None = None,
    entry: str | None = None,
) -> list[Any]:
    """Check that a JSON value is a list of integers (``kind=int``) or of numbers."""
    what = what or ("a list of integer ids" if kind is int else "a list of numbers")
    entry = entry or ("an integer id" if kind is int else "a number")
    if not isinstance(value, list):
        raise ValueError(f"instance JSON field {field!r} must be {what}, got {_shown(value)}")
    allowed = {int} if kind is int else {int, float}
    if not set(map(type, value)) <= allowed:  # one pass in C; find the culprit if any
        i, item = next((i, x) for i, x in enumerate(value) if type(x) not in allowed)
        raise ValueError(f"instance JSON field '{field}[{i}]' must be {entry}, got {_shown(item)}")
    return value


def instance_to_networkx(instance: Instance) -> nx.Graph:
    """Return the tripartite graph as an undirected :class:`networkx.Graph`.

    Nodes are ``("resource", r)`` with attribute ``capacity``, ``("group", g)`` and
    ``("request", q)``; every node has ``part`` set to its kind. Group-request edges
    carry ``kind="member"`` and ``position`` (the request's place in its group);
    resource-group edges carry ``kind="serves"``, ``weight``,
    ``load``, ``index`` (the edge's position in the instance) and, for reusable
    resources, ``duration``.

    Examples
    --------
    >>> import matching
    >>> inst = matching.Instance([[0, 1], [1]], [(0, 0, 2.0), (0, 1, 1.0)])
    >>> g = inst.to_networkx()
    >>> g.number_of_nodes(), g.number_of_edges()
    (5, 5)
    >>> matching.Instance.from_networkx(g) == inst
    True
    """
    graph = nx.Graph()
    for r, cap in enumerate(instance.capacity.tolist()):
        graph.add_node(("resource", r), part="resource", capacity=cap)
    graph.add_nodes_from((("request", q), {"part": "request"}) for q in range(instance.n_requests))
    graph.add_nodes_from((("group", g), {"part": "group"}) for g in range(instance.n_groups))
    for g in range(instance.n_groups):
        graph.add_edges_from(
            (("group", g), ("request", q), {"kind": "member", "position": i})
            for i, q in enumerate(instance.group(g).tolist())
        )
    durations = (
        [None] * instance.n_edges
        if instance.edge_duration is None
        else instance.edge_duration.tolist()
    )
    for e, (r, g, w, load, dur) in enumerate(
        zip(
            instance.edge_resource.tolist(),
            instance.edge_group.tolist(),
            instance.edge_weight.tolist(),
            instance.edge_load.tolist(),
            durations,
            strict=True,
        )
    ):
        attrs: dict[str, Any] = {"kind": "serves", "weight": w, "load": load, "index": e}
        if dur is not None:
            attrs["duration"] = dur
        graph.add_edge(("resource", r), ("group", g), **attrs)
    return graph


def instance_from_networkx(graph: nx.Graph) -> Instance:
    """Build an instance from a graph laid out as by :func:`instance_to_networkx`.

    Resource, group and request ids must be ``0 .. n - 1`` in each part. Resource-group
    edges are ordered by their ``index`` attribute when every edge has one, otherwise by
    (resource, group); group members by their ``position`` attribute, else by request
    id. Missing ``load`` means 1; missing ``capacity`` means 1.

    Raises
    ------
    TypeError
        If ``graph`` is not a networkx graph.
    ValueError
        On a node that is not ``(part, id)``, ids that are not contiguous, an edge
        joining parts other than group-request or resource-group, an attribute that is
        not a number (``weight``, ``load``, ``duration``, ``capacity``) or not an integer
        (``index``, ``position``), or two edges with the same ``index`` or two members of
        a group at the same ``position``. The message names the node or edge.
    """
    check_type(graph, nx.Graph, "graph", "a networkx graph")
    ids: dict[str, list[int]] = {"resource": [], "group": [], "request": []}
    for node in graph.nodes:
        if (
            not isinstance(node, tuple)
            or len(node) != 2
            or node[0] not in ids
            or isinstance(node[1], bool | np.bool_)
            or not isinstance(node[1], int | np.integer)
        ):
            raise ValueError(f"node {node!r} is not ('resource'|'group'|'request', int id)")
        ids[node[0]].append(int(node[1]))
    for part, found in ids.items():
        if sorted(found) != list(range(len(found))):
            raise ValueError(f"{part} ids must be 0..{len(found) - 1} without gaps")
    members: list[list[tuple[int, int]]] = [[] for _ in ids["group"]]
    serves: list[tuple[int, int, dict[str, Any]]] = []
    for a, b, data in graph.edges(data=True):
        kinds = {a[0]: int(a[1]), b[0]: int(b[1])}
        if set(kinds) == {"group", "request"}:
            g, q = kinds["group"], kinds["request"]
            where = f"edge {('group', g)!r}-{('request', q)!r}"
            members[g].append((_attribute(data, "position", q, where, integer=True), q))
        elif set(kinds) == {"resource", "group"}:
            r, g = kinds["resource"], kinds["group"]
            where = f"edge {('resource', r)!r}-{('group', g)!r}"
            if "weight" not in data:
                raise ValueError(f"{where} needs a 'weight' attribute")
            attrs = {
                "weight": _attribute(data, "weight", None, where),
                "load": _attribute(data, "load", 1.0, where),
                "where": where,
            }
            if "duration" in data:
                attrs["duration"] = _attribute(data, "duration", None, where)
            if "index" in data:
                attrs["index"] = _attribute(data, "index", None, where, integer=True)
            serves.append((r, g, attrs))
        else:
            raise ValueError(f"edge {a!r}-{b!r} must join a group to a request or a resource")
    for g, group in enumerate(members):
        positions = sorted(p for p, _ in group)
        for p, after in itertools.pairwise(positions):
            if p == after:
                raise ValueError(f"group {g} has two members at position {p}")
    if serves and all("index" in d for _, _, d in serves):
        serves.sort(key=lambda item: item[2]["index"])
        for (_, _, d), (_, _, e) in itertools.pairwise(serves):
            if d["index"] == e["index"]:
                raise ValueError(
                    f"index {d['index']} is on two resource-group edges: {d['where']} and "
                    f"{e['where']}"
                )
    else:
        serves.sort(key=lambda item: (item[0], item[1]))
    has_duration = [("duration" in d) for _, _, d in serves]
    if any(has_duration) and not all(has_duration):
        raise ValueError("give a duration on every resource-group edge or on none")
    capacity = [
        _attribute(graph.nodes[("resource", r)], "capacity", 1.0, f"node {('resource', r)!r}")
        for r in range(len(ids["resource"]))
    ]
    return Instance(
        [[q for _, q in sorted(group)] for group in members],
        [
            (r, g, d["weight"], d["load"], d["duration"])
            if any(has_duration)
            else (r, g, d["weight"], d["load"])
            for r, g, d in serves
        ],
        capacity=capacity,
        n_requests=len(ids["request"]),
    )


def _attribute(
    data: dict[str, Any], key: str, default: Any, where: str, *, integer: bool = False
) -> Any:
    """Return the attribute ``key`` (``default`` when absent), refusing non-numbers."""
    value = data.get(key, default)
    if integer:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise ValueError(f"{where}: {key} must be an integer, got {value!r}")
        return int(value)
    if not is_real(value):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)
