"""Continuous-batching LLM serving instances on the shared discrete-event core.

:class:`ServingInstance` is one engine (an :class:`~scheduling.engine.Instance` cost
model) with vLLM-style continuous batching over a paged KV cache:

* each engine step admits waiting requests in queue order while the batch has fewer
  than ``max_batch`` sequences, the step's prefill tokens stay within
  ``max_batched_tokens`` and the KV cache has the blocks of the admitted prompt (plus
  the tokens a recomputed request had generated); admitted requests are prefilled in
  that step and produce their first token at its end;
* every running request decodes one token per step; a request that needs a new block
  when none is free preempts the most recently admitted running request (recompute: its
  blocks are freed, it returns to the head of the queue keeping the tokens it has, and
  is prefilled again with them on re-admission); a request finishes when it has
  produced its output length, and its blocks are freed;
* the step takes :meth:`~scheduling.engine.Instance.step_time` of its prefill lengths
  and decode contexts.

:func:`simulate_fcfs` runs a workload through ``n`` such instances with requests placed
round-robin or on the least-loaded instance and served first-come first-served (vLLM's
default), and returns per-request times and the run's metrics. It keeps the invariants
the tests check: every request arrives once and finishes once, every request produces
exactly its output length in tokens (none twice across preemptions), and the KV cache
never holds more blocks than it has.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from scheduling.engine import Instance

__all__ = ["ServingInstance", "ServingResult", "simulate_fcfs"]


@dataclass
class _Seq:
    """One request's state on an instance."""

    rid: int
    prompt: int
    output: int
    generated: int = 0
    blocks: int = 0
    first_token: float = math.nan


@dataclass
class ServingInstance:
    """One continuous-batching engine (see the module docstring).

    Parameters
    ----------
    spec : Instance
        The cost model (KV blocks, step times).
    max_batch : int, default 256
        Most sequences in a batch (vLLM's ``max_num_seqs``).
    max_batched_tokens : int, default 8192
        Most prefill tokens in one step; a longer prompt is admitted alone.
    """

    spec: Instance
    max_batch: int = 256
    max_batched_tokens: int = 8192
    waiting: deque = field(default_factory=deque)
    running: list = field(default_factory=list)
    free_blocks: int = 0
    busy_until: float = 0.0
    preemptions: int = 0
    steps: int = 0

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_batched_tokens < 1:
            raise ValueError("max_batch and max_batched_tokens must be >= 1")
        self.free_blocks = self.spec.kv_blocks

    @property
    def queued(self) -> int:
        """Requests waiting or running."""
        return len(self.waiting) + len(self.running)

    def enqueue(self, seq: _Seq) -> None:
        """Append an arrived request to the queue."""
        need = self.spec.blocks_for(seq.prompt + seq.output)
        if need > self.spec.kv_blocks:
            raise ValueError(
                f"request {seq.rid} needs {need} KV blocks (prompt {seq.prompt} + output "
                f"{seq.output}), more than the instance's {self.spec.kv_blocks}"
            )
        self.waiting.append(seq)

    def _admit(self) -> list[int]:
        """Admit waiting requests for this step; return their prefill lengths."""
        prefill: list[int] = []
        budget = self.max_batched_tokens
        while self.waiting and len(self.running) < self.max_batch:
            seq = self.waiting[0]
            length = seq.prompt + seq.generated  # recompute what a preemption dropped
            blocks = self.spec.blocks_for(length + 1)
            if blocks > self.free_blocks or (prefill and length > budget):
                break
            self.waiting.popleft()
            self.free_blocks -= blocks
            seq.blocks = blocks
            self.running.append(seq)
            prefill.append(length)
            budget -= length
        return prefill

    def _grow(self) -> None:
        """Give every running sequence the block its next token needs, preempting.

        ``running`` is kept in admission order, so the newest is last: oldest first get
        their blocks, and a shortage preempts from the end.
        """
        block = self.spec.block_size
        i = 0
        while i < len(self.running):
            seq = self.running[i]
            if (seq.prompt + seq.generated + 1) <= seq.blocks * block:
                i += 1
                continue
            if self.free_blocks > 0:
                self.free_blocks -= 1
                seq.blocks += 1
                i += 1
                continue
            victim = self.running.pop()  # the newest; may be seq itself
            self._preempt(victim)

    def _preempt(self, seq: _Seq) -> None:
        """Free ``seq``'s blocks and put it back at the head of the queue (recompute)."""
        self.free_blocks += seq.blocks
        seq.blocks = 0
        self.waiting.appendleft(seq)
        self.preemptions += 1

    def step(self, now: float) -> tuple[float, list[_Seq], list[_Seq]]:
        """Run one engine step from ``now``; return (end time, first tokens, finished)."""
        self._grow()
        n_decoding = len(self.running)  # admitted sequences are appended after these
        prefill = self._admit()
        contexts = [s.prompt + s.generated for s in self.running[:n_decoding]]
        duration = self.spec.step_time(prefill, contexts)
        end = now + duration
        self.steps += 1
        first, done, still = [], [], []
        for seq in self.running:
            seq.generated += 1
            if math.isnan(seq.first_token):
                seq.first_token = end
                first.append(seq)
            if seq.generated >= seq.output:
                done.append(seq)
                self.free_blocks += seq.blocks
                seq.blocks = 0
            else:
                still.append(seq)
        self.running = still
        self.busy_until = end
        return end, first, done

    def kv_blocks_used(self) -> int:
        """Blocks held by running sequences."""
        return sum(s.blocks for s in self.running)


@dataclass(frozen=True)
class ServingResult:
    """Per-request times and run metrics of :func:`simulate_fcfs`.

    Attributes
    ----------
    arrival, first_token, finish : ndarray
        Seconds; ``first_token - arrival`` is the TTFT.
    instance : ndarray of int
    tokens : ndarray of int
        Tokens each request produced (equal to its output length).
    summary : dict
        requests, makespan_s, throughput (requests/s, tokens/s), TTFT and end-to-end
        median and p99, preemptions, steps, peak KV blocks used per instance.
    """

    arrival: np.ndarray
    first_token: np.ndarray
    finish: np.ndarray
    instance: np.ndarray
    tokens: np.ndarray
    summary: dict


def simulate_fcfs(
    spec: Instance,
    arrival: np.ndarray,
    prompt: np.ndarray,
    output: np.ndarray,
    *,
    instances: int = 1,
    placement: str = "least-loaded",
    max_batch: int = 256,
    max_batched_tokens: int = 8192,
) -> ServingResult:
    """Serve a workload first-come first-served on ``instances`` identical engines.

    Parameters
    ----------
    spec : Instance
    arrival, prompt, output : array_like
        Arrival seconds (non-decreasing), prompt and output token counts (>= 1).
    instances : int
    placement : {"least-loaded", "round-robin"}
        Where an arriving request queues: the instance with the fewest requests waiting
        or running (vLLM's router behind a least-outstanding-requests balancer), or in
        turn.

    Examples
    --------
    >>> spec = Instance("mistral-7b", "a100")
    >>> res = simulate_fcfs(spec, [0.0, 0.0, 1.0], [100, 200, 50], [10, 20, 5])
    >>> res.tokens.tolist(), bool((res.first_token >= res.arrival).all())
    ([10, 20, 5], True)
    """
    arr = np.asarray(arrival, dtype=float)
    pro = np.asarray(prompt, dtype=np.int64)
    out = np.asarray(output, dtype=np.int64)
    if not (arr.ndim == pro.ndim == out.ndim == 1 and arr.size == pro.size == out.size):
        raise ValueError("arrival, prompt and output must be 1-d arrays of equal length")
    if arr.size and (not np.isfinite(arr).all() or (np.diff(arr) < 0).any() or arr[0] < 0):
        raise ValueError("arrival times must be finite, >= 0 and non-decreasing")
    if (pro < 1).any() or (out < 1).any():
        i = int(np.flatnonzero((pro < 1) | (out < 1))[0])
        raise ValueError(f"request {i}: prompt {pro[i]} and output {out[i]} must be >= 1")
    if placement not in ("least-loaded", "round-robin"):
        raise ValueError(f"placement must be 'least-loaded' or 'round-robin', got {placement!r}")
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ValueError(f"instances must be an integer >= 1, got {instances!r}")
    engines = [ServingInstance(spec, max_batch, max_batched_tokens) for _ in range(instances)]
    n = arr.size
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    where = np.full(n, -1, dtype=np.int64)
    tokens = np.zeros(n, dtype=np.int64)
    peak = [0] * instances
    # event heap: (time, kind, seq, payload); kind 0 = arrival, 1 = step end
    heap: list[tuple[float, int, int, int]] = [(float(arr[i]), 0, i, i) for i in range(n)]
    heapq.heapify(heap)
    stepping = [False] * instances
    seq_no = n
    turn = 0
    kicked: set[int] = set()

    def start(k: int, now: float) -> None:
        nonlocal seq_no
        eng = engines[k]
        if stepping[k] or not eng.queued:
            return
        end, firsts, done = eng.step(now)
        for s in firsts:
            first[s.rid] = s.first_token
        for s in done:
            finish[s.rid] = end
            tokens[s.rid] = s.generated
        peak[k] = max(peak[k], eng.spec.kv_blocks - eng.free_blocks)
        stepping[k] = True
        seq_no += 1
        heapq.heappush(heap, (end, 1, seq_no, k))

    while heap:
        now, kind, _, payload = heapq.heappop(heap)
        if kind == 0:
            i = payload
            if placement == "round-robin":
                k = turn % instances
                turn += 1
            else:
                k = min(range(instances), key=lambda j: (engines[j].queued, j))
            seq = _Seq(i, int(pro[i]), int(out[i]))
            engines[k].enqueue(seq)
            where[i] = k
            kicked.add(k)
        else:
            stepping[payload] = False
            kicked.add(payload)
        if heap and heap[0][0] == now:
            continue  # events of the same instant first: simultaneous arrivals batch
        for k in sorted(kicked):
            start(k, now)
        kicked.clear()
    if np.isnan(finish).any():
        i = int(np.flatnonzero(np.isnan(finish))[0])
        raise RuntimeError(f"request {i} never finished")
    ttft = first - arr
    e2e = finish - arr
    makespan = float(finish.max() - arr.min()) if n else 0.0
    summary = {
        "requests": n,
        "instances": instances,
        "makespan_s": makespan,
        "requests_per_s": n / makespan if makespan > 0 else math.nan,
        "tokens_per_s": float(tokens.sum()) / makespan if makespan > 0 else math.nan,
        "ttft_median_s": float(np.median(ttft)) if n else math.nan,
        "ttft_p99_s": float(np.percentile(ttft, 99)) if n else math.nan,
        "e2e_median_s": float(np.median(e2e)) if n else math.nan,
        "e2e_p99_s": float(np.percentile(e2e, 99)) if n else math.nan,
        "preemptions": sum(e.preemptions for e in engines),
        "steps": sum(e.steps for e in engines),
        "peak_kv_blocks": peak,
        "kv_blocks": spec.kv_blocks,
    }
    return ServingResult(arr, first, finish, where, tokens, summary)
