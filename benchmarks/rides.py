"""Ride-pooling dispatch: batched (exact per window), greedy, ranking and attenuate.

One simulated hour (``--duration``), 1,000 vehicles of capacity 4 (``--vehicles``,
``--capacity``), about 10,000 requests (``--requests``) on (a) Manhattan with the NYC
yellow 2016 sample replayed time-compressed into the hour (resampled with replacement
up to the request count) and (b) the embedded grid city with its generated demand.
Dispatch every 30 s (``--window``), wait <= 300 s, detour <= 600 s, vehicles return to
their depots. ``attenuate`` is the ridesharing paper's LP sample-and-attenuate
(``scheduling.ride_prior``), its prior fitted to another draw of the same demand
(``training_demand``); it serves a request only in the window it arrives. Prints a
table; writes ``benchmarks/results/rides.csv`` (one row per run), ``rides_windows.csv``
(one row per window) and ``rides.png`` (service rate and decision time per window).
Group enumeration timing lives in ``ride_groups.py``.
"""

from __future__ import annotations

import argparse
import time

from _common import RESULTS, write_csv

from scheduling.dispatch import POLICIES, PRIOR_POLICIES
from scheduling.ride_sim import (
    embedded_city,
    format_summary,
    manhattan_scenario,
    simulate,
    training_demand,
)
from scheduling.roads import default_data_dir


def _plot(rows: list[dict], windows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"{r['scenario'].split(' +')[0]}\n{r['policy']}" for r in rows]
    ax1.bar(labels, [r["service_rate"] for r in rows], color="tab:blue")
    ax1.set_ylabel("service rate")
    ax1.set_ylim(0, 1)
    data = [
        [
            w["seconds"]
            for w in windows
            if (w["scenario"], w["policy"]) == (r["scenario"], r["policy"])
        ]
        for r in rows
    ]
    ax2.boxplot(data, whis=(1, 99), showfliers=False)
    ax2.set_xticks(range(1, len(labels) + 1), labels)
    ax2.axhline(1.0, color="tab:red", ls="--", lw=1, label="1 s goal")
    ax2.set_ylabel("decision seconds per window (whiskers p1-p99)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--capacity", type=int, default=4)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--policies", default=",".join(POLICIES + PRIOR_POLICIES))
    parser.add_argument("--scenarios", default="manhattan,city")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scenarios = []
    for name in args.scenarios.split(","):
        if name == "manhattan":
            if not (default_data_dir() / "rides" / "manhattan").exists():
                print(f"skipping Manhattan: no data under {default_data_dir()}")
                continue
            scen = manhattan_scenario(
                requests=args.requests, duration=args.duration, seed=args.seed
            )
        else:
            scen = embedded_city(requests=args.requests, duration=args.duration, seed=args.seed)
        print(f"{scen.name}: {len(scen)} requests; {scen.info}")
        scenarios.append(scen)
    rows, windows = [], []
    for scen in scenarios:
        for policy in args.policies.split(","):
            start = time.perf_counter()
            res = simulate(
                scen,
                vehicles=args.vehicles,
                capacity=args.capacity,
                policy=policy,
                window=args.window,
                seed=args.seed,
                training=training_demand(scen, seed=args.seed + 1)
                if policy in PRIOR_POLICIES
                else None,
            )
            res.summary["run_seconds"] = time.perf_counter() - start
            rows.append(res.summary)
            windows += [{"scenario": scen.name, "policy": policy, **w} for w in res.windows]
            print(
                f"  {scen.name} {policy}: {res.summary['run_seconds']:.0f} s, "
                f"decision p99 {res.summary['decision_p99_s']:.3f} s",
                flush=True,
            )
    for scen in scenarios:
        print(f"\n{scen.name}")
        print(format_summary([r for r in rows if r["scenario"] == scen.name]))
    write_csv(RESULTS / "rides.csv", rows)
    write_csv(RESULTS / "rides_windows.csv", windows)
    _plot(rows, windows, RESULTS / "rides.png")
    print(f"wrote {RESULTS / 'rides.csv'}, rides_windows.csv and rides.png")


if __name__ == "__main__":
    main()
