"""Input checks, kept apart from the algorithms.

Every function raises :class:`ValueError` or :class:`TypeError` with a message that
names the offending field, index and value, and does so before any solver sees the data.
Nothing is coerced silently: strings, booleans and ``None`` are not numbers here, a
fractional float is not an id, and sizes are checked against the documented maxima
below before anything of that size is allocated.
"""

from __future__ import annotations

import decimal
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "INT32_MAX",
    "MAX_ABS_WEIGHT",
    "MAX_REQUESTS",
    "MAX_RESOURCES",
    "MAX_TIME_LIMIT",
    "MIN_ABS_WEIGHT",
    "OBJECTIVES",
    "as_index_array",
    "as_real_array",
    "check_bool",
    "check_capacity",
    "check_edges",
    "check_groups",
    "check_int",
    "check_real",
    "check_size",
    "check_solve_arguments",
    "check_time_limit",
    "check_type",
    "check_weight_range",
    "groups_to_csr",
    "is_real",
]

#: Most requests an instance may have (request ids are ``0 .. MAX_REQUESTS - 1``).
#: Solvers allocate arrays over all requests, so a larger count -- almost always a
#: mistaken id or size -- is refused before anything of that size is allocated.
MAX_REQUESTS = 10**8

#: Most resources an instance may have (resource ids are ``0 .. MAX_RESOURCES - 1``).
MAX_RESOURCES = 10**8

#: Longest time limit :func:`matching.solve` accepts, in seconds (about 116 days);
#: ``None`` means no limit.
MAX_TIME_LIMIT = 1e7

#: Smallest magnitude of a non-zero edge weight :func:`matching.solve` accepts. Weights
#: from ``MIN_ABS_WEIGHT`` to :data:`MAX_ABS_WEIGHT` (and zero) scale by one power of two
#: into ``[2**-666, 1)`` without rounding, so every back end sees the instance exactly.
MIN_ABS_WEIGHT = 1e-100

#: Largest magnitude of an edge weight :func:`matching.solve` accepts.
MAX_ABS_WEIGHT = 1e100

#: Objective senses of :func:`matching.solve`.
OBJECTIVES = ("max", "min")

#: Largest seed and thread count the solver back ends take (32-bit parameters).
INT32_MAX = 2**31 - 1

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# ------------------------------------------------------------------------ scalars
def is_real(value: object) -> bool:
    """Whether ``value`` is a real number; booleans, strings and None are not.

    Examples
    --------
    >>> is_real(2), is_real(0.5), is_real(True), is_real("1")
    (True, True, False, False)
    """
    return isinstance(value, numbers.Real | decimal.Decimal) and not isinstance(
        value, bool | np.bool_
    )


def check_type(value: object, kind: type | tuple[type, ...], field: str, what: str) -> None:
    """Raise a TypeError naming ``field`` unless ``value`` is a ``kind`` (``what`` words it).

    Examples
    --------
    >>> check_type(None, int, "instance", "a matching.Instance")
    Traceback (most recent call last):
    ...
    TypeError: instance must be a matching.Instance, got NoneType
    """
    if not isinstance(value, kind):
        raise TypeError(f"{field} must be {what}, got {type(value).__name__}")


def check_int(
    value: object, field: str, *, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as an int within ``[low, high]``; bools and floats are refused.

    Examples
    --------
    >>> check_int(3, "n", low=1)
    3
    >>> check_int(2.5, "n")
    Traceback (most recent call last):
    ...
    TypeError: n must be an int, got 2.5
    >>> check_int(0, "k", low=1)
    Traceback (most recent call last):
    ...
    ValueError: k must be at least 1, got 0
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{field} must be an int, got {value!r}")
    number = int(value)
    if low is not None and number < low:
        raise ValueError(f"{field} must be at least {low}, got {number}")
    if high is not None and number > high:
        raise ValueError(f"{field} must be at most {high}, got {number}")
    return number


def check_real(
    value: object,
    field: str,
    *,
    low: float | None = None,
    high: float | None = None,
    positive: bool = False,
) -> float:
    """Return ``value`` as a finite float in ``[low, high]`` (and ``> 0`` if ``positive``).

    Examples
    --------
    >>> check_real(0.5, "density", positive=True, high=1)
    0.5
    >>> check_real("0.3", "gamma")
    Traceback (most recent call last):
    ...
    TypeError: gamma must be a number, got '0.3'
    """
    if not is_real(value):
        raise TypeError(f"{field} must be a number, got {value!r}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {value!r}")
    if positive and not number > 0:
        raise ValueError(f"{field} must be a positive number, got {value!r}")
    if low is not None and number < low:
        raise ValueError(f"{field} must be at least {low:g}, got {value!r}")
    if high is not None and number > high:
        raise ValueError(f"{field} must be at most {high:g}, got {value!r}")
    return number


def check_bool(value: object, field: str) -> bool:
    """Return ``value`` as a bool: only ``True`` and ``False`` (or numpy's) are accepted.

    Examples
    --------
    >>> check_bool("no", "hint")
    Traceback (most recent call last):
    ...
    TypeError: hint must be a bool, got 'no'
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{field} must be a bool, got {value!r}")
    return bool(value)


def check_time_limit(value: object, field: str = "time_limit") -> float | None:
    """Return a time limit in seconds: None (no limit) or a number in ``(0, MAX_TIME_LIMIT]``.

    Examples
    --------
    >>> check_time_limit(1e15)
    Traceback (most recent call last):
    ...
    ValueError: time_limit must be at most 10000000 seconds (about 116 days; None for no limit), got 1e+15
    """  # noqa: E501
    if value is None:
        return None
    if not is_real(value):
        raise TypeError(f"{field} must be a number of seconds, got {value!r}")
    seconds = float(value)  # type: ignore[arg-type]
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{field} must be a positive number of seconds, got {value!r}")
    if seconds > MAX_TIME_LIMIT:
        raise ValueError(
            f"{field} must be at most {int(MAX_TIME_LIMIT)} seconds (about 116 days; None "
            f"for no limit), got {value!r}"
        )
    return seconds


def check_size(value: object, field: str, maximum: int, noun: str, used: int = -1) -> int:
    """Return a count in ``0 .. maximum``; the message names the largest id in use.

    Examples
    --------
    >>> check_size(10**12, "n_requests", 10**8, "requests", used=2)
    Traceback (most recent call last):
    ...
    ValueError: n_requests=1000000000000 exceeds the maximum: an instance has at most 100000000 requests (the largest id in use is 2)
    """  # noqa: E501
    count = check_int(value, field, low=0)
    if count > maximum:
        hint = f" (the largest id in use is {used})" if used >= 0 else ""
        raise ValueError(
            f"{field}={count} exceeds the maximum: an instance has at most {maximum} {noun}{hint}"
        )
    return count


# ------------------------------------------------------------------------- arrays
def _not_a_number(field: str, index: tuple[int, ...], value: object) -> TypeError:
    where = f"{field}[{', '.join(str(int(i)) for i in index)}]"
    return TypeError(f"{where} = {value!r} is a {type(value).__name__}, not a number")


def _has_bool(values: object, depth: int) -> bool:
    """Whether a nested Python list holds a bool ``depth`` levels down (fast, in C)."""
    if depth == 1:
        return not {bool, np.bool_}.isdisjoint(map(type, values))  # type: ignore[arg-type]
    return any(_has_bool(row, depth - 1) for row in values)  # type: ignore[attr-defined]


def _entries(values: object, depth: int) -> Iterator[tuple[tuple[int, ...], object]]:
    """Yield ``(index, entry)`` of a nested Python list or tuple, ``depth`` levels down."""
    if depth == 0:
        yield (), values
    elif isinstance(values, list | tuple):
        for i, item in enumerate(values):
            for index, entry in _entries(item, depth - 1):
                yield (i, *index), entry


def _ragged(values: object, field: str) -> ValueError:
    """Name the first row of a nested list whose length differs from row 0's."""
    if isinstance(values, list | tuple) and values:
        lengths = [
            len(row) if isinstance(row, Sequence) and not isinstance(row, str) else 0
            for row in values
        ]
        for i, n in enumerate(lengths):
            if n != lengths[0]:
                return ValueError(
                    f"{field} must be a rectangular matrix: row {i} has {n} entries, "
                    f"row 0 has {lengths[0]}"
                )
    return ValueError(f"{field} must be a rectangular array of numbers")


def as_real_array(
    values: object, field: str, size: int | None = None, *, ndim: int = 1
) -> np.ndarray:
    """Return ``values`` as a ``float64`` array of ``ndim`` dimensions (and ``size`` entries).

    Strings, booleans, ``None`` and other non-numbers are refused with their index, also
    when mixed into a list of numbers, where numpy would convert them silently.

    Examples
    --------
    >>> as_real_array([1, 2.5], "edge_weight")
    array([1. , 2.5])
    >>> as_real_array([1.0, True], "edge_weight")
    Traceback (most recent call last):
    ...
    TypeError: edge_weight[1] = True is a bool, not a number
    """
    try:
        arr = np.asarray(values)
    except ValueError:  # a ragged nested list
        raise _ragged(values, field) from None
    if arr.ndim != ndim:
        shape = "one-dimensional" if ndim == 1 else f"a {ndim}-D matrix"
        raise ValueError(f"{field} must be {shape}, got shape {arr.shape}")
    if arr.dtype.kind in "iuf":
        if isinstance(values, list | tuple) and _has_bool(values, ndim):
            for index, entry in _entries(values, ndim):
                if isinstance(entry, bool | np.bool_):  # numpy took it for 0 or 1
                    raise _not_a_number(field, index, entry)
        out = arr.astype(np.float64)
    elif arr.size == 0:
        out = np.zeros(arr.shape, dtype=np.float64)
    elif arr.dtype.kind == "O":
        flat = arr.ravel().tolist()
        for i, entry in enumerate(flat):
            if not is_real(entry):
                raise _not_a_number(field, np.unravel_index(i, arr.shape), entry)
        out = np.array([float(x) for x in flat], dtype=np.float64).reshape(arr.shape)
    else:  # booleans, strings, bytes, complex, dates: the first entry is already wrong
        raise _not_a_number(field, (0,) * ndim, arr.ravel()[0].item())
    if size is not None and out.size != size:
        raise ValueError(f"{field} has {out.size} entries, expected {size}")
    return out


def as_index_array(values: object, field: str) -> np.ndarray:
    """Return ``values`` as a 1-D ``int64`` array, rejecting non-integers by name.

    Whole floats are taken as ids; fractional floats, booleans, strings and ids that do
    not fit a signed 64-bit integer are refused with their index.

    Examples
    --------
    >>> as_index_array([0.7, 1.2], "order")
    Traceback (most recent call last):
    ...
    TypeError: order[0] = 0.7 is not an integer id
    """
    try:
        arr = np.asarray(values)
    except ValueError:
        raise ValueError(f"{field} must be a one-dimensional list of integer ids") from None
    if arr.ndim != 1:
        raise ValueError(f"{field} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "b":
        raise TypeError(f"{field} must hold integer ids, got booleans")
    if arr.dtype.kind in "iufO" and isinstance(values, list | tuple) and _has_bool(values, 1):
        for i, entry in enumerate(values):
            if isinstance(entry, bool | np.bool_):  # numpy took it for 0 or 1
                raise TypeError(f"{field}[{i}] = {entry!r} is a bool, not an integer id")
    if arr.dtype.kind in "uO":  # ids at or above 2**63, or mixed Python objects
        entries = arr.tolist()
        for i, entry in enumerate(entries):
            whole = isinstance(entry, int) or (is_real(entry) and entry == math.floor(entry))
            if isinstance(entry, bool) or not whole:
                raise TypeError(f"{field}[{i}] = {entry!r} is not an integer id")
            if not _INT64_MIN <= int(entry) <= _INT64_MAX:
                raise ValueError(
                    f"{field}[{i}] = {entry} is too large for an id (ids are below 2**63)"
                )
        return np.array([int(x) for x in entries], dtype=np.int64)
    if arr.dtype.kind == "i":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        whole = finite & (arr == np.round(np.where(finite, arr, 0.0)))
        if not whole.all():
            bad = int(np.flatnonzero(~whole)[0])
            raise TypeError(f"{field}[{bad}] = {arr[bad].item()!r} is not an integer id")
        big = np.abs(arr) >= 2.0**63
        if big.any():
            bad = int(np.flatnonzero(big)[0])
            raise ValueError(
                f"{field}[{bad}] = {arr[bad].item()!r} is too large for an id (ids are "
                "below 2**63)"
            )
        return arr.astype(np.int64)
    raise TypeError(f"{field} must hold integer ids, got dtype {arr.dtype}")


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


# ---------------------------------------------------------------- solve arguments
def check_weight_range(weights: np.ndarray) -> None:
    """Refuse a weight outside ``MIN_ABS_WEIGHT <= |w| <= MAX_ABS_WEIGHT`` (zero is allowed).

    Examples
    --------
    >>> check_weight_range(np.array([0.0, -2.5, 1e99]))
    >>> check_weight_range(np.array([1.0, 1e-200]))
    Traceback (most recent call last):
    ...
    ValueError: edge 1 has weight 1e-200, outside the supported range 1e-100 <= |weight| <= 1e+100 (or 0); rescale the weights
    """  # noqa: E501
    magnitude = np.abs(np.asarray(weights, dtype=np.float64))
    bad = (magnitude > MAX_ABS_WEIGHT) | ((magnitude < MIN_ABS_WEIGHT) & (magnitude > 0))
    if bad.any():
        e = _first(bad)
        raise ValueError(
            f"edge {e} has weight {weights[e].item()!r}, outside the supported range "
            f"{MIN_ABS_WEIGHT:g} <= |weight| <= {MAX_ABS_WEIGHT:g} (or 0); rescale the weights"
        )


def check_solve_arguments(
    instance: object,
    method: object,
    *,
    time_limit: object,
    seed: object,
    threads: object,
    log: object,
    options: Mapping[str, Any],
    methods: Mapping[str, set[str]],
    objective: object = "max",
    serve_all: object = False,
) -> None:
    """Check the arguments of :func:`matching.solve` before any solver runs.

    ``methods`` maps each method to the options it takes. Seeds and thread counts are
    32-bit parameters of the back ends (``0 <= seed <= INT32_MAX``,
    ``1 <= threads <= INT32_MAX``); the time limit is at most :data:`MAX_TIME_LIMIT`;
    ``objective`` is one of :data:`OBJECTIVES`, ``serve_all`` a bool that ``"greedy"``
    refuses; every weight lies in the range of :func:`check_weight_range`.
    """
    from matching._greedy import GREEDY_KEYS
    from matching._mathopt import LP_SOLVERS, MIP_SOLVERS
    from matching.model import Instance

    check_type(instance, Instance, "instance", "a matching.Instance")
    if not isinstance(method, str) or method not in methods:
        raise ValueError(f"unknown method {method!r}; choose one of {tuple(methods)}")
    check_time_limit(time_limit)
    check_int(seed, "seed", low=0, high=INT32_MAX)
    if threads is not None:
        check_int(threads, "threads", low=1, high=INT32_MAX)
    check_bool(log, "log")
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if check_bool(serve_all, "serve_all") and method == "greedy":
        raise ValueError(
            "method 'greedy' cannot take serve_all=True: it scans edges once and cannot "
            "guarantee that every request is served; use 'cpsat' or 'mip'"
        )
    check_weight_range(instance.edge_weight)  # type: ignore[attr-defined]
    unknown = set(options) - methods[method]
    if unknown:
        allowed = sorted(methods[method]) or "none"
        raise TypeError(
            f"method {method!r} takes no option(s) {sorted(unknown)}; its options: {allowed}"
        )
    if "hint" in options:
        check_bool(options["hint"], "hint")
    if method == "greedy" and options.get("key", "weight") not in GREEDY_KEYS:
        raise ValueError(f"greedy key must be one of {GREEDY_KEYS}, got {options['key']!r}")
    if method in ("mip", "lp"):
        table = LP_SOLVERS if method == "lp" else MIP_SOLVERS
        default = "glop" if method == "lp" else "highs"
        solver = options.get("solver", default)
        if not isinstance(solver, str) or solver not in table:
            raise ValueError(f"unknown {method} solver {solver!r}; choose one of {sorted(table)}")
    if method == "bipartite" and not instance.is_bipartite:  # type: ignore[attr-defined]
        raise ValueError(
            "method 'bipartite' needs singleton groups and unit loads and capacities; "
            "use 'cpsat' or 'auto'"
        )
