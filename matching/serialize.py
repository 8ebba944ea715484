"""Lossless JSON and networkx conversions of :class:`matching.Instance`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

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
        JSON text (a string whose first non-blank character is ``{``) or a path.

    Returns
    -------
    Instance

    Raises
    ------
    ValueError
        If the document is not a groupmatch instance or a field is missing; the usual
        :class:`Instance` validation errors otherwise.
    """
    if isinstance(source, str) and source.lstrip().startswith("{"):
        text = source
    else:
        text = Path(source).read_text()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ValueError(f"not a {FORMAT_NAME!r} document (missing or wrong 'format' field)")
    if doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported version {doc.get('version')!r}; expected {FORMAT_VERSION}")
    for key in ("n_requests", "capacity", "groups", "edges"):
        if key not in doc:
            raise ValueError(f"instance JSON lacks the field {key!r}")
    edges = doc["edges"]
    for key in ("resource", "group", "weight", "load"):
        if key not in edges:
            raise ValueError(f"instance JSON lacks the field 'edges.{key}'")
    groups = doc["groups"]
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    ptr = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    members = [q for g in groups for q in g]
    return Instance.from_arrays(
        group_ptr=ptr,
        group_members=members,
        edge_resource=edges["resource"],
        edge_group=edges["group"],
        edge_weight=edges["weight"],
        edge_load=edges["load"],
        edge_duration=edges.get("duration"),
        capacity=doc["capacity"],
        n_requests=doc["n_requests"],
    )


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
    ValueError
        On a node that is not ``(part, id)``, ids that are not contiguous, or an edge
        joining parts other than group-request or resource-group.
    """
    ids: dict[str, list[int]] = {"resource": [], "group": [], "request": []}
    for node in graph.nodes:
        if (
            not isinstance(node, tuple)
            or len(node) != 2
            or node[0] not in ids
            or not isinstance(node[1], int | np.integer)
        ):
            raise ValueError(f"node {node!r} is not ('resource'|'group'|'request', int id)")
        ids[node[0]].append(int(node[1]))
    for part, found in ids.items():
        if sorted(found) != list(range(len(found))):
            raise ValueError(f"{part} ids must be 0..{len(found) - 1} without gaps")
    members: list[list[tuple[float, int]]] = [[] for _ in ids["group"]]
    serves: list[tuple[int, int, dict[str, Any]]] = []
    for a, b, data in graph.edges(data=True):
        kinds = {a[0]: a[1], b[0]: b[1]}
        if set(kinds) == {"group", "request"}:
            q = kinds["request"]
            members[kinds["group"]].append((data.get("position", q), q))
        elif set(kinds) == {"resource", "group"}:
            serves.append((kinds["resource"], kinds["group"], data))
        else:
            raise ValueError(f"edge {a!r}-{b!r} must join a group to a request or a resource")
    if serves and all("index" in d for _, _, d in serves):
        serves.sort(key=lambda item: item[2]["index"])
    else:
        serves.sort(key=lambda item: (item[0], item[1]))
    has_duration = [("duration" in d) for _, _, d in serves]
    if any(has_duration) and not all(has_duration):
        raise ValueError("give a duration on every resource-group edge or on none")
    if any("weight" not in d for _, _, d in serves):
        raise ValueError("every resource-group edge needs a 'weight' attribute")
    capacity = [
        graph.nodes[("resource", r)].get("capacity", 1.0) for r in range(len(ids["resource"]))
    ]
    return Instance(
        [[q for _, q in sorted(group)] for group in members],
        [
            (r, g, d["weight"], d.get("load", 1.0), d["duration"])
            if any(has_duration)
            else (r, g, d["weight"], d.get("load", 1.0))
            for r, g, d in serves
        ],
        capacity=capacity,
        n_requests=len(ids["request"]),
    )
