"""LLM request traces: the Azure LLM inference trace (2023) and calibrated generators.

The generators are the embedded default data: :data:`PROFILES` holds numbers measured
from the public Azure LLM inference traces (Patel et al., "Splitwise", ISCA 2024), so
drawing requests needs no data file.

Token counts are log-normal, truncated at the largest value seen in the trace (draws
above it are redrawn), with the two parameters chosen so that the truncated
distribution has the trace's median and mean.

Arrivals are a renewal process whose inter-arrival times are hyper-exponential with two
phases (H2), fitted to the trace's mean inter-arrival time ``m`` and coefficient of
variation ``c`` (standard deviation over mean) by the *balanced-means* two-moment fit
(Whitt, "Approximating a point process by a renewal process", Oper. Res. 1982): a gap is
exponential with mean ``m / (2 p)`` with probability ``p`` and with mean
``m / (2 (1 - p))`` otherwise, where ``p = (1 + sqrt((c**2 - 1) / (c**2 + 1))) / 2``.
Then the mean is ``m`` and the squared coefficient of variation is exactly ``c**2``.
An H2 renewal process is the same point process as an interrupted Poisson process
(Kuczura, Bell Syst. Tech. J. 1973): Poisson arrivals during exponentially long "on"
periods separated by exponentially long silent "off" periods, which is the on-off
burstiness seen in the code trace (whole minutes without a request, then 400-600 in a
minute). With ``c = 1`` the fit is Poisson; ``c < 1`` is outside its range and is drawn
as a gamma renewal process with shape ``1 / c**2`` instead.

What the two-moment fit does and does not reproduce for the code trace (20 draws of
8,819 requests): the share of one-minute windows without a request is 0.20 (trace
0.21), but the per-minute counts vary less (CV 0.75, trace 1.03) and the trace's
near-simultaneous arrivals are missing (a quarter of its gaps are under 2 ms; the fit's
lower quartile is 56 ms), since gaps are independent and exponential within a phase.

Measured from the files (inter-arrival statistics over the ``n - 1`` gaps, rate = one
over the mean gap):

============  ========  ==========  ==============  ===========  ======================
trace         requests  span (s)    rate (req/s)    gap CV       H2 fit (p, means in s)
============  ========  ==========  ==============  ===========  ======================
conv          19,366    3,501.72    5.5301          1.0942       0.650, 0.139, 0.258
code          8,819     3,435.95    2.5664          13.151       0.99712, 0.195, 67.6
============  ========  ==========  ==============  ===========  ======================
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from matching._validate import MAX_REQUESTS, check_bool, check_int, check_real
from matching.families import as_generator

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_SLO_CLASSES",
    "PROFILES",
    "LLMRequests",
    "TraceDataError",
    "TraceProfile",
    "assign_classes",
    "bursty_arrivals",
    "h2_fit",
    "inject_burst",
    "interarrival_stats",
    "load_azure_trace",
    "scale_arrivals",
    "synthetic_requests",
]


class TraceDataError(ValueError):
    """A trace file that cannot be read: the message names the file, line and fault."""


@dataclass(frozen=True)
class TraceProfile:
    """Log-normal token-count model and bursty arrival model of one trace.

    ``rate_per_s`` is one over the mean inter-arrival time and ``interarrival_cv`` the
    inter-arrival coefficient of variation (1 for Poisson arrivals).
    """

    prompt_log_mean: float
    prompt_log_std: float
    prompt_max: int
    output_log_mean: float
    output_log_std: float
    output_max: int
    rate_per_s: float
    interarrival_cv: float = 1.0


#: Profiles fitted to ``azure2023_conv.csv`` (19,366 requests in 3,501.7 s, rate 5.5301
#: req/s, inter-arrival CV 1.0942; prompt median 1020, mean 1155; output median 129, mean
#: 211) and ``azure2023_code.csv`` (8,819 requests in 3,435.9 s, rate 2.5664 req/s,
#: inter-arrival CV 13.151; prompt median 1469, mean 2048; output median 13, mean 28).
PROFILES: dict[str, TraceProfile] = {
    "azure-conv": TraceProfile(6.9275, 0.4989, 14050, 5.0074, 1.3844, 1000, 5.5301, 1.0942),
    "azure-code": TraceProfile(7.4984, 1.2577, 7437, 2.5650, 1.2422, 1899, 2.5664, 13.151),
}

#: Default SLO classes: name -> (time-to-first-token target in s, weight), as in QLM's
#: evaluation (interactive 20 s, batch 60 s, batch 1 h); the weights are relative
#: frequencies.
DEFAULT_SLO_CLASSES: dict[str, tuple[float, float]] = {
    "interactive": (20.0, 0.5),
    "batch-1": (60.0, 0.3),
    "batch-2": (3600.0, 0.2),
}

#: Default models and their relative frequencies.
DEFAULT_MODELS: dict[str, float] = {"mistral-7b": 1.0, "vicuna-13b": 1.0, "llama-2-70b": 1.0}


@dataclass(frozen=True)
class LLMRequests:
    """A sequence of LLM requests: arrival time (s), prompt and output tokens.

    After :func:`assign_classes` each request also has a model name (``model``), an SLO
    class name (``slo_class``) and that class's time-to-first-token target in seconds
    (``slo_s``); before, these are ``None``.
    """

    arrival: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    model: np.ndarray | None = None
    slo_class: np.ndarray | None = None
    slo_s: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.arrival.size)

    @property
    def has_classes(self) -> bool:
        """Whether model and SLO class have been assigned."""
        return self.model is not None


# --------------------------------------------------------------------------- arrivals
def interarrival_stats(arrival: np.ndarray | Sequence[float]) -> tuple[float, float]:
    """Rate (one over the mean gap) and coefficient of variation of inter-arrival times.

    The CV is the population standard deviation of the ``n - 1`` gaps over their mean.

    Examples
    --------
    >>> from scheduling.traces import interarrival_stats
    >>> rate, cv = interarrival_stats([0.0, 1.0, 2.0, 6.0])  # gaps 1, 1, 4: mean 2, sd 1.41
    >>> round(rate, 3), round(cv, 4)
    (0.5, 0.7071)
    """
    gaps = np.diff(np.asarray(arrival, dtype=float))
    if gaps.size < 2:
        raise ValueError(
            f"need at least 3 arrivals for inter-arrival statistics, got {gaps.size + 1}"
        )
    if (gaps < 0).any():
        raise ValueError("arrival times must be non-decreasing")
    mean = float(gaps.mean())
    if not mean > 0:
        raise ValueError("all arrivals are simultaneous: the rate is undefined")
    return 1.0 / mean, float(gaps.std()) / mean


def h2_fit(mean: float, cv: float) -> tuple[float, float, float]:
    """Balanced-means two-phase hyper-exponential fit to a mean and a CV >= 1.

    Returns ``(p, mean_1, mean_2)``: a draw is exponential with mean ``mean_1`` with
    probability ``p``, else with mean ``mean_2``; ``p * mean_1 = (1 - p) * mean_2 =
    mean / 2``.

    Examples
    --------
    >>> from scheduling.traces import h2_fit
    >>> p, m1, m2 = h2_fit(2.0, 3.0)
    >>> round(p * m1 + (1 - p) * m2, 12)  # the mean
    2.0
    >>> second = 2 * (p * m1**2 + (1 - p) * m2**2)
    >>> round(second / 2.0**2 - 1, 9)  # the squared CV
    9.0
    >>> h2_fit(1.0, 1.0)
    (0.5, 1.0, 1.0)
    """
    mean = check_real(mean, "mean", positive=True)
    cv = check_real(cv, "cv", low=1.0)
    scv = cv * cv
    p = 0.5 * (1.0 + math.sqrt((scv - 1.0) / (scv + 1.0)))
    return p, mean / (2.0 * p), mean / (2.0 * (1.0 - p))


def bursty_arrivals(
    n: int, rate: float, cv: float, *, seed: int | np.random.Generator | None = 0
) -> np.ndarray:
    """Arrival times of a renewal process with a given rate and inter-arrival CV.

    The first request arrives after one gap. ``cv >= 1`` draws H2 gaps (:func:`h2_fit`;
    ``cv == 1`` is Poisson); ``0 < cv < 1`` draws gamma gaps with shape ``1 / cv**2``.

    Parameters
    ----------
    n : int
        Number of arrivals.
    rate : float
        Mean arrival rate (1 / mean gap), per second.
    cv : float
        Coefficient of variation of the gaps, positive.
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    numpy.ndarray
        ``n`` non-decreasing arrival times in seconds.

    Examples
    --------
    >>> from scheduling.traces import bursty_arrivals, interarrival_stats
    >>> t = bursty_arrivals(400_000, 2.0, 4.0, seed=3)
    >>> rate, cv = interarrival_stats(t)
    >>> bool(abs(rate / 2.0 - 1) < 0.03), bool(abs(cv / 4.0 - 1) < 0.05)
    (True, True)
    """
    n = check_int(n, "n", low=0, high=MAX_REQUESTS)
    rate = check_real(rate, "rate", positive=True)
    cv = check_real(cv, "cv", positive=True)
    rng = as_generator(seed)
    return np.cumsum(_gaps(rng, n, 1.0 / rate, cv))


def _gaps(rng: np.random.Generator, n: int, mean: float, cv: float) -> np.ndarray:
    if cv < 1.0:
        shape = 1.0 / (cv * cv)
        return rng.gamma(shape, mean / shape, size=n)
    # Unit exponentials first so that cv == 1 consumes the stream like plain Poisson.
    unit = rng.standard_exponential(size=n)
    if cv == 1.0:
        return unit * mean
    p, mean_1, mean_2 = h2_fit(mean, cv)
    return unit * np.where(rng.random(size=n) < p, mean_1, mean_2)


# --------------------------------------------------------------------------- requests
def _truncated_lognormal(
    rng: np.random.Generator, mean: float, std: float, cap: int, n: int
) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        draw = np.maximum(1, np.round(rng.lognormal(mean, std, size=todo.size))).astype(np.int64)
        ok = draw <= cap
        out[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return out


def _profile(profile: object) -> TraceProfile:
    if isinstance(profile, TraceProfile):
        return profile
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[profile]


def synthetic_requests(
    n: int,
    *,
    profile: str | TraceProfile = "azure-conv",
    seed: int | np.random.Generator | None = 0,
    arrivals: Literal["bursty", "poisson"] = "bursty",
    exact_rate: bool = True,
) -> LLMRequests:
    """Draw ``n`` requests with calibrated arrivals and log-normal token counts.

    Parameters
    ----------
    n : int
        Number of requests, ``0 .. 10**8`` (:data:`matching.MAX_REQUESTS`).
    profile : {"azure-conv", "azure-code"} or TraceProfile
        Which fitted trace to imitate (see :data:`PROFILES`).
    seed : int or numpy.random.Generator, default 0
    arrivals : {"bursty", "poisson"}, default "bursty"
        ``"bursty"`` draws H2 renewal arrivals with the profile's rate and inter-arrival
        CV (see the module docstring); ``"poisson"`` ignores the CV.
    exact_rate : bool, default True
        Rescale the gaps so that their sample mean is exactly ``1 / rate_per_s``: the
        realized load is then the profile's, not a random draw around it. With the code
        trace's CV of 13 the realized rate of 8,819 independent gaps has a relative
        standard deviation of ``13 / sqrt(8819) = 14%``, too noisy for a load axis. The
        scaling leaves the order and the sample CV unchanged; ``False`` gives the plain
        renewal process.

    Returns
    -------
    LLMRequests

    Examples
    --------
    >>> from scheduling.traces import synthetic_requests
    >>> reqs = synthetic_requests(20_000, seed=1)
    >>> bool(1000 < reqs.prompt_tokens.mean() < 1300), bool(190 < reqs.output_tokens.mean() < 230)
    (True, True)
    >>> int(reqs.output_tokens.max()) <= 1000
    True
    >>> code = synthetic_requests(5, profile="azure-code", seed=0)
    >>> bool((np.diff(code.arrival) >= 0).all()), len(code)
    (True, 5)
    """
    n = check_int(n, "n", low=0, high=MAX_REQUESTS)
    p = _profile(profile)
    if arrivals not in ("bursty", "poisson"):
        raise ValueError(f"arrivals must be 'bursty' or 'poisson', got {arrivals!r}")
    exact_rate = check_bool(exact_rate, "exact_rate")
    rng = as_generator(seed)
    cv = p.interarrival_cv if arrivals == "bursty" else 1.0
    # Tokens come from the stream right after the unit exponentials, as with Poisson
    # arrivals; the H2 phase choices are drawn last.
    unit = rng.standard_exponential(size=n)
    prompt = _truncated_lognormal(rng, p.prompt_log_mean, p.prompt_log_std, p.prompt_max, n)
    output = _truncated_lognormal(rng, p.output_log_mean, p.output_log_std, p.output_max, n)
    mean = 1.0 / p.rate_per_s
    if cv == 1.0:
        gaps = unit * mean
    elif cv > 1.0:
        prob, mean_1, mean_2 = h2_fit(mean, cv)
        gaps = unit * np.where(rng.random(size=n) < prob, mean_1, mean_2)
    else:
        gaps = _gaps(rng, n, mean, cv)
    if exact_rate and n and gaps.sum() > 0:
        gaps = gaps * (n * mean / gaps.sum())
    return LLMRequests(arrival=np.cumsum(gaps), prompt_tokens=prompt, output_tokens=output)


# --------------------------------------------------------------------------- transforms
def scale_arrivals(requests: LLMRequests, factor: float) -> LLMRequests:
    """Multiply the arrival rate by ``factor``: arrival times are divided by it.

    Times are measured from the first arrival, which stays where it is; the order of
    the requests and everything else about them is unchanged. ``factor > 1`` compresses
    the trace (more load), ``factor < 1`` stretches it.

    Examples
    --------
    >>> import numpy as np
    >>> from scheduling.traces import LLMRequests, scale_arrivals
    >>> reqs = LLMRequests(np.array([1.0, 3.0, 7.0]), np.array([5, 6, 7]), np.array([1, 2, 3]))
    >>> scale_arrivals(reqs, 2.0).arrival.tolist()
    [1.0, 2.0, 4.0]
    """
    factor = check_real(factor, "factor", positive=True)
    arrival = np.asarray(requests.arrival, dtype=float)
    if arrival.size == 0:
        return replace(requests, arrival=arrival.copy())
    start = arrival[0]
    return replace(requests, arrival=start + (arrival - start) / factor)


def inject_burst(
    requests: LLMRequests,
    n: int,
    *,
    at: float,
    window: float,
    profile: str | TraceProfile = "azure-conv",
    seed: int | np.random.Generator | None = 0,
) -> LLMRequests:
    """Add ``n`` requests arriving uniformly at random in ``[at, at + window)``.

    The extra requests draw their token counts from ``profile``; the result is sorted by
    arrival time (stable: at equal times the original requests come first). Assign
    models and SLO classes afterwards: requests that already carry them are refused.

    Parameters
    ----------
    requests : LLMRequests
    n : int
        Number of extra requests.
    at : float
        Start of the burst window (s), on the requests' clock.
    window : float
        Length of the window (s), positive.
    profile : {"azure-conv", "azure-code"} or TraceProfile
    seed : int or numpy.random.Generator, default 0

    Examples
    --------
    >>> from scheduling.traces import inject_burst, synthetic_requests
    >>> base = synthetic_requests(100, seed=0)
    >>> both = inject_burst(base, 50, at=5.0, window=2.0, seed=1)
    >>> len(both), int(((both.arrival >= 5.0) & (both.arrival < 7.0)).sum()) >= 50
    (150, True)
    """
    if requests.has_classes:
        raise ValueError(
            "requests already carry model and SLO classes; inject bursts before assign_classes"
        )
    n = check_int(n, "n", low=0, high=MAX_REQUESTS)
    at = check_real(at, "at")
    window = check_real(window, "window", positive=True)
    rng = as_generator(seed)
    extra = synthetic_requests(n, profile=profile, seed=rng, arrivals="poisson", exact_rate=False)
    times = at + window * rng.random(size=n)
    # rounding can land at + window * u on at + window; keep the window half-open
    times = np.minimum(times, np.nextafter(at + window, -np.inf))
    times = np.maximum(times, at)
    arrival = np.concatenate([np.asarray(requests.arrival, dtype=float), times])
    order = np.argsort(arrival, kind="stable")
    return LLMRequests(
        arrival=arrival[order],
        prompt_tokens=np.concatenate([requests.prompt_tokens, extra.prompt_tokens])[order],
        output_tokens=np.concatenate([requests.output_tokens, extra.output_tokens])[order],
    )


# --------------------------------------------------------------------------- classes
def _weights(spec: object, what: str) -> tuple[list[str], np.ndarray]:
    if isinstance(spec, Mapping):
        names, raw = list(spec.keys()), list(spec.values())
    elif isinstance(spec, Sequence) and not isinstance(spec, str):
        names, raw = list(spec), [1.0] * len(spec)
    else:
        raise TypeError(f"{what} must be a mapping of name to weight or a list of names")
    if not names:
        raise ValueError(f"{what} is empty")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: names must be non-empty strings, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: duplicate names in {names}")
    weights = np.array(
        [
            check_real(w, f"{what} weight of {name!r}", low=0.0)
            for name, w in zip(names, raw, strict=True)
        ]
    )
    if not weights.sum() > 0:
        raise ValueError(f"{what}: weights must sum to a positive value, got {weights.tolist()}")
    return names, weights / weights.sum()


def assign_classes(
    requests: LLMRequests,
    *,
    models: Mapping[str, float] | Sequence[str] = DEFAULT_MODELS,
    slo_classes: Mapping[str, tuple[float, float]] = DEFAULT_SLO_CLASSES,
    seed: int | np.random.Generator | None = 0,
) -> LLMRequests:
    """Give each request a model and an SLO class, independently at random.

    Parameters
    ----------
    requests : LLMRequests
    models : mapping of name to weight, or a list of names (equal weights)
        Weights are relative frequencies: non-negative, summing to a positive value.
    slo_classes : mapping of name to (TTFT target in s, weight)
        Targets are positive; weights as for ``models``. Default
        :data:`DEFAULT_SLO_CLASSES`.
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    LLMRequests
        A copy with ``model`` and ``slo_class`` (string arrays) and ``slo_s`` (float
        array of TTFT targets) set.

    Examples
    --------
    >>> from scheduling.traces import assign_classes, synthetic_requests
    >>> reqs = assign_classes(synthetic_requests(4, seed=0), models={"a": 1, "b": 0},
    ...                       slo_classes={"fast": (20.0, 1.0)}, seed=0)
    >>> reqs.model.tolist(), reqs.slo_class.tolist(), reqs.slo_s.tolist()
    (['a', 'a', 'a', 'a'], ['fast', 'fast', 'fast', 'fast'], [20.0, 20.0, 20.0, 20.0])
    """
    model_names, model_p = _weights(models, "models")
    if not isinstance(slo_classes, Mapping):
        raise TypeError("slo_classes must be a mapping of name to (TTFT target in s, weight)")
    targets: dict[str, float] = {}
    slo_weights: dict[str, float] = {}
    for name, entry in slo_classes.items():
        if not (isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2):
            raise ValueError(
                f"slo_classes[{name!r}] must be (TTFT target in s, weight), got {entry!r}"
            )
        targets[name] = check_real(entry[0], f"SLO target of {name!r}", positive=True)
        slo_weights[name] = entry[1]
    slo_names, slo_p = _weights(slo_weights, "slo_classes")
    rng = as_generator(seed)
    n = len(requests)
    model_idx = rng.choice(len(model_names), size=n, p=model_p)
    slo_idx = rng.choice(len(slo_names), size=n, p=slo_p)
    return replace(
        requests,
        model=np.array(model_names)[model_idx] if n else np.array([], dtype=str),
        slo_class=np.array(slo_names)[slo_idx] if n else np.array([], dtype=str),
        slo_s=np.array([targets[s] for s in slo_names], dtype=float)[slo_idx],
    )


# --------------------------------------------------------------------------- loader
COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def load_azure_trace(path: str | os.PathLike[str]) -> LLMRequests:
    r"""Read an Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens).

    Arrival times are seconds since the first request. Timestamps look like
    ``2023-11-16 18:17:03.9799600`` (any ISO date-time, up to 9 fractional digits), and
    they must not go backwards: the file's order is the arrival order, so a row earlier
    than the one before it is an error (equal timestamps are allowed). Blank lines are
    skipped; extra columns are an error.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TraceDataError
        (a ``ValueError``) If the file is not UTF-8 text, a column is missing, a field
        is empty, a timestamp does not parse or goes backwards, or a token count is not
        a non-negative integer; the message names the path and the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from scheduling.traces import load_azure_trace
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
    ...                     "2023-11-16 18:15:46.5,374,44\n2023-11-16 18:15:48.0,396,109\n")
    >>> load_azure_trace(path).arrival.tolist()
    [0.0, 1.5]
    >>> _ = path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
    ...                     "2023-11-16 18:15:46.5,374,4.5\n")
    >>> load_azure_trace(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    scheduling.traces.TraceDataError: ...t.csv, line 2: GeneratedTokens = '4.5' is not an integer
    """
    path = Path(path)
    try:
        return _read_trace(path)
    except UnicodeDecodeError as exc:
        raise TraceDataError(
            f"{path}: not UTF-8 text ({exc.reason}); expected a CSV trace"
        ) from None


def _parse_stamp(text: str) -> tuple[datetime, float]:
    """Whole seconds as a naive datetime plus the fraction (up to 9 digits)."""
    head, dot, frac = text.partition(".")
    if dot and not (frac.isdigit() and frac.isascii() and len(frac) <= 9):
        raise ValueError(f"bad fractional seconds {frac!r}")
    moment = datetime.fromisoformat(head)
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None) - moment.utcoffset()  # type: ignore[operator]
    return moment, float(f"0.{frac}") if dot else 0.0


def _read_trace(path: Path) -> LLMRequests:
    seconds: list[float] = []
    prompt: list[int] = []
    output: list[int] = []
    first: datetime | None = None
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        if fields is None or not set(COLUMNS) <= {f.strip() for f in fields}:
            missing = sorted(set(COLUMNS) - {f.strip() for f in fields or []})
            raise TraceDataError(
                f"{path}, line 1: expected columns {sorted(COLUMNS)}, got {fields} "
                f"(missing {missing})"
            )
        reader.fieldnames = [f.strip() for f in fields]
        previous = -math.inf
        for row in reader:
            line = reader.line_num
            where = f"{path}, line {line}"
            if None in row:
                raise TraceDataError(
                    f"{where}: {len(fields) + len(row[None])} fields, the header has {len(fields)}"
                )
            values = {}
            for key in COLUMNS:
                value = row[key]
                if value is None or not value.strip():
                    raise TraceDataError(f"{where}: missing value for {key}")
                values[key] = value.strip()
            try:
                moment, frac = _parse_stamp(values["TIMESTAMP"])
            except ValueError as exc:
                raise TraceDataError(
                    f"{where}: TIMESTAMP {values['TIMESTAMP']!r} does not parse ({exc})"
                ) from None
            if first is None:
                first = moment
            stamp = (moment - first).total_seconds() + frac
            if stamp < previous:
                raise TraceDataError(
                    f"{where}: TIMESTAMP {values['TIMESTAMP']} goes backwards "
                    f"({previous - stamp:.6g} s before the previous row)"
                )
            previous = stamp
            tokens = {}
            for key in COLUMNS[1:]:
                text = values[key]
                if not (text.lstrip("+-").isdigit() and text.isascii()):
                    raise TraceDataError(f"{where}: {key} = {text!r} is not an integer")
                count = int(text)
                if count < 0:
                    raise TraceDataError(f"{where}: {key} = {count} is negative")
                tokens[key] = count
            seconds.append(stamp)
            prompt.append(tokens["ContextTokens"])
            output.append(tokens["GeneratedTokens"])
    arrival = np.asarray(seconds, dtype=float)
    if arrival.size:
        arrival = arrival - arrival[0]
    return LLMRequests(
        arrival=arrival,
        prompt_tokens=np.asarray(prompt, dtype=np.int64),
        output_tokens=np.asarray(output, dtype=np.int64),
    )
