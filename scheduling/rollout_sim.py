"""A simulated synchronous rollout: GRPO requests on continuous-batching instances.

The rollout loop of one RL iteration, on the shared event core: ``instances`` engines
(:class:`scheduling.llm_sim.ServingInstance` over an :class:`scheduling.engine.Instance`
cost model) serve the chunks a :class:`scheduling.rollout_sched.RolloutScheduler`
orders. A chunk of request ``r`` is an engine sequence whose context is ``r``'s prompt
plus what it has generated so far; it ends after ``max_new_tokens`` tokens or when the
request does (the simulator alone knows the true lengths). A chunk that continues a
request needs its KV cache: ``migration="recompute"`` prefills the context again;
``"transfer"`` loads it from a global KV pool at the GPU's host-link bandwidth (the
engine's swap-in path), as Seer does with its pooled KV store.

The synchronous baseline (veRL-like) is :func:`simulate_rollout` with ``policy="fifo"``
and ``static=True``: groups are split over the instances up front, every request runs to
completion on its instance, and KV shortage preempts by recompute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scheduling.engine import Instance
from scheduling.llm_sim import ServingInstance, _Seq
from scheduling.rollout_sched import InstanceRoom, RolloutScheduler
from scheduling.rollout_spec import RolloutSpeculator
from scheduling.sim import Simulation

__all__ = ["RolloutResult", "simulate_rollout"]


@dataclass(frozen=True)
class RolloutResult:
    """Per-request finish times and the iteration's metrics.

    Attributes
    ----------
    finish : ndarray
        When each request ended (s).
    tokens : ndarray of int
        Tokens each request generated (its true length).
    summary : dict
        policy, makespan_s, tokens_per_s (every token generated in the iteration, carried
        requests' too), tail_s (time to finish the last 10% of the requests that ended),
        idle_s (instance-seconds not computing within the makespan),
        preemptions, migrations (chunks that ran on another instance than the one
        before), chunks, steps, carried, carried_tokens, acceptance_length (tokens per
        sequence per decode step; 1.0 without speculation), drafted, accepted.
    audit : list or None
        With ``audit=True``: ``(instance, start, end, ids, tokens)`` per step: the
        requests that produced tokens in the step and how many each (1 without
        speculation).
    """

    finish: np.ndarray
    tokens: np.ndarray
    summary: dict
    audit: list | None = None


def simulate_rollout(
    group_of: np.ndarray,
    prompt_tokens: np.ndarray,
    output_tokens: np.ndarray,
    max_tokens: int,
    spec: Instance,
    *,
    instances: int = 16,
    policy: str = "context-aware",
    chunk_size: int = 8192,
    static: bool = False,
    migration: str = "recompute",
    max_batch: int = 256,
    max_batched_tokens: int = 8192,
    starvation_s: float = math.inf,
    placement: str = "greedy",
    quota: float | None = None,
    speculation: RolloutSpeculator | None = None,
    audit: bool = False,
) -> RolloutResult:
    """Run one rollout iteration (see the module docstring).

    Parameters
    ----------
    group_of, prompt_tokens, output_tokens : array_like
        Group, prompt length and true output length (``1 .. max_tokens``) per request.
    max_tokens : int
    spec : Instance
        Cost model of every instance.
    instances : int, default 16
    policy : {"fifo", "divided", "context-aware", "oracle"}
    chunk_size : int, default 8192
    static : bool, default False
        Place groups on instances up front, in turn, and keep every request there.
    migration : {"recompute", "transfer"}
    max_batch, max_batched_tokens : int
        Engine limits.
    starvation_s : float, default inf
    quota : float, optional
        Partial rollout: the iteration ends when this share of the requests has
        finished; the rest are carried to the next iteration with what they generated
        (``summary["carried"]``, ``"carried_tokens"``; their ``finish`` is NaN and
        ``tokens`` what they had).
    placement : {"greedy", "matching"}, default "greedy"
        How a round's chunks are placed (:class:`~scheduling.rollout_sched.RolloutScheduler`).
    speculation : RolloutSpeculator, optional
        Speculative decoding in every decode step (grouped or self-only suffix drafting
        over true token streams, :mod:`scheduling.rollout_spec`); ``summary`` then
        reports the measured ``acceptance_length`` (tokens per verification step), and
        ``drafted``/``accepted`` draft tokens. Without it every step decodes one token
        per sequence (``acceptance_length`` 1.0).
    audit : bool, default False

    Examples
    --------
    >>> spec = Instance("mistral-7b", "a100")
    >>> res = simulate_rollout([0, 0, 1, 1], [100] * 4, [50, 400, 30, 20], 512, spec,
    ...                        instances=2, chunk_size=128)
    >>> res.tokens.tolist(), res.summary["chunks"]
    ([50, 400, 30, 20], 7)
    """
    group = np.asarray(group_of, dtype=np.int64)
    prompt = np.asarray(prompt_tokens, dtype=np.int64)
    length = np.asarray(output_tokens, dtype=np.int64)
    if length.shape != group.shape or (length < 1).any() or (length > max_tokens).any():
        raise ValueError("output_tokens need one value in [1, max_tokens] per request")
    if migration not in ("recompute", "transfer"):
        raise ValueError(f"migration must be 'recompute' or 'transfer', got {migration!r}")
    if quota is not None and not 0 < quota <= 1:
        raise ValueError(f"quota must lie in (0, 1], got {quota!r}")
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ValueError(f"instances must be an integer >= 1, got {instances!r}")
    too_big = np.flatnonzero(-(-(prompt + max_tokens) // spec.block_size) > spec.kv_blocks)
    if too_big.size:
        raise ValueError(
            f"request {int(too_big[0])}: prompt {int(prompt[too_big[0]])} + max_tokens "
            f"{max_tokens} exceed the {spec.kv_tokens} KV tokens of one instance"
        )
    home = (group % instances) if static else None
    sched = RolloutScheduler(group, prompt, max_tokens, policy=policy, chunk_size=chunk_size,
                             starvation_s=starvation_s, home=home, placement=placement,
                             true_lengths=length if policy == "oracle" else None)  # fmt: skip
    if speculation is not None:
        speculation.check_workload(group, length)
    propose = speculation.propose if speculation is not None else None
    engines = [ServingInstance(spec, max_batch, max_batched_tokens) for _ in range(instances)]
    n = group.size
    finish = np.full(n, np.nan)
    busy = [0.0] * instances
    last_end = [0.0] * instances
    made = np.zeros(n, dtype=np.int64)  # tokens of each request's steps that have ended
    stop_at: list[float] = []  # when the quota was reached
    stepping = [False] * instances
    done_at_end: list[list[_Seq]] = [[] for _ in engines]
    log: list | None = [] if audit else None
    counts = {"chunks": 0, "finished": 0}
    target = n if quota is None else max(1, math.ceil(quota * n))
    sim = Simulation()

    def rooms() -> list[InstanceRoom]:
        return [
            InstanceRoom(max_batch - e.queued, e.free_blocks * e.spec.block_size) for e in engines
        ]

    def dispatch(now: float) -> None:
        placed: set[int] = set()
        for order in sched.next_chunks(now, rooms()):
            rid, k = order.rid, order.instance
            before = int(sched.generated[rid])
            end_at = before + min(order.max_new_tokens, int(length[rid]) - before)
            seq = _Seq(rid, int(prompt[rid]), end_at, generated=before)
            eng = engines[k]
            if migration == "transfer" and before > 0:
                seq.blocks = spec.blocks_for(int(prompt[rid]) + before + 1)
                eng.swapped.append(seq)  # loaded from the KV pool on admission
            else:
                eng.enqueue(seq)
            counts["chunks"] += 1
            placed.add(k)
        for k in sorted(placed):  # a round's chunks start together
            kick(k, now)

    def kick(k: int, now: float) -> None:
        eng = engines[k]
        if stepping[k] or not eng.queued:
            return
        before = {s.rid: s.generated for s in eng.running} if log is not None else {}
        end, _, done = eng.step(now, propose)
        last_end[k] = end
        if log is not None:
            producers = [s for s in eng.running if not s.pending] + done
            ids = tuple(s.rid for s in producers)
            tokens = tuple(s.generated - before.get(s.rid, s.generated - 1) for s in producers)
            log.append((k, now, end, ids, tokens))
        busy[k] += end - now
        done_at_end[k] = done
        stepping[k] = True
        sim.schedule(end, "step", k)

    def on_step(sim: Simulation, event: object) -> None:
        if stop_at and sim.now > stop_at[0]:  # the quota was reached before this ended
            sim.stop()
            return
        k = event.payload
        stepping[k] = False
        done, done_at_end[k] = done_at_end[k], []
        for seq in engines[k].running:
            made[seq.rid] = seq.generated
        for seq in done:
            made[seq.rid] = seq.generated
        if speculation is not None:  # the step's tokens become visible to drafting now
            speculation.commit(engines[k].running)
            speculation.commit(done)
        for seq in done:
            ended = seq.generated >= length[seq.rid]
            sched.chunk_done(sim.now, seq.rid, generated=seq.generated, finished=ended)
            if ended:
                finish[seq.rid] = sim.now
                counts["finished"] += 1
                if speculation is not None:
                    speculation.finished(seq.rid)
        if stop_at or counts["finished"] >= target:  # steps ending now still count
            stop_at[:] = [sim.now]
            return
        if done:
            dispatch(sim.now)
        kick(k, sim.now)

    sim.on("step", on_step)
    dispatch(0.0)
    sim.run()
    tokens = made  # carried requests keep what their steps that ended produced
    left = np.flatnonzero(np.isnan(finish))
    if quota is None and left.size:
        raise RuntimeError(f"request {int(left[0])} never finished (policy {policy!r})")
    makespan = float(np.nanmax(finish)) if n else 0.0
    ended = np.sort(finish[~np.isnan(finish)])
    tail_from = float(ended[max(0, math.ceil(0.9 * ended.size) - 1)]) if ended.size else 0.0
    busy = [b - max(0.0, e - makespan) for b, e in zip(busy, last_end, strict=True)]
    summary = {
        "policy": policy + (" (static)" if static else ""),
        "requests": n,
        "makespan_s": makespan,
        "tokens_per_s": float(tokens.sum()) / makespan if makespan > 0 else math.nan,
        "tail_s": makespan - tail_from,
        "idle_s": max(0.0, instances * makespan - sum(busy)),  # rounding aside
        "preemptions": sum(e.preemptions for e in engines),
        "migrations": sched.migrations,
        "chunks": counts["chunks"],
        "steps": sum(e.steps for e in engines) - sum(e > makespan for e in last_end),
        "carried": int(left.size),
        "carried_tokens": int(tokens[left].sum()),
        "acceptance_length": 1.0 if speculation is None else speculation.acceptance_length,
        "drafted": 0 if speculation is None else speculation.drafted,
        "accepted": 0 if speculation is None else speculation.accepted,
    }
    return RolloutResult(finish, tokens, summary, log)
