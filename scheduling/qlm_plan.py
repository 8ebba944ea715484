"""QLM's global queue plan: which request group waits in which instance's queue, in what order.

QLM (Patke et al., "Queue Management for SLO-Oriented Large Language Model Serving",
SoCC 2024) keeps one *virtual queue* per serving instance and periodically re-plans them
globally: request groups (requests sharing a model and an SLO class) are assigned to
instances and ordered so that as few requests as possible miss their time-to-first-token
deadline, counting the time an instance needs to swap in another model. This module
states that plan as an exact optimisation problem and solves it. (The problem comes from
the paper; the formulation and code here are this project's own.)

Model
-----
Group ``g`` has ``n_g`` waiting requests of model ``m = m_g`` and an absolute deadline
``d_g``. Instance ``i`` holds model ``model_i`` (or nothing) and can start at ``a_i``; it
serves the models in its ``throughput`` (tokens/s) and needs ``load_s_i[m]`` seconds to
switch to model ``m``. Output lengths are unknown, so a group's work is the central-limit
bound of :mod:`scheduling.rwt` over the instance's token rate::

    w[g, i] = (n_g * mu_m + z * sigma_m * sqrt(n_g)) / throughput_i[m]

Instance ``i`` runs its queue ``(g_1, ..., g_k)`` in order from ``t = a_i``,
``cur = model_i``; for each ``g``: if ``m_g != cur`` then ``t += load_s_i[m_g]`` and
``cur = m_g``; ``ready_g = t``; ``t += w[g, i]``; ``finish_g = t``. Group ``g`` is
*violated* when ``ready_g > d_g``; a plan places every group once, on an instance that
serves its model (only on one that already holds it with ``allow_model_swap=False``),
and minimises lexicographically::

    violations = sum of n_g over violated g,   then
    lateness   = sum over g of n_g * max(0, ready_g - d_g).

``load_s`` need not list the model an instance holds at the start; without that entry
the instance cannot switch back to it once it has switched away (no plan here does so,
and :func:`evaluate_plan` rejects a plan that does).

Methods
-------
``"edf"``
    Earliest deadline first: groups by deadline (ties: input order), each appended to
    the instance where it would be ready earliest, model swap counted (ties: earlier
    finish, then instance order). Exact whenever it violates nothing.
``"cp-sat"``
    The exact model with OR-Tools CP-SAT, in integer multiples of ``time_unit_s`` (times
    measured from the earliest ``available_at``; start times, swap times and works
    rounded up, deadlines down, so a group on time in the model is on time). One
    ``AddCircuit`` per instance over a depot and the groups it may serve: an arc literal
    ``u -> v`` says ``v`` follows ``u`` and enforces ``s_v >= s_u + w[u, i] + swap``,
    where the swap is ``load_s_i[m_v]`` when the models differ (from the depot: the
    instance's start time and, unless it holds ``m_v``, ``load_s_i[m_v]``); a skipped
    node's self-loop is the literal "not on this instance", and each group is on exactly
    one instance. ``v_g`` (violated) frees ``s_g <= d_g``; ``l_g >= s_g - d_g, l_g >= 0``.
    Two phases make the objective lexicographic without huge weights: minimise
    ``sum n_g v_g``; if that is proven and positive, bound it and minimise
    ``sum n_g l_g``. Phase 1 is hinted with the heuristic's plan (below), phase 2 with
    phase 1's solution. The answer's queues are re-evaluated in floats with
    :func:`evaluate_plan` and the better of them and the heuristic plan is returned (the
    heuristic's alone when the model cannot be built, or nothing found, in the limit).
    ``"optimal"`` is reported only when CP-SAT proved every phase optimal, the returned
    queues attain that optimum in exact integer re-evaluation, every input time was a
    multiple of ``time_unit_s`` (so the integer model is the real one) and the float
    evaluation equals the integer one.
``"auto"``
    ``"cp-sat"`` when the model is small enough to be solved within the time limit
    (:func:`cpsat_fits`: at most :data:`AUTO_CPSAT_MAX_ARCS` circuit arcs per 50 ms,
    about 10 groups on 4 instances), else the heuristic alone. The heuristic behind both
    (reported as ``"edf"``) improves on plain EDF when EDF violates something: a second
    EDF pass sets aside each group that would be late wherever it went and appends those
    after the rest (Moore and Hodgson's rule: a lost group should not delay others), the
    better of the two starts, then a relocation local search: each group that is late, or
    stands before a late group in its queue, moves to the instance and position that best
    reduce (violations, lateness). One group's every new place is evaluated at once with
    numpy (inserting it at a position delays the whole rest of that queue by one amount,
    as swap times depend only on the model switched to), and a move is kept only when the
    exact re-evaluation confirms the gain. The search stops when no move helps or at 90%
    of the time limit (25% before a CP-SAT solve), so under a binding limit its result
    depends on the machine's speed.

CP-SAT runs with one worker, a fixed seed, no presolve and no linear relaxation: on
these small, hinted models that proved fastest on the 2-core development machine (a
2-worker portfolio and the default presolve were slower), and a single worker is
deterministic whenever it finishes within the time limit.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from ortools.sat.python import cp_model

__all__ = [
    "AUTO_CPSAT_MAX_ARCS",
    "LengthStats",
    "PlanGroup",
    "PlanInstance",
    "QueuePlan",
    "cpsat_fits",
    "evaluate_plan",
    "plan_queues",
]

#: ``"auto"`` uses CP-SAT when its circuits have at most this many arcs per 50 ms of
#: time limit (``sum_i (e_i + 1)^2`` for ``e_i`` groups eligible on instance ``i``: 484
#: for 10 groups on 4 instances). Measured on the 2-core development machine with the
#: states of ``benchmarks/qlm_plan_speed.py``: at 10 groups x 4 instances the whole call
#: (model building included) took 13 ms median and 49 ms p99 over 30 states, at 15 x 4
#: (1,024 arcs) most solves and at 20 x 4 (1,764 arcs) nearly all ran into 50 ms.
AUTO_CPSAT_MAX_ARCS = 500

_METHODS = ("auto", "edf", "cp-sat")
_CPSAT_PARAMETERS: dict[str, object] = {
    "num_workers": 1,
    "random_seed": 0,
    "cp_model_presolve": False,
    "linearization_level": 0,
}
_GRID_TOLERANCE = 1e-6  # in units of time_unit_s: closer to an integer counts as one
_MAX_UNITS = 2**40  # larger integer times are beyond CP-SAT's comfortable range
_BUILD_SECONDS_PER_ARC = 2.5e-5  # model building (Python API), 2-core dev machine
_READ_BACK_SECONDS = 2e-3  # kept back from the solver for reading and re-evaluating
_PHASE_SECONDS = 5e-3  # least time left worth a second CP-SAT solve (its start-up cost)


class LengthStats(Protocol):
    """Output-length statistics of one model, e.g. :class:`scheduling.rwt.OutputLengthStats`."""

    @property
    def mean(self) -> float:
        """Mean output tokens per request."""
        ...

    @property
    def std(self) -> float:
        """Standard deviation of the output tokens per request."""
        ...


@dataclass(frozen=True)
class PlanGroup:
    """A request group waiting for a queue.

    Parameters
    ----------
    key : Hashable
        Unique id of the group.
    model : str
        Model its requests need.
    deadline : float
        Absolute seconds: the earliest member's arrival plus its SLO (TTFT target).
    requests : int
        Number ``n >= 1`` of waiting requests (output lengths unknown).
    """

    key: Hashable
    model: str
    deadline: float
    requests: int


@dataclass(frozen=True)
class PlanInstance:
    """A serving instance with its virtual queue.

    Parameters
    ----------
    key : Hashable
        Unique id of the instance.
    model : str or None
        Model loaded now (None: nothing loaded).
    available_at : float
        Absolute seconds when it can start its first planned group.
    throughput : Mapping[str, float]
        Tokens/s for each model it can serve (> 0); other models cannot run on it.
    load_s : Mapping[str, float]
        Seconds (>= 0) to switch to each model of ``throughput`` other than ``model``.
    """

    key: Hashable
    model: str | None
    available_at: float
    throughput: Mapping[str, float]
    load_s: Mapping[str, float]


@dataclass(frozen=True)
class QueuePlan:
    """A global queue plan and its evaluation.

    Attributes
    ----------
    queues : dict
        Instance key -> tuple of group keys in processing order (every instance, maybe
        empty).
    ready, finish : dict
        Group key -> seconds when it starts (after any model swap) and finishes.
    violations : int
        Requests of groups ready after their deadline.
    lateness : float
        Sum over groups of ``requests * max(0, ready - deadline)``.
    method : str
        ``"cp-sat"`` or ``"edf"``: what produced the returned queues.
    status : str
        ``"optimal"`` (CP-SAT proved it, on an exact model), ``"feasible"`` (a CP-SAT
        solution without proof) or ``"heuristic"`` (EDF, maybe locally improved).
    solve_s : float
        Wall seconds of the whole call.
    """

    queues: dict[Hashable, tuple[Hashable, ...]]
    ready: dict[Hashable, float]
    finish: dict[Hashable, float]
    violations: int
    lateness: float
    method: str
    status: str
    solve_s: float


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Problem:
    """Validated inputs as arrays (groups and instances in input order)."""

    group_keys: tuple[Hashable, ...]
    instance_keys: tuple[Hashable, ...]
    models: tuple[str, ...]  # the groups' models, in order of first appearance
    n: np.ndarray  # (G,) int64 requests
    deadline: np.ndarray  # (G,) float
    gmodel: np.ndarray  # (G,) int64 index into models
    avail: np.ndarray  # (I,) float
    init: np.ndarray  # (I,) int64 loaded model's index; -1: none of the groups' models
    load: np.ndarray  # (I, M) seconds to switch to a model; inf: cannot switch (back) to it
    work: np.ndarray  # (G, I) seconds; inf where the group may not go
    eligible: np.ndarray  # (G, I) bool

    @property
    def reload_missing(self) -> np.ndarray:
        """(I,) bool: the instance cannot switch back to the model it starts with."""
        holds = self.init >= 0
        out = np.zeros(self.init.size, dtype=bool)
        rows = np.flatnonzero(holds)
        out[rows] = np.isinf(self.load[rows, self.init[rows]])
        return out


def _finite(value: object) -> bool:
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except TypeError:
        return False


def _problem(
    groups: Sequence[PlanGroup],
    instances: Sequence[PlanInstance],
    length_stats: Mapping[str, LengthStats],
    z: float,
    allow_model_swap: bool,
) -> _Problem:
    """Check every input and return the problem as arrays; raise ValueError naming a fault."""
    groups, instances = list(groups), list(instances)
    if not _finite(z):
        raise ValueError(f"z must be a finite number, got {z!r}")
    group_keys: list[Hashable] = []
    seen: set[Hashable] = set()
    models: dict[str, int] = {}
    for g in groups:
        if g.key in seen:
            raise ValueError(f"duplicate group key {g.key!r}")
        seen.add(g.key)
        group_keys.append(g.key)
        if isinstance(g.requests, bool) or not isinstance(g.requests, int | np.integer):
            raise ValueError(f"group {g.key!r}: requests must be an int, got {g.requests!r}")
        if g.requests < 1:
            raise ValueError(f"group {g.key!r}: requests must be >= 1, got {g.requests}")
        if not _finite(g.deadline):
            raise ValueError(f"group {g.key!r}: deadline must be finite, got {g.deadline!r}")
        if not isinstance(g.model, str):
            raise ValueError(f"group {g.key!r}: model must be a str, got {g.model!r}")
        models.setdefault(g.model, len(models))
    instance_keys: list[Hashable] = []
    seen = set()
    for inst in instances:
        if inst.key in seen:
            raise ValueError(f"duplicate instance key {inst.key!r}")
        seen.add(inst.key)
        instance_keys.append(inst.key)
        if not _finite(inst.available_at):
            raise ValueError(
                f"instance {inst.key!r}: available_at must be finite, got {inst.available_at!r}"
            )
        for m, rate in inst.throughput.items():
            if not (_finite(rate) and rate > 0):
                raise ValueError(
                    f"instance {inst.key!r}: throughput[{m!r}] must be finite and > 0, "
                    f"got {rate!r}"
                )
            if m != inst.model and m not in inst.load_s:
                raise ValueError(
                    f"instance {inst.key!r}: missing load_s entry for model {m!r} (it serves "
                    f"{m!r} but holds {inst.model!r})"
                )
        for m, seconds in inst.load_s.items():
            if not (_finite(seconds) and seconds >= 0):
                raise ValueError(
                    f"instance {inst.key!r}: load_s[{m!r}] must be finite and >= 0, "
                    f"got {seconds!r}"
                )
    mu = np.empty(len(models))
    sigma = np.empty(len(models))
    for m, k in models.items():
        if m not in length_stats:
            raise ValueError(f"model {m!r} of the groups is missing from length_stats")
        mean, std = length_stats[m].mean, length_stats[m].std
        if not (_finite(mean) and mean >= 0 and _finite(std) and std >= 0):
            raise ValueError(
                f"length_stats[{m!r}]: mean and std must be finite and >= 0, got "
                f"mean={mean!r}, std={std!r}"
            )
        mu[k], sigma[k] = mean, std

    n_i, n_m = len(instances), len(models)
    n = np.array([int(g.requests) for g in groups], dtype=np.int64)
    deadline = np.array([float(g.deadline) for g in groups], dtype=np.float64)
    gmodel = np.array([models[g.model] for g in groups], dtype=np.int64)
    avail = np.array([float(i.available_at) for i in instances], dtype=np.float64)
    init = np.array([models.get(i.model, -1) for i in instances], dtype=np.int64)  # type: ignore[arg-type]
    rate = np.zeros((n_i, n_m))  # 0: cannot serve
    load = np.full((n_i, n_m), math.inf)
    for i, inst in enumerate(instances):
        for m, k in models.items():
            if m in inst.throughput:
                rate[i, k] = float(inst.throughput[m])
                if m in inst.load_s:
                    load[i, k] = float(inst.load_s[m])
    serves = rate > 0  # (I, M)
    if not allow_model_swap:
        serves &= init[:, None] == np.arange(n_m)[None, :]
    eligible = serves[:, gmodel].T  # (G, I)
    for g in np.flatnonzero(~eligible.any(axis=1)).tolist():
        group = groups[g]
        why = " with allow_model_swap=False" if not allow_model_swap else ""
        raise ValueError(f"group {group.key!r}: no instance can serve model {group.model!r}{why}")
    tokens = n * mu[gmodel] + z * sigma[gmodel] * np.sqrt(n.astype(np.float64))
    with np.errstate(divide="ignore"):
        work = np.where(eligible, tokens[:, None] / rate[:, gmodel].T, math.inf)
    bad = eligible & ~((work >= 0) & np.isfinite(work))
    if bad.any():
        g, i = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(
            f"group {groups[g].key!r} on instance {instances[i].key!r}: its work "
            f"(n * mean + z * std * sqrt(n)) / throughput is {work[g, i]!r}; it must be "
            "finite and >= 0 (check z)"
        )
    return _Problem(
        group_keys=tuple(group_keys),
        instance_keys=tuple(instance_keys),
        models=tuple(models),
        n=n,
        deadline=deadline,
        gmodel=gmodel,
        avail=avail,
        init=init,
        load=load,
        work=work,
        eligible=eligible,
    )


def _queue_indices(
    prob: _Problem, queues: Mapping[Hashable, Sequence[Hashable]]
) -> list[list[int]]:
    """Check a plan's queues (every group once, where it may run) and return indices."""
    inst_index = {k: i for i, k in enumerate(prob.instance_keys)}
    group_index = {k: g for g, k in enumerate(prob.group_keys)}
    out: list[list[int]] = [[] for _ in prob.instance_keys]
    placed = np.zeros(len(prob.group_keys), dtype=bool)
    for ikey, queue in queues.items():
        if ikey not in inst_index:
            raise ValueError(f"queues name an unknown instance {ikey!r}")
        i = inst_index[ikey]
        for gkey in queue:
            if gkey not in group_index:
                raise ValueError(f"queue of instance {ikey!r} names an unknown group {gkey!r}")
            g = group_index[gkey]
            if placed[g]:
                raise ValueError(f"group {gkey!r} is placed more than once")
            if not prob.eligible[g, i]:
                raise ValueError(
                    f"group {gkey!r} (model {prob.models[prob.gmodel[g]]!r}) cannot run on "
                    f"instance {ikey!r}"
                )
            placed[g] = True
            out[i].append(g)
    if not placed.all():
        missing = prob.group_keys[int(np.flatnonzero(~placed)[0])]
        raise ValueError(f"group {missing!r} is in no queue")
    return out


# --------------------------------------------------------------------------- evaluation


def _times(prob: _Problem, queues: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ready and finish time of every group (inf after a switch the instance cannot make)."""
    ready = np.zeros(prob.n.size)
    finish = np.zeros(prob.n.size)
    gmodel = prob.gmodel.tolist()
    for i, queue in enumerate(queues):
        t, cur = float(prob.avail[i]), int(prob.init[i])
        load = prob.load[i].tolist()
        work = prob.work[:, i]
        for g in queue:
            m = gmodel[g]
            if m != cur:
                t += load[m]
                cur = m
            ready[g] = t
            t += float(work[g])
            finish[g] = t
    return ready, finish


def _objective(prob: _Problem, ready: np.ndarray) -> tuple[int, float]:
    """(violations, lateness) of the ready times; lateness summed exactly (math.fsum)."""
    late = ready - prob.deadline
    violated = late > 0
    lateness = math.fsum((prob.n[violated] * late[violated]).tolist())
    return int(prob.n[violated].sum()), lateness


def evaluate_plan(
    queues: Mapping[Hashable, Sequence[Hashable]],
    groups: Sequence[PlanGroup],
    instances: Sequence[PlanInstance],
    *,
    length_stats: Mapping[str, LengthStats],
    z: float = 1.645,
) -> tuple[dict[Hashable, float], dict[Hashable, float], int, float]:
    """Ready and finish times, violations and lateness of a queue plan.

    Parameters
    ----------
    queues : Mapping
        Instance key -> group keys in processing order; instances left out are empty.
        Every group must appear exactly once, on an instance that serves its model.
    groups, instances, length_stats, z
        As for :func:`plan_queues`.

    Returns
    -------
    ready, finish : dict
        Group key -> seconds (in the order of ``groups``).
    violations : int
        Requests of groups with ``ready > deadline``.
    lateness : float
        ``sum n_g * max(0, ready_g - deadline_g)`` (summed exactly).

    Raises
    ------
    ValueError
        For invalid inputs (see :func:`plan_queues`), an unknown key, a group placed
        twice, missing, or on an instance without its model, or a switch back to an
        instance's initial model that has no ``load_s`` entry.

    Examples
    --------
    >>> from scheduling.rwt import OutputLengthStats
    >>> stats = {"a": OutputLengthStats(prior_mean=100.0, prior_std=0.0),
    ...          "b": OutputLengthStats(prior_mean=50.0, prior_std=0.0)}
    >>> gpu = PlanInstance("gpu", "a", 10.0, {"a": 100.0, "b": 100.0}, {"b": 3.0})
    >>> groups = [PlanGroup("x", "a", 10.0, 2), PlanGroup("y", "b", 14.0, 1)]
    >>> evaluate_plan({"gpu": ["x", "y"]}, groups, [gpu], length_stats=stats)
    ({'x': 10.0, 'y': 15.0}, {'x': 12.0, 'y': 15.5}, 1, 1.0)
    """
    prob = _problem(groups, instances, length_stats, z, True)
    idx = _queue_indices(prob, queues)
    ready, finish = _times(prob, idx)
    _check_switches(prob, idx, ready)
    violations, lateness = _objective(prob, ready)
    keys = prob.group_keys
    return (
        dict(zip(keys, ready.tolist(), strict=True)),
        dict(zip(keys, finish.tolist(), strict=True)),
        violations,
        lateness,
    )


def _check_switches(prob: _Problem, queues: list[list[int]], ready: np.ndarray) -> None:
    for i, queue in enumerate(queues):
        bad = [g for g in queue if math.isinf(ready[g])]
        if bad:
            model = prob.models[prob.init[i]]
            raise ValueError(
                f"the queue of instance {prob.instance_keys[i]!r} switches back to model "
                f"{model!r}, which has no load_s entry"
            )


# --------------------------------------------------------------------------- heuristics


def _edf(prob: _Problem, *, defer: bool = False) -> list[list[int]]:
    """Earliest deadline first, each group where it is ready earliest (see module doc).

    With ``defer``, a group that would be late wherever it went is set aside and
    appended, by the same rule, after all the others (Moore-Hodgson's idea: a lost group
    should not delay the rest); ``"auto"`` uses it as a second start for local search.
    """
    n_g, n_i = prob.work.shape
    n_m = len(prob.models)
    queues: list[list[int]] = [[] for _ in range(n_i)]
    order = np.lexsort((np.arange(n_g), prob.deadline)).tolist()
    t = prob.avail.copy()
    cur = prob.init.copy()
    swap = prob.load.T.copy()  # (M, I)
    # ready[m, i]: when a group of model m could start on instance i
    ready_at = np.where(cur[None, :] == np.arange(n_m)[:, None], t[None, :], t[None, :] + swap)
    block = np.where(prob.eligible, 0.0, math.inf)  # (G, I)
    pinned = prob.reload_missing.copy()
    guard = bool(pinned.any())
    if guard:  # never let the last instance able to run a model switch away from it for good
        em = np.zeros((n_m, n_i), dtype=bool)
        em[prob.gmodel] = prob.eligible  # eligibility depends on the model only
        can = np.isfinite(prob.load.T) | (prob.init[None, :] == np.arange(n_m)[:, None])
        servers = (em & can).sum(axis=1)
        remaining = np.bincount(prob.gmodel, minlength=n_m)
    work, gmodel, deadline = prob.work, prob.gmodel.tolist(), prob.deadline.tolist()
    deferred: list[int] = []
    waiting: list[int] = []  # groups blocked by the guard until the pinned model's are placed

    def place(g: int, defer: bool) -> bool:
        """Append ``g`` where it is ready earliest; False if deferred or blocked."""
        m = gmodel[g]
        ready = ready_at[m] + block[g]
        if guard:
            stuck = pinned & (cur != m)
            stuck[stuck] &= (remaining[cur[stuck]] > 0) & (servers[cur[stuck]] <= 1)
            ready[stuck] = math.inf
        i = int(ready.argmin())
        best = ready[i]
        if best == math.inf:
            waiting.append(g)
            return False
        if defer and best > deadline[g]:
            deferred.append(g)
            return False
        ties = np.flatnonzero(ready == best)
        if ties.size > 1:
            i = int(ties[np.argmin(work[g, ties])])
        done = best + work[g, i]
        queues[i].append(g)
        t[i] = done
        if guard:
            remaining[m] -= 1
            if pinned[i] and cur[i] != m:
                pinned[i] = False
                servers[cur[i]] -= 1
        cur[i] = m
        ready_at[:, i] = done + swap[:, i]
        ready_at[m, i] = done
        return True

    for g in order:
        if place(g, defer) and waiting:
            retry, waiting[:] = list(waiting), []
            for h in retry:
                place(h, defer)
    for g in deferred:
        place(g, False)
    while waiting:  # only the guard blocks, and only while a pinned model's groups wait
        retry, waiting[:] = list(waiting), []
        if not any([place(h, False) for h in retry]):
            raise RuntimeError("EDF could not place every group")  # unreachable
    return queues


class _Improver:
    """Relocation local search on (violations, lateness); see the module doc.

    Keeps each queue's ready and finish times, and padded (instance x position) arrays of
    them, so that one group's every possible new place is evaluated at once: inserting it
    at position ``b`` of queue ``i`` shifts the groups from ``b`` on by the same amount
    (swap times depend on the model switched to only), which gives the change in
    violations and lateness of the whole suffix by broadcasting.
    """

    def __init__(self, prob: _Problem, queues: list[list[int]]) -> None:
        self.prob = prob
        self.queues = [list(q) for q in queues]
        self.avail = prob.avail.tolist()
        self.init = prob.init.tolist()
        self.load_rows = [row.tolist() for row in prob.load]
        self.gmodel = prob.gmodel.tolist()
        self.deadline = prob.deadline.tolist()
        self.nreq = prob.n.tolist()
        self.work_cols = [prob.work[:, i].tolist() for i in range(prob.work.shape[1])]
        self.where = {g: i for i, q in enumerate(self.queues) for g in q}
        self.rows = [self._row(i, q) for i, q in enumerate(self.queues)]
        self.load_cols = [prob.load[:, [m]] for m in range(len(prob.models))]
        self.work_rows = prob.work[:, :, None]
        self.eligible_rows = prob.eligible[:, :, None]
        self._pad(max((len(q) for q in self.queues), default=0) + 2)

    def _row(self, i: int, queue: list[int]) -> tuple[list[float], list[float], int, float]:
        """Ready, finish, violations and lateness of ``queue`` on instance ``i``."""
        t, cur = self.avail[i], self.init[i]
        load, work, deadline, nreq, gmodel = (
            self.load_rows[i],
            self.work_cols[i],
            self.deadline,
            self.nreq,
            self.gmodel,
        )
        ready, finish = [], []
        viol, late = 0, 0.0
        for g in queue:
            m = gmodel[g]
            if m != cur:
                t += load[m]
                cur = m
            ready.append(t)
            over = t - deadline[g]
            if over > 0:
                viol += nreq[g]
                late += nreq[g] * over
            t += work[g]
            finish.append(t)
        return ready, finish, viol, late

    def _pad(self, k: int) -> None:
        """(Re)allocate the padded arrays with ``k`` positions and fill every row."""
        n_i = len(self.queues)
        self.k = k
        self.R = np.zeros((n_i, k))  # ready
        self.S = np.full((n_i, k), math.inf)  # slack: deadline - ready
        self.M = np.full((n_i, k), -1, dtype=np.int64)  # model
        self.LM = np.zeros((n_i, k))  # swap time to that model
        self.SL = np.zeros((n_i, k))  # requests * lateness of the suffix from each position
        self.W = np.zeros((n_i, k, k))  # [i, b, j]: requests of j if j >= b
        self.WF = np.zeros((n_i, k, k))  # the same for groups on time only
        self.PF = np.full((n_i, k), math.inf)  # finish of the group before each position
        self.PM = np.full((n_i, k), -1, dtype=np.int64)  # its model
        self.open = np.zeros((n_i, k), dtype=bool)  # position <= queue length
        self.suffix = np.arange(k)[:, None] <= np.arange(k)[None, :]
        self.positions = np.arange(k)
        for i in range(n_i):
            self._fill(i, self.queues[i], self.rows[i])

    def _fill(self, i: int, queue: list[int], row: tuple) -> None:
        """Write queue ``queue`` of instance ``i`` (with its ``_row``) into the arrays."""
        ready, finish = row[0], row[1]
        pad = self.k - len(queue)
        nreq = [self.nreq[g] for g in queue]
        models = [self.gmodel[g] for g in queue]
        slack = [self.deadline[g] - r for g, r in zip(queue, ready, strict=True)]
        tail, acc = [], 0.0
        for n, sl in zip(reversed(nreq), reversed(slack), strict=True):
            if sl < 0:
                acc -= n * sl
            tail.append(acc)
        load = self.load_rows[i]
        self.R[i] = ready + [0.0] * pad
        self.S[i] = slack + [math.inf] * pad
        self.M[i] = models + [-1] * pad
        self.LM[i] = [load[m] for m in models] + [0.0] * pad
        self.SL[i] = tail[::-1] + [0.0] * pad
        self.W[i] = self.suffix * np.array(nreq + [0] * pad, dtype=np.float64)
        np.multiply(self.W[i], self.S[i] >= 0, out=self.WF[i])
        self.PF[i] = [self.avail[i], *finish] + [math.inf] * (pad - 1)
        self.PM[i] = [self.init[i], *models] + [-1] * (pad - 1)
        self.open[i] = self.positions <= len(queue)

    def total(self) -> tuple[int, float]:
        return sum(r[2] for r in self.rows), math.fsum(r[3] for r in self.rows)

    def _candidates(self) -> list[int]:
        """Return the groups that are late or stand before a late group in their queue."""
        out = []
        for queue, (ready, _, viol, _) in zip(self.queues, self.rows, strict=True):
            if viol:
                last = max(j for j, g in enumerate(queue) if ready[j] > self.deadline[g])
                out.extend(queue[: last + 1])
        return sorted(out, key=lambda g: (self.deadline[g], g))

    def run(self, deadline: float, max_passes: int = 50) -> list[list[int]]:
        """Improve until no move helps, ``max_passes`` passes or ``deadline`` (perf_counter)."""
        for _ in range(max_passes):
            moved = False
            for g in self._candidates():
                if time.perf_counter() > deadline:
                    return self.queues
                moved |= self._relocate(g)
            if not moved:
                break
        return self.queues

    def _relocate(self, g: int) -> bool:
        """Move ``g`` to its best place if that strictly improves; return whether it did."""
        a = self.where[g]
        without = [x for x in self.queues[a] if x != g]
        rem = self._row(a, without)
        if math.isinf(rem[3]) or (without and math.isinf(rem[1][-1])):
            return False  # removing g would need a switch the instance cannot make
        saved = self.rows[a]
        self._fill(a, without, rem)
        try:
            dv, dl = self._insertion_changes(g)
        finally:
            self._fill(a, self.queues[a], saved)
        dv += rem[2] - saved[2]
        dl += rem[3] - saved[3]
        best_v = dv.min()
        if best_v > 0:
            return False
        masked = np.where(dv == best_v, dl, math.inf)
        flat = int(np.argmin(masked))
        i, b = divmod(flat, masked.shape[1])
        if not (best_v < 0 or masked[i, b] < -1e-9 * max(1.0, abs(self.total()[1]))):
            return False
        target = without if i == a else self.queues[i]
        target = [*target[:b], g, *target[b:]]
        new_row = self._row(i, target)
        if math.isinf(new_row[3]) or (target and math.isinf(new_row[1][-1])):
            return False
        before = self.total()
        old = (self.queues[a], self.rows[a], self.queues[i], self.rows[i])
        self.queues[a], self.rows[a] = without, rem
        self.queues[i], self.rows[i] = target, new_row
        after = self.total()
        if not (after[0] < before[0] or (after[0] == before[0] and after[1] < before[1])):
            self.queues[a], self.rows[a], self.queues[i], self.rows[i] = old
            return False  # the exact evaluation does not confirm the predicted gain
        self.where[g] = i
        if len(target) >= self.k:
            self._pad(len(target) + 2)
        else:
            self._fill(a, self.queues[a], self.rows[a])
            self._fill(i, target, new_row)
        return True

    def _insertion_changes(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        """Change of (violations, lateness) for inserting ``g`` at each (instance, position).

        Invalid places (ineligible, past the queue's end, an impossible switch) get
        violations ``inf``.
        """
        m = self.gmodel[g]
        ready_g = self.PF + np.where(self.PM == m, 0.0, self.load_cols[m])
        finish_g = ready_g + self.work_rows[g]
        # the groups from position b on all start later by delta[:, b]
        delta = finish_g + np.where(self.M == m, 0.0, self.LM) - self.R
        valid = self.open & self.eligible_rows[g] & (delta < math.inf)
        delta[~valid] = 0.0
        late = delta[:, :, None] - self.S[:, None, :]  # (instance, position, group)
        dv = ((late > 0) * self.WF).sum(axis=2)
        dl = (np.maximum(late, 0.0) * self.W).sum(axis=2) - self.SL
        own = ready_g - self.deadline[g]
        dv += np.where(own > 0, self.nreq[g], 0)
        dl += self.nreq[g] * np.maximum(own, 0.0)
        return np.where(valid, dv, math.inf), np.where(valid, dl, 0.0)


def _heuristic(prob: _Problem, edf: list[list[int]], deadline: float) -> list[list[int]]:
    """EDF's plan improved (see the module doc) until ``deadline`` (perf_counter)."""
    best, objective = edf, _objective(prob, _times(prob, edf)[0])
    if objective[0] == 0:
        return best  # nothing violated: optimal
    deferred = _edf(prob, defer=True)
    other = _objective(prob, _times(prob, deferred)[0])
    if _better(other, objective):
        best, objective = deferred, other
    improved = _Improver(prob, best).run(deadline)
    if _better(_objective(prob, _times(prob, improved)[0]), objective):
        best = improved
    return best


# --------------------------------------------------------------------------- CP-SAT


def _units(x: np.ndarray, unit: float, *, up: bool) -> tuple[np.ndarray, bool]:
    """``x / unit`` as integers, rounded up (or down); also whether all were on the grid."""
    q = np.asarray(x, dtype=np.float64) / unit
    near = np.round(q)
    on_grid = np.abs(q - near) <= _GRID_TOLERANCE
    out = np.where(on_grid, near, np.ceil(q) if up else np.floor(q))
    return out, bool(on_grid.all())


def _arc_count(prob: _Problem) -> int:
    """Arcs of the CP-SAT circuits: ``sum_i (e_i + 1)^2`` for ``e_i`` eligible groups."""
    e = prob.eligible.sum(axis=0)
    return int(((e + 1) ** 2).sum())


def cpsat_fits(n_arcs: int, time_limit_s: float) -> bool:
    """Whether ``"auto"`` should use CP-SAT on a model with ``n_arcs`` circuit arcs.

    Examples
    --------
    >>> cpsat_fits(400, 0.05), cpsat_fits(5000, 0.05), cpsat_fits(5000, 1.0)
    (True, False, True)
    """
    return n_arcs <= AUTO_CPSAT_MAX_ARCS * (time_limit_s / 0.05)


@dataclass
class _CpOutcome:
    queues: list[list[int]] | None  # None: CP-SAT found no solution in time
    proven: bool  # CP-SAT proved every phase optimal
    exact: bool  # the integer model equals the real one
    objective: tuple[int, int] | None  # integer (violations, lateness in units) of queues


def _integer_times(
    queues: list[list[int]], a: np.ndarray, ld: np.ndarray, w: np.ndarray, prob: _Problem
) -> np.ndarray:
    s = np.zeros(prob.n.size, dtype=np.int64)
    for i, queue in enumerate(queues):
        t, cur = int(a[i]), int(prob.init[i])
        for g in queue:
            m = int(prob.gmodel[g])
            if m != cur:
                t += int(ld[i, m])
                cur = m
            s[g] = t
            t += int(w[g, i])
    return s


def _solve_cpsat(
    prob: _Problem,
    hint: list[list[int]],
    unit: float,
    start: float,
    time_limit_s: float,
) -> _CpOutcome:
    """Solve the exact model (see module doc) within what is left of the time limit."""
    end = start + time_limit_s - _READ_BACK_SECONDS
    none = _CpOutcome(None, False, False, None)
    n_g, n_i = prob.work.shape
    if _arc_count(prob) * _BUILD_SECONDS_PER_ARC > end - time.perf_counter():
        return none  # building the model alone would overrun the limit
    # integer times from the earliest start: durations up, deadlines down
    t0 = float(prob.avail.min())
    finite_load = np.isfinite(prob.load)
    a, ok_a = _units(prob.avail - t0, unit, up=True)
    ld, ok_l = _units(np.where(finite_load, prob.load, 0.0), unit, up=True)
    w, ok_w = _units(np.where(prob.eligible, prob.work, 0.0), unit, up=True)
    d, ok_d = _units(prob.deadline - t0, unit, up=False)
    exact = ok_a and ok_l and ok_w and ok_d
    gm, init = prob.gmodel, prob.init
    # no group of a tight schedule starts after every group's largest swap and work
    horizon = float(a.max() + (w.max(axis=1) + ld.max(axis=0)[gm]).sum())
    if horizon >= _MAX_UNITS or float(prob.n.sum()) * (horizon + abs(d).max()) >= 2.0**62:
        return none
    hz = int(horizon)
    a_i, ld_i, w_i = a.astype(np.int64), ld.astype(np.int64), w.astype(np.int64)
    d_i = np.minimum(d, hz).astype(np.int64)  # a deadline after the horizon: never late
    setup0 = np.where(init[:, None] == gm[None, :], 0, ld_i[:, gm])  # (I, G): from the depot
    lb = np.where(prob.eligible.T, a_i[:, None] + setup0, hz).min(axis=0)

    model = cp_model.CpModel()
    s = [model.new_int_var(int(lb[g]), hz, "") for g in range(n_g)]
    placed: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in range(n_g)]
    circuits: list[list[tuple[int, int, cp_model.IntVar]]] = []  # node g + 1, depot 0
    for i in range(n_i):
        if time.perf_counter() > end:
            return none
        members = np.flatnonzero(prob.eligible[:, i]).tolist()
        arcs = [(0, 0, model.new_bool_var(""))]  # the instance stays empty
        for g in members:
            x = model.new_bool_var("")
            placed[g].append((i, x))
            arcs.append((g + 1, g + 1, ~x))
            first = model.new_bool_var("")
            arcs.append((0, g + 1, first))
            model.add(s[g] >= int(a_i[i] + setup0[i, g])).only_enforce_if(first)
            arcs.append((g + 1, 0, model.new_bool_var("")))
        no_return = bool(prob.reload_missing[i])
        for u in members:
            mu, wu = int(gm[u]), int(w_i[u, i])
            for v in members:
                mv = int(gm[v])
                if u == v or (no_return and mv != mu and mv == init[i]):
                    continue  # (it cannot switch back to its initial model)
                lit = model.new_bool_var("")
                arcs.append((u + 1, v + 1, lit))
                gap = wu if mu == mv else wu + int(ld_i[i, mv])
                model.add(s[v] >= s[u] + gap).only_enforce_if(lit)
        model.add_circuit(arcs)
        circuits.append(arcs)
    for g in range(n_g):
        model.add_exactly_one([x for _, x in placed[g]])
    violated: list[tuple[int, cp_model.IntVar, int]] = []  # (requests, v_g, g)
    lateness: list[tuple[int, cp_model.IntVar, int]] = []  # (requests, l_g, g)
    forced = 0  # requests of groups late wherever they go
    for g in range(n_g):
        n, dg = int(prob.n[g]), int(d_i[g])
        if dg >= hz:
            continue  # never late
        if lb[g] > dg:
            forced += n
        else:
            v = model.new_bool_var("")
            model.add(s[g] <= dg).only_enforce_if(~v)
            violated.append((n, v, g))
        late = model.new_int_var(0, hz - dg, "")
        model.add(late >= s[g] - dg)
        lateness.append((n, late, g))

    # the heuristic plan as a complete hint, with tight integer times
    over = _integer_times(hint, a_i, ld_i, w_i, prob) - d_i
    where = {g: i for i, q in enumerate(hint) for g in q}
    names = [x.index for x in s]
    values = (over + d_i).tolist()
    for g in range(n_g):
        for i, x in placed[g]:
            names.append(x.index)
            values.append(int(where[g] == i))
    for _, v, g in violated:
        names.append(v.index)
        values.append(int(over[g] > 0))
    for _, late, g in lateness:
        names.append(late.index)
        values.append(max(int(over[g]), 0))
    for queue, arcs in zip(hint, circuits, strict=True):
        nodes = [0, *(g + 1 for g in queue), 0]
        used = set(itertools.pairwise(nodes)) if queue else {(0, 0)}
        for u, v, lit in arcs:
            if u != v or u == 0:  # a group's self-loop is its negated placement
                names.append(lit.index)
                values.append(int((u, v) in used))
    model.proto.solution_hint.vars.extend(names)
    model.proto.solution_hint.values.extend(values)

    solver = cp_model.CpSolver()
    params = solver.parameters
    for name, value in _CPSAT_PARAMETERS.items():
        setattr(params, name, value)

    def solve(objective: cp_model.LinearExprT) -> tuple[int, float]:
        began = time.perf_counter()
        model.minimize(objective)
        params.max_time_in_seconds = max(end - began, 1e-3)
        return solver.solve(model), time.perf_counter() - began

    code, took = solve(sum(n * v for n, v, _ in violated))
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return none
    solution = list(solver.response_proto.solution)
    proven = code == cp_model.OPTIMAL
    least_violations = round(solver.objective_value) + forced
    least_lateness = 0
    if proven and least_violations > 0:
        # phase 2 (when time is left for another solve of this model): keep the
        # violations, minimise lateness, starting from the phase-1 solution
        proven = False
        if end - time.perf_counter() > _PHASE_SECONDS + 0.5 * took:
            if violated:
                model.add(sum(n * v for n, v, _ in violated) <= least_violations - forced)
            model.clear_hints()
            model.proto.solution_hint.vars.extend(range(len(solution)))
            model.proto.solution_hint.values.extend(solution)
            code, _ = solve(sum(n * late for n, late, _ in lateness))
            if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                solution = list(solver.response_proto.solution)
                proven = code == cp_model.OPTIMAL
                least_lateness = round(solver.objective_value)
    queues: list[list[int]] = []
    for arcs in circuits:
        succ = {u: v for u, v, lit in arcs if u != v and solution[lit.index]}
        queue, node = [], succ.get(0, 0)
        while node:
            queue.append(node - 1)
            node = succ[node]
        queues.append(queue)
    # the queues' own integer objective; a proof counts only if it is the proven optimum
    over = _integer_times(queues, a_i, ld_i, w_i, prob) - d_i
    late_groups = over > 0
    objective = (int(prob.n[late_groups].sum()), int((prob.n * over)[late_groups].sum()))
    proven = proven and objective == (least_violations, least_lateness)
    return _CpOutcome(queues, proven, exact, objective)


# --------------------------------------------------------------------------- entry point


def _better(a: tuple[int, float], b: tuple[int, float]) -> bool:
    """Whether objective ``a`` is strictly better than ``b`` (lexicographic)."""
    return a[0] < b[0] or (a[0] == b[0] and a[1] < b[1])


def _matches(objective: tuple[int, float], integer: tuple[int, int], unit: float) -> bool:
    """Whether a float objective equals the integer model's (lateness to rounding noise)."""
    lateness = integer[1] * unit
    return objective[0] == integer[0] and abs(objective[1] - lateness) <= 1e-9 * max(
        1.0, abs(lateness)
    )


def plan_queues(
    groups: Sequence[PlanGroup],
    instances: Sequence[PlanInstance],
    *,
    length_stats: Mapping[str, LengthStats],
    z: float = 1.645,
    allow_model_swap: bool = True,
    method: str = "auto",
    time_limit_s: float = 0.05,
    time_unit_s: float = 0.001,
) -> QueuePlan:
    """Plan the virtual queues of all instances: minimise violations, then lateness.

    Parameters
    ----------
    groups : sequence of PlanGroup
        Request groups to place (unique keys).
    instances : sequence of PlanInstance
        Serving instances (unique keys).
    length_stats : Mapping[str, LengthStats]
        For each group's model, an object with ``.mean`` and ``.std`` output tokens per
        request, e.g. :class:`scheduling.rwt.OutputLengthStats`.
    z : float, default 1.645
        Normal quantile of the work bound ``n * mu + z * sigma * sqrt(n)`` tokens.
    allow_model_swap : bool, default True
        False: a group may only go to an instance already holding its model.
    method : {"auto", "edf", "cp-sat"}, default "auto"
        ``"edf"``: earliest deadline first; ``"cp-sat"``: the exact model with a time
        limit; ``"auto"``: CP-SAT where :func:`cpsat_fits`, else EDF improved by local
        search (see the module doc).
    time_limit_s : float, default 0.05
        Wall seconds for the whole call with CP-SAT (model building included).
    time_unit_s : float, default 0.001
        CP-SAT's time grain; durations are rounded up to it, deadlines down.

    Returns
    -------
    QueuePlan
        The queues with their float evaluation (:func:`evaluate_plan`), the method that
        produced them and its status.

    Raises
    ------
    ValueError
        Before any solving: duplicate keys, requests < 1, a non-finite deadline or
        available_at, throughput <= 0, a missing or negative load_s entry, a model
        missing from length_stats, a group no instance can serve, a bad option.

    Examples
    --------
    Two models on one GPU that holds ``"a"``; switching to ``"b"`` takes 4 s. EDF
    interleaves the models and swaps three times; the optimum runs both ``"a"`` groups
    first and misses only group ``y``'s deadline:

    >>> from scheduling.rwt import OutputLengthStats
    >>> stats = {"a": OutputLengthStats(prior_mean=100.0, prior_std=0.0),
    ...          "b": OutputLengthStats(prior_mean=100.0, prior_std=0.0)}
    >>> gpu = PlanInstance("gpu", "a", 0.0, {"a": 100.0, "b": 100.0}, {"a": 4.0, "b": 4.0})
    >>> groups = [PlanGroup("x", "a", 0.0, 1), PlanGroup("y", "b", 1.0, 1),
    ...           PlanGroup("u", "a", 2.0, 1), PlanGroup("v", "b", 9.0, 1)]
    >>> edf = plan_queues(groups, [gpu], length_stats=stats, method="edf")
    >>> edf.queues, edf.violations, edf.status
    ({'gpu': ('x', 'y', 'u', 'v')}, 3, 'heuristic')
    >>> best = plan_queues(groups, [gpu], length_stats=stats, method="cp-sat", time_limit_s=2)
    >>> best.queues, best.ready, best.violations, best.lateness, best.status
    ({'gpu': ('x', 'u', 'y', 'v')}, {'x': 0.0, 'y': 6.0, 'u': 1.0, 'v': 7.0}, 1, 5.0, 'optimal')
    """
    start = time.perf_counter()
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if not (_finite(time_limit_s) and time_limit_s > 0):
        raise ValueError(f"time_limit_s must be finite and > 0, got {time_limit_s!r}")
    if not (_finite(time_unit_s) and time_unit_s > 0):
        raise ValueError(f"time_unit_s must be finite and > 0, got {time_unit_s!r}")
    prob = _problem(groups, instances, length_stats, z, bool(allow_model_swap))
    use_cpsat = method == "cp-sat" or (
        method == "auto" and cpsat_fits(_arc_count(prob), time_limit_s)
    )
    queues = _edf(prob)
    if method != "edf":
        budget = start + (0.25 if use_cpsat else 0.9) * time_limit_s
        queues = _heuristic(prob, queues, budget)
    ready, finish = _times(prob, queues)
    objective = _objective(prob, ready)
    used, status = "edf", "heuristic"
    if use_cpsat and prob.n.size:
        out = _solve_cpsat(prob, queues, time_unit_s, start, time_limit_s)
        if out.queues is not None and out.objective is not None:
            r3, f3 = _times(prob, out.queues)
            o3 = _objective(prob, r3)
            if not _better(objective, o3):  # ties go to CP-SAT, which may have a proof
                queues, ready, finish, objective = out.queues, r3, f3, o3
                used = "cp-sat"
                exact = out.proven and out.exact and _matches(o3, out.objective, time_unit_s)
                status = "optimal" if exact else "feasible"
    elif use_cpsat:
        used, status = "cp-sat", "optimal"  # nothing to place
    return QueuePlan(
        queues={
            k: tuple(prob.group_keys[g] for g in q)
            for k, q in zip(prob.instance_keys, queues, strict=True)
        },
        ready=dict(zip(prob.group_keys, ready.tolist(), strict=True)),
        finish=dict(zip(prob.group_keys, finish.tolist(), strict=True)),
        violations=objective[0],
        lateness=objective[1],
        method=used,
        status=status,
        solve_s=time.perf_counter() - start,
    )
