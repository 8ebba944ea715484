"""Ride-pooling group enumeration: time and peak memory for k = 2, 3, 4.

Requests drawn on the generated grid city (`RoadNetwork.grid`), all feasible groups
built level by level (`scheduling.pooling.feasible_groups`), exact best route per group.
Prints, per (limits, k), the wall time, the peak Python memory (``tracemalloc``), the
feasible groups and the candidates tried per size; writes
``benchmarks/results/ride_groups.csv``. One run per row (the enumeration is
deterministic for a seed); ``--loose`` adds wider limits, where k = 4 takes minutes.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from _common import RESULTS, write_csv

from scheduling.pooling import Requests, feasible_groups
from scheduling.roads import RoadNetwork

LIMITS = {"tight (wait 120 s, detour 300 s)": (120.0, 300.0)}
LOOSE = {"loose (wait 300 s, detour 600 s)": (300.0, 600.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--grid", type=int, default=20, help="grid city side (nodes)")
    parser.add_argument("--horizon", type=float, default=300.0, help="request times, s")
    parser.add_argument("--max-k", type=int, default=4, choices=(2, 3, 4))
    parser.add_argument("--loose", action="store_true", help="also the wider limits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-partners",
        type=int,
        default=8,
        help="also enumerate with groups of 3-4 built from each rider's best partners "
        "(the dispatcher's default, 8); 0 skips that row",
    )
    args = parser.parse_args()
    city = RoadNetwork.grid(args.grid, seed=args.seed)
    limits = {**LIMITS, **(LOOSE if args.loose else {})}
    rows = []
    print(f"{args.requests} requests over {args.horizon:g} s on a {args.grid}x{args.grid} grid")
    print(f"{'limits':34}{'k':>3}{'seconds':>9}{'peak MB':>9}  feasible per size")
    for label, (wait, detour) in limits.items():
        requests = Requests.random(
            city,
            args.requests,
            horizon=args.horizon,
            max_wait=wait,
            max_detour=detour,
            seed=args.seed,
        )
        feasible_groups(requests, city, max_size=1)  # warm the shortest-path cache
        runs = [(k, None) for k in range(2, args.max_k + 1)]
        if args.max_partners > 0 and args.max_k >= 3:
            runs += [(k, args.max_partners) for k in range(3, args.max_k + 1)]
        for k, partners in runs:
            tracemalloc.start()
            start = time.perf_counter()
            found = feasible_groups(requests, city, max_size=k, max_partners=partners)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            counts = " / ".join(f"{found.counts[s]:,}" for s in sorted(found.counts))
            name = label if partners is None else f"{label.split(' (')[0]}, partners <= {partners}"
            print(f"{name:34}{k:>3}{seconds:>9.2f}{peak:>9.1f}  {counts}", flush=True)
            rows.append(
                {
                    "limits": label,
                    "max_partners": partners,
                    "k": k,
                    "seconds": seconds,
                    "peak_mb": peak,
                    "feasible": counts,
                    "tried": " / ".join(f"{found.tried[s]:,}" for s in sorted(found.tried)),
                }
            )
    write_csv(RESULTS / "ride_groups.csv", rows)
    print(f"wrote {RESULTS / 'ride_groups.csv'}")


if __name__ == "__main__":
    main()
