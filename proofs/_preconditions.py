"""Named preconditions on instances, shared by the certificates that need them."""

from __future__ import annotations

import numpy as np

from matching.model import Instance

__all__ = ["integer_durations_problem", "unit_data_problem"]

_UNIT_FIELDS = {
    "weights": ("edge_weight", "edge", "weight"),
    "loads": ("edge_load", "edge", "load"),
    "capacities": ("capacity", "resource", "capacity"),
}


def unit_data_problem(instance: Instance, *fields: str) -> str | None:
    """Name the first of ``fields`` (weights, loads, capacities) that is not all ones.

    Examples
    --------
    >>> import matching
    >>> inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 2.5)])
    >>> unit_data_problem(inst, "loads", "capacities") is None
    True
    >>> unit_data_problem(inst, "weights")
    "precondition 'unit weights' fails: edge 1 has weight 2.5"
    """
    for name in fields:
        attribute, item, what = _UNIT_FIELDS[name]
        values = getattr(instance, attribute)
        bad = np.flatnonzero(values != 1)
        if bad.size:
            i = int(bad[0])
            return f"precondition 'unit {name}' fails: {item} {i} has {what} {values[i]:g}"
    return None


def integer_durations_problem(instance: Instance) -> str | None:
    """Name the first edge whose duration is not a whole number of steps ``>= 1``.

    Examples
    --------
    >>> import matching
    >>> inst = matching.Instance([[0]], [(0, 0, 1.0, 1, 1.5)])
    >>> integer_durations_problem(inst)
    "precondition 'integer durations >= 1' fails: edge 0 has duration 1.5"
    """
    name = "precondition 'integer durations >= 1' fails"
    duration = instance.edge_duration
    if duration is None:
        return f"{name}: the instance has no durations (single-use resources)"
    bad = np.flatnonzero((duration < 1) | (duration != np.round(duration)))
    if bad.size:
        return f"{name}: edge {int(bad[0])} has duration {duration[bad[0]]:g}"
    return None
