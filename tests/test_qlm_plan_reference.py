"""The QLM global plan (``scheduling.qlm_plan``) checked against an independent brute force.

The reference below is written from the shared problem definition only (not from the
module): an evaluator of a plan (queues -> ready, finish, violations, lateness) and an
exhaustive search over every placement of the groups on the instances and every order
within each instance, returning the lexicographic minimum of (violations, lateness).

The evaluator can work exactly (``exact=True``): every input is read as the decimal it
prints as (``Fraction(repr(x))``), so on inputs that are whole milliseconds the reference
objective is the mathematical one, free of float ties such as ``0.1 + 0.2 > 0.3``. The
library's own numbers are floats; they are compared with the float reference within
1e-9, and a violation count is allowed any value between "ties are on time" and "ties
are late" (a group whose ready time is within 1e-9 of its deadline). Where some plan
has a group ready exactly at its deadline, a CP-SAT plan on grid inputs must be optimal
under the exact reading or under the float one (see :func:`assert_grid_optimal`).

Instances in the random inputs list ``load_s`` for every model they serve, the loaded
one included, so a queue that switches away and back is defined either way the spec's
"load_s for each model other than ``model``" is read.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.qlm_plan import PlanGroup, PlanInstance, QueuePlan, evaluate_plan, plan_queues
from scheduling.rwt import OutputLengthStats

Number = float | Fraction
TIE_TOL = 1e-9
CP_LIMIT_S = 5.0
MODELS = ("a", "b", "c")


@dataclass(frozen=True)
class Stats:
    """Output-length statistics of one model (the ``.mean`` / ``.std`` the spec asks for)."""

    mean: float
    std: float


@dataclass(frozen=True)
class Problem:
    """One planning input: groups, instances, length statistics and the CLT factor."""

    groups: tuple[PlanGroup, ...]
    instances: tuple[PlanInstance, ...]
    stats: Mapping[str, Stats]
    z: float


@dataclass(frozen=True)
class RefEval:
    """What the reference evaluator reports for one plan."""

    ready: dict[Hashable, Number]
    finish: dict[Hashable, Number]
    violations: int
    lateness: Number


@dataclass(frozen=True)
class RefOptimum:
    """The brute-force optimum.

    ``queues`` is one optimal plan; ``min_gap`` is the smallest ``|ready - deadline|`` of
    any group in any queue order the search evaluated (how close the instance is to a tie).
    """

    violations: int
    lateness: Number
    queues: dict[Hashable, tuple[Hashable, ...]]
    min_gap: float


# ----------------------------------------------------------------------------- reference


def _num(x: float, exact: bool) -> Number:
    """An input value as a float, or exactly as the decimal it prints as.

    Parameters
    ----------
    x : float
        The input (a time, a rate, a mean...).
    exact : bool
        Return ``Fraction(repr(float(x)))`` instead of ``float(x)``.

    Returns
    -------
    float or Fraction
    """
    return Fraction(repr(float(x))) if exact else float(x)


def ref_work(
    group: PlanGroup,
    inst: PlanInstance,
    stats: Mapping[str, Stats],
    z: float,
    exact: bool = False,
) -> Number:
    """Seconds ``inst`` needs for ``group``: (n mu + z sigma sqrt(n)) / throughput.

    Parameters
    ----------
    group, inst : PlanGroup, PlanInstance
        The group and the instance it runs on (its model must be in ``inst.throughput``).
    stats : Mapping[str, Stats]
        ``.mean`` and ``.std`` of the output length per model.
    z : float
        The CLT quantile.
    exact : bool
        Exact rational arithmetic; needs ``z * std == 0`` (sqrt(n) is irrational).

    Returns
    -------
    float or Fraction
    """
    m = group.model
    n = group.requests
    mu = _num(stats[m].mean, exact)
    spread = _num(z, exact) * _num(stats[m].std, exact)
    tokens = n * mu
    if spread != 0:
        if exact:
            raise ValueError("exact work needs z * std == 0")
        tokens = tokens + spread * math.sqrt(n)
    return tokens / _num(inst.throughput[m], exact)


def ref_run_queue(
    inst: PlanInstance,
    queue: Sequence[PlanGroup],
    stats: Mapping[str, Stats],
    z: float,
    exact: bool = False,
) -> list[tuple[Number, Number]]:
    """(ready, finish) of each group of ``queue`` run in order on ``inst``.

    Parameters
    ----------
    inst : PlanInstance
        Starts at ``available_at`` with ``model`` loaded; a group of another model first
        pays ``load_s[group.model]`` (a missing entry raises ``KeyError``).
    queue : Sequence[PlanGroup]
        The groups in processing order.
    stats, z, exact
        As in :func:`ref_work`.

    Returns
    -------
    list of (ready, finish)
    """
    t = _num(inst.available_at, exact)
    cur = inst.model
    out = []
    for g in queue:
        if g.model not in inst.throughput:
            raise ValueError(f"{g.key!r} cannot run on {inst.key!r}")
        if g.model != cur:
            t = t + _num(inst.load_s[g.model], exact)
            cur = g.model
        ready = t
        t = t + ref_work(g, inst, stats, z, exact)
        out.append((ready, t))
    return out


def ref_evaluate(
    queues: Mapping[Hashable, Sequence[Hashable]],
    problem: Problem,
    exact: bool = False,
) -> RefEval:
    """Evaluate a plan from the definition.

    Parameters
    ----------
    queues : Mapping[Hashable, Sequence[Hashable]]
        Group keys per instance key, in processing order.
    problem : Problem
        The input.
    exact : bool
        Exact rational arithmetic (see :func:`ref_work`).

    Returns
    -------
    RefEval
        Ready and finish per group, violations (requests of groups with
        ``ready > deadline``) and lateness (sum of ``n * max(0, ready - deadline)``).
    """
    groups = {g.key: g for g in problem.groups}
    insts = {i.key: i for i in problem.instances}
    ready: dict[Hashable, Number] = {}
    finish: dict[Hashable, Number] = {}
    for ik, keys in queues.items():
        times = ref_run_queue(
            insts[ik], [groups[k] for k in keys], problem.stats, problem.z, exact
        )
        for k, (r, f) in zip(keys, times, strict=True):
            ready[k], finish[k] = r, f
    violations = 0
    lateness: Number = Fraction(0) if exact else 0.0
    for k, r in ready.items():
        g = groups[k]
        d = _num(g.deadline, exact)
        if r > d:
            violations += g.requests
            lateness = lateness + g.requests * (r - d)
    return RefEval(ready, finish, violations, lateness)


def allowed(group: PlanGroup, inst: PlanInstance, allow_model_swap: bool) -> bool:
    """Whether a plan may put ``group`` on ``inst``.

    Parameters
    ----------
    group, inst : PlanGroup, PlanInstance
    allow_model_swap : bool
        When False, only an instance whose loaded model is the group's.

    Returns
    -------
    bool
    """
    if group.model not in inst.throughput:
        return False
    return allow_model_swap or inst.model == group.model


@dataclass(frozen=True)
class _Tables:
    """Every number the search needs, looked up by index.

    In exact mode each value is an int: the exact value times ``scale`` (the least
    common denominator of all of them), so the search adds ints instead of Fractions.
    """

    scale: int
    available_at: list[Number]
    load_s: list[dict[str, Number]]
    deadline: list[Number]
    work: dict[tuple[int, int], Number]


def _tables(problem: Problem, exact: bool) -> _Tables:
    """Look-up tables for :func:`ref_optimum` (values as in :func:`ref_work`).

    Parameters
    ----------
    problem : Problem
    exact : bool

    Returns
    -------
    _Tables
    """
    avail = [_num(inst.available_at, exact) for inst in problem.instances]
    load = [{m: _num(s, exact) for m, s in inst.load_s.items()} for inst in problem.instances]
    deadline = [_num(g.deadline, exact) for g in problem.groups]
    work = {
        (j, i): ref_work(g, inst, problem.stats, problem.z, exact)
        for j, g in enumerate(problem.groups)
        for i, inst in enumerate(problem.instances)
        if g.model in inst.throughput
    }
    if not exact:
        return _Tables(1, avail, load, deadline, work)
    values = [*avail, *deadline, *work.values(), *(x for d in load for x in d.values())]
    scale = math.lcm(*(Fraction(x).denominator for x in values))

    def to_int(x: Number) -> int:
        scaled = Fraction(x) * scale
        assert scaled.denominator == 1
        return scaled.numerator

    return _Tables(
        scale,
        [to_int(x) for x in avail],
        [{m: to_int(x) for m, x in d.items()} for d in load],
        [to_int(x) for x in deadline],
        {k: to_int(x) for k, x in work.items()},
    )


def ref_optimum(
    problem: Problem, allow_model_swap: bool = True, exact: bool = False
) -> RefOptimum:
    """Lexicographic minimum of (violations, lateness) over every plan.

    Every placement (``itertools.product`` of each group's allowed instances) and every
    order within each instance (``itertools.permutations``) is tried. The objective is a
    sum over instances, so the best order of a set of groups on an instance is found once
    and reused (the lexicographic minimum of a sum of independent parts is the sum of
    their minima). Checked against :func:`optimal_plans`, which evaluates every plan in
    full with :func:`ref_evaluate`.

    Parameters
    ----------
    problem : Problem
    allow_model_swap : bool
    exact : bool
        Exact rational arithmetic (see :func:`ref_work`); the lateness is then a Fraction.

    Returns
    -------
    RefOptimum
    """
    tab = _tables(problem, exact)
    zero: Number = 0 if exact else 0.0
    best_order: dict[tuple[int, frozenset[int]], tuple[int, Number, tuple[int, ...]]] = {}
    min_gap = math.inf

    def best_on(i: int, members: tuple[int, ...]) -> tuple[int, Number, tuple[int, ...]]:
        nonlocal min_gap
        memo_key = (i, frozenset(members))
        if memo_key in best_order:
            return best_order[memo_key]
        inst = problem.instances[i]
        best: tuple[int, Number, tuple[int, ...]] | None = None
        for perm in itertools.permutations(members):
            t, cur = tab.available_at[i], inst.model
            v, late = 0, zero
            for j in perm:
                g = problem.groups[j]
                if g.model != cur:
                    t, cur = t + tab.load_s[i][g.model], g.model
                gap = t - tab.deadline[j]
                min_gap = min(min_gap, abs(gap) / tab.scale)
                if gap > 0:
                    v += g.requests
                    late = late + g.requests * gap
                t = t + tab.work[j, i]
            if best is None or (v, late) < (best[0], best[1]):
                best = (v, late, perm)
        assert best is not None
        best_order[memo_key] = best
        return best

    choices = [
        [i for i, inst in enumerate(problem.instances) if allowed(g, inst, allow_model_swap)]
        for g in problem.groups
    ]
    assert all(choices), "some group has no allowed instance"
    result: tuple[int, Number, dict[Hashable, tuple[Hashable, ...]]] | None = None
    for placement in itertools.product(*choices):
        v, late = 0, zero
        queues: dict[Hashable, tuple[Hashable, ...]] = {}
        for i, inst in enumerate(problem.instances):
            members = tuple(j for j, p in enumerate(placement) if p == i)
            bv, bl, perm = best_on(i, members)
            v, late = v + bv, late + bl
            queues[inst.key] = tuple(problem.groups[j].key for j in perm)
        if result is None or (v, late) < (result[0], result[1]):
            result = (v, late, queues)
    assert result is not None
    lateness = Fraction(result[1], tab.scale) if exact else result[1]
    return RefOptimum(result[0], lateness, result[2], min_gap)


def all_plans(
    problem: Problem, allow_model_swap: bool = True
) -> Iterator[dict[Hashable, tuple[Hashable, ...]]]:
    """Every plan, one by one (no reuse of partial results; for small inputs only).

    Parameters
    ----------
    problem : Problem
    allow_model_swap : bool

    Yields
    ------
    dict
        Group keys per instance key, in processing order.
    """
    choices = [
        [inst.key for inst in problem.instances if allowed(g, inst, allow_model_swap)]
        for g in problem.groups
    ]
    for placement in itertools.product(*choices):
        members = {
            inst.key: [
                g.key for g, p in zip(problem.groups, placement, strict=True) if p == inst.key
            ]
            for inst in problem.instances
        }
        orders = [itertools.permutations(members[inst.key]) for inst in problem.instances]
        for combo in itertools.product(*orders):
            yield {inst.key: tuple(q) for inst, q in zip(problem.instances, combo, strict=True)}


def optimal_plans(
    problem: Problem, allow_model_swap: bool = True
) -> tuple[int, float, list[dict[Hashable, tuple[Hashable, ...]]]]:
    """The optimum by evaluating every plan in full, and every plan that attains it.

    Parameters
    ----------
    problem : Problem
    allow_model_swap : bool

    Returns
    -------
    (violations, lateness, plans)
    """
    scored = []
    for q in all_plans(problem, allow_model_swap):
        ev = ref_evaluate(q, problem)
        scored.append(((ev.violations, ev.lateness), q))
    best = min(s for s, _ in scored)
    return best[0], best[1], [q for s, q in scored if s == best]


# ------------------------------------------------------------------------ checks of a plan


def objective_range(ev: RefEval, problem: Problem) -> tuple[int, int]:
    """Violations if near-ties (within ``TIE_TOL``) count as on time, and as late.

    Parameters
    ----------
    ev : RefEval
        A float evaluation.
    problem : Problem

    Returns
    -------
    (low, high)
    """
    lo = hi = 0
    for g in problem.groups:
        r = float(ev.ready[g.key])
        if r > g.deadline + TIE_TOL:
            lo += g.requests
        if r > g.deadline - TIE_TOL:
            hi += g.requests
    return lo, hi


def check_plan(
    plan: QueuePlan, problem: Problem, method: str, allow_model_swap: bool = True
) -> None:
    """Assert that ``plan`` is a valid plan whose reported numbers are its evaluation.

    Checks: every instance key present, every group placed exactly once on an allowed
    instance, ``method``, ready/finish/violations/lateness equal ``evaluate_plan``'s
    exactly and the reference evaluator's within ``TIE_TOL``.

    Parameters
    ----------
    plan : QueuePlan
    problem : Problem
    method : str
        The method the plan must report.
    allow_model_swap : bool
    """
    assert isinstance(plan, QueuePlan)
    insts = {i.key: i for i in problem.instances}
    groups = {g.key: g for g in problem.groups}
    assert set(plan.queues) == set(insts)
    placed = [k for q in plan.queues.values() for k in q]
    assert sorted(map(repr, placed)) == sorted(map(repr, groups)), plan.queues
    assert len(placed) == len(set(placed)) == len(groups)
    for ik, q in plan.queues.items():
        for k in q:
            assert allowed(groups[k], insts[ik], allow_model_swap), (k, ik)
    assert plan.method == method
    assert plan.status in ("optimal", "feasible", "heuristic")
    if method == "edf":
        assert plan.status == "heuristic"
    assert plan.solve_s >= 0

    ready, finish, violations, lateness = evaluate_plan(
        plan.queues,
        problem.groups,
        problem.instances,
        length_stats=problem.stats,
        z=problem.z,
    )
    assert plan.ready == ready
    assert plan.finish == finish
    assert plan.violations == violations
    assert plan.lateness == lateness

    ev = ref_evaluate(plan.queues, problem)
    assert set(ready) == set(finish) == set(groups)
    for k in groups:
        assert ready[k] == pytest.approx(ev.ready[k], rel=TIE_TOL, abs=TIE_TOL)
        assert finish[k] == pytest.approx(ev.finish[k], rel=TIE_TOL, abs=TIE_TOL)
    lo, hi = objective_range(ev, problem)
    assert lo <= violations <= hi
    assert isinstance(violations, int)
    if lo == hi:
        assert violations == ev.violations
    total_n = sum(g.requests for g in problem.groups)
    assert lateness == pytest.approx(ev.lateness, rel=TIE_TOL, abs=TIE_TOL * (1 + total_n))


def solve(problem: Problem, method: str, allow_model_swap: bool = True) -> QueuePlan:
    """``plan_queues`` on ``problem`` (generous time limit for CP-SAT), checked by check_plan.

    Parameters
    ----------
    problem : Problem
    method : str
    allow_model_swap : bool

    Returns
    -------
    QueuePlan
    """
    plan = plan_queues(
        problem.groups,
        problem.instances,
        length_stats=problem.stats,
        z=problem.z,
        allow_model_swap=allow_model_swap,
        method=method,
        time_limit_s=CP_LIMIT_S,
    )
    check_plan(plan, problem, method if method != "auto" else plan.method, allow_model_swap)
    return plan


def assert_grid_optimal(plan: QueuePlan, problem: Problem, allow_model_swap: bool = True) -> None:
    """Assert that a CP-SAT plan on whole-millisecond inputs attains the minimum.

    Where no plan has a group ready exactly at its deadline, floats and exact arithmetic
    agree: the status must be "optimal" and the plan's exact objective the exact minimum.
    With such ties the spec can be read two ways (ties on time as decimals, or
    ``evaluate_plan``'s float sums, where 0.1 + 0.2 > 0.3): the plan must be optimal
    under one of them.

    Parameters
    ----------
    plan : QueuePlan
    problem : Problem
    allow_model_swap : bool
    """
    opt = ref_optimum(problem, allow_model_swap, exact=True)
    got = ref_evaluate(plan.queues, problem, exact=True)
    if opt.min_gap > TIE_TOL:
        assert plan.status == "optimal"
        assert (got.violations, got.lateness) == (opt.violations, opt.lateness)
        assert plan.violations == opt.violations
        assert plan.lateness == pytest.approx(float(opt.lateness), rel=1e-9, abs=1e-9)
        return
    assert plan.status in ("optimal", "feasible")
    if (got.violations, got.lateness) == (opt.violations, opt.lateness):
        return
    fopt = ref_optimum(problem, allow_model_swap)
    fgot = ref_evaluate(plan.queues, problem)
    assert fgot.violations == fopt.violations, (got, opt)
    assert fgot.lateness == pytest.approx(fopt.lateness, rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------------------ strategies


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    grid: bool,
    min_groups: int = 2,
    max_groups: int = 6,
    max_instances: int = 3,
    need_loaded_match: bool = False,
) -> Problem:
    """Small random planning inputs.

    Parameters
    ----------
    draw : st.DrawFn
    grid : bool
        Every time a whole number of milliseconds: available_at, load_s and deadlines
        are integer multiples of a step of 1, 100 or 250 ms; throughputs are 250, 500
        or 1000 tokens/s, means integer multiples of the step and ``z * std == 0``
        (z = 0 or std = 0), so every work is a multiple of the step too. Otherwise
        arbitrary floats, z = 1.645 and std > 0.
    min_groups, max_groups, max_instances : int
    need_loaded_match : bool
        Every group's model is loaded on some instance (for ``allow_model_swap=False``).

    Returns
    -------
    Problem
    """
    models = MODELS[: draw(st.integers(1, len(MODELS)))]
    # grid step in ms: coarse steps make exact ties (ready == deadline) common
    step = draw(st.sampled_from((1, 100, 250))) if grid else 1

    def secs(hi_ms: int) -> float:
        if grid:
            return draw(st.integers(0, hi_ms // step)) * step / 1000
        return draw(st.floats(0, hi_ms / 1000, allow_nan=False, allow_infinity=False))

    instances = []
    for i in range(draw(st.sampled_from(range(max_instances, 0, -1)))):
        options = list(models) if (need_loaded_match and i == 0) else [*models, None]
        loaded = draw(st.sampled_from(options))
        served = set(draw(st.sets(st.sampled_from(models), min_size=1)))
        if loaded is not None:
            served.add(loaded)
        if grid:
            rates = {m: draw(st.sampled_from([250.0, 500.0, 1000.0])) for m in sorted(served)}
        else:
            rates = {m: draw(st.floats(100.0, 1000.0)) for m in sorted(served)}
        # load_s also names the loaded model, so a queue may switch back to it
        load = {m: secs(5000) for m in sorted(served)}
        instances.append(PlanInstance(("inst", i), loaded, secs(3000), rates, load))
    if need_loaded_match:
        servable = sorted({inst.model for inst in instances if inst.model is not None})
    else:
        servable = sorted({m for inst in instances for m in inst.throughput})
    groups = tuple(
        PlanGroup(
            f"g{j}",
            draw(st.sampled_from(servable)),
            secs(20000),
            draw(st.integers(1, 4)),
        )
        # sampled_from draws uniformly (integers() leans to the low end)
        for j in range(draw(st.sampled_from(range(max_groups, min_groups - 1, -1))))
    )
    if grid:
        # a request's work is mean * (1000 / throughput) ms, a multiple of step
        means = {m: draw(st.integers(-(-20 // step), 1000 // step)) * step for m in models}
        stats = {m: Stats(float(means[m]), 0.0) for m in models}
        z = 1.645
        if draw(st.booleans()):  # z = 0 instead, with a nonzero std that must not matter
            stats = {m: Stats(s.mean, float(draw(st.integers(1, 300)))) for m, s in stats.items()}
            z = 0.0
    else:
        stats = {
            m: Stats(draw(st.floats(20.0, 1000.0)), draw(st.floats(1.0, 300.0))) for m in models
        }
        z = 1.645
    return Problem(groups, tuple(instances), stats, z)


# ------------------------------------------------------------------- hand-computed cases


def case_evaluator() -> Problem:
    """One instance, three groups, two model switches (worked in test_evaluator_by_hand)."""
    inst = PlanInstance("I", "a", 2.0, {"a": 20.0, "b": 10.0}, {"a": 4.0, "b": 5.0})
    groups = (
        PlanGroup("g1", "a", 1.0, 4),
        PlanGroup("g2", "b", 28.5, 1),
        PlanGroup("g3", "a", 35.0, 1),
    )
    stats = {"a": Stats(100.0, 10.0), "b": Stats(50.0, 0.0)}
    return Problem(groups, (inst,), stats, 1.5)


def case_swap() -> Problem:
    """Two instances, one needing a 30 s model swap, deadlines 20 s / 20 s / 40 s.

    I0 has "a" loaded, is free at 5 s and runs 10 tokens/s; I1 has "b" loaded, is free at
    0 s, runs "a" at 20 tokens/s after a 30 s swap. Every request is 100 tokens (std 0),
    so a request takes 10 s on I0 and 5 s on I1.
    """
    insts = (
        PlanInstance("I0", "a", 5.0, {"a": 10.0}, {}),
        PlanInstance("I1", "b", 0.0, {"a": 20.0, "b": 20.0}, {"a": 30.0, "b": 30.0}),
    )
    groups = (
        PlanGroup("G1", "a", 20.0, 2),
        PlanGroup("G2", "a", 20.0, 2),
        PlanGroup("G3", "a", 40.0, 1),
    )
    return Problem(groups, insts, {"a": Stats(100.0, 0.0), "b": Stats(100.0, 0.0)}, 1.645)


def case_edf_trap() -> Problem:
    """One instance with "a" loaded; deadline order B1, A1, B2 switches models twice.

    Every request takes 10 s (100 tokens at 10 tokens/s) and every switch 30 s.
    """
    inst = PlanInstance("I", "a", 0.0, {"a": 10.0, "b": 10.0}, {"a": 30.0, "b": 30.0})
    groups = (
        PlanGroup("B1", "b", 45.0, 1),
        PlanGroup("A1", "a", 46.0, 1),
        PlanGroup("B2", "b", 60.0, 1),
    )
    stats = {"a": Stats(100.0, 0.0), "b": Stats(100.0, 0.0)}
    return Problem(groups, (inst,), stats, 1.645)


def test_evaluator_by_hand() -> None:
    # z = 1.5. Queue g1, g2, g3 on I (model "a" loaded, free at 2 s):
    # g1 (a, n=4): no switch, ready 2;  w = (4*100 + 1.5*10*sqrt(4)) / 20 = 430/20 = 21.5,
    #              finish 23.5.  ready 2 > deadline 1: violated, lateness 4 * 1 = 4.
    # g2 (b, n=1): switch to b (+5): ready 28.5 = deadline 28.5, on time (strict >);
    #              w = 50 / 10 = 5, finish 33.5.
    # g3 (a, n=1): switch back to a (+4): ready 37.5 > 35: late 2.5;
    #              w = (100 + 1.5*10*1) / 20 = 5.75, finish 43.25.
    # violations = 4 + 1 = 5, lateness = 4 + 2.5 = 6.5 (all binary-exact floats).
    p = case_evaluator()
    ev = ref_evaluate({"I": ("g1", "g2", "g3")}, p)
    assert ev.ready == {"g1": 2.0, "g2": 28.5, "g3": 37.5}
    assert ev.finish == {"g1": 23.5, "g2": 33.5, "g3": 43.25}
    assert (ev.violations, ev.lateness) == (5, 6.5)
    # Order g2, g1, g3: switch to b (+5): g2 ready 7, finish 12; switch to a (+4): g1 ready
    # 16 (late 15 * 4 = 60), finish 37.5; g3 ready 37.5 (late 2.5). -> (5, 62.5)
    ev = ref_evaluate({"I": ("g2", "g1", "g3")}, p)
    assert ev.ready == {"g2": 7.0, "g1": 16.0, "g3": 37.5}
    assert (ev.violations, ev.lateness) == (5, 62.5)
    # The library agrees on the first order.
    ready, finish, violations, lateness = evaluate_plan(
        {"I": ("g1", "g2", "g3")}, p.groups, p.instances, length_stats=p.stats, z=1.5
    )
    assert ready == {"g1": 2.0, "g2": 28.5, "g3": 37.5}
    assert finish == {"g1": 23.5, "g2": 33.5, "g3": 43.25}
    assert (violations, lateness) == (5, 6.5)


def test_evaluator_default_z_and_output_length_stats() -> None:
    # One group of n = 4 with mean 100, std 50 at 100 tokens/s, z = 1.645 (the default):
    # w = (400 + 1.645 * 50 * 2) / 100 = 5.645. Ready at available_at = 1, finish 6.645.
    inst = PlanInstance("I", "m", 1.0, {"m": 100.0}, {})
    group = PlanGroup("g", "m", 0.5, 4)
    stats = {"m": OutputLengthStats(prior_mean=100.0, prior_std=50.0)}
    p = Problem((group,), (inst,), stats, 1.645)
    ev = ref_evaluate({"I": ("g",)}, p)
    assert ev.finish["g"] == pytest.approx(6.645, abs=1e-12)
    assert (ev.violations, ev.lateness) == (4, 2.0)
    ready, finish, violations, lateness = evaluate_plan(
        {"I": ("g",)}, (group,), (inst,), length_stats=stats
    )
    assert ready == {"g": 1.0}
    assert finish["g"] == pytest.approx(6.645, abs=1e-12)
    assert (violations, lateness) == (4, 2.0)


def test_bruteforce_by_hand_swap_case() -> None:
    # case_swap. G1 and G2 (deadline 20) cannot both be on time: I0's first group is
    # ready at 5, its second at 5 + work(first) >= 15, and if the first is G3 (work 10)
    # the second is ready at 15 but the third at 35; on I1 nothing is ready before 30.
    # So one of G1, G2 is late (2 requests). Its least lateness: second on I0 after the
    # other (ready 5 + 20 = 25, lateness 2 * 5 = 10), with G3 moved to I1 (ready 30 <= 40).
    # Keeping G3 on I0 third costs a third violation (ready 45 > 40): (3, 15).
    # Putting the late one on I1 instead: ready 30, lateness 2 * 10 = 20.
    p = case_swap()
    v, late, plans = optimal_plans(p)
    assert (v, late) == (2, 10.0)
    assert plans == [
        {"I0": ("G1", "G2"), "I1": ("G3",)},
        {"I0": ("G2", "G1"), "I1": ("G3",)},
    ]
    assert ref_evaluate({"I0": ("G1", "G2", "G3"), "I1": ()}, p).violations == 3
    assert ref_evaluate({"I0": ("G1", "G2", "G3"), "I1": ()}, p).lateness == 15.0
    opt = ref_optimum(p)
    assert (opt.violations, opt.lateness) == (2, 10.0)
    assert opt.queues in plans
    # Without model swaps everything runs on I0. Order G1, G2, G3 gives (3, 15);
    # putting G3 before the late one gives (2, 2 * 15 = 30): fewer violations win.
    v, late, plans = optimal_plans(p, allow_model_swap=False)
    assert (v, late) == (2, 30.0)
    assert sorted(plans[i]["I0"] for i in range(len(plans))) == [
        ("G1", "G3", "G2"),
        ("G2", "G3", "G1"),
        ("G3", "G1", "G2"),
        ("G3", "G2", "G1"),
    ]
    opt = ref_optimum(p, allow_model_swap=False)
    assert (opt.violations, opt.lateness) == (2, 30.0)
    assert opt.queues in plans


def test_bruteforce_by_hand_edf_trap() -> None:
    # case_edf_trap. Deadline order B1, A1, B2: switch to b, B1 ready 30 (<= 45), done 40;
    # switch to a, A1 ready 70 (late 24), done 80; switch to b, B2 ready 110 (late 50):
    # (2, 74). The optimum runs A1 first (ready 0, done 10), switches once: B1 ready 40,
    # B2 ready 50: (0, 0).
    p = case_edf_trap()
    ev = ref_evaluate({"I": ("B1", "A1", "B2")}, p)
    assert ev.ready == {"B1": 30.0, "A1": 70.0, "B2": 110.0}
    assert (ev.violations, ev.lateness) == (2, 74.0)
    v, late, plans = optimal_plans(p)
    assert (v, late) == (0, 0.0)
    assert plans == [{"I": ("A1", "B1", "B2")}]
    opt = ref_optimum(p)
    assert (opt.violations, opt.lateness, opt.queues) == (0, 0.0, plans[0])


def test_exact_mode_sees_decimal_ties() -> None:
    # available_at 0.1 plus a 0.2 s swap is ready at 0.1 + 0.2 = 0.30000000000000004 in
    # floats, later than the deadline 0.3; exactly it is a tie, on time.
    inst = PlanInstance("I", None, 0.1, {"m": 1000.0}, {"m": 0.2})
    p = Problem((PlanGroup("g", "m", 0.3, 2),), (inst,), {"m": Stats(7.0, 0.0)}, 1.645)
    assert ref_evaluate({"I": ("g",)}, p).violations == 2
    ev = ref_evaluate({"I": ("g",)}, p, exact=True)
    assert ev.ready["g"] == Fraction(3, 10)
    assert ev.finish["g"] == Fraction(314, 1000)  # + 2 * 7 / 1000
    assert (ev.violations, ev.lateness) == (0, 0)
    assert objective_range(ref_evaluate({"I": ("g",)}, p), p) == (0, 2)


@settings(max_examples=40)
@given(problems(grid=True, max_groups=5, max_instances=2))
def test_bruteforce_matches_full_enumeration(problem: Problem) -> None:
    opt = ref_optimum(problem)
    v, late, _ = optimal_plans(problem)
    assert opt.violations == v
    assert opt.lateness == pytest.approx(late, rel=1e-12, abs=1e-12)
    ev = ref_evaluate(opt.queues, problem)
    assert (ev.violations, ev.lateness) == (v, pytest.approx(late, rel=1e-12, abs=1e-12))
    exact = ref_optimum(problem, exact=True)
    ev = ref_evaluate(exact.queues, problem, exact=True)
    assert (ev.violations, ev.lateness) == (exact.violations, exact.lateness)
    assert abs(float(exact.lateness) - late) <= 1e-9 * (1 + late)
    for q in itertools.islice(all_plans(problem), 200):
        ev = ref_evaluate(q, problem, exact=True)
        assert (ev.violations, ev.lateness) >= (exact.violations, exact.lateness)


# --------------------------------------------------------------------- the library's plans


def case_decimal_tie(which: str) -> Problem:
    """Whole-millisecond inputs whose optimum needs a tie that floats blur.

    One instance of model "a" at 1000 tokens/s. S (1 request) then T (2 requests) is
    the only plan with no violation, and only because ready == deadline counts as on
    time. "floor": 0.043 / 0.001 = 42.99999999999999 in floats, so flooring the deadline
    0.043 s gives 42 ms. "sum": 0.1 + 0.2 = 0.30000000000000004 > 0.3 in floats.
    """
    if which == "floor":
        # S: ready 0 = deadline 0, work 43 ms; T: ready 0.043 = deadline 0.043.
        # T first: S ready 0.086 -> (1, 0.086).
        inst = PlanInstance("I", "a", 0.0, {"a": 1000.0}, {"a": 0.5})
        groups = (PlanGroup("S", "a", 0.0, 1), PlanGroup("T", "a", 0.043, 2))
        mean = 43.0
    else:
        # switch to a (+0.2) at 0.1: S ready 0.3 = deadline, work 0.1; T ready 0.4 = deadline.
        # T first: T ready 0.3 (on time), S ready 0.5 -> (1, 0.2).
        inst = PlanInstance("I", None, 0.1, {"a": 1000.0}, {"a": 0.2})
        groups = (PlanGroup("S", "a", 0.3, 1), PlanGroup("T", "a", 0.4, 2))
        mean = 100.0
    return Problem(groups, (inst,), {"a": Stats(mean, 0.0)}, 1.645)


@pytest.mark.parametrize("which", ["floor", "sum"])
def test_cpsat_exact_on_decimal_ties(which: str) -> None:
    p = case_decimal_tie(which)
    opt = ref_optimum(p, exact=True)
    assert (opt.violations, opt.lateness, opt.queues) == (0, 0, {"I": ("S", "T")})
    worse = ref_evaluate({"I": ("T", "S")}, p, exact=True)
    assert (worse.violations, worse.lateness) == (
        1,
        Fraction(86 if which == "floor" else 200, 1000),
    )
    plan = solve(p, "cp-sat")
    assert plan.queues == {"I": ("S", "T")}
    if which == "floor":  # floats see the same tie
        assert plan.status == "optimal"
    else:
        # With evaluate_plan's float sums S is ready 5.6e-17 s late, so S, T scores
        # (1, 5.6e-17) there, still better than T, S (1, 0.2): optimal under both readings,
        # but a solver that notices its model disagrees with the floats may say "feasible".
        float_s_t = ref_evaluate({"I": ("S", "T")}, p)
        assert float_s_t.violations == 1
        assert 0 < float_s_t.lateness < 1e-15
        assert plan.status in ("optimal", "feasible")


def test_plan_by_hand_swap_case() -> None:
    p = case_swap()
    plan = solve(p, "cp-sat")
    assert plan.status == "optimal"
    assert (plan.violations, plan.lateness) == (2, 10.0)
    assert plan.queues["I1"] == ("G3",)
    assert plan.queues["I0"] in (("G1", "G2"), ("G2", "G1"))
    first, second = plan.queues["I0"]
    assert plan.ready == {first: 5.0, second: 25.0, "G3": 30.0}
    assert plan.finish == {first: 25.0, second: 45.0, "G3": 35.0}

    plan = solve(p, "cp-sat", allow_model_swap=False)
    assert plan.status == "optimal"
    assert (plan.violations, plan.lateness) == (2, 30.0)
    assert plan.queues["I1"] == ()
    assert plan.queues["I0"].index("G3") < 2


def test_edf_strictly_worse_on_model_swaps() -> None:
    p = case_edf_trap()
    best = solve(p, "cp-sat")
    assert best.status == "optimal"
    assert (best.violations, best.lateness) == (0, 0.0)
    assert best.queues == {"I": ("A1", "B1", "B2")}
    edf = solve(p, "edf")
    assert (edf.violations, edf.lateness) > (0, 0.0)


@settings(max_examples=50)
@given(problems(grid=True))
def test_cpsat_exact_on_grid(problem: Problem) -> None:
    assert_grid_optimal(solve(problem, "cp-sat"), problem)


@settings(max_examples=30)
@given(problems(grid=True, need_loaded_match=True))
def test_cpsat_without_model_swap_on_grid(problem: Problem) -> None:
    plan = solve(problem, "cp-sat", allow_model_swap=False)
    assert_grid_optimal(plan, problem, allow_model_swap=False)


@settings(max_examples=40)
@given(problems(grid=False))
def test_cpsat_close_to_optimum_off_grid(problem: Problem) -> None:
    # CP-SAT rounds each duration (and the origin, deadlines) to 1 ms units: a ready time
    # is a sum of at most 2G roundings, so in its model every ready - deadline is off by
    # less than (2G + 1) ms and every plan's lateness by less than N (2G + 1) ms.
    # The status may be "optimal" (CP-SAT proved its rounded model optimal) or "feasible"
    # (the spec leaves open whether a rounded model's optimum may be called optimal).
    unit = 0.001
    opt = ref_optimum(problem)
    plan = solve(problem, "cp-sat")
    assert plan.status in ("optimal", "feasible")
    got = ref_evaluate(plan.queues, problem)
    eps = 1e-9 * (1 + abs(opt.lateness))
    assert (got.violations, got.lateness) >= (opt.violations, opt.lateness - eps)
    n_groups = len(problem.groups)
    margin = (2 * n_groups + 1) * unit
    if opt.min_gap > margin + TIE_TOL:
        # No plan has a ready time within the rounding error of a deadline, so the
        # rounded model counts the same violations as the true one for every plan.
        total_n = sum(g.requests for g in problem.groups)
        assert got.violations == opt.violations
        assert got.lateness <= opt.lateness + 2 * total_n * margin + eps


@settings(max_examples=50)
@given(problems(grid=False))
def test_edf_valid_and_never_better(problem: Problem) -> None:
    opt = ref_optimum(problem)
    plan = solve(problem, "edf")
    got = ref_evaluate(plan.queues, problem)
    eps = 1e-9 * (1 + abs(opt.lateness))
    assert (got.violations, got.lateness) >= (opt.violations, opt.lateness - eps)


@settings(max_examples=25)
@given(problems(grid=True), st.booleans())
def test_auto_and_edf_on_grid(problem: Problem, swap: bool) -> None:
    if not swap and not all(
        any(inst.model == g.model for inst in problem.instances) for g in problem.groups
    ):
        swap = True
    opt = ref_optimum(problem, allow_model_swap=swap, exact=True)
    for method in ("auto", "edf"):
        plan = solve(problem, method, allow_model_swap=swap)
        assert plan.method in ("cp-sat", "edf")
        got = ref_evaluate(plan.queues, problem, exact=True)
        assert (got.violations, got.lateness) >= (opt.violations, opt.lateness)
        if plan.status == "optimal":
            assert_grid_optimal(plan, problem, allow_model_swap=swap)
