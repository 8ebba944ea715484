"""Cost of one competitive-ratio trial, split into its parts, on known-IID bipartite graphs.

Setting: RANKING under known-IID arrivals on a random unweighted bipartite type graph
(``n`` resources, ``n`` types of degree 3, ``n`` arrivals). For each size the harness
runs ``--trials`` trials; every trial draws the arrivals, solves the one hindsight
optimum (the bipartite fast path), runs the policy through the streaming matcher and
re-verifies the run. We report trials per second, the median seconds of the policy's
run and of the exact solve, and the harness's own overhead per trial (everything else:
drawing the input, the replay check, bookkeeping), then extrapolate to 10,000 trials.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import RESULTS, write_csv

from matching.online import RankingPolicy
from matching.online_families import KnownIIDBipartite
from matching.ratio import compare_policies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 200, 400, 800, 1000])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"RANKING, known-IID arrivals, {args.trials} trials, median of {args.repeats} runs")
    head = (
        f"{'n':>5}{'trials/s':>10}{'ALG/OPT':>9}{'run ms':>9}{'OPT ms':>9}"
        f"{'overhead ms':>13}{'10k trials':>12}"
    )
    print(head)
    rows = []
    for n in args.sizes:
        family = KnownIIDBipartite(n, n, n, degree=3)
        assert family.types.n_edges  # the declared graph is built once, outside the timing
        walls, runs, opts, ratios = [], [], [], []
        for rep in range(args.repeats):
            begin = time.perf_counter()
            report = compare_policies(
                [RankingPolicy()], family, args.trials, seed=rep, with_lp=False
            )["ranking"]
            walls.append(time.perf_counter() - begin)
            runs.append(np.median([t.alg_seconds for t in report.trials]))
            opts.append(np.median([t.opt_seconds for t in report.trials]))
            ratios.append(report.ratio_opt.mean())
        wall = statistics.median(walls) / args.trials
        run, opt = statistics.median(runs), statistics.median(opts)
        overhead = max(0.0, wall - run - opt)
        row = {
            "n": n,
            "trials_per_s": 1 / wall,
            "mean_alg_opt": float(np.mean(ratios)),
            "run_ms": 1e3 * run,
            "opt_ms": 1e3 * opt,
            "overhead_ms": 1e3 * overhead,
            "minutes_for_10k": wall * 10_000 / 60,
        }
        rows.append(row)
        print(
            f"{n:>5}{row['trials_per_s']:>10.1f}{row['mean_alg_opt']:>9.3f}{row['run_ms']:>9.2f}"
            f"{row['opt_ms']:>9.2f}{row['overhead_ms']:>13.2f}{row['minutes_for_10k']:>10.1f} min"
        )
    write_csv(RESULTS / "harness_speed.csv", rows)
    print(f"wrote {RESULTS / 'harness_speed.csv'}")


if __name__ == "__main__":
    main()
