"""Azure trace loader, calibrated bursty generator, arrival transforms, class assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scheduling.queue import SLO_CLASSES
from scheduling.roads import default_data_dir
from scheduling.traces import (
    DEFAULT_SLO_CLASSES,
    PROFILES,
    LLMRequests,
    TraceDataError,
    assign_classes,
    bursty_arrivals,
    h2_fit,
    inject_burst,
    interarrival_stats,
    load_azure_trace,
    scale_arrivals,
    synthetic_requests,
)

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD = "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.0000000,396,109\n"


def _trace_file(name: str):
    path = default_data_dir() / "llm-traces" / f"azure2023_{name}.csv"
    if not path.exists():
        pytest.skip(f"real Azure trace not found at {path} (../shared/data is absent)")
    return path


def _numpy_arrivals(path) -> np.ndarray:
    """Seconds since the first row, parsed with numpy's datetime64 (not the loader)."""
    rows = np.loadtxt(path, delimiter=",", skiprows=1, dtype=str)
    stamps = rows[:, 0].astype("datetime64[ns]")
    return (stamps - stamps[0]) / np.timedelta64(1, "s")


# --------------------------------------------------------------------------- loader
def test_loader_reads_fractions_and_equal_stamps(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        HEADER + GOOD + "\n2023-11-16 18:16:47.0000000,12,1\n2023-11-16 18:16:47.0000000,0,0\n"
    )
    trace = load_azure_trace(path)
    # 47.0 - 46.68059 = 0.31941; 60 s later plus the same 0.31941
    np.testing.assert_allclose(trace.arrival, [0, 0.31941, 60.31941, 60.31941], atol=1e-9)
    assert trace.prompt_tokens.tolist() == [374, 396, 12, 0]
    assert trace.output_tokens.tolist() == [44, 109, 1, 0]
    assert not trace.has_classes


# Two good rows (lines 2-3), a blank line 4, the bad row on line 5.
BAD_ROWS = [
    ("2023-11-16 18:15:48.0,374\n", r"line 5: missing value for GeneratedTokens"),
    ("2023-11-16 18:15:48.0,,5\n", r"line 5: missing value for ContextTokens"),
    ("2023-11-16 18:15:48.0,1,2,3\n", r"line 5: 4 fields, the header has 3"),
    ("16/11/2023 18:15,1,2\n", r"line 5: TIMESTAMP '16/11/2023 18:15' does not parse"),
    ("2023-11-16 18:15:48.5e3,1,2\n", r"line 5: TIMESTAMP .* does not parse"),
    ("2023-11-16 25:15:48.0,1,2\n", r"line 5: TIMESTAMP .* does not parse"),
    ("2023-11-16 18:15:48.0,-3,2\n", r"line 5: ContextTokens = -3 is negative"),
    ("2023-11-16 18:15:48.0,3,-2\n", r"line 5: GeneratedTokens = -2 is negative"),
    ("2023-11-16 18:15:48.0,3.5,2\n", r"line 5: ContextTokens = '3\.5' is not an integer"),
    ("2023-11-16 18:15:48.0,3,x\n", r"line 5: GeneratedTokens = 'x' is not an integer"),
    ("2023-11-16 18:15:48.0,3,1e3\n", r"line 5: GeneratedTokens = '1e3' is not an integer"),
    (
        "2023-11-16 18:15:46.0000000,3,2\n",
        r"line 5: TIMESTAMP 2023-11-16 18:15:46.0000000 goes backwards \(1 s before",
    ),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_loader_names_file_and_line_of_each_bad_row(tmp_path, row, message):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + GOOD + "\n" + row + "2023-11-16 18:15:49.0,1,1\n")
    with pytest.raises(TraceDataError, match=r"bad\.csv, " + message):
        load_azure_trace(path)


def test_loader_errors_are_value_errors_and_name_missing_columns(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("TIMESTAMP,ContextTokens\n2023-11-16 18:15:48.0,3\n")
    with pytest.raises(ValueError, match=r"cols\.csv, line 1: .*missing \['GeneratedTokens'\]"):
        load_azure_trace(path)
    path.write_text("")
    with pytest.raises(TraceDataError, match=r"line 1: expected columns"):
        load_azure_trace(path)
    with pytest.raises(FileNotFoundError):
        load_azure_trace(tmp_path / "absent.csv")


# --------------------------------------------------------------------------- generator
def test_h2_fit_moments_by_numerical_integration():
    from scipy import integrate

    for mean, cv in [(0.39, 13.151), (0.18, 1.0942), (2.0, 1.0)]:
        p, m1, m2 = h2_fit(mean, cv)

        def pdf(x, p=p, m1=m1, m2=m2):
            return p * np.exp(-x / m1) / m1 + (1 - p) * np.exp(-x / m2) / m2

        first = sum(integrate.quad(lambda x: x * pdf(x), a, b)[0] for a, b in _pieces(m2))
        second = sum(integrate.quad(lambda x: x * x * pdf(x), a, b)[0] for a, b in _pieces(m2))
        assert first == pytest.approx(mean, rel=1e-7)
        assert np.sqrt(second - first**2) / first == pytest.approx(cv, rel=1e-6)
        assert p * m1 == pytest.approx((1 - p) * m2)  # balanced means


def _pieces(scale):
    """Integration intervals: decades up to 60 scales, then the tail."""
    edges = [e for e in (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0) if e < 60 * scale]
    return list(itertools.pairwise([*edges, 60 * scale, np.inf]))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_generator_rate_and_cv_match_the_profile(name):
    p = PROFILES[name]
    t = bursty_arrivals(2_000_000, p.rate_per_s, p.interarrival_cv, seed=5)
    rate, cv = interarrival_stats(t)
    # mean gap: relative sd cv / sqrt(n) <= 0.93%; sample CV: about 1.6% for CV 13
    assert rate == pytest.approx(p.rate_per_s, rel=0.04)
    assert cv == pytest.approx(p.interarrival_cv, rel=0.08)
    reqs = synthetic_requests(300_000, profile=name, seed=6, exact_rate=False)
    rate, cv = interarrival_stats(reqs.arrival)
    assert rate == pytest.approx(p.rate_per_s, rel=0.1)
    assert cv == pytest.approx(p.interarrival_cv, rel=0.15)


def test_poisson_arrivals_have_cv_one_and_bursty_ones_do_not():
    poisson = synthetic_requests(200_000, profile="azure-code", seed=2, arrivals="poisson")
    bursty = synthetic_requests(200_000, profile="azure-code", seed=2)
    assert interarrival_stats(poisson.arrival)[1] == pytest.approx(1.0, abs=0.02)
    assert interarrival_stats(bursty.arrival)[1] > 8
    # same token stream either way
    np.testing.assert_array_equal(poisson.prompt_tokens, bursty.prompt_tokens)


def test_exact_rate_gives_the_profile_rate_exactly():
    p = PROFILES["azure-code"]
    reqs = synthetic_requests(8819, profile="azure-code", seed=0)
    assert reqs.arrival[-1] == pytest.approx(8819 / p.rate_per_s, rel=1e-12)
    raw = synthetic_requests(8819, profile="azure-code", seed=0, exact_rate=False)
    # the scaling keeps the order of the gaps and their CV
    np.testing.assert_allclose(
        np.diff(reqs.arrival, prepend=0) / np.diff(raw.arrival, prepend=0),
        reqs.arrival[-1] / raw.arrival[-1],
        rtol=1e-6,
    )


def test_gamma_arrivals_below_cv_one():
    rate, cv = interarrival_stats(bursty_arrivals(400_000, 3.0, 0.5, seed=1))
    assert rate == pytest.approx(3.0, rel=0.01) and cv == pytest.approx(0.5, rel=0.02)


def test_seeded_generator_is_reproducible():
    a = synthetic_requests(1000, profile="azure-code", seed=42)
    b = synthetic_requests(1000, profile="azure-code", seed=np.random.default_rng(42))
    c = synthetic_requests(1000, profile="azure-code", seed=43)
    for field in ("arrival", "prompt_tokens", "output_tokens"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.arrival, c.arrival)


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="arrivals must be 'bursty' or 'poisson'"):
        synthetic_requests(3, arrivals="mmpp")
    with pytest.raises(ValueError, match="unknown profile 'azure'"):
        synthetic_requests(3, profile="azure")
    with pytest.raises(ValueError, match="cv must be a positive number"):
        bursty_arrivals(3, 1.0, 0.0)
    with pytest.raises(ValueError, match="cv must be at least 1"):
        h2_fit(1.0, 0.5)


# --------------------------------------------------------------------------- real data
@pytest.mark.parametrize(("name", "n"), [("conv", 19_366), ("code", 8_819)])
def test_profiles_are_the_real_traces_statistics(name, n):
    arrival = _numpy_arrivals(_trace_file(name))
    assert arrival.size == n
    gaps = np.diff(arrival)
    p = PROFILES[f"azure-{name}"]
    assert 1 / gaps.mean() == pytest.approx(p.rate_per_s, rel=2e-4)
    assert gaps.std() / gaps.mean() == pytest.approx(p.interarrival_cv, rel=2e-4)
    trace = load_azure_trace(_trace_file(name))
    rate, cv = interarrival_stats(trace.arrival)
    assert rate == pytest.approx(p.rate_per_s, rel=2e-4)
    assert cv == pytest.approx(p.interarrival_cv, rel=2e-4)


@pytest.mark.parametrize("name", ["conv", "code"])
def test_generator_reproduces_the_real_trace_burstiness(name):
    arrival = _numpy_arrivals(_trace_file(name))
    real_rate, real_cv = interarrival_stats(arrival)
    fake = synthetic_requests(arrival.size, profile=f"azure-{name}", seed=0)
    fake_rate, _ = interarrival_stats(fake.arrival)
    assert fake_rate == pytest.approx(real_rate, rel=1e-3)
    # the sample CV of one trace-sized draw is noisy for CV 13; average over seeds
    cvs = [
        interarrival_stats(
            synthetic_requests(arrival.size, profile=f"azure-{name}", seed=s).arrival
        )[1]
        for s in range(20)
    ]
    assert np.mean(cvs) == pytest.approx(real_cv, rel=0.15)


# --------------------------------------------------------------------------- transforms
def test_scaling_keeps_order_and_multiplies_the_rate():
    reqs = synthetic_requests(5000, profile="azure-code", seed=3)
    for factor in (0.5, 2.0, 3.7):
        fast = scale_arrivals(reqs, factor)
        assert fast.arrival[0] == reqs.arrival[0]
        np.testing.assert_array_equal(np.argsort(fast.arrival, kind="stable"), np.arange(5000))
        np.testing.assert_allclose(np.diff(fast.arrival), np.diff(reqs.arrival) / factor)
        r0, cv0 = interarrival_stats(reqs.arrival)
        r1, cv1 = interarrival_stats(fast.arrival)
        assert r1 == pytest.approx(factor * r0, rel=1e-9)
        assert cv1 == pytest.approx(cv0, rel=1e-9)
        np.testing.assert_array_equal(fast.prompt_tokens, reqs.prompt_tokens)
    with pytest.raises(ValueError, match="factor must be a positive number"):
        scale_arrivals(reqs, 0)


def test_burst_adds_exactly_n_requests_inside_the_window():
    base = synthetic_requests(2000, seed=4)
    at, window, n = 100.0, 5.0, 700
    inside = (base.arrival >= at) & (base.arrival < at + window)
    out = inject_burst(base, n, at=at, window=window, seed=9)
    assert len(out) == len(base) + n
    assert (np.diff(out.arrival) >= 0).all()
    now_inside = (out.arrival >= at) & (out.arrival < at + window)
    assert now_inside.sum() == inside.sum() + n
    # the original requests are all still there, in order, with their tokens
    keep = np.isin(out.arrival, base.arrival)
    np.testing.assert_array_equal(out.arrival[keep], base.arrival)
    np.testing.assert_array_equal(out.prompt_tokens[keep], base.prompt_tokens)
    # extra arrivals are spread over the window, not piled at one end
    extra = out.arrival[~keep]
    assert extra.min() < at + 0.5 and extra.max() > at + window - 0.5
    np.testing.assert_array_equal(
        inject_burst(base, n, at=at, window=window, seed=9).arrival, out.arrival
    )
    with pytest.raises(ValueError, match="window must be a positive number"):
        inject_burst(base, 3, at=0.0, window=0.0)
    with pytest.raises(ValueError, match="inject bursts before assign_classes"):
        inject_burst(assign_classes(base), 3, at=0.0, window=1.0)


# --------------------------------------------------------------------------- classes
def test_default_slo_targets_are_qlm_classes():
    assert {k: v[0] for k, v in DEFAULT_SLO_CLASSES.items()} == {
        name: target for name, target, _ in SLO_CLASSES
    }


def test_assignment_frequencies_match_weights():
    n = 200_000
    reqs = synthetic_requests(n, seed=0)
    models = {"mistral-7b": 5.0, "vicuna-13b": 3.0, "llama-2-70b": 2.0, "unused": 0.0}
    slo = {"interactive": (20.0, 1.0), "batch-1": (60.0, 1.0), "batch-2": (3600.0, 2.0)}
    out = assign_classes(reqs, models=models, slo_classes=slo, seed=7)
    for names, spec in ((out.model, models), (out.slo_class, {k: v[1] for k, v in slo.items()})):
        total = sum(spec.values())
        for name, weight in spec.items():
            p = weight / total
            count = int((names == name).sum())
            # binomial: 4.5 standard deviations
            assert abs(count - n * p) <= 4.5 * np.sqrt(n * p * (1 - p)) + 1e-9, (name, count)
    for name, (target, _) in slo.items():
        assert (out.slo_s[out.slo_class == name] == target).all()
    np.testing.assert_array_equal(out.arrival, reqs.arrival)
    # model and SLO class are drawn independently
    both = ((out.model == "mistral-7b") & (out.slo_class == "batch-2")).sum()
    assert abs(both - n * 0.5 * 0.5) <= 4.5 * np.sqrt(n * 0.25 * 0.75)


def test_assignment_is_reproducible_and_scales_with_requests():
    reqs = synthetic_requests(500, seed=0)
    a, b = assign_classes(reqs, seed=3), assign_classes(reqs, seed=3)
    c = assign_classes(reqs, seed=4)
    np.testing.assert_array_equal(a.model, b.model)
    np.testing.assert_array_equal(a.slo_s, b.slo_s)
    assert not np.array_equal(a.model, c.model)
    assert a.has_classes and set(a.model) <= {"mistral-7b", "vicuna-13b", "llama-2-70b"}
    moved = scale_arrivals(a, 2.0)
    np.testing.assert_array_equal(moved.slo_class, a.slo_class)
    assert len(assign_classes(synthetic_requests(0), models=["m"]).model) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"models": {"a": -1.0, "b": 2.0}},
            ValueError,
            r"models weight of 'a' must be at least 0",
        ),
        ({"models": {"a": 0.0}}, ValueError, r"models: weights must sum to a positive value"),
        ({"models": {"a": float("nan")}}, ValueError, r"models weight of 'a' must be finite"),
        ({"models": {"a": "heavy"}}, TypeError, r"models weight of 'a' must be a number"),
        ({"models": []}, ValueError, r"models is empty"),
        ({"models": ["a", "a"]}, ValueError, r"models: duplicate names"),
        ({"models": "mistral"}, TypeError, r"models must be a mapping"),
        ({"slo_classes": {"x": (-5.0, 1.0)}}, ValueError, r"SLO target of 'x' must be a positive"),
        ({"slo_classes": {"x": (5.0, 0.0)}}, ValueError, r"slo_classes: weights must sum"),
        ({"slo_classes": {"x": 5.0}}, ValueError, r"slo_classes\['x'\] must be \(TTFT target"),
        ({"slo_classes": [("x", 5.0)]}, TypeError, r"slo_classes must be a mapping"),
    ],
)
def test_assignment_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        assign_classes(synthetic_requests(10), **kwargs)


def test_llm_requests_positional_construction_still_works():
    reqs = LLMRequests(np.arange(3.0), np.ones(3, int), np.ones(3, int))
    assert len(reqs) == 3 and reqs.model is None
