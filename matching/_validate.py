"""Input checks for :class:`matching.Instance`, kept apart from the algorithms.

Every function raises :class:`ValueError` or :class:`TypeError` with a message that
names the offending field and index, and does so before any solver sees the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "as_index_array",
    "as_real_array",
    "check_capacity",
    "check_edges",
    "check_groups",
]


def as_index_array(values: object, field: str) -> np.ndarray:
    """Return ``values`` as a 1-D ``int64`` array, rejecting non-integers by name."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{field} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "b":
        raise TypeError(f"{field} must hold integer ids, got booleans")
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        whole = finite & (arr == np.round(np.where(finite, arr, 0.0)))
        if not whole.all():
            bad = int(np.flatnonzero(~whole)[0])
            raise TypeError(f"{field}[{bad}] = {arr[bad].item()!r} is not an integer id")
        return arr.astype(np.int64)
    raise TypeError(f"{field} must hold integer ids, got dtype {arr.dtype}")


def as_real_array(values: object, field: str, size: int) -> np.ndarray:
    """Return ``values`` as a 1-D ``float64`` array of length ``size``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{field} must hold real numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{field} must be one-dimensional, got shape {arr.shape}")
    if arr.size != size:
        raise ValueError(f"{field} has {arr.size} entries, expected {size}")
    return arr


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_groups(group_ptr: np.ndarray, group_members: np.ndarray, n_requests: int) -> None:
    """Check the CSR group membership: non-empty groups, known and distinct requests."""
    if group_ptr.size == 0 or group_ptr[0] != 0:
        raise ValueError("group_ptr must start at 0")
    sizes = np.diff(group_ptr)
    if (sizes < 0).any():
        raise ValueError(f"group_ptr must be non-decreasing (at group {_first(sizes < 0)})")
    if group_ptr[-1] != group_members.size:
        raise ValueError(
            f"group_ptr ends at {int(group_ptr[-1])} but group_members has "
            f"{group_members.size} entries"
        )
    if (sizes == 0).any():
        raise ValueError(f"groups[{_first(sizes == 0)}] is empty; every group needs a request")
    group_of = np.repeat(np.arange(sizes.size), sizes)
    unknown = (group_members < 0) | (group_members >= n_requests)
    if unknown.any():
        pos = _first(unknown)
        raise ValueError(
            f"groups[{group_of[pos]}] names unknown request id {int(group_members[pos])} "
            f"(n_requests={n_requests})"
        )
    if group_members.size:
        order = np.lexsort((group_members, group_of))
        same = (np.diff(group_of[order]) == 0) & (np.diff(group_members[order]) == 0)
        if same.any():
            pos = order[_first(same)]
            raise ValueError(
                f"groups[{group_of[pos]}] contains request {int(group_members[pos])} twice"
            )


def check_capacity(capacity: np.ndarray) -> None:
    """Check that every capacity is finite and non-negative."""
    bad = ~np.isfinite(capacity) | (capacity < 0)
    if bad.any():
        r = _first(bad)
        raise ValueError(f"capacity[{r}] = {float(capacity[r])} must be finite and non-negative")


def check_edges(
    edge_resource: np.ndarray,
    edge_group: np.ndarray,
    edge_weight: np.ndarray,
    edge_load: np.ndarray,
    edge_duration: np.ndarray | None,
    n_resources: int,
    n_groups: int,
    *,
    check_duplicates: bool = True,
) -> None:
    """Check edge endpoints, weights, loads, durations and (optionally) duplicates."""
    if edge_group.size != edge_resource.size:
        raise ValueError(
            f"edge_group has {edge_group.size} entries but edge_resource has {edge_resource.size}"
        )
    bad = (edge_resource < 0) | (edge_resource >= n_resources)
    if bad.any():
        e = _first(bad)
        raise ValueError(
            f"edges[{e}] goes to resource {int(edge_resource[e])}, which does not exist "
            f"(n_resources={n_resources})"
        )
    bad = (edge_group < 0) | (edge_group >= n_groups)
    if bad.any():
        e = _first(bad)
        raise ValueError(
            f"edges[{e}] names unknown group id {int(edge_group[e])} (n_groups={n_groups})"
        )
    bad = ~np.isfinite(edge_weight)
    if bad.any():
        e = _first(bad)
        raise ValueError(f"edges[{e}] has weight {float(edge_weight[e])}; weights must be finite")
    bad = ~np.isfinite(edge_load) | (edge_load < 0)
    if bad.any():
        e = _first(bad)
        raise ValueError(
            f"edges[{e}] has load {float(edge_load[e])}; loads must be finite and non-negative"
        )
    if edge_duration is not None:
        bad = ~np.isfinite(edge_duration) | (edge_duration < 0)
        if bad.any():
            e = _first(bad)
            raise ValueError(
                f"edges[{e}] has duration {float(edge_duration[e])}; durations must be finite "
                "and non-negative"
            )
    if check_duplicates and edge_resource.size > 1:
        key = edge_resource * np.int64(max(n_groups, 1)) + edge_group
        order = np.argsort(key, kind="stable")
        dup = np.diff(key[order]) == 0
        if dup.any():
            i = _first(dup)
            first, second = int(order[i]), int(order[i + 1])
            raise ValueError(
                f"edges[{second}] repeats edges[{first}] (resource "
                f"{int(edge_resource[first])}, group {int(edge_group[first])}); "
                "give each resource-group pair one edge"
            )


def groups_to_csr(groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a list of request-id lists into CSR ``(group_ptr, group_members)``."""
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence | np.ndarray):
        raise TypeError("groups must be a sequence of request-id sequences")
    sizes = np.empty(len(groups), dtype=np.int64)
    flat: list[int] = []
    for g, members in enumerate(groups):
        if isinstance(members, (str, bytes)) or np.ndim(members) != 1:
            raise TypeError(f"groups[{g}] must be a sequence of request ids")
        ids = as_index_array(members, f"groups[{g}]")
        sizes[g] = ids.size
        flat.extend(ids.tolist())
    ptr = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    return ptr, np.asarray(flat, dtype=np.int64)
