"""The rollout scheduler as a library: which chunk runs next, on which instance (Seer).

An RL framework's rollout loop owns the engines; it tells a :class:`RolloutScheduler`
which requests exist (GRPO groups of ``G`` responses to one prompt), when a chunk of a
request finished (how many tokens it has generated, and whether it ended), and asks it
:meth:`~RolloutScheduler.next_chunks` for the chunks to start now, given each instance's
free batch slots and KV tokens. The scheduler never sees a request's length before the
request ends.

Policies (``policy=``):

* ``"divided"`` -- divided rollout: every request runs in chunks of at most
  ``chunk_size`` tokens and returns to the buffer after each; chunks start first come
  first served, each on the instance with the most free KV cache;
* ``"context-aware"`` -- Seer's context-aware scheduling on top: one probe request per
  group runs first (probes least-served first); a group's length estimate is the longest
  of its finished requests (the generation cap while none has finished); the others run
  longest-first by estimated remaining tokens; a request that has waited in the buffer
  longer than ``starvation_s`` goes ahead of everything;
* ``"oracle"`` -- longest-first by true remaining tokens (given up front through
  ``true_lengths``: the upper reference, not a real policy);
* ``"fifo"`` -- requests run to completion in arrival order (``chunk_size`` = the cap):
  with groups placed statically this is the synchronous baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ROLLOUT_POLICIES", "ChunkOrder", "InstanceRoom", "RolloutScheduler"]

ROLLOUT_POLICIES = ("fifo", "divided", "context-aware", "oracle")


@dataclass(frozen=True)
class InstanceRoom:
    """What an instance can take now: batch slots and free KV-cache tokens."""

    slots: int
    free_kv_tokens: int


@dataclass(frozen=True)
class ChunkOrder:
    """Run request ``rid`` on ``instance`` for at most ``max_new_tokens`` tokens."""

    rid: int
    instance: int
    max_new_tokens: int


class RolloutScheduler:
    """Seer-style chunk scheduling (see the module docstring).

    Parameters
    ----------
    group_of : sequence of int
        The GRPO group of every request (requests are ``0 .. n - 1``).
    prompt_tokens : sequence of int
    max_tokens : int
        The generation cap.
    policy : {"fifo", "divided", "context-aware", "oracle"}
    chunk_size : int, default 8192
    starvation_s : float, default inf
        Waiting time in the buffer after which a request goes first (context-aware).
    true_lengths : sequence of int, optional
        Needed by ``"oracle"`` only.
    home : sequence of int, optional
        A fixed instance per request (static placement); chunks then only run there.
    placement : {"greedy", "matching"}, default "greedy"
        How a round's chunks find instances: each, in priority order, on the instance
        with the most free KV cache; or all at once through the matching primitive, a
        generalized assignment (instances' free KV tokens as capacities, each chunk's
        context plus chunk as its load) whose weights
        (:func:`scheduling.rollout.longest_first_weights` of the priority order) make the
        optimum place chunks in priority order as far as they fit; batch slots are then
        applied in priority order, and a chunk left without a slot is placed greedily on
        an instance with a slot and room left.

    Examples
    --------
    >>> s = RolloutScheduler([0, 0, 1, 1], [10, 10, 10, 10], 100, policy="context-aware",
    ...                      chunk_size=50)
    >>> [c.rid for c in s.next_chunks(0.0, [InstanceRoom(2, 10_000)])]  # one probe a group
    [0, 2]
    >>> s.chunk_done(1.0, 0, generated=30, finished=True)
    >>> s.estimate(0), s.estimate(1)
    (30, 100)
    """

    def __init__(
        self,
        group_of: Sequence[int],
        prompt_tokens: Sequence[int],
        max_tokens: int,
        *,
        policy: str = "context-aware",
        chunk_size: int = 8192,
        starvation_s: float = math.inf,
        true_lengths: Sequence[int] | None = None,
        home: Sequence[int] | None = None,
        placement: str = "greedy",
    ) -> None:
        if placement not in ("greedy", "matching"):
            raise ValueError(f"placement must be 'greedy' or 'matching', got {placement!r}")
        self.placement = placement
        group = np.asarray(group_of, dtype=np.int64)
        prompt = np.asarray(prompt_tokens, dtype=np.int64)
        if group.ndim != 1 or prompt.shape != group.shape:
            raise ValueError("group_of and prompt_tokens need one entry per request")
        if policy not in ROLLOUT_POLICIES:
            raise ValueError(f"policy must be one of {ROLLOUT_POLICIES}, got {policy!r}")
        if isinstance(max_tokens, bool) or int(max_tokens) != max_tokens or max_tokens < 1:
            raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
        if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1:
            raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
        if (prompt < 1).any():
            raise ValueError(f"prompt_tokens must be >= 1 (request {int(np.argmin(prompt))})")
        if policy == "oracle":
            if true_lengths is None:
                raise ValueError("policy 'oracle' needs true_lengths")
            lengths = np.asarray(true_lengths, dtype=np.int64)
            if lengths.shape != group.shape or (lengths < 1).any() or (lengths > max_tokens).any():
                raise ValueError("true_lengths need one value in [1, max_tokens] per request")
            self._true = lengths
        self.policy = policy
        self.group = group
        self.prompt = prompt
        self.max_tokens = int(max_tokens)
        self.chunk_size = self.max_tokens if policy == "fifo" else int(chunk_size)
        self.starvation_s = float(starvation_s)
        self.home = None if home is None else np.asarray(home, dtype=np.int64)
        n = group.size
        self.generated = np.zeros(n, dtype=np.int64)
        self.finished = np.zeros(n, dtype=bool)
        self.running = np.zeros(n, dtype=bool)
        self.ready_since = np.zeros(n)  # time each request entered the buffer
        self.last_instance = np.full(n, -1, dtype=np.int64)
        self._allowed = np.zeros(n, dtype=np.int64)  # tokens the running chunk ends at
        n_groups = int(group.max()) + 1 if n else 0
        self._longest_done = np.zeros(n_groups, dtype=np.int64)
        self._probe = np.full(n_groups, -1, dtype=np.int64)
        for rid in range(n):  # the first request of each group is its probe
            if self._probe[group[rid]] < 0:
                self._probe[group[rid]] = rid
        self.migrations = 0

    # ------------------------------------------------------------------ events
    def chunk_done(self, now: float, rid: int, *, generated: int, finished: bool) -> None:
        """Record that ``rid``'s chunk ended, with ``generated`` tokens in all.

        ``finished`` when the request itself ended (its length is then ``generated``).

        Raises
        ------
        ValueError
            If ``rid`` is not a request with a chunk running, or ``generated`` is not
            between what it had and what its chunk allowed.
        """
        if isinstance(rid, bool) or not isinstance(rid, int | np.integer):
            raise ValueError(f"rid must be an int request id, got {rid!r}")
        if not 0 <= rid < self.group.size or not self.running[rid]:
            raise ValueError(f"request {rid} has no chunk running")
        if isinstance(generated, bool) or not isinstance(generated, int | np.integer):
            raise ValueError(f"generated must be an int, got {generated!r}")
        if not self.generated[rid] <= generated <= self._allowed[rid]:
            raise ValueError(
                f"request {rid}: generated {generated} out of range: it had "
                f"{int(self.generated[rid])} and its chunk allowed up to "
                f"{int(self._allowed[rid])}"
            )
        self.running[rid] = False
        self.generated[rid] = generated
        self.ready_since[rid] = now
        if finished or generated >= self.max_tokens:
            self.finished[rid] = True
            g = self.group[rid]
            self._longest_done[g] = max(self._longest_done[g], generated)

    def estimate(self, group: int) -> int:
        """Return the group's length estimate: longest finished request, else the cap."""
        done = self._longest_done[group]
        return int(done) if done > 0 else self.max_tokens

    # ------------------------------------------------------------------ decisions
    def _priority(self, rid: int, now: float) -> tuple:
        """Sort key of a ready request (smaller runs first)."""
        if self.policy in ("fifo", "divided"):
            return (self.ready_since[rid], rid)
        if self.policy == "oracle":
            return (-(self._true[rid] - self.generated[rid]), rid)
        if now - self.ready_since[rid] > self.starvation_s:
            return (0, self.ready_since[rid], rid)
        g = self.group[rid]
        if self._probe[g] == rid and self._longest_done[g] == 0:
            return (1, self.generated[rid], rid)  # probes first, least served first
        remaining = max(self.estimate(g) - self.generated[rid], 1)
        return (2, -remaining, rid)

    def pending(self) -> np.ndarray:
        """Return the requests waiting in the buffer for their next chunk."""
        return np.flatnonzero(~self.finished & ~self.running)

    def next_chunks(self, now: float, rooms: Sequence[InstanceRoom]) -> list[ChunkOrder]:
        """Chunks to start now, given what each instance can take.

        Requests go in priority order, each to the instance with the most free KV cache
        that has a slot and room for its context plus the chunk (its ``home`` only, with a
        static placement); a request that fits nowhere waits. With
        ``placement="matching"`` the round is one generalized assignment instead.
        """
        ready = sorted(self.pending().tolist(), key=lambda r: self._priority(r, now))
        if not ready:
            return []
        chunks = [min(self.chunk_size, self.max_tokens - int(self.generated[r])) for r in ready]
        extra = 0 if self.policy == "fifo" else 1
        need = [
            int(self.prompt[r] + self.generated[r]) + extra * c
            for r, c in zip(ready, chunks, strict=True)
        ]
        if self.placement == "matching" and self.home is None:
            where = self._match(ready, need, rooms)
        else:
            where = self._greedy(ready, need, rooms)
        orders: list[ChunkOrder] = []
        for rid, chunk, k in zip(ready, chunks, where, strict=True):
            if k < 0:
                continue
            self.running[rid] = True
            if self.last_instance[rid] >= 0 and self.last_instance[rid] != k:
                self.migrations += 1
            self.last_instance[rid] = k
            self._allowed[rid] = self.generated[rid] + chunk
            orders.append(ChunkOrder(rid, k, chunk))
        return orders

    def _greedy(
        self,
        ready: list[int],
        need: list[int],
        rooms: Sequence[InstanceRoom],
        where: list[int] | None = None,
    ) -> list[int]:
        """Place each unplaced chunk (``where`` -1) in turn on the freest instance."""
        slots = [r.slots for r in rooms]
        free = [r.free_kv_tokens for r in rooms]
        if where is None:
            where = [-1] * len(ready)
        for i, k in enumerate(where):
            if k >= 0:
                slots[k] -= 1
                free[k] -= need[i]
        for i, rid in enumerate(ready):
            if where[i] >= 0:
                continue
            options = range(len(rooms)) if self.home is None else [int(self.home[rid])]
            best = max((k for k in options if slots[k] > 0 and free[k] >= need[i]),
                       key=lambda k: (free[k], -k), default=None)  # fmt: skip
            if best is None:
                if self.home is None and not any(s > 0 for s in slots):
                    break
                continue
            slots[best] -= 1
            free[best] -= need[i]
            where[i] = best
        return where

    def _match(
        self, ready: list[int], need: list[int], rooms: Sequence[InstanceRoom]
    ) -> list[int]:
        from matching import solve
        from scheduling._placement import all_pairs_instance
        from scheduling.rollout import longest_first_weights

        all_ready, all_need = ready, need
        total = sum(max(r.slots, 0) for r in rooms)
        ready, need = ready[:total], need[:total]  # at most one chunk per free slot
        if not ready:
            return [-1] * len(all_ready)
        weights = longest_first_weights(-np.arange(len(ready), dtype=float))
        kv = np.array([max(r.free_kv_tokens, 0) for r in rooms], dtype=np.int64)
        members = [np.array([i]) for i in range(len(ready))]
        inst = all_pairs_instance(members, np.broadcast_to(weights, (kv.size, len(ready))),
                                  np.asarray(need, dtype=np.int64), kv, len(ready))  # fmt: skip
        result = solve(inst)
        where = [-1] * len(ready)
        for resource, group in result.assignment.tolist():
            where[group] = resource
        slots = [r.slots for r in rooms]
        for i, k in enumerate(where):  # batch slots, in priority order
            if k >= 0:
                if slots[k] > 0:
                    slots[k] -= 1
                else:
                    where[i] = -1
        # chunks that lost their slot, or came after the first `total`, go greedily
        # (in priority order) where a slot and room are left
        where += [-1] * (len(all_ready) - len(where))
        return self._greedy(all_ready, all_need, rooms, where)
