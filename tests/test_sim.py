import csv
import io
import math
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.sim import (
    Event,
    Metrics,
    Periodic,
    SeriesSummary,
    Simulation,
    Timer,
    UnhandledEventError,
)

# small grids of times and priorities so that ties are frequent
times = st.sampled_from([0.0, 0.5, 1.0, 1.0 + 1e-12, 2.0, 3.0])
priorities = st.integers(-2, 2)


def recorder(sim: Simulation, kinds=("e",)) -> list[Event]:
    fired: list[Event] = []
    for kind in kinds:
        sim.on(kind, lambda s, ev: fired.append(ev))
    return fired


# ---------------------------------------------------------------- ordering


@given(st.lists(st.tuples(times, priorities), max_size=40))
def test_events_fire_in_time_priority_insertion_order(spec):
    sim = Simulation()
    fired = recorder(sim)
    for i, (t, p) in enumerate(spec):
        sim.schedule(t, "e", payload=i, priority=p)
    assert sim.run() == len(spec)
    expected = sorted(range(len(spec)), key=lambda i: (spec[i][0], spec[i][1], i))
    assert [ev.payload for ev in fired] == expected
    assert sim.pending == 0


# each initial event may spawn children at now + delay with some priority
children = st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.5, 1.0]), priorities), max_size=3)


@given(st.lists(st.tuples(times, priorities, children), max_size=15))
def test_events_scheduled_by_handlers_match_brute_force_reference(spec):
    """Compare with a reference that scans a plain list for the minimum key each step."""

    def run_reference():
        pending = []  # (time, priority, insertion, label, spawn)
        counter = 0
        for i, (t, p, spawn) in enumerate(spec):
            pending.append((t, p, counter, ("root", i), spawn))
            counter += 1
        out = []
        while pending:
            best = min(range(len(pending)), key=lambda j: pending[j][:3])
            t, _p, _c, label, spawn = pending.pop(best)
            out.append((t, label))
            for k, (dt, cp) in enumerate(spawn):
                pending.append((t + dt, cp, counter, (label, k), ()))
                counter += 1
        return out

    sim = Simulation()
    out = []

    def handle(s, ev):
        label, spawn = ev.payload
        out.append((s.now, label))
        for k, (dt, cp) in enumerate(spawn):
            s.schedule(s.now + dt, "e", ((label, k), ()), priority=cp)

    sim.on("e", handle)
    for i, (t, p, spawn) in enumerate(spec):
        sim.schedule(t, "e", (("root", i), spawn), priority=p)
    sim.run()
    assert out == run_reference()


def test_event_is_ordered_by_time_priority_seq():
    a = Event(1.0, 0, 5, "z")
    b = Event(1.0, 0, 6, "a")
    c = Event(1.0, -1, 9, "z")
    d = Event(0.5, 3, 10, "z")
    assert sorted([a, b, c, d]) == [d, c, a, b]


# ---------------------------------------------------------------- cancellation


@given(
    st.lists(st.tuples(times, priorities), min_size=1, max_size=30),
    st.data(),
)
def test_cancel_removes_exactly_the_cancelled_events(spec, data):
    sim = Simulation()
    fired = recorder(sim)
    handles = [sim.schedule(t, "e", payload=i, priority=p) for i, (t, p) in enumerate(spec)]
    cancelled = data.draw(st.sets(st.integers(0, len(spec) - 1)))
    for i in cancelled:
        assert sim.cancel(handles[i]) is True
    for i in cancelled:
        assert sim.cancel(handles[i]) is False  # documented no-op
    assert sim.pending == len(spec) - len(cancelled)
    sim.run()
    kept = [i for i in range(len(spec)) if i not in cancelled]
    assert [ev.payload for ev in fired] == sorted(kept, key=lambda i: (spec[i][0], spec[i][1], i))
    for h in handles:
        assert sim.cancel(h) is False  # fired or cancelled: no-op


def test_cancel_from_a_handler_and_foreign_handles():
    sim = Simulation()
    fired = recorder(sim, kinds=("e", "timeout"))
    timeout = sim.schedule(5.0, "timeout")
    sim.on("done", lambda s, ev: s.cancel(timeout))
    sim.schedule(1.0, "done")
    sim.schedule(6.0, "e")
    sim.run()
    assert [ev.kind for ev in fired] == ["e"]
    assert sim.now == 6.0

    other = Simulation()
    foreign = other.schedule(1.0, "e")
    mine = Simulation()
    mine.schedule(1.0, "e")  # same seq as foreign
    with pytest.raises(ValueError, match="not scheduled by this simulation"):
        mine.cancel(foreign)
    with pytest.raises(ValueError, match="not scheduled by this simulation"):
        Simulation().cancel(foreign)
    with pytest.raises(TypeError):
        mine.cancel("e")  # type: ignore[arg-type]


# ---------------------------------------------------------------- run(until), step


@given(st.lists(st.tuples(times, priorities), max_size=30), times)
def test_run_until_processes_exactly_events_up_to_until(spec, until):
    sim = Simulation()
    fired = recorder(sim)
    for i, (t, p) in enumerate(spec):
        sim.schedule(t, "e", payload=i, priority=p)
    n = sim.run(until=until)
    early = sorted(
        (i for i, (t, _) in enumerate(spec) if t <= until),
        key=lambda i: (spec[i][0], spec[i][1], i),
    )
    assert [ev.payload for ev in fired] == early
    assert n == len(early)
    assert sim.now == until
    assert sim.pending == len(spec) - len(early)
    sim.run()
    assert len(fired) == len(spec)


def test_run_until_then_schedule_before_until_is_refused():
    sim = Simulation()
    recorder(sim)
    sim.schedule(1.0, "e")
    sim.run(until=10.0)
    assert sim.now == 10.0
    with pytest.raises(ValueError, match=r"before now=10\.0"):
        sim.schedule(9.0, "e")
    with pytest.raises(ValueError, match="before now"):
        sim.run(until=5.0)


def test_max_events_and_stop_leave_the_clock_at_the_last_event():
    sim = Simulation()
    fired = recorder(sim)
    for t in [1.0, 2.0, 3.0, 4.0]:
        sim.schedule(t, "e")
    assert sim.run(until=10.0, max_events=2) == 2
    assert sim.now == 2.0
    sim.on("halt", lambda s, ev: s.stop())
    sim.schedule(2.5, "halt")
    assert sim.run(until=10.0) == 1
    assert sim.now == 2.5
    assert sim.run(until=10.0) == 2
    assert sim.now == 10.0
    assert len(fired) == 4
    assert sim.processed == 5


def test_step_fires_one_event():
    sim = Simulation(start=1.0)
    fired = recorder(sim)
    a = sim.schedule(3.0, "e")
    b = sim.schedule(2.0, "e")
    sim.cancel(b)
    assert sim.step() == a
    assert sim.now == 3.0
    assert sim.step() is None
    assert sim.next_time == math.inf
    c = sim.schedule(5.0, "e")
    d = sim.schedule(4.0, "e")
    sim.cancel(d)
    assert sim.next_time == 5.0
    assert sim.step() == c
    assert fired == [a, c]


def test_unknown_kind_is_a_clear_error_and_leaves_state_alone():
    sim = Simulation()
    sim.schedule(1.0, "mystery")
    with pytest.raises(UnhandledEventError, match="'mystery'"):
        sim.run()
    assert sim.now == 0.0
    assert sim.pending == 1
    fired = recorder(sim, kinds=("mystery",))
    sim.run()
    assert len(fired) == 1 and sim.now == 1.0


def test_one_handler_per_kind_and_no_reentry():
    sim = Simulation()
    sim.on("e", lambda s, ev: None)
    with pytest.raises(ValueError, match="already has a handler"):
        sim.on("e", lambda s, ev: None)
    sim.on("e", lambda s, ev: s.run(), replace=True)
    sim.schedule(0.0, "e")
    with pytest.raises(RuntimeError, match="inside a handler"):
        sim.run()


# ---------------------------------------------------------------- bad times


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_times_are_refused(bad):
    sim = Simulation()
    with pytest.raises(ValueError, match="finite"):
        sim.schedule(bad, "e")
    with pytest.raises(ValueError, match="finite"):
        sim.run(until=bad)
    with pytest.raises(ValueError):
        Simulation(start=bad)


def test_scheduling_in_the_past_names_time_and_now():
    sim = Simulation(start=5.0)
    with pytest.raises(ValueError, match=r"time 4\.5.*now=5\.0"):
        sim.schedule(4.5, "e")
    with pytest.raises(ValueError):
        sim.periodic("e", 1.0, start=4.0)
    with pytest.raises(TypeError):
        sim.schedule("5", "e")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sim.schedule(6.0, "e", priority=0.5)  # type: ignore[arg-type]
    sim.schedule(np.float64(5.0), "e", priority=np.int64(1))  # numpy scalars are accepted
    sim.schedule(5, "e")


# ---------------------------------------------------------------- periodic


def test_periodic_ticks_do_not_drift():
    sim = Simulation()
    start, every, n = 0.3, 0.1, 100_000
    stamps = []
    sim.on("tick", lambda s, ev: stamps.append((ev.payload, s.now)))
    source = sim.periodic("tick", every, start=start)
    sim.run(max_events=n)
    assert [k for k, _ in stamps] == list(range(n))
    assert all(t == start + k * every for k, t in stamps)
    # repeated addition would have drifted: the test can tell the difference
    acc, drifted = start, False
    for _ in range(n - 1):
        acc += every
    drifted = acc != start + (n - 1) * every
    assert drifted
    assert source.ticks == n and source.active


def test_periodic_end_cancel_and_interleaving():
    sim = Simulation()
    log = []
    sim.on("tick", lambda s, ev: log.append(("tick", s.now)))
    sim.on("arrival", lambda s, ev: log.append(("arrival", s.now)))
    # ticks fire after same-time arrivals when given a larger priority
    source = sim.periodic("tick", 30.0, end=90.0, priority=1)
    sim.schedule(30.0, "arrival")
    sim.schedule(0.0, "arrival")
    sim.run()
    assert log == [
        ("arrival", 0.0),
        ("tick", 0.0),
        ("arrival", 30.0),
        ("tick", 30.0),
        ("tick", 60.0),
        ("tick", 90.0),
    ]
    assert not source.active and source.ticks == 4

    sim2 = Simulation()
    ticks = []
    sim2.on("tick", lambda s, ev: ticks.append(s.now))
    src = sim2.periodic("tick", 1.0)
    assert isinstance(src, Periodic)
    sim2.on("off", lambda s, ev: s.cancel(src))
    sim2.schedule(2.5, "off")
    sim2.run()  # terminates: the source was cancelled
    assert ticks == [0.0, 1.0, 2.0]
    assert sim2.cancel(src) is False
    with pytest.raises(ValueError, match="not started by this simulation"):
        Simulation().cancel(src)
    late = sim2.periodic("tick", 1.0, end=5.0)  # starts at now = 2.5
    sim2.run()
    assert ticks[3:] == [2.5, 3.5, 4.5] and late.ticks == 3
    with pytest.raises(ValueError, match="positive"):
        sim2.periodic("tick", 0.0, start=3.0)


def test_cancelling_a_periodic_tick_event_stops_the_source():
    sim = Simulation()
    ticks = []
    sim.on("tick", lambda s, ev: ticks.append(ev))
    src = sim.periodic("tick", 1.0)
    sim.run(max_events=2)
    assert src._next is not None
    assert sim.cancel(src._next) is True
    assert sim.run() == 0 and not src.active


# ---------------------------------------------------------------- metrics: gauges


def test_gauge_time_average_by_hand():
    m = Metrics()
    # busy vehicles: 0 on [0, 2), 3 on [2, 5), 1 on [5, 6), 4 on [6, 10]
    m.gauge("busy", 0, time=0.0)
    m.gauge("busy", 3, time=2.0)
    m.gauge("busy", 1, time=5.0)
    m.gauge("busy", 7, time=6.0)
    m.gauge("busy", 4, time=6.0)  # same time: the later value holds
    assert m.gauge_integral("busy", until=10.0) == 0 * 2 + 3 * 3 + 1 * 1 + 4 * 4
    assert m.gauge_mean("busy", until=10.0) == 26 / 10
    assert m.gauge_value("busy") == 4
    with pytest.raises(ValueError, match="before its last setting"):
        m.gauge("busy", 1, time=5.0)
    with pytest.raises(ValueError, match="no clock"):
        m.gauge("busy", 1)
    # windows: [3, 8] sees 3 on [3, 5), 1 on [5, 6), 4 on [6, 8]
    assert m.gauge_integral("busy", until=8.0, since=3.0) == 3 * 2 + 1 * 1 + 4 * 2
    assert m.gauge_mean("busy", until=8.0, since=3.0) == 15 / 5
    assert m.gauge_integral("busy", until=4.0, since=2.5) == 3 * 1.5  # inside one segment
    assert m.gauge_mean("busy", until=5.0, since=5.0) == 1
    with pytest.raises(ValueError, match="before gauge 'busy' was first set"):
        m.gauge_mean("busy", until=3.0, since=-1.0)
    with pytest.raises(ValueError, match="before the window's start"):
        m.gauge_integral("busy", until=3.0, since=4.0)
    with pytest.raises(KeyError, match="no gauge named 'idle'"):
        m.gauge_mean("idle", until=1.0)


def test_gauge_on_the_simulation_clock():
    sim = Simulation()
    sim.metrics.gauge("q", 2)
    sim.on("up", lambda s, ev: s.metrics.gauge("q", ev.payload))
    sim.schedule(1.0, "up", 5)
    sim.run(until=4.0)
    assert sim.metrics.gauge_mean("q") == (2 * 1 + 5 * 3) / 4


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(-5, 20)), min_size=1, max_size=25),
    st.integers(0, 30),
    st.data(),
)
def test_gauge_integral_matches_brute_force_on_random_step_functions(changes, extra, data):
    changes = sorted(changes, key=lambda c: c[0])  # stable: the later setting wins a tie
    m = Metrics()
    for t, v in changes:
        m.gauge("g", v, time=float(t))
    t0 = changes[0][0]
    end = changes[-1][0] + extra
    # brute force: value on each unit interval [s, s + 1) is the last setting at or before s
    total = 0
    for s in range(t0, end):
        total += [v for t, v in changes if t <= s][-1]
    assert m.gauge_integral("g", until=float(end)) == total
    if end > t0:
        assert m.gauge_mean("g", until=float(end)) == pytest.approx(total / (end - t0), rel=1e-15)
    else:
        assert m.gauge_mean("g", until=float(end)) == changes[-1][1]
    # a window [since, until] anywhere after the first setting
    since = data.draw(st.integers(t0, end))
    until = data.draw(st.integers(since, end))
    window = sum([v for t, v in changes if t <= s][-1] for s in range(since, until))
    assert m.gauge_integral("g", until=float(until), since=float(since)) == window
    if until > since:
        got = m.gauge_mean("g", until=float(until), since=float(since))
        assert got == pytest.approx(window / (until - since), rel=1e-15)
    else:
        assert (
            m.gauge_mean("g", until=float(until), since=float(since))
            == ([v for t, v in changes if t <= since][-1])
        )


@given(
    st.lists(
        st.tuples(
            st.floats(0, 100, allow_nan=False, allow_subnormal=False),
            st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_gauge_integral_matches_exact_rational_integral(changes):
    changes = sorted(changes, key=lambda c: c[0])
    m = Metrics()
    for t, v in changes:
        m.gauge("g", v, time=t)
    end = changes[-1][0] + 1.0
    # exact integral with Fractions; later settings at equal time overwrite
    last: dict[float, float] = {}
    for t, v in changes:
        last[t] = v
    ts = [*sorted(last), end]
    exact = sum(
        Fraction(last[ts[i]]) * (Fraction(ts[i + 1]) - Fraction(ts[i])) for i in range(len(ts) - 1)
    )
    scale = sum(abs(last[ts[i]]) * (ts[i + 1] - ts[i]) for i in range(len(ts) - 1))
    assert abs(m.gauge_integral("g", until=end) - float(exact)) <= 1e-12 * (scale + 1)


# ---------------------------------------------------------------- metrics: series


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False), min_size=1, max_size=60)
)
def test_summary_percentiles_equal_numpy_and_type7_by_hand(xs):
    m = Metrics()
    for x in xs:
        m.observe("w", x)
    s = m.summary("w")
    a = np.array(xs)
    assert s.count == len(xs)
    assert s.mean == a.mean() and s.max == max(xs)
    assert s.median == np.percentile(a, 50)  # the documented method, exactly
    # np.median averages the middle pair another way: equal up to rounding
    assert abs(s.median - np.median(a)) <= 4e-16 * max(1.0, float(np.abs(a).max()))
    assert s.p95 == np.percentile(a, 95) and s.p99 == np.percentile(a, 99)

    def type7(q):  # Hyndman-Fan type 7, written out
        v = sorted(xs)
        h = (len(v) - 1) * q
        lo = math.floor(h)
        hi = min(lo + 1, len(v) - 1)
        return v[lo] + (h - lo) * (v[hi] - v[lo])

    for got, q in [(s.median, 0.5), (s.p95, 0.95), (s.p99, 0.99)]:
        assert got == pytest.approx(type7(q), rel=1e-9, abs=1e-6)


def test_empty_series_counters_rows_and_csv():
    m = Metrics()
    empty = m.summary("nothing")
    assert empty.count == 0 and math.isnan(empty.mean)
    m.count("served")
    m.count("served", 2)
    m.count("rejected")
    assert m.counters == {"served": 3, "rejected": 1}
    for x in [4.0, 1.0, 2.0]:
        m.observe("wait", x)
    assert list(m.samples("wait")) == [4.0, 1.0, 2.0]
    m.gauge("busy", 1, time=0.0)
    m.gauge("busy", 3, time=1.0)
    rows = m.to_rows(until=2.0)
    table = {(r["metric"], r["statistic"]): r["value"] for r in rows}
    assert table[("served", "total")] == 3
    assert table[("wait", "median")] == 2.0
    assert table[("wait", "count")] == 3
    assert table[("busy", "time_mean")] == 2.0
    assert table[("busy", "max")] == 3.0
    assert len(rows) == 2 + len(SeriesSummary._fields) + 3
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["metric", "type", "statistic", "value"])
    writer.writeheader()
    writer.writerows(rows)
    assert buf.getvalue().splitlines()[1] == "served,counter,total,3"


def test_timer_records_wall_time():
    m = Metrics()
    with m.timer("decide") as t:
        time.sleep(0.01)
    with pytest.raises(ZeroDivisionError), Timer(m, "decide"):
        _ = 1 / 0
    s = m.samples("decide")
    assert len(s) == 2 and s[0] == t.elapsed and t.elapsed >= 0.01
    with Timer() as bare:
        pass
    assert bare.elapsed >= 0
    with pytest.raises(ValueError):
        Timer(m)


# ---------------------------------------------------------------- M/M/1


def test_mm1_mean_number_in_system_matches_theory():
    lam, mu = 0.5, 1.0
    rho = lam / mu
    horizon = 150_000.0
    rng = np.random.default_rng(12345)
    sim = Simulation()
    queue: list[float] = []

    def arrive(s, ev):
        queue.append(s.now)
        s.metrics.gauge("L", len(queue))
        if len(queue) == 1:
            s.schedule(s.now + rng.exponential(1 / mu), "depart")
        s.schedule(s.now + rng.exponential(1 / lam), "arrive")

    def depart(s, ev):
        s.metrics.observe("W", s.now - queue.pop(0))
        s.metrics.gauge("L", len(queue))
        if queue:
            s.schedule(s.now + rng.exponential(1 / mu), "depart")

    sim.on("arrive", arrive)
    sim.on("depart", depart)
    sim.metrics.gauge("L", 0)
    sim.schedule(0.0, "arrive")
    sim.run(until=horizon)
    # asymptotic variance of the time average: 2 rho (1 + rho) / (mu (1 - rho)^4) / T,
    # i.e. sd ~ 0.013 here; the bound is ~5 sd on both sides
    L = sim.metrics.gauge_mean("L")
    assert abs(L - rho / (1 - rho)) < 0.065
    W = sim.metrics.summary("W").mean
    assert abs(W - 1 / (mu - lam)) < 0.13
