"""Speculative decoding in the rollout simulator: streams, drafting, conservation, cost."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_checks import RUN_SETTINGS, check_conservation, random_workload, tokens_by_audit
from serving_checks import small

from scheduling.engine import Instance
from scheduling.llm_sim import ServingInstance, _Seq
from scheduling.rollout_sim import simulate_rollout
from scheduling.rollout_spec import RolloutSpeculator, rollout_streams
from scheduling.rollout_text import DATASETS, rollout_dir


def _kv_checked(monkeypatch) -> list[int]:
    """Check after every engine step that the KV blocks add up; return the step count."""
    seen = [0]
    step = ServingInstance.step

    def checked(self, now, speculate=None):
        out = step(self, now, speculate)
        held = sum(s.blocks for s in self.running)
        assert 0 <= self.free_blocks and held + self.free_blocks == self.spec.kv_blocks
        for s in self.running:  # every running sequence's context fits its blocks
            assert s.prompt + s.generated <= s.blocks * self.spec.block_size
        seen[0] += 1
        return out

    monkeypatch.setattr(ServingInstance, "step", checked)
    return seen


@settings(max_examples=25, deadline=None)
@given(
    **RUN_SETTINGS,
    mode=st.sampled_from(["self", "grouped"]),
    paths=st.integers(1, 3),
    max_draft=st.integers(1, 8),
    adaptive=st.booleans(),
)
def test_every_token_once_with_speculation(
    seed, policy, static, migration, chunk, mode, paths, max_draft, adaptive
):
    cap = 150
    rng, group, prompt, length = random_workload(seed, 3, cap)
    size = int(np.bincount(group).max())
    spec = small("mistral-7b", 30)  # few KV blocks: drafts compete for them
    streams = rollout_streams(group, length, data="synthetic", seed=seed % 7)
    refs = None if mode == "self" else int(rng.integers(0, size))
    spec_dec = RolloutSpeculator(streams, group, spec, mode=mode, paths=paths,
                                 references=None if mode == "self" else refs,
                                 max_draft=max_draft, adaptive=adaptive)  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        steps = _kv_checked(mp)
        res = simulate_rollout(group, prompt, length, cap, spec, instances=3, policy=policy,
                               static=static, migration=migration, chunk_size=chunk,
                               max_batch=4, speculation=spec_dec, audit=True)  # fmt: skip
    assert steps[0] == res.summary["steps"]
    check_conservation(res, length, max_batch=4, max_step_tokens=max_draft + 1)
    s = res.summary
    # tokens per verification step: produced = accepted + one per step
    assert s["accepted"] <= s["drafted"]
    assert s["acceptance_length"] >= 1.0
    assert spec_dec.tokens == spec_dec.accepted + spec_dec.steps


def _two_copies(length: int):
    """A group of two requests writing the same non-repeating text."""
    text = np.arange(1000, 1000 + length)
    return [text, text.copy()]


def test_a_finished_sibling_is_drafted_from_in_full():
    """Request 1 writes what request 0 wrote; with one request at a time, request 0 runs
    alone first and request 1 then accepts every draft token: its steps after the first
    token (from the prefill) each produce g + 1 tokens."""
    spec = Instance("mistral-7b", "a100")
    length, g = 41, 4
    streams = _two_copies(length)
    runs = {}
    for mode in ("self", "grouped"):
        sp = RolloutSpeculator(streams, [0, 0], spec, mode=mode, max_draft=g, adaptive=False)
        runs[mode] = simulate_rollout([0, 0], [8, 8], [length] * 2, 64, spec, instances=1,
                                      max_batch=1, policy="divided", chunk_size=64,
                                      speculation=sp)  # fmt: skip
        runs[mode] = (runs[mode], sp)
    res, sp = runs["grouped"]
    # request 0: nothing to draft from (no repeats): 40 plain steps; request 1: 40 / 5
    assert sp.steps == 40 + 8
    assert sp.tokens == 80 and sp.accepted == 32
    assert res.summary["acceptance_length"] == pytest.approx(80 / 48)
    res_self, sp_self = runs["self"]
    assert sp_self.accepted == 0 and sp_self.steps == 80  # its own text never repeats
    # the verification cost: request 1's steps verify 5 tokens after its context
    first = spec.step_time([8])
    plain = [spec.step_time([], [8 + t]) for t in range(1, length)]
    spec_steps = [spec.step_time([5], [], [8 + t]) for t in range(1, length, 5)]
    expected = 2 * first + sum(plain) + sum(spec_steps)
    assert res.summary["makespan_s"] == pytest.approx(expected)
    assert res_self.summary["makespan_s"] == pytest.approx(2 * first + 2 * sum(plain))


def test_a_sibling_at_the_same_pace_gives_nothing_to_draft():
    """Both copies run together in one batch: each sees the other's tokens only when the
    step that produced them has ended, i.e. exactly its own text so far, whose only
    occurrences have no next token -- so nothing is drafted. A drafter that peeked at the
    sibling's tokens of the running step would accept."""
    spec = Instance("mistral-7b", "a100")
    streams = _two_copies(30)
    sp = RolloutSpeculator(streams, [0, 0], spec, max_draft=4, adaptive=False)
    res = simulate_rollout([0, 0], [8, 8], [30, 30], 64, spec, instances=1, max_batch=2,
                           policy="divided", chunk_size=64, speculation=sp)  # fmt: skip
    assert sp.accepted == 0 and res.summary["acceptance_length"] == 1.0
    assert res.tokens.tolist() == [30, 30]


def test_references_split_a_group_into_blocks():
    """Four copies of one text, one request at a time: with references=1 the blocks are
    {0, 1} and {2, 3}, so requests 1 and 3 draft from a finished copy and 2 does not."""
    spec = Instance("mistral-7b", "a100")
    text = np.arange(500, 521)
    streams = [text] * 4
    sp = RolloutSpeculator(streams, [0] * 4, spec, references=1, max_draft=4, adaptive=False)
    simulate_rollout([0] * 4, [4] * 4, [21] * 4, 32, spec, instances=1, max_batch=1,
                     policy="divided", chunk_size=32, speculation=sp)  # fmt: skip
    # requests 0 and 2: 20 plain steps each; requests 1 and 3: 20 / 5 = 4 steps each
    assert sp.steps == 2 * 20 + 2 * 4 and sp.accepted == 2 * 16
    full = RolloutSpeculator(streams, [0] * 4, spec, max_draft=4, adaptive=False)
    simulate_rollout([0] * 4, [4] * 4, [21] * 4, 32, spec, instances=1, max_batch=1,
                     policy="divided", chunk_size=32, speculation=full)  # fmt: skip
    assert full.steps == 20 + 3 * 4


def test_the_draft_budget_follows_the_batch_and_the_acceptance():
    spec = Instance("llama-2-70b", "h800", tp=8)
    sp = RolloutSpeculator([[1] * 10], [0], spec, max_draft=16)
    small_batch = sp._budget(0, 4, 2000)
    big_batch = sp._budget(0, 256, 2000)
    assert small_batch > big_batch  # verifying costs more once the step is compute-bound
    for _ in range(30):  # the estimate falls after rejections: shorter drafts
        sp._estimator[0].update(0, 4)
    assert sp._budget(0, 4, 2000) < small_batch


def test_streams_follow_the_construction_exactly():
    """Two prompts of two 5-token samples, a group of two 20-token requests: m = 2
    prompts, alternating; in cycle 0 the siblings take different samples of the same
    prompt; in cycle 1 the samples run out and are reused (counted)."""
    pool = [[list(range(10, 15)), list(range(20, 25))], [list(range(30, 35)), list(range(40, 45))]]
    s = rollout_streams([7, 7], [20, 20], data=pool, seed=5)
    assert s.source == "given" and s.prompts_per_group == 2
    assert s.segments == 8 and s.reused_segments == 4
    assert s.revisit_tokens == 2 * 10  # segments 2 and 3 of each request revisit a prompt
    assert "4 reuse a sample of the same group, 50% of the tokens revisit" in s.describe()
    segs = [[tuple(t[i : i + 5].tolist()) for i in range(0, 20, 5)] for t in s.tokens]
    prompt_of = {tuple(x): q for q, g in enumerate(pool) for x in g}
    for k in range(4):
        a, b = segs[0][k], segs[1][k]
        assert prompt_of[a] == prompt_of[b]  # siblings answer the same prompt
        if k < 2:
            assert a != b  # with different samples while they last
    assert prompt_of[segs[0][0]] != prompt_of[segs[0][1]]  # the prompts alternate
    assert prompt_of[segs[0][0]] == prompt_of[segs[0][2]]


def test_streams_have_the_lengths_and_fall_back_to_the_generator(tmp_path):
    group = np.repeat(np.arange(3), 4)
    length = np.array([50, 400, 1200, 3] * 3)
    s = rollout_streams(group, length, data="synthetic", seed=3)
    assert [len(t) for t in s.tokens] == length.tolist()
    assert s.source == "synthetic" and s.reused_segments == 0
    auto = rollout_streams(group, length, data="auto", data_dir=tmp_path, seed=3)
    assert auto.source == "synthetic"  # no data folder there
    assert all(np.array_equal(x, y) for x, y in zip(auto.tokens, s.tokens, strict=True))
    with pytest.raises(FileNotFoundError):
        rollout_streams(group, length, data="codet", data_dir=tmp_path)


@pytest.mark.skipif(
    not (rollout_dir() / DATASETS["codet"]).is_file(),
    reason="../shared/data/rollout (the real sibling samples) is absent",
)
def test_real_streams_are_concatenated_samples():
    from scheduling.rollout_text import load_rollout

    s = rollout_streams([0, 0], [300, 300], data="codet", seed=1)
    assert s.source == "codet (real)"
    samples = {tuple(t.tolist()) for g in load_rollout("codet").groups for t in g if t.size}
    head = s.tokens[0].tolist()
    assert any(tuple(head[: len(x)]) == x for x in samples)  # it opens with a real sample
    # pooled: a group of 16 only answers prompts with 16 samples or more (not tot_text's
    # 10), so no sibling repeats another's sample in the first pass
    pooled = rollout_streams(np.zeros(16, int), np.full(16, 3000), data="all", seed=2)
    assert pooled.source.startswith("codet+pot") and pooled.reused_segments == 0


def test_bad_speculation_inputs_are_refused():
    spec = Instance("mistral-7b", "a100")
    with pytest.raises(ValueError, match="one stream per request"):
        RolloutSpeculator([[1, 2]], [0, 0], spec)
    with pytest.raises(ValueError, match="mode must be"):
        RolloutSpeculator([[1]], [0], spec, mode="none")
    with pytest.raises(ValueError, match="references"):
        RolloutSpeculator([[1], [2]], [0, 0], spec, references=2)
    sp = RolloutSpeculator([[1, 2]], [0], spec)
    with pytest.raises(ValueError, match="fewer than its output length"):
        simulate_rollout([0], [5], [3], 10, spec, speculation=sp)
    with pytest.raises(ValueError, match="data must be"):
        rollout_streams([0], [3], data="wiki")


def test_an_engine_refuses_a_draft_it_has_no_room_for():
    spec = Instance("mistral-7b", "a100")
    eng = ServingInstance(spec)
    eng.enqueue(_Seq(0, 5, 10))
    eng.step(0.0)  # prefill: first token
    with pytest.raises(ValueError, match="needs 0 <= drafted <= 8"):
        eng.step(1.0, lambda seq, room, batch: (room + 1, 1))
    with pytest.raises(ValueError, match="1 <= produced <= drafted"):
        eng.step(1.0, lambda seq, room, batch: (2, 4))


def test_groups_need_not_be_contiguous():
    """Requests 1 (group 1) and 2 (group 0) write the same text: with interleaved group
    ids, grouped drafting from 0 references is self-only drafting, never another
    group's index."""
    spec = Instance("mistral-7b", "a100")
    text = np.arange(2000, 2041)
    streams = [np.arange(10, 51), text, text, np.arange(60, 101)]
    group = [0, 1, 0, 1]
    kwargs = dict(instances=1, max_batch=1, policy="divided", chunk_size=64)
    accepted = {}
    for mode, refs in (("self", None), ("grouped", 0)):
        sp = RolloutSpeculator(streams, group, spec, mode=mode, references=refs, max_draft=4,
                               adaptive=False)  # fmt: skip
        simulate_rollout(group, [8] * 4, [41] * 4, 64, spec, speculation=sp, **kwargs)
        accepted[mode] = sp.accepted
    assert accepted == {"self": 0, "grouped": 0}


def test_speculation_counts_only_steps_that_ended():
    """Under a quota, the step cut off at the end is neither in the tokens nor in the
    acceptance counts."""
    spec = Instance("mistral-7b", "a100")
    text = np.arange(3000, 3200)
    streams = [text, text[:150], text[:20]]
    sp = RolloutSpeculator(streams, [0, 0, 0], spec, max_draft=4, adaptive=False)
    res = simulate_rollout([0, 0, 0], [900, 8, 8], [200, 150, 20], 256, spec, instances=2,
                           max_batch=1, policy="divided", chunk_size=256, quota=0.3,
                           speculation=sp, audit=True)  # fmt: skip
    end = res.summary["makespan_s"]
    cut = [tokens for _, _, stop, _, tokens in res.audit if stop > end]
    assert cut and res.summary["carried"] >= 1  # a step was running when the quota hit
    produced = int(res.tokens.sum())
    assert produced == sum(tokens_by_audit(res.audit, until=end).values())
    # verification steps produce all but each started request's first token (prefill)
    assert sp.tokens == produced - int((res.tokens > 0).sum())


def test_a_speculator_serves_one_matching_simulation():
    spec = Instance("mistral-7b", "a100")
    sp = RolloutSpeculator([[1, 2, 3]] * 2, [0, 0], spec)
    with pytest.raises(ValueError, match="built for other groups"):
        simulate_rollout([0, 1], [5, 5], [3, 3], 10, spec, speculation=sp)
    sp = RolloutSpeculator([[1, 2, 3]] * 2, [0, 0], spec)
    simulate_rollout([0, 0], [5, 5], [3, 3], 10, spec, speculation=sp)
    with pytest.raises(ValueError, match="serves one simulation"):
        simulate_rollout([0, 0], [5, 5], [3, 3], 10, spec, speculation=sp)
    with pytest.raises(TypeError, match=r"group_of\[0\] = 0.5 is not an integer id"):
        rollout_streams([0.5, 1.7], [2, 2])
    with pytest.raises(ValueError, match=r"streams\[1\]\[0\] = -3 is not a token id"):
        RolloutSpeculator([[1], [-3]], [0, 0], spec)
    with pytest.raises(TypeError, match="adaptive"):
        RolloutSpeculator([[1]], [0], spec, adaptive="no")


def test_chunked_prefill_completion_step_takes_no_draft():
    spec = Instance("mistral-7b", "a100")
    eng = ServingInstance(spec, max_batched_tokens=64, chunked_prefill=True)
    eng.enqueue(_Seq(0, 100, 50))
    asked = []

    def speculate(seq, room, batch):
        asked.append(seq.generated)
        return min(3, room), min(3, room) + 1

    end, _, _ = eng.step(0.0, speculate)  # 64 of the 100 prompt tokens
    end, first, _ = eng.step(end, speculate)  # the other 36: the first token
    assert asked == [] and eng.running[0].generated == 1 and len(first) == 1
    eng.step(end, speculate)  # now it decodes, verifying a draft of 3
    assert asked == [1] and eng.running[0].generated == 5


def test_a_refused_simulation_leaves_the_speculator_unused():
    spec = Instance("mistral-7b", "a100")
    sp = RolloutSpeculator([list(range(10))] * 4, [0, 0, 1, 1], spec)
    args = ([0, 0, 1, 1], [10] * 4, [5, 7, 3, 4], 10, spec)
    with pytest.raises(ValueError, match="policy must be one of"):
        simulate_rollout(*args, instances=2, speculation=sp, policy="bogus")
    with pytest.raises(ValueError, match="request 2 is in group 1 there, 0 in the workload"):
        simulate_rollout([0, 0, 0, 1], *args[1:], instances=2, speculation=sp)
    res = simulate_rollout(*args, instances=2, speculation=sp)  # still usable
    assert res.tokens.tolist() == [5, 7, 3, 4]
    with pytest.raises(ValueError, match="group 1 has 0 siblings"):
        RolloutSpeculator([[1]] * 3, [0, 0, 1], spec, references=1)
    with pytest.raises(ValueError, match="group_of must be >= 0"):
        rollout_streams([0, -1], [1, 2], data=[[[1, 2]]])
    with pytest.raises(TypeError, match="data must be a data set name"):
        rollout_streams([0], [1], data=5)


def test_a_bad_draft_answer_reserves_no_draft_block():
    spec = Instance("mistral-7b", "a100")
    eng = ServingInstance(spec)
    for rid in range(3):
        eng.enqueue(_Seq(rid, 5, 40))
    eng.step(0.0)  # prefill: first tokens
    answers = iter([(2, 3), (2, 3), (10**6, 1)])
    with pytest.raises(ValueError, match="needs 0 <= drafted"):
        eng.step(1.0, lambda seq, room, batch: next(answers))
    next_token = [spec.blocks_for(s.prompt + s.generated + 1) for s in eng.running]
    assert [s.blocks for s in eng.running] == next_token  # only what _grow gave
    assert eng.free_blocks + sum(next_token) == spec.kv_blocks
