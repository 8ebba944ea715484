"""How much of a solve's time limit the back-end solver itself may use."""

from __future__ import annotations

import time

__all__ = ["READ_BACK_SECONDS_PER_VARIABLE", "solver_time_left"]

#: Time kept back per model variable for what follows the solver: reading its answer,
#: comparing it with the greedy incumbent and assembling the result (about 0.1 to
#: 0.25 s at 160,000 variables on the 2-core benchmark machine).
READ_BACK_SECONDS_PER_VARIABLE = 1.5e-6


def solver_time_left(time_limit: float, start: float, n_variables: int) -> float:
    """Seconds left for the solver of a call that began at ``start`` (``perf_counter``).

    The whole call keeps ``time_limit``: what building the model took is spent, and the
    read-back after the solver is reserved; the solver always gets at least 1 ms.

    Examples
    --------
    >>> import time
    >>> 0.5 < solver_time_left(1.0, time.perf_counter(), 100_000) < 0.85
    True
    """
    spent = time.perf_counter() - start
    return max(float(time_limit) - spent - READ_BACK_SECONDS_PER_VARIABLE * n_variables, 1e-3)
