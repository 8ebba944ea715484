"""Drafting, verification, draft budgets and the speculation replay."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_suffix import brute_continuations

from scheduling.engine import Instance
from scheduling.rollout_text import DATASETS, load_rollout, rollout_dir, synthetic_groups
from scheduling.spec_decode import (
    AcceptanceEstimator,
    AdaptiveDraftLen,
    accept,
    choose_draft_len,
    draft,
    expected_tokens,
    simulate_speculation,
    tree_size,
    verify_step_time,
)
from scheduling.suffix import SuffixAutomaton

tokens = st.integers(0, 2)
paths_st = st.lists(st.lists(tokens, min_size=1, max_size=5), max_size=4)


# ---------------------------------------------------------------- verification


@given(paths_st, st.lists(tokens, max_size=6))
def test_accept_is_the_longest_agreeing_prefix(paths, truth):
    want = 0
    for path in paths:
        for length in range(len(path), -1, -1):
            if length <= len(truth) and path[:length] == truth[:length]:
                want = max(want, length)
                break
    assert accept(paths, truth) == want
    assert accept([np.array(p) for p in paths], np.array(truth, dtype=np.int64)) == want


@given(paths_st)
def test_tree_size_counts_distinct_prefixes(paths):
    prefixes = {tuple(p[:i]) for p in paths for i in range(1, len(p) + 1)}
    assert tree_size(paths) == len(prefixes)


def test_draft_uses_the_index():
    index = SuffixAutomaton()
    index.extend("s", [1, 2, 3, 4, 1, 2, 5, 6])
    assert draft(index, [0, 1, 2], 2) == [(3, 4)]
    assert draft(index, [0, 1, 2], 2, paths=3) == [(3, 4), (5, 6)]
    assert draft(index, [0, 1, 2], 0) == []
    assert draft(index, [0, 1, 2], 2, exclude="s") == []
    with pytest.raises(ValueError, match="paths must be at least 1"):
        draft(index, [1], 2, paths=0)


# ---------------------------------------------------------------- budgets


@pytest.mark.parametrize(
    ("a", "g", "want"),
    [(0.5, 1, 1.5), (0.5, 2, 1.75), (0.8, 4, 3.3616), (0.0, 5, 1.0), (1.0, 4, 5.0), (0.3, 0, 1.0)],
)
def test_expected_tokens_known_values(a, g, want):
    assert expected_tokens(a, g) == pytest.approx(want, rel=1e-12)


@given(st.floats(0, 1), st.integers(0, 30))
def test_expected_tokens_is_the_geometric_sum(a, g):
    assert expected_tokens(a, g) == pytest.approx(sum(a**i for i in range(g + 1)), rel=1e-9)


def test_expected_tokens_matches_monte_carlo():
    rng = np.random.default_rng(0)
    a, g, n = 0.7, 5, 200_000
    hits = rng.random((n, g)) < a
    accepted = np.where(hits.all(axis=1), g, hits.argmin(axis=1))
    assert (accepted + 1).mean() == pytest.approx(expected_tokens(a, g), abs=0.01)


def test_expected_tokens_rejects_bad_input():
    with pytest.raises(ValueError, match="a must be at most 1"):
        expected_tokens(1.5, 2)
    with pytest.raises(ValueError, match="g must be at least 0"):
        expected_tokens(0.5, -1)


roofline = st.tuples(
    st.floats(1e-3, 0.1), st.floats(1e-5, 1e-2), st.floats(0.0, 0.01)
)  # memory floor, per-token compute, overhead


@settings(max_examples=200)
@given(st.floats(0, 1), st.integers(1, 128), roofline, st.integers(0, 16), st.integers(1, 4))
def test_choose_draft_len_is_the_exhaustive_optimum(a, batch, params, max_g, paths):
    floor, per_token, overhead = params

    def step(b, t):
        return max(floor, per_token * b * t) + overhead

    rates = [batch * expected_tokens(a, g) / step(batch, paths * g + 1) for g in range(max_g + 1)]
    best = max(rates)
    got = choose_draft_len(a, batch, step, max_g, paths=paths)
    assert rates[got] == best
    assert got == rates.index(best)  # the smallest optimal length


@settings(max_examples=100)
@given(st.floats(0, 0.99), st.floats(0, 0.99), st.sampled_from([1, 8, 32, 128]))
def test_longer_drafts_for_higher_acceptance(a, b, batch):
    cost = verify_step_time(Instance("codellama-34b", "a100", tp=2), context=1024)
    lo, hi = sorted((a, b))
    assert choose_draft_len(lo, batch, cost, 16) <= choose_draft_len(hi, batch, cost, 16)


def test_verify_step_time_is_a_prefill_chunk():
    inst = Instance("mistral-7b", "a100")
    f = verify_step_time(inst, context=500)
    assert f(4, 3) == inst.step_time(prefill_lengths=[3] * 4, prefill_offsets=[500] * 4)
    assert f(4, 1) == pytest.approx(inst.step_time(decode_contexts=[500] * 4), rel=1e-3)
    assert [f(64, t) for t in (1, 5, 9, 17)] == sorted(f(64, t) for t in (1, 5, 9, 17))


def test_choose_draft_len_bad_step_time():
    with pytest.raises(ValueError, match="positive finite"):
        choose_draft_len(0.5, 4, lambda b, t: 0.0, 3)
    with pytest.raises(TypeError, match="callable"):
        choose_draft_len(0.5, 4, 3.0, 3)


def test_adaptive_budget_follows_choose_draft_len():
    cost = verify_step_time(Instance("codellama-34b", "a100", tp=2), context=1024)
    budget = AdaptiveDraftLen(batch=16, step_time_fn=cost, max_g=12)
    for a in np.linspace(0, 1, 21):
        assert budget(float(a)) == choose_draft_len(round(float(a), 2), 16, cost, 12)


def test_acceptance_estimator_recovers_a():
    rng = np.random.default_rng(1)
    a, g = 0.7, 4
    est = AcceptanceEstimator()
    naive_acc = naive_drafted = 0
    for _ in range(20_000):
        hits = rng.random(g) < a
        accepted = g if hits.all() else int(hits.argmin())
        est.update(accepted, g)
        naive_acc += accepted
        naive_drafted += g
    assert est.rate == pytest.approx(a, abs=0.01)
    assert naive_acc / naive_drafted < a - 0.1  # accepted / drafted is biased low


def test_acceptance_estimator_truncation_is_not_a_rejection():
    est = AcceptanceEstimator()
    est.update(2, 5, truncated=True)
    assert est.rejections == 0 and est.accepted == 2
    est.update(2, 5)
    assert est.rejections == 1
    with pytest.raises(ValueError, match="drafted must be at least 3"):
        est.update(3, 2)


# ---------------------------------------------------------------- replay


def reference_replay(group, references, g, paths, lockstep, include_self=True):
    """Independent lockstep / round-robin replay with brute-force drafting."""
    n = len(group)
    size = references + 1
    blocks = [list(range(s, s + size)) for s in range(0, n - n % size, size)]
    counted = [set(b) for b in blocks]
    if n % size:
        blocks.append(list(range(n - size, n)))
        counted.append(set(range(n - n % size, n)))
    steps = [0] * n
    for members, keep in zip(blocks, counted, strict=True):
        visible = {i: [] for i in members}  # what the index holds
        out = {i: [] for i in members}
        local = dict.fromkeys(members, 0)
        while any(len(out[i]) < len(group[i]) for i in members):
            new = {}
            for i in members:
                if len(out[i]) >= len(group[i]):
                    continue
                exclude = None if include_self else i
                conts = brute_continuations(visible, out[i], g, paths, exclude) if g else []
                truth = group[i][len(out[i]) :]
                acc = accept([c for c, _ in conts], truth[:g])
                produced = truth[: acc + 1]
                out[i] += produced
                local[i] += 1
                if lockstep:
                    new[i] = produced
                else:
                    visible[i] = visible[i] + produced
            for i, produced in new.items():
                visible[i] = visible[i] + produced
        for i in keep:
            steps[i] = local[i]
    return steps


small_groups = st.lists(st.lists(st.integers(0, 2), max_size=12), min_size=1, max_size=5)


@settings(max_examples=150)
@given(
    small_groups,
    st.integers(0, 4),
    st.integers(0, 4),
    st.integers(1, 3),
    st.sampled_from(["lockstep", "round_robin"]),
    st.booleans(),
)
def test_replay_equals_a_brute_force_replay(group, references, g, paths, interleave, own):
    references = min(references, len(group) - 1)
    res = simulate_speculation(
        group,
        references=references,
        g=g,
        paths=paths,
        interleave=interleave,
        include_self=own,
    )
    want = reference_replay(group, references, g, paths, interleave == "lockstep", own)
    assert [s.steps for s in res.requests] == want


@settings(max_examples=100)
@given(
    small_groups,
    st.sampled_from(["none", "self", "grouped"]),
    st.integers(0, 5),
    st.integers(1, 3),
    st.booleans(),
    st.sampled_from(["lockstep", "round_robin"]),
)
def test_every_token_is_produced_exactly_once(group, mode, g, paths, include_self, interleave):
    references = len(group) - 1 if mode == "grouped" else 0
    res = simulate_speculation(
        group,
        references=references,
        g=g,
        paths=paths,
        mode=mode,
        include_self=include_self,
        interleave=interleave,
        trace=True,
    )
    for truth, s in zip(group, res.requests, strict=True):
        assert [t for step in s.produced for t in step] == truth
        assert all(1 <= len(step) <= g + 1 for step in s.produced)
        assert s.tokens == len(truth) and s.steps == len(s.produced)
        assert sum(s.steps_by_draft.values()) == s.steps
        # each step: its accepted draft tokens plus a bonus token, except when the text
        # ended on an accepted token (only possible in the last step)
        assert s.accepted - (s.tokens - s.steps) in ((0, 1) if s.steps else (0,))
        assert s.accepted <= s.drafted
    assert res.tokens == sum(len(t) for t in group)
    if res.steps:
        assert res.mean_acceptance == res.tokens / res.steps
        if mode == "none" or g == 0:
            assert res.mean_acceptance == 1.0


def test_none_is_exactly_one_token_per_step():
    groups = synthetic_groups(2, 6, mean_tokens=30, seed=3)
    for group in groups:
        res = simulate_speculation(group, mode="none")
        assert res.mean_acceptance == 1.0
        assert res.steps == res.tokens and res.drafted == res.accepted == 0


def test_lockstep_never_sees_a_siblings_future():
    """Identical siblings in lockstep are never ahead of each other: nothing to draft."""
    seq = list(range(10, 30))
    lock = simulate_speculation([seq, seq, seq], references=2, g=4)
    assert lock.mean_acceptance == 1.0 and lock.drafted == 0
    rr = simulate_speculation([seq, seq, seq], references=2, g=4, interleave="round_robin")
    assert rr.mean_acceptance > 1.5


def test_grouped_beats_self_when_a_sibling_is_ahead():
    body = list(range(100, 140))
    # request 1 writes request 0's text after 40 tokens of its own: by then request 0
    # has written all of it; request 1 matches its first token, then drafts g = 4
    # tokens and gets g + 1 per step
    group = [body, [*range(200, 240), *body]]
    self_only = simulate_speculation(group, mode="self", g=4)
    grouped = simulate_speculation(group, references=1, g=4)
    assert self_only.mean_acceptance == 1.0  # nothing repeats inside a request
    assert grouped.requests[1].steps == 40 + 1 + math.ceil((len(body) - 1) / 5)
    assert grouped.mean_acceptance > self_only.mean_acceptance
    assert grouped.requests[0].steps == len(body)  # request 0 is never behind


def test_zero_references_is_self_only():
    group = synthetic_groups(1, 5, mean_tokens=60, seed=4)[0]
    a = simulate_speculation(group, mode="self", g=6, paths=2)
    b = simulate_speculation(group, references=0, g=6, paths=2)
    assert [s.steps for s in a.requests] == [s.steps for s in b.requests]
    c = simulate_speculation(group, references=0, g=6, include_self=False)
    assert c.mean_acceptance == 1.0


def test_more_references_help_on_shared_segments():
    groups = synthetic_groups(3, 16, seed=5)

    def pooled(**kw):
        results = [simulate_speculation(g, g=8, **kw) for g in groups]
        return sum(r.tokens for r in results) / sum(r.steps for r in results)

    self_only = pooled(mode="self")
    few = pooled(references=3)
    all_ = pooled(references=15)
    assert 1.0 < self_only < few < all_
    assert pooled(references=15, paths=4) > all_


def test_adaptive_budget_in_the_replay():
    cost = verify_step_time(Instance("codellama-34b", "a100", tp=2), context=1024)
    group = synthetic_groups(1, 8, seed=6)[0]
    small = simulate_speculation(group, references=7, g=AdaptiveDraftLen(64, cost, 16))
    large = simulate_speculation(group, references=7, g=AdaptiveDraftLen(1, cost, 16))
    assert small.tokens == large.tokens == sum(len(t) for t in group)
    # a big batch is compute-bound: shorter drafts, fewer tokens drafted per step
    assert small.drafted / small.steps < large.drafted / large.steps


def test_replay_bad_inputs():
    with pytest.raises(ValueError, match="references must be at most 1"):
        simulate_speculation([[1], [2]], references=2)
    with pytest.raises(ValueError, match="references must be 0 with mode='self'"):
        simulate_speculation([[1], [2]], references=1, mode="self")
    with pytest.raises(ValueError, match="mode must be"):
        simulate_speculation([[1]], mode="suffix")
    with pytest.raises(ValueError, match=r"group_token_lists\[0\]\[1\]"):
        simulate_speculation([[1, -2]])
    with pytest.raises(ValueError, match="at least one request"):
        simulate_speculation([])
    with pytest.raises(ValueError, match="interleave"):
        simulate_speculation([[1]], interleave="random")


def test_empty_requests_take_no_steps():
    res = simulate_speculation([[], [1, 2, 3]], references=1, g=2)
    assert res.requests[0].steps == 0 and res.tokens == 3
    assert math.isnan(simulate_speculation([[]]).mean_acceptance)


needs_data = pytest.mark.skipif(
    not (rollout_dir() / DATASETS["pot"]).is_file(),
    reason=f"rollout data not found under {rollout_dir()} (../shared/data is absent)",
)


@needs_data
def test_real_siblings_raise_acceptance():
    data = load_rollout("pot", select=[0, 40, 80, 120])

    def pooled(**kw):
        results = [simulate_speculation(g, g=8, **kw) for g in data.groups]
        return sum(r.tokens for r in results) / sum(r.steps for r in results)

    self_only, few, all_ = pooled(mode="self"), pooled(references=3), pooled(references=29)
    assert 1.0 < self_only < few < all_


def test_numpy_groups():
    group = [np.array([1, 2, 3, 1, 2, 3], dtype=np.int64), np.array([], dtype=np.int64)]
    res = simulate_speculation(group, references=1, g=3)
    assert res.tokens == 6 and res.requests[1].steps == 0
    with pytest.raises(ValueError, match=r"group_token_lists\[0\]\[2\]"):
        simulate_speculation([np.array([1, 2, -3])])
    with pytest.raises(TypeError, match="1-D array of int"):
        simulate_speculation([np.array([1.5, 2.0])])
