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

The policy reads the cluster through a :class:`ClusterView`: read-only accessors, so it
can never write the cluster's state; the cluster checks every action and refuses one that
is impossible with a :class:`ServingActionError` naming it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from scheduling.engine import Instance

__all__ = [
    "Action",
    "ClusterView",
    "Dispatch",
    "Evict",
    "LoadModel",
    "RequestInfo",
    "ServingActionError",
    "ServingPolicy",
    "WakeUp",
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


class ClusterView:
    """Read-only view of a serving cluster for its policy.

    Every accessor returns a copy or an immutable value. The instances are numbered
    ``0 .. n_instances - 1``.
    """

    def __init__(self, cluster: object) -> None:
        self.__cluster = cluster

    @property
    def n_instances(self) -> int:
        """Number of instances."""
        return len(self.__cluster.engines)

    @property
    def max_batch(self) -> int:
        """Batch limit of every instance (sequences running at once)."""
        return self.__cluster.config.max_batch

    @property
    def models(self) -> tuple[str, ...]:
        """Models some instance can load."""
        return tuple(self.__cluster.specs)

    def spec(self, model: str) -> Instance:
        """Return the cost model of ``model`` on this cluster's GPUs (immutable)."""
        return self.__cluster.specs[model]

    def model(self, k: int) -> str | None:
        """Model loaded on instance ``k`` (the one being loaded while it loads)."""
        return self.__cluster.loaded[k]

    def loading_until(self, k: int) -> float:
        """Time instance ``k`` finishes loading its model (in the past once loaded)."""
        return self.__cluster.loading_until[k]

    def outstanding(self, k: int) -> int:
        """Count the requests on instance ``k``: waiting, running or swapped out."""
        return self.__cluster.engines[k].queued

    def idle(self, k: int, now: float) -> bool:
        """Whether instance ``k`` holds no request, runs no step and loads no model."""
        cluster = self.__cluster
        return not (
            cluster.engines[k].queued or cluster.stepping[k] or cluster.loading_until[k] > now
        )

    def waiting(self, k: int) -> int:
        """Count the requests queued on instance ``k`` and not running."""
        eng = self.__cluster.engines[k]
        return len(eng.waiting) + len(eng.swapped) + len(eng.held)

    def running(self, k: int) -> tuple[tuple[int, int], ...]:
        """``(rid, tokens generated so far)`` of each request running on ``k``."""
        return tuple((s.rid, s.generated) for s in self.__cluster.engines[k].running)

    def prefilling(self, k: int) -> frozenset[int]:
        """Ids of the running requests of ``k`` part-way through a chunked prefill."""
        return frozenset(s.rid for s in self.__cluster.engines[k].running if s.pending)

    def queued_ids(self, k: int) -> tuple[int, ...]:
        """Ids of the requests waiting in ``k``'s engine queue, head first."""
        return tuple(s.rid for s in self.__cluster.engines[k].waiting)

    def free_kv_tokens(self, k: int) -> int:
        """Free KV-cache tokens on instance ``k``."""
        eng = self.__cluster.engines[k]
        return eng.free_blocks * eng.spec.block_size

    def warm_models(self, k: int) -> tuple[str, ...]:
        """Models whose weights instance ``k`` keeps in CPU memory (warm starts)."""
        return tuple(self.__cluster.cpu_models[k])

    def load_time(self, k: int, model: str) -> float:
        """Seconds instance ``k`` would need to load ``model`` now (0 if loaded)."""
        return self.__cluster.load_time(k, model)


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
