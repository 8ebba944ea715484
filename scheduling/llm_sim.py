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

:func:`simulate_fcfs` runs a workload of one model through ``n`` such instances with
requests placed round-robin or on the least-loaded instance and served first-come
first-served (vLLM's default), and returns per-request times and the run's metrics: it is
:func:`scheduling.serving_sim.simulate_serving` (the cluster simulator on the shared
discrete-event core) with :class:`scheduling.serving_baselines.FCFSPolicy`. It keeps the invariants
the tests check: every request arrives once and finishes once, every request produces
exactly its output length in tokens (none twice across preemptions), and the KV cache
never holds more blocks than it has.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scheduling.engine import Instance

__all__ = ["ServingInstance", "ServingResult", "simulate_fcfs"]

Speculate = Callable[["_Seq", int, int], tuple[int, int]]


@dataclass(eq=False)
class _Seq:
    """One request's state on an instance (``model`` names the model it needs)."""

    rid: int
    prompt: int
    output: int
    model: str = ""
    generated: int = 0
    blocks: int = 0
    first_token: float = math.nan
    pending: int = 0  # tokens still to prefill (chunked prefill); 0 once decoding


@dataclass(eq=False)
class ServingInstance:
    """One continuous-batching engine (see the module docstring).

    Parameters
    ----------
    spec : Instance
        The cost model (KV blocks, step times) of the model it has loaded.
    max_batch : int, default 256
        Most sequences in a batch (vLLM's ``max_num_seqs``).
    max_batched_tokens : int, default 8192
        Most prefill tokens in one step; a longer prompt is admitted alone.
    chunked_prefill : bool, default False
        Split prefills over steps (vLLM's chunked prefill): each step's
        ``max_batched_tokens`` go first to one token per decoding sequence, then to
        prompt chunks in admission order; a sequence produces its first token in the step
        that completes its prefill. Without it a prompt is prefilled in one step, and a
        prompt longer than the budget is admitted alone.
    preemption : {"recompute", "swap"}, default "recompute"
        What a KV shortage does to the newest running request: free its blocks and
        prefill it again later, or copy its KV cache to CPU memory over PCIe (the step
        pays :meth:`~scheduling.engine.Instance.swap_time` out, and again in when it
        resumes; swapped requests resume before waiting ones, as in vLLM).

    Notes
    -----
    :meth:`evict` takes a running request off the GPU on a scheduler's order: by
    recompute (it rejoins the waiting queue at its tail) or by swap (its KV cache is
    held in CPU memory and resumes once the waiting queue is empty).
    """

    spec: Instance
    max_batch: int = 256
    max_batched_tokens: int = 8192
    preemption: str = "recompute"
    chunked_prefill: bool = False
    waiting: deque = field(default_factory=deque)
    running: list = field(default_factory=list)
    swapped: deque = field(default_factory=deque)
    held: deque = field(default_factory=deque)
    free_blocks: int = 0
    busy_until: float = 0.0
    preemptions: int = 0
    evictions: int = 0
    swaps_out: int = 0
    swaps_in: int = 0
    steps: int = 0
    _swap_tokens: int = 0

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_batched_tokens < 1:
            raise ValueError("max_batch and max_batched_tokens must be >= 1")
        if self.preemption not in ("recompute", "swap"):
            raise ValueError(f"preemption must be 'recompute' or 'swap', got {self.preemption!r}")
        self.free_blocks = self.spec.kv_blocks

    @property
    def queued(self) -> int:
        """Requests on the instance: waiting, running or swapped out to CPU."""
        return len(self.waiting) + len(self.running) + len(self.swapped) + len(self.held)

    def fits(self, seq: _Seq) -> bool:
        """Whether the whole request (prompt + output) fits the KV cache at all."""
        return self.spec.blocks_for(seq.prompt + seq.output) <= self.spec.kv_blocks

    def enqueue(self, seq: _Seq, *, front: bool = False) -> None:
        """Queue a request, at the tail (or the head with ``front``)."""
        if not self.fits(seq):
            raise ValueError(
                f"request {seq.rid} needs {self.spec.blocks_for(seq.prompt + seq.output)} "
                f"KV blocks (prompt {seq.prompt} + output {seq.output}), more than the "
                f"instance's {self.spec.kv_blocks}"
            )
        if front:
            self.waiting.appendleft(seq)
        else:
            self.waiting.append(seq)

    def load(self, spec: Instance) -> None:
        """Replace the loaded model (the instance must hold no request)."""
        if self.queued:
            raise ValueError(f"cannot load {spec.model.name}: {self.queued} requests on it")
        self.spec = spec
        self.free_blocks = spec.kv_blocks

    def _resume(self, source: deque, resumed: list[int]) -> bool:
        """Swap the head of ``source`` back in if it fits; return whether it did."""
        seq = source[0]
        blocks = self.spec.blocks_for(seq.prompt + seq.generated + 1)  # with its next token
        if blocks > self.free_blocks:
            return False
        source.popleft()
        seq.blocks = blocks
        self.free_blocks -= blocks
        self._swap_tokens += seq.prompt + seq.generated
        self.swaps_in += 1
        self.running.append(seq)
        resumed.append(seq.prompt + seq.generated)
        return True

    def _admit(self, budget: int) -> tuple[list[int], list[int], list[int]]:
        """Admit requests for this step within ``budget`` prefill tokens.

        Swapped-out requests resume first, then waiting ones in queue order, then
        evicted ones once nothing waits. Returns (prefill lengths, their offsets,
        resumed contexts).
        """
        prefill: list[int] = []
        offsets: list[int] = []
        resumed: list[int] = []
        while self.swapped and len(self.running) < self.max_batch:
            if not self._resume(self.swapped, resumed):
                return prefill, offsets, resumed
        chunked = self.chunked_prefill
        while self.waiting and len(self.running) < self.max_batch:
            seq = self.waiting[0]
            length = seq.prompt + seq.generated  # recompute what a preemption dropped
            blocks = self.spec.blocks_for(length + 1)
            if blocks > self.free_blocks:
                return prefill, offsets, resumed
            if (budget <= 0) if chunked else (prefill and length > budget):
                return prefill, offsets, resumed
            self.waiting.popleft()
            self.free_blocks -= blocks
            seq.blocks = blocks
            self.running.append(seq)
            chunk = min(length, budget) if chunked else length
            seq.pending = length - chunk
            prefill.append(chunk)
            offsets.append(0)
            budget -= chunk
        while self.held and not self.waiting and len(self.running) < self.max_batch:
            if not self._resume(self.held, resumed):
                break
        return prefill, offsets, resumed

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
            self.preemptions += 1
            if self.preemption == "swap" and not victim.pending:
                self._swap_out(victim, self.swapped)
            else:
                self._drop(victim, front=True)

    def _drop(self, seq: _Seq, *, front: bool) -> None:
        """Free ``seq``'s blocks and queue it for recompute."""
        self.free_blocks += seq.blocks
        seq.blocks = 0
        seq.pending = 0
        if front:
            self.waiting.appendleft(seq)
        else:
            self.waiting.append(seq)

    def _swap_out(self, seq: _Seq, into: deque) -> None:
        """Copy ``seq``'s KV cache to CPU memory."""
        self.free_blocks += seq.blocks
        seq.blocks = 0
        self._swap_tokens += seq.prompt + seq.generated
        self.swaps_out += 1
        into.append(seq)

    def evict(self, rid: int, *, swap: bool) -> None:
        """Take running request ``rid`` off the GPU (see the class notes).

        Raises
        ------
        ValueError
            If ``rid`` is not running here.
        """
        for i, seq in enumerate(self.running):
            if seq.rid == rid:
                del self.running[i]
                break
        else:
            raise ValueError(f"request {rid} is not running on this instance")
        self.evictions += 1
        if swap and not seq.pending:  # a part-prefilled prompt is recomputed
            self._swap_out(seq, self.held)
        else:
            self._drop(seq, front=False)

    def _speculate(
        self, decoding: list[_Seq], speculate: Speculate
    ) -> tuple[list[int], list[int], list[int], dict[int, int]]:
        """Ask ``speculate`` for each decoding sequence's draft; reserve its KV blocks.

        Returns the plain decode contexts, the verification lengths and offsets of the
        sequences that verify a draft, and the tokens each of those produces (by id).
        """
        block = self.spec.block_size
        contexts: list[int] = []
        lengths: list[int] = []
        offsets: list[int] = []
        produced: dict[int, int] = {}
        plans: list[tuple[_Seq, int, int, int, int]] = []  # seq, context, drafted, made, blocks
        free = self.free_blocks
        batch = len(decoding)
        for seq in decoding:  # every answer is checked before any block is reserved
            context = seq.prompt + seq.generated
            kv_room = (seq.blocks + free) * block - context - 1
            room = max(0, min(seq.output - seq.generated - 1, kv_room))
            drafted, made = speculate(seq, room, batch)
            if not (0 <= drafted <= room and 1 <= made <= drafted + 1):
                raise ValueError(
                    f"speculate returned drafted={drafted}, produced={made} for request "
                    f"{seq.rid}; needs 0 <= drafted <= {room} and 1 <= produced <= drafted + 1"
                )
            need = max(0, self.spec.blocks_for(context + drafted + 1) - seq.blocks)
            free -= need
            plans.append((seq, context, drafted, made, need))
        for seq, context, drafted, made, need in plans:
            if drafted == 0:
                contexts.append(context)
                continue
            self.free_blocks -= need
            seq.blocks += need
            lengths.append(drafted + 1)
            offsets.append(context)
            produced[id(seq)] = made
        return contexts, lengths, offsets, produced

    def step(
        self, now: float, speculate: Speculate | None = None
    ) -> tuple[float, list[_Seq], list[_Seq]]:
        """Run one engine step from ``now``; return (end time, first tokens, finished).

        With ``speculate``, every sequence that was already decoding verifies a draft:
        ``speculate(seq, room, batch)`` returns ``(drafted, produced)``, the draft tokens
        it verifies (at most ``room``: what its remaining output and the free KV blocks
        allow) and the tokens it produces (the accepted ones plus the model's own, so
        ``1 .. drafted + 1``); ``batch`` is the number of decoding sequences. A
        verification of ``drafted + 1`` tokens after a context of ``c`` costs what a
        prefill chunk of that length at offset ``c`` does; the blocks of the rejected
        draft tokens are freed at the end of the step. A ``speculate`` answer out of range
        raises ``ValueError`` before any draft block is reserved (the step has then taken
        only the blocks the sequences' next tokens need). With chunked prefill, the verified
        tokens count against ``max_batched_tokens`` before prompt chunks do, and a
        sequence whose prefill completes in this step produces its first token only.
        """
        self._grow()
        decoding = [s for s in self.running if not s.pending]
        produced: dict[int, int] = {}
        if speculate is not None:
            contexts, chunks, offsets, produced = self._speculate(decoding, speculate)
        else:
            contexts = [s.prompt + s.generated for s in decoding]
            chunks, offsets = [], []
        budget = self.max_batched_tokens
        if self.chunked_prefill:
            budget -= len(contexts) + sum(chunks)
            for s in self.running:  # prompts part-way through their prefill go on
                if s.pending and budget > 0:
                    chunk = min(s.pending, budget)
                    chunks.append(chunk)
                    offsets.append(s.prompt + s.generated - s.pending)
                    s.pending -= chunk
                    budget -= chunk
        prefill, starts, resumed = self._admit(budget)
        duration = self.spec.step_time(chunks + prefill, contexts + resumed, offsets + starts)
        if self._swap_tokens:
            duration += self.spec.swap_time(self._swap_tokens)
            self._swap_tokens = 0
        end = now + duration
        self.steps += 1
        first, done, still = [], [], []
        for seq in self.running:
            if seq.pending:  # still prefilling: no token yet
                still.append(seq)
                continue
            made = produced.get(id(seq), 0)
            seq.generated += made or 1
            if made:  # free the blocks of the rejected draft tokens
                keep = self.spec.blocks_for(seq.prompt + seq.generated)
                self.free_blocks += seq.blocks - keep
                seq.blocks = keep
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
    from scheduling.serving_baselines import FCFSPolicy
    from scheduling.serving_sim import ClusterConfig, simulate_serving
    from scheduling.traces import LLMRequests

    arr = np.asarray(arrival, dtype=float)
    pro = np.asarray(prompt, dtype=np.int64)
    out = np.asarray(output, dtype=np.int64)
    if not (arr.ndim == pro.ndim == out.ndim == 1 and arr.size == pro.size == out.size):
        raise ValueError("arrival, prompt and output must be 1-d arrays of equal length")
    if (pro < 1).any() or (out < 1).any():
        i = int(np.flatnonzero((pro < 1) | (out < 1))[0])
        raise ValueError(f"request {i}: prompt {pro[i]} and output {out[i]} must be >= 1")
    too_big = np.flatnonzero(-(-(pro + out) // spec.block_size) > spec.kv_blocks)
    if too_big.size:
        i = int(too_big[0])
        raise ValueError(
            f"request {i} needs {spec.blocks_for(int(pro[i] + out[i]))} KV blocks (prompt "
            f"{pro[i]} + output {out[i]}), more than the instance's {spec.kv_blocks}"
        )
    if placement not in ("least-loaded", "round-robin"):
        raise ValueError(f"placement must be 'least-loaded' or 'round-robin', got {placement!r}")
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ValueError(f"instances must be an integer >= 1, got {instances!r}")
    n = arr.size
    name = spec.model.name
    requests = LLMRequests(
        arr, pro, out, model=np.full(n, name), slo_class=np.full(n, "none"),
        slo_s=np.full(n, np.inf),
    )  # fmt: skip
    config = ClusterConfig(
        instances=instances, models=(name,) * instances, specs={name: spec},
        max_batch=max_batch, max_batched_tokens=max_batched_tokens,
    )  # fmt: skip
    policy = FCFSPolicy("least-outstanding" if placement == "least-loaded" else "round-robin")
    run = simulate_serving(requests, policy, config)
    s = run.summary
    summary = {
        "requests": n,
        "instances": instances,
        "makespan_s": s["makespan_s"],
        "requests_per_s": s["requests_per_s"],
        "tokens_per_s": s["tokens_per_s"],
        "ttft_median_s": s["ttft_p50_s"],
        "ttft_p99_s": s["ttft_p99_s"],
        "e2e_median_s": s["e2e_p50_s"],
        "e2e_p99_s": s["e2e_p99_s"],
        "preemptions": s["lso"]["preemptions"],
        "steps": s["steps"],
        "peak_kv_blocks": s["peak_kv_blocks"],
        "kv_blocks": spec.kv_blocks,
    }
    return ServingResult(arr, run.first_token, run.finish, run.instance, run.tokens, summary)
