"""QLM's global queue plan (scheduling.qlm_plan): evaluation, EDF, local search, CP-SAT."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.qlm_plan import (
    AUTO_CPSAT_MAX_ARCS,
    PlanGroup,
    PlanInstance,
    _edf,
    _heuristic,
    _Improver,
    _objective,
    _problem,
    _times,
    cpsat_fits,
    evaluate_plan,
    plan_queues,
)
from scheduling.rwt import OutputLengthStats

METHODS = ("edf", "auto", "cp-sat")


def flat(mean: float, std: float = 0.0) -> OutputLengthStats:
    return OutputLengthStats(prior_mean=mean, prior_std=std)


def spec_times(queues, groups, instances, stats, z):
    """The spec's processing rule, written out independently of the module."""
    by_key = {g.key: g for g in groups}
    ready, finish = {}, {}
    for inst in instances:
        t, cur = inst.available_at, inst.model
        for key in queues.get(inst.key, ()):
            g = by_key[key]
            s = stats[g.model]
            work = (g.requests * s.mean + z * s.std * math.sqrt(g.requests)) / inst.throughput[
                g.model
            ]
            if g.model != cur:
                if g.model not in inst.load_s:
                    return None  # cannot switch back to the initial model
                t += inst.load_s[g.model]
                cur = g.model
            ready[key] = t
            t += work
            finish[key] = t
    violations = sum(g.requests for g in groups if ready[g.key] > g.deadline)
    lateness = sum(g.requests * max(0.0, ready[g.key] - g.deadline) for g in groups)
    return ready, finish, violations, lateness


def all_plans(groups, instances, allow_model_swap=True):
    """Every placement of the groups into ordered queues (insertion at every position)."""

    def place(k, queues):
        if k == len(groups):
            yield {inst.key: tuple(q) for inst, q in zip(instances, queues, strict=True)}
            return
        g = groups[k]
        for i, inst in enumerate(instances):
            if g.model not in inst.throughput:
                continue
            if not allow_model_swap and inst.model != g.model:
                continue
            for pos in range(len(queues[i]) + 1):
                queue = [*queues[i][:pos], g.key, *queues[i][pos:]]
                yield from place(k + 1, [*queues[:i], queue, *queues[i + 1 :]])

    yield from place(0, [[] for _ in instances])


def brute_force(groups, instances, stats, z, allow_model_swap=True):
    """Minimum (violations, lateness) over every plan."""
    best = None
    for queues in all_plans(groups, instances, allow_model_swap):
        out = spec_times(queues, groups, instances, stats, z)
        if out is not None and (best is None or (out[2], out[3]) < best):
            best = (out[2], out[3])
    return best


def check_plan(plan, groups, instances, stats, z=1.645, allow_model_swap=True):
    """Every group once, on an instance that may run it; the evaluation is the spec's."""
    assert set(plan.queues) == {inst.key for inst in instances}
    placed = [key for queue in plan.queues.values() for key in queue]
    assert sorted(map(str, placed)) == sorted(str(g.key) for g in groups)
    assert len(placed) == len(set(placed))
    by_key = {inst.key: inst for inst in instances}
    models = {g.key: g.model for g in groups}
    for ikey, queue in plan.queues.items():
        for gkey in queue:
            assert models[gkey] in by_key[ikey].throughput
            if not allow_model_swap:
                assert by_key[ikey].model == models[gkey]
    ready, finish, violations, lateness = spec_times(plan.queues, groups, instances, stats, z)
    assert plan.ready == pytest.approx(ready, rel=1e-12, abs=1e-9)
    assert plan.finish == pytest.approx(finish, rel=1e-12, abs=1e-9)
    assert plan.violations == violations
    assert plan.lateness == pytest.approx(lateness, rel=1e-9, abs=1e-9)
    assert plan.method in ("edf", "cp-sat")
    assert plan.status in ("optimal", "feasible", "heuristic")
    assert (plan.method == "edf") == (plan.status == "heuristic")


# ----------------------------------------------------------------- hand-computed plans

HAND_STATS = {"a": flat(100.0, 20.0), "b": flat(50.0)}


def test_evaluate_plan_by_hand_with_swaps_and_the_clt_bound():
    gpu = PlanInstance("g0", "a", 10.0, {"a": 100.0, "b": 50.0}, {"a": 3.0, "b": 2.0})
    groups = [
        PlanGroup("x", "a", 12.0, 4),  # (4 * 100 + 1.5 * 20 * 2) / 100 = 4.6 s
        PlanGroup("y", "b", 16.0, 1),  # 50 / 50 = 1 s
        PlanGroup("u", "a", 17.0, 1),  # (100 + 1.5 * 20) / 100 = 1.3 s
    ]
    ready, finish, violations, lateness = evaluate_plan(
        {"g0": ["x", "y", "u"]}, groups, [gpu], length_stats=HAND_STATS, z=1.5
    )
    # x runs at once; y waits for the switch to b (2 s); u for the switch back (3 s)
    assert ready == pytest.approx({"x": 10.0, "y": 16.6, "u": 20.6}, abs=1e-12)
    assert finish == pytest.approx({"x": 14.6, "y": 17.6, "u": 21.9}, abs=1e-12)
    assert violations == 2  # y by 0.6 s, u by 3.6 s
    assert lateness == pytest.approx(0.6 + 3.6, abs=1e-12)
    assert list(ready) == ["x", "y", "u"]


def test_a_group_ready_exactly_at_its_deadline_is_on_time():
    gpu = PlanInstance("g", "a", 0.0, {"a": 100.0}, {})
    groups = [PlanGroup("p", "a", 99.0, 1), PlanGroup("q", "a", 1.0, 1)]  # works: 1.0 s
    out = evaluate_plan({"g": ("p", "q")}, groups, [gpu], length_stats={"a": flat(100.0)})
    assert out[0] == {"p": 0.0, "q": 1.0}
    assert out[2:] == (0, 0.0)
    out = evaluate_plan({"g": ("q", "p")}, groups, [gpu], length_stats={"a": flat(200.0)})
    assert out[2:] == (0, 0.0)
    out = evaluate_plan({"g": ("p", "q")}, groups, [gpu], length_stats={"a": flat(200.0)})
    assert out[0]["q"] == 2.0 and out[2:] == (1, 1.0)


def test_evaluate_plan_treats_left_out_instances_as_empty():
    a = PlanInstance("A", "a", 5.0, {"a": 100.0}, {})
    b = PlanInstance("B", "a", 0.0, {"a": 100.0}, {})
    groups = [PlanGroup(1, "a", 4.0, 3)]
    ready, finish, violations, lateness = evaluate_plan(
        {"A": [1]}, groups, [a, b], length_stats={"a": flat(100.0)}
    )
    assert (ready, finish, violations, lateness) == ({1: 5.0}, {1: 8.0}, 3, 3.0)


def test_edf_by_hand_deadline_order_and_earliest_ready_with_swaps():
    stats = {"a": flat(100.0), "b": flat(100.0)}  # 1 s per request at 100 tokens/s
    inst_a = PlanInstance("A", "a", 0.0, {"a": 100.0, "b": 100.0}, {"b": 5.0})
    inst_b = PlanInstance("B", "b", 1.0, {"a": 100.0, "b": 100.0}, {"a": 5.0})
    groups = [  # given out of deadline order
        PlanGroup("g4", "b", 10.0, 3),
        PlanGroup("g2", "b", 2.0, 1),
        PlanGroup("g1", "a", 1.0, 2),
        PlanGroup("g3", "a", 3.0, 1),
    ]
    plan = plan_queues(groups, [inst_a, inst_b], length_stats=stats, method="edf")
    # g1: A at 0 (B: 1 + 5); g2: B at 1 (A: 2 + 5); g3: A at 2; g4: B at 2 (A: 3 + 5)
    assert plan.queues == {"A": ("g1", "g3"), "B": ("g2", "g4")}
    assert plan.ready == {"g4": 2.0, "g2": 1.0, "g1": 0.0, "g3": 2.0}
    assert plan.finish == {"g4": 5.0, "g2": 2.0, "g1": 2.0, "g3": 3.0}
    assert (plan.violations, plan.lateness) == (0, 0.0)
    assert (plan.method, plan.status) == ("edf", "heuristic")
    assert plan.solve_s >= 0


def test_edf_ties_go_to_the_earlier_finish_then_the_earlier_instance():
    stats = {"a": flat(100.0)}
    slow = PlanInstance("slow", "a", 0.0, {"a": 100.0}, {})
    fast = PlanInstance("fast", "a", 0.0, {"a": 200.0}, {})
    twin = PlanInstance("twin", "a", 0.0, {"a": 100.0}, {})
    groups = [PlanGroup(k, "a", 100.0, 1) for k in range(4)]  # equal deadlines: input order
    plan = plan_queues(groups, [slow, fast, twin], length_stats=stats, method="edf")
    # 0: all ready at 0, fast finishes first; 1: slow and twin at 0, slow listed first;
    # 2: twin at 0; 3: fast at 0.5
    assert plan.queues == {"slow": (1,), "fast": (0, 3), "twin": (2,)}


def test_grouping_a_model_beats_edf_order():
    stats = {"a": flat(100.0), "b": flat(100.0)}
    gpu = PlanInstance("gpu", "a", 0.0, {"a": 100.0, "b": 100.0}, {"a": 4.0, "b": 4.0})
    groups = [
        PlanGroup("x", "a", 0.0, 1),
        PlanGroup("y", "b", 1.0, 1),
        PlanGroup("u", "a", 2.0, 1),
        PlanGroup("v", "b", 9.0, 1),
    ]
    edf = plan_queues(groups, [gpu], length_stats=stats, method="edf")
    assert edf.queues == {"gpu": ("x", "y", "u", "v")}
    assert edf.ready == {"x": 0.0, "y": 5.0, "u": 10.0, "v": 15.0}  # three swaps
    assert (edf.violations, edf.lateness) == (3, 4.0 + 8.0 + 6.0)
    assert brute_force(groups, [gpu], stats, 1.645) == (1, 5.0)
    for method in ("cp-sat", "auto"):
        best = plan_queues(groups, [gpu], length_stats=stats, method=method, time_limit_s=5)
        assert best.queues == {"gpu": ("x", "u", "y", "v")}
        assert best.ready == {"x": 0.0, "u": 1.0, "y": 6.0, "v": 7.0}
        assert (best.violations, best.lateness) == (1, 5.0)
        assert (best.method, best.status) == ("cp-sat", "optimal")


# ----------------------------------------------------------------- the heuristic path


def pattern_instances(count):
    """``count`` instances, each alone serving its own pair of models, one loaded."""
    stats, instances, groups = {}, [], []
    for i in range(count):
        a, b = f"a{i}", f"b{i}"
        stats[a] = stats[b] = flat(100.0)
        instances.append(PlanInstance(i, a, 0.0, {a: 100.0, b: 100.0}, {a: 4.0, b: 4.0}))
        # EDF runs x1, y, x2: x2 waits for two swaps and is 4 s late; x1, x2, y makes y
        # 1 s late instead (lateness only: no deferral helps, a relocation does)
        groups += [
            PlanGroup(f"x1-{i}", a, 0.0, 1),
            PlanGroup(f"y-{i}", b, 5.0, 1),
            PlanGroup(f"x2-{i}", a, 6.0, 1),
        ]
    return groups, instances, stats


def test_local_search_beats_edf_on_the_heuristic_path():
    groups, instances, stats = pattern_instances(32)
    prob = _problem(groups, instances, stats, 1.645, True)
    assert not cpsat_fits(int(((prob.eligible.sum(axis=0) + 1) ** 2).sum()), 0.05)
    edf = plan_queues(groups, instances, length_stats=stats, method="edf")
    assert (edf.violations, edf.lateness) == (32, 32 * 4.0)
    auto = plan_queues(groups, instances, length_stats=stats, method="auto")
    assert (auto.method, auto.status) == ("edf", "heuristic")
    assert auto.violations == 32
    assert auto.lateness < edf.lateness  # at least one queue reordered within 50 ms
    check_plan(auto, groups, instances, stats)
    # without a binding time limit every queue becomes x1, x2, y
    queues = _Improver(prob, _edf(prob)).run(time.perf_counter() + 60)
    assert _objective(prob, _times(prob, queues)[0]) == (32, 32 * 1.0)


def test_lost_groups_are_deferred_on_the_heuristic_path():
    stats, instances, groups = {}, [], []
    for i in range(8):  # 8 instances x 8 groups: above the CP-SAT size for "auto"
        stats[f"m{i}"] = flat(100.0)
        instances.append(PlanInstance(i, f"m{i}", 0.0, {f"m{i}": 100.0}, {}))
        groups.append(PlanGroup(f"lost-{i}", f"m{i}", -10.0, 10))  # late wherever it goes
        groups += [PlanGroup(f"ok-{i}-{j}", f"m{i}", 1.0 + j, 1) for j in range(7)]
    edf = plan_queues(groups, instances, length_stats=stats, method="edf")
    assert edf.violations == 8 * (10 + 7)  # the lost group first delays all the others
    auto = plan_queues(groups, instances, length_stats=stats, method="auto")
    assert (auto.method, auto.violations) == ("edf", 8 * 10)
    for i in range(8):
        assert auto.queues[i][-1] == f"lost-{i}"
    check_plan(auto, groups, instances, stats)


def test_the_heuristic_never_worsens_edf_and_mostly_reaches_brute_force():
    rng = np.random.default_rng(7)
    stats = {"a": flat(100.0, 30.0), "b": flat(60.0, 10.0)}
    reached = 0
    for _ in range(20):
        groups = [
            PlanGroup(k, str(rng.choice(["a", "b"])), float(rng.uniform(0, 6)), int(n))
            for k, n in enumerate(rng.integers(1, 4, 5))
        ]
        instances = [
            PlanInstance(i, str(rng.choice(["a", "b"])), float(rng.uniform(0, 2)),
                         {"a": 100.0, "b": 80.0}, {"a": 2.0, "b": 1.5})
            for i in range(2)
        ]  # fmt: skip
        prob = _problem(groups, instances, stats, 1.645, True)
        start = _edf(prob)
        before = _objective(prob, _times(prob, start)[0])
        after = _objective(prob, _times(prob, _heuristic(prob, start, math.inf))[0])
        assert after[0] < before[0] or (after[0] == before[0] and after[1] <= before[1])
        best = brute_force(groups, instances, stats, 1.645)
        assert after[0] > best[0] or after[1] >= best[1] - 1e-9
        reached += after[0] == best[0] and after[1] == pytest.approx(best[1], rel=1e-9)
    assert reached >= 14  # 16 of these 20 when written (EDF alone: 2)


# ----------------------------------------------------------------- CP-SAT vs brute force

GRID_MODELS = ("a", "b", "c")


@st.composite
def grid_states(draw):
    """Small states whose every time is a multiple of 1/4 s: the integer model is exact."""
    n_inst = draw(st.integers(1, 3))
    n_groups = draw(st.integers(2, 6 if n_inst < 3 else 5))
    models = GRID_MODELS[: draw(st.integers(1, 3))]
    stats = {
        m: flat(draw(st.sampled_from([100.0, 200.0, 400.0])), draw(st.sampled_from([0.0, 100.0])))
        for m in models
    }
    instances = []
    for i in range(n_inst):
        serves = draw(st.lists(st.sampled_from(models), min_size=1, unique=True))
        loaded = draw(st.sampled_from([None, *serves]))
        load_s = {m: draw(st.integers(0, 8)) / 2 for m in serves if m != loaded}
        if loaded is not None and draw(st.booleans()):
            load_s[loaded] = draw(st.integers(0, 8)) / 2  # else it cannot switch back
        rates = {m: draw(st.sampled_from([100.0, 200.0, 400.0])) for m in serves}
        instances.append(PlanInstance(f"i{i}", loaded, draw(st.integers(0, 8)) / 4, rates, load_s))
    held = sorted({inst.model for inst in instances if inst.model is not None})
    swap = not held or draw(st.integers(0, 3)) > 0
    served = sorted({m for inst in instances for m in inst.throughput}) if swap else held
    groups = [
        PlanGroup(
            f"g{k}",
            draw(st.sampled_from(served)),
            draw(st.integers(-4, 40)) / 4,
            draw(st.sampled_from([1, 4])),  # sqrt(n) exact: works stay on the grid
        )
        for k in range(n_groups)
    ]
    return groups, instances, stats, swap


@settings(max_examples=60)
@given(grid_states())
def test_cpsat_is_optimal_and_equals_brute_force_on_grid_inputs(state):
    groups, instances, stats, swap = state
    best = brute_force(groups, instances, stats, 1.0, swap)
    plan = plan_queues(
        groups,
        instances,
        length_stats=stats,
        z=1.0,
        allow_model_swap=swap,
        method="cp-sat",
        time_limit_s=10.0,
    )
    assert (plan.method, plan.status) == ("cp-sat", "optimal")
    assert (plan.violations, plan.lateness) == best
    check_plan(plan, groups, instances, stats, z=1.0, allow_model_swap=swap)
    for method in ("edf", "auto"):
        other = plan_queues(
            groups, instances, length_stats=stats, z=1.0, allow_model_swap=swap, method=method
        )
        check_plan(other, groups, instances, stats, z=1.0, allow_model_swap=swap)
        assert (other.violations, other.lateness) >= best


def test_off_grid_inputs_are_never_reported_optimal():
    # works of (n * 100 + 1.645 * 30 * sqrt(n)) / 100 s are not multiples of 1 ms
    stats = {"a": flat(100.0, 30.0)}
    gpu = PlanInstance("g", "a", 0.0, {"a": 100.0}, {})
    groups = [PlanGroup(k, "a", 1.0 + k, 2) for k in range(3)]
    plan = plan_queues(groups, [gpu], length_stats=stats, method="cp-sat", time_limit_s=5)
    assert (plan.method, plan.status) == ("cp-sat", "feasible")
    best = brute_force(groups, [gpu], stats, 1.645)
    assert plan.violations == best[0] and plan.lateness == pytest.approx(best[1])
    # the same state on the grid (z = 0) is proven
    plan = plan_queues(groups, [gpu], length_stats=stats, z=0.0, method="cp-sat", time_limit_s=5)
    assert plan.status == "optimal"


def test_a_coarse_time_unit_still_returns_the_better_plan_honestly():
    stats = {"a": flat(100.0)}
    gpu = PlanInstance("g", "a", 0.0, {"a": 100.0}, {})
    groups = [PlanGroup("p", "a", 1.4, 1), PlanGroup("q", "a", 1.0, 1)]  # works 1 s
    plan = plan_queues(
        groups, [gpu], length_stats=stats, method="cp-sat", time_limit_s=5, time_unit_s=1.0
    )
    # deadline 1.4 rounds down to 1: the model is not exact, whatever it proves
    assert plan.status in ("feasible", "heuristic")
    assert (plan.violations, plan.lateness) == (0, 0.0)
    assert plan.queues == {"g": ("q", "p")}


# ----------------------------------------------------------------- swaps and switch-backs


def test_no_model_swap_keeps_groups_on_instances_holding_their_model():
    stats = {"a": flat(100.0), "b": flat(100.0)}
    inst = [
        PlanInstance("A", "a", 0.0, {"a": 100.0, "b": 100.0}, {"b": 1.0}),
        PlanInstance("B", "b", 50.0, {"a": 100.0, "b": 100.0}, {"a": 1.0}),
    ]
    groups = [PlanGroup(f"b{k}", "b", 2.0, 1) for k in range(3)]
    for method in METHODS:
        swap = plan_queues(groups, inst, length_stats=stats, method=method)
        assert swap.queues["A"] and swap.violations < 3  # A switches to b and serves some
        kept = plan_queues(groups, inst, length_stats=stats, method=method, allow_model_swap=False)
        assert kept.queues == {"A": (), "B": ("b0", "b1", "b2")}
        assert kept.violations == 3
        check_plan(kept, groups, inst, stats, allow_model_swap=False)


def test_an_instance_without_a_reload_time_never_switches_back():
    stats = {"a": flat(100.0), "b": flat(100.0)}
    # the only instance for model a holds it and has no load_s entry for it
    only = PlanInstance("only", "a", 0.0, {"a": 100.0, "b": 100.0}, {"b": 1.0})
    groups = [
        PlanGroup("b-first", "b", 0.0, 1),  # EDF would like to switch to b at once
        PlanGroup("a-later", "a", 50.0, 1),
    ]
    for method in METHODS:
        plan = plan_queues(groups, [only], length_stats=stats, method=method)
        assert plan.queues == {"only": ("a-later", "b-first")}
        check_plan(plan, groups, [only], stats)
    with pytest.raises(ValueError, match="switches back to model 'a'"):
        evaluate_plan({"only": ["b-first", "a-later"]}, groups, [only], length_stats=stats)


def test_every_group_is_placed_once_on_random_states():
    rng = np.random.default_rng(11)
    stats = {"a": flat(220.0, 180.0), "b": flat(160.0, 120.0), "c": flat(300.0, 250.0)}
    for size in (3, 12, 40):
        for _ in range(3):
            instances = []
            for i in range(int(rng.integers(1, 7))):
                serves = [m for m in "abc" if rng.random() < 0.7] or ["a"]
                loaded = str(rng.choice(serves)) if rng.random() < 0.8 else None
                instances.append(
                    PlanInstance(f"i{i}", loaded, float(rng.uniform(0, 5)),
                                 {m: float(rng.uniform(1000, 4000)) for m in serves},
                                 {m: float(rng.uniform(5, 25)) for m in serves})
                )  # fmt: skip
            served = sorted({m for x in instances for m in x.throughput})
            groups = [
                PlanGroup(k, str(rng.choice(served)), float(rng.uniform(0, 60)), int(n))
                for k, n in enumerate(rng.integers(1, 30, size))
            ]
            edf = plan_queues(groups, instances, length_stats=stats, method="edf")
            check_plan(edf, groups, instances, stats)
            for method in ("auto", "cp-sat"):
                plan = plan_queues(groups, instances, length_stats=stats, method=method)
                check_plan(plan, groups, instances, stats)
                assert (plan.violations, plan.lateness) <= (edf.violations, edf.lateness)


def test_no_groups_gives_empty_queues():
    inst = [PlanInstance("A", None, 0.0, {"a": 1.0}, {"a": 1.0})]
    for method in METHODS:
        plan = plan_queues([], inst, length_stats={}, method=method)
        assert plan.queues == {"A": ()}
        assert (plan.ready, plan.finish, plan.violations, plan.lateness) == ({}, {}, 0, 0.0)


def test_results_are_deterministic():
    groups, instances, stats = pattern_instances(3)
    for method in METHODS:
        plans = [
            plan_queues(groups, instances, length_stats=stats, method=method, time_limit_s=5)
            for _ in range(2)
        ]
        assert plans[0].queues == plans[1].queues
        assert plans[0].status == plans[1].status


# ----------------------------------------------------------------- time limits and speed


def large_state(n_groups, n_inst, seed=0):
    rng = np.random.default_rng(seed)
    models = ("a", "b", "c")
    stats = {"a": flat(220.0, 180.0), "b": flat(160.0, 120.0), "c": flat(300.0, 250.0)}
    instances = [
        PlanInstance(i, models[i % 3], float(rng.uniform(0, 5)),
                     {m: float(rng.uniform(1500, 4000)) for m in models},
                     {m: 10.0 for m in models})
        for i in range(n_inst)
    ]  # fmt: skip
    groups = [
        PlanGroup(k, models[int(rng.integers(3))], float(rng.uniform(-5, 60)), int(n))
        for k, n in enumerate(rng.integers(1, 33, n_groups))
    ]
    return groups, instances, stats


def test_a_tiny_time_limit_is_kept_and_not_reported_optimal():
    groups, instances, stats = large_state(200, 16)
    for limit in (0.005, 0.02):
        began = time.perf_counter()
        plan = plan_queues(
            groups, instances, length_stats=stats, method="cp-sat", time_limit_s=limit
        )
        wall = time.perf_counter() - began
        assert wall < 0.25 and plan.solve_s <= wall
        assert plan.status != "optimal"
        check_plan(plan, groups, instances, stats)


def test_cpsat_keeps_the_time_limit_when_it_builds_a_model():
    groups, instances, stats = large_state(14, 4, seed=3)
    began = time.perf_counter()
    plan = plan_queues(groups, instances, length_stats=stats, method="cp-sat", time_limit_s=0.1)
    assert time.perf_counter() - began < 0.4
    check_plan(plan, groups, instances, stats)


def test_edf_and_auto_are_fast_at_200_groups_on_16_instances():
    groups, instances, stats = large_state(200, 16)
    edf, auto = [], []
    for _ in range(5):
        edf.append(plan_queues(groups, instances, length_stats=stats, method="edf").solve_s)
        auto.append(plan_queues(groups, instances, length_stats=stats).solve_s)
    assert sorted(edf)[2] < 0.05  # typically 2-4 ms; generous for a loaded CI machine
    assert sorted(auto)[2] < 0.15  # the default 50 ms limit bounds the local search


def test_auto_threshold():
    assert cpsat_fits(AUTO_CPSAT_MAX_ARCS, 0.05)
    assert not cpsat_fits(AUTO_CPSAT_MAX_ARCS + 1, 0.05)
    assert cpsat_fits(4 * AUTO_CPSAT_MAX_ARCS, 0.2)


# ----------------------------------------------------------------- validation

GOOD_INST = PlanInstance("I", "a", 0.0, {"a": 100.0, "b": 100.0}, {"b": 1.0})
GOOD_GROUP = PlanGroup("G", "a", 1.0, 1)
STATS2 = {"a": flat(100.0), "b": flat(100.0)}


@pytest.mark.parametrize(
    ("groups", "instances", "stats", "match"),
    [
        ([GOOD_GROUP, GOOD_GROUP], [GOOD_INST], STATS2, "duplicate group key 'G'"),
        ([GOOD_GROUP], [GOOD_INST, GOOD_INST], STATS2, "duplicate instance key 'I'"),
        ([PlanGroup("G", "a", 1.0, 0)], [GOOD_INST], STATS2, "group 'G': requests must be >= 1"),
        ([PlanGroup("G", "a", 1.0, 1.5)], [GOOD_INST], STATS2, "group 'G': requests must be an"),
        ([PlanGroup("G", "a", math.nan, 1)], [GOOD_INST], STATS2, "group 'G': deadline"),
        ([PlanGroup("G", "a", math.inf, 1)], [GOOD_INST], STATS2, "group 'G': deadline"),
        (
            [GOOD_GROUP],
            [PlanInstance("I", "a", math.nan, {"a": 1.0}, {})],
            STATS2,
            "instance 'I': available_at",
        ),
        (
            [GOOD_GROUP],
            [PlanInstance("I", "a", 0.0, {"a": 0.0}, {})],
            STATS2,
            r"instance 'I': throughput\['a'\]",
        ),
        (
            [GOOD_GROUP],
            [PlanInstance("I", "a", 0.0, {"a": -5.0}, {})],
            STATS2,
            r"instance 'I': throughput\['a'\]",
        ),
        (
            [GOOD_GROUP],
            [PlanInstance("I", "a", 0.0, {"a": 1.0, "b": 1.0}, {})],
            STATS2,
            "instance 'I': missing load_s entry for model 'b'",
        ),
        (
            [GOOD_GROUP],
            [PlanInstance("I", None, 0.0, {"a": 1.0}, {"a": -1.0})],
            STATS2,
            r"instance 'I': load_s\['a'\]",
        ),
        ([GOOD_GROUP], [GOOD_INST], {"b": flat(1.0)}, "model 'a' .*missing from length_stats"),
        ([PlanGroup("G", "c", 1.0, 1)], [GOOD_INST], {"c": flat(1.0)}, "group 'G': no instance"),
        ([GOOD_GROUP], [], STATS2, "group 'G': no instance can serve model 'a'"),
    ],
)
def test_bad_inputs_are_named_before_solving(groups, instances, stats, match, monkeypatch):
    import scheduling.qlm_plan as qp

    def no_solving(*args, **kwargs):
        raise AssertionError("solved before validating")

    monkeypatch.setattr(qp, "_edf", no_solving)
    monkeypatch.setattr(qp, "_solve_cpsat", no_solving)
    for method in METHODS:
        with pytest.raises(ValueError, match=match):
            plan_queues(groups, instances, length_stats=stats, method=method)
    with pytest.raises(ValueError, match=match):
        evaluate_plan({}, groups, instances, length_stats=stats)


def test_bad_options_are_named():
    args = ([GOOD_GROUP], [GOOD_INST])
    with pytest.raises(ValueError, match="method must be one of"):
        plan_queues(*args, length_stats=STATS2, method="milp")
    with pytest.raises(ValueError, match="time_limit_s"):
        plan_queues(*args, length_stats=STATS2, time_limit_s=0)
    with pytest.raises(ValueError, match="time_unit_s"):
        plan_queues(*args, length_stats=STATS2, time_unit_s=math.nan)
    with pytest.raises(ValueError, match="z must be a finite number"):
        plan_queues(*args, length_stats=STATS2, z=math.inf)
    with pytest.raises(ValueError, match=r"its work .* must be finite and >= 0"):
        plan_queues(*args, length_stats={"a": flat(1.0, 10.0), "b": flat(1.0)}, z=-2.0)
    with pytest.raises(ValueError, match="no instance can serve model 'b' with allow_model_swap"):
        plan_queues([PlanGroup("G", "b", 1.0, 1)], [GOOD_INST], length_stats=STATS2,
                    allow_model_swap=False)  # fmt: skip


@pytest.mark.parametrize(
    ("queues", "match"),
    [
        ({"I": ["G", "G"]}, "group 'G' is placed more than once"),
        ({"I": []}, "group 'G' is in no queue"),
        ({"X": ["G"]}, "unknown instance 'X'"),
        ({"I": ["G", "H"]}, "unknown group 'H'"),
    ],
)
def test_evaluate_plan_names_a_bad_plan(queues, match):
    with pytest.raises(ValueError, match=match):
        evaluate_plan(queues, [GOOD_GROUP], [GOOD_INST], length_stats=STATS2)


def test_evaluate_plan_rejects_a_group_on_an_instance_without_its_model():
    inst = PlanInstance("I", "b", 0.0, {"b": 1.0}, {})
    other = PlanInstance("J", "a", 0.0, {"a": 1.0}, {})
    with pytest.raises(ValueError, match=r"group 'G' .*cannot run on instance 'I'"):
        evaluate_plan({"I": ["G"]}, [GOOD_GROUP], [inst, other], length_stats=STATS2)
