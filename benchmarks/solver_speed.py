"""Solver speed, side by side with the peers, on the same instances in the same run.

Part 1, bipartite (dense uniform weights, n x n): ``matching.solve`` (auto: the
assignment fast path) vs ``scipy.optimize.linear_sum_assignment`` vs networkx
``max_weight_matching`` (skipped above ``--nx-max`` with a note).

Part 2, ride-sharing set packing (``scheduling.rides.synthetic_ride_batch``), growing to
1,000 vehicles, 5,000 riders and ~50,000 groups: CP-SAT and MathOpt/HiGHS vs the same
model through ``scipy.optimize.milp`` (HiGHS) and PuLP/CBC. Model build time is reported
apart from solve time, and peak resident memory of this process (sampled) too. Every
peer's answer is re-checked: its status is read from its own report, its objective is
recomputed from its solution and the solution is checked against the constraints.

Medians over ``--repeats`` runs. Writes ``benchmarks/results/solver_speed_*.csv`` and a PNG.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import numpy as np
import scipy.sparse as sp
from _common import RESULTS, median_time, write_csv
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

import matching
from scheduling.rides import synthetic_ride_batch


# ------------------------------------------------------------------------ bipartite
def bipartite_part(sizes, repeats, nx_max):
    import networkx as nx

    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        w = rng.random((n, n))
        inst = matching.Instance.bipartite(w)
        t_ours, res = median_time(lambda inst=inst: matching.solve(inst), repeats)
        res.check(inst)
        t_scipy, (r, c) = median_time(lambda w=w: linear_sum_assignment(w, maximize=True), repeats)
        scipy_value = float(w[r, c].sum())
        t_nx = nx_value = None
        if n <= nx_max:
            graph = nx.Graph()
            graph.add_weighted_edges_from(
                (("r", i), ("q", j), w[i, j]) for i in range(n) for j in range(n)
            )
            start = time.perf_counter()
            mate = nx.max_weight_matching(graph)
            t_nx = time.perf_counter() - start  # one run: it is the slow peer
            nx_value = sum(graph.edges[e]["weight"] for e in mate)
        rows.append(
            {
                "n": n,
                "groupmatch_s": t_ours,
                "scipy_s": t_scipy,
                "networkx_s": t_nx,
                "ours_over_scipy": t_ours / t_scipy,
                "networkx_over_ours": None if t_nx is None else t_nx / t_ours,
                "value": res.value,
                "scipy_value": scipy_value,
                "networkx_value": nx_value,
            }
        )
        assert abs(res.value - scipy_value) <= 1e-9 * n
        if nx_value is not None:
            assert abs(res.value - nx_value) <= 1e-9 * n
    return rows


# --------------------------------------------------------------------- set packing
def matrix_of(inst):
    a = sp.vstack([inst.request_edges, inst.resource_edges], format="csr")
    ub = np.concatenate([np.ones(inst.n_requests), inst.capacity])
    return a, ub


def feasible_value(inst, x):
    """Objective of a 0/1 vector after checking it against every constraint."""
    x = np.round(np.asarray(x, dtype=float))
    a, ub = matrix_of(inst)
    if (a @ x > ub + 1e-6).any():
        raise AssertionError("peer returned an infeasible solution")
    return float(inst.edge_weight @ x)


def run_scipy_milp(inst, time_limit):
    start = time.perf_counter()
    a, ub = matrix_of(inst)
    cons = LinearConstraint(a, -np.inf, ub)
    build = time.perf_counter() - start
    res = milp(
        -inst.edge_weight,
        constraints=cons,
        integrality=np.ones(inst.n_edges),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    solve = time.perf_counter() - start - build
    optimal = res.status == 0 and res.x is not None
    value = feasible_value(inst, res.x) if res.x is not None else float("nan")
    bound = -res.mip_dual_bound if getattr(res, "mip_dual_bound", None) is not None else None
    return {
        "build_s": build,
        "solve_s": solve,
        "value": value,
        "optimal": optimal,
        "bound": bound,
        "status": res.message,
    }


def run_pulp(inst, time_limit):
    import pulp

    start = time.perf_counter()
    prob = pulp.LpProblem("matching", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{e}", cat="Binary") for e in range(inst.n_edges)]
    prob += pulp.lpSum(w * v for w, v in zip(inst.edge_weight.tolist(), x, strict=True))
    req = inst.request_edges
    for q in range(inst.n_requests):
        cols = req.indices[req.indptr[q] : req.indptr[q + 1]].tolist()
        if len(cols) > 1:
            prob += pulp.lpSum(x[e] for e in cols) <= 1
    res = inst.resource_edges
    for r in range(inst.n_resources):
        cols = res.indices[res.indptr[r] : res.indptr[r + 1]].tolist()
        loads = res.data[res.indptr[r] : res.indptr[r + 1]].tolist()
        if cols:
            prob += pulp.lpSum(ld * x[e] for ld, e in zip(loads, cols, strict=True)) <= float(
                inst.capacity[r]
            )
    build = time.perf_counter() - start
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=0.0)
    prob.solve(solver)
    solve = time.perf_counter() - start - build
    # PuLP reports "Optimal" also when CBC stopped on its time limit with a solution,
    # so optimality is only claimed when the run ended well before the limit.
    status = pulp.LpStatus[prob.status]
    values = np.array([v.varValue or 0.0 for v in x])
    optimal = status == "Optimal" and solve < 0.95 * time_limit
    return {
        "build_s": build,
        "solve_s": solve,
        "value": feasible_value(inst, values),
        "optimal": optimal,
        "bound": None,
        "status": status,
    }


def run_ours(inst, method, time_limit, **options):
    res = matching.solve(inst, method, time_limit=time_limit, **options)
    res.check(inst)
    return {
        "build_s": res.stats["build_time"],
        "solve_s": res.stats["solve_time"],
        "value": res.value,
        "optimal": res.status is matching.Status.OPTIMAL,
        "bound": res.bound,
        "status": res.status.value,
    }


def _rss_bytes():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def with_peak(fn):
    """Run ``fn`` while sampling this process's resident memory every 20 ms.

    Reports the peak rise above the level before the run. CBC runs in a child process
    that this does not see, so PuLP's figure covers only its Python-side model.
    """
    base = _rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    out["peak_mib"] = (max(peak[0], _rss_bytes()) - base) / 2**20
    return out


def set_packing_part(sizes, repeats, time_limit, skip_pulp_above):
    rows = []
    for n_veh, n_req, radius in sizes:
        inst = synthetic_ride_batch(n_veh, n_req, share_radius=radius, seed=1).instance
        runners = {
            "cpsat": lambda inst=inst: run_ours(inst, "cpsat", time_limit),
            "mathopt-highs": lambda inst=inst: run_ours(inst, "mip", time_limit),
            "scipy-milp": lambda inst=inst: run_scipy_milp(inst, time_limit),
        }
        if n_req <= skip_pulp_above:
            runners["pulp-cbc"] = lambda inst=inst: run_pulp(inst, time_limit)
        for name, fn in runners.items():
            outs = [with_peak(fn) for _ in range(repeats)]
            total = [o["build_s"] + o["solve_s"] for o in outs]
            best = outs[int(np.argsort(total)[len(total) // 2])]
            rows.append(
                {
                    "vehicles": n_veh,
                    "riders": n_req,
                    "groups": inst.n_groups,
                    "edges": inst.n_edges,
                    "solver": name,
                    "build_s": statistics.median(o["build_s"] for o in outs),
                    "solve_s": statistics.median(o["solve_s"] for o in outs),
                    "total_s": statistics.median(total),
                    "value": best["value"],
                    "optimal": all(o["optimal"] for o in outs),
                    "peak_mib": max(o["peak_mib"] for o in outs),
                    "status": best["status"],
                }
            )
            print(
                f"  {n_veh:>5} veh {n_req:>5} riders {inst.n_groups:>6} groups  "
                f"{name:<14} total {rows[-1]['total_s']:8.2f}s  value {best['value']:.3f}"
                f"  optimal={rows[-1]['optimal']}",
                flush=True,
            )
    return rows


def plot(bip, packing, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if packing else 1, figsize=(11 if packing else 6, 4))
    ax1 = axes[0] if packing else axes
    ns = [r["n"] for r in bip]
    ax1.plot(ns, [r["groupmatch_s"] for r in bip], "o-", label="groupmatch (auto)")
    ax1.plot(ns, [r["scipy_s"] for r in bip], "s--", label="scipy linear_sum_assignment")
    nx_rows = [r for r in bip if r["networkx_s"] is not None]
    ax1.plot(
        [r["n"] for r in nx_rows],
        [r["networkx_s"] for r in nx_rows],
        "^:",
        label="networkx max_weight_matching",
    )
    ax1.set(
        xlabel="n (n x n dense)",
        ylabel="seconds (median)",
        yscale="log",
        title="bipartite matching",
    )
    ax1.legend()
    if not packing:
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        return
    ax2 = axes[1]
    for solver in dict.fromkeys(r["solver"] for r in packing):
        pts = [r for r in packing if r["solver"] == solver]
        ax2.plot([r["groups"] for r in pts], [r["total_s"] for r in pts], "o-", label=solver)
    ax2.set(
        xlabel="groups",
        ylabel="build + solve seconds (median)",
        xscale="log",
        yscale="log",
        title="ride-sharing set packing",
    )
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bipartite", type=int, nargs="*", default=[200, 500, 1000, 2000])
    parser.add_argument(
        "--nx-max",
        type=int,
        default=200,
        help="largest n given to networkx (it needs over a minute above)",
    )
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--packing-repeats", type=int, default=1)
    parser.add_argument(
        "--pulp-max", type=int, default=5000, help="largest rider count given to PuLP/CBC"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--skip-packing", action="store_true", help="bipartite part only")
    parser.add_argument("--skip-bipartite", action="store_true", help="set packing only")
    parser.add_argument("--max-riders", type=int, default=5000, help="largest batch to run")
    parser.add_argument("--min-riders", type=int, default=0, help="smallest batch to run")
    args = parser.parse_args()
    sizes = [
        (50, 250, 1.9),
        (100, 500, 1.6),
        (200, 1000, 1.4),
        (400, 2000, 1.25),
        (1000, 5000, 1.08),
    ]
    if args.quick:
        args.bipartite, sizes = [100, 200], sizes[:2]
    sizes = [s for s in sizes if args.min_riders <= s[1] <= args.max_riders]
    if args.skip_bipartite:
        args.bipartite = []

    print("bipartite (dense uniform weights), median of", args.repeats, "runs")
    bip = bipartite_part(args.bipartite, args.repeats, args.nx_max)
    print(
        f"{'n':>6}{'groupmatch s':>14}{'scipy s':>10}{'networkx s':>12}"
        f"{'ours/scipy':>12}{'nx/ours':>10}"
    )
    for r in bip:
        nx_s = "skipped" if r["networkx_s"] is None else f"{r['networkx_s']:.2f}"
        ratio = "-" if r["networkx_over_ours"] is None else f"{r['networkx_over_ours']:.0f}x"
        print(
            f"{r['n']:>6}{r['groupmatch_s']:>14.4f}{r['scipy_s']:>10.4f}{nx_s:>12}"
            f"{r['ours_over_scipy']:>12.2f}{ratio:>10}"
        )
    skipped = [r["n"] for r in bip if r["networkx_s"] is None]
    if skipped:
        print(
            f"networkx skipped for n = {skipped}: above --nx-max={args.nx_max}, where its "
            "O(n^3) blossom algorithm in pure Python takes over a minute"
        )

    if bip:
        write_csv(RESULTS / "solver_speed_bipartite.csv", bip)
    if args.skip_packing:
        plot(bip, [], RESULTS / "solver_speed_bipartite.png")
        print(f"\nwrote {RESULTS}/solver_speed_bipartite.csv and .png")
        return
    print("\nride-sharing set packing, time limit", args.time_limit, "s")
    packing = set_packing_part(sizes, args.packing_repeats, args.time_limit, args.pulp_max)
    print(
        f"\n{'riders':>7}{'groups':>8}{'edges':>9} {'solver':<15}{'build s':>9}{'solve s':>9}"
        f"{'total s':>9}{'optimal':>9}{'peak MiB':>10}{'value':>13}"
    )
    for r in packing:
        print(
            f"{r['riders']:>7}{r['groups']:>8}{r['edges']:>9} {r['solver']:<15}"
            f"{r['build_s']:>9.2f}{r['solve_s']:>9.2f}{r['total_s']:>9.2f}"
            f"{r['optimal']!s:>9}{r['peak_mib']:>10.1f}{r['value']:>13.3f}"
        )
    print("\nratios (peer total time / cpsat total time):")
    for riders in dict.fromkeys(r["riders"] for r in packing):
        rows = {r["solver"]: r for r in packing if r["riders"] == riders}
        cp = rows["cpsat"]["total_s"]
        parts = [
            f"{name} {row['total_s'] / cp:.2f}x" for name, row in rows.items() if name != "cpsat"
        ]
        print(f"  {riders:>5} riders: " + ", ".join(parts))
    write_csv(RESULTS / "solver_speed_packing.csv", packing)
    plot(bip, packing, RESULTS / "solver_speed.png")
    print(f"\nwrote {RESULTS}/solver_speed_*.csv and solver_speed.png")


if __name__ == "__main__":
    main()
