"""QLM global queue plan: solve time per size and method, and the heuristic's quality gap.

Random planning states (``state``): request groups over three models (7B, 7B and 34B
output-length statistics) and QLM's three SLO classes (TTFT 20 s / 60 s / 3600 s, drawn
50/30/20%), each group's earliest member having waited up to its SLO (at most 60 s) so
deadlines lie between now and an SLO ahead, with 1-32 requests; instances serving every
model at 1,500-4,000 tokens/s (the 34B model at half), ready within 5 s, 90% with one of
the models loaded, 10 s (7B) or 25 s (34B) to swap a model in.

For groups in (10, 20, 50, 100, 200, 500) x instances (4, 8, 16, 32) it times
``plan_queues`` (the whole call) over ``--states`` states (>= 30) with ``method="edf"``,
``"auto"`` and, where its model can be built within the limit (at most 1,800 circuit
arcs), ``"cp-sat"``, all at the default 50 ms limit, and prints the median and p99 in
ms (the p99 of 30 samples is close to their maximum). Then, on small sizes, the quality
gap: total violations and lateness of EDF and of ``"auto"``'s heuristic next to CP-SAT
with ``--gap-limit`` seconds. Goal: p99 <= 100 ms for ``"auto"`` at 200 groups x 16
instances. Writes ``benchmarks/results/qlm_plan_speed.csv`` and ``qlm_plan_gap.csv``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import RESULTS, write_csv

from scheduling.qlm_plan import (
    PlanGroup,
    PlanInstance,
    _arc_count,
    _edf,
    _heuristic,
    _problem,
    evaluate_plan,
    plan_queues,
)
from scheduling.rwt import OutputLengthStats

MODELS = ("llama-7b", "mistral-7b", "codellama-34b")
STATS = {
    "llama-7b": OutputLengthStats(prior_mean=220.0, prior_std=180.0),
    "mistral-7b": OutputLengthStats(prior_mean=160.0, prior_std=120.0),
    "codellama-34b": OutputLengthStats(prior_mean=300.0, prior_std=250.0),
}
SLOS = (20.0, 60.0, 3600.0)
GROUPS = (10, 20, 50, 100, 200, 500)
INSTANCES = (4, 8, 16, 32)
CPSAT_MAX_ARCS = 1800  # larger models cannot be built in 50 ms (plan_queues falls back)


def state(n_groups: int, n_instances: int, rng: np.random.Generator, now: float = 0.0):
    groups = []
    for k in range(n_groups):
        slo = SLOS[rng.choice(3, p=[0.5, 0.3, 0.2])]
        waited = rng.uniform(0.0, min(slo, 60.0))
        model = MODELS[rng.integers(3)]
        groups.append(PlanGroup(k, model, now - waited + slo, int(rng.integers(1, 33))))
    instances = []
    for i in range(n_instances):
        loaded = MODELS[rng.integers(3)] if rng.random() < 0.9 else None
        rate = rng.uniform(1500.0, 4000.0)
        throughput = {m: rate * (0.5 if m == "codellama-34b" else 1.0) for m in MODELS}
        load_s = {m: 25.0 if m == "codellama-34b" else 10.0 for m in MODELS}
        instances.append(PlanInstance(i, loaded, now + rng.uniform(0.0, 5.0), throughput, load_s))
    return groups, instances


def timed(groups, instances, **options):
    start = time.perf_counter()
    plan = plan_queues(groups, instances, length_stats=STATS, **options)
    return time.perf_counter() - start, plan


def speed(sizes, n_states: int) -> list[dict]:
    rows = []
    header = f"{'groups':>6}{'inst':>5} {'method':<7}{'median ms':>10}{'p99 ms':>8}"
    print(header + f"{'max ms':>8}{'viol':>8}{'lateness':>10}{'cp-sat':>7}{'opt':>5}")
    for n_groups, n_inst in sizes:
        rng = np.random.default_rng(1000 * n_groups + n_inst)
        states = [state(n_groups, n_inst, rng) for _ in range(n_states)]
        arcs = _arc_count(_problem(*states[0], STATS, 1.645, True))
        methods = ["edf", "auto"] + (["cp-sat"] if arcs <= CPSAT_MAX_ARCS else [])
        for method in methods:
            times, viol, late, cpsat, optimal = [], [], [], 0, 0
            for groups, instances in states:
                seconds, plan = timed(groups, instances, method=method)
                times.append(seconds * 1e3)
                viol.append(plan.violations)
                late.append(plan.lateness)
                cpsat += plan.method == "cp-sat"
                optimal += plan.status == "optimal"
            row = {
                "groups": n_groups,
                "instances": n_inst,
                "method": method,
                "states": n_states,
                "median_ms": float(np.median(times)),
                "p99_ms": float(np.percentile(times, 99)),
                "max_ms": float(np.max(times)),
                "mean_violations": float(np.mean(viol)),
                "mean_lateness": float(np.mean(late)),
                "cpsat_share": cpsat / n_states,
                "optimal_share": optimal / n_states,
            }
            rows.append(row)
            print(
                f"{n_groups:>6}{n_inst:>5} {method:<7}{row['median_ms']:>10.1f}"
                f"{row['p99_ms']:>8.1f}{row['max_ms']:>8.1f}{row['mean_violations']:>8.1f}"
                f"{row['mean_lateness']:>10.1f}{row['cpsat_share']:>7.0%}"
                f"{row['optimal_share']:>5.0%}",
                flush=True,
            )
    return rows


def heuristic(groups, instances, budget: float = 0.045) -> tuple[int, float]:
    """(violations, lateness) of what "auto" runs without CP-SAT, with its 45 ms search."""
    prob = _problem(groups, instances, STATS, 1.645, True)
    queues = _heuristic(prob, _edf(prob), time.perf_counter() + budget)
    plan = {instances[i].key: [groups[g].key for g in q] for i, q in enumerate(queues)}
    _, _, violations, lateness = evaluate_plan(plan, groups, instances, length_stats=STATS)
    return violations, lateness


def gap(sizes, n_states: int, limit: float) -> list[dict]:
    """EDF and the heuristic (what "auto" runs beyond its CP-SAT threshold) vs CP-SAT."""
    rows = []
    print(
        f"\nquality gap vs CP-SAT ({limit:g} s), totals over {n_states} states: "
        "violations (requests) / lateness (request-seconds)"
    )
    print(
        f"{'groups':>6}{'inst':>5}{'EDF':>16}{'heuristic':>16}{'CP-SAT':>16}"
        f"{'ended':>8}{'EDF worse':>10}{'heur. worse':>12}"
    )
    for n_groups, n_inst in sizes:
        rng = np.random.default_rng(7000 + 1000 * n_groups + n_inst)
        total = {"edf": [0, 0.0], "heuristic": [0, 0.0], "cp-sat": [0, 0.0]}
        worse = {"edf": 0, "heuristic": 0}
        finished = 0
        for _ in range(n_states):
            groups, instances = state(n_groups, n_inst, rng)
            _, exact = timed(groups, instances, method="cp-sat", time_limit_s=limit)
            _, edf = timed(groups, instances, method="edf")
            heur = heuristic(groups, instances)
            # CP-SAT's model is exact only on the 1 ms grid, which sqrt(n) works miss, so
            # its status is "feasible" at best: count the solves that ended before the limit
            finished += exact.solve_s < 0.9 * limit
            for name, (v, lat) in (
                ("edf", (edf.violations, edf.lateness)),
                ("heuristic", heur),
                ("cp-sat", (exact.violations, exact.lateness)),
            ):
                total[name][0] += v
                total[name][1] += lat
                if name != "cp-sat":
                    worse[name] += (v, lat) > (exact.violations, exact.lateness + 1e-9)
        cells = "".join(f"{v:>8d}/{lat:<7.0f}" for v, lat in total.values())
        print(
            f"{n_groups:>6}{n_inst:>5}{cells}{finished:>5}/{n_states:<2}"
            f"{worse['edf']:>10}{worse['heuristic']:>12}"
        )
        rows.append(
            {
                "groups": n_groups,
                "instances": n_inst,
                "states": n_states,
                "cpsat_limit_s": limit,
                "edf_violations": total["edf"][0],
                "edf_lateness": total["edf"][1],
                "heuristic_violations": total["heuristic"][0],
                "heuristic_lateness": total["heuristic"][1],
                "cpsat_violations": total["cp-sat"][0],
                "cpsat_lateness": total["cp-sat"][1],
                "cpsat_finished": finished,
                "edf_worse": worse["edf"],
                "heuristic_worse": worse["heuristic"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=30, help="random states per size")
    parser.add_argument("--gap-limit", type=float, default=1.0, help="CP-SAT seconds (gap)")
    parser.add_argument("--quick", action="store_true", help="a few sizes, 10 states")
    args = parser.parse_args()
    sizes = [(g, i) for g in GROUPS for i in INSTANCES]
    gap_sizes = [(6, 2), (10, 4), (10, 8), (20, 4)]
    if args.quick:
        args.states = min(args.states, 10)
        sizes = [(10, 4), (50, 8), (200, 16)]
        gap_sizes = [(6, 2), (10, 4)]
    rows = speed(sizes, args.states)
    auto = [r for r in rows if (r["groups"], r["instances"], r["method"]) == (200, 16, "auto")]
    if auto:
        ok = "met" if auto[0]["p99_ms"] <= 100 else "MISSED"
        print(f"goal p99 <= 100 ms for auto at 200 x 16: {auto[0]['p99_ms']:.1f} ms ({ok})")
    write_csv(RESULTS / "qlm_plan_speed.csv", rows)
    write_csv(RESULTS / "qlm_plan_gap.csv", gap(gap_sizes, args.states, args.gap_limit))


if __name__ == "__main__":
    main()
