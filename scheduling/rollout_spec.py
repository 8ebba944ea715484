"""Grouped speculative decoding inside the rollout simulator: token streams and drafter.

:func:`simulate_rollout` models lengths only; to measure speculation it also needs what
each request writes. :func:`rollout_streams` gives every request a true token stream
built from real sibling samples (``../shared/data/rollout``, GPT-2 tokens; the three
data sets pooled) when they are present, from
:func:`scheduling.rollout_text.synthetic_groups` (calibrated to codet) otherwise.
:class:`RolloutSpeculator` is the engine-side drafter the simulator calls in every
decode step of every sequence: it drafts from a
:class:`~scheduling.suffix.SuffixAutomaton` over the tokens the request's group has
generated so far, verifies the draft against the request's true stream, and indexes
every token the engines produce when their steps end.

Stream construction
-------------------
The samples of the data set are ~100 tokens long (code, programs, prose); rollout
requests are thousands. A request's stream is therefore a concatenation of samples:
group ``p`` is given ``m`` of the data set's prompts ``Q_p`` (drawn without replacement
from those with at least ``G`` samples -- all prompts if none has -- and cycled if
there are fewer), and its member ``j`` writes, for ``k = 0, 1, ...``, a
sample of prompt ``Q_p[k mod m]``: sample ``sigma_{p,q}[(c G + j) mod S_q]`` in cycle
``c = k // m``, where ``sigma_{p,q}`` is a random order of prompt ``q``'s ``S_q``
non-empty samples and ``G`` the group size. Siblings thus answer the same prompts in the
same order with different samples (what grouped drafting exploits), and no sample
occurs twice in one group's streams until ``c G + j`` reaches ``S_q``; after that a
sample is reused and ``TokenStreams.reused_segments`` counts it. ``m`` is the number of
segments the group's longest request needs (1.5 times its length over the mean sample
length), or all the data set's prompts if it has fewer: a request returns to a prompt
it has answered only when the data set has run out of prompts (then its own earlier
answer helps self-drafting as a sibling's would).

Drafting model
--------------
* ``mode="self"``: each request drafts from an index of its own output only;
  ``"grouped"``: from an index shared by a block of ``references + 1`` members of its
  group (consecutive members; the last block may be smaller), its own output included.
* The draft is :meth:`~scheduling.suffix.SuffixAutomaton.continuations_of` the request's
  output so far (``paths`` paths of up to ``g`` tokens, a token tree of at most
  ``paths * g`` nodes); ``g`` is :func:`~scheduling.spec_decode.choose_draft_len` for
  the request's :class:`~scheduling.spec_decode.AcceptanceEstimator` rate, the
  engine's decode batch size and the verification cost
  (:func:`~scheduling.spec_decode.verify_step_time`, the batch taken as ``batch``
  sequences at this request's context), capped by ``max_draft`` and by what the engine
  allows (the chunk's remaining tokens and the free KV blocks).
* Acceptance is measured: the longest prefix of a path that agrees with the true stream
  (:func:`~scheduling.spec_decode.accept`); the step produces it and one more token.
* Tokens become visible to drafting when the step that produced them ends
  (:meth:`RolloutSpeculator.commit`), never earlier.
* An index is dropped when all requests drafting from it have finished.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from matching._validate import as_index_array, check_bool, check_int
from scheduling.rollout_text import DATASETS, load_rollout, rollout_dir, synthetic_groups
from scheduling.spec_decode import (
    AcceptanceEstimator,
    _verify,
    choose_draft_len,
    tree_size,
    verify_step_time,
)
from scheduling.suffix import SuffixAutomaton

if TYPE_CHECKING:
    from scheduling.engine import Instance
    from scheduling.llm_sim import _Seq

__all__ = ["INDEX_BYTES_PER_TOKEN", "RolloutSpeculator", "TokenStreams", "rollout_streams"]

_CONTEXT_BUCKET = 1024  # contexts within one bucket share a draft-length decision

#: Peak memory of the simulator's suffix indexes per generated token, measured (CPython
#: 3.11, qwen2vl, 60 prompts: 7.4 M tokens, 4.0 GB peak), rounded up.
INDEX_BYTES_PER_TOKEN = 600


@dataclass(frozen=True)
class TokenStreams:
    """The true token stream of every request of a rollout.

    Attributes
    ----------
    tokens : tuple of ndarray
        Per request, its token ids (``int32``), exactly its output length.
    source : str
        ``"<data set> (real)"``, ``"synthetic"`` or ``"given"``.
    prompts_per_group : int
        ``m`` of the construction (module docstring).
    reused_segments : int
        Segments that repeat a sample already used by the same group.
    segments : int
        Segments in all.
    revisit_tokens : int
        Tokens written while answering a prompt the request has answered before (the
        data set ran out of prompts); they make self-drafting easier than fresh text.
    """

    tokens: tuple[np.ndarray, ...]
    source: str
    prompts_per_group: int
    reused_segments: int
    segments: int
    revisit_tokens: int

    def describe(self) -> str:
        """One line: the source and what the construction had to repeat."""
        total = sum(t.size for t in self.tokens)
        return (
            f"{self.source} samples, {self.segments:,} segments; "
            f"{self.reused_segments:,} reuse a sample of the same group, "
            f"{self.revisit_tokens / max(total, 1):.0%} of the tokens revisit a prompt"
        )


def _tokens(values: object, field: str) -> np.ndarray:
    """Return ``values`` as int token ids (>= 0), refusing anything else by name."""
    arr = as_index_array(values, field)
    if arr.size and arr.min() < 0:
        bad = int(np.argmax(arr < 0))
        raise ValueError(f"{field}[{bad}] = {int(arr[bad])} is not a token id (>= 0)")
    return arr


@functools.lru_cache(maxsize=8)
def _synthetic_pool(seed: int) -> list[list[np.ndarray]]:
    """Return the generator's pool, shaped like codet's (164 prompts x 100 samples)."""
    return synthetic_groups(164, 100, seed=seed)


def _pool(
    data: str | Sequence[Sequence[Sequence[int]]], data_dir: str | Path | None, seed: int
) -> tuple[list[list[np.ndarray]], str]:
    """Return the sample pool: per prompt, its non-empty samples' token ids."""
    if not isinstance(data, str):
        if isinstance(data, bytes) or not isinstance(data, Sequence):
            raise TypeError(
                f"data must be a data set name or a list of prompts' samples, got {data!r}"
            )
        groups = [[_tokens(t, f"data[{i}][{j}]") for j, t in enumerate(g)]
                  for i, g in enumerate(data)]  # fmt: skip
        source = "given"
    else:
        if data in ("auto", "all"):
            names = [n for n in DATASETS if (rollout_dir(data_dir) / DATASETS[n]).is_file()]
            if not names and data == "all":
                raise FileNotFoundError(f"no rollout data set under {rollout_dir(data_dir)}")
        else:
            names = [] if data == "synthetic" else [data]
        if names:
            groups = [g for n in names for g in load_rollout(n, data_dir=data_dir).groups]
            source = f"{'+'.join(names)} (real)"
        else:
            groups = _synthetic_pool(seed)
            source = "synthetic"
    pool = [[s.astype(np.int32) for s in g if s.size] for g in groups]
    pool = [g for g in pool if g]
    if not pool:
        raise ValueError(f"the {source} samples are all empty")
    return pool, source


def rollout_streams(
    group_of: Sequence[int] | np.ndarray,
    output_tokens: Sequence[int] | np.ndarray,
    *,
    data: str | Sequence[Sequence[Sequence[int]]] = "auto",
    data_dir: str | Path | None = None,
    seed: int = 0,
) -> TokenStreams:
    """Build each request's true token stream from sibling samples (module docstring).

    Parameters
    ----------
    group_of, output_tokens : array_like of int
        Group and true output length of each request.
    data : {"auto", "all", "codet", "pot", "tot_text", "synthetic"} or sequence
        The sample pool: a real data set; ``"all"``: every real data set in
        ``../shared/data/rollout``, pooled; ``"auto"`` (default): the same when there is
        one, the generator (calibrated to codet) otherwise; the generator; or one's own
        pool: per prompt, its samples as token-id sequences.
    data_dir : str or Path, optional
        The shared data folder.
    seed : int, default 0

    Examples
    --------
    >>> s = rollout_streams([0, 0, 1], [300, 40, 5], data="synthetic")
    >>> [len(t) for t in s.tokens], s.source
    ([300, 40, 5], 'synthetic')
    """
    group = as_index_array(group_of, "group_of")
    length = as_index_array(output_tokens, "output_tokens")
    if length.shape != group.shape:
        raise ValueError("group_of and output_tokens need one value per request")
    if (group < 0).any():
        raise ValueError(f"group_of must be >= 0, got {int(group.min())}")
    if (length < 1).any():
        raise ValueError(f"output_tokens must be >= 1, got {int(length.min())}")
    if isinstance(data, str) and data not in ("auto", "all", "synthetic", *DATASETS):
        raise ValueError(
            f"data must be 'auto', 'all', 'synthetic' or one of {sorted(DATASETS)}, got {data!r}"
        )
    seed = check_int(seed, "seed", low=0)
    pool, source = _pool(data, data_dir, seed)
    mean_segment = float(np.mean([s.size for g in pool for s in g]))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    streams: list[np.ndarray] = [np.empty(0, np.int32)] * group.size
    reused = segments = revisit_tokens = 0
    m_used = 1
    for gi, p in enumerate(np.unique(group)):
        members = np.flatnonzero(group == p)
        size = members.size
        # prompts with a sample for every sibling (all of them if none has)
        eligible = [int(q) for q in order if len(pool[q]) >= size] or [int(q) for q in order]
        need = math.ceil(1.5 * int(length[members].max()) / mean_segment)
        m = max(1, min(len(eligible), need))
        m_used = max(m_used, m)
        prompts = [eligible[(gi * m + i) % len(eligible)] for i in range(m)]
        sigma = {q: np.random.default_rng([seed, int(p), q]).permutation(len(pool[q]))
                 for q in set(prompts)}  # fmt: skip
        for j, rid in enumerate(members):
            parts, total, k = [], 0, 0
            while total < length[rid]:
                q = prompts[k % m]
                slot = (k // m) * size + j
                reused += slot >= len(pool[q])
                sample = pool[q][sigma[q][slot % len(pool[q])]]
                parts.append(sample)
                if k >= m:  # a prompt this request has answered before
                    revisit_tokens += min(sample.size, int(length[rid]) - total)
                total += sample.size
                k += 1
            segments += k
            streams[rid] = np.concatenate(parts)[: length[rid]]
    return TokenStreams(tuple(streams), source, m_used, int(reused), int(segments),
                        int(revisit_tokens))  # fmt: skip


class RolloutSpeculator:
    """Grouped (or self-only) suffix drafting for the rollout simulator's engines.

    Parameters
    ----------
    streams : TokenStreams or sequence of array_like
        Each request's true tokens (at least its output length).
    group_of : array_like of int
        Each request's group.
    spec : Instance
        The engines' cost model (for the verification cost).
    mode : {"grouped", "self"}, default "grouped"
    references : int, optional
        Siblings each request drafts from with ``mode="grouped"`` (default: all,
        ``G - 1``).
    max_draft : int, default 16
        Most draft tokens per path.
    paths : int, default 1
        Draft paths per step (top-k multi-path when > 1).
    min_match : int, default 1
        Shortest matched suffix worth drafting from.
    adaptive : bool, default True
        Choose ``g`` per step (module docstring); ``False``: always ``max_draft``.

    Notes
    -----
    The simulator calls :meth:`propose` for each decoding sequence of a step and
    :meth:`commit` when the step ends; :meth:`finished` when a request ends.
    """

    def __init__(
        self,
        streams: TokenStreams | Sequence[Sequence[int]],
        group_of: Sequence[int] | np.ndarray,
        spec: Instance,
        *,
        mode: str = "grouped",
        references: int | None = None,
        max_draft: int = 16,
        paths: int = 1,
        min_match: int = 1,
        adaptive: bool = True,
    ) -> None:
        tokens = streams.tokens if isinstance(streams, TokenStreams) else tuple(streams)
        group = as_index_array(group_of, "group_of")
        if len(tokens) != group.size:
            raise ValueError(
                f"streams has {len(tokens)} requests, group_of {group.size}: one stream "
                "per request"
            )
        if mode not in ("grouped", "self"):
            raise ValueError(f"mode must be 'grouped' or 'self', got {mode!r}")
        self.max_draft = check_int(max_draft, "max_draft", low=1)
        self.paths = check_int(paths, "paths", low=1)
        self.min_match = check_int(min_match, "min_match", low=1)
        self.adaptive = check_bool(adaptive, "adaptive")
        self.mode = mode
        self.spec = spec
        self.group = group
        self._truth = [_tokens(t, f"streams[{i}]").tolist() for i, t in enumerate(tokens)]
        block_of = np.arange(group.size)
        if mode == "grouped":
            blocks = 0
            for p in np.unique(group):
                members = np.flatnonzero(group == p)
                refs = members.size - 1 if references is None else references
                refs = check_int(refs, "references", low=0)
                if refs > members.size - 1:
                    raise ValueError(
                        f"references={refs}, but group {int(p)} has {members.size - 1} "
                        "siblings per request"
                    )
                block_of[members] = blocks + np.arange(members.size) // (refs + 1)
                blocks = int(block_of[members].max()) + 1
        elif references not in (None, 0):
            raise ValueError(f"references must be 0 or None with mode='self', got {references}")
        self._block_of = block_of.tolist()
        self._live = dict(zip(*np.unique(block_of, return_counts=True), strict=True))
        self._live = {int(b): int(n) for b, n in self._live.items()}
        self._index: dict[int, SuffixAutomaton] = {}
        self._committed = [0] * group.size
        self._estimator = [AcceptanceEstimator() for _ in range(group.size)]
        self._draft_len: dict[tuple[int, int, int], int] = {}
        self._pending = [[0, 0, 0, 0] for _ in range(group.size)]  # this step's counts
        self._used = False
        self.steps = self.tokens = self.drafted = self.accepted = 0

    def check_workload(self, group_of: np.ndarray, output_tokens: np.ndarray) -> None:
        """Raise ``ValueError`` unless this drafter fits the workload, unused so far.

        The groups must be the workload's, every stream must cover its request's output
        length, and the drafter must not have served a simulation already (its indexes
        hold that run's tokens).
        """
        if self._used:
            raise ValueError("a RolloutSpeculator serves one simulation: build a new one")
        group = np.asarray(group_of)
        if group.shape != self.group.shape:
            raise ValueError(
                f"the RolloutSpeculator was built for {self.group.size} requests, the "
                f"workload has {group.size}"
            )
        differ = np.flatnonzero(group != self.group)
        if differ.size:
            r = int(differ[0])
            raise ValueError(
                f"the RolloutSpeculator was built for other groups: request {r} is in "
                f"group {int(self.group[r])} there, {int(group[r])} in the workload"
            )
        have = np.fromiter((len(t) for t in self._truth), dtype=np.int64, count=len(self._truth))
        short = np.flatnonzero(have < np.asarray(output_tokens))
        if short.size:
            r = int(short[0])
            raise ValueError(
                f"request {r}'s token stream has {int(have[r])} tokens, fewer than its "
                f"output length {int(output_tokens[r])}"
            )
        self._used = True

    def _index_of(self, rid: int) -> SuffixAutomaton:
        block = self._block_of[rid]
        index = self._index.get(block)
        if index is None:
            index = self._index[block] = SuffixAutomaton(track_sources=False)
        return index

    def _budget(self, rid: int, batch: int, context: int) -> int:
        if not self.adaptive:
            return self.max_draft
        a = self._estimator[rid].rate
        key = (batch, context // _CONTEXT_BUCKET, round(a * 50))
        g = self._draft_len.get(key)
        if g is None:
            bucket = (context // _CONTEXT_BUCKET) * _CONTEXT_BUCKET + _CONTEXT_BUCKET // 2
            cost = verify_step_time(self.spec, bucket)
            g = choose_draft_len(key[2] / 50, batch, cost, self.max_draft, paths=self.paths)
            self._draft_len[key] = g
        return g

    def propose(self, seq: _Seq, room: int, batch: int) -> tuple[int, int]:
        """Draft and verify one decode step of ``seq``: ``(drafted, produced)``."""
        rid, pos = seq.rid, seq.generated
        if self._committed[rid] != pos:
            raise RuntimeError(
                f"request {rid}: {pos} tokens generated but {self._committed[rid]} indexed"
            )
        paths = min(self.paths, room)  # a tree of paths * g nodes must fit the room
        g = min(self._budget(rid, batch, seq.prompt + pos), room // paths) if paths else 0
        drafts: list[tuple[int, ...]] = []
        if g > 0:
            index = self._index_of(rid)
            if rid in index:
                found = index.continuations_of(rid, g, paths, min_match=self.min_match)
                drafts = [c.tokens for c in found]
        accepted = _verify(drafts, self._truth[rid], pos, self._estimator[rid])
        drafted = tree_size(drafts) if drafts else 0
        counts = self._pending[rid]  # counted when the step ends (commit)
        counts[0] += 1
        counts[1] += accepted + 1
        counts[2] += drafted
        counts[3] += accepted
        return drafted, accepted + 1

    def commit(self, seqs: Sequence[_Seq]) -> None:
        """Index the tokens ``seqs`` generated up to now (at the end of a step)."""
        for seq in seqs:
            rid, upto = seq.rid, seq.generated
            start = self._committed[rid]
            if upto > start:
                self._index_of(rid).extend(rid, self._truth[rid][start:upto])
                self._committed[rid] = upto
            counts = self._pending[rid]
            if counts[0]:
                self.steps += counts[0]
                self.tokens += counts[1]
                self.drafted += counts[2]
                self.accepted += counts[3]
                counts[:] = [0, 0, 0, 0]

    def finished(self, rid: int) -> None:
        """Request ``rid`` ended: drop its index once no request drafts from it."""
        block = self._block_of[rid]
        self._live[block] -= 1
        if self._live[block] == 0:
            self._index.pop(block, None)

    @property
    def acceptance_length(self) -> float:
        """Tokens per verification step (accepted + 1), over the steps that ended so far.

        Steps without a draft count (one token each); a chunk's first token, from its
        prefill or KV load, is not a verification step. NaN before any step.
        """
        return self.tokens / self.steps if self.steps else math.nan
