"""Serving-simulator speed and memory: FCFS continuous batching on the Azure conv trace.

The full Azure LLM conversation trace (19,366 requests; ``../shared/data``, or the
calibrated generator when absent) on one CodeLlama-34B TP=2 A100-80GB instance with
FCFS continuous batching (``scheduling.llm_sim.simulate_fcfs``): simulated requests per
wall-clock second (median of ``--repeats`` runs) and the process's peak RSS; then how the
time grows with the number of requests and of instances (generated workload scaled to
keep each instance equally loaded). Goal: >= 4,000 requests/s and <= 200 MB peak RSS.
Writes ``benchmarks/results/llm_sim_speed.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np
from _common import RESULTS, write_csv

from scheduling.engine import Instance
from scheduling.llm_sim import simulate_fcfs
from scheduling.roads import default_data_dir
from scheduling.traces import load_azure_trace, synthetic_requests


def run(spec, req, instances, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        res = simulate_fcfs(
            spec,
            req.arrival,
            np.maximum(req.prompt_tokens, 1),
            np.maximum(req.output_tokens, 1),
            instances=instances,
        )
        times.append(time.perf_counter() - start)
    return float(np.median(times)), res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    spec = Instance("codellama-34b", "a100", tp=2)
    path = default_data_dir() / "llm-traces" / "azure2023_conv.csv"
    if path.exists():
        req, source = load_azure_trace(path), path.name
    else:
        req, source = (
            synthetic_requests(19_366, profile="azure-conv", seed=0),
            "generator (azure-conv)",
        )
    rows = []
    seconds, res = run(spec, req, 1, args.repeats)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{source}: {len(req):,} requests on {spec.describe()}")
    print(
        f"  FCFS: {seconds:.2f} s wall (median of {args.repeats}), "
        f"{len(req) / seconds:,.0f} simulated requests/s, peak RSS {rss:.0f} MB, "
        f"{res.summary['steps']:,} engine steps, {res.summary['preemptions']} preemptions"
    )
    rows.append(
        {
            "case": "full trace",
            "requests": len(req),
            "instances": 1,
            "seconds": seconds,
            "requests_per_s": len(req) / seconds,
            "peak_rss_mb": rss,
        }
    )
    print(f"{'requests':>9}{'instances':>10}{'seconds':>9}{'req/s':>9}")
    for n, k in [(5_000, 1), (10_000, 1), (20_000, 1), (20_000, 4), (40_000, 16)]:
        gen = synthetic_requests(n, profile="azure-conv", seed=1)
        # the trace's rate per instance: arrivals k times denser on k instances
        gen = dataclasses.replace(gen, arrival=gen.arrival / k)
        seconds, _ = run(spec, gen, k, 1)
        print(f"{n:>9,}{k:>10}{seconds:>9.2f}{n / seconds:>9,.0f}")
        rows.append(
            {
                "case": "scaling",
                "requests": n,
                "instances": k,
                "seconds": seconds,
                "requests_per_s": n / seconds,
                "peak_rss_mb": float("nan"),
            }
        )
    RESULTS.mkdir(exist_ok=True)
    write_csv(RESULTS / "llm_sim_speed.csv", rows)


if __name__ == "__main__":
    main()
