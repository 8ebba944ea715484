"""Empirical competitive ratios: a policy against the offline optimum of each realised input.

Trial ``i`` draws its input from ``family`` and runs the policy with a generator spawned
from ``SeedSequence(seed)`` for that index alone, so local, process and Ray executors
give identical numbers for the same seed.
"""

from __future__ import annotations

import copy
import csv
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matching.arrivals import ArrivalSequence
from matching.driver import simulate
from matching.hindsight import offline_lp, offline_optimum
from matching.online import OnlinePolicy
from matching.result import Status

__all__ = ["RatioReport", "TrialResult", "bootstrap_ci", "competitive_ratio"]

Family = Callable[[np.random.Generator], ArrivalSequence]
EXECUTORS = ("local", "process", "ray")


@dataclass(frozen=True)
class TrialResult:
    """ALG, OPT and LP values of one trial (``lp`` is NaN when not computed)."""

    index: int
    alg: float
    opt: float
    lp: float
    opt_optimal: bool
    arrivals: int


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
    """Per-trial values and summary ratios of one policy on one family."""

    policy: str
    family: str
    trials: list[TrialResult] = field(default_factory=list)

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
        """Mean and worst ALG/OPT and ALG/LP with 95% bootstrap CIs of the means."""
        out: dict[str, Any] = {
            "policy": self.policy,
            "family": self.family,
            "trials": len(self.trials),
        }
        for name, values in (("opt", self.ratio_opt), ("lp", self.ratio_lp)):
            if name == "lp" and np.isnan(self.lp).all():
                continue
            lo, hi = bootstrap_ci(values)
            out[f"mean_alg_{name}"] = float(values.mean())
            out[f"worst_alg_{name}"] = float(values.min())
            out[f"ci_alg_{name}"] = (lo, hi)
        return out

    def table(self) -> str:
        """One-line-per-statistic text table."""
        s = self.summary()
        lines = [f"policy {self.policy} on {self.family}, {s['trials']} trials"]
        for name in ("opt", "lp"):
            if f"mean_alg_{name}" in s:
                lo, hi = s[f"ci_alg_{name}"]
                lines.append(
                    f"  ALG/{name.upper():<3} mean {s[f'mean_alg_{name}']:.4f} "
                    f"[{lo:.4f}, {hi:.4f}]  worst {s[f'worst_alg_{name}']:.4f}"
                )
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


def _run_trial(
    policy: OnlinePolicy,
    family: Family,
    entropy: int,
    index: int,
    with_lp: bool,
    opt_time_limit: float | None,
) -> TrialResult:
    child = np.random.SeedSequence(entropy, spawn_key=(index,))
    rng = np.random.default_rng(child)
    sequence = family(rng)
    run = simulate(copy.deepcopy(policy), sequence, seed=rng)
    opt = offline_optimum(sequence, run.decision_times, time_limit=opt_time_limit)
    lp = offline_lp(sequence, run.decision_times) if with_lp else float("nan")
    proven = opt.status is Status.OPTIMAL
    return TrialResult(
        index, run.value, opt.value if proven else opt.bound, lp, proven, len(sequence)
    )


def _family_name(family: Family) -> str:
    return (
        repr(family)
        if hasattr(family, "__dataclass_fields__")
        else getattr(family, "__name__", type(family).__name__)
    )


def competitive_ratio(
    policy: OnlinePolicy,
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
) -> RatioReport:
    """Measure ALG/OPT and ALG/LP of ``policy`` over ``trials`` inputs of ``family``.

    Parameters
    ----------
    policy : OnlinePolicy
        Copied afresh for every trial.
    family : callable
        ``family(rng) -> ArrivalSequence``; must be picklable for the process and Ray
        executors (the classes of :mod:`matching.online_families` are).
    trials : int
    seed : int, default 0
    executor : {"local", "process", "ray"}
        ``"ray"`` runs each trial as a Ray task (``ray.init(address=ray_address)`` when an
        address is given, a local Ray otherwise); install the ``ray`` extra.
    workers : int, optional
        Processes for ``"process"`` (default: CPU count).
    with_lp : bool, default True
        Also compute the LP bound of every input.
    opt_time_limit : float, optional
        Per-trial limit of the offline solve; where it stops early the proven *bound*
        stands in for OPT (so ALG/OPT stays a lower estimate) and ``opt_optimal`` is False.
    progress : bool, optional
        Show a progress bar on standard error (default: 50 trials or more and standard
        error is a terminal).

    Returns
    -------
    RatioReport

    Examples
    --------
    >>> from matching.online import GreedyPolicy
    >>> from matching.online_families import UpperTriangular
    >>> report = competitive_ratio(GreedyPolicy(), UpperTriangular(10), trials=2)
    >>> report.ratio_opt.tolist()
    [0.5, 0.5]
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {EXECUTORS}")
    if trials < 1:
        raise ValueError(f"trials must be positive, got {trials}")
    if progress is None:
        progress = trials >= 50 and sys.stderr.isatty()
    args = [(policy, family, int(seed), i, with_lp, opt_time_limit) for i in range(trials)]
    if executor == "local":
        results = [_run_trial(*a) for a in _progress(args, progress, policy.name)]
    elif executor == "process":
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_trial, *a) for a in args]
            results = [f.result() for f in _progress(futures, progress, policy.name)]
    else:
        results = _run_ray(args, ray_address, progress, policy.name)
    report = RatioReport(policy=policy.name, family=_family_name(family))
    report.trials = sorted(results, key=lambda t: t.index)
    return report


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
) -> list[TrialResult]:
    try:
        import ray
    except ImportError as exc:
        raise ImportError("executor='ray' needs Ray: pip install 'groupmatch[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address) if address else ray.init(include_dashboard=False)
    remote = ray.remote(_run_trial)
    refs = [remote.remote(*a) for a in args]
    return [ray.get(ref) for ref in _progress(refs, show, label)]
