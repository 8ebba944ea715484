"""A simulated LLM serving cluster that calls a :class:`~scheduling.serving.ServingPolicy`.

The cluster is ``instances`` GPU servers (``tp`` GPUs each) running continuous-batching
engines (:class:`scheduling.llm_sim.ServingInstance`) over the
:class:`scheduling.engine.Instance` cost model, on the shared discrete-event core
(:class:`scheduling.sim.Simulation`). Each instance has one model loaded at a time; the
policy decides where requests queue, which running requests are evicted and when an idle
instance loads another model (cold from storage, or warm from CPU memory when the
instance still holds that model's weights there: the ``warm_models`` most recently
unloaded ones).

Order within an instant: arrivals, step ends and finished model loads are processed
first; then, if a request arrived or finished, a step admitted every queued request of
its instance, a load finished or a wake-up fell due, the policy's
:meth:`~scheduling.serving.ServingPolicy.decide` is called once and its actions applied;
then every instance with work starts its next step.

The simulator is the world: it alone reads true output lengths (to end a request when
it has produced them) and refuses, at arrival and with a reason, a request that could
never run (its model fits no instance of this cluster, or prompt plus output exceed the
KV cache). Everything else the policy sees goes through the read-only
:class:`~scheduling.serving.ClusterView`.

Examples
--------
>>> from scheduling.serving_baselines import FCFSPolicy
>>> from scheduling.traces import assign_classes, synthetic_requests
>>> reqs = assign_classes(synthetic_requests(200, seed=1), models=["mistral-7b"], seed=1)
>>> run = simulate_serving(reqs, FCFSPolicy(), ClusterConfig(instances=2))
>>> run.summary["requests"], run.summary["dropped"], bool(run.summary["slo_attainment"] > 0.9)
(200, 0, True)
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scheduling.engine import Instance
from scheduling.llm_sim import ServingInstance, _Seq
from scheduling.rwt import request_cost
from scheduling.serving import (
    ClusterView,
    Dispatch,
    Evict,
    LoadModel,
    RequestInfo,
    ServingActionError,
    ServingPolicy,
    WakeUp,
    load_seconds,
)
from scheduling.sim import Simulation
from scheduling.traces import LLMRequests

__all__ = [
    "ClusterConfig",
    "ServingRun",
    "cluster_models",
    "default_models",
    "simulate_serving",
]


@dataclass(frozen=True)
class ClusterConfig:
    """A serving cluster.

    Parameters
    ----------
    instances : int, default 8
    gpu : str, default "a100"
        GPU preset (:data:`scheduling.engine.GPUS`).
    tp : int, default 1
        GPUs per instance (tensor parallel).
    models : sequence of str, optional
        Model loaded on each instance at time 0 (one name per instance). Default: the
        workload's models shared out in proportion to their demand, requests times
        :func:`scheduling.rwt.request_cost` (:func:`default_models`).
    max_batch : int, default 256
        Sequences an engine runs at once (vLLM's ``max_num_seqs``).
    max_batched_tokens : int, default 8192
        Prefill tokens per step.
    chunked_prefill : bool, default False
        Engines split prefills over steps (:class:`~scheduling.llm_sim.ServingInstance`).
    state_swapping : bool, default False
        KV state of preempted and evicted requests goes to CPU memory over PCIe
        (QLM's GPU-CPU state swapping) instead of being recomputed.
    warm_models : int, default 1
        Models whose weights an instance keeps in CPU memory after unloading them, for
        warm starts (0: every load is cold).
    specs : mapping of str to Instance, optional
        Cost models by model name, for models that are not presets or engines with other
        settings; a model absent here is ``Instance(name, gpu, tp=tp)``.
    """

    instances: int = 8
    gpu: str = "a100"
    tp: int = 1
    models: Sequence[str] | None = None
    max_batch: int = 256
    max_batched_tokens: int = 8192
    chunked_prefill: bool = False
    state_swapping: bool = False
    warm_models: int = 1
    specs: Mapping[str, Instance] | None = None

    def __post_init__(self) -> None:
        for name in ("instances", "tp", "max_batch", "max_batched_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.warm_models, bool) or not isinstance(self.warm_models, int):
            raise ValueError(f"warm_models must be an integer >= 0, got {self.warm_models!r}")
        if self.warm_models < 0:
            raise ValueError(f"warm_models must be an integer >= 0, got {self.warm_models!r}")
        if self.models is not None:
            if isinstance(self.models, str) or len(self.models) != self.instances:
                raise ValueError(
                    f"models must name one model per instance ({self.instances}), "
                    f"got {self.models!r}"
                )
            object.__setattr__(self, "models", tuple(self.models))


def default_models(
    names: Sequence[str], instances: int, cost: Mapping[str, float] | None = None
) -> tuple[str, ...]:
    """Share ``instances`` among the models of ``names`` (one entry per request).

    Each model gets instances in proportion to its demand -- its requests times
    ``cost[model]``, the instance-seconds one of its requests takes (default 1) -- by
    largest remainders, and at least one while there are instances to give.

    Examples
    --------
    >>> default_models(["a"] * 6 + ["b"] * 3 + ["c"], 4)
    ('a', 'a', 'b', 'c')
    >>> default_models(["a"] * 6 + ["b"] * 3 + ["c"], 4, cost={"a": 1, "b": 4, "c": 1})
    ('b', 'b', 'a', 'c')
    """
    models, counts = np.unique(np.asarray(names, dtype=str), return_counts=True)
    if models.size == 0:
        raise ValueError("no requests to share instances by")
    cost = cost or {}
    demand = counts * np.array([float(cost.get(m, 1.0)) for m in models.tolist()])
    if not (np.isfinite(demand).all() and (demand > 0).all()):
        raise ValueError(f"cost must be finite and > 0 for every model, got {dict(cost)}")
    order = np.argsort(-demand, kind="stable")
    models, demand = models[order], demand[order]
    share = demand / demand.sum() * instances
    given = np.minimum(np.maximum(np.floor(share), 1), instances).astype(int)
    while given.sum() > instances:  # more models than instances: drop the least demand
        given[np.flatnonzero(given)[-1]] -= 1
    rest = share - np.floor(share)
    for i in np.argsort(-rest, kind="stable"):
        if given.sum() >= instances:
            break
        given[i] += 1
    return tuple(m for m, g in zip(models.tolist(), given.tolist(), strict=True) for _ in range(g))


@dataclass(frozen=True)
class ServingRun:
    """Per-request outcomes and the run's metrics (see :func:`simulate_serving`).

    Attributes
    ----------
    arrival, first_token, finish : ndarray
        Seconds (NaN for a dropped request).
    instance : ndarray of int
        Where each request ran (-1 when dropped).
    tokens : ndarray of int
        Tokens each request produced.
    model, slo_class : ndarray of str
    slo_s : ndarray of float
    dropped : dict of int to str
        Requests refused at arrival, with the reason.
    summary : dict
        See :func:`simulate_serving`.
    audit : dict or None
        With ``simulate_serving(audit=True)``: ``"steps"``, one ``(instance, start, end,
        model, ids of the requests that produced a token in it)`` per engine step, and
        ``"loads"``, one ``(instance, start, end, model)`` per model load.
    """

    arrival: np.ndarray
    first_token: np.ndarray
    finish: np.ndarray
    instance: np.ndarray
    tokens: np.ndarray
    model: np.ndarray
    slo_class: np.ndarray
    slo_s: np.ndarray
    dropped: dict
    summary: dict
    audit: dict | None = None

    @property
    def ttft(self) -> np.ndarray:
        """Time to first token of each request (NaN when dropped)."""
        return self.first_token - self.arrival

    @property
    def met(self) -> np.ndarray:
        """Whether each request's first token came within its SLO (False when dropped)."""
        with np.errstate(invalid="ignore"):
            return self.ttft <= self.slo_s

    #: Column names of :meth:`table`.
    COLUMNS = ("request", "model", "slo_class", "slo_s", "arrival_s", "first_token_s",
               "finish_s", "ttft_s", "instance", "tokens", "slo_met", "dropped")  # fmt: skip

    def table(self) -> list[list[object]]:
        """One row per request, in the order of :attr:`COLUMNS`."""
        ttft, met = self.ttft, self.met
        return [
            [i, self.model[i], self.slo_class[i], self.slo_s[i], f"{self.arrival[i]:.6f}",
             f"{self.first_token[i]:.6f}", f"{self.finish[i]:.6f}", f"{ttft[i]:.6f}",
             int(self.instance[i]), int(self.tokens[i]), bool(met[i]), self.dropped.get(i, "")]
            for i in range(self.arrival.size)
        ]  # fmt: skip

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`table` with a header; return the path."""
        out = Path(path)
        with out.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.COLUMNS)
            w.writerows(self.table())
        return out


@dataclass(eq=False)
class _Cluster:
    """The simulator's mutable world (the policy sees it only through ClusterView)."""

    config: ClusterConfig
    specs: dict[str, Instance]
    engines: list[ServingInstance]
    loaded: list[str]
    loading_until: list[float]
    cpu_models: list[list[str]]
    stepping: list[bool]
    loads: dict[str, int] = field(default_factory=lambda: {"cold": 0, "warm": 0})

    def load_time(self, k: int, model: str) -> float:
        if model not in self.specs:
            raise ServingActionError(f"model {model!r} is not available on this cluster")
        return load_seconds(self.specs[model], self.loaded[k], model, self.cpu_models[k])


class _LiveView(ClusterView):
    """The simulator's view of its world for the policy (read-only accessors)."""

    def __init__(self, world: _Cluster) -> None:
        self.__world = world

    n_instances = property(lambda self: len(self.__world.engines))
    max_batch = property(lambda self: self.__world.config.max_batch)
    models = property(lambda self: tuple(self.__world.specs))

    def spec(self, model: str) -> Instance:
        return self.__world.specs[model]

    def model(self, k: int) -> str:
        return self.__world.loaded[k]

    def loading_until(self, k: int) -> float:
        return self.__world.loading_until[k]

    def outstanding(self, k: int) -> int:
        return self.__world.engines[k].queued

    def idle(self, k: int, now: float) -> bool:
        w = self.__world
        return not (w.engines[k].queued or w.stepping[k] or w.loading_until[k] > now)

    def waiting(self, k: int) -> int:
        eng = self.__world.engines[k]
        return len(eng.waiting) + len(eng.swapped) + len(eng.held)

    def running(self, k: int) -> tuple[tuple[int, int], ...]:
        return tuple((s.rid, s.generated) for s in self.__world.engines[k].running)

    def prefilling(self, k: int) -> frozenset[int]:
        return frozenset(s.rid for s in self.__world.engines[k].running if s.pending)

    def queued_ids(self, k: int) -> tuple[int, ...]:
        return tuple(s.rid for s in self.__world.engines[k].waiting)

    def free_kv_tokens(self, k: int) -> int:
        eng = self.__world.engines[k]
        return eng.free_blocks * eng.spec.block_size

    def warm_models(self, k: int) -> tuple[str, ...]:
        return tuple(self.__world.cpu_models[k])

    def load_time(self, k: int, model: str) -> float:
        return self.__world.load_time(k, model)


def _specs(names: set[str], config: ClusterConfig) -> dict[str, Instance]:
    given = dict(config.specs or {})
    for name, spec in given.items():
        if not isinstance(spec, Instance):
            raise TypeError(f"specs[{name!r}] must be an Instance, got {type(spec).__name__}")
    specs = {}
    for name in sorted(names):
        if name in given:
            specs[name] = given[name]
            continue
        try:
            specs[name] = Instance(name, config.gpu, tp=config.tp)
        except ValueError as err:
            raise ValueError(f"model {name!r} cannot run on this cluster: {err}") from None
    return specs


def cluster_models(
    names: Sequence[str], prompt_mean: float, config: ClusterConfig
) -> tuple[dict[str, Instance], tuple[str, ...]]:
    """Return the cost model of every model involved and each instance's first model.

    ``names`` has one model name per request; the models come from ``config.models`` or,
    when that is not given, from :func:`default_models` weighted by
    :func:`~scheduling.rwt.request_cost` at ``prompt_mean``. A model that cannot run on
    the cluster's GPUs is a ``ValueError`` naming it.
    """
    names = np.asarray(names, dtype=str)
    specs = _specs(set(names.tolist()) | set(config.models or ()), config)
    if config.models is not None:
        return specs, tuple(config.models)
    cost = {m: request_cost(s, config.max_batch, prompt_mean) for m, s in specs.items()}
    return specs, default_models(names, config.instances, cost)


def _check_requests(requests: LLMRequests) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(requests, LLMRequests):
        raise TypeError(f"requests must be LLMRequests, got {type(requests).__name__}")
    if not requests.has_classes:
        raise ValueError(
            "requests have no model and SLO class: give them some with "
            "scheduling.traces.assign_classes"
        )
    arr = np.asarray(requests.arrival, dtype=float)
    pro = np.asarray(requests.prompt_tokens, dtype=np.int64)
    if arr.size and (not np.isfinite(arr).all() or (np.diff(arr) < 0).any() or arr[0] < 0):
        raise ValueError("arrival times must be finite, >= 0 and non-decreasing")
    if (pro < 1).any():
        i = int(np.flatnonzero(pro < 1)[0])
        raise ValueError(f"request {i}: prompt_tokens {pro[i]} must be >= 1")
    slo = np.asarray(requests.slo_s, dtype=float)
    if not (slo > 0).all():  # inf: no SLO
        i = int(np.flatnonzero(~(slo > 0))[0])
        raise ValueError(f"request {i}: SLO {slo[i]!r} s must be > 0")
    return arr, pro, slo


def simulate_serving(
    requests: LLMRequests,
    policy: ServingPolicy,
    config: ClusterConfig | None = None,
    *,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    audit: bool = False,
) -> ServingRun:
    """Serve ``requests`` on a simulated cluster, asking ``policy`` for every decision.

    Parameters
    ----------
    requests : LLMRequests
        With model and SLO class (:func:`scheduling.traces.assign_classes`).
    policy : ServingPolicy
    config : ClusterConfig, optional
    seed : int, default 0
        Randomness handed to the policy's ``reset``.
    progress : callable, optional
        ``progress(done, total)`` after each instant at which requests finished.
    audit : bool, default False
        Keep a log of every engine step and model load (:attr:`ServingRun.audit`).

    Returns
    -------
    ServingRun
        ``summary`` has: requests, dropped, finished, slo_attainment (overall, of all
        requests, dropped ones counting as missed) and slo_attainment_by_class,
        requests_per_s and tokens_per_s over the makespan, ttft/tbt/e2e p50, p90, p99 (s),
        gpu_utilisation (mean share of time the instances spent computing steps),
        lso (preemptions, evictions, swaps_out, swaps_in, model_loads_cold,
        model_loads_warm, and the policy's own counters), peak_kv_blocks and kv_blocks
        per instance.

    Raises
    ------
    ServingActionError
        When the policy asks for an impossible action (the message names it).
    RuntimeError
        When the policy leaves requests it never dispatched.
    """
    config = ClusterConfig() if config is None else config
    if not isinstance(policy, ServingPolicy):
        raise TypeError(f"policy must be a ServingPolicy, got {type(policy).__name__}")
    arr, pro, slo = _check_requests(requests)
    n = arr.size
    names = np.asarray(requests.model, dtype=str)
    classes = np.asarray(requests.slo_class, dtype=str)
    if config.models is None and not n:
        raise ValueError("an empty workload needs config.models")
    specs, initial = cluster_models(names, float(pro.mean()) if n else 0.0, config)
    mode = "swap" if config.state_swapping else "recompute"
    engines = [
        ServingInstance(
            specs[m],
            config.max_batch,
            config.max_batched_tokens,
            preemption=mode,
            chunked_prefill=config.chunked_prefill,
        )
        for m in initial
    ]
    world = _Cluster(config, specs, engines, list(initial), [0.0] * len(initial),
                     [[] for _ in initial], [False] * len(initial))  # fmt: skip
    view = _LiveView(world)
    policy.reset(view, np.random.default_rng(seed))

    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    where = np.full(n, -1, dtype=np.int64)
    tokens = np.zeros(n, dtype=np.int64)
    dropped: dict[int, str] = {}
    seqs: dict[int, _Seq] = {}  # arrived, not yet dispatched
    placed = np.zeros(n, dtype=bool)
    busy = [0.0] * len(engines)
    peak = [0] * len(engines)
    stepping = world.stepping
    done_at_end: list[list[_Seq]] = [[] for _ in engines]
    drained = [False] * len(engines)  # the step admitted every queued request
    state = {"decide": False, "kick": False, "finished": 0, "next": 0}
    kicked: set[int] = set()
    sim = Simulation()
    outputs = requests.output_tokens
    log: dict | None = {"steps": [], "loads": []} if audit else None

    def need_decision() -> None:
        if not state["decide"]:
            state["decide"] = True
            sim.schedule(sim.now, "decide", priority=1)

    def need_kick(k: int) -> None:
        kicked.add(k)
        if not state["kick"]:
            state["kick"] = True
            sim.schedule(sim.now, "kick", priority=2)

    def on_arrive(sim: Simulation, event: object) -> None:
        i = state["next"]
        now = sim.now
        infos = []
        while i < n and arr[i] == now:
            out = int(outputs[i])
            spec = specs[names[i]]
            if out < 1:
                dropped[i] = f"output_tokens {out}: nothing to generate"
            elif spec.blocks_for(int(pro[i]) + out) > spec.kv_blocks:
                dropped[i] = (
                    f"prompt {int(pro[i])} + output {out} tokens exceed the "
                    f"{spec.kv_tokens} KV tokens of {names[i]} on {config.tp} x {config.gpu}"
                )
            else:
                seqs[i] = _Seq(i, int(pro[i]), out, str(names[i]))
                infos.append(
                    RequestInfo(i, float(arr[i]), int(pro[i]), str(names[i]), str(classes[i]),
                                float(slo[i]))
                )  # fmt: skip
            i += 1
        state["next"] = i
        if i < n:
            sim.schedule(float(arr[i]), "arrive")
        if infos:
            policy.on_arrival(now, infos)
            need_decision()

    def on_step_end(sim: Simulation, event: object) -> None:
        k = event.payload
        stepping[k] = False
        done = done_at_end[k]
        if done:
            done_at_end[k] = []
            for s in done:
                policy.on_finish(sim.now, s.rid, s.generated)
            state["finished"] += len(done)
            need_decision()
            if progress is not None:
                progress(state["finished"], n - len(dropped))
        elif drained[k]:
            need_decision()
        need_kick(k)

    def on_loaded(sim: Simulation, event: object) -> None:
        need_decision()
        need_kick(event.payload)

    def on_wake(sim: Simulation, event: object) -> None:
        need_decision()

    def apply(action: object, now: float) -> None:
        if isinstance(action, Dispatch):
            rid, k = action.rid, action.instance
            _check_instance(k, len(engines), action)
            seq = seqs.get(rid)
            if seq is None:
                gone = 0 <= rid < n and placed[rid]
                why = "was already dispatched" if gone else "is not waiting"
                raise ServingActionError(f"{action}: request {rid} {why}")
            if world.loaded[k] != seq.model:
                raise ServingActionError(
                    f"{action}: request {rid} needs {seq.model}, instance {k} has "
                    f"{world.loaded[k]} loaded"
                )
            engines[k].enqueue(seq, front=bool(action.front))
            del seqs[rid]
            placed[rid] = True
            where[rid] = k
            need_kick(k)
        elif isinstance(action, Evict):
            k = action.instance
            _check_instance(k, len(engines), action)
            try:
                engines[k].evict(action.rid, swap=config.state_swapping)
            except ValueError as err:
                raise ServingActionError(f"{action}: {err}") from None
            need_kick(k)
        elif isinstance(action, LoadModel):
            k, model = action.instance, action.model
            _check_instance(k, len(engines), action)
            if model not in specs:
                raise ServingActionError(f"{action}: model {model!r} is not on this cluster")
            if engines[k].queued or stepping[k] or world.loading_until[k] > now:
                raise ServingActionError(f"{action}: instance {k} is not idle")
            if world.loaded[k] == model:
                raise ServingActionError(f"{action}: {model} is already loaded")
            warm = model in world.cpu_models[k]
            seconds = world.load_time(k, model)
            cache = world.cpu_models[k]
            if warm:
                cache.remove(model)
            cache.insert(0, world.loaded[k])
            del cache[config.warm_models :]
            world.loads["warm" if warm else "cold"] += 1
            world.loaded[k] = model
            world.loading_until[k] = now + seconds
            engines[k].load(specs[model])
            if log is not None:
                log["loads"].append((k, now, now + seconds, model))
            sim.schedule(now + seconds, "loaded", k)
        elif isinstance(action, WakeUp):
            t = float(action.time)
            if not (math.isfinite(t) and t > now):
                raise ServingActionError(f"{action}: the time must be finite and after now {now}")
            sim.schedule(t, "wake")
        else:
            raise ServingActionError(f"unknown action {action!r}")

    def on_decide(sim: Simulation, event: object) -> None:
        state["decide"] = False
        now = sim.now
        for action in policy.decide(now, view):
            apply(action, now)

    def on_kick(sim: Simulation, event: object) -> None:
        state["kick"] = False
        now = sim.now
        for k in sorted(kicked):
            eng = engines[k]
            if stepping[k] or not eng.queued or world.loading_until[k] > now:
                continue
            queued_before = len(eng.waiting)
            end, firsts, done = eng.step(now)
            drained[k] = queued_before > 0 and not eng.waiting
            model = world.loaded[k]
            for s in eng.running:
                if s.model != model:  # an instance never runs two models at once
                    raise AssertionError(f"instance {k} runs {s.model} with {model} loaded")
            for s in firsts:
                first[s.rid] = s.first_token
            for s in done:
                if s.generated != s.output or s.model != model:
                    raise AssertionError(f"request {s.rid} ended with {s.generated} tokens")
                finish[s.rid] = end
                tokens[s.rid] = s.generated
            if eng.free_blocks < 0:
                raise AssertionError(f"instance {k} holds more KV blocks than it has")
            if log is not None:
                ids = tuple(s.rid for s in eng.running if not s.pending)
                ids += tuple(s.rid for s in done)
                log["steps"].append((k, now, end, model, ids))
            peak[k] = max(peak[k], eng.spec.kv_blocks - eng.free_blocks)
            busy[k] += end - now
            done_at_end[k] = done
            stepping[k] = True
            sim.schedule(end, "step", k)
        kicked.clear()

    handlers = {"arrive": on_arrive, "step": on_step_end, "loaded": on_loaded,
                "wake": on_wake, "decide": on_decide, "kick": on_kick}  # fmt: skip
    for kind, handler in handlers.items():
        sim.on(kind, handler)
    if n:
        sim.schedule(float(arr[0]), "arrive")
    sim.run()
    left = sorted(seqs)
    if left:
        raise RuntimeError(
            f"policy {policy.name!r} never dispatched {len(left)} requests (first: {left[0]})"
        )
    stuck = [k for k, e in enumerate(engines) if e.queued]
    if stuck:
        raise RuntimeError(f"instances {stuck} still hold requests at the end")
    run = _run(requests, first, finish, where, tokens, dropped, engines, world, busy, peak,
               policy)  # fmt: skip
    return dataclasses.replace(run, audit=log) if audit else run


def _check_instance(k: object, count: int, action: object) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k < count:
        raise ServingActionError(f"{action}: instance must be an integer in [0, {count})")


def _percentiles(values: np.ndarray, stem: str) -> dict[str, float]:
    values = values[np.isfinite(values)]
    if not values.size:
        return {f"{stem}_p{q}_s": math.nan for q in (50, 90, 99)}
    p = np.percentile(values, [50, 90, 99])
    return {f"{stem}_p{q}_s": float(v) for q, v in zip((50, 90, 99), p, strict=True)}


def _run(requests, first, finish, where, tokens, dropped, engines, world, busy, peak, policy):
    arr = np.asarray(requests.arrival, dtype=float)
    slo = np.asarray(requests.slo_s, dtype=float)
    classes = np.asarray(requests.slo_class, dtype=str)
    n = arr.size
    for i in dropped:
        first[i] = finish[i] = np.nan
    ttft = first - arr
    with np.errstate(invalid="ignore"):
        met = ttft <= slo
        tbt = np.where(tokens > 1, (finish - first) / np.maximum(tokens - 1, 1), np.nan)
    served = np.isfinite(finish)
    makespan = float(np.nanmax(finish) - arr.min()) if served.any() else 0.0
    by_class = {str(c): float(met[classes == c].mean()) for c in sorted(set(classes.tolist()))}
    summary = {
        "policy": policy.name,
        "requests": n,
        "dropped": len(dropped),
        "finished": int(served.sum()),
        "slo_attainment": float(met.mean()) if n else math.nan,
        "slo_attainment_by_class": by_class,
        "makespan_s": makespan,
        "requests_per_s": float(served.sum()) / makespan if makespan > 0 else math.nan,
        "tokens_per_s": float(tokens.sum()) / makespan if makespan > 0 else math.nan,
        **_percentiles(ttft, "ttft"),
        **_percentiles(tbt, "tbt"),
        **_percentiles(finish - arr, "e2e"),
        "gpu_utilisation": float(np.mean(busy) / makespan) if makespan > 0 else math.nan,
        "lso": {
            "preemptions": sum(e.preemptions for e in engines),
            "evictions": sum(e.evictions for e in engines),
            "swaps_out": sum(e.swaps_out for e in engines),
            "swaps_in": sum(e.swaps_in for e in engines),
            "model_loads_cold": world.loads["cold"],
            "model_loads_warm": world.loads["warm"],
            **policy.counters(),
        },
        "steps": sum(e.steps for e in engines),
        "peak_kv_blocks": peak,
        "kv_blocks": [e.spec.kv_blocks for e in engines],
    }
    return ServingRun(arr, first, finish, where, tokens, np.asarray(requests.model, dtype=str),
                      classes, slo, dict(dropped), summary)  # fmt: skip
