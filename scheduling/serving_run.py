"""LLM-serving experiments: policies by name, load levels, tables and plots.

The offered **load** of a workload on a cluster is its request rate over the cluster's
nominal capacity (:func:`nominal_capacity_rps`): each instance serves one request per
:func:`~scheduling.rwt.request_cost` (prompt compute plus its share of full-batch
decoding) of the workload's mean prompt and output, and the cluster saturates when the
model with the most demand per instance does. Above 1 the cluster is overloaded.
:func:`at_load` rescales a workload's arrival times to a given load.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scheduling._plots import share_by_policy
from scheduling.rwt import OutputLengthStats, RWTEstimator, full_batch, request_cost
from scheduling.serving import Action, ClusterView, Dispatch, RequestInfo, ServingPolicy
from scheduling.serving_baselines import CentralQueuePolicy, FCFSPolicy, noisy_length_predictions
from scheduling.serving_sim import (
    ClusterConfig,
    ServingRun,
    cluster_models,
    simulate_serving,
)
from scheduling.traces import LLMRequests, assign_classes, scale_arrivals, synthetic_requests

__all__ = [
    "SERVING_POLICIES",
    "RWTProbe",
    "at_load",
    "default_workload",
    "format_serving_table",
    "make_serving_policy",
    "nominal_capacity_rps",
    "plot_attainment",
    "rwt_coverage",
    "summary_row",
]

#: Policies by name: vLLM's FCFS (round-robin placement), FCFS behind a
#: least-outstanding-requests balancer, central EDF, central SJF on predicted lengths,
#: QLM, and the online matching placement with a competitive guarantee.
SERVING_POLICIES = ("fcfs", "least-outstanding", "edf", "sjf", "qlm", "online-matching")


def make_serving_policy(
    name: str, requests: LLMRequests, *, seed: int = 0, **options: Any
) -> ServingPolicy:
    """Build the policy called ``name`` for ``requests``.

    ``"sjf"`` gets predicted output lengths from :func:`noisy_length_predictions`
    (log-normal error of standard deviation 0.5: a learned predictor's quality);
    ``options`` go to the QLM or online-matching policy.
    """
    if name == "fcfs":
        return FCFSPolicy("round-robin")
    if name == "least-outstanding":
        return FCFSPolicy("least-outstanding")
    if name == "edf":
        return CentralQueuePolicy("edf")
    if name == "sjf":
        predicted = noisy_length_predictions(requests.output_tokens, seed=seed)
        return CentralQueuePolicy("sjf", predicted)
    if name == "qlm":
        from scheduling.qlm import QLMPolicy

        return QLMPolicy(**options)
    if name == "online-matching":
        from scheduling.serving_online import OnlineMatchingPolicy

        return OnlineMatchingPolicy(**options)
    raise ValueError(f"unknown serving policy {name!r}; known: {', '.join(SERVING_POLICIES)}")


def default_workload(
    n: int = 2000,
    *,
    models: Sequence[str] = ("mistral-7b", "vicuna-13b"),
    profile: str = "azure-conv",
    seed: int = 0,
) -> LLMRequests:
    """Return the embedded workload: ``n`` generated requests with models and SLO classes.

    Token counts and bursty arrivals from the fitted Azure trace ``profile``; models
    equally likely; SLO classes interactive 20 s / batch-1 60 s / batch-2 1 h on time
    to first token (:data:`scheduling.traces.DEFAULT_SLO_CLASSES`).
    """
    return assign_classes(synthetic_requests(n, profile=profile, seed=seed), models=list(models),
                          seed=seed)  # fmt: skip


def nominal_capacity_rps(requests: LLMRequests, config: ClusterConfig) -> float:
    """Return the requests per second the cluster serves at full batches.

    Each instance serves its model's requests at one per
    :func:`~scheduling.rwt.request_cost` of the workload's mean prompt and output;
    the models are placed as :func:`~scheduling.serving_sim.simulate_serving` places them.

    Examples
    --------
    >>> reqs = default_workload(500, models=["mistral-7b"])
    >>> round(nominal_capacity_rps(reqs, ClusterConfig(instances=2)), 1)
    16.8
    """
    prompt = float(np.mean(requests.prompt_tokens))
    output = float(np.mean(requests.output_tokens))
    specs, models = cluster_models(requests.model, prompt, config)
    share = {m: float(np.mean(np.asarray(requests.model) == m)) for m in specs}
    per_model = {
        m: sum(1 for x in models if x == m)
        / request_cost(specs[m], config.max_batch, prompt, output)
        for m in specs
    }
    # the cluster saturates when its most loaded model does
    return min(per_model[m] / share[m] if share[m] else math.inf for m in specs)


def at_load(requests: LLMRequests, config: ClusterConfig, load: float) -> LLMRequests:
    """Rescale arrivals so that the offered load on ``config`` is ``load``."""
    if not (math.isfinite(load) and load > 0):
        raise ValueError(f"load must be a finite number > 0, got {load!r}")
    span = float(requests.arrival[-1] - requests.arrival[0])
    if len(requests) < 2 or span <= 0:
        raise ValueError("a load needs at least two requests arriving at different times")
    rate = (len(requests) - 1) / span
    return scale_arrivals(requests, load * nominal_capacity_rps(requests, config) / rate)


def offered_load(requests: LLMRequests, config: ClusterConfig) -> float:
    """Return the workload's offered load on ``config`` as its arrivals stand."""
    span = float(requests.arrival[-1] - requests.arrival[0])
    rate = (len(requests) - 1) / span if span > 0 else math.inf
    return rate / nominal_capacity_rps(requests, config)


class RWTProbe(ServingPolicy):
    """FCFS on one instance that records, at each arrival, the RWT estimate of its wait.

    The request cannot start before ``n = outstanding - batch + 1`` of the requests on
    the instance finish (``batch`` the requests its KV cache holds); the estimate is the
    CLT bound on their tokens over the instance's rate, plus the step in flight and its
    own prefill step amid the running batch, with the output-length statistics learned
    from completed requests.
    """

    name = "rwt-probe"

    def __init__(self, z: float) -> None:
        self.z = z

    def reset(self, view: ClusterView, rng: np.random.Generator) -> None:
        """Start with the prior and no estimates."""
        self.stats = OutputLengthStats(prior_mean=200.0, prior_std=300.0)
        self.estimate: dict[int, float] = {}
        self.new: list[RequestInfo] = []
        self.prompts: list[int] = []

    def on_arrival(self, now: float, requests: Sequence[RequestInfo]) -> None:
        """Hold the arrivals; note their prompts."""
        self.new.extend(requests)
        self.prompts.extend(r.prompt_tokens for r in requests)

    def on_finish(self, now: float, rid: int, output_tokens: int) -> None:
        """Learn the output length."""
        self.stats.observe(output_tokens)

    def decide(self, now: float, view: ClusterView) -> list[Action]:
        """Estimate each arrival's wait, then queue it."""
        actions = []
        for req in self.new:
            spec = view.spec(req.model)
            mean, prompt = self.stats.mean, float(np.mean(self.prompts))
            rate = mean / request_cost(spec, view.max_batch, prompt, mean)
            batch = full_batch(spec, view.max_batch, prompt, mean)[0]
            n = max(0, view.outstanding(0) + len(actions) - batch + 1)
            wait = RWTEstimator(self.stats, rate, self.z).waiting_time(n)
            # the step in flight, then its own prefill amid the running batch
            running = [int(prompt + mean / 2)] * len(view.running(0))
            steps = spec.step_time([], running) + spec.step_time([req.prompt_tokens], running)
            self.estimate[req.rid] = wait + steps
            actions.append(Dispatch(req.rid, 0))
        self.new = []
        return actions


def rwt_coverage(
    requests: LLMRequests, config: ClusterConfig, *, z: float = 1.645, skip: int = 0
) -> float:
    """Share of requests whose simulated TTFT the :class:`RWTProbe` estimate covers.

    One instance serving first come first served; the first ``skip`` requests (while
    the output-length statistics are being learned) are left out.
    """
    if config.instances != 1:
        raise ValueError("rwt_coverage measures one instance: use ClusterConfig(instances=1)")
    probe = RWTProbe(z)
    run = simulate_serving(requests, probe, config)
    estimate = np.array([probe.estimate[i] for i in range(len(requests))])
    return float(np.mean(run.ttft[skip:] <= estimate[skip:]))


def summary_row(run: ServingRun, **extra: Any) -> dict[str, Any]:
    """Flatten a run's summary into one table/CSV row (``extra`` first)."""
    s = run.summary
    row: dict[str, Any] = {**extra, "policy": s["policy"], "requests": s["requests"]}
    row.update(dropped=s["dropped"], slo_attainment=s["slo_attainment"])
    for cls, value in s["slo_attainment_by_class"].items():
        row[f"slo_{cls}"] = value
    for key in ("requests_per_s", "tokens_per_s", "ttft_p50_s", "ttft_p99_s", "tbt_p50_s",
                "tbt_p99_s", "e2e_p50_s", "e2e_p99_s", "gpu_utilisation"):  # fmt: skip
        row[key] = s[key]
    for key, value in s["lso"].items():
        row[key] = value
    return row


def run_policies(
    requests: LLMRequests,
    config: ClusterConfig,
    policies: Sequence[str],
    *,
    seed: int = 0,
    progress: Callable[[str], Callable[[int, int], None] | None] | None = None,
    **options: Any,
) -> list[tuple[ServingRun, dict[str, Any]]]:
    """Run every policy of ``policies`` on the same workload and cluster."""
    out = []
    for name in policies:
        policy = make_serving_policy(name, requests, seed=seed, **options)
        cluster = config
        if name == "qlm":
            from scheduling.qlm import qlm_cluster

            cluster = qlm_cluster(policy.lsos, config)
        bar = progress(name) if progress is not None else None
        run = simulate_serving(requests, policy, cluster, seed=seed, progress=bar)
        out.append((run, summary_row(run)))
    return out


def format_serving_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None
) -> str:
    """Return a plain-text table of summary rows."""
    if not rows:
        return "(no runs)"
    columns = list(columns or [c for c in ("load", "policy", "slo_attainment", "slo_interactive",
                                           "slo_batch-1", "slo_batch-2", "requests_per_s",
                                           "tokens_per_s", "ttft_p50_s", "ttft_p99_s",
                                           "tbt_p50_s", "gpu_utilisation", "evictions",
                                           "model_loads_cold", "model_loads_warm", "plans")
                               if any(c in r for r in rows)])  # fmt: skip

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.3f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    table = [[c.replace("slo_attainment", "SLO met") for c in columns]]
    table += [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(
            v.rjust(w) if i else v.ljust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    )


def plot_attainment(rows: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Plot SLO attainment against load, one line per policy; return the path."""
    return share_by_policy(rows, path, x="load", y="slo_attainment", title=title,
                           xlabel="offered load (1 = nominal cluster capacity)",
                           ylabel="SLO attainment (TTFT)")  # fmt: skip
