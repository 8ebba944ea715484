"""LLM serving: QLM against the field's baselines, its LSO ablation, the RWT bound's coverage.

Two workloads, both with three models (Mistral-7B, Vicuna-13B, CodeLlama-34B) and the SLO
classes interactive 20 s / batch-1 60 s / batch-2 1 h on time to first token (50/30/20%),
served by ``--instances`` A100-80GB x 2 (TP = 2) instances whose models are shared out in
proportion to the demand:

* ``conv``: the Azure LLM conversation trace (19,366 requests, ``../shared/data``; the
  calibrated generator when absent), models drawn uniformly;
* ``shift``: the generator with the model mix shifting half-way (70% Mistral, then 70%
  CodeLlama): a static split of instances by model is wrong in each half.

Each runs at several offered loads (1 = the cluster's nominal capacity,
``scheduling.serving_run.nominal_capacity_rps``) under FCFS (vLLM: round-robin,
first come first served), least-outstanding-requests FCFS, central EDF, SJF on predicted
lengths, the online-matching admission (greedy on reusable seats, 1/2-competitive on its
admission problem) and QLM. Prints SLO attainment (overall, interactive) and throughput
side by side with QLM's gain over FCFS; then, at the heaviest load, QLM with each LSO
switched off; then the coverage of the RWT bound against simulated waits on one instance;
(the global plan's solve time is ``benchmarks/qlm_plan_speed.py``, the simulator's
speed ``benchmarks/llm_sim_speed.py``). Writes ``benchmarks/results/llm_serving.csv``,
``llm_serving_ablation.csv``, ``llm_serving_conv.png`` and ``llm_serving_shift.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from _common import RESULTS, write_csv

from scheduling.qlm import LSOs, QLMPolicy, qlm_cluster
from scheduling.roads import default_data_dir
from scheduling.serving_run import (
    SERVING_POLICIES,
    at_load,
    default_workload,
    format_serving_table,
    offered_load,
    plot_attainment,
    run_policies,
    rwt_coverage,
    summary_row,
)
from scheduling.serving_sim import ClusterConfig, simulate_serving
from scheduling.traces import LLMRequests, assign_classes, load_azure_trace, synthetic_requests

MODELS = ("mistral-7b", "vicuna-13b", "codellama-34b")


def conv_workload(n: int | None) -> tuple[LLMRequests, str]:
    path = default_data_dir() / "llm-traces" / "azure2023_conv.csv"
    if path.exists():
        reqs, source = load_azure_trace(path), "Azure conv trace"
        if n is not None:
            reqs = LLMRequests(reqs.arrival[:n], reqs.prompt_tokens[:n], reqs.output_tokens[:n])
    else:
        reqs, source = synthetic_requests(n or 19_366, seed=0), "generator (azure-conv)"
    reqs = LLMRequests(reqs.arrival, np.maximum(reqs.prompt_tokens, 1),
                       np.maximum(reqs.output_tokens, 1))  # fmt: skip
    return assign_classes(reqs, models=list(MODELS), seed=0), source


def shifting_workload(n: int) -> LLMRequests:
    """The generator with the model mix changing half-way."""
    base = synthetic_requests(n, seed=1)
    half = n // 2
    first = {"mistral-7b": 0.7, "vicuna-13b": 0.15, "codellama-34b": 0.15}
    second = {"mistral-7b": 0.15, "vicuna-13b": 0.15, "codellama-34b": 0.7}
    parts = []
    for s, mix, seed in ((slice(0, half), first, 1), (slice(half, n), second, 2)):
        part = LLMRequests(base.arrival[s], base.prompt_tokens[s], base.output_tokens[s])
        parts.append(assign_classes(part, models=mix, seed=seed))
    return LLMRequests(*(np.concatenate([getattr(p, f.name) for p in parts])
                         for f in dataclasses.fields(LLMRequests)))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=12)
    parser.add_argument("--loads", default="1,1.5,2,3")
    parser.add_argument(
        "--requests", type=int, default=None, help="requests per workload (default: 19,366)"
    )
    parser.add_argument("--quick", action="store_true", help="3,000 requests, loads 1 and 2")
    args = parser.parse_args()
    n = 3000 if args.quick else args.requests
    loads = [1.0, 2.0] if args.quick else [float(x) for x in args.loads.split(",")]
    config = ClusterConfig(instances=args.instances, gpu="a100", tp=2)
    conv, source = conv_workload(n)
    workloads = {"conv": conv, "shift": shifting_workload(len(conv))}
    print(f"{args.instances} x 2 x A100-80GB; conv = {source}, {len(conv):,} requests; "
          f"as recorded the conv trace offers load {offered_load(conv, config):.2f}")  # fmt: skip

    rows = []
    for name, reqs in workloads.items():
        for load in loads:
            work = at_load(reqs, config, load)
            start = time.perf_counter()
            runs = run_policies(work, config, SERVING_POLICIES)
            wall = time.perf_counter() - start
            fcfs = next(r for r in runs if r[1]["policy"] == "fcfs")[1]["slo_attainment"]
            for _, row in runs:
                gain = row["slo_attainment"] / fcfs - 1 if fcfs > 0 else float("nan")
                rows.append({"workload": name, "load": load, **row, "gain_vs_fcfs": gain})
            print(f"  {name} @ load {load}: {len(SERVING_POLICIES)} policies in {wall:.1f} s")
    columns = ["workload", "load", "policy", "slo_attainment", "slo_interactive", "slo_batch-1",
               "gain_vs_fcfs", "requests_per_s", "tokens_per_s", "ttft_p50_s", "ttft_p99_s",
               "tbt_p50_s", "gpu_utilisation", "evictions", "model_loads_cold",
               "model_loads_warm", "plans", "admitted"]  # fmt: skip
    print(format_serving_table(rows, columns))
    write_csv(RESULTS / "llm_serving.csv", rows)

    heavy = max(loads)
    ablation = []
    for name, reqs in workloads.items():
        work = at_load(reqs, config, heavy)
        for off in (None, "pulling", "eviction", "state_swapping", "model_swapping",
                    "warm_start", "load_balancing"):  # fmt: skip
            lsos = LSOs() if off is None else LSOs().without(off)
            run = simulate_serving(work, QLMPolicy(lsos), qlm_cluster(lsos, config))
            ablation.append({"workload": name, "load": heavy, "without": off or "-",
                             **summary_row(run)})  # fmt: skip
    print(f"\nQLM LSO ablation at load {heavy}")
    print(format_serving_table(ablation, ["workload", "without", "slo_attainment",
                                          "slo_interactive", "slo_batch-1", "requests_per_s",
                                          "ttft_p99_s", "evictions", "swaps_out",
                                          "model_loads_cold", "model_loads_warm", "steals",
                                          "plans", "plan_ms_p99"]))  # fmt: skip
    write_csv(RESULTS / "llm_serving_ablation.csv", ablation)

    print("\nRWT bound coverage vs simulated waits (one Mistral-7B A100 instance, FCFS)")
    one = ClusterConfig(instances=1)
    base = default_workload(3000, models=["mistral-7b"], seed=3)
    for load in (0.8, 1.2, 2.0):
        work = at_load(base, one, load)
        cover = {z: rwt_coverage(work, one, z=z, skip=200) for z in (0.0, 1.0, 1.645, 2.326)}
        print(f"  load {load}: " + ", ".join(f"z={z}: {c:.3f}" for z, c in cover.items()))

    import matplotlib

    matplotlib.use("Agg")
    for name in workloads:
        plot_attainment([r for r in rows if r["workload"] == name],
                        RESULTS / f"llm_serving_{name}.png",
                        title=f"{name}: {args.instances} x A100 TP2, 3 models")  # fmt: skip
    print(f"\nwrote {RESULTS / 'llm_serving.csv'}, llm_serving_ablation.csv, "
          "llm_serving_conv.png, llm_serving_shift.png")  # fmt: skip


if __name__ == "__main__":
    main()
