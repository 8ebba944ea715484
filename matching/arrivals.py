"""Arrival models: how the groups of an instance reach an online policy.

Every model returns an :class:`ArrivalSequence`: a *realised* instance in which each
group arrives exactly once, the order in which the groups arrive and their arrival
times. Models over a fixed instance (adversarial order, random order) keep its groups,
so two arriving groups may share requests. Models over *types* (known IID, known
adversarial distributions, Poisson) create a fresh copy of a type's group, with fresh
requests, for every arrival; the copy keeps the type's edges (resources, weights,
loads) and, for reusable resources, their durations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from matching import _validate as v
from matching.families import as_generator
from matching.model import Instance
from matching.stream import KnownModel

__all__ = [
    "ARRIVAL_MODELS",
    "MAX_ARRIVALS",
    "ArrivalSequence",
    "KnownModel",
    "adversarial_order",
    "known_adversarial",
    "known_iid",
    "poisson_arrivals",
    "random_order",
]

DurationSampler = Callable[[np.random.Generator, np.ndarray], np.ndarray]

#: Most arrivals a type-based model draws (about 2 GB of realised instance); larger
#: requests are refused before anything is drawn or allocated.
MAX_ARRIVALS = 10**7

#: Labels of the arrival models, as stored in :attr:`ArrivalSequence.arrival_model`.
ARRIVAL_MODELS = ("adversarial", "random-order", "known-iid", "known-adversarial", "poisson")


@dataclass(frozen=True)
class ArrivalSequence:
    """A realised online input.

    Attributes
    ----------
    instance : Instance
        The realised instance; group ``order[i]`` is the ``i``-th arrival.
    order : ndarray of int
        Group ids in arrival order: every group of the instance exactly once.
    times : ndarray of float
        Non-decreasing arrival times, one per arrival.
    types : ndarray of int or None
        For type-based models, the type of each arrival.
    reusable : bool
        True when resources come back after each edge's duration (every duration must
        then be positive).
    model : KnownModel or None
        For known-distribution models, the declared prior the sequence was drawn from:
        the only part of the input an online policy may learn before the arrivals.
    type_edge : ndarray of int or None
        For type-based models, the type edge each realised edge copies.
    arrival_model : str
        One of :data:`ARRIVAL_MODELS`.
    """

    instance: Instance
    order: np.ndarray
    times: np.ndarray
    types: np.ndarray | None = None
    reusable: bool = False
    model: KnownModel | None = None
    type_edge: np.ndarray | None = None
    arrival_model: str = "adversarial"

    def __post_init__(self) -> None:
        _check_instance(self.instance, "instance")
        order = v.as_index_array(self.order, "order")
        times = v.as_real_array(self.times, "times")
        if times.shape != order.shape:
            raise ValueError("order and times must be 1-D arrays of equal length")
        v.check_bool(self.reusable, "reusable")
        if order.size and (order.min() < 0 or order.max() >= self.instance.n_groups):
            raise ValueError(f"order names a group outside 0..{self.instance.n_groups - 1}")
        if np.unique(order).size != order.size:
            raise ValueError("order repeats a group; realise repeated types as copies")
        if order.size != self.instance.n_groups:
            raise ValueError(
                f"order lists {order.size} of the instance's {self.instance.n_groups} groups; "
                "every group must arrive exactly once (drop the others from the instance)"
            )
        if not np.isfinite(times).all() or (np.diff(times) < 0).any():
            raise ValueError("times must be finite and non-decreasing")
        if self.reusable:
            duration = self.instance.edge_duration
            if duration is None:
                raise ValueError("a reusable sequence needs edge durations on its instance")
            if (duration <= 0).any():
                e = int(np.flatnonzero(duration <= 0)[0])
                raise ValueError(
                    f"edge {e} has duration {duration[e]!r}: reusable resources need durations > 0"
                )
        if self.arrival_model not in ARRIVAL_MODELS:
            raise ValueError(
                f"unknown arrival_model {self.arrival_model!r}; choose one of {ARRIVAL_MODELS}"
            )
        if self.types is not None:
            types = v.as_index_array(self.types, "types")
            if types.shape != order.shape:
                raise ValueError(f"types has {types.size} entries for {order.size} arrivals")
            object.__setattr__(self, "types", types)
        if self.model is not None:
            v.check_type(self.model, KnownModel, "model", "a KnownModel or None")
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "times", times)

    def __len__(self) -> int:
        return int(self.order.size)


def adversarial_order(
    instance: Instance, order: np.ndarray | None = None, *, reusable: bool = False
) -> ArrivalSequence:
    """Let groups arrive in the given order (default ``0, 1, ...``) at times ``0, 1, ...``.

    Examples
    --------
    >>> import matching
    >>> from matching.arrivals import adversarial_order
    >>> inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 2.0)])
    >>> adversarial_order(inst, [1, 0]).order.tolist()
    [1, 0]
    """
    _check_instance(instance, "instance")
    order = np.arange(instance.n_groups) if order is None else v.as_index_array(order, "order")
    return ArrivalSequence(
        instance, order, np.arange(order.size, dtype=np.float64), reusable=reusable
    )


def random_order(
    instance: Instance, *, seed: int | np.random.Generator | None = 0, reusable: bool = False
) -> ArrivalSequence:
    """All groups arrive once, in a uniformly random order."""
    _check_instance(instance, "instance")
    order = as_generator(seed).permutation(instance.n_groups)
    return ArrivalSequence(
        instance,
        order,
        np.arange(order.size, dtype=np.float64),
        reusable=reusable,
        arrival_model="random-order",
    )


def _realise(
    types: Instance,
    type_seq: np.ndarray,
    times: np.ndarray,
    *,
    reusable: bool,
    durations: DurationSampler | None,
    rng: np.random.Generator,
    arrival_model: str,
    p: np.ndarray | None = None,
) -> ArrivalSequence:
    """Copy the group of each arriving type, with fresh requests and its edges."""
    type_seq = np.asarray(type_seq, dtype=np.int64)
    sizes = types.group_sizes[type_seq]
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    members = np.arange(int(ptr[-1]), dtype=np.int64)  # fresh requests per arrival
    group_edges = types.group_edges
    per_type = [
        group_edges.indices[group_edges.indptr[v] : group_edges.indptr[v + 1]]
        for v in range(types.n_groups)
    ]
    counts = np.array([per_type[v].size for v in type_seq.tolist()], dtype=np.int64)
    edges = (
        np.concatenate([per_type[v] for v in type_seq.tolist()])
        if type_seq.size
        else np.zeros(0, dtype=np.int64)
    )
    groups = np.repeat(np.arange(type_seq.size), counts)
    duration = None
    if reusable:
        if durations is not None:
            duration = np.asarray(durations(rng, edges), dtype=np.float64)
            if duration.shape != edges.shape:
                raise ValueError("the duration sampler must return one duration per edge")
        elif types.edge_duration is not None:
            duration = types.edge_duration[edges]
        else:
            raise ValueError("reusable arrivals need edge durations or a duration sampler")
    realised = Instance.from_arrays(
        group_ptr=ptr,
        group_members=members,
        edge_resource=types.edge_resource[edges],
        edge_group=groups,
        edge_weight=types.edge_weight[edges],
        edge_load=types.edge_load[edges],
        edge_duration=duration,
        capacity=types.capacity,
        n_requests=int(ptr[-1]),
        check_duplicates=False,
    )
    return ArrivalSequence(
        realised,
        np.arange(type_seq.size, dtype=np.int64),
        np.asarray(times, dtype=np.float64),
        types=type_seq,
        reusable=reusable,
        model=None if p is None else KnownModel(types, p),
        type_edge=edges,
        arrival_model=arrival_model,
    )


def _check_instance(instance: object, field: str) -> None:
    v.check_type(instance, Instance, field, "a matching.Instance")


def _check_sampler(durations: object) -> None:
    if durations is not None and not callable(durations):
        raise TypeError(
            f"durations must be a callable (rng, type_edges) -> durations or None, "
            f"got {durations!r}"
        )


def _check_probabilities(p: np.ndarray, name: str) -> None:
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")


def _check_rates(types: Instance, rates: np.ndarray) -> np.ndarray:
    _check_instance(types, "types")
    rates = v.as_real_array(rates, "rates")
    if rates.shape != (types.n_groups,):
        raise ValueError(f"rates needs one entry per type ({types.n_groups})")
    _check_probabilities(rates, "rates")
    return rates


def known_iid(
    types: Instance,
    rates: np.ndarray,
    n: int,
    *,
    seed: int | np.random.Generator | None = 0,
    reusable: bool = False,
    durations: DurationSampler | None = None,
) -> ArrivalSequence:
    """``n`` arrivals, each of type ``v`` with probability ``rates[v] / sum(rates)``.

    ``n`` is an int in ``0 .. MAX_ARRIVALS`` (``10**7``); ``rates`` are non-negative
    numbers, one per type.

    Examples
    --------
    >>> import matching
    >>> from matching.arrivals import known_iid
    >>> types = matching.Instance([[0], [0, 1]], [(0, 0, 1.0), (0, 1, 3.0)], capacity=[2])
    >>> seq = known_iid(types, [1.0, 1.0], 5, seed=0)
    >>> fresh = seq.instance.n_requests == int(types.group_sizes[seq.types].sum())
    >>> len(seq), seq.instance.n_groups, fresh
    (5, 5, True)
    """
    rates = _check_rates(types, rates)
    n = v.check_int(n, "n", low=0, high=MAX_ARRIVALS)
    _check_sampler(durations)
    if rates.sum() <= 0:
        raise ValueError("rates must not all be zero")
    share = rates / rates.sum()
    rng = as_generator(seed)
    seq = rng.choice(types.n_groups, size=n, p=share)
    p = np.broadcast_to(share[:, None], (share.size, n))  # the same at every step
    return _realise(
        types,
        seq,
        np.arange(n, dtype=np.float64),
        reusable=reusable,
        durations=durations,
        rng=rng,
        arrival_model="known-iid",
        p=p,
    )


def known_adversarial(
    types: Instance,
    p: np.ndarray,
    *,
    seed: int | np.random.Generator | None = 0,
    reusable: bool = False,
    durations: DurationSampler | None = None,
) -> ArrivalSequence:
    """Known adversarial distributions (KAD): at step ``t`` type ``v`` arrives w.p. ``p[v, t]``.

    At most one type arrives per step (``p[:, t].sum() <= 1``); with the remaining
    probability nobody arrives. Arrival times are the step indices.
    """
    _check_instance(types, "types")
    _check_sampler(durations)
    p = v.as_real_array(p, "p", ndim=2)
    if p.shape[0] != types.n_groups:
        raise ValueError(f"p must have shape (n_types={types.n_groups}, T)")
    _check_probabilities(p, "p")
    totals = p.sum(axis=0)
    if (totals > 1 + 1e-9).any():
        t = int(np.flatnonzero(totals > 1 + 1e-9)[0])
        raise ValueError(f"p[:, {t}] sums to {totals[t]:.6g} > 1")
    rng = as_generator(seed)
    u = rng.random(p.shape[1])
    cumulative = np.cumsum(p, axis=0)
    drawn = (u[None, :] < cumulative).argmax(axis=0)
    arrived = u < totals
    steps = np.flatnonzero(arrived)
    return _realise(
        types,
        drawn[steps],
        steps.astype(np.float64),
        reusable=reusable,
        durations=durations,
        rng=rng,
        arrival_model="known-adversarial",
        p=p,
    )


def poisson_arrivals(
    types: Instance,
    rates: np.ndarray,
    horizon: float,
    *,
    seed: int | np.random.Generator | None = 0,
    durations: DurationSampler | None = None,
) -> ArrivalSequence:
    """Continuous-time arrivals: type ``v`` arrives as a Poisson process of rate ``rates[v]``.

    Resources are reusable: a resource serving an edge is busy for the edge's duration
    (the type's ``edge_duration``, or drawn by ``durations(rng, type_edges)``) and then
    free again at its depot.

    The expected number of arrivals, ``sum(rates) * horizon``, must not exceed
    :data:`MAX_ARRIVALS` (``10**7``); a larger one is refused before anything is drawn.
    """
    rates = _check_rates(types, rates)
    horizon = v.check_real(horizon, "horizon", low=0.0)
    _check_sampler(durations)
    total = float(rates.sum())
    expected = total * horizon
    if expected > MAX_ARRIVALS:
        raise ValueError(
            f"poisson_arrivals would draw about {expected:.3g} arrivals (rates sum to "
            f"{total:g} over horizon {horizon:g}); a sequence has at most {MAX_ARRIVALS} "
            "arrivals (matching.arrivals.MAX_ARRIVALS)"
        )
    rng = as_generator(seed)
    n = int(rng.poisson(expected)) if total > 0 else 0
    if n > MAX_ARRIVALS:
        raise ValueError(
            f"poisson_arrivals drew {n} arrivals (expected {expected:.6g}), more than "
            f"MAX_ARRIVALS = {MAX_ARRIVALS}; shorten the horizon"
        )
    times = np.sort(rng.uniform(0.0, horizon, size=n))
    seq = rng.choice(types.n_groups, size=n, p=rates / total) if n else np.zeros(0, np.int64)
    return _realise(
        types, seq, times, reusable=True, durations=durations, rng=rng, arrival_model="poisson"
    )
