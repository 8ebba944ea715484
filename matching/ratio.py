"""Empirical competitive ratios: policies against one hindsight optimum per realised input.

Trial ``i`` draws one realised input from ``family``, computes its hindsight optimum OPT
(and LP bound) once -- see :mod:`matching.hindsight` for exactly what OPT means -- and
runs every policy on that same input through the streaming matcher, dividing each by
the same OPT. Every run is re-verified with :meth:`~matching.driver.OnlineRun.replay_check`
before it is scored: a broken run is an error, never a number, and so is ``ALG > OPT``.
Generators are spawned from ``SeedSequence(seed)`` per trial (and per policy name), so
local, process and Ray executors give identical numbers for the same seed.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import os
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from matching import _validate as v
from matching.arrivals import ArrivalSequence
from matching.driver import simulate
from matching.guarantees import InputProperties, guarantee_for
from matching.hindsight import offline_lp, offline_optimum
from matching.online import OnlinePolicy
from matching.result import Status

__all__ = [
    "RatioError",
    "RatioReport",
    "TrialResult",
    "bootstrap_ci",
    "compare_policies",
    "competitive_ratio",
]

Family = Callable[[np.random.Generator], ArrivalSequence]
EXECUTORS = ("local", "process", "ray")


class RatioError(RuntimeError):
    """A run or an input that cannot be scored.

    Raised when a run reports more than the hindsight optimum allows, or when a
    family's input breaks what the family declares about it.
    """


@dataclass(frozen=True)
class TrialResult:
    """ALG, OPT and LP values of one policy on one trial (``lp`` is NaN when not computed).

    ``opt`` is the proven optimum, or the solver's proven bound where a time limit
    stopped it (``opt_optimal`` False). ``alg_seconds`` is the policy's run, and
    ``opt_seconds`` the trial's one exact solve (shared by every policy of the trial).
    """

    index: int
    alg: float
    opt: float
    lp: float
    opt_optimal: bool
    arrivals: int
    alg_seconds: float = float("nan")
    opt_seconds: float = float("nan")


def bootstrap_ci(
    values: np.ndarray, *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = bootstrap_ci(np.array([0.5, 0.6, 0.7, 0.8]))
    >>> bool(0.5 <= lo <= 0.65 <= hi <= 0.8)
    True
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


@dataclass
class RatioReport:
    """Per-trial values and summary ratios of one policy on one family.

    ``guarantee`` states the policy's proven ratio on the family's inputs, or, where the
    family does not declare the properties the theorem needs, says which are missing
    (see :mod:`matching.guarantees`); every trial's input was checked to have the
    properties its family declares.
    """

    policy: str
    family: str
    trials: list[TrialResult] = field(default_factory=list)
    guarantee: str = ""

    def _column(self, name: str) -> np.ndarray:
        return np.array([getattr(t, name) for t in self.trials], dtype=np.float64)

    @property
    def alg(self) -> np.ndarray:
        """ALG value per trial."""
        return self._column("alg")

    @property
    def opt(self) -> np.ndarray:
        """Offline optimum per trial."""
        return self._column("opt")

    @property
    def lp(self) -> np.ndarray:
        """LP bound per trial (NaN when not computed)."""
        return self._column("lp")

    def _alg_over(self, denominator: np.ndarray) -> np.ndarray:
        positive = denominator > 0
        return np.where(positive, self.alg / np.where(positive, denominator, 1.0), 1.0)

    @property
    def ratio_opt(self) -> np.ndarray:
        """ALG / OPT per trial (1 where OPT is 0)."""
        return self._alg_over(self.opt)

    @property
    def ratio_lp(self) -> np.ndarray:
        """ALG / LP per trial (1 where LP is 0)."""
        return self._alg_over(self.lp)

    def summary(self) -> dict[str, Any]:
        """Both empirical ratios against OPT and LP, with 95% bootstrap CIs.

        ``mean_alg_opt`` is the mean of the per-trial ratios ALG/OPT (with its CI and the
        worst trial); ``alg_opt_of_means`` is the ratio of the means, mean ALG / mean OPT,
        the figure most published tables give. Likewise for LP.

        Raises
        ------
        ValueError
            When the report has no trials (there is nothing to summarise).
        """
        if not self.trials:
            raise ValueError(
                f"the report of policy {self.policy!r} on {self.family} has no trials to summarise"
            )
        out: dict[str, Any] = {
            "policy": self.policy,
            "family": self.family,
            "trials": len(self.trials),
        }
        for name, values, denominator in (
            ("opt", self.ratio_opt, self.opt),
            ("lp", self.ratio_lp, self.lp),
        ):
            if name == "lp" and np.isnan(self.lp).all():
                continue
            lo, hi = bootstrap_ci(values)
            out[f"mean_alg_{name}"] = float(values.mean())
            out[f"worst_alg_{name}"] = float(values.min())
            out[f"ci_alg_{name}"] = (lo, hi)
            total = float(denominator.sum())
            out[f"alg_{name}_of_means"] = float(self.alg.sum()) / total if total > 0 else 1.0
        return out

    def table(self) -> str:
        """One-line-per-statistic text table (a report without trials raises ValueError)."""
        s = self.summary()
        lines = [f"policy {self.policy} on {self.family}, {s['trials']} trials"]
        for name in ("opt", "lp"):
            if f"mean_alg_{name}" in s:
                lo, hi = s[f"ci_alg_{name}"]
                lines.append(
                    f"  ALG/{name.upper():<3} mean {s[f'mean_alg_{name}']:.4f} "
                    f"[{lo:.4f}, {hi:.4f}]  worst {s[f'worst_alg_{name}']:.4f}  "
                    f"mean ALG / mean {name.upper()} {s[f'alg_{name}_of_means']:.4f}"
                )
        if self.guarantee:
            lines.append(f"  guarantee: {self.guarantee}")
        return "\n".join(lines)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one row per trial."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "policy",
                    "family",
                    "trial",
                    "alg",
                    "opt",
                    "lp",
                    "alg_opt",
                    "alg_lp",
                    "opt_optimal",
                    "arrivals",
                ]
            )
            for t, r_opt, r_lp in zip(self.trials, self.ratio_opt, self.ratio_lp, strict=True):
                writer.writerow(
                    [
                        self.policy,
                        self.family,
                        t.index,
                        t.alg,
                        t.opt,
                        t.lp,
                        r_opt,
                        r_lp,
                        t.opt_optimal,
                        t.arrivals,
                    ]
                )

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Histogram of ALG/OPT per trial, with the mean marked."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(self.ratio_opt, bins=30, color="tab:blue", alpha=0.8)
        ax.axvline(self.ratio_opt.mean(), color="black", linestyle="--", label="mean")
        ax.set(xlabel="ALG / OPT", ylabel="trials", title=f"{self.policy} on {self.family}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def _policy_stream(name: str) -> int:
    return zlib.crc32(name.encode()) + 1  # 0 is the family's stream


def _run_trial(
    policies: dict[str, OnlinePolicy],
    family: Family,
    entropy: int,
    index: int,
    with_lp: bool,
    opt_time_limit: float | None,
) -> dict[str, TrialResult]:
    family_rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(index, 0)))
    sequence = family(family_rng)
    if not isinstance(sequence, ArrivalSequence):
        raise TypeError(f"the family returned {type(sequence).__name__}, not an ArrivalSequence")
    declared = _declared_properties(family)
    if declared is not None:
        broken = declared.mismatches(InputProperties.of_sequence(sequence))
        if broken:
            raise RatioError(
                f"trial {index}: the input breaks what {_family_name(family)} declares: "
                + "; ".join(broken)
            )
    begin = time.perf_counter()
    opt = offline_optimum(sequence, time_limit=opt_time_limit)
    opt_seconds = time.perf_counter() - begin
    opt.check(sequence.instance)
    proven = opt.status is Status.OPTIMAL
    opt_value = opt.value if proven else opt.bound
    lp = offline_lp(sequence) if with_lp else float("nan")
    out = {}
    for name, policy in policies.items():
        rng = np.random.default_rng(
            np.random.SeedSequence(entropy, spawn_key=(index, _policy_stream(name)))
        )
        begin = time.perf_counter()
        run = simulate(copy.deepcopy(policy), sequence, seed=rng)
        alg_seconds = time.perf_counter() - begin
        run.replay_check()
        limit = opt.bound if np.isfinite(opt.bound) else opt_value
        if run.value > limit + 1e-9 * max(1.0, abs(limit)):
            raise RatioError(
                f"trial {index}: policy {name!r} reports {run.value!r}, above the hindsight "
                f"optimum's bound {limit!r}"
            )
        out[name] = TrialResult(
            index,
            run.value,
            opt_value,
            lp,
            proven,
            len(sequence),
            alg_seconds,
            opt_seconds,
        )
    return out


def _declared_properties(family: Family) -> InputProperties | None:
    props = getattr(family, "properties", None)
    if props is not None and not isinstance(props, InputProperties):
        raise TypeError(
            f"{_family_name(family)}.properties must be InputProperties, got "
            f"{type(props).__name__}"
        )
    return props


def _guarantee_text(policy: OnlinePolicy, declared: InputProperties | None) -> str:
    from matching.attenuation import LPSampleAttenuatePolicy
    from matching.online import BalancePolicy, BatchedResolvePolicy, GreedyPolicy, RankingPolicy

    # A guarantee is about one rule: a subclass may change it, so it inherits nothing.
    registered = {
        "greedy": GreedyPolicy,
        "ranking": RankingPolicy,
        "ranking-vw": RankingPolicy,
        "balance": BalancePolicy,
        "batched": BatchedResolvePolicy,
        "lp-attenuate": LPSampleAttenuatePolicy,
    }
    if type(policy) is not registered.get(policy.name):
        return f"none recorded for {type(policy).__name__} named {policy.name!r}"
    guarantee = guarantee_for(policy.name)
    gamma = getattr(policy, "gamma", None)
    if isinstance(policy, LPSampleAttenuatePolicy) and gamma != 0.5:
        ratio = Fraction(gamma).limit_denominator(10**6) if gamma < 0.5 else None
        if ratio is None:
            return f"no guarantee: gamma = {gamma} above 1/2 is not proven"
        guarantee = dataclasses.replace(guarantee, formula="gamma", ratio=ratio)
    if declared is None:
        return "not stated: the family declares no input properties"
    return guarantee.describe(declared)


def _family_name(family: Family) -> str:
    return (
        repr(family)
        if hasattr(family, "__dataclass_fields__")
        else getattr(family, "__name__", type(family).__name__)
    )


def _named(
    policies: Mapping[str, OnlinePolicy] | Sequence[OnlinePolicy],
) -> dict[str, OnlinePolicy]:
    if isinstance(policies, OnlinePolicy):
        policies = [policies]
    if isinstance(policies, Mapping):
        named = dict(policies)
    elif isinstance(policies, Sequence) and not isinstance(policies, str):
        named = {}
        for i, p in enumerate(policies):
            if not isinstance(p, OnlinePolicy):
                raise TypeError(f"policies[{i}] must be an OnlinePolicy, got {p!r}")
            name = getattr(p, "name", None)
            if name in named:
                raise ValueError(f"two policies are named {name!r}; pass a dict of labels")
            named[name] = p
    else:
        raise TypeError(f"policies must be OnlinePolicy objects, got {type(policies).__name__}")
    if not named:
        raise ValueError("no policy given")
    for label, p in named.items():
        if not isinstance(p, OnlinePolicy):
            raise TypeError(f"policy {label!r} must be an OnlinePolicy, got {type(p).__name__}")
        if not isinstance(label, str) or not label:
            raise TypeError(f"policy labels must be non-empty strings, got {label!r}")
    return named


def compare_policies(
    policies: Mapping[str, OnlinePolicy] | Sequence[OnlinePolicy],
    family: Family,
    trials: int,
    *,
    seed: int = 0,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    with_lp: bool = True,
    opt_time_limit: float | None = None,
    progress: bool | None = None,
) -> dict[str, RatioReport]:
    """Measure ALG/OPT and ALG/LP of several policies on the same inputs and the same OPT.

    Parameters
    ----------
    policies : dict of str to OnlinePolicy, or sequence of OnlinePolicy
        Labelled policies (a sequence is labelled by ``policy.name``, which must then
        be unique). Each is copied afresh for every trial.
    family : callable
        ``family(rng) -> ArrivalSequence``; must be picklable for the process and Ray
        executors (the classes of :mod:`matching.online_families` are).
    trials : int
        At least 1.
    seed : int, default 0
        A non-negative int.
    executor : {"local", "process", "ray"}
        ``"ray"`` runs each trial as a Ray task (``ray.init(address=ray_address)`` when an
        address is given, a local Ray otherwise); install the ``ray`` extra.
    workers : int, optional
        Processes for ``"process"`` (default: CPU count).
    with_lp : bool, default True
        Also compute the LP bound of every input.
    opt_time_limit : float, optional
        Per-trial limit of the exact solve, in seconds (at most
        :data:`matching.MAX_TIME_LIMIT`); where it stops early the proven *bound*
        stands in for OPT (so ALG/OPT stays a lower estimate) and ``opt_optimal`` is False.
    progress : bool, optional
        Show a progress bar on standard error (default: 50 trials or more and standard
        error is a terminal).

    Returns
    -------
    dict of str to RatioReport
        One report per label, all over the same realised inputs and optima.

    Raises
    ------
    ReplayError
        If a run breaks a constraint of its input.
    RatioError
        If a run's value exceeds the hindsight optimum's bound, or a drawn input lacks a
        property its family declares (``family.properties``, see
        :class:`~matching.guarantees.InputProperties`).

    Examples
    --------
    >>> from matching.online import GreedyPolicy, RankingPolicy
    >>> from matching.online_families import UpperTriangular
    >>> reports = compare_policies([GreedyPolicy(), RankingPolicy()], UpperTriangular(10), 3)
    >>> reports["greedy"].ratio_opt.tolist(), bool((reports["ranking"].opt == 10).all())
    ([0.5, 0.5, 0.5], True)
    >>> reports["greedy"].guarantee
    'ALG/OPT >= 1/2 = 0.500 (groups of <= 1)'
    """
    named = _named(policies)
    if not isinstance(executor, str) or executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {EXECUTORS}")
    trials = v.check_int(trials, "trials", low=1)
    seed = v.check_int(seed, "seed", low=0)
    if workers is not None:
        v.check_int(workers, "workers", low=1)
    v.check_bool(with_lp, "with_lp")
    v.check_time_limit(opt_time_limit, "opt_time_limit")
    if progress is not None:
        v.check_bool(progress, "progress")
    if not callable(family) or isinstance(family, str):
        raise TypeError(f"family must be callable (rng -> ArrivalSequence), got {family!r}")
    declared = _declared_properties(family)
    if progress is None:
        progress = trials >= 50 and sys.stderr.isatty()
    label = "/".join(named)
    args = [(named, family, int(seed), i, with_lp, opt_time_limit) for i in range(trials)]
    if executor == "local":
        results = [_run_trial(*a) for a in _progress(args, progress, label)]
    elif executor == "process":
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_trial, *a) for a in args]
            results = [f.result() for f in _progress(futures, progress, label)]
    else:
        results = _run_ray(args, ray_address, progress, label)
    reports = {}
    for name in named:
        report = RatioReport(
            policy=name,
            family=_family_name(family),
            guarantee=_guarantee_text(named[name], declared),
        )
        report.trials = sorted((r[name] for r in results), key=lambda t: t.index)
        reports[name] = report
    return reports


def competitive_ratio(
    policy: OnlinePolicy, family: Family, trials: int, **options: Any
) -> RatioReport:
    """Measure ALG/OPT and ALG/LP of one policy; see :func:`compare_policies` for options.

    Examples
    --------
    >>> from matching.online import GreedyPolicy
    >>> from matching.online_families import UpperTriangular
    >>> report = competitive_ratio(GreedyPolicy(), UpperTriangular(10), trials=2)
    >>> report.ratio_opt.tolist()
    [0.5, 0.5]
    """
    if not isinstance(policy, OnlinePolicy):
        raise TypeError(f"policy must be an OnlinePolicy, got {type(policy).__name__}")
    return compare_policies({policy.name: policy}, family, trials, **options)[policy.name]


def _progress(items: list[Any], show: bool, label: str) -> Any:
    if not show:
        return items
    from rich.console import Console
    from rich.progress import track

    return track(
        items, description=f"{label}: trials", transient=True, console=Console(stderr=True)
    )


def _run_ray(
    args: list[tuple[Any, ...]], address: str | None, show: bool, label: str
) -> list[dict[str, TrialResult]]:
    try:
        import ray
    except ImportError as exc:
        raise ImportError("executor='ray' needs Ray: pip install 'groupmatch[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address) if address else ray.init(include_dashboard=False)
    remote = ray.remote(_run_trial)
    refs = [remote.remote(*a) for a in args]
    return [ray.get(ref) for ref in _progress(refs, show, label)]
