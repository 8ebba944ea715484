"""The rollout scheduler and simulator: conservation, the estimates' rules, longest-first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_checks import RUN_SETTINGS, check_conservation, random_workload, tokens_by_audit
from serving_checks import small

from scheduling.engine import Instance
from scheduling.rollout_sched import InstanceRoom, RolloutScheduler
from scheduling.rollout_sim import simulate_rollout


@settings(max_examples=30, deadline=None)
@given(
    **RUN_SETTINGS,
    placement=st.sampled_from(["greedy", "matching"]),
)
def test_every_token_once_and_one_instance_at_a_time(
    seed, policy, static, migration, chunk, placement
):
    cap = 120
    _, group, prompt, length = random_workload(seed, 4, cap)
    spec = small("mistral-7b", 40)
    res = simulate_rollout(group, prompt, length, cap, spec, instances=3, policy=policy,
                           static=static, migration=migration, chunk_size=chunk, max_batch=4,
                           placement=placement, audit=True)  # fmt: skip
    ran_on = check_conservation(res, length, max_batch=4)
    if static:
        assert all(ks == {group[rid] % 3} for rid, ks in ran_on.items())
    assert res.summary["makespan_s"] == pytest.approx(np.nanmax(res.finish))


def test_context_aware_estimates_follow_the_rules():
    s = RolloutScheduler([0, 0, 0, 1, 1], [5] * 5, 1000, policy="context-aware", chunk_size=100)
    first = s.next_chunks(0.0, [InstanceRoom(2, 10**6)])
    assert [c.rid for c in first] == [0, 3]  # one probe per group first
    assert s.estimate(0) == s.estimate(1) == 1000  # the cap until one finishes
    s.chunk_done(1.0, 0, generated=100, finished=False)
    s.chunk_done(1.0, 3, generated=60, finished=True)
    assert s.estimate(1) == 60
    # probe 0 (unfinished, least served) first, then group 0 (remaining 1000) before
    # group 1 (remaining 60)
    order = [c.rid for c in s.next_chunks(1.0, [InstanceRoom(4, 10**6)])]
    assert order == [0, 1, 2, 4]
    s.chunk_done(2.0, 1, generated=100, finished=True)
    s.chunk_done(2.0, 0, generated=200, finished=False)
    assert s.estimate(0) == 100  # the longest finished request of the group
    s.chunk_done(2.0, 2, generated=50, finished=False)
    s.chunk_done(2.0, 4, generated=10, finished=False)
    # remaining by estimate: r0 max(100-200,1)=1, r2 50, r4 50 -> r2 and r4 before r0
    order = [c.rid for c in s.next_chunks(2.0, [InstanceRoom(3, 10**6)])]
    assert order == [2, 4, 0]


def test_starvation_guard_lets_a_long_waiter_go_first():
    s = RolloutScheduler([0, 1], [5, 5], 1000, policy="context-aware", chunk_size=10,
                         starvation_s=5.0)  # fmt: skip
    s.next_chunks(0.0, [InstanceRoom(2, 10**6)])
    s.chunk_done(0.0, 0, generated=10, finished=False)
    s.chunk_done(9.0, 1, generated=10, finished=False)
    assert [c.rid for c in s.next_chunks(10.0, [InstanceRoom(1, 10**6)])] == [0]  # waited 10 s


def test_oracle_longest_first_gets_the_optimal_makespan():
    """Two instances, one request at a time, lengths 20 / 40 / 60 arriving in that order:
    longest-first runs 60 alone and 40 then 20 (makespan of 60); first come first served
    runs 20 then 60 on one instance (makespan of 80)."""
    spec = Instance("mistral-7b", "a100")
    group = np.array([0, 1, 2])
    lengths = np.array([20, 40, 60])
    kwargs = dict(instances=2, chunk_size=1000, max_batch=1)
    oracle = simulate_rollout(group, [10] * 3, lengths, 100, spec, policy="oracle", **kwargs)
    # longest-first: 60 on one instance, 40 then 20 on the other: makespan = the 60-token
    # request alone (prefill + 59 decode steps) vs 40 + 20 back to back
    one = [spec.step_time([10])] + [spec.step_time([], [10 + t]) for t in range(1, 60)]
    two = [spec.step_time([10])] + [spec.step_time([], [10 + t]) for t in range(1, 40)]
    two += [spec.step_time([10])] + [spec.step_time([], [10 + t]) for t in range(1, 20)]
    assert oracle.summary["makespan_s"] == pytest.approx(max(sum(one), sum(two)))
    fifo = simulate_rollout(group, [10] * 3, lengths, 100, spec, policy="divided", **kwargs)
    assert fifo.summary["makespan_s"] > oracle.summary["makespan_s"]


def test_bad_inputs_are_refused():
    spec = Instance("mistral-7b", "a100")
    with pytest.raises(ValueError, match="output_tokens"):
        simulate_rollout([0], [5], [0], 10, spec)
    with pytest.raises(ValueError, match="policy must be one of"):
        simulate_rollout([0], [5], [3], 10, spec, policy="lifo")
    with pytest.raises(ValueError, match="oracle' needs true_lengths"):
        RolloutScheduler([0], [5], 10, policy="oracle")
    with pytest.raises(ValueError, match="exceed the"):
        simulate_rollout([0], [5], [3], 10**7, spec)


def test_matching_placement_places_in_priority_order_as_far_as_it_fits():
    """Three ready chunks of 600 KV tokens each (100 of prompt + 500 new), instances with
    1,000 and 600 free: one fits on each, and the matching picks the two first in
    priority order (first come first served here), not any two."""
    s = RolloutScheduler([0, 1, 2], [100, 100, 100], 1000, policy="divided", chunk_size=500,
                         placement="matching")  # fmt: skip
    orders = s.next_chunks(0.0, [InstanceRoom(3, 1000), InstanceRoom(3, 600)])
    used = {0: 0, 1: 0}
    for o in orders:
        used[o.instance] += 100 + o.max_new_tokens
    assert [o.rid for o in orders] == [0, 1]  # two chunks of 600 fit, the third does not
    assert used[0] <= 1000 and used[1] <= 600


def test_partial_rollout_stops_at_its_quota_and_carries_the_rest():
    spec = Instance("mistral-7b", "a100")
    group = np.arange(10)
    lengths = np.array([5, 10, 15, 20, 25, 30, 35, 40, 45, 400])
    full = simulate_rollout(group, [10] * 10, lengths, 400, spec, instances=2, policy="divided")
    part = simulate_rollout(group, [10] * 10, lengths, 400, spec, instances=2, policy="divided",
                            quota=0.9)  # fmt: skip
    assert part.summary["carried"] == 1 and np.isnan(part.finish[9])
    assert np.isfinite(part.finish[:9]).all()
    assert part.summary["makespan_s"] == pytest.approx(np.nanmax(part.finish))
    assert part.summary["makespan_s"] < full.summary["makespan_s"]
    assert 0 < part.tokens[9] < 400  # what the carried request had generated is kept
    assert part.summary["carried_tokens"] == part.tokens[9]
    assert (part.tokens[:9] == lengths[:9]).all()


def test_matching_placement_with_more_ready_chunks_than_slots():
    s = RolloutScheduler([0, 0, 1, 1, 2, 2], [10] * 6, 100, placement="matching")
    orders = s.next_chunks(0.0, [InstanceRoom(2, 10_000)])
    assert [o.rid for o in orders] == [0, 2]  # the probes, within the two slots
    spec = small("mistral-7b", 40)
    res = simulate_rollout(np.repeat(np.arange(8), 2), [10] * 16, [30] * 16, 64, spec,
                           instances=3, max_batch=4, placement="matching")  # fmt: skip
    assert res.tokens.tolist() == [30] * 16


def test_chunk_done_refuses_what_no_chunk_could_have_done():
    s = RolloutScheduler([0, 0], [10, 10], 100, policy="divided", chunk_size=20)
    s.next_chunks(0.0, [InstanceRoom(2, 10_000)])
    with pytest.raises(ValueError, match="request 5 has no chunk running"):
        s.chunk_done(1.0, 5, generated=3, finished=False)
    with pytest.raises(ValueError, match="request -1 has no chunk running"):
        s.chunk_done(1.0, -1, generated=3, finished=False)
    with pytest.raises(ValueError, match="allowed up to 20"):
        s.chunk_done(1.0, 0, generated=21, finished=False)
    with pytest.raises(ValueError, match="generated must be an int"):
        s.chunk_done(1.0, 0, generated=2.5, finished=False)
    s.chunk_done(1.0, 0, generated=20, finished=False)
    assert s.generated[0] == 20


def test_matching_placement_uses_every_instance_with_slots():
    """The assignment sees KV only; the chunks it stacks beyond an instance's batch slots
    go to the instances with slots left, so no instance idles while chunks wait."""
    s = RolloutScheduler([0, 0, 0, 1, 1, 1], [10] * 6, 100, policy="divided", chunk_size=50,
                         placement="matching")  # fmt: skip
    orders = s.next_chunks(0.0, [InstanceRoom(1, 10_000), InstanceRoom(5, 10_000)])
    assert sorted(o.rid for o in orders) == list(range(6))
    assert sum(o.instance == 0 for o in orders) == 1
    spec = Instance("mistral-7b", "a100")
    args = (np.repeat(np.arange(2), 3), [50] * 6, [200] * 6, 256, spec)
    kwargs = dict(instances=2, max_batch=3, policy="divided", chunk_size=256)
    runs = {pl: simulate_rollout(*args, placement=pl, **kwargs) for pl in ("greedy", "matching")}
    assert runs["matching"].summary["makespan_s"] == pytest.approx(
        runs["greedy"].summary["makespan_s"]
    )


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), policy=st.sampled_from(["fifo", "divided", "context-aware"]))
def test_carried_tokens_match_the_steps_that_ended(seed, policy):
    """Under a quota, with preemptions (few KV blocks) and chunks ending mid-flight, every
    request keeps exactly the tokens its ended steps produced (from the audit)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 14))
    group = rng.integers(0, 4, n)
    length = rng.integers(1, 121, n)
    spec = small("mistral-7b", 30)
    res = simulate_rollout(group, rng.integers(1, 30, n), length, 120, spec, instances=2,
                           policy=policy, chunk_size=int(rng.integers(8, 64)), max_batch=4,
                           quota=float(rng.uniform(0.3, 0.9)), audit=True)  # fmt: skip
    end = res.summary["makespan_s"]
    made = tokens_by_audit(res.audit, until=end)
    assert res.tokens.tolist() == [made[r] for r in range(n)]
    carried = np.flatnonzero(np.isnan(res.finish))
    assert res.summary["carried_tokens"] == sum(made[r] for r in carried)
    # the instances' busy time stops at the makespan
    busy = sum(min(stop, end) - start for _, start, stop, *_ in res.audit if start < end)
    assert res.summary["idle_s"] == pytest.approx(2 * end - busy)


def test_matching_placement_fills_a_slot_a_higher_priority_chunk_cannot_use():
    """The first-come chunk (500 + 10 KV tokens) fits nowhere; the next one fits the only
    slot: matching placement gives it the slot, as greedy placement does."""
    for placement in ("greedy", "matching"):
        s = RolloutScheduler([0, 1], [500, 10], 100, policy="divided", chunk_size=10,
                             placement=placement)  # fmt: skip
        orders = s.next_chunks(0.0, [InstanceRoom(1, 100)])
        assert [(o.rid, o.instance) for o in orders] == [(1, 0)], placement
