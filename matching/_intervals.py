"""Peak load of half-open busy intervals per resource; exact capacity comparisons.

Loads and capacities are read as the decimals they print as (``repr``), the same
reading the CP-SAT path scales exactly: three loads of ``0.1`` fit a capacity of
``0.3``, and a load of ``1e12 + 0.01`` does not fit a capacity of ``1e12``. Float sums
only pick out the resources whose comparison is close; those are decided in exact
rational arithmetic (:func:`decimal_value`, :func:`overloaded`).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import numpy as np

__all__ = ["capacity_slack", "decimal_value", "overloaded", "peak_loads"]

_EPS = float(np.finfo(np.float64).eps)


@lru_cache(maxsize=4096)
def decimal_value(x: float) -> Fraction:
    """Return the exact value of the decimal that ``x`` prints as.

    Examples
    --------
    >>> decimal_value(0.1) == Fraction(1, 10), decimal_value(0.1) == Fraction(0.1)
    (True, False)
    """
    return Fraction(Decimal(repr(float(x))))


#: Relative slack on a capacity comparison: float noise of summing a few loads.
_CAPACITY_ULPS = 64 * np.finfo(np.float64).eps


def capacity_slack(capacity: np.ndarray | float) -> np.ndarray | float:
    """Absolute slack allowed when comparing summed loads with ``capacity``.

    Float noise only (64 ulps of the capacity, at least 64 ulps of 1): a load sum that
    exceeds the capacity by a genuine fraction, even at magnitudes near ``1e12``, is
    never hidden.

    Examples
    --------
    >>> float(capacity_slack(1.0)) < 1e-13, float(capacity_slack(1e12)) < 0.1
    (True, True)
    """
    return _CAPACITY_ULPS * np.maximum(1.0, np.abs(capacity))


def peak_loads(
    resource: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    load: np.ndarray,
    n_resources: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Largest total load each resource holds at any instant.

    Item ``i`` holds ``load[i]`` of ``resource[i]`` during ``[start[i], end[i])``
    (half-open: an item ending at ``t`` frees its load before one starting at ``t``
    takes it; ``end = inf`` holds for ever). Items with ``end <= start`` hold nothing.

    Returns
    -------
    peak : ndarray of float, shape (n_resources,)
        Maximum held load per resource (0 where nothing is held).
    when : ndarray of float, shape (n_resources,)
        An instant at which the peak is reached (NaN where nothing is held).

    Examples
    --------
    >>> import numpy as np
    >>> peak, when = peak_loads(np.array([0, 0, 0]), np.array([0.0, 1.0, 2.0]),
    ...                         np.array([2.0, 3.0, 4.0]), np.ones(3), 1)
    >>> peak.tolist(), when.tolist()
    ([2.0], [1.0])
    """
    resource = np.asarray(resource, dtype=np.int64)
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    load = np.asarray(load, dtype=np.float64)
    live = end > start
    resource, start, end, load = resource[live], start[live], end[live], load[live]
    peak = np.zeros(n_resources)
    when = np.full(n_resources, np.nan)
    if resource.size == 0:
        return peak, when
    res = np.concatenate([resource, resource])
    times = np.concatenate([start, end])
    delta = np.concatenate([load, -load])
    is_start = np.concatenate([np.ones(start.size, np.int8), np.zeros(end.size, np.int8)])
    order = np.lexsort((is_start, times, res))  # by resource, time, ends before starts
    res, times, delta = res[order], times[order], delta[order]
    first = np.flatnonzero(np.concatenate([[True], res[1:] != res[:-1]]))
    segment = np.repeat(np.arange(first.size), np.diff(np.append(first, res.size)))
    running = np.cumsum(delta)
    before = np.concatenate([[0.0], running])[first]  # running total when a segment starts
    held = running - before[segment]
    seg_peak = np.maximum.reduceat(held, first)
    owners = res[first]
    peak[owners] = np.maximum(seg_peak, 0.0)
    # first event of each segment reaching its peak
    at_peak = held >= seg_peak[segment]
    hit = np.flatnonzero(at_peak)
    first_hit = hit[np.searchsorted(hit, first)]
    when[owners] = times[first_hit]
    return peak, when


def overloaded(
    resource: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    load: np.ndarray,
    capacity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resources whose held load exceeds their capacity at some instant, decided exactly.

    Intervals as in :func:`peak_loads`. The float sweep decides every resource whose
    peak is clearly below or above its capacity (by more than the sweep's error bound);
    the others are swept again in exact rational arithmetic on the decimal values.

    Returns
    -------
    over : ndarray of int
        The overloaded resources, ascending.
    peak, when : ndarray of float
        As :func:`peak_loads` (for messages).

    Examples
    --------
    >>> import numpy as np
    >>> over, peak, when = overloaded(np.zeros(3, int), np.zeros(3), np.full(3, np.inf),
    ...                               np.full(3, 0.1), np.array([0.3]))
    >>> over.tolist(), float(peak[0]) > 0.3  # three loads of 0.1 fit 0.3 exactly
    ([], True)
    """
    resource = np.asarray(resource, dtype=np.int64)
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    load = np.asarray(load, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.float64)
    peak, when = peak_loads(resource, start, end, load, capacity.size)
    total = float(np.abs(load).sum())
    if total < 2.0**53 and _whole(load) and _whole(capacity):
        return np.flatnonzero(peak > capacity).astype(np.int64), peak, when  # exact sums
    # the cumulative sweep's error, plus the gap between each float and its decimal
    error = (4 * resource.size + 8) * _EPS * (2.0 * total + np.abs(capacity))
    clearly = peak > capacity + error
    close = np.flatnonzero(~clearly & (peak >= capacity - error))
    exact_over = []
    if close.size:
        live = np.flatnonzero(np.isin(resource, close) & (end > start))
        order = live[np.argsort(resource[live], kind="stable")]
        bounds = np.searchsorted(resource[order], close, side="left")
        stops = np.searchsorted(resource[order], close, side="right")
        for r, a, b in zip(close.tolist(), bounds.tolist(), stops.tolist(), strict=True):
            mine = order[a:b]
            if _exact_peak_exceeds(start[mine], end[mine], load[mine], capacity[r]):
                exact_over.append(r)
    over = np.union1d(np.flatnonzero(clearly), np.asarray(exact_over, dtype=np.int64))
    return over.astype(np.int64), peak, when


def _whole(values: np.ndarray) -> bool:
    return bool(np.equal(values, np.trunc(values)).all())


def _exact_peak_exceeds(
    start: np.ndarray, end: np.ndarray, load: np.ndarray, capacity: float
) -> bool:
    """Sweep one resource's intervals in exact arithmetic on the decimal values."""
    events = [(float(a), 1, decimal_value(float(x))) for a, x in zip(start, load, strict=True)]
    events += [(float(b), 0, -decimal_value(float(x))) for b, x in zip(end, load, strict=True)]
    events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    limit = decimal_value(capacity)
    held = Fraction(0)
    for _, _, change in events:
        held += change
        if held > limit:
            return True
    return False
