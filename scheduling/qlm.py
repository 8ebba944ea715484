"""QLM: queue management for SLO-oriented LLM serving, as a serving policy.

After QLM (Patke et al., SoCC 2024). Requests are gathered into **request groups** of up
to ``group_size`` requests that share a model and an SLO class (a group's deadline is its
first member's: arrival + time-to-first-token target). Each instance has a **virtual
queue** of groups, ordered and filled by the **global plan**
(:func:`scheduling.qlm_plan.plan_queues`: which group on which instance at which position,
with model-swap times between adjacent groups of different models; fewest SLO violations,
then least lateness; CP-SAT under a time limit with an EDF fallback). Waiting times come
from the **request waiting time estimator** (:mod:`scheduling.rwt`): a group's work is the
CLT bound ``n mu + z sigma sqrt(n)`` on its output tokens, with the output-length
statistics of each model learned online from *completed* requests only, over the
instance's token throughput. The plan is recomputed when new groups arrive, when the
estimator predicts that a queued group will miss its deadline, and every
``replan_period_s``; never more often than every ``min_replan_interval_s``.

The LLM serving operations (LSOs), each switchable for ablation (:class:`LSOs`):

* **request pulling** -- an instance takes requests from the head group of its virtual
  queue only while it holds fewer than ``max_batch`` requests (off: every planned group is
  pushed to its instance's engine queue at once, where it can no longer be reordered);
* **eviction** -- when the head group's estimated wait for a batch slot would miss its
  deadline, running requests of less urgent classes (larger SLO, first token already
  produced) are evicted and the urgent requests go to the head of the engine queue;
* **GPU-CPU state swapping** -- evicted and preempted requests keep their KV state in CPU
  memory (a cluster setting: :func:`qlm_cluster`);
* **model swapping** -- the plan may put a group on an instance serving another model;
  the instance drains, then loads it;
* **warm start** -- an instance keeps the weights it unloaded in CPU memory and reloads
  them over PCIe (a cluster setting);
* **load balancing** -- the plan places groups on any instance (off: each group stays on
  the instance it was first given, in turn among those serving its model, and only the
  order within each queue is planned).

Examples
--------
>>> from scheduling.serving_sim import simulate_serving
>>> from scheduling.traces import assign_classes, synthetic_requests
>>> reqs = assign_classes(synthetic_requests(300, seed=2), models=["mistral-7b"], seed=2)
>>> lsos = LSOs()
>>> run = simulate_serving(reqs, QLMPolicy(lsos), qlm_cluster(lsos, instances=2))
>>> run.summary["finished"], run.summary["lso"]["plans"] > 0
(300, True)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scheduling.qlm_plan import PlanGroup, PlanInstance, evaluate_plan, plan_queues
from scheduling.rwt import OutputLengthStats, request_cost
from scheduling.serving import (
    Action,
    ClusterView,
    Dispatch,
    Evict,
    LoadModel,
    RequestInfo,
    ServingPolicy,
    WakeUp,
    check_pull_ahead,
    pull_room,
)

if TYPE_CHECKING:
    from scheduling.serving_sim import ClusterConfig

__all__ = ["LSOs", "QLMPolicy", "qlm_cluster"]


@dataclass(frozen=True)
class LSOs:
    """Which LLM serving operations QLM may use (all on by default)."""

    pulling: bool = True
    eviction: bool = True
    state_swapping: bool = True
    model_swapping: bool = True
    warm_start: bool = True
    load_balancing: bool = True

    def without(self, name: str) -> LSOs:
        """Return the same set with ``name`` switched off.

        Examples
        --------
        >>> LSOs().without("eviction").eviction
        False
        """
        if name not in {f.name for f in dataclasses.fields(self)}:
            names = ", ".join(f.name for f in dataclasses.fields(self))
            raise ValueError(f"unknown LSO {name!r}; known: {names}")
        return dataclasses.replace(self, **{name: False})


def qlm_cluster(lsos: LSOs, base: ClusterConfig | None = None, **options: object) -> ClusterConfig:
    """Return a cluster set up for ``lsos``: state swapping and warm starts as they say.

    ``base`` (or ``ClusterConfig(**options)``) gives every other setting.
    """
    from scheduling.serving_sim import ClusterConfig

    base = ClusterConfig(**options) if base is None else dataclasses.replace(base, **options)
    return dataclasses.replace(
        base,
        state_swapping=lsos.state_swapping,
        warm_models=max(base.warm_models, 1) if lsos.warm_start else 0,
    )


@dataclass(eq=False)
class _Group:
    gid: int
    model: str
    slo_class: str
    slo_s: float
    deadline: float
    waiting: deque
    size: int = 0
    started: bool = False
    home: int = -1  # its instance when load balancing is off


def _plan_group(group: _Group) -> PlanGroup:
    """Describe ``group`` to the planner: its waiting requests, due by its deadline."""
    return PlanGroup(group.gid, group.model, group.deadline, len(group.waiting))


class QLMPolicy(ServingPolicy):
    """QLM's queue manager (see the module docstring).

    Parameters
    ----------
    lsos : LSOs, optional
    group_size : int, default 8
        Most requests in one group.
    z : float, default 1.645
        Normal quantile of the waiting-time bound.
    prior_mean, prior_std : float, default 200
        Output-length prior of a model until ``min_count`` of its requests finished.
    min_count : int, default 20
    replan_period_s : float, default 10
    min_replan_interval_s : float, default 1
    method : {"auto", "cp-sat", "edf"}, default "auto"
        How the global plan is solved (:func:`scheduling.qlm_plan.plan_queues`).
    time_limit_s : float, default 0.05
        The plan's solver time limit.
    pull_ahead : int, default 4
        Most requests an instance holds queued in its engine, not yet running: pulling
        stops there, so the order of everything else stays the plan's.
    swap_memory_s : float, default 120
        An instance may leave its model for another only when no group of its model
        waits, and never as the last instance of a model requested within this time.
    """

    name = "qlm"

    def __init__(
        self,
        lsos: LSOs | None = None,
        *,
        group_size: int = 8,
        z: float = 1.645,
        prior_mean: float = 200.0,
        prior_std: float = 200.0,
        min_count: int = 20,
        replan_period_s: float = 10.0,
        min_replan_interval_s: float = 1.0,
        method: str = "auto",
        time_limit_s: float = 0.05,
        pull_ahead: int = 4,
        swap_memory_s: float = 120.0,
    ) -> None:
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"group_size must be an integer >= 1, got {group_size!r}")
        for name, value in (("replan_period_s", replan_period_s),
                            ("min_replan_interval_s", min_replan_interval_s),
                            ("time_limit_s", time_limit_s)):  # fmt: skip
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not swap_memory_s >= 0:
            raise ValueError(f"swap_memory_s must be >= 0, got {swap_memory_s!r}")
        if method not in ("auto", "cp-sat", "edf"):
            raise ValueError(f"method must be 'auto', 'cp-sat' or 'edf', got {method!r}")
        self.lsos = LSOs() if lsos is None else lsos
        self.group_size = group_size
        self.z = float(z)
        self.prior = (float(prior_mean), float(prior_std), int(min_count))
        OutputLengthStats(*self.prior)  # validates the prior
        self.replan_period_s = float(replan_period_s)
        self.min_replan_interval_s = float(min_replan_interval_s)
        self.method = method
        self.time_limit_s = float(time_limit_s)
        self.pull_ahead = check_pull_ahead(pull_ahead)
        self.swap_memory_s = float(swap_memory_s)

    # ------------------------------------------------------------------ events
    def reset(self, view: ClusterView, rng: np.random.Generator) -> None:
        """Start with empty queues and the output-length prior."""
        self._stats = {m: OutputLengthStats(*self.prior) for m in view.models}
        self._served_models = {view.model(k) for k in range(view.n_instances)}
        self._prompts = [0, 0]  # count, sum of arrived prompt lengths
        self._last_seen: dict[str, float] = {}
        self._prompt_mean = 1000.0
        self._rate = {m: self._throughput(view, m) for m in view.models}
        self._groups: dict[int, _Group] = {}
        self._open: dict[tuple[str, str], _Group] = {}
        self._queues: list[list[int]] = [[] for _ in range(view.n_instances)]
        self._unplaced: list[int] = []
        self._slo: dict[int, float] = {}  # slo_s of requests until they finish
        self._deadline: dict[int, float] = {}  # their TTFT deadlines
        self._model: dict[int, str] = {}  # model of dispatched requests until they finish
        self._planned_violations = 0
        self._ids = itertools.count()
        self._turn: dict[str, int] = {}
        self._last_plan = -math.inf
        self._last_check = -math.inf
        self._wake_at = math.inf
        self._count = {"plans": 0, "plans_exact": 0, "replans_for_violation": 0,
                       "evictions_ordered": 0, "model_swaps_ordered": 0, "steals": 0}  # fmt: skip
        self._plan_seconds: list[float] = []
        self._full_step: dict[tuple[str, int], float] = {}

    def _throughput(self, view: ClusterView, model: str) -> float:
        """Output tokens/s of one instance of ``model`` amid a full batch, prefills included.

        From the mean prompt seen so far and the learned mean output length
        (:func:`~scheduling.rwt.request_cost`).
        """
        mean = self._stats[model].mean
        return mean / request_cost(view.spec(model), view.max_batch, self._prompt_mean, mean)

    def on_arrival(self, now: float, requests: Sequence[RequestInfo]) -> None:
        """Add each request to its open group, opening a new group when needed."""
        for req in requests:
            if req.model not in self._stats:
                raise ValueError(f"request {req.rid} needs {req.model}, unknown to the cluster")
            if not self.lsos.model_swapping and req.model not in self._served_models:
                raise ValueError(
                    f"request {req.rid} needs {req.model}, which no instance has loaded, and "
                    "model swapping is off"
                )
            key = (req.model, req.slo_class)
            group = self._open.get(key)
            if group is None or group.started or group.size >= self.group_size:
                group = _Group(next(self._ids), req.model, req.slo_class, req.slo_s,
                               req.deadline, deque())  # fmt: skip
                self._groups[group.gid] = group
                self._open[key] = group
                self._unplaced.append(group.gid)
            group.waiting.append(req.rid)
            group.size += 1
            group.deadline = min(group.deadline, req.deadline)
            self._slo[req.rid] = req.slo_s
            self._deadline[req.rid] = req.deadline
            self._last_seen[req.model] = now
            self._prompts[0] += 1
            self._prompts[1] += req.prompt_tokens
        self._prompt_mean = self._prompts[1] / self._prompts[0]

    def on_finish(self, now: float, rid: int, output_tokens: int) -> None:
        """Learn the finished request's output length."""
        self._slo.pop(rid, None)
        self._deadline.pop(rid, None)
        self._stats[self._model.pop(rid)].observe(output_tokens)

    def counters(self) -> dict[str, int]:
        """Plans made (and how many CP-SAT proved optimal), evictions, model swaps."""
        out = dict(self._count)
        if self._plan_seconds:
            out["plan_ms_p99"] = round(1000 * float(np.percentile(self._plan_seconds, 99)), 3)
        return out

    # ------------------------------------------------------------------ planning
    def _backlog_s(self, view: ClusterView, k: int) -> float:
        """Estimated seconds instance ``k`` needs for the requests it holds now.

        A running request that has produced ``g`` tokens is expected to need
        ``max(mean - g, mean / 4)`` more; a queued one ``mean``.
        """
        mean = self._stats[view.model(k)].mean
        tokens = sum(max(mean - generated, 0.25 * mean) for _, generated in view.running(k))
        tokens += view.waiting(k) * mean
        return tokens / self._rate[view.model(k)]

    def _may_swap(self, view: ClusterView, k: int, now: float) -> bool:
        """Whether instance ``k`` may leave its model (see ``swap_memory_s``)."""
        loaded = view.model(k)
        if any(g.model == loaded and g.waiting for g in self._groups.values()):
            return False
        if now - self._last_seen.get(loaded, -math.inf) > self.swap_memory_s:
            return True
        return sum(view.model(j) == loaded for j in range(view.n_instances)) > 1

    def _plan_instance(self, view: ClusterView, k: int, now: float) -> PlanInstance:
        loaded = view.model(k)
        swap = self.lsos.model_swapping and self._may_swap(view, k, now)
        models = view.models if swap else (loaded,)
        return PlanInstance(
            key=k,
            model=loaded,
            available_at=max(now, view.loading_until(k)) + self._backlog_s(view, k),
            throughput={m: self._rate[m] for m in models},
            load_s={
                m: view.load_time(k, m)
                if m != loaded
                else view.spec(m).model_load_time(warm=self.lsos.warm_start)  # switching back
                for m in models
            },
        )

    def _plan_instances(
        self, view: ClusterView, now: float, needed: set[str]
    ) -> list[PlanInstance]:
        """Describe every instance for the planner.

        A needed model that no instance may take is opened to every instance (with
        model swapping on).
        """
        instances = [self._plan_instance(view, k, now) for k in range(view.n_instances)]
        covered = {m for inst in instances for m in inst.throughput}
        missing = needed - covered
        if missing and self.lsos.model_swapping:
            instances = [self._opened(view, inst, missing) for inst in instances]
        return instances

    def _opened(self, view: ClusterView, inst: PlanInstance, models: set[str]) -> PlanInstance:
        """Return ``inst`` allowed to load ``models`` too (at their rates and load times)."""
        return dataclasses.replace(
            inst,
            throughput={**inst.throughput, **{m: self._rate[m] for m in models}},
            load_s={**inst.load_s, **{m: view.load_time(inst.key, m) for m in models}},
        )

    def _place_homes(self, view: ClusterView) -> None:
        """Give new groups an instance in turn (load balancing off)."""
        for gid in self._unplaced:
            group = self._groups.get(gid)
            if group is None:
                continue
            ks = [k for k in range(view.n_instances) if view.model(k) == group.model]
            if not ks:
                ks = list(range(view.n_instances))
            turn = self._turn.get(group.model, 0)
            group.home = ks[turn % len(ks)]
            self._turn[group.model] = turn + 1

    def _plan(self, view: ClusterView, now: float) -> None:
        started = time.perf_counter()
        self._rate = {m: self._throughput(view, m) for m in view.models}
        live = [g for g in self._groups.values() if g.waiting]
        instances = self._plan_instances(view, now, {g.model for g in live})
        if not self.lsos.load_balancing:
            self._place_homes(view)
        self._unplaced = []
        groups = [_plan_group(g) for g in live]
        options = dict(length_stats=self._stats, z=self.z, method=self.method,
                       time_limit_s=self.time_limit_s,
                       allow_model_swap=self.lsos.model_swapping)  # fmt: skip
        if self.lsos.load_balancing:
            plan = plan_queues(groups, instances, **options)
            queues = {k: list(plan.queues[k]) for k in range(view.n_instances)}
            self._count["plans_exact"] += plan.status == "optimal"
        else:
            queues = {}
            for k, inst in enumerate(instances):
                mine = [g for g in groups if self._groups[g.key].home == k]
                if not mine:
                    queues[k] = []
                    continue
                extra = {g.model for g in mine} - set(inst.throughput)
                if extra and self.lsos.model_swapping:  # its own groups' models
                    inst = self._opened(view, inst, extra)
                plan = plan_queues(mine, [inst], **options)
                queues[k] = list(plan.queues[k])
                self._count["plans_exact"] += plan.status == "optimal"
        self._queues = [queues[k] for k in range(view.n_instances)]
        self._planned_violations = self._predicted_violations(view, now)
        self._last_plan = now
        self._count["plans"] += 1
        self._plan_seconds.append(time.perf_counter() - started)

    def _predicted_violations(self, view: ClusterView, now: float) -> int:
        """Count the requests the current queues, estimated now, would make late."""
        live = {g for q in self._queues for g in q if g in self._groups}
        if not live:
            return 0
        groups = [_plan_group(self._groups[g]) for g in sorted(live)]
        instances = self._plan_instances(view, now, {g.model for g in groups})
        queues = {k: tuple(g for g in q if g in live) for k, q in enumerate(self._queues)}
        try:
            return evaluate_plan(queues, groups, instances, length_stats=self._stats, z=self.z)[2]
        except ValueError:  # a queued group may no longer run where it waits: re-plan
            return sum(g.requests for g in groups) + 1

    # ------------------------------------------------------------------ decisions
    def decide(self, now: float, view: ClusterView) -> list[Action]:
        """Re-plan when due, then pull, evict and swap models as the queues say."""
        due = now - self._last_plan >= self.min_replan_interval_s
        if due and (self._unplaced or now - self._last_plan >= self.replan_period_s):
            self._plan(view, now)
        elif due and any(self._queues) and now - self._last_check >= self.min_replan_interval_s:
            self._last_check = now  # the RWT check, at most once an interval
            if self._predicted_violations(view, now) > self._planned_violations:
                self._count["replans_for_violation"] += 1
                self._plan(view, now)
        actions: list[Action] = []
        for k in range(view.n_instances):
            actions += self._serve_queue(view, k, now)
        if any(self._queues) or self._unplaced:
            wake = now + (self.min_replan_interval_s if self._unplaced else self.replan_period_s)
            if wake < self._wake_at or self._wake_at <= now:
                self._wake_at = wake
                actions.append(WakeUp(wake))
        return actions

    def _dispatch(self, group: _Group, k: int, count: int, *, front: bool) -> list[Action]:
        out: list[Action] = []
        for _ in range(min(count, len(group.waiting))):
            rid = group.waiting.popleft()
            self._model[rid] = group.model
            out.append(Dispatch(rid, k, front))
        if front:  # each lands at the head: the earliest member must be pushed last
            out.reverse()
        group.started = True
        if not group.waiting:  # served in full: forget it
            del self._groups[group.gid]
            if self._open.get((group.model, group.slo_class)) is group:
                del self._open[(group.model, group.slo_class)]
        else:  # the rest are due by their own earliest deadline
            group.deadline = self._deadline[group.waiting[0]]
        return out

    def _serve_queue(self, view: ClusterView, k: int, now: float) -> list[Action]:
        queue = self._queues[k]
        actions: list[Action] = []
        room = pull_room(view, k, self.pull_ahead)
        loaded = view.model(k)
        while queue:
            group = self._groups.get(queue[0])
            if group is None:  # served in full
                queue.pop(0)
                continue
            if group.model != loaded:
                if not self.lsos.model_swapping or actions or not view.idle(k, now):
                    return actions  # drain first: no new work of the old model
                actions.append(LoadModel(k, group.model))
                self._count["model_swaps_ordered"] += 1
                loaded = group.model
                room = min(view.max_batch, self.pull_ahead)
            if not self.lsos.pulling:
                actions += self._dispatch(group, k, len(group.waiting), front=False)
                queue.pop(0)
                continue
            if room <= 0 and self.lsos.eviction:
                actions += self._evict_for(view, k, group, now)
            if room <= 0:
                return actions
            taken = self._dispatch(group, k, room, front=False)
            room -= len(taken)
            actions += taken
            if group.waiting:
                return actions
            queue.pop(0)
        if self.lsos.pulling and self.lsos.load_balancing and room > 0 and not actions:
            actions += self._steal(k, loaded, room)
        return actions

    def _steal(self, k: int, model: str, room: int) -> list[Action]:
        """Pull for an instance with room and nothing of its own to do.

        Takes the earliest-deadline waiting group of its model from any queue.
        """
        out: list[Action] = []
        while room > 0:
            best = min(
                (g for g in self._groups.values() if g.model == model and g.waiting),
                key=lambda g: (g.deadline, g.gid), default=None,
            )  # fmt: skip
            if best is None:
                break
            taken = self._dispatch(best, k, room, front=False)
            room -= len(taken)
            out += taken
            self._count["steals"] += 1
        return out

    def _evict_for(self, view: ClusterView, k: int, group: _Group, now: float) -> list[Action]:
        """Evict less urgent running requests when ``group`` would otherwise be late.

        The group's first request gets a slot when the ``w + 1``-th running request
        finishes (``w`` requests queued on the engine ahead of it); a running request
        that has produced ``g`` tokens is expected to need ``max(mean - g, mean / 4)``
        more, one per step of the current batch. When that wait passes the group's
        deadline, running requests of classes with a longer SLO that have produced
        their first token (and are not part-way through a chunked prefill) make way, at
        most as many as the group has waiting.
        """
        mean = self._stats[group.model].mean
        context = int(self._prompt_mean + mean / 2)
        key = (group.model, context)
        if key not in self._full_step:  # a step of a full batch: the slowest there is
            spec = view.spec(group.model)
            self._full_step[key] = spec.step_time(decode_contexts=[context] * view.max_batch)
        if now + mean * self._full_step[key] <= group.deadline:
            return []  # even the longest wait for a slot is on time
        running = view.running(k)
        if not running:
            return []
        left = sorted(max(mean - g, 0.25 * mean) for _, g in running)
        ahead = min(view.waiting(k), len(left) - 1)
        step = view.spec(group.model).step_time(decode_contexts=[context] * len(running))
        if now + left[ahead] * step <= group.deadline:
            return []
        busy = view.prefilling(k)
        victims = sorted(
            ((self._slo.get(rid, 0.0), -generated, rid) for rid, generated in running
             if self._slo.get(rid, 0.0) > group.slo_s and generated >= 1 and rid not in busy),
            reverse=True,
        )[: len(group.waiting)]  # fmt: skip
        actions: list[Action] = [Evict(k, rid) for _, _, rid in victims]
        self._count["evictions_ordered"] += len(actions)
        return actions + self._dispatch(group, k, len(victims), front=True)
