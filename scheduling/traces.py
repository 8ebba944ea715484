"""LLM request traces: the Azure LLM inference trace (2023) and calibrated generators.

The generators are the embedded default data. Token counts are log-normal, truncated at
the largest value seen in the public Azure LLM inference traces (Patel et al.,
"Splitwise", ISCA 2024; draws above it are redrawn), with the two parameters chosen so
that the truncated distribution has the trace's median and mean. Arrivals are Poisson at
the trace's mean rate.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from matching._validate import MAX_REQUESTS, check_int
from matching.families import as_generator

__all__ = ["PROFILES", "LLMRequests", "TraceProfile", "load_azure_trace", "synthetic_requests"]


@dataclass(frozen=True)
class TraceProfile:
    """Log-normal token-count model of one trace."""

    prompt_log_mean: float
    prompt_log_std: float
    prompt_max: int
    output_log_mean: float
    output_log_std: float
    output_max: int
    rate_per_s: float


#: Profiles fitted to ``azure2023_conv.csv`` (19,366 requests in ~1 h; prompt median
#: 1020, mean 1155; output median 129, mean 211) and ``azure2023_code.csv`` (8,819
#: requests in ~57 min; prompt median 1469, mean 2048; output median 13, mean 28).
PROFILES: dict[str, TraceProfile] = {
    "azure-conv": TraceProfile(6.9275, 0.4989, 14050, 5.0074, 1.3844, 1000, 5.38),
    "azure-code": TraceProfile(7.4984, 1.2577, 7437, 2.5650, 1.2422, 1899, 2.58),
}


@dataclass(frozen=True)
class LLMRequests:
    """A sequence of LLM requests: arrival time (s), prompt and output tokens."""

    arrival: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray

    def __len__(self) -> int:
        return int(self.arrival.size)


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


def synthetic_requests(
    n: int, *, profile: str = "azure-conv", seed: int | np.random.Generator | None = 0
) -> LLMRequests:
    """Draw ``n`` requests with Poisson arrivals and log-normal token counts.

    Parameters
    ----------
    n : int
        Number of requests, ``0 .. 10**8`` (:data:`matching.MAX_REQUESTS`).
    profile : {"azure-conv", "azure-code"}
        Which fitted trace to imitate (see :data:`PROFILES`).
    seed : int or numpy.random.Generator, default 0

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
    """
    n = check_int(n, "n", low=0, high=MAX_REQUESTS)
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    p = PROFILES[profile]
    rng = as_generator(seed)
    arrival = np.cumsum(rng.exponential(1.0 / p.rate_per_s, size=n))
    prompt = _truncated_lognormal(rng, p.prompt_log_mean, p.prompt_log_std, p.prompt_max, n)
    output = _truncated_lognormal(rng, p.output_log_mean, p.output_log_std, p.output_max, n)
    return LLMRequests(arrival=arrival, prompt_tokens=prompt, output_tokens=output)


def load_azure_trace(path: str | os.PathLike[str]) -> LLMRequests:
    """Read an Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens).

    Arrival times are seconds since the first request.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not UTF-8 text, a column is missing, a row does not parse or a
        token count is negative; the message names the path and the line.
    """
    path = Path(path)
    try:
        return _read_trace(path)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason}); expected a CSV trace") from None


def _read_trace(path: Path) -> LLMRequests:
    stamps: list[float] = []
    prompt: list[int] = []
    output: list[int] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        need = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected columns {sorted(need)}, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            try:
                stamp = row["TIMESTAMP"].strip()
                # Timestamps carry 7 fractional digits; datetime takes at most 6.
                head, _, frac = stamp.partition(".")
                moment = datetime.fromisoformat(head).timestamp() + float(f"0.{frac or 0}")
                tokens = {key: int(row[key]) for key in ("ContextTokens", "GeneratedTokens")}
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: {exc}") from None
            for key, count in tokens.items():
                if count < 0:
                    raise ValueError(f"{path}, line {line}: {key} = {count} is negative")
            stamps.append(moment)
            prompt.append(tokens["ContextTokens"])
            output.append(tokens["GeneratedTokens"])
    arrival = np.asarray(stamps)
    if arrival.size:
        arrival = arrival - arrival.min()
    return LLMRequests(
        arrival=arrival,
        prompt_tokens=np.asarray(prompt, dtype=np.int64),
        output_tokens=np.asarray(output, dtype=np.int64),
    )
