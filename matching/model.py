"""The tripartite matching instance: resources, requests, request groups and edges.

An :class:`Instance` stores everything in numpy arrays and a CSR membership matrix, so
that instances with millions of edges build and solve without Python-level dictionaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from matching import _validate as v

__all__ = ["DenseLayout", "Instance"]

EdgeTuple = tuple[Any, ...]


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.flags.writeable = False
    return arr


class DenseLayout(NamedTuple):
    """Edges that are exactly the cells of a resources x requests weight matrix.

    Attributes
    ----------
    shape : tuple of int
        ``(n_resources, n_requests)``.
    cell_edge : numpy.ndarray or None
        ``cell_edge[r * n_requests + q]`` is the edge joining resource ``r`` and request
        ``q``; None when edge ``e`` is cell ``e`` (row-major order).
    """

    shape: tuple[int, int]
    cell_edge: np.ndarray | None


class Instance:
    r"""A tripartite graph of resources, requests and request groups.

    A *matching* chooses resource-group edges so that every request lies in at most one
    chosen group and the loads of the edges chosen at each resource sum to at most its
    capacity:

    .. math::

        \max \sum_e w_e x_e \quad\text{s.t.}\quad
        \sum_{e \ni q} x_e \le 1 \;\forall q,\qquad
        \sum_{e \ni r} l_e x_e \le c_r \;\forall r,\qquad x_e \in \{0, 1\}.

    Parameters
    ----------
    groups : sequence of sequences of int
        ``groups[g]`` lists the request ids of group ``g``. Groups must be non-empty and
        must not repeat a request.
    edges : sequence of tuples
        ``(resource, group, weight)``, optionally followed by ``load`` (default 1) and
        ``duration`` (for reusable resources; all edges or none).
    capacity : sequence of float, optional
        Capacity per resource. Defaults to 1 for every resource.
    n_requests : int, optional
        Number of requests, at most :data:`matching.MAX_REQUESTS` (``10**8``). Defaults
        to one more than the largest request id.
    n_resources : int, optional
        Number of resources when ``capacity`` is not given, at most
        :data:`matching.MAX_RESOURCES` (``10**8``). Defaults to one more than the
        largest resource id on an edge.

    Raises
    ------
    ValueError
        On an unknown request, group or resource id, a duplicate request inside a group,
        an empty group, a NaN or infinite weight, a negative capacity, load or duration,
        two edges joining the same resource and group, or more requests or resources
        than the maxima (checked against the ids in use, before anything of that size
        is allocated). The message names the field and the index.
    TypeError
        On a value that is not a number (a string, a bool, None) where a number is
        expected, or an id that is not an integer; nothing is converted silently.

    See Also
    --------
    Instance.from_arrays : array-based construction for large inputs.
    matching.solve : exact, relaxed and greedy solves.

    Examples
    --------
    >>> import matching
    >>> inst = matching.Instance(
    ...     groups=[[0, 1], [1], [2]],
    ...     edges=[(0, 0, 2.0), (0, 1, 1.0), (1, 2, 1.0)],
    ...     capacity=[1, 1],
    ... )
    >>> inst
    Instance(n_resources=2, n_requests=3, n_groups=3, n_edges=3)
    >>> inst.group(0)
    array([0, 1])
    >>> inst.edge_weight
    array([2., 1., 1.])
    """

    def __init__(
        self,
        groups: Sequence[Sequence[int]],
        edges: Sequence[EdgeTuple],
        capacity: Sequence[float] | np.ndarray | None = None,
        *,
        n_requests: int | None = None,
        n_resources: int | None = None,
    ) -> None:
        group_ptr, group_members = v.groups_to_csr(groups)
        columns = _edge_columns(edges)
        self._set_arrays(
            group_ptr=group_ptr,
            group_members=group_members,
            edge_resource=columns[0],
            edge_group=columns[1],
            edge_weight=columns[2],
            edge_load=columns[3],
            edge_duration=columns[4],
            capacity=capacity,
            n_requests=n_requests,
            n_resources=n_resources,
            check=True,
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        group_ptr: Any,
        group_members: Any,
        edge_resource: Any,
        edge_group: Any,
        edge_weight: Any,
        edge_load: Any = None,
        edge_duration: Any = None,
        capacity: Any = None,
        n_requests: int | None = None,
        n_resources: int | None = None,
        check_duplicates: bool = True,
    ) -> Instance:
        """Build an instance from flat arrays (the fast path for large inputs).

        Parameters
        ----------
        group_ptr, group_members : array_like of int
            CSR layout of the groups: the requests of group ``g`` are
            ``group_members[group_ptr[g]:group_ptr[g + 1]]``.
        edge_resource, edge_group : array_like of int
            Endpoints of each edge.
        edge_weight : array_like of float
            Value of serving the group on the resource.
        edge_load : array_like of float, optional
            Capacity used by each edge (default 1).
        edge_duration : array_like of float, optional
            Busy time of the resource after serving the edge (reusable resources).
        capacity : array_like of float, optional
            Capacity per resource (default 1).
        n_requests, n_resources : int, optional
            Sizes, inferred from the ids when not given; at most
            :data:`matching.MAX_REQUESTS` and :data:`matching.MAX_RESOURCES`.
        check_duplicates : bool, default True
            Reject two edges joining the same resource and group. Callers that build
            edges from a dense matrix may switch this sort-based check off.

        Returns
        -------
        Instance

        Examples
        --------
        >>> import numpy as np
        >>> import matching
        >>> inst = matching.Instance.from_arrays(
        ...     group_ptr=[0, 2, 3], group_members=[0, 1, 2],
        ...     edge_resource=[0, 1], edge_group=[0, 1], edge_weight=[3.0, 1.0],
        ...     edge_load=[2, 1], capacity=[2, 1])
        >>> inst.n_groups, inst.n_requests, inst.edge_load.tolist()
        (2, 3, [2.0, 1.0])
        """
        self = cls.__new__(cls)
        self._set_arrays(
            group_ptr=v.as_index_array(group_ptr, "group_ptr"),
            group_members=v.as_index_array(group_members, "group_members"),
            edge_resource=v.as_index_array(edge_resource, "edge_resource"),
            edge_group=v.as_index_array(edge_group, "edge_group"),
            edge_weight=edge_weight,
            edge_load=edge_load,
            edge_duration=edge_duration,
            capacity=capacity,
            n_requests=n_requests,
            n_resources=n_resources,
            check=v.check_bool(check_duplicates, "check_duplicates"),
        )
        return self

    @classmethod
    def bipartite(cls, weights: Any, *, capacity: Any = None) -> Instance:
        """Build a bipartite instance (singleton groups) from a weight matrix.

        Row ``r`` is resource ``r``, column ``q`` is request ``q`` and its singleton
        group ``q``. Every entry becomes an edge; a dense matrix with ``n * m`` entries
        gives ``n * m`` edges. A ``scipy.sparse`` matrix gives one edge per stored entry.

        Parameters
        ----------
        weights : array_like or scipy.sparse matrix, shape (n_resources, n_requests)
            Real numbers in a rectangular matrix (strings, bools and ragged rows are
            refused); at most :data:`matching.MAX_RESOURCES` rows and
            :data:`matching.MAX_REQUESTS` columns.
        capacity : array_like, optional
            Capacity per resource (default 1).

        Returns
        -------
        Instance

        Examples
        --------
        >>> import matching
        >>> inst = matching.Instance.bipartite([[4.0, 1.0], [2.0, 3.0]])
        >>> inst.n_edges, inst.is_bipartite
        (4, True)
        >>> float(matching.solve(inst).value)
        7.0
        """
        if sp.issparse(weights):
            n_res, n_req = weights.shape
            _check_counts(n_res, n_req)
            coo = sp.coo_array(weights)
            rows, cols = coo.row, coo.col
            vals = v.as_real_array(coo.data, "weights")
            check = True
        else:
            dense = v.as_real_array(weights, "weights", ndim=2)
            n_res, n_req = dense.shape
            _check_counts(n_res, n_req)
            rows = np.repeat(np.arange(n_res, dtype=np.int64), n_req)
            cols = np.tile(np.arange(n_req, dtype=np.int64), n_res)
            vals = dense.ravel()
            check = False  # every (row, column) pair appears exactly once
        inst = cls.from_arrays(
            group_ptr=np.arange(n_req + 1, dtype=np.int64),
            group_members=np.arange(n_req, dtype=np.int64),
            edge_resource=rows,
            edge_group=cols,
            edge_weight=vals,
            capacity=capacity,
            n_requests=n_req,
            n_resources=n_res,
            check_duplicates=check,
        )
        if not check and n_res * n_req > 0:
            # edge e is cell e of the row-major matrix: no need to detect it
            inst.__dict__["dense_layout"] = DenseLayout((n_res, n_req), None)
        return inst

    def _set_arrays(
        self,
        *,
        group_ptr: np.ndarray,
        group_members: np.ndarray,
        edge_resource: np.ndarray,
        edge_group: np.ndarray,
        edge_weight: Any,
        edge_load: Any,
        edge_duration: Any,
        capacity: Any,
        n_requests: int | None,
        n_resources: int | None,
        check: bool,
    ) -> None:
        n_edges = edge_resource.size
        weight = v.as_real_array(edge_weight, "edge_weight", n_edges)
        load = (
            np.ones(n_edges)
            if edge_load is None
            else v.as_real_array(edge_load, "edge_load", n_edges)
        )
        duration = (
            None
            if edge_duration is None
            else v.as_real_array(edge_duration, "edge_duration", n_edges)
        )
        used = int(group_members.max()) if group_members.size else -1
        if n_requests is None:
            if used >= v.MAX_REQUESTS:
                pos = int(np.argmax(group_members))
                g = int(np.searchsorted(group_ptr, pos, side="right")) - 1
                raise ValueError(
                    f"groups[{g}] names request id {used}, above the largest supported id "
                    f"{v.MAX_REQUESTS - 1} (an instance has at most {v.MAX_REQUESTS} requests)"
                )
            n_requests = used + 1
        n_requests = v.check_size(n_requests, "n_requests", v.MAX_REQUESTS, "requests", used)
        if capacity is None:
            used = int(edge_resource.max()) if n_edges else -1
            if n_resources is None:
                if used >= v.MAX_RESOURCES:
                    e = int(np.argmax(edge_resource))
                    raise ValueError(
                        f"edges[{e}] goes to resource {used}, above the largest supported id "
                        f"{v.MAX_RESOURCES - 1} (an instance has at most {v.MAX_RESOURCES} "
                        "resources)"
                    )
                n_resources = used + 1
            n_resources = v.check_size(
                n_resources, "n_resources", v.MAX_RESOURCES, "resources", used
            )
            cap = np.ones(n_resources)
        else:
            cap = v.as_real_array(capacity, "capacity")
            v.check_size(cap.size, "len(capacity)", v.MAX_RESOURCES, "resources")
            if n_resources is not None and (
                v.check_size(n_resources, "n_resources", v.MAX_RESOURCES, "resources") != cap.size
            ):
                raise ValueError(
                    f"n_resources={n_resources} disagrees with len(capacity)={cap.size}"
                )
        n_groups = group_ptr.size - 1
        v.check_groups(group_ptr, group_members, n_requests)
        v.check_capacity(cap)
        v.check_edges(
            edge_resource,
            edge_group,
            weight,
            load,
            duration,
            cap.size,
            n_groups,
            check_duplicates=check,
        )
        self._n_requests = n_requests
        self.capacity = _readonly(cap)
        self.group_ptr = _readonly(group_ptr)
        self.group_members = _readonly(group_members)
        self.edge_resource = _readonly(edge_resource)
        self.edge_group = _readonly(edge_group)
        self.edge_weight = _readonly(weight)
        self.edge_load = _readonly(load)
        self.edge_duration = None if duration is None else _readonly(duration)

    # ----------------------------------------------------------------- sizes
    @property
    def n_resources(self) -> int:
        """Number of resources."""
        return int(self.capacity.size)

    @property
    def n_requests(self) -> int:
        """Number of requests."""
        return self._n_requests

    @property
    def n_groups(self) -> int:
        """Number of request groups."""
        return int(self.group_ptr.size - 1)

    @property
    def n_edges(self) -> int:
        """Number of resource-group edges."""
        return int(self.edge_resource.size)

    def group(self, g: int) -> np.ndarray:
        """Return the request ids of group ``g``."""
        if not 0 <= g < self.n_groups:
            raise IndexError(f"group {g} out of range (n_groups={self.n_groups})")
        return self.group_members[self.group_ptr[g] : self.group_ptr[g + 1]]

    # ------------------------------------------------------- derived structure
    @cached_property
    def group_sizes(self) -> np.ndarray:
        """Number of requests in each group."""
        return _readonly(np.diff(self.group_ptr))

    @cached_property
    def membership(self) -> sp.csr_array:
        """Groups x requests 0/1 matrix (CSR)."""
        data = np.ones(self.group_members.size, dtype=np.float64)
        return sp.csr_array(
            (data, self.group_members, self.group_ptr), shape=(self.n_groups, self.n_requests)
        )

    @cached_property
    def edge_requests(self) -> sp.csr_array:
        """Edges x requests 0/1 matrix: row ``e`` marks the requests that edge ``e`` serves."""
        sizes = self.group_sizes[self.edge_group]
        ptr = np.zeros(self.n_edges + 1, dtype=np.int64)
        np.cumsum(sizes, out=ptr[1:])
        starts = self.group_ptr[self.edge_group]
        offsets = np.arange(ptr[-1], dtype=np.int64) - np.repeat(ptr[:-1], sizes)
        cols = self.group_members[np.repeat(starts, sizes) + offsets]
        data = np.ones(cols.size, dtype=np.float64)
        return sp.csr_array((data, cols, ptr), shape=(self.n_edges, self.n_requests))

    @cached_property
    def request_edges(self) -> sp.csr_array:
        """Requests x edges 0/1 matrix (CSR): row ``q`` marks the edges that serve ``q``."""
        return sp.csr_array(self.edge_requests.T)

    @cached_property
    def edge_fits(self) -> np.ndarray:
        """Boolean mask of the edges whose load is within their resource's capacity."""
        return _readonly(self.edge_load <= self.capacity[self.edge_resource])

    @cached_property
    def servable_edges(self) -> np.ndarray:
        """Edges that can be in an optimal matching: positive weight, load within capacity."""
        return _readonly(np.flatnonzero((self.edge_weight > 0) & self.edge_fits))

    @cached_property
    def group_edges(self) -> sp.csr_array:
        """Groups x edges 0/1 matrix (CSR): row ``g`` lists the edges of group ``g``, ascending."""
        order = np.argsort(self.edge_group, kind="stable")
        ptr = np.zeros(self.n_groups + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.edge_group, minlength=self.n_groups), out=ptr[1:])
        data = np.ones(self.n_edges)
        return sp.csr_array((data, order, ptr), shape=(self.n_groups, self.n_edges))

    @cached_property
    def resource_edges(self) -> sp.csr_array:
        """Resources x edges matrix of loads (CSR)."""
        return sp.csr_array(
            (self.edge_load, (self.edge_resource, np.arange(self.n_edges))),
            shape=(self.n_resources, self.n_edges),
        )

    @cached_property
    def is_bipartite(self) -> bool:
        """True when groups are singletons and all loads and capacities are 1.

        Then a matching is a bipartite matching of resources to requests and
        :func:`matching.solve` uses the assignment fast path.
        """
        return bool(
            (self.group_sizes == 1).all()
            and (self.edge_load == 1).all()
            and (self.capacity == 1).all()
        )

    @cached_property
    def dense_layout(self) -> DenseLayout | None:
        """How the edges fill a complete resources x requests grid, or None.

        Not None when every group is the single request of its own index (group ``g`` is
        request ``g``) and every (resource, request) pair is exactly one edge, in any
        order. Solvers then work on the weight matrix directly, however the instance was
        built. The check is a few vectorised passes over the edges.

        Examples
        --------
        >>> import matching
        >>> inst = matching.Instance.from_arrays(
        ...     group_ptr=[0, 1, 2], group_members=[0, 1], edge_resource=[0, 1, 0, 1],
        ...     edge_group=[0, 0, 1, 1], edge_weight=[1.0, 2.0, 3.0, 4.0])
        >>> layout = inst.dense_layout
        >>> layout.shape, layout.cell_edge.tolist()
        ((2, 2), [0, 2, 1, 3])
        >>> matching.Instance([[0], [1]], [(0, 0, 1.0)]).dense_layout is None
        True
        """
        n_res, n_req, n_edges = self.n_resources, self.n_requests, self.n_edges
        if n_edges == 0 or n_edges != n_res * n_req or self.n_groups != n_req:
            return None
        singles = np.arange(n_req, dtype=np.int64)
        if not (
            np.array_equal(self.group_members, singles)
            and np.array_equal(self.group_ptr[1:], singles + 1)
        ):
            return None
        grid_res = self.edge_resource.reshape(n_res, n_req)
        grid_req = self.edge_group.reshape(n_res, n_req)
        if (grid_req == singles).all() and (
            grid_res == np.arange(n_res, dtype=np.int64)[:, None]
        ).all():
            return DenseLayout((n_res, n_req), None)
        cells = self.edge_resource * np.int64(n_req) + self.edge_group
        cell_edge = np.full(n_edges, -1, dtype=np.int64)
        cell_edge[cells] = np.arange(n_edges, dtype=np.int64)
        if (cell_edge < 0).any():  # a pair repeated, so another one missing
            return None
        return DenseLayout((n_res, n_req), _readonly(cell_edge))

    def replace(self, **arrays: Any) -> Instance:
        """Return a copy with some arrays replaced (validated like a new instance).

        Accepts the keywords of :meth:`from_arrays`; the rest is taken from ``self``.

        Examples
        --------
        >>> import matching
        >>> inst = matching.Instance([[0], [1]], [(0, 0, 2.0), (0, 1, 3.0)])
        >>> inst.replace(edge_weight=[1.0, 1.0], edge_duration=[2.0, 5.0]).edge_duration
        array([2., 5.])
        """
        fields = {
            "group_ptr": self.group_ptr,
            "group_members": self.group_members,
            "edge_resource": self.edge_resource,
            "edge_group": self.edge_group,
            "edge_weight": self.edge_weight,
            "edge_load": self.edge_load,
            "edge_duration": self.edge_duration,
            "capacity": self.capacity,
            "n_requests": self.n_requests,
        }
        unknown = set(arrays) - set(fields)
        if unknown:
            raise TypeError(f"replace() got unknown field(s) {sorted(unknown)}")
        fields.update(arrays)
        return Instance.from_arrays(**fields)

    # ---------------------------------------------------------------- display
    def __repr__(self) -> str:
        return (
            f"Instance(n_resources={self.n_resources}, n_requests={self.n_requests}, "
            f"n_groups={self.n_groups}, n_edges={self.n_edges})"
        )

    def summary(self) -> str:
        """Return a short multi-line description of sizes and value ranges.

        Examples
        --------
        >>> import matching
        >>> print(matching.Instance([[0, 1], [1]], [(0, 0, 2.0), (0, 1, 1.0)]).summary())
        Instance with 1 resources, 2 requests, 2 groups, 2 edges
          group size      min 1, max 2, mean 1.5
          edge weight     min 1, max 2
          edge load       min 1, max 1
          capacity        min 1, max 1
          durations       none (single-use resources)
        """

        def rng(a: np.ndarray) -> str:
            return f"min {a.min():.6g}, max {a.max():.6g}" if a.size else "none"

        sizes = self.group_sizes
        size_text = (
            f"min {sizes.min()}, max {sizes.max()}, mean {sizes.mean():.3g}"
            if sizes.size
            else "none"
        )
        durations = (
            "none (single-use resources)"
            if self.edge_duration is None
            else rng(self.edge_duration)
        )
        return "\n".join(
            [
                f"Instance with {self.n_resources} resources, {self.n_requests} requests, "
                f"{self.n_groups} groups, {self.n_edges} edges",
                f"  group size      {size_text}",
                f"  edge weight     {rng(self.edge_weight)}",
                f"  edge load       {rng(self.edge_load)}",
                f"  capacity        {rng(self.capacity)}",
                f"  durations       {durations}",
            ]
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instance):
            return NotImplemented
        if self.n_requests != other.n_requests:
            return False
        if (self.edge_duration is None) != (other.edge_duration is None):
            return False
        pairs = [
            (self.capacity, other.capacity),
            (self.group_ptr, other.group_ptr),
            (self.group_members, other.group_members),
            (self.edge_resource, other.edge_resource),
            (self.edge_group, other.edge_group),
            (self.edge_weight, other.edge_weight),
            (self.edge_load, other.edge_load),
        ]
        if self.edge_duration is not None:
            pairs.append((self.edge_duration, other.edge_duration))
        return all(np.array_equal(a, b) for a, b in pairs)

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------ conversions
    def to_json(self, path: Any = None) -> str:
        """Serialize losslessly to JSON; write to ``path`` too when given.

        See :func:`matching.serialize.instance_to_json`.
        """
        from matching.serialize import instance_to_json

        return instance_to_json(self, path)

    @classmethod
    def from_json(cls, source: Any) -> Instance:
        """Read an instance written by :meth:`to_json` (JSON text or a file path).

        See :func:`matching.serialize.instance_from_json`.
        """
        from matching.serialize import instance_from_json

        return instance_from_json(source)

    def to_networkx(self) -> Any:
        """Return the tripartite graph as a :class:`networkx.Graph`.

        See :func:`matching.serialize.instance_to_networkx`.
        """
        from matching.serialize import instance_to_networkx

        return instance_to_networkx(self)

    @classmethod
    def from_networkx(cls, graph: Any) -> Instance:
        """Build an instance from a graph in the layout of :meth:`to_networkx`.

        See :func:`matching.serialize.instance_from_networkx`.
        """
        from matching.serialize import instance_from_networkx

        return instance_from_networkx(graph)


def _check_counts(n_resources: int, n_requests: int) -> None:
    """Check a weight matrix's shape against the maxima before allocating over it."""
    v.check_size(n_resources, "n_resources", v.MAX_RESOURCES, "resources")
    v.check_size(n_requests, "n_requests", v.MAX_REQUESTS, "requests")


def _edge_columns(
    edges: Sequence[EdgeTuple],
) -> tuple[np.ndarray, np.ndarray, list[Any], list[Any] | None, list[Any] | None]:
    """Split edge tuples into resource, group, weight, load and duration columns."""
    if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence | np.ndarray):
        raise TypeError(
            "edges must be a sequence of (resource, group, weight[, load[, duration]])"
        )
    widths = set()
    for e, edge in enumerate(edges):
        if isinstance(edge, (str, bytes)) or not isinstance(edge, Sequence | np.ndarray):
            raise TypeError(f"edges[{e}] must be a tuple (resource, group, weight[, ...])")
        if not 3 <= len(edge) <= 5:
            raise ValueError(
                f"edges[{e}] has {len(edge)} fields; expected (resource, group, weight"
                "[, load[, duration]])"
            )
        widths.add(len(edge))
    if 5 in widths and widths != {5}:
        raise ValueError("give a duration on every edge or on none")
    resource = v.as_index_array([edge[0] for edge in edges], "edge_resource")
    group = v.as_index_array([edge[1] for edge in edges], "edge_group")
    weight = [edge[2] for edge in edges]
    load = [edge[3] if len(edge) > 3 else 1.0 for edge in edges] if widths - {3} else None
    duration = [edge[4] for edge in edges] if widths == {5} else None
    return resource, group, weight, load, duration
