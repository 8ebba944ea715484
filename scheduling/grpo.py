r"""GRPO rollout workloads: one RL iteration's prompts, responses and their lengths.

One iteration of GRPO-style RL samples ``G`` responses (a *group*) for each of ``P``
prompts, ``P * G`` generation requests in all. This module draws such batches for a
Seer-style rollout simulator (Qin et al., "Seer: Online Context Learning for Fast
Synchronous LLM Reinforcement Learning", OSDI 2026), with the two properties the
rollout schedulers depend on: output lengths are heavy-tailed across prompts, and the
responses to one prompt have similar lengths.

Output lengths
--------------
The log length of response ``i`` to prompt ``p`` is a prompt effect plus noise,

.. math::

    \log L_{p,i} = \mu_p + \varepsilon_{p,i}, \qquad
    \mu_p \sim N(m, s^2 \rho), \qquad \varepsilon_{p,i} \sim N(0, s^2 (1 - \rho)),

all independent, so each log length is ``N(m, s^2)`` and ``rho`` (``prompt_share``) is
the share of the log-length variance explained by the prompt: the intraclass
correlation of two responses to one prompt. The draws are standard normals scaled by
``sqrt(rho)`` and ``sqrt(1 - rho)``, so one seed gives the same normals for every
``rho`` (common random numbers for a sweep over it). A length is rounded to a whole
token, at least 1, and capped at the maximum generation length ``c``: a response that
reaches the cap is truncated there, as RL rollouts are, so ``1 <= L <= c``.

Calibration: the presets match the paper's *mean output length*, which is a mean of
truncated lengths. For ``X ~ N(m, s^2)`` and ``ell = log c``,

.. math::

    E[\min(e^X, c)] = e^{m + s^2/2}\, \Phi\Big(\frac{\ell - m - s^2}{s}\Big)
                     + c \Big(1 - \Phi\Big(\frac{\ell - m}{s}\Big)\Big)

(:func:`capped_lognormal_mean`), which increases strictly from 0 to ``c`` in ``m``;
:func:`calibrate_log_mean` solves it for ``m`` by Brent's method given the preset's
mean, spread ``s`` and cap. The mean does not depend on ``rho``. Rounding moves the
mean by far less than a token.

Presets
-------
From the paper's Table 3: group size ``G``, maximum generation length and mean output
length. The rest are this module's choices, not figures from the paper -- among them the
prompts per iteration (400, 600, 800), sized for a 16-instance cluster:

- ``log_std`` ``s = 1.0`` for all three: one spread for three long chain-of-thought
  workloads, wide enough that the shortest responses of an iteration are a few hundred
  tokens long (the paper's lengths run from a few hundred tokens to the cap). The
  share truncated at the cap then follows from how close the mean is to the cap: 1.6%
  for Qwen2-VL-72B (mean 19% of the cap) up to 11% for Kimi-K2 (mean 40% of the cap).
  A narrower spread would truncate fewer Kimi-K2 responses but would also make its
  shortest responses thousands of tokens long; a log-normal cannot do both.
- ``prompt_share`` ``rho = 0.6``: the prompt explains most, not all, of the variation,
  the within-group similarity that Seer's group-based length estimates rely on.
- Prompt lengths: log-normal, the same for every response of a group, with medians of
  512 (Moonlight, text reasoning), 1,536 (Qwen2-VL-72B, image plus text) and 2,048
  tokens (Kimi-K2, longer agentic and coding prompts), rounded, at least 1.

The solved ``m`` and the resulting share of responses truncated at the cap:

=========  ===  ========  ======  ===  =====  =======  =========  ==============
preset     G    cap       mean    s    rho    prompts  m          at the cap
=========  ===  ========  ======  ===  =====  =======  =========  ==============
moonlight  8    65,536    22,386  1.0  0.6    400      9.66906    7.8%
qwen2vl    16   40,960    7,615   1.0  0.6    600      8.48282    1.6%
kimik2     8    98,304    38,959  1.0  0.6    800      10.27345   11.1%
=========  ===  ========  ======  ===  =====  =======  =========  ==============

The prompt's share is measured by :func:`explained_share`.

Examples
--------
>>> from scheduling.grpo import PRESETS, explained_share, grpo_batch
>>> batch = grpo_batch("qwen2vl", prompts=4, seed=1)
>>> batch.n_requests, batch.n_groups, batch.group_size
(64, 4, 16)
>>> big = grpo_batch("moonlight", prompts=20_000, seed=0)
>>> bool(abs(big.output_tokens.mean() / PRESETS["moonlight"].mean_tokens - 1) < 0.03)
True
>>> round(explained_share(big), 1)
0.6
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from matching._validate import MAX_REQUESTS, check_int, check_real, check_type
from matching.families import as_generator
from scheduling.rollout import RolloutState

__all__ = [
    "PRESETS",
    "GRPOPreset",
    "RolloutBatch",
    "calibrate_log_mean",
    "capped_lognormal_mean",
    "explained_share",
    "grpo_batch",
]

#: Largest prompt length drawn, a guard against overflow for extreme custom presets;
#: the presets never come near it.
MAX_PROMPT_TOKENS = 2**40


# --------------------------------------------------------------------------- calibration
def capped_lognormal_mean(m: float, s: float, cap: float) -> float:
    """Mean of ``min(L, cap)`` for a log-normal ``L`` with ``log L ~ N(m, s**2)``.

    ``exp(m + s**2 / 2) * Phi((log(cap) - m - s**2) / s) + cap * (1 - Phi((log(cap) - m)
    / s))``, evaluated in log space so that large ``m`` does not overflow; ``s = 0``
    gives ``min(exp(m), cap)``.

    Parameters
    ----------
    m : float
        Mean of ``log L``.
    s : float
        Standard deviation of ``log L``, non-negative.
    cap : float
        The cap, positive.

    Returns
    -------
    float

    Examples
    --------
    >>> from scheduling.grpo import capped_lognormal_mean
    >>> round(capped_lognormal_mean(0.0, 1.0, 1e300), 6)  # no cap: exp(s**2 / 2)
    1.648721
    >>> round(capped_lognormal_mean(0.0, 1.0, 1.0), 6)  # exp(1/2) Phi(-1) + 1/2
    0.761578
    >>> capped_lognormal_mean(2.0, 0.0, 5.0)
    5.0
    """
    m = check_real(m, "m")
    s = check_real(s, "s", low=0.0)
    cap = check_real(cap, "cap", positive=True)
    return _capped_mean(m, s, cap)


def _capped_mean(m: float, s: float, cap: float) -> float:
    ell = math.log(cap)
    if s == 0.0:
        return min(math.exp(min(m, ell)), cap)
    below = math.exp(m + 0.5 * s * s + float(norm.logcdf((ell - m - s * s) / s)))
    return below + cap * float(norm.sf((ell - m) / s))


def calibrate_log_mean(mean: float, s: float, cap: float) -> float:
    """Solve ``capped_lognormal_mean(m, s, cap) == mean`` for ``m``.

    The capped mean increases strictly from 0 to ``cap`` as ``m`` grows, so every
    ``0 < mean < cap`` has exactly one solution; it is found by Brent's method
    (:func:`scipy.optimize.brentq`) to within about ``1e-12``. ``s = 0`` gives
    ``log(mean)``.

    Parameters
    ----------
    mean : float
        Target mean of the capped lengths, ``0 < mean < cap``.
    s : float
        Standard deviation of the log length, non-negative.
    cap : float
        The cap, positive.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``mean`` is not strictly between 0 and ``cap``.

    Examples
    --------
    >>> from scheduling.grpo import calibrate_log_mean, capped_lognormal_mean
    >>> m = calibrate_log_mean(22_386, 1.0, 65_536)
    >>> round(m, 5), round(capped_lognormal_mean(m, 1.0, 65_536), 6)
    (9.66906, 22386.0)
    >>> calibrate_log_mean(70_000, 1.0, 65_536)
    Traceback (most recent call last):
    ...
    ValueError: mean must be below the cap 65536, got 70000
    """
    mean = check_real(mean, "mean", positive=True)
    s = check_real(s, "s", low=0.0)
    cap = check_real(cap, "cap", positive=True)
    if not mean < cap:
        raise ValueError(f"mean must be below the cap {cap:g}, got {mean:g}")
    return _solve_log_mean(mean, s, cap)


def _solve_log_mean(mean: float, s: float, cap: float) -> float:
    if s == 0.0:
        return math.log(mean)

    def gap(m: float) -> float:
        return _capped_mean(m, s, cap) - mean

    # The capped mean is at most exp(m + s**2 / 2), so it is below ``mean`` at ``low``.
    low = math.log(mean) - 0.5 * s * s - 1.0
    high = max(math.log(cap), low + s)
    for _ in range(200):
        if gap(high) > 0:
            return float(brentq(gap, low, high, xtol=1e-13, rtol=4 * np.finfo(float).eps))
        low, high = high, high + s
    raise ValueError(f"mean {mean:g} is too close to the cap {cap:g} to calibrate")


# --------------------------------------------------------------------------- presets
@dataclass(frozen=True)
class GRPOPreset:
    """One RL workload: group size, generation cap, output and prompt length models.

    Attributes
    ----------
    name : str
    group_size : int
        Responses per prompt, ``G >= 1``.
    max_tokens : int
        Maximum generation length (the cap), ``>= 1``.
    mean_tokens : float
        Mean output length *after* capping, ``1 <= mean_tokens < max_tokens``.
    log_std : float
        Standard deviation ``s`` of the (uncapped) log output length, ``>= 0``.
    prompt_share : float
        ``rho`` in ``[0, 1]``: the share of the log-length variance explained by the
        prompt.
    prompt_log_mean : float
        Mean of the log prompt length.
    prompt_log_std : float
        Standard deviation of the log prompt length, ``>= 0``.
    prompts : int
        Prompts per iteration, ``P >= 1``.
    log_mean : float
        Derived, not an argument: ``m``, the mean of the uncapped log output length that
        makes the capped mean ``mean_tokens`` (:func:`calibrate_log_mean`).

    Examples
    --------
    >>> from scheduling.grpo import PRESETS
    >>> p = PRESETS["kimik2"]
    >>> round(p.log_mean, 5), round(p.cap_share, 3)
    (10.27345, 0.111)
    >>> from dataclasses import replace
    >>> replace(p, prompt_share=1.5)
    Traceback (most recent call last):
    ...
    ValueError: prompt_share must be at most 1, got 1.5
    """

    name: str
    group_size: int
    max_tokens: int
    mean_tokens: float
    log_std: float
    prompt_share: float
    prompt_log_mean: float
    prompt_log_std: float
    prompts: int
    log_mean: float = field(init=False, compare=False)

    def __post_init__(self) -> None:
        check_type(self.name, str, "name", "a string")
        fields = {
            "group_size": check_int(self.group_size, "group_size", low=1),
            "max_tokens": check_int(self.max_tokens, "max_tokens", low=1),
            "mean_tokens": check_real(self.mean_tokens, "mean_tokens", low=1.0),
            "log_std": check_real(self.log_std, "log_std", low=0.0),
            "prompt_share": _check_share(self.prompt_share, "prompt_share"),
            "prompt_log_mean": check_real(self.prompt_log_mean, "prompt_log_mean"),
            "prompt_log_std": check_real(self.prompt_log_std, "prompt_log_std", low=0.0),
            "prompts": check_int(self.prompts, "prompts", low=1),
        }
        if not fields["mean_tokens"] < fields["max_tokens"]:
            raise ValueError(
                f"mean_tokens must be below max_tokens={fields['max_tokens']}, "
                f"got {self.mean_tokens!r}"
            )
        for key, value in fields.items():
            object.__setattr__(self, key, value)
        object.__setattr__(
            self, "log_mean", _solve_log_mean(self.mean_tokens, self.log_std, self.max_tokens)
        )

    @property
    def cap_share(self) -> float:
        """Probability that a response reaches the cap (is truncated), ``P(L >= cap)``."""
        ell = math.log(self.max_tokens)
        if self.log_std == 0.0:
            return float(self.log_mean >= ell)
        return float(norm.sf((ell - self.log_mean) / self.log_std))


def _check_share(value: object, field: str) -> float:
    return check_real(value, field, low=0.0, high=1.0)


#: The three workloads of the Seer paper's evaluation (Table 3: group size, maximum
#: generation length, mean output length; prompts per iteration of its setup). Spread,
#: prompt share and prompt lengths are this module's choices (see the module docstring).
PRESETS: dict[str, GRPOPreset] = {
    p.name: p
    for p in (
        GRPOPreset("moonlight", 8, 65_536, 22_386, 1.0, 0.6, math.log(512), 0.7, 400),
        GRPOPreset("qwen2vl", 16, 40_960, 7_615, 1.0, 0.6, math.log(1536), 0.5, 600),
        GRPOPreset("kimik2", 8, 98_304, 38_959, 1.0, 0.6, math.log(2048), 0.8, 800),
    )
}


def _preset(preset: object) -> GRPOPreset:
    if isinstance(preset, GRPOPreset):
        return preset
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset]


# --------------------------------------------------------------------------- batches
@dataclass(frozen=True)
class RolloutBatch:
    """One iteration's requests, group by group: ``P`` prompts times ``G`` responses.

    Request ``j`` answers prompt ``prompt_id[j] = j // group_size``: the responses to a
    prompt are contiguous. The arrays are ``int64`` and read-only (copies are taken).

    Attributes
    ----------
    prompt_id : numpy.ndarray
        Prompt (group) of each request, ``0, ..., 0, 1, ..., P - 1``.
    group_size : int
        ``G``, responses per prompt.
    prompt_tokens : numpy.ndarray
        Prompt length of each request, ``>= 1``, equal within a group.
    output_tokens : numpy.ndarray
        True output length of each request, ``1 <= L <= max_tokens``; a request at
        ``max_tokens`` was truncated there.
    max_tokens : int
        The generation cap.

    Examples
    --------
    >>> import numpy as np
    >>> from scheduling.grpo import RolloutBatch
    >>> b = RolloutBatch(np.array([0, 0, 1, 1]), 2, np.array([5, 5, 9, 9]),
    ...                  np.array([3, 10, 7, 1]), 10)
    >>> b.n_requests, b.n_groups, [g.tolist() for g in b.groups()], b.truncated.tolist()
    (4, 2, [[0, 1], [2, 3]], [False, True, False, False])
    >>> RolloutBatch(np.array([0, 0]), 2, np.array([5, 5]), np.array([3, 11]), 10)
    Traceback (most recent call last):
    ...
    ValueError: output_tokens[1] = 11 is above max_tokens=10
    """

    prompt_id: np.ndarray
    group_size: int
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    max_tokens: int

    def __post_init__(self) -> None:
        group_size = check_int(self.group_size, "group_size", low=1)
        max_tokens = check_int(self.max_tokens, "max_tokens", low=1)
        arrays = {
            key: _int_array(getattr(self, key), key)
            for key in ("prompt_id", "prompt_tokens", "output_tokens")
        }
        _check_batch(group_size, max_tokens, **arrays)
        object.__setattr__(self, "group_size", group_size)
        object.__setattr__(self, "max_tokens", max_tokens)
        for key, value in arrays.items():
            value.setflags(write=False)
            object.__setattr__(self, key, value)

    @property
    def n_requests(self) -> int:
        """``P * G``."""
        return int(self.prompt_id.size)

    @property
    def n_groups(self) -> int:
        """``P``, the number of prompts."""
        return self.n_requests // self.group_size

    @property
    def truncated(self) -> np.ndarray:
        """Requests whose output reaches the cap."""
        return self.output_tokens == self.max_tokens

    def groups(self) -> list[np.ndarray]:
        """Request indices of each prompt's responses, prompt by prompt."""
        return [
            np.arange(p * self.group_size, (p + 1) * self.group_size) for p in range(self.n_groups)
        ]

    def rollout_state(self) -> RolloutState:
        """Return the batch before decoding as a :class:`scheduling.rollout.RolloutState`.

        Examples
        --------
        >>> from scheduling.grpo import grpo_batch
        >>> state = grpo_batch("moonlight", prompts=2).rollout_state()
        >>> state.group_of.tolist(), int(state.generated.sum()), state.max_tokens
        ([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], 0, 65536)
        """
        return RolloutState(
            group_of=self.prompt_id.copy(),
            prompt_tokens=self.prompt_tokens.copy(),
            output_tokens=self.output_tokens.copy(),
            generated=np.zeros(self.n_requests, dtype=np.int64),
            max_tokens=self.max_tokens,
        )


def _int_array(values: object, field: str) -> np.ndarray:
    arr = np.array(values)
    if arr.ndim != 1:
        raise ValueError(f"{field} must be one-dimensional, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{field} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_batch(
    group_size: int,
    max_tokens: int,
    *,
    prompt_id: np.ndarray,
    prompt_tokens: np.ndarray,
    output_tokens: np.ndarray,
) -> None:
    n = prompt_id.size
    for key, arr in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
        if arr.size != n:
            raise ValueError(f"{key} has {arr.size} entries, prompt_id has {n}")
    if n % group_size:
        raise ValueError(f"{n} requests are not whole groups of group_size={group_size}")
    expected = np.repeat(np.arange(n // group_size), group_size)
    bad = prompt_id != expected
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"prompt_id[{j}] = {int(prompt_id[j])}, expected {int(expected[j])}: the "
            f"responses to a prompt are contiguous, prompts numbered from 0"
        )
    for key, arr, high in (
        ("prompt_tokens", prompt_tokens, None),
        ("output_tokens", output_tokens, max_tokens),
    ):
        low = arr < 1
        if low.any():
            j = int(np.flatnonzero(low)[0])
            raise ValueError(f"{key}[{j}] = {int(arr[j])} is below 1")
        if high is not None and (arr > high).any():
            j = int(np.flatnonzero(arr > high)[0])
            raise ValueError(f"{key}[{j}] = {int(arr[j])} is above max_tokens={high}")
    if n:
        per_group = prompt_tokens.reshape(-1, group_size)
        differs = (per_group != per_group[:, :1]).any(axis=1)
        if differs.any():
            p = int(np.flatnonzero(differs)[0])
            raise ValueError(
                f"prompt_tokens differ within prompt {p}: "
                f"{per_group[p].tolist()} (one prompt, one length)"
            )


def grpo_batch(
    preset: str | GRPOPreset,
    *,
    prompts: int | None = None,
    seed: int | np.random.Generator | None = 0,
    prompt_share: float | None = None,
) -> RolloutBatch:
    """Draw one GRPO iteration: ``prompts`` prompts, ``group_size`` responses each.

    The model is the module docstring's: per prompt a log-normal prompt length and a
    prompt effect ``mu_p``; per response ``log L = mu_p + eps``, rounded, at least 1,
    truncated at the cap. The random stream is, in order: ``P`` standard normals for the
    prompt lengths, ``P`` for the prompt effects, ``P * G`` for the responses.

    Parameters
    ----------
    preset : {"moonlight", "qwen2vl", "kimik2"} or GRPOPreset
        The workload (see :data:`PRESETS`).
    prompts : int, optional
        Prompts in the iteration, ``>= 1``; default the preset's.
    seed : int or numpy.random.Generator, default 0
    prompt_share : float, optional
        ``rho`` in ``[0, 1]``, overriding the preset's. The output-length distribution
        of a single response and its mean do not depend on it; with one seed, changing
        it reuses the same standard normals.

    Returns
    -------
    RolloutBatch

    Raises
    ------
    ValueError
        For an unknown preset name (the message lists the known ones), ``prompts < 1``
        or more than ``10**8`` requests, or ``prompt_share`` outside ``[0, 1]``.

    Examples
    --------
    >>> from scheduling.grpo import grpo_batch
    >>> b = grpo_batch("kimik2", prompts=3, seed=4, prompt_share=1.0)
    >>> [len(set(b.output_tokens[g].tolist())) for g in b.groups()]  # siblings alike
    [1, 1, 1]
    >>> grpo_batch("kimi")
    Traceback (most recent call last):
    ...
    ValueError: unknown preset 'kimi'; choose one of ['kimik2', 'moonlight', 'qwen2vl']
    """
    p = _preset(preset)
    n_prompts = p.prompts if prompts is None else check_int(prompts, "prompts", low=1)
    if n_prompts * p.group_size > MAX_REQUESTS:
        raise ValueError(
            f"prompts={n_prompts} with group_size={p.group_size} makes "
            f"{n_prompts * p.group_size} requests, more than {MAX_REQUESTS}"
        )
    rho = p.prompt_share if prompt_share is None else _check_share(prompt_share, "prompt_share")
    rng = as_generator(seed)
    return _draw(p, n_prompts, rho, rng)


def _draw(p: GRPOPreset, n_prompts: int, rho: float, rng: np.random.Generator) -> RolloutBatch:
    g = p.group_size
    z_prompt = rng.standard_normal(n_prompts)
    z_group = rng.standard_normal(n_prompts)
    z_response = rng.standard_normal((n_prompts, g))
    log_prompt = p.prompt_log_mean + p.prompt_log_std * z_prompt
    prompt_len = np.rint(np.exp(np.minimum(log_prompt, math.log(MAX_PROMPT_TOKENS))))
    log_out = p.log_mean + p.log_std * (
        math.sqrt(rho) * z_group[:, None] + math.sqrt(1.0 - rho) * z_response
    )
    # Exponentiate no further than the cap, so that extreme draws cannot overflow.
    out = np.rint(np.exp(np.minimum(log_out, math.log(p.max_tokens))))
    return RolloutBatch(
        prompt_id=np.repeat(np.arange(n_prompts, dtype=np.int64), g),
        group_size=g,
        prompt_tokens=np.repeat(np.maximum(prompt_len, 1).astype(np.int64), g),
        output_tokens=np.clip(out, 1, p.max_tokens).astype(np.int64).ravel(),
        max_tokens=p.max_tokens,
    )


# --------------------------------------------------------------------------- measurement
def explained_share(batch: RolloutBatch) -> float:
    """Measured share of the log output-length variance explained by the prompt.

    The one-way random-effects ANOVA estimator of the intraclass correlation, ICC(1),
    on ``y = log(output_tokens)`` with ``P`` groups of ``G``:

    ``MSB = G * sum_p (ybar_p - ybar)**2 / (P - 1)`` and
    ``MSW = sum_{p,i} (y_pi - ybar_p)**2 / (P * (G - 1))`` estimate
    ``G * var(mu) + var(eps)`` and ``var(eps)``, so

    ``(MSB - MSW) / (MSB + (G - 1) * MSW)``

    estimates ``var(mu) / (var(mu) + var(eps))``, which is ``rho`` for uncapped lengths.
    Its standard error is about ``sqrt(2 / (G (G - 1) P)) (1 - rho) (1 + (G - 1) rho)``.
    The estimate is not clipped and can fall slightly below 0 when the prompt explains
    nothing. Truncation at the cap and rounding to whole tokens shift it a little away
    from the model's ``rho``: the two or more responses of a group that hit the cap
    count as equal.

    Parameters
    ----------
    batch : RolloutBatch
        At least 2 groups of at least 2 responses, not all of one length.

    Returns
    -------
    float

    Examples
    --------
    >>> from scheduling.grpo import explained_share, grpo_batch
    >>> round(explained_share(grpo_batch("qwen2vl", prompts=5000, prompt_share=0.3)), 2)
    0.3
    >>> round(explained_share(grpo_batch("qwen2vl", prompts=5000, prompt_share=0.0)), 2)
    0.0
    """
    check_type(batch, RolloutBatch, "batch", "a RolloutBatch")
    g, n_groups = batch.group_size, batch.n_groups
    if n_groups < 2 or g < 2:
        raise ValueError(
            f"explained_share needs at least 2 groups of at least 2 responses, got "
            f"{n_groups} of {g}"
        )
    y = np.log(batch.output_tokens.astype(float)).reshape(n_groups, g)
    group_mean = y.mean(axis=1)
    msb = g * float(((group_mean - group_mean.mean()) ** 2).sum()) / (n_groups - 1)
    msw = float(((y - group_mean[:, None]) ** 2).sum()) / (n_groups * (g - 1))
    total = msb + (g - 1) * msw
    if not total > 0:
        raise ValueError("explained_share is undefined: all output lengths are equal")
    return (msb - msw) / total
