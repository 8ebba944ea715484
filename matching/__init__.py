"""groupmatch's matching primitives: a tripartite instance and its solvers.

Resources with capacities serve request groups; every request lies in at most one
chosen group. The package knows nothing of rides or GPUs: the applications in
:mod:`scheduling` build :class:`Instance` objects and call :func:`solve`.

Examples
--------
>>> import matching
>>> inst = matching.Instance(
...     groups=[[0, 1], [1], [2]],
...     edges=[(0, 0, 2.0), (0, 1, 1.0), (1, 2, 1.0)],
...     capacity=[1, 1],
... )
>>> matching.solve(inst).value
3.0
"""

from matching._validate import (
    MAX_ABS_WEIGHT,
    MAX_REQUESTS,
    MAX_RESOURCES,
    MAX_TIME_LIMIT,
    MIN_ABS_WEIGHT,
    OBJECTIVES,
)
from matching.model import Instance
from matching.offline import METHODS, solve
from matching.result import InfeasibleMatchingError, MatchingResult, Status

__all__ = [
    "MAX_ABS_WEIGHT",
    "MAX_REQUESTS",
    "MAX_RESOURCES",
    "MAX_TIME_LIMIT",
    "METHODS",
    "MIN_ABS_WEIGHT",
    "OBJECTIVES",
    "InfeasibleMatchingError",
    "Instance",
    "MatchingResult",
    "Status",
    "solve",
]
