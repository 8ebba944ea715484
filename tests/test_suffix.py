"""The suffix automaton against brute-force search, and the rollout data loaders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.rollout_text import (
    DATASETS,
    gpt2_encoding,
    load_rollout,
    rollout_dir,
    synthetic_groups,
)
from scheduling.suffix import SuffixAutomaton

# ---------------------------------------------------------------- brute force


def occurrences(seqs, pattern, exclude=None, followed=False):
    """(seq, end) of every occurrence of ``pattern`` (non-empty) in the sequences."""
    n = len(pattern)
    out = []
    for s, seq in seqs.items():
        if s == exclude:
            continue
        for end in range(n - 1, len(seq)):
            if followed and end + 1 >= len(seq):
                continue
            if tuple(seq[end - n + 1 : end + 1]) == tuple(pattern):
                out.append((s, end))
    return out


def brute_longest(seqs, context, exclude=None, followed=False):
    """Longest suffix length of ``context`` with an occurrence, and its occurrence count."""
    for length in range(len(context), 0, -1):
        suffix = context[len(context) - length :]
        if occurrences(seqs, suffix, exclude, followed):
            return length, len(occurrences(seqs, suffix, exclude))
    return 0, 0


def brute_continuations(seqs, context, max_len, k, exclude=None, min_match=1):
    """The documented selection, on an explicit trie of the occurrences' continuations."""
    length, _ = brute_longest(seqs, context, exclude, followed=True)
    if length < min_match:
        return []
    suffix = context[len(context) - length :]
    conts = [
        tuple(seqs[s][end + 1 : end + 1 + max_len])
        for s, end in occurrences(seqs, suffix, exclude, followed=True)
    ]

    def count(prefix):
        return sum(1 for c in conts if c[: len(prefix)] == prefix)

    def children(prefix):
        return sorted(
            {c[len(prefix)] for c in conts if len(c) > len(prefix) and c[: len(prefix)] == prefix}
        )

    def greedy(prefix):
        options = []
        while len(prefix) < max_len:
            kids = children(prefix)
            if not kids:
                break
            best = max(kids, key=lambda t: (count((*prefix, t)), -t))
            options += [(*prefix, t) for t in kids if t != best]
            prefix = (*prefix, best)
        return prefix, options

    chosen, frontier = [], []
    prefix = ()
    while True:
        path, options = greedy(prefix)
        chosen.append((path, tuple(count(path[: i + 1]) for i in range(len(path)))))
        frontier += options
        if len(chosen) >= k or not frontier:
            return chosen
        frontier.sort(key=lambda p: (-count(p), len(p), p))
        prefix = frontier.pop(0)


# ---------------------------------------------------------------- strategies

# (sequence, token): appends interleaved across three sequences; binary and ternary
# alphabets (binary text repeats most, so its automaton has the most clones and splits)
operations = st.one_of(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1)), max_size=30),
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), max_size=40),
)
contexts = st.lists(st.integers(0, 2), max_size=10)


def build(ops):
    index, seqs = SuffixAutomaton(), {}
    for s, token in ops:
        index.append(s, token)
        seqs.setdefault(s, []).append(token)
    return index, seqs


@settings(max_examples=600)
@given(operations, contexts, st.sampled_from([None, 0, 1]), st.booleans())
def test_longest_match_equals_brute_force(ops, context, exclude, followed):
    index, seqs = build(ops)
    m = index.longest_match(context, exclude=exclude, followed=followed)
    length, count = brute_longest(seqs, context, exclude, followed)
    assert (m.length, m.count) == (length, count)
    if length:
        seq = seqs[m.seq_id]
        assert m.seq_id != exclude
        assert tuple(seq[m.end - length + 1 : m.end + 1]) == tuple(context[-length:])
        if followed:
            assert m.end + 1 < len(seq)
    else:
        assert m.seq_id is None


@settings(max_examples=300)
@given(
    operations,
    contexts,
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([None, 0, 2]),
    st.integers(1, 2),
)
def test_continuations_equal_brute_force(ops, context, max_len, k, exclude, min_match):
    index, seqs = build(ops)
    got = index.continuations(context, max_len, k, exclude=exclude, min_match=min_match)
    want = brute_continuations(seqs, context, max_len, k, exclude, min_match)
    assert [(c.tokens, c.counts) for c in got] == want


@settings(max_examples=100)
@given(operations, st.integers(0, 2))
def test_every_substring_count_is_exact(ops, s):
    """Counts of every substring of a sequence, checked while the appends interleave."""
    index, seqs = SuffixAutomaton(), {}
    for step, (seq_id, token) in enumerate(ops):
        index.append(seq_id, token)
        seqs.setdefault(seq_id, []).append(token)
        if step % 7 == 0 and s in seqs:
            text = seqs[s]
            for i in range(len(text)):
                for j in range(i + 1, min(len(text), i + 4) + 1):
                    m = index.longest_match(text[i:j])
                    assert m.length == j - i
                    assert m.count == len(occurrences(seqs, text[i:j]))


def test_match_stops_inside_an_edge():
    """A mismatch on the last token of an edge ends the match there."""
    ops = [(1, 0), (1, 1), (0, 1), (1, 1), (0, 0), (1, 0), (1, 1)]
    ops += [(0, 1), (1, 1), (0, 0), (1, 0), (1, 0), (0, 1)]
    index, seqs = build(ops)
    context = [0, 0, 0, 1, 1, 1, 1]
    assert index.longest_match(context).length == brute_longest(seqs, context)[0] == 2


def test_size_bounds_and_work_on_text():
    rng = np.random.default_rng(0)
    index = SuffixAutomaton()
    total = 0
    for _ in range(400):
        for s in range(5):
            index.extend(s, rng.integers(0, 4, size=3).tolist())
            total += 3
    assert len(index) == total
    assert index.n_states <= 2 * total
    assert index.n_transitions <= 3 * total
    assert index.work() >= total


def test_self_occurrence_at_the_end_is_not_a_draft():
    index = SuffixAutomaton()
    index.extend("me", [1, 2, 3])
    assert index.continuations([1, 2, 3], 4) == []  # only itself, nothing follows
    index.extend("sib", [2, 3, 7, 8])
    [c] = index.continuations([1, 2, 3], 4)
    assert c.tokens == (7, 8) and c.counts == (1, 1)
    assert index.continuations([1, 2, 3], 4, exclude="sib") == []


def test_bad_inputs_raise_clearly():
    index = SuffixAutomaton()
    with pytest.raises(TypeError, match="token must be an int"):
        index.append(0, 1.5)
    with pytest.raises(ValueError, match="token must be >= 0"):
        index.append(0, -1)
    with pytest.raises(TypeError, match="hashable"):
        index.append([1], 1)
    with pytest.raises(ValueError, match="max_len must be at least 1"):
        index.continuations([1], 0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.continuations([1], 2, k=0)
    with pytest.raises(TypeError, match="context"):
        index.longest_match("abc")
    with pytest.raises(KeyError, match="unknown sequence"):
        index.sequence("nope")


def test_numpy_inputs():
    index = SuffixAutomaton()
    index.extend("a", np.array([3, 4, 5, 3, 4]))
    m = index.longest_match(np.array([9, 3, 4]), followed=True)
    assert (m.length, m.count, m.end) == (2, 2, 1)


# ---------------------------------------------------------------- loaders

needs_data = pytest.mark.skipif(
    not all((rollout_dir() / f).is_file() for f in DATASETS.values()),
    reason=f"rollout data not found under {rollout_dir()} (../shared/data is absent)",
)

# README: prompts x samples, tokens p10/p50/p90/max
EXPECTED = {
    "codet": (164, 100, 0, 1297),
    "pot": (253, 30, 2, 420),
    "tot_text": (100, 10, 0, 582),
}


@needs_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loaders_match_the_readme(name):
    data = load_rollout(name)
    prompts, samples, skipped, longest = EXPECTED[name]
    assert data.n_groups == prompts == len(data.groups)
    assert set(data.group_sizes) == {samples}
    assert data.skipped == skipped
    assert max(int(t.size) for g in data.groups for t in g) == longest
    if name == "pot":
        assert data.skipped_lines == (62, 168)
    enc = gpt2_encoding()
    assert enc.decode(data.groups[0][0].tolist()) == data.texts[0][0]


@needs_data
def test_tokenizer_is_gpt2():
    enc = gpt2_encoding()
    assert enc.encode_ordinary("def f(x):") == [4299, 277, 7, 87, 2599]
    assert enc.encode("<|endoftext|>", allowed_special="all") == [50256]
    assert enc.n_vocab == 50257


@needs_data
def test_select_loads_a_subset():
    data = load_rollout("pot", select=[3, 0])
    assert data.prompt_ids == (3, 0) and data.n_groups == 253
    assert len(data.groups) == 2
    with pytest.raises(ValueError, match="has 253"):
        load_rollout("pot", select=[253])


def write_copy(tmp_path, name, lines):
    folder = tmp_path / "rollout"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "tokenizer" / "gpt2.tiktoken").symlink_to(
        rollout_dir() / "tokenizer" / "gpt2.tiktoken"
    )
    (folder / DATASETS[name]).write_text("\n".join(lines) + "\n")
    return tmp_path


@needs_data
def test_malformed_rows_name_file_and_line(tmp_path):
    good = json.dumps({"prompt": "p", "samples": ["a", "b"]})
    root = write_copy(tmp_path, "codet", [good, good, '{"prompt": "p", "samples": [1]}'])
    with pytest.raises(ValueError, match=r"codet_humaneval.*:3: 'samples'\[0\] is int"):
        load_rollout("codet", data_dir=root)


@needs_data
def test_invalid_json_names_line(tmp_path):
    head = json.dumps({"demonstration": "x"})
    row = json.dumps({"question": "q", "generated": ["a"]})
    root = write_copy(tmp_path, "pot", [head, row, "{not json"])
    with pytest.raises(ValueError, match=r"pot_aqua.*:3: invalid JSON"):
        load_rollout("pot", data_dir=root)


def test_absent_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_rollout("codet", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown rollout data set"):
        load_rollout("nope", data_dir=tmp_path)


def test_synthetic_groups_shapes_and_overlap():
    groups = synthetic_groups(3, 4, mean_tokens=40, seed=2)
    assert [len(g) for g in groups] == [4, 4, 4]
    assert all(t.dtype == np.int64 and t.size >= 1 for g in groups for t in g)

    # siblings share more 4-grams with each other than with another group's samples
    def grams(t):
        return {tuple(t[i : i + 4]) for i in range(len(t) - 3)}

    within = len(grams(groups[0][0]) & grams(groups[0][1]))
    across = len(grams(groups[0][0]) & grams(groups[1][1]))
    assert within > across
    with pytest.raises(ValueError, match="copy_prob"):
        synthetic_groups(1, 2, copy_prob=1.5)
