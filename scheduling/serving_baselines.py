"""The serving field's baseline schedulers, as :class:`~scheduling.serving.ServingPolicy` s.

None of them moves models: each instance serves the model it started with.

* :class:`FCFSPolicy` -- vLLM's default: every request is queued on an instance serving
  its model as it arrives, in turn (``placement="round-robin"``) or on the instance with
  the fewest outstanding requests (``"least-outstanding"``, a least-outstanding-requests
  load balancer in front of vLLM engines); each engine serves its queue first come first
  served.
* :class:`CentralQueuePolicy` -- requests wait in one central queue per model and an
  instance pulls the next one whenever it holds fewer than ``max_batch`` requests
  and fewer than ``pull_ahead`` queued in its engine (instances with the most room pull
  first), in order of deadline
  (``order="edf"``, earliest deadline first on the time-to-first-token SLO) or of
  predicted output length (``order="sjf"``, shortest job first; the predictions are an
  input, e.g. :func:`noisy_length_predictions` standing in for a learned predictor).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from scheduling.serving import (
    Action,
    ClusterView,
    Dispatch,
    RequestInfo,
    ServingPolicy,
    check_pull_ahead,
    pull_room,
)

__all__ = ["CentralQueuePolicy", "FCFSPolicy", "instances_by_model", "noisy_length_predictions"]


def instances_by_model(view: ClusterView) -> dict[str, list[int]]:
    """Instances grouped by the model each has loaded now."""
    out: dict[str, list[int]] = {}
    for k in range(view.n_instances):
        out.setdefault(view.model(k), []).append(k)
    return out


def _serving(by_model: dict[str, list[int]], request: RequestInfo) -> list[int]:
    ks = by_model.get(request.model)
    if not ks:
        raise ValueError(
            f"request {request.rid} needs {request.model}, which no instance serves; give the "
            "cluster an instance with it (ClusterConfig.models) or use a policy that swaps models"
        )
    return ks


class FCFSPolicy(ServingPolicy):
    """First come first served, placed at arrival (see the module docstring).

    Parameters
    ----------
    placement : {"round-robin", "least-outstanding"}
    """

    def __init__(self, placement: str = "round-robin") -> None:
        if placement not in ("round-robin", "least-outstanding"):
            raise ValueError(
                f"placement must be 'round-robin' or 'least-outstanding', got {placement!r}"
            )
        self.placement = placement
        self.name = "fcfs" if placement == "round-robin" else "least-outstanding"

    def reset(self, view: ClusterView, rng: np.random.Generator) -> None:
        """Note which instances serve which model."""
        self._by_model = instances_by_model(view)
        self._turn = dict.fromkeys(self._by_model, 0)
        self._new: list[RequestInfo] = []

    def on_arrival(self, now: float, requests: Sequence[RequestInfo]) -> None:
        """Hold the arrivals until :meth:`decide` places them."""
        self._new.extend(requests)

    def decide(self, now: float, view: ClusterView) -> list[Action]:
        """Dispatch every new arrival."""
        actions: list[Action] = []
        extra: dict[int, int] = {}  # dispatched in this call, not yet seen by the view
        for req in self._new:
            ks = _serving(self._by_model, req)
            if self.placement == "round-robin":
                k = ks[self._turn[req.model] % len(ks)]
                self._turn[req.model] += 1
            else:
                k = min(ks, key=lambda j: (view.outstanding(j) + extra.get(j, 0), j))
            extra[k] = extra.get(k, 0) + 1
            actions.append(Dispatch(req.rid, k))
        self._new = []
        return actions


class CentralQueuePolicy(ServingPolicy):
    """Central per-model queues pulled by instances with room (see the module docstring).

    Parameters
    ----------
    order : {"edf", "sjf"}
    predicted : array_like, optional
        Predicted output length of every request (by request id); needed for ``"sjf"``.
    pull_ahead : int, default 4
        Most requests an instance holds queued in its engine, not yet running; pulling
        stops there, so the central order decides everything else.
    """

    def __init__(
        self, order: str = "edf", predicted: Sequence[float] | None = None, pull_ahead: int = 4
    ) -> None:
        self.pull_ahead = check_pull_ahead(pull_ahead)
        if order not in ("edf", "sjf"):
            raise ValueError(f"order must be 'edf' or 'sjf', got {order!r}")
        if order == "sjf" and predicted is None:
            raise ValueError("order='sjf' needs predicted output lengths")
        self.order = order
        self.name = order
        self._predicted = None if predicted is None else np.asarray(predicted, dtype=float)

    def reset(self, view: ClusterView, rng: np.random.Generator) -> None:
        """Note which instances serve which model."""
        self._by_model = instances_by_model(view)
        self._queues: dict[str, list[tuple[float, int]]] = {m: [] for m in self._by_model}

    def _key(self, req: RequestInfo) -> float:
        if self.order == "edf":
            return req.deadline
        if req.rid >= self._predicted.size:
            raise ValueError(f"no predicted length for request {req.rid}")
        return float(self._predicted[req.rid])

    def on_arrival(self, now: float, requests: Sequence[RequestInfo]) -> None:
        """Queue the arrivals in their model's central queue."""
        for req in requests:
            _serving(self._by_model, req)
            heapq.heappush(self._queues[req.model], (self._key(req), req.rid))

    def decide(self, now: float, view: ClusterView) -> list[Action]:
        """Let every instance with room pull from its model's queue."""
        actions: list[Action] = []
        for model, queue in self._queues.items():
            if not queue:
                continue
            room = {k: pull_room(view, k, self.pull_ahead) for k in self._by_model[model]}
            heap = [(-r, k) for k, r in room.items() if r > 0]
            heapq.heapify(heap)
            while queue and heap:
                neg, k = heapq.heappop(heap)
                _, rid = heapq.heappop(queue)
                actions.append(Dispatch(rid, k))
                if neg + 1 < 0:
                    heapq.heappush(heap, (neg + 1, k))
        return actions


def noisy_length_predictions(
    true_lengths: Sequence[int], *, log_std: float = 0.5, seed: int = 0
) -> np.ndarray:
    """Predicted output lengths: the true ones times ``exp(N(0, log_std^2))``.

    A stand-in for a learned length predictor of known quality (``log_std = 0`` is an
    oracle); used by the shortest-job-first baseline.

    Examples
    --------
    >>> noisy_length_predictions([10, 100], log_std=0.0).tolist()
    [10.0, 100.0]
    """
    lengths = np.asarray(true_lengths, dtype=float)
    if log_std < 0:
        raise ValueError(f"log_std must be >= 0, got {log_std}")
    rng = np.random.default_rng(seed)
    return lengths * np.exp(rng.normal(0.0, log_std, lengths.size))
