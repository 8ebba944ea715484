"""The hindsight optimum (and LP bound) of a realised online sequence: one per input.

OPT is defined once per realised input, the same for every policy: the best total
weight of a matching of exactly the realised groups in which every chosen group is
served *at its arrival*. With single-use resources this is :func:`matching.solve`'s
best exact path on the realised instance (``"auto"``: the bipartite fast path when it
applies, CP-SAT otherwise). With reusable resources it is the *time-expanded* integer
program: an edge of a group arriving at ``a_e`` holds ``l_e`` of its resource during
``[a_e, a_e + d_e)``, and at every start the loads held at a resource must fit its
capacity (checking the starts is enough: the held load only rises at a start).

A policy that waits pays for it: the streaming matcher charges a group decided at
``b >= a`` over ``[a, b + d)``, which contains ``[a, a + d)``, so every policy's
accepted edges form a feasible solution of this program and ``ALG <= OPT`` holds for
every policy, per-arrival and batched alike.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.sparse as sp

from matching._cpsat import solve_cpsat
from matching._mathopt import solve_mathopt
from matching.arrivals import ArrivalSequence
from matching.offline import solve
from matching.result import MatchingResult, Status, integral_result

__all__ = ["edge_start_times", "offline_lp", "offline_optimum", "time_expanded_rows"]


def edge_start_times(sequence: ArrivalSequence, start: np.ndarray | None = None) -> np.ndarray:
    """Start time of every edge: its group's arrival (or the given per-arrival times)."""
    start = sequence.times if start is None else np.asarray(start, dtype=np.float64)
    if start.shape != sequence.times.shape:
        raise ValueError("start needs one time per arrival")
    at_group = np.full(sequence.instance.n_groups, np.inf)
    at_group[sequence.order] = start
    return at_group[sequence.instance.edge_group]


def time_expanded_rows(
    sequence: ArrivalSequence, start: np.ndarray | None = None
) -> tuple[sp.csr_array, np.ndarray]:
    """Capacity rows ``(rows x edges loads, capacities)`` of the time-expanded program.

    One row per edge ``e``: the edges ``f`` at the same resource with
    ``s_f <= s_e < s_f + d_f``.

    Examples
    --------
    >>> import matching
    >>> from matching.arrivals import adversarial_order
    >>> from matching.hindsight import time_expanded_rows
    >>> inst = matching.Instance([[0], [1], [2]], [(0, 0, 1.0, 1, 2.0), (0, 1, 1.0, 1, 2.0),
    ...                                            (0, 2, 1.0, 1, 2.0)])
    >>> rows, cap = time_expanded_rows(adversarial_order(inst, reusable=True))
    >>> rows.toarray().tolist()  # edge 1 (t=1) overlaps edge 0; edge 2 (t=2) only edge 1
    [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    """
    inst = sequence.instance
    if inst.edge_duration is None:
        raise ValueError("time-expanded rows need edge durations")
    s = edge_start_times(sequence, start)
    end = s + inst.edge_duration
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    res = inst.edge_resource
    order = np.lexsort((s, res))
    bounds = np.searchsorted(res[order], np.arange(inst.n_resources + 1))
    longest = float(inst.edge_duration.max(initial=0.0))
    for r in range(inst.n_resources):
        edges = order[bounds[r] : bounds[r + 1]]  # sorted by start
        if edges.size == 0:
            continue
        start = s[edges]
        # only edges started in (s_e - longest, s_e] can still hold the resource at s_e
        lo = np.searchsorted(start, start - longest, side="right")
        hi = np.searchsorted(start, start, side="right")
        width = hi - lo
        i = np.repeat(np.arange(edges.size), width)
        j = np.repeat(lo - np.cumsum(np.concatenate([[0], width[:-1]])), width) + np.arange(
            int(width.sum())
        )
        held = end[edges[j]] > start[i]
        rows.append(edges[i[held]])
        cols.append(edges[j[held]])
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    matrix = sp.csr_array((inst.edge_load[col], (row, col)), shape=(inst.n_edges, inst.n_edges))
    return matrix, inst.capacity[res]


def offline_optimum(
    sequence: ArrivalSequence,
    *,
    time_limit: float | None = None,
    seed: int = 0,
) -> MatchingResult:
    """Compute the hindsight optimum OPT of exactly this realised sequence (see the module).

    Parameters
    ----------
    sequence : ArrivalSequence
    time_limit : float, optional
        For the exact solve; check ``status`` when given.
    seed : int, default 0

    Returns
    -------
    MatchingResult
        For reusable resources, ``start`` holds each edge's arrival time and
        ``check(sequence.instance)`` verifies capacity at every instant.

    Examples
    --------
    >>> import matching
    >>> from matching.arrivals import adversarial_order
    >>> inst = matching.Instance([[0], [1]], [(0, 0, 1.0, 1, 2.0), (0, 1, 3.0, 1, 2.0)])
    >>> opt = offline_optimum(adversarial_order(inst, reusable=True))
    >>> opt.value, opt.check(inst)  # the two holds [0, 2) and [1, 3) overlap
    (3.0, True)
    """
    if not isinstance(sequence, ArrivalSequence):
        raise TypeError(f"sequence must be an ArrivalSequence, got {type(sequence).__name__}")
    if not sequence.reusable:
        return solve(sequence.instance, "auto", time_limit=time_limit, seed=seed)
    begin = time.perf_counter()
    inst = sequence.instance
    out = solve_cpsat(
        inst,
        time_limit=time_limit,
        seed=seed,
        threads=None,
        capacity_rows=time_expanded_rows(sequence),
    )
    res = integral_result(
        inst,
        out.edges,
        bound=out.bound,
        status=out.status,
        method="cpsat-time-expanded",
        stats=out.stats,
    )
    return dataclasses.replace(
        res, wall_time=time.perf_counter() - begin, start=edge_start_times(sequence)
    )


def offline_lp(sequence: ArrivalSequence) -> float:
    """LP relaxation value of the hindsight program (time-expanded when reusable)."""
    if not isinstance(sequence, ArrivalSequence):
        raise TypeError(f"sequence must be an ArrivalSequence, got {type(sequence).__name__}")
    rows = time_expanded_rows(sequence) if sequence.reusable else None
    out = solve_mathopt(
        sequence.instance,
        relax=True,
        solver="glop",
        time_limit=None,
        seed=0,
        threads=None,
        capacity_rows=rows,
    )
    if out.status is not Status.OPTIMAL:
        raise RuntimeError(f"LP relaxation not solved: {out.stats['solver_status']}")
    return float(sequence.instance.edge_weight @ out.x)
