"""Request waiting time (RWT) estimation for LLM serving queues (QLM).

A request's wait in a virtual queue is the time the instance needs to produce the tokens
of the requests ahead of it. Their output lengths are unknown until they finish, so the
estimator learns the output-length distribution *online, from completed requests only*
(:class:`OutputLengthStats`, Welford's running mean and variance) and bounds the total
of ``n`` unknown lengths by the central limit theorem::

    tokens_ahead(n) <= n * mu + z * sigma * sqrt(n)      (probability ~ Phi(z))

(asymptotically in ``n``; with heavy-tailed lengths and a learned ``mu``, ``sigma`` the
coverage runs a few points below ``Phi(z)``: ``tests/test_rwt.py`` measures 0.90-0.93
at ``z = 1.645`` on log-normal lengths like the Azure conversation trace's).

The waiting-time estimate divides that bound (plus any tokens known exactly, e.g. the
remaining tokens of requests already running) by the instance's token throughput.
:func:`decode_throughput` derives the throughput from an engine cost model
(:class:`scheduling.engine.Instance`) at a batch size and context length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy.stats import norm

from scheduling.engine import Instance

__all__ = [
    "OutputLengthStats",
    "RWTEstimator",
    "decode_throughput",
    "full_batch",
    "request_cost",
]


@dataclass
class OutputLengthStats:
    """Running mean and variance of completed requests' output lengths.

    Before ``min_count`` completions the prior (``prior_mean``, ``prior_std``) is used,
    so a cold queue still gets an estimate; afterwards only observed lengths count.

    Examples
    --------
    >>> s = OutputLengthStats(prior_mean=100.0, prior_std=50.0, min_count=2)
    >>> s.mean, s.count
    (100.0, 0)
    >>> for length in (10, 20, 30):
    ...     s.observe(length)
    >>> s.mean, round(s.std, 6)
    (20.0, 10.0)
    """

    prior_mean: float = 200.0
    prior_std: float = 200.0
    min_count: int = 20
    count: int = 0
    _mean: float = 0.0
    _m2: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not (self.prior_mean > 0 and self.prior_std >= 0):
            raise ValueError("prior_mean must be > 0 and prior_std >= 0")
        if self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")

    def observe(self, length: int) -> None:
        """Add the output length of a request that has finished."""
        if length < 0:
            raise ValueError(f"an output length must be >= 0, got {length}")
        self.count += 1
        delta = length - self._mean
        self._mean += delta / self.count
        self._m2 += delta * (length - self._mean)

    @property
    def mean(self) -> float:
        """Mean output length (the prior's until ``min_count`` completions)."""
        return self._mean if self.count >= self.min_count else self.prior_mean

    @property
    def std(self) -> float:
        """Sample standard deviation (the prior's until ``min_count`` completions)."""
        if self.count < self.min_count:
            return self.prior_std
        return math.sqrt(self._m2 / (self.count - 1)) if self.count > 1 else 0.0


def decode_throughput(spec: Instance, batch: int, context: int) -> float:
    """Tokens per second of ``spec`` decoding ``batch`` sequences of ``context`` tokens.

    Examples
    --------
    >>> inst = Instance("mistral-7b", "a100")
    >>> round(decode_throughput(inst, 64, 1000))  # 64 tokens per 18.0 ms step
    3551
    """
    if batch < 1 or context < 0:
        raise ValueError("batch must be >= 1 and context >= 0")
    return batch / spec.step_time(decode_contexts=[context] * batch)


def full_batch(spec: Instance, max_batch: int, prompt: float, output: float) -> tuple[int, float]:
    """Batch size and token throughput of ``spec`` decoding a typical full batch.

    The batch is as many requests of ``prompt + output`` tokens as the KV cache holds
    (at most ``max_batch``, at least 1); each decodes at the context ``prompt + output /
    2``, half-way through its output.

    Examples
    --------
    >>> inst = Instance("mistral-7b", "a100")
    >>> batch, rate = full_batch(inst, 256, 1000, 200)
    >>> batch, round(rate)
    (256, 7206)
    """
    if max_batch < 1 or prompt < 0 or output < 0:
        raise ValueError("max_batch must be >= 1 and prompt, output >= 0")
    batch = max(1, min(int(max_batch), spec.kv_tokens // max(1, int(prompt + output))))
    return batch, decode_throughput(spec, batch, int(prompt + output / 2))


def request_cost(spec: Instance, max_batch: int, prompt: float, output: float = 200.0) -> float:
    """Instance-seconds one request takes on ``spec`` amid a full batch.

    The compute of its prompt (prefills share the weight reads of the steps they ride
    in, so only their FLOPs count: :meth:`~scheduling.engine.Instance.prefill_compute_time`)
    plus its share of decoding: ``output`` tokens at the full-batch token rate
    (:func:`full_batch`). ``output`` is a sizing assumption (default 200 tokens), not a
    true length.

    Examples
    --------
    >>> round(request_cost(Instance("mistral-7b", "a100"), 256, 1000), 4)
    0.1065
    >>> round(request_cost(Instance("mistral-7b", "a100"), 256, 1), 4)  # decode dominates
    0.0187
    """
    prefill = spec.prefill_compute_time(max(1, round(prompt)))
    return prefill + output / full_batch(spec, max_batch, prompt, output)[1]


@dataclass
class RWTEstimator:
    """Waiting-time bound for a request behind ``n`` requests of unknown length.

    Parameters
    ----------
    stats : OutputLengthStats
        Learned from completed requests only.
    throughput : float
        The instance's token throughput (tokens/s), e.g. :func:`decode_throughput`.
    z : float, default 1.645
        Normal quantile of the bound (1.645: about 95% one-sided).

    Examples
    --------
    >>> est = RWTEstimator(OutputLengthStats(prior_mean=100, prior_std=30), throughput=1000.0)
    >>> est.tokens_bound(25)  # 25 * 100 + 1.645 * 30 * 5
    2746.75
    >>> est.waiting_time(25, known_tokens=250)
    2.99675
    """

    stats: OutputLengthStats
    throughput: float
    z: float = 1.645

    def __post_init__(self) -> None:
        if not self.throughput > 0:
            raise ValueError(f"throughput must be > 0 tokens/s, got {self.throughput!r}")

    @property
    def coverage(self) -> float:
        """The bound's nominal probability, ``Phi(z)``."""
        return float(norm.cdf(self.z))

    def tokens_bound(self, n: int) -> float:
        """``n * mu + z * sigma * sqrt(n)`` tokens for ``n`` requests of unknown length."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return n * self.stats.mean + self.z * self.stats.std * math.sqrt(n)

    def waiting_time(self, n: int, *, known_tokens: float = 0.0) -> float:
        """Seconds until ``n`` unknown requests plus ``known_tokens`` tokens are produced."""
        if known_tokens < 0:
            raise ValueError(f"known_tokens must be >= 0, got {known_tokens}")
        return (self.tokens_bound(n) + known_tokens) / self.throughput
