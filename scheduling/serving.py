"""The contract between an LLM serving cluster and its scheduler: state in, actions out.

A serving frontend (or :func:`scheduling.serving_sim.simulate_serving`, its simulated
stand-in) tells a :class:`ServingPolicy` what happens -- requests arrive
(:class:`RequestInfo`: model, SLO class, prompt length; never the output length, which
nobody knows before the request finishes), requests finish (now with their output length)
-- and asks it, at each instant something changed, for :data:`Action` s:

* :class:`Dispatch` a request to an instance's engine queue (at its tail, or its head);
* :class:`Evict` a running request off an instance (its KV cache is swapped to CPU memory
  or dropped for recompute, as the cluster is configured) to make room for an urgent one;
* :class:`LoadModel` on an idle instance (:meth:`ClusterView.idle`): model swapping, a
  warm start when the model's weights are still in the instance's CPU memory;
* :class:`WakeUp` at a later time (a periodic re-plan) even if nothing happens before.

The policy reads the cluster through a :class:`ClusterView`: read-only accessors. The
simulator passes its live view (it keeps the world private; Python cannot stop a policy
that digs through private attributes, which breaks this contract); a serving frontend
passes a :class:`ClusterState` snapshot of its own engines. The simulator checks every
action and refuses one that is impossible with a :class:`ServingActionError` naming it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from scheduling.engine import Instance

__all__ = [
    "Action",
    "ClusterState",
    "ClusterView",
    "Dispatch",
    "Evict",
    "InstanceState",
    "LoadModel",
    "RequestInfo",
    "ServingActionError",
    "ServingPolicy",
    "WakeUp",
    "check_pull_ahead",
    "load_seconds",
    "pull_room",
]


class ServingActionError(ValueError):
    """A policy asked for something the cluster cannot do; the message names it."""


class RequestInfo(NamedTuple):
    """What a scheduler may know of an arriving request (no output length)."""

    rid: int
    arrival: float
    prompt_tokens: int
    model: str
    slo_class: str
    slo_s: float

    @property
    def deadline(self) -> float:
        """Time by which its first token is due: ``arrival + slo_s``."""
        return self.arrival + self.slo_s


class Dispatch(NamedTuple):
    """Queue request ``rid`` on ``instance`` (at the head with ``front``)."""

    rid: int
    instance: int
    front: bool = False


class Evict(NamedTuple):
    """Take running request ``rid`` off ``instance``; it stays on that instance."""

    instance: int
    rid: int


class LoadModel(NamedTuple):
    """Load ``model`` on ``instance``, which must hold no request."""

    instance: int
    model: str


class WakeUp(NamedTuple):
    """Ask to be consulted again at ``time`` (seconds)."""

    time: float


Action = Dispatch | Evict | LoadModel | WakeUp


class ClusterView(ABC):
    """What a policy may read of a serving cluster (read-only accessors).

    Instances are numbered ``0 .. n_instances - 1``. Two implementations: the
    simulator's live view, and :class:`ClusterState`, a plain snapshot a serving
    frontend fills in from its own engines. Every accessor returns a copy or an
    immutable value.
    """

    @property
    @abstractmethod
    def n_instances(self) -> int:
        """Number of instances."""

    @property
    @abstractmethod
    def max_batch(self) -> int:
        """Batch limit of every instance (sequences running at once)."""

    @property
    @abstractmethod
    def models(self) -> tuple[str, ...]:
        """Models some instance can load."""

    @abstractmethod
    def spec(self, model: str) -> Instance:
        """Return the cost model of ``model`` on this cluster's GPUs (immutable)."""

    @abstractmethod
    def model(self, k: int) -> str:
        """Model loaded on instance ``k`` (the one being loaded while it loads)."""

    @abstractmethod
    def loading_until(self, k: int) -> float:
        """Time instance ``k`` finishes loading its model (in the past once loaded)."""

    @abstractmethod
    def outstanding(self, k: int) -> int:
        """Count the requests on instance ``k``: waiting, running or swapped out."""

    @abstractmethod
    def idle(self, k: int, now: float) -> bool:
        """Whether instance ``k`` holds no request, runs no step and loads no model."""

    @abstractmethod
    def waiting(self, k: int) -> int:
        """Count the requests on instance ``k`` that are not running."""

    @abstractmethod
    def running(self, k: int) -> tuple[tuple[int, int], ...]:
        """``(rid, tokens generated so far)`` of each request running on ``k``."""

    @abstractmethod
    def prefilling(self, k: int) -> frozenset[int]:
        """Ids of the running requests of ``k`` part-way through a chunked prefill."""

    @abstractmethod
    def queued_ids(self, k: int) -> tuple[int, ...]:
        """Ids of the requests waiting in ``k``'s engine queue, head first."""

    @abstractmethod
    def free_kv_tokens(self, k: int) -> int:
        """Free KV-cache tokens on instance ``k``."""

    @abstractmethod
    def warm_models(self, k: int) -> tuple[str, ...]:
        """Models whose weights instance ``k`` keeps in CPU memory (warm starts)."""

    def load_time(self, k: int, model: str) -> float:
        """Seconds instance ``k`` would need to load ``model`` now (0 if loaded)."""
        return load_seconds(self.spec(model), self.model(k), model, self.warm_models(k))


def check_pull_ahead(value: object) -> int:
    """Return ``pull_ahead`` (the engine-queue depth a pulling policy keeps), checked."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"pull_ahead must be an integer >= 1, got {value!r}")
    return value


def pull_room(view: ClusterView, k: int, pull_ahead: int) -> int:
    """Count the requests instance ``k`` may pull now.

    It stays below its batch limit (running, waiting and swapped requests) and keeps
    fewer than ``pull_ahead`` requests queued in its engine, so the order of everything
    else stays the policy's.
    """
    return min(view.max_batch - view.outstanding(k), pull_ahead - view.waiting(k))


def load_seconds(spec: Instance, loaded: str, model: str, warm: Sequence[str]) -> float:
    """Seconds to load ``model`` (cost model ``spec``) where ``loaded`` is loaded.

    Zero when it is already loaded; a warm start when its weights are in ``warm``.
    """
    if loaded == model:
        return 0.0
    return spec.model_load_time(warm=model in warm)


@dataclass(frozen=True)
class InstanceState:
    """One instance as a serving frontend reports it (see :class:`ClusterState`)."""

    model: str
    loading_until: float = 0.0
    running: tuple[tuple[int, int], ...] = ()
    waiting: int = 0
    queued_ids: tuple[int, ...] = ()
    prefilling: frozenset[int] = frozenset()
    free_kv_tokens: int = 0
    warm_models: tuple[str, ...] = ()
    busy: bool = False


@dataclass(frozen=True)
class ClusterState(ClusterView):
    """A snapshot of a real cluster, for calling a policy outside the simulator.

    Parameters
    ----------
    specs : mapping of str to Instance
        The cost model of every model the cluster can load.
    instances : sequence of InstanceState
    max_batch : int

    Examples
    --------
    >>> from scheduling.engine import Instance
    >>> state = ClusterState({"mistral-7b": Instance("mistral-7b", "a100")},
    ...                      [InstanceState("mistral-7b", running=((7, 12),), waiting=2)], 64)
    >>> state.outstanding(0), state.idle(0, now=1.0), state.load_time(0, "mistral-7b")
    (3, False, 0.0)
    """

    specs: Mapping[str, Instance]
    instances: Sequence[InstanceState]
    max_batch_size: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "specs", MappingProxyType(dict(self.specs)))
        object.__setattr__(self, "instances", tuple(self.instances))
        for k, inst in enumerate(self.instances):
            if not isinstance(inst, InstanceState):
                raise TypeError(f"instances[{k}] must be an InstanceState, got {inst!r}")
            if inst.model not in self.specs:
                raise ValueError(f"instances[{k}] has {inst.model!r}, which specs lacks")
        if isinstance(self.max_batch_size, bool) or self.max_batch_size < 1:
            raise ValueError(f"max_batch must be an integer >= 1, got {self.max_batch_size!r}")

    n_instances = property(lambda self: len(self.instances), doc="Number of instances.")
    max_batch = property(lambda self: self.max_batch_size, doc="Batch limit of every instance.")
    models = property(lambda self: tuple(self.specs), doc="Models some instance can load.")

    def spec(self, model: str) -> Instance:  # noqa: D102
        return self.specs[model]

    def model(self, k: int) -> str:  # noqa: D102
        return self.instances[k].model

    def loading_until(self, k: int) -> float:  # noqa: D102
        return self.instances[k].loading_until

    def outstanding(self, k: int) -> int:  # noqa: D102
        return len(self.instances[k].running) + self.instances[k].waiting

    def idle(self, k: int, now: float) -> bool:  # noqa: D102
        inst = self.instances[k]
        return not (self.outstanding(k) or inst.busy or inst.loading_until > now)

    def waiting(self, k: int) -> int:  # noqa: D102
        return self.instances[k].waiting

    def running(self, k: int) -> tuple[tuple[int, int], ...]:  # noqa: D102
        return self.instances[k].running

    def prefilling(self, k: int) -> frozenset[int]:  # noqa: D102
        return self.instances[k].prefilling

    def queued_ids(self, k: int) -> tuple[int, ...]:  # noqa: D102
        return self.instances[k].queued_ids

    def free_kv_tokens(self, k: int) -> int:  # noqa: D102
        return self.instances[k].free_kv_tokens

    def warm_models(self, k: int) -> tuple[str, ...]:  # noqa: D102
        return self.instances[k].warm_models


class ServingPolicy(ABC):
    """A serving cluster's scheduler (see the module docstring).

    Subclasses set :attr:`name` and implement :meth:`decide`; they override
    :meth:`reset`, :meth:`on_arrival` and :meth:`on_finish` to keep their own state.
    """

    name: str = "policy"

    def reset(self, view: ClusterView, rng: np.random.Generator) -> None:  # noqa: B027
        """Start a run on the cluster ``view`` describes."""

    def on_arrival(self, now: float, requests: Sequence[RequestInfo]) -> None:  # noqa: B027
        """Take note of the requests that arrived at ``now``."""

    def on_finish(self, now: float, rid: int, output_tokens: int) -> None:  # noqa: B027
        """Request ``rid`` finished at ``now`` having produced ``output_tokens``."""

    @abstractmethod
    def decide(self, now: float, view: ClusterView) -> list[Action]:
        """Actions to take at ``now`` (called once per instant at which something changed)."""

    def counters(self) -> dict[str, int]:
        """Return counts of the policy's own operations (re-plans, ...) for a summary."""
        return {}
