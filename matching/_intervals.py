"""Peak load of half-open busy intervals per resource, and the capacity slack."""

from __future__ import annotations

import numpy as np

__all__ = ["capacity_slack", "peak_loads"]

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
