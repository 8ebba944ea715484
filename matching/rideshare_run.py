"""Realise the ridesharing model, run policies on it, and compare them with OPT and the LP.

One realisation draws which request types arrive at each step
(:meth:`~matching.rideshare.RideshareModel.sample`); every group whose types all arrived
becomes an arriving group with fresh request ids ``(t, v)``. Every policy runs through
an :class:`~matching.stream.OnlineMatcher` (reusable depots with the model's
capacities) that enforces "no request twice, no vehicle while busy"; batch policies get
each step's groups in one :meth:`~matching.stream.OnlineMatcher.arrive_batch` at
``time = t``, the others one group at a time in ascending group index. The hindsight
optimum of the same realisation is solved exactly (CP-SAT over time-expanded vehicle
rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from matching.arrivals import ArrivalSequence
from matching.hindsight import offline_optimum
from matching.model import Instance
from matching.online import OnlinePolicy
from matching.ratio import bootstrap_ci
from matching.result import Status
from matching.rideshare import RideshareModel, rideshare_lp
from matching.stream import ArrivingGroup, OnlineMatcher

__all__ = [
    "RideRatioReport",
    "RideRealisation",
    "realise",
    "ride_hindsight_optimum",
    "ride_ratio_table",
    "run_ride_policy",
]


@dataclass(frozen=True)
class RideRealisation:
    """One realised input: the arrivals and the groups they make available.

    Attributes
    ----------
    arrived : ndarray of bool, shape (T, V)
    steps : list of list of (int, tuple)
        Per step, the available groups ``(group index, request ids)`` in ascending
        group index; a request id is ``(t, v)``.
    """

    model: RideshareModel
    arrived: np.ndarray
    steps: list[list[tuple[int, tuple[tuple[int, int], ...]]]]

    def sequence(self) -> ArrivalSequence:
        """Return the realisation as a reusable :class:`~matching.arrivals.ArrivalSequence`."""
        types = self.model.types
        ids: dict[tuple[int, int], int] = {}
        members, edges, times = [], [], []
        for t, step in enumerate(self.steps):
            for g, requests in step:
                k = len(members)
                members.append([ids.setdefault(r, len(ids)) for r in requests])
                for e in types.group_edges.indices[
                    types.group_edges.indptr[g] : types.group_edges.indptr[g + 1]
                ].tolist():
                    edges.append(
                        (
                            int(types.edge_resource[e]),
                            k,
                            float(types.edge_weight[e]),
                            1.0,
                            float(types.edge_duration[e]),
                        )
                    )
                times.append(float(t))
        inst = Instance(members or [], edges, capacity=types.capacity, n_requests=len(ids))
        return ArrivalSequence(inst, np.arange(len(members)), np.array(times), reusable=True)


def realise(model: RideshareModel, arrived: np.ndarray) -> RideRealisation:
    """Build the realisation of ``arrived`` (shape ``(T, V)``, bool).

    Examples
    --------
    >>> import numpy as np
    >>> from matching import Instance
    >>> from matching.rideshare import RideshareModel
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 1), (0, 1, 1, 1, 1), (0, 2, 2, 1, 1)])
    >>> r = realise(RideshareModel(groups, np.full((2, 1), 0.5)), np.array([[True, True]]))
    >>> r.steps[0]
    [(0, ((0, 0),)), (1, ((0, 1),)), (2, ((0, 0), (0, 1)))]
    """
    arrived = np.asarray(arrived)
    if arrived.dtype != bool or arrived.shape != (model.horizon, model.types.n_requests):
        raise ValueError(
            f"arrived must be a bool array of shape (T={model.horizon}, "
            f"V={model.types.n_requests}), got {arrived.dtype} {arrived.shape}"
        )
    impossible = arrived & (model.p.T == 0)
    if impossible.any():
        t, v = (int(i[0]) for i in np.nonzero(impossible))
        raise ValueError(f"type {v} arrives at step {t}, which the model gives probability 0")
    types = model.types
    steps = []
    for t in range(model.horizon):
        here = arrived[t]
        steps.append(
            [
                (g, tuple((t, int(v)) for v in types.group(g).tolist()))
                for g in range(types.n_groups)
                if here[types.group(g)].all()
            ]
        )
    return RideRealisation(model, arrived, steps)


def run_ride_policy(
    realisation: RideRealisation, policy: OnlinePolicy, *, seed: int = 0
) -> OnlineMatcher:
    """Run ``policy`` on ``realisation`` through a fresh matcher; return the matcher.

    The matcher's prior is the realisation's model (what the policy may know); its
    ``value`` and ``decisions`` are the run's outcome.
    """
    model = realisation.model
    types = model.types
    matcher = OnlineMatcher(types.capacity, policy, prior=model, reusable=True, seed=seed)
    ge = types.group_edges
    for t, step in enumerate(realisation.steps):
        groups = []
        for g, requests in step:
            edges = ge.indices[ge.indptr[g] : ge.indptr[g + 1]]
            groups.append(
                ArrivingGroup(
                    requests,
                    types.edge_resource[edges],
                    types.edge_weight[edges],
                    durations=types.edge_duration[edges],
                    time=float(t),
                    type=g,
                )
            )
        if matcher.batch:
            if groups:
                matcher.arrive_batch(groups, time=float(t))
        else:
            for a in groups:
                matcher.arrive(
                    a.requests,
                    a.resources,
                    a.weights,
                    durations=a.durations,
                    time=float(t),
                    type=a.type,
                )
    return matcher


def ride_hindsight_optimum(realisation: RideRealisation) -> float:
    """Value of the hindsight optimum of ``realisation`` (exact; raises if not proven)."""
    types = realisation.model.types
    degree = np.diff(types.group_edges.indptr)
    if not any(degree[g] for step in realisation.steps for g, _ in step):
        return 0.0  # nothing servable arrived
    sequence = realisation.sequence()
    res = offline_optimum(sequence)
    if res.status is not Status.OPTIMAL:
        raise RuntimeError(f"hindsight optimum not proven: {res.status}")
    return float(res.value)


@dataclass(frozen=True)
class RideRatioReport:
    """Per-trial values of every policy on the same realisations, with OPT and the LP."""

    values: dict[str, np.ndarray]
    opt: np.ndarray
    lp: float
    gamma: float

    def rows(self, seed: int = 0) -> list[dict[str, float | str]]:
        """One row per policy: mean ALG/LP (with a bootstrap 95% CI) and mean ALG/OPT."""
        out = []
        positive = self.opt > 0
        for name, alg in self.values.items():
            lo, hi = bootstrap_ci(alg / self.lp, seed=seed) if self.lp > 0 else (np.nan, np.nan)
            out.append(
                {
                    "policy": name,
                    "alg_over_lp": float(alg.mean() / self.lp) if self.lp > 0 else np.nan,
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                    "alg_over_opt": float(alg.sum() / self.opt.sum())
                    if positive.any()
                    else np.nan,
                    "mean_alg": float(alg.mean()),
                }
            )
        return out


def ride_ratio_table(
    model: RideshareModel,
    policies: dict[str, Callable[[], OnlinePolicy]],
    *,
    trials: int = 100,
    seed: int = 0,
) -> RideRatioReport:
    """Run every policy on the same ``trials`` realisations and solve each one's OPT.

    Examples
    --------
    >>> import numpy as np
    >>> from matching import Instance
    >>> from matching.online import GreedyPolicy
    >>> from matching.rideshare import RideshareModel
    >>> groups = Instance([[0], [1], [0, 1]], [(0, 0, 1, 1, 1), (0, 1, 1, 1, 1), (0, 2, 2, 1, 1)])
    >>> model = RideshareModel(groups, np.full((2, 3), 0.5))
    >>> rep = ride_ratio_table(model, {"greedy": GreedyPolicy}, trials=20)
    >>> bool((rep.values["greedy"] <= rep.opt + 1e-9).all())
    True
    """
    if not (isinstance(trials, int) and trials >= 1):
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    rng = np.random.default_rng(seed)
    lp = rideshare_lp(model)
    instances = {name: make() for name, make in policies.items()}
    values = {name: np.zeros(trials) for name in policies}
    opt = np.zeros(trials)
    for i in range(trials):
        real = realise(model, model.sample(rng))
        opt[i] = ride_hindsight_optimum(real)
        for j, (name, policy) in enumerate(instances.items()):
            values[name][i] = run_ride_policy(real, policy, seed=seed * 1000003 + i * 31 + j).value
            if values[name][i] > opt[i] * (1 + 1e-9) + 1e-9:
                raise RuntimeError(f"{name} beat the hindsight optimum on trial {i}")
    gamma = next((p.gamma for p in instances.values() if hasattr(p, "gamma")), float("nan"))
    return RideRatioReport(values, opt, lp.value, gamma)
