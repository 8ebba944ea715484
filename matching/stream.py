"""The streaming online matcher: arrivals in, irrevocable decisions out.

A scheduler creates one :class:`OnlineMatcher` with its resources (capacities), a
policy and, for known-distribution models only, the declared prior. It then calls
:meth:`OnlineMatcher.arrive` for each arriving group (or
:meth:`OnlineMatcher.arrive_batch` for a batch) from its own event loop and gets the
decision back at once. The matcher owns the state: it validates every arrival, offers
the policy only edges that fit *now*, verifies the policy's answer, commits it
irrevocably, holds a reusable resource's load for the edge's duration and keeps the
decision log.

A policy sees only the present: the arriving group(s), their candidate edges, and
sealed read-only views of the state (remaining capacity, served flags, time, its own
past decisions). Writing to any of them raises. It never sees the realised future.

Reusable resources and batches: a group decided at time ``b`` that arrived at
``a <= b`` holds its resource over ``[a, b + d)``: waiting is charged to the policy.
Each batch is offered the capacity that is free from its earliest arrival on, so every
policy's schedule stays feasible when each chosen edge starts at its arrival, and the
hindsight optimum with service starting at arrival bounds every policy.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from matching._intervals import capacity_slack, decimal_value
from matching.families import as_generator
from matching.model import Instance

if TYPE_CHECKING:
    from matching.online import OnlinePolicy

__all__ = [
    "Arrival",
    "ArrivingGroup",
    "Decision",
    "KnownModel",
    "MatcherSetup",
    "MatcherState",
    "OnlineMatcher",
    "PolicyError",
    "Prior",
    "sealed",
]

_EMPTY = np.zeros(0, dtype=np.int64)


class PolicyError(RuntimeError):
    """A policy answered something the matcher cannot accept; the message says what."""


def sealed(array: np.ndarray) -> np.ndarray:
    """Return a read-only view of ``array`` whose ``writeable`` flag cannot be set again.

    Examples
    --------
    >>> import numpy as np
    >>> view = sealed(np.zeros(3))
    >>> view[0] = 1.0
    Traceback (most recent call last):
    ...
    ValueError: assignment destination is read-only
    """
    return np.lib.stride_tricks.as_strided(array, writeable=False)


class Prior:
    """Base of the declared priors a matcher accepts.

    :class:`KnownModel` and the ridesharing model of :mod:`matching.rideshare`: the
    arrival distribution a policy may learn before any arrival, never the draw.
    Subclasses carry ``types`` (an :class:`~matching.model.Instance` over the matcher's
    resources) and ``p`` (one row per type, one column per step).
    """

    types: Instance
    p: np.ndarray

    @property
    def horizon(self) -> int:
        """Number of steps ``T``."""
        return int(self.p.shape[1])


@dataclass(frozen=True)
class KnownModel(Prior):
    """A declared prior: the distribution arrivals are drawn from, not the draw.

    Attributes
    ----------
    types : Instance
        One group per type, with its edges (resources, weights, loads, durations).
    p : ndarray, shape (n_types, T)
        Probability that type ``v`` arrives at step ``t`` (at most one arrival a step).
    """

    types: Instance
    p: np.ndarray

    def __post_init__(self) -> None:
        p = np.asarray(self.p, dtype=np.float64)
        if 0 not in p.strides:  # a broadcast (one column for every step) stays a view
            p = p.copy()
        if p.ndim != 2 or p.shape[0] != self.types.n_groups:
            raise ValueError(f"p must have shape (n_types={self.types.n_groups}, T)")
        if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
            raise ValueError("p must be probabilities: finite, in [0, 1]")
        step_total = p.sum(axis=0)
        if (step_total > 1 + 1e-9).any():
            t = int(np.flatnonzero(step_total > 1 + 1e-9)[0])
            raise ValueError(
                f"the probabilities of step {t} sum to {step_total[t]:.6g} > 1: at most one "
                "arrival a step"
            )
        object.__setattr__(self, "p", sealed(p))


class Arrival(NamedTuple):
    """One arriving group as a policy sees it (arrays are sealed read-only views).

    Edge ``j`` of the arrival joins ``resources[j]`` with weight ``weights[j]``, load
    ``loads[j]`` and, for reusable resources, duration ``durations[j]``.
    """

    index: int
    time: float
    requests: tuple[Hashable, ...]
    request_index: tuple[int, ...]
    resources: np.ndarray
    weights: np.ndarray
    loads: np.ndarray
    durations: np.ndarray | None
    type: int | None

    @property
    def n_edges(self) -> int:
        """Number of candidate edges the arrival brought."""
        return int(self.resources.size)


class ArrivingGroup(NamedTuple):
    """A group handed to :meth:`OnlineMatcher.arrive_batch` (same fields as ``arrive``)."""

    requests: Sequence[Hashable]
    resources: Any
    weights: Any
    loads: Any = None
    durations: Any = None
    time: float | None = None
    type: int | None = None


class Decision(NamedTuple):
    """The irrevocable decision on one arrival.

    ``edge`` is the index of the accepted edge within the arrival (``-1``: rejected);
    ``resource``, ``weight`` and ``load`` are that edge's (``-1``, 0, 0 when rejected).
    ``release`` is when the resource gets the load back (``inf`` for single-use
    resources or a rejection).
    """

    arrival: int
    time: float
    arrival_time: float
    edge: int
    resource: int
    weight: float
    load: float
    release: float

    @property
    def accepted(self) -> bool:
        """True when an edge was accepted."""
        return self.edge >= 0


@dataclass(frozen=True)
class MatcherSetup:
    """What a policy learns when it is reset: the resources and the declared prior."""

    n_resources: int
    capacity: np.ndarray
    reusable: bool
    prior: Prior | None


class MatcherState:
    """Read-only window on the matcher's state, handed to the policy with each decision.

    Attributes
    ----------
    time : float
        Current decision time.
    remaining : ndarray
        Free capacity of every resource (sealed view; during a batch decision, the
        capacity free from the batch's earliest arrival on).
    capacity : ndarray
        Capacity of every resource (sealed view).
    """

    __slots__ = ("_view", "capacity", "remaining")

    def __init__(self, view: _PublicView) -> None:
        self._view = view
        self.remaining = sealed(view.remaining)
        self.capacity = sealed(view.capacity)

    @property
    def time(self) -> float:
        """Current decision time."""
        return self._view.time

    @property
    def served(self) -> np.ndarray:
        """Whether each request seen so far is served, by :meth:`request_index`."""
        return self._view.served_view()

    def request_index(self, request: Hashable) -> int:
        """Position of ``request`` in :attr:`served` (``-1`` if never seen)."""
        return self._view.request_ids.get(request, -1)

    @property
    def n_arrivals(self) -> int:
        """Arrivals decided so far."""
        return len(self._view.log)

    def decisions(self) -> tuple[Decision, ...]:
        """Return the policy's own past decisions, oldest first (immutable records)."""
        return tuple(self._view.log)


class _PublicView:
    """What the policy may read: mirrors of the matcher's state, never the state itself.

    The matcher decides feasibility from its private arrays and copies every change
    into these mirrors; a policy that forces its way into a mirror (through a view's
    ``base``) changes only what it reads, never what the matcher enforces.
    """

    __slots__ = ("_served", "capacity", "log", "remaining", "request_ids", "served_cache", "time")

    def __init__(self, capacity: np.ndarray, log: list[Decision]) -> None:
        self.capacity = capacity.copy()
        self.remaining = capacity.copy()
        self.log = log  # appended by the matcher; the policy gets tuples of it
        self.request_ids: dict[Hashable, int] = {}
        self.time = -math.inf
        self._served = np.zeros(64, dtype=bool)
        self.served_cache: np.ndarray | None = None

    def served_view(self) -> np.ndarray:
        if self.served_cache is None:
            self.served_cache = sealed(self._served[: len(self.request_ids)].copy())
        return self.served_cache

    def mark_served(self, index: list[int]) -> None:
        n = len(self.request_ids)
        if n > self._served.size:
            grown = np.zeros(max(n, 2 * self._served.size), dtype=bool)
            grown[: self._served.size] = self._served
            self._served = grown
        self._served[index] = True
        self.served_cache = None


def _vector(values: Any, dtype: type, name: str, index: int | None) -> np.ndarray:
    where = "" if index is None else f" of group {index}"
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name}{where} must be numbers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name}{where} must be one-dimensional, got shape {array.shape}")
    return array.astype(dtype, copy=True)


def _numbers(values: Any, name: str, index: int, size: int) -> np.ndarray:
    array = _vector(values, np.float64, name, index)
    if array.size != size:
        raise ValueError(f"group {index}: {array.size} {name} for {size} resources")
    return array


def _resource_ids(values: Any, n_resources: int, index: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"resources of group {index} must be one-dimensional")
    if array.dtype.kind in "iu":
        ids = array.astype(np.int64, copy=True)
    elif array.dtype.kind == "f" and array.size and np.isfinite(array).all():
        ids = array.astype(np.int64)
        if not np.array_equal(ids, array):
            ids = None
    else:
        ids = None if array.size else np.zeros(0, dtype=np.int64)
    if ids is None or (ids.size and (ids.view(np.uint64) >= n_resources).any()):
        raise ValueError(
            f"resources of group {index} must be integers in 0..{n_resources - 1}, got {values!r}"
        )
    return ids


def _read_only_copy(array: np.ndarray) -> np.ndarray:
    copy = array.copy()
    copy.flags.writeable = False
    return copy


def _whole(values: np.ndarray) -> bool:
    """Whether every value is a whole number.

    Whole floats below ``2**53`` equal their decimals; one at or above it fits no
    capacity below ``2**53``, as a float or as a decimal.
    """
    return bool(np.equal(values, np.trunc(values)).all())


@lru_cache(maxsize=4096)
def _exact_decimal(x: float) -> bool:
    """Whether the float ``x`` equals the decimal it prints as."""
    return decimal_value(abs(x)) == Fraction(abs(x))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


class OnlineMatcher:
    """Make irrevocable matching decisions as groups arrive.

    Parameters
    ----------
    capacity : array_like of float
        Capacity of every resource (resources are ``0 .. len(capacity) - 1``).
    policy : OnlinePolicy
        Decides each arrival (or batch); reset here with :class:`MatcherSetup` and a
        generator. The matcher owns it from now on.
    prior : Prior, optional
        The declared arrival distribution, for policies built on one (never the
        realised sequence).
    reusable : bool, default False
        Whether a resource gets an accepted edge's load back after its duration.
    seed : int or Generator, optional
        Randomness handed to the policy.

    Examples
    --------
    A dispatcher loop: two vehicles (capacity 1 each, reusable), riders arriving.

    >>> from matching.online import GreedyPolicy
    >>> from matching.stream import OnlineMatcher
    >>> m = OnlineMatcher([1, 1], GreedyPolicy(), reusable=True)
    >>> m.arrive(["ann"], resources=[0, 1], weights=[5.0, 3.0], durations=[10, 10], time=0)
    Decision(arrival=0, time=0.0, arrival_time=0.0, edge=0, resource=0, weight=5.0, load=1.0, release=10.0)
    >>> m.arrive(["bob"], resources=[0], weights=[4.0], durations=[5], time=2).accepted
    False
    >>> m.arrive(["cy"], resources=[0], weights=[4.0], durations=[5], time=10).resource
    0
    >>> m.value
    9.0
    """  # noqa: E501

    def __init__(
        self,
        capacity: Any,
        policy: OnlinePolicy,
        *,
        prior: Prior | None = None,
        reusable: bool = False,
        seed: int | np.random.Generator | None = 0,
    ) -> None:
        cap = _vector(capacity, np.float64, "capacity", None)
        if not np.isfinite(cap).all() or (cap < 0).any():
            bad = int(np.flatnonzero(~(np.isfinite(cap) & (cap >= 0)))[0])
            raise ValueError(f"capacity[{bad}] = {cap[bad]!r} must be finite and >= 0")
        if prior is not None and not isinstance(prior, Prior):
            raise TypeError(
                f"prior must be a KnownModel or another Prior, got {type(prior).__name__}"
            )
        if prior is not None and prior.types.n_resources != cap.size:
            raise ValueError(
                f"the prior's types use {prior.types.n_resources} resources, "
                f"capacity lists {cap.size}"
            )
        if not isinstance(reusable, bool | np.bool_):
            raise TypeError(f"reusable must be a bool, got {reusable!r}")
        window = getattr(policy, "window", None)
        if not (_is_number(window) and math.isfinite(window) and window >= 0):
            raise TypeError(f"policy must be an OnlinePolicy with a window >= 0, got {policy!r}")
        self._capacity = cap
        self._remaining = cap.copy()
        self._slack = capacity_slack(cap)
        self._room = cap + self._slack  # free capacity plus float slack
        # The free capacity, exactly on the decimal values: _remaining[r] itself where
        # _exact[r], else the Fraction _free[r] (of which _remaining[r] is the rounding).
        self._exact = np.array([decimal_value(c) == c for c in cap.tolist()], dtype=bool)
        self._small = bool(cap.max(initial=0.0) < 2.0**53)
        self._free: dict[int, Fraction] = {
            r: decimal_value(cap[r]) for r in np.flatnonzero(~self._exact).tolist()
        }
        self._reusable = bool(reusable)
        self._time = -math.inf
        self._releases: list[tuple[float, int, int, float]] = []
        self._request_ids: dict[Hashable, int] = {}
        self._served = np.zeros(64, dtype=bool)
        self._log: list[Decision] = []
        self._value = 0.0
        self.policy = policy
        self.batch = float(window) > 0
        self._view = _PublicView(cap, [])
        self.state = MatcherState(self._view)
        self.setup = MatcherSetup(cap.size, self.state.capacity, self._reusable, prior)
        policy.reset(self.setup, as_generator(seed))

    # ------------------------------------------------------------------ reading
    @property
    def time(self) -> float:
        """Time of the latest decision (``-inf`` before the first)."""
        return self._time

    @property
    def value(self) -> float:
        """Total weight of the accepted edges."""
        return self._value

    @property
    def decisions(self) -> list[Decision]:
        """The decision log, one record per arrival (a copy)."""
        return list(self._log)

    # ------------------------------------------------------------------ clock
    def advance(self, time: float) -> None:
        """Move the clock to ``time`` and give back the loads whose holds ended."""
        time = self._check_time(time, "time")
        self._release_until(time)
        self._set_time(time)

    def _set_time(self, time: float) -> None:
        self._time = time
        self._view.time = time

    def _check_time(self, time: Any, name: str) -> float:
        try:
            finite = _is_number(time) and math.isfinite(time)
        except OverflowError:  # an int beyond the float range
            finite = False
        if not finite:
            raise ValueError(f"{name} must be a finite number, got {time!r}")
        time = float(time)
        if time < self._time:
            raise ValueError(f"{name} {time!r} is before the matcher's clock {self._time!r}")
        return time

    def _release_until(self, time: float) -> None:
        releases = self._releases
        while releases and releases[0][0] <= time:
            _, _, r, load = heapq.heappop(releases)
            self._hold(r, -load)

    def _hold(self, r: int, load: float) -> None:
        """Hold ``load`` of resource ``r`` (release it when negative), exactly."""
        rem = float(self._remaining[r])
        if self._exact[r] and _exact_decimal(load):
            left = rem - load
            back = left - rem  # TwoSum: the rounding error of rem - load, exactly
            if (rem - (left - back)) + (-load - back) == 0.0:
                self._set_free(r, left, None)
                return
        change = decimal_value(abs(load))
        free = (Fraction(rem) if self._exact[r] else self._free[r]) - (
            change if load > 0 else -change
        )
        left = float(free)  # correctly rounded
        self._set_free(r, left, None if left == free else free)

    def _set_free(self, r: int, left: float, exact: Fraction | None) -> None:
        if exact is None:
            self._exact[r] = True
            self._free.pop(r, None)
        else:
            self._exact[r] = False
            self._free[r] = exact
        self._remaining[r] = left
        self._room[r] = left + self._slack[r]
        self._view.remaining[r] = left

    def _fits(self, r: int, load: float) -> bool:
        """Whether ``load`` fits resource ``r`` now, exactly on the decimal values."""
        if load <= self._remaining[r] - self._slack[r]:
            return True
        if load > self._room[r]:
            return False
        if self._exact[r] and _exact_decimal(load):  # exact on both sides
            return load <= self._remaining[r]
        return decimal_value(load) <= self._free_exactly(r)

    def _free_exactly(self, r: int) -> Fraction:
        """Resource ``r``'s free capacity, exactly."""
        return Fraction(float(self._remaining[r])) if self._exact[r] else self._free[r]

    # ------------------------------------------------------------------ arrivals
    def _arrival(
        self,
        index: int,
        requests: Sequence[Hashable],
        resources: Any,
        weights: Any,
        loads: Any,
        durations: Any,
        time: float,
        type_: int | None,
    ) -> Arrival:
        if isinstance(requests, str | bytes) or not isinstance(requests, Sequence | np.ndarray):
            raise TypeError(f"requests of group {index} must be a sequence of request ids")
        requests = tuple(requests)
        if not requests:
            raise ValueError(f"group {index} has no requests")
        if len(requests) > 1 and len(set(requests)) != len(requests):
            raise ValueError(f"group {index} lists a request twice")
        res = _resource_ids(resources, self._capacity.size, index)
        w = _numbers(weights, "weights", index, res.size)
        if not math.isfinite(w.sum()) and not np.isfinite(w).all():
            raise ValueError(f"weights of group {index} must be finite")
        if loads is None:
            ld = np.ones(res.size)
        else:
            ld = _numbers(loads, "loads", index, res.size)
            if not (math.isfinite(ld.sum()) or np.isfinite(ld).all()) or (
                ld.size and ld.min() < 0
            ):
                raise ValueError(f"loads of group {index} must be finite and >= 0")
        if self._reusable:
            if durations is None:
                raise ValueError(f"group {index} needs durations: resources are reusable")
            du = _numbers(durations, "durations", index, res.size)
            if not (math.isfinite(du.sum()) or np.isfinite(du).all()) or (
                du.size and not du.min() > 0
            ):
                raise ValueError(f"durations of group {index} must be finite and > 0")
        elif durations is not None:
            raise ValueError(
                f"group {index} has durations but the matcher's resources are single-use; "
                "create it with reusable=True"
            )
        else:
            du = None
        if type_ is not None and not (
            isinstance(type_, int | np.integer) and not isinstance(type_, bool)
        ):
            raise TypeError(f"type of group {index} must be an int, got {type_!r}")
        return self._make_arrival(index, time, requests, res, w, ld, du, type_)

    def _make_arrival(
        self,
        index: int,
        time: float,
        requests: tuple[Hashable, ...],
        res: np.ndarray,
        w: np.ndarray,
        ld: np.ndarray,
        du: np.ndarray | None,
        type_: int | None,
    ) -> Arrival:
        ids = self._request_ids
        known = len(ids)
        dense = tuple([ids.setdefault(q, len(ids)) for q in requests])
        if len(ids) != known:
            if len(ids) > self._served.size:
                grown = np.zeros(max(len(ids), 2 * self._served.size), dtype=bool)
                grown[: self._served.size] = self._served
                self._served = grown
        return Arrival(
            index,
            time,
            requests,
            dense,
            res,
            w,
            ld,
            du,
            None if type_ is None else int(type_),
        )

    def _public(self, arrival: Arrival) -> Arrival:
        """Copy ``arrival`` for the policy: read-only arrays the matcher never reads."""
        return arrival._replace(
            resources=_read_only_copy(arrival.resources),
            weights=_read_only_copy(arrival.weights),
            loads=_read_only_copy(arrival.loads),
            durations=None if arrival.durations is None else _read_only_copy(arrival.durations),
        )

    def _is_taken(self, arrival: Arrival) -> bool:
        served = self._served
        return any([served[q] for q in arrival.request_index])

    def _candidates(self, arrival: Arrival) -> np.ndarray:
        if self._is_taken(arrival):
            return _EMPTY
        res, loads = arrival.resources, arrival.loads
        if not self._free and self._small and _whole(loads):  # exact: floats decide
            return np.flatnonzero(self._remaining[res] >= loads)
        cand = np.flatnonzero(self._room[res] >= loads)  # every edge that fits, and a few more
        if cand.size:
            r_c, l_c = res[cand], loads[cand]
            close = np.flatnonzero(l_c > self._remaining[r_c] - self._slack[r_c])
            if close.size:
                keep = np.ones(cand.size, dtype=bool)
                for i in close.tolist():
                    keep[i] = self._fits(int(r_c[i]), float(l_c[i]))
                cand = cand[keep]
        return cand

    def _commit(self, arrival: Arrival, edge: Any, decided: float) -> Decision:
        edge = self._check_answer(edge, arrival)
        if edge < 0:
            decision = Decision(arrival.index, decided, arrival.time, -1, -1, 0.0, 0.0, math.inf)
            self._record(decision)
            return decision
        if self._is_taken(arrival):
            raise _already_served(arrival, edge, self._served.__getitem__)
        r = int(arrival.resources[edge])
        load = float(arrival.loads[edge])
        if not self._fits(r, load):
            raise _no_room(arrival, edge, r, float(self._remaining[r]), load)
        self._served[list(arrival.request_index)] = True
        self._view.mark_served(list(arrival.request_index))
        self._hold(r, load)
        release = math.inf
        if arrival.durations is not None:
            release = decided + float(arrival.durations[edge])
            heapq.heappush(self._releases, (release, arrival.index, r, load))
        weight = float(arrival.weights[edge])
        self._value += weight
        decision = Decision(
            arrival.index, decided, arrival.time, int(edge), r, weight, load, release
        )
        self._record(decision)
        return decision

    def _record(self, decision: Decision) -> None:
        self._log.append(decision)
        self._view.log.append(decision)

    def _expose(self, arrivals: Sequence[Arrival]) -> None:
        """Let the policy look up the arriving requests (see MatcherState.request_index)."""
        ids = self._view.request_ids
        for a in arrivals:
            for q, i in zip(a.requests, a.request_index, strict=True):
                ids.setdefault(q, i)

    @staticmethod
    def _check_answer(edge: Any, arrival: Arrival) -> int:
        if not isinstance(edge, int | np.integer) or isinstance(edge, bool | np.bool_):
            raise PolicyError(
                f"group {arrival.index}: the policy must answer an int edge index or -1, "
                f"got {edge!r}"
            )
        edge = int(edge)
        if edge != -1 and not 0 <= edge < arrival.n_edges:
            raise PolicyError(
                f"group {arrival.index}: edge {edge} is out of range "
                f"(0..{arrival.n_edges - 1}, or -1 to reject)"
            )
        return edge

    def arrive(
        self,
        requests: Sequence[Hashable],
        resources: Any,
        weights: Any,
        *,
        loads: Any = None,
        durations: Any = None,
        time: float,
        type: int | None = None,
    ) -> Decision:
        """Decide one arriving group now, irrevocably.

        Parameters
        ----------
        requests : sequence of hashable
            The group's request ids (a request may recur in later groups; once served
            it cannot be served again).
        resources, weights : array_like
            The group's candidate edges: resource ids and the value of each.
        loads : array_like, optional
            What each edge uses of its resource (default 1).
        durations : array_like, optional
            How long each edge holds its resource; required (and > 0) when the matcher
            is reusable, refused otherwise.
        time : float
            Arrival time, not before the previous call's; the decision is made at it.
        type : int, optional
            The arrival's type under the declared prior.

        Returns
        -------
        Decision

        Raises
        ------
        ValueError, TypeError
            On bad input, naming the field, before the policy is asked.
        PolicyError
            When the policy's answer cannot be accepted.
        """
        if self.batch:
            raise TypeError(f"{type_name(self.policy)} decides in batches: call arrive_batch")
        time = self._check_time(time, "time")
        arrival = self._arrival(
            len(self._log), requests, resources, weights, loads, durations, time, type
        )
        return self._decide_one(arrival)

    def _decide_one(self, arrival: Arrival) -> Decision:
        time = arrival.time
        self._release_until(time)
        self._set_time(time)
        self._expose((arrival,))
        cand = self._candidates(arrival)
        cand.flags.writeable = False
        edge = self.policy.choose(self.state, self._public(arrival), cand)
        return self._commit(arrival, edge, time)

    def arrive_batch(self, groups: Sequence[ArrivingGroup], *, time: float) -> list[Decision]:
        """Decide a batch of groups together at ``time``, irrevocably.

        Each group's own ``time`` (default: ``time``) is its arrival, between the
        previous decision and ``time``. Every accepted edge holds its resource from its
        group's arrival (see the module docstring).

        Returns
        -------
        list of Decision
            One per group, in the given order.
        """
        if not self.batch:
            raise TypeError(f"{type_name(self.policy)} decides one arrival at a time: call arrive")
        time = self._check_time(time, "time")
        if isinstance(groups, ArrivingGroup) or not isinstance(groups, Sequence):
            raise TypeError("groups must be a sequence of ArrivingGroup")
        arrivals = []
        start = len(self._log)
        known = len(self._request_ids)
        try:
            for i, g in enumerate(groups):
                if not isinstance(g, ArrivingGroup):
                    raise TypeError(f"groups[{i}] must be an ArrivingGroup, got {type_name(g)}")
                at = time if g.time is None else self._check_time(g.time, f"groups[{i}].time")
                if at > time:
                    raise ValueError(
                        f"groups[{i}] arrives at {at!r}, after the batch time {time!r}"
                    )
                arrivals.append(
                    self._arrival(
                        start + i,
                        g.requests,
                        g.resources,
                        g.weights,
                        g.loads,
                        g.durations,
                        at,
                        g.type,
                    )
                )
        except (TypeError, ValueError):
            self._forget_requests_after(known)
            raise
        return self._decide_batch(arrivals, time)

    def _forget_requests_after(self, known: int) -> None:
        """Drop the request ids registered by a batch that failed validation."""
        ids = self._request_ids
        for q in list(ids)[known:]:
            del ids[q]

    def _decide_batch(self, arrivals: list[Arrival], time: float) -> list[Decision]:
        earliest = min((a.time for a in arrivals), default=time)
        self._release_until(earliest)
        self._set_time(time)
        self._expose(arrivals)
        cand = [_read_only_copy(self._candidates(a)) for a in arrivals]
        answer = self.policy.choose_batch(self.state, [self._public(a) for a in arrivals], cand)
        if isinstance(answer, np.ndarray):
            answer = answer.tolist() if answer.dtype.kind in "iu" else list(answer)
        if not isinstance(answer, Sequence) or len(answer) != len(arrivals):
            size = len(answer) if isinstance(answer, Sequence) else type_name(answer)
            raise PolicyError(
                f"choose_batch must return one edge per group ({len(arrivals)}), got {size}"
            )
        edges = self._check_batch(arrivals, answer)
        return [self._commit(a, e, time) for a, e in zip(arrivals, edges, strict=True)]

    def _check_batch(self, arrivals: list[Arrival], answer: Sequence[Any]) -> list[int]:
        """Check a whole batch answer on a copy of the state before committing any of it.

        Mirrors :meth:`_commit` (same answers refused, same messages), so a bad answer
        for a later group leaves the earlier groups of the batch undecided.
        """
        edges = [self._check_answer(e, a) for a, e in zip(arrivals, answer, strict=True)]
        served: set[int] = set()
        free: dict[int, Fraction] = {}  # exact free capacity after the batch's earlier picks
        for arrival, edge in zip(arrivals, edges, strict=True):
            if edge < 0:
                continue

            def taken(i: int) -> bool:
                return bool(self._served[i]) or i in served

            if any(taken(i) for i in arrival.request_index):
                raise _already_served(arrival, edge, taken)
            r = int(arrival.resources[edge])
            load = float(arrival.loads[edge])
            left = free[r] if r in free else self._free_exactly(r)
            if decimal_value(load) > left:
                raise _no_room(arrival, edge, r, float(left), load)
            free[r] = left - decimal_value(load)
            served.update(arrival.request_index)
        return edges


def _already_served(arrival: Arrival, edge: int, taken: Any) -> PolicyError:
    pairs = zip(arrival.requests, arrival.request_index, strict=True)
    q = next(q for q, i in pairs if taken(i))
    return PolicyError(f"group {arrival.index}, edge {edge}: request {q!r} is already served")


def _no_room(arrival: Arrival, edge: int, r: int, free: float, load: float) -> PolicyError:
    return PolicyError(
        f"group {arrival.index}, edge {edge}: resource {r} has {free:.6g} free, needs {load:.6g}"
    )


def type_name(obj: object) -> str:
    """Class name of ``obj``, for messages."""
    return type(obj).__name__
