"""Online-matching admission for LLM serving, with a competitive guarantee.

Every arriving request is offered, once and at once, to the streaming matcher
(:class:`matching.stream.OnlineMatcher`, reusable resources): the resources are the
instances, each with ``seats`` units of capacity; an edge joins the request to every
instance serving its model, with unit weight and unit load, and holds its seat for the
instance's **reservation time** ``d_k`` -- the estimated service time of one request of
that instance's model at a full batch::

    d_k = prefill(mean prompt) + (mean_out + z * std_out) / (tokens/s at a full batch / batch)

(the output-length statistics are the prior's, fixed for the run, so that each instance
keeps one duration). Greedy accepts the request on a free instance (the one with the
fewest outstanding requests among them); an accepted request is dispatched there at
once, a rejected one waits in an earliest-deadline-first overflow queue that instances
pull from while they hold fewer than ``max_batch`` requests.

The guarantee (:func:`matching.guarantees.guarantee_for`, docs/proofs/greedy_reusable.md)
is about the admission problem the matcher sees: with single requests arriving in any
order, unit weights and loads, whole capacities and a fixed duration per resource, the
number of requests greedy admits on arrival is at least half of the most any
algorithm that knows the future could admit under the same seats and reservation
times. Instances never change model here, so the durations stay fixed; with a load of
KV tokens per request, or durations that vary by request, no such guarantee holds (the
proof document gives the counterexamples), which is why a request holds one seat for a
fixed time and not its KV tokens for its own service time. It says nothing directly
about SLO attainment: the engines' real service times differ from the reservations.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from matching.arrivals import ArrivalSequence
from matching.guarantees import InputProperties, guarantee_for
from matching.model import Instance
from matching.online import GreedyPolicy
from matching.stream import OnlineMatcher
from scheduling.rwt import full_batch
from scheduling.serving import (
    Action,
    ClusterView,
    Dispatch,
    RequestInfo,
    ServingPolicy,
    check_pull_ahead,
    pull_room,
)
from scheduling.serving_baselines import instances_by_model

__all__ = ["OnlineMatchingPolicy"]


class OnlineMatchingPolicy(ServingPolicy):
    """Greedy online admission on reusable instance seats (see the module docstring).

    Parameters
    ----------
    seats : int, optional
        Seats per instance (default: the batch its model's KV cache holds at the prior's
        lengths, :func:`~scheduling.rwt.full_batch`).
    pull_ahead : int, default 4
        Overflow requests are pulled while an instance has fewer than this many queued.
    mean_output, std_output : float, default 200
        Output-length prior used for the reservation times.
    mean_prompt : float, default 1000
    z : float, default 1.645

    Attributes
    ----------
    matcher : OnlineMatcher
        The admission decisions (one per request, in arrival order).
    reservation_s : ndarray
        ``d_k`` of every instance.
    """

    name = "online-matching"

    def __init__(
        self,
        *,
        seats: int | None = None,
        mean_output: float = 200.0,
        std_output: float = 200.0,
        mean_prompt: float = 1000.0,
        z: float = 1.645,
        pull_ahead: int = 4,
    ) -> None:
        self.pull_ahead = check_pull_ahead(pull_ahead)
        if seats is not None and (isinstance(seats, bool) or not isinstance(seats, int)
                                  or seats < 1):  # fmt: skip
            raise ValueError(f"seats must be an integer >= 1, got {seats!r}")
        if not (mean_output > 0 and std_output >= 0 and mean_prompt > 0):
            raise ValueError("mean_output and mean_prompt must be > 0 and std_output >= 0")
        self.seats = seats
        self.prior = (float(mean_output), float(std_output), float(mean_prompt), float(z))

    def reservation(self, view: ClusterView, k: int) -> float:
        """``d_k`` of instance ``k`` (see the module docstring)."""
        mean_out, std_out, mean_prompt, z = self.prior
        spec = view.spec(view.model(k))
        batch, tokens_per_s = full_batch(spec, view.max_batch, mean_prompt, mean_out)
        prefill = spec.step_time(prefill_lengths=[int(mean_prompt)])
        return prefill + (mean_out + z * std_out) / (tokens_per_s / batch)

    def reset(self, view: ClusterView, rng: np.random.Generator) -> None:
        """Build the matcher: one resource per instance, ``seats`` each."""
        mean_out, _, mean_prompt, _ = self.prior
        seats = [
            self.seats or full_batch(view.spec(view.model(k)), view.max_batch, mean_prompt,
                                     mean_out)[0]
            for k in range(view.n_instances)
        ]  # fmt: skip
        self._by_model = instances_by_model(view)
        self.reservation_s = np.array([self.reservation(view, k) for k in range(view.n_instances)])
        self.matcher = OnlineMatcher(seats, GreedyPolicy(), reusable=True, seed=rng)
        self._new: list[RequestInfo] = []
        self._overflow: dict[str, list[tuple[float, int]]] = {m: [] for m in self._by_model}
        self._count = {"admitted": 0, "overflowed": 0}
        self._seats = seats
        self.admissions: list[tuple[float, tuple[int, ...]]] = []

    def on_arrival(self, now: float, requests: Sequence[RequestInfo]) -> None:
        """Hold the arrivals until :meth:`decide` offers them to the matcher."""
        for req in requests:
            if req.model not in self._by_model:
                raise ValueError(f"request {req.rid} needs {req.model}, which no instance serves")
        self._new.extend(requests)

    def decide(self, now: float, view: ClusterView) -> list[Action]:
        """Admit each arrival greedily; let instances with room pull the overflow."""
        actions: list[Action] = []
        extra: dict[int, int] = {}
        for req in self._new:
            ks = sorted(self._by_model[req.model],
                        key=lambda j: (view.outstanding(j) + extra.get(j, 0), j))  # fmt: skip
            self.admissions.append((now, tuple(ks)))
            decision = self.matcher.arrive(
                [req.rid], resources=ks, weights=np.ones(len(ks)),
                durations=self.reservation_s[ks], time=now,
            )  # fmt: skip
            if decision.accepted:
                k = int(decision.resource)
                extra[k] = extra.get(k, 0) + 1
                actions.append(Dispatch(req.rid, k))
                self._count["admitted"] += 1
            else:
                heapq.heappush(self._overflow[req.model], (req.deadline, req.rid))
                self._count["overflowed"] += 1
        self._new = []
        for model, queue in self._overflow.items():
            for k in self._by_model[model]:
                room = pull_room(view, k, self.pull_ahead) - extra.get(k, 0)
                while queue and room > 0:
                    actions.append(Dispatch(heapq.heappop(queue)[1], k))
                    room -= 1
                    extra[k] = extra.get(k, 0) + 1
        return actions

    def admission_sequence(self) -> ArrivalSequence:
        """Return the admission problem the matcher saw, as a realised online input.

        One singleton group per request offered, in arrival order, with an edge of unit
        weight and load and duration ``d_k`` to every instance that could take it;
        instances have their seats as capacity. Its hindsight optimum
        (:func:`matching.hindsight.offline_optimum`) is what the guarantee compares
        ``counters()["admitted"]`` with.
        """
        groups = [[i] for i in range(len(self.admissions))]
        edges = [
            (k, i, 1.0, 1.0, float(self.reservation_s[k]))
            for i, (_, ks) in enumerate(self.admissions)
            for k in ks
        ]
        instance = Instance(groups, edges, capacity=[float(c) for c in self._seats],
                            n_resources=len(self._seats))  # fmt: skip
        times = np.array([t for t, _ in self.admissions], dtype=float)
        return ArrivalSequence(instance, np.arange(len(groups)), times, reusable=True)

    def guarantee(self) -> str:
        """Describe the proven ratio on the admission problem, its preconditions checked.

        Examples
        --------
        >>> from scheduling.serving_sim import ClusterConfig, simulate_serving
        >>> from scheduling.serving_run import default_workload
        >>> policy = OnlineMatchingPolicy()
        >>> _ = simulate_serving(default_workload(50, models=["mistral-7b"]), policy,
        ...                      ClusterConfig(instances=2))
        >>> policy.guarantee()
        'ALG/OPT >= 1/2 = 0.500 (groups of <= 1; reusable resources, one duration per resource)'
        """
        props = InputProperties.of_sequence(self.admission_sequence())
        return guarantee_for(GreedyPolicy.name).describe(props)

    def counters(self) -> dict[str, int]:
        """Count the requests admitted on arrival and those sent to the overflow queue."""
        return dict(self._count)
