"""A small discrete-event simulation core: clock, event heap, deterministic ties, metrics.

The ride-pooling dispatcher, the LLM-serving and the rollout simulators all drive their
:class:`~matching.stream.OnlineMatcher` from one :class:`Simulation`. The core knows
nothing of vehicles, requests or GPUs: an event is a time, a priority, a ``kind``
string and an opaque ``payload``; the application registers one handler per kind.

Ordering is total and deterministic: events fire in increasing ``(time, priority,
seq)``, where ``seq`` is a counter assigned when the event is scheduled, so events with
equal time and priority fire first-in first-out, independently of the heap's internals.
Lower ``priority`` values fire first. Time never goes backwards: scheduling before
:attr:`Simulation.now` is refused.

:class:`Metrics` collects counters, sample series (summarised with numpy percentiles)
and time-weighted gauges (piecewise-constant signals integrated exactly over time);
:class:`Timer` measures the wall time of a decision into a series.

Examples
--------
An M/M/1 queue (arrival rate 0.5, service rate 1) in a few lines; the time-average
number in system estimates ``rho / (1 - rho) = 1``:

>>> import numpy as np
>>> from scheduling.sim import Simulation
>>> rng = np.random.default_rng(0)
>>> sim = Simulation()
>>> queue = []
>>> def arrive(sim, event):
...     queue.append(sim.now)
...     sim.metrics.gauge("in_system", len(queue))
...     if len(queue) == 1:
...         sim.schedule(sim.now + rng.exponential(1.0), "depart")
...     sim.schedule(sim.now + rng.exponential(2.0), "arrive")
>>> def depart(sim, event):
...     sim.metrics.observe("time_in_system", sim.now - queue.pop(0))
...     sim.metrics.gauge("in_system", len(queue))
...     if queue:
...         sim.schedule(sim.now + rng.exponential(1.0), "depart")
>>> sim.on("arrive", arrive)
>>> sim.on("depart", depart)
>>> sim.metrics.gauge("in_system", 0)
>>> _ = sim.schedule(0.0, "arrive")
>>> sim.run(until=20_000.0) > 10_000
True
>>> round(sim.metrics.gauge_mean("in_system"), 1)
1.0
>>> round(sim.metrics.summary("time_in_system").mean, 1)  # Little: L / lambda = 2
2.0
"""

from __future__ import annotations

import bisect
import heapq
import math
import time as _time
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Event",
    "Handler",
    "Metrics",
    "Periodic",
    "SeriesSummary",
    "Simulation",
    "Timer",
    "UnhandledEventError",
]


class Event(NamedTuple):
    """One scheduled event; it is also the handle :meth:`Simulation.cancel` takes.

    Immutable, and ordered by ``(time, priority, seq)``: ``seq`` is unique within a
    simulation, so ``kind`` and ``payload`` are never compared.

    Attributes
    ----------
    time : float
        When the event fires.
    priority : int
        Tie-breaker among equal times; lower fires first.
    seq : int
        Scheduling counter; breaks the remaining ties first-in first-out.
    kind : str
        Selects the handler registered with :meth:`Simulation.on`.
    payload : Any
        Opaque application data (for :meth:`Simulation.periodic` ticks, the tick index).
    """

    time: float
    priority: int
    seq: int
    kind: str
    payload: Any = None


#: A handler receives the simulation and the event; it may schedule further events.
Handler = Callable[["Simulation", Event], object]


class UnhandledEventError(LookupError):
    """An event's ``kind`` has no handler; the message names the kind and the time."""


class Periodic:
    """A periodic tick source started by :meth:`Simulation.periodic`.

    Tick ``k`` (from 0) fires at ``start + k * every`` exactly: each tick time is
    computed from ``k``, never by adding ``every`` repeatedly, so it does not drift.
    Pass it to :meth:`Simulation.cancel` to stop the ticks.

    Attributes
    ----------
    kind : str
    every : float
    start : float
    end : float
        No tick fires after ``end`` (``inf``: ticks forever).
    ticks : int
        Number of ticks fired so far.
    active : bool
        False once cancelled or past ``end``.
    """

    __slots__ = ("_next", "_owner", "active", "end", "every", "kind", "priority", "start", "ticks")

    def __init__(
        self, owner: Simulation, kind: str, every: float, start: float, end: float, priority: int
    ) -> None:
        self._owner = owner
        self.kind = kind
        self.every = every
        self.start = start
        self.end = end
        self.priority = priority
        self.ticks = 0
        self.active = True
        self._next: Event | None = None

    def tick_time(self, k: int) -> float:
        """Time of tick ``k``: ``start + k * every``."""
        return self.start + k * self.every

    def __repr__(self) -> str:
        return (
            f"Periodic(kind={self.kind!r}, every={self.every!r}, start={self.start!r}, "
            f"ticks={self.ticks}, active={self.active})"
        )


def _check_time(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


class Simulation:
    """Discrete-event loop: a clock, an event heap and one handler per event kind.

    Parameters
    ----------
    start : float, default 0.0
        Initial clock value.

    Attributes
    ----------
    metrics : Metrics
        Metrics whose gauges are timed by this simulation's clock.

    Notes
    -----
    Events fire in increasing ``(time, priority, seq)``. Scheduling costs
    ``O(log n)``; :meth:`cancel` is ``O(1)`` (the event is dropped lazily when it
    reaches the top of the heap).

    Examples
    --------
    >>> sim = Simulation()
    >>> sim.on("hello", lambda sim, ev: print(sim.now, ev.payload))
    >>> _ = sim.schedule(2.0, "hello", "second")
    >>> _ = sim.schedule(1.0, "hello", "first")
    >>> late = sim.schedule(3.0, "hello", "never")
    >>> sim.cancel(late)
    True
    >>> sim.run()
    1.0 first
    2.0 second
    2
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = _check_time(start, "start")
        self._heap: list[Event] = []
        self._pending: dict[int, Event] = {}
        self._periodic: dict[int, Periodic] = {}
        self._handlers: dict[str, Handler] = {}
        self._seq = 0
        self._processed = 0
        self._running = False
        self._stop = False
        self.metrics = Metrics(clock=self._clock)

    def _clock(self) -> float:
        return self._now

    # ------------------------------------------------------------------ state
    @property
    def now(self) -> float:
        """Current simulated time (read-only)."""
        return self._now

    @property
    def pending(self) -> int:
        """Number of scheduled events not yet fired or cancelled."""
        return len(self._pending)

    @property
    def processed(self) -> int:
        """Number of events fired so far."""
        return self._processed

    @property
    def next_time(self) -> float:
        """Time of the next event that will fire (``inf`` when none is pending)."""
        self._drop_cancelled()
        return self._heap[0].time if self._heap else math.inf

    def _drop_cancelled(self) -> None:
        heap, pending = self._heap, self._pending
        while heap and heap[0].seq not in pending:
            heapq.heappop(heap)

    # ------------------------------------------------------------------ scheduling
    def on(self, kind: str, handler: Handler, *, replace: bool = False) -> None:
        """Register ``handler(sim, event)`` for events of ``kind`` (one handler a kind).

        Registering a second handler for a kind raises ``ValueError`` unless
        ``replace=True``.
        """
        if not isinstance(kind, str):
            raise TypeError(f"kind must be a str, got {kind!r}")
        if not callable(handler):
            raise TypeError(f"handler for {kind!r} must be callable, got {handler!r}")
        if kind in self._handlers and not replace:
            raise ValueError(f"event kind {kind!r} already has a handler; pass replace=True")
        self._handlers[kind] = handler

    def schedule(self, time: float, kind: str, payload: Any = None, priority: int = 0) -> Event:
        """Schedule an event of ``kind`` at ``time`` and return it (it is its own handle).

        Raises
        ------
        ValueError
            If ``time`` is NaN, infinite or before :attr:`now`.
        TypeError
            If ``time`` is not a real number, ``kind`` not a str or ``priority`` not an
            int.
        """
        if type(time) is not float:
            time = _check_time(time, "event time")
        elif not math.isfinite(time):
            raise ValueError(f"event time must be finite, got {time!r} (now={self._now!r})")
        if time < self._now:
            raise ValueError(
                f"cannot schedule {kind!r} at time {time!r}: it is before now={self._now!r}"
            )
        if type(kind) is not str:
            raise TypeError(f"kind must be a str, got {kind!r}")
        if type(priority) is not int:
            if isinstance(priority, bool) or not isinstance(priority, (int, np.integer)):
                raise TypeError(f"priority must be an int, got {priority!r}")
            priority = int(priority)
        seq = self._seq
        self._seq = seq + 1
        event = Event(time, priority, seq, kind, payload)
        heapq.heappush(self._heap, event)
        self._pending[seq] = event
        return event

    def cancel(self, handle: Event | Periodic) -> bool:
        """Cancel a pending event, or stop a :class:`Periodic` tick source.

        Returns
        -------
        bool
            True if something was cancelled; False, a no-op, if the event had already
            fired or been cancelled (or the periodic source had already stopped).

        Raises
        ------
        TypeError
            If ``handle`` is neither an :class:`Event` nor a :class:`Periodic`.
        ValueError
            If ``handle`` was not scheduled by this simulation (detected for a periodic
            source, and for an event unless its sequence number is unused here or
            already fired here).
        """
        if isinstance(handle, Periodic):
            if handle._owner is not self:
                raise ValueError(f"{handle!r} was not started by this simulation")
            if not handle.active:
                return False
            handle.active = False
            nxt, handle._next = handle._next, None
            if nxt is not None:
                self._periodic.pop(nxt.seq, None)
                self._pending.pop(nxt.seq, None)
            return True
        if not isinstance(handle, Event):
            raise TypeError(f"cannot cancel {handle!r}: expected an Event or a Periodic")
        if not 0 <= handle.seq < self._seq:
            raise ValueError(f"{handle!r} was not scheduled by this simulation")
        current = self._pending.get(handle.seq)
        if current is None:
            return False
        if current is not handle:
            raise ValueError(f"{handle!r} was not scheduled by this simulation")
        del self._pending[handle.seq]
        periodic = self._periodic.pop(handle.seq, None)
        if periodic is not None:  # cancelling a periodic's pending tick stops the source
            periodic.active = False
            periodic._next = None
        return True

    def periodic(
        self,
        kind: str,
        every: float,
        start: float | None = None,
        *,
        end: float = math.inf,
        priority: int = 0,
    ) -> Periodic:
        """Fire ``kind`` at ``start + k * every`` for ``k = 0, 1, ...`` up to ``end``.

        ``start`` defaults to :attr:`now`. The payload of tick ``k`` is ``k``. Tick
        times are computed from ``k``, so there is no floating-point drift however many
        ticks fire. Without ``end``, stop the ticks with :meth:`cancel` or bound
        :meth:`run` with ``until`` or ``max_events``.

        Examples
        --------
        >>> sim = Simulation()
        >>> sim.on("window", lambda sim, ev: print(ev.payload, sim.now))
        >>> ticks = sim.periodic("window", 0.1, start=1.0, end=1.3)
        >>> sim.run()
        0 1.0
        1 1.1
        2 1.2
        3 1.3
        4
        """
        every = _check_time(every, "every")
        if every <= 0:
            raise ValueError(f"every must be positive, got {every!r}")
        start = self._now if start is None else _check_time(start, "start")
        if start < self._now:
            raise ValueError(f"periodic start {start!r} is before now={self._now!r}")
        if isinstance(end, bool) or not isinstance(end, (int, float, np.integer, np.floating)):
            raise TypeError(f"end must be a real number, got {end!r}")
        end = float(end)
        if math.isnan(end):
            raise ValueError("end must not be NaN")
        source = Periodic(self, kind, every, start, end, priority)
        self._schedule_tick(source)
        return source

    def _schedule_tick(self, source: Periodic) -> None:
        t = source.tick_time(source.ticks)
        if t > source.end:
            source.active = False
            source._next = None
            return
        event = self.schedule(t, source.kind, source.ticks, source.priority)
        source._next = event
        self._periodic[event.seq] = source

    # ------------------------------------------------------------------ running
    def stop(self) -> None:
        """Ask the running :meth:`run` to return after the current event."""
        self._stop = True

    def step(self) -> Event | None:
        """Fire the next event and return it (``None`` when no event is pending)."""
        if self._running:
            raise RuntimeError("step() called from inside a handler")
        self._running = True
        try:
            return self._fire_next(math.inf)
        finally:
            self._running = False

    def _fire_next(self, until: float) -> Event | None:
        heap, pending = self._heap, self._pending
        while heap:
            event = heap[0]
            seq = event.seq
            if seq not in pending:
                heapq.heappop(heap)
                continue
            if event.time > until:
                return None
            handler = self._handlers.get(event.kind)
            if handler is None:
                raise UnhandledEventError(self._unhandled(event))
            heapq.heappop(heap)
            del pending[seq]
            self._now = event.time
            self._processed += 1
            if self._periodic:
                source = self._periodic.pop(seq, None)
                if source is not None:
                    source.ticks += 1
                    self._schedule_tick(source)
            handler(self, event)
            return event
        return None

    @staticmethod
    def _unhandled(event: Event) -> str:
        return (
            f"no handler for event kind {event.kind!r} (at time {event.time!r}); "
            f"register one with sim.on({event.kind!r}, handler)"
        )

    def run(self, until: float | None = None, max_events: int | None = None) -> int:
        """Fire events in order; return how many fired.

        Parameters
        ----------
        until : float, optional
            Fire exactly the events with ``time <= until``, then set the clock to
            ``until``. When :meth:`stop` or ``max_events`` ends the run while events
            at or before ``until`` remain, the clock stays at the last fired event.
        max_events : int, optional
            Fire at most this many events.

        Notes
        -----
        An exception raised by a handler propagates; its event counts as fired and the
        clock stays at its time.

        Raises
        ------
        UnhandledEventError
            At an event whose kind has no handler; the event stays pending and the
            clock is not moved to it.
        ValueError
            If ``until`` is before :attr:`now`, NaN or infinite.
        """
        if self._running:
            raise RuntimeError("run() called from inside a handler")
        bound = math.inf if until is None else _check_time(until, "until")
        if bound < self._now:
            raise ValueError(f"until={bound!r} is before now={self._now!r}")
        if max_events is not None and (
            isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 0
        ):
            raise ValueError(f"max_events must be a non-negative int, got {max_events!r}")
        limit = math.inf if max_events is None else max_events
        fired = 0
        self._running = True
        self._stop = False
        try:
            while fired < limit and self._fire_next(bound) is not None:
                fired += 1
                if self._stop:
                    break
            if until is not None and not self._stop and self.next_time > bound:
                self._now = bound
        finally:
            self._running = False
            self._stop = False
        return fired


class SeriesSummary(NamedTuple):
    """Summary of a sample series; percentiles are numpy's ``method="linear"``.

    ``method="linear"`` is numpy's default (Hyndman and Fan's type 7). An empty
    series has ``count == 0`` and NaN statistics.
    """

    count: int
    mean: float
    median: float
    p95: float
    p99: float
    max: float


class _Gauge:
    __slots__ = ("times", "values")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.values: list[float] = []


class Metrics:
    r"""Counters, sample series and time-weighted gauges.

    Parameters
    ----------
    clock : callable, optional
        Returns the current time for gauges set without an explicit ``time``
        (:class:`Simulation` passes its clock).

    Examples
    --------
    >>> m = Metrics()
    >>> m.count("served"); m.count("served", 2)
    >>> m.counters
    {'served': 3}
    >>> for wait in [1.0, 2.0, 3.0, 10.0]:
    ...     m.observe("wait", wait)
    >>> m.summary("wait")
    SeriesSummary(count=4, mean=4.0, median=2.5, p95=8.95, p99=9.79, max=10.0)
    >>> m.gauge("busy", 2, time=0.0)   # 2 busy over [0, 3), 4 over [3, 4)
    >>> m.gauge("busy", 4, time=3.0)
    >>> m.gauge_mean("busy", until=4.0)  # (2 * 3 + 4 * 1) / 4
    2.5
    >>> import csv, sys
    >>> w = csv.DictWriter(sys.stdout, ["metric", "type", "statistic", "value"],
    ...                    lineterminator="\n")
    >>> w.writerows(m.to_rows(until=4.0)[:3])
    served,counter,total,3
    wait,series,count,4
    wait,series,mean,4.0
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._counters: dict[str, float] = {}
        self._series: dict[str, list[float]] = {}
        self._gauges: dict[str, _Gauge] = {}

    def _now(self, time: float | None) -> float:
        if time is not None:
            return _check_time(time, "time")
        if self._clock is None:
            raise ValueError("these metrics have no clock: pass time=")
        return self._clock()

    # ------------------------------------------------------------------ counters
    def count(self, name: str, by: float = 1) -> None:
        """Add ``by`` to counter ``name`` (created at 0)."""
        self._counters[name] = self._counters.get(name, 0) + by

    @property
    def counters(self) -> dict[str, float]:
        """A copy of the counters."""
        return dict(self._counters)

    # ------------------------------------------------------------------ series
    def observe(self, name: str, value: float) -> None:
        """Append ``value`` to sample series ``name``."""
        self._series.setdefault(name, []).append(float(value))

    def samples(self, name: str) -> np.ndarray:
        """Return the samples of series ``name`` in observed order (empty if unknown)."""
        return np.asarray(self._series.get(name, ()), dtype=np.float64)

    def summary(self, name: str) -> SeriesSummary:
        """Count, mean, median, p95, p99 and max of series ``name``.

        Percentiles use ``numpy.percentile(..., method="linear")``.
        """
        x = self.samples(name)
        if x.size == 0:
            nan = math.nan
            return SeriesSummary(0, nan, nan, nan, nan, nan)
        p50, p95, p99 = np.percentile(x, [50.0, 95.0, 99.0], method="linear")
        return SeriesSummary(
            int(x.size), float(x.mean()), float(p50), float(p95), float(p99), float(x.max())
        )

    def timer(self, name: str) -> Timer:
        """Return a :class:`Timer` recording wall seconds into series ``name``."""
        return Timer(self, name)

    # ------------------------------------------------------------------ gauges
    def gauge(self, name: str, value: float, time: float | None = None) -> None:
        """Set gauge ``name`` to ``value`` from ``time`` (default: the clock's now) on.

        The gauge is piecewise constant: it keeps ``value`` until its next setting.
        Setting it twice at one time keeps the later value. Times must not decrease.
        """
        t = self._now(time)
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"gauge {name!r} value must be finite, got {value!r}")
        g = self._gauges.get(name)
        if g is None:
            g = self._gauges[name] = _Gauge()
        elif t < g.times[-1]:
            raise ValueError(
                f"gauge {name!r} set at {t!r}, before its last setting {g.times[-1]!r}"
            )
        elif t == g.times[-1]:
            g.values[-1] = value
            return
        g.times.append(t)
        g.values.append(value)

    def _gauge(self, name: str) -> _Gauge:
        g = self._gauges.get(name)
        if g is None:
            raise KeyError(f"no gauge named {name!r}")
        return g

    def gauge_value(self, name: str) -> float:
        """Return the current value of gauge ``name``."""
        return self._gauge(name).values[-1]

    def gauge_history(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Change times and values of gauge ``name`` (value ``i`` holds from time ``i``)."""
        g = self._gauge(name)
        return np.array(g.times), np.array(g.values)

    def _window(self, name: str, until: float | None, since: float | None) -> tuple[float, float]:
        g = self._gauge(name)
        end = self._now(until)
        begin = g.times[0] if since is None else _check_time(since, "since")
        if begin < g.times[0]:
            raise ValueError(f"since={begin!r} is before gauge {name!r} was first set")
        if end < begin:
            raise ValueError(f"until={end!r} is before the window's start {begin!r}")
        return begin, end

    def gauge_integral(
        self, name: str, until: float | None = None, since: float | None = None
    ) -> float:
        """Integral of gauge ``name`` over [``since``, ``until``].

        ``since`` defaults to the gauge's first setting and ``until`` to the clock's
        now. Exact for the step function up to floating-point rounding of each
        segment's ``value * duration`` (the segments are summed with
        :func:`math.fsum`).
        """
        begin, end = self._window(name, until, since)
        g = self._gauge(name)
        times, values = g.times, g.values
        first = max(bisect.bisect_right(times, begin) - 1, 0)
        parts = []
        for i in range(first, len(times)):
            lo = max(times[i], begin)
            hi = end if i + 1 == len(times) else min(times[i + 1], end)
            if hi <= lo:
                break
            parts.append(values[i] * (hi - lo))
        return math.fsum(parts)

    def gauge_mean(
        self, name: str, until: float | None = None, since: float | None = None
    ) -> float:
        """Time average of gauge ``name`` over [``since``, ``until``].

        ``since`` defaults to the gauge's first setting and ``until`` to the clock's
        now. Over an empty interval it is the value in force at ``since``.

        Examples
        --------
        >>> m = Metrics()
        >>> m.gauge("busy", 0, time=0.0); m.gauge("busy", 6, time=10.0)
        >>> m.gauge_mean("busy", until=20.0), m.gauge_mean("busy", until=20.0, since=5.0)
        (3.0, 4.0)
        """
        begin, end = self._window(name, until, since)
        if end == begin:
            g = self._gauge(name)
            return g.values[bisect.bisect_right(g.times, begin) - 1]
        return self.gauge_integral(name, end, begin) / (end - begin)

    # ------------------------------------------------------------------ export
    def to_rows(self, until: float | None = None) -> list[dict[str, Any]]:
        """Long-format rows ``{"metric", "type", "statistic", "value"}`` for CSV export.

        Counters give ``total``; series give the :class:`SeriesSummary` fields; gauges
        give ``time_mean`` (over [first setting, ``until``]), ``last`` and ``max``.
        ``until`` defaults to the clock's now (or, without a clock, each gauge's last
        setting).
        """
        rows: list[dict[str, Any]] = []
        for name, total in self._counters.items():
            rows.append({"metric": name, "type": "counter", "statistic": "total", "value": total})
        for name in self._series:
            for stat, value in self.summary(name)._asdict().items():
                rows.append({"metric": name, "type": "series", "statistic": stat, "value": value})
        for name, g in self._gauges.items():
            end = until
            if end is None:
                end = self._clock() if self._clock is not None else g.times[-1]
            stats = {
                "time_mean": self.gauge_mean(name, end),
                "last": g.values[-1],
                "max": max(g.values),
            }
            for stat, value in stats.items():
                rows.append({"metric": name, "type": "gauge", "statistic": stat, "value": value})
        return rows


class Timer:
    """Context manager measuring wall time (``time.perf_counter``) in seconds.

    With ``metrics`` and ``name``, each use appends the elapsed seconds to that series
    (also when the block raises: the time was spent).

    Examples
    --------
    >>> m = Metrics()
    >>> with Timer(m, "decide") as t:
    ...     _ = sum(range(1000))
    >>> t.elapsed > 0, m.summary("decide").count
    (True, 1)
    """

    __slots__ = ("_start", "elapsed", "metrics", "name")

    def __init__(self, metrics: Metrics | None = None, name: str | None = None) -> None:
        if (metrics is None) != (name is None):
            raise ValueError("pass both metrics and name, or neither")
        self.metrics = metrics
        self.name = name
        self.elapsed = math.nan
        self._start = math.nan

    def __enter__(self) -> Timer:
        self._start = _time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.elapsed = _time.perf_counter() - self._start
        if self.metrics is not None and self.name is not None:
            self.metrics.observe(self.name, self.elapsed)
