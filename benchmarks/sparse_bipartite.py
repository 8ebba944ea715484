"""Bipartite matching speed: sparse graphs and dense grids, side by side with the peers.

Part 1, sparse (n resources x n requests, 5 random edges per resource, uniform(0, 1)
weights): ``matching.solve(inst)`` (auto: the bipartite path, an OR-Tools min-cost
flow with an LP dual certificate), ``matching.solve(inst, "lp")`` (GLOP) and scipy's
``min_weight_full_bipartite_matching`` on the same graph (resources as rows, one private
zero-value column per resource so that a resource may stay free). The peers run in a
child process under a time budget and print ``>T`` when they exceed it. Every value
found must agree.

Part 2, dense (OR-Library assign-style: n x n random integer costs 1..100, maximised):
``solve`` on ``Instance.bipartite(W)``, on ``Instance.from_arrays`` of the same edges in
row-major order and in a shuffled order, and ``scipy.optimize.linear_sum_assignment(W,
maximize=True)``; ratios to scipy.

Medians over ``--repeats`` runs (instances are built outside the timed calls). Writes
``benchmarks/results/sparse_bipartite_*.csv``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import numpy as np
import scipy.sparse as sp
from _common import RESULTS, median_time, write_csv
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

import matching


def _child(fn, repeats, pipe):
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        pipe.send((time.perf_counter() - start, out))


def capped(fn, repeats, budget):
    """Median time and result of ``fn`` run in a child process; (None, None) when a run
    takes longer than ``budget`` seconds (the peer is then stopped)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(fn, repeats, send))
    process.start()
    times, out = [], None
    for _ in range(repeats):
        if not receive.poll(budget):
            times = []
            break
        seconds, out = receive.recv()
        times.append(seconds)
    process.kill()
    process.join()
    return (statistics.median(times), out) if times else (None, None)


def sparse_instance(n, degree, seed):
    """``n x n``, ``degree`` random edges per resource (repeats dropped), uniform weights."""
    rng = np.random.default_rng(seed)
    keys = np.unique(
        np.repeat(np.arange(n), degree) * np.int64(n) + rng.integers(0, n, n * degree)
    )
    rows, cols = np.divmod(keys, n)
    return matching.Instance.from_arrays(
        group_ptr=np.arange(n + 1),
        group_members=np.arange(n),
        edge_resource=rows,
        edge_group=cols,
        edge_weight=rng.random(keys.size),
        n_resources=n,
    )


def scipy_sparse_value(inst):
    """Maximum-weight matching through ``min_weight_full_bipartite_matching``.

    Rows are the resources; columns the requests then one private column per resource.
    Costs are ``2 - w`` (weights in (0, 1)) and 2 for staying free: every row is matched
    once, so the constant 2 changes nothing.
    """
    n_r, n_q = inst.n_resources, inst.n_requests
    rows = np.concatenate([inst.edge_resource, np.arange(n_r)])
    cols = np.concatenate([inst.edge_group, n_q + np.arange(n_r)])
    cost = np.concatenate([2.0 - inst.edge_weight, np.full(n_r, 2.0)])
    graph = sp.csr_array((cost, (rows, cols)), shape=(n_r, n_q + n_r))
    match_rows, match_cols = min_weight_full_bipartite_matching(graph)
    real = match_cols < n_q
    weights = sp.csr_array((inst.edge_weight, (inst.edge_resource, inst.edge_group)))
    return float(np.asarray(weights[match_rows[real], match_cols[real]]).sum())


def sparse_part(sizes, degree, repeats, budget):
    out = []
    for n in sizes:
        inst = sparse_instance(n, degree, seed=n)
        t_auto, res = median_time(lambda inst=inst: matching.solve(inst), repeats)
        res.check(inst)
        t_lp, lp = capped(lambda inst=inst: matching.solve(inst, "lp"), repeats, budget)
        t_sp, sp_value = capped(lambda inst=inst: scipy_sparse_value(inst), repeats, budget)
        values = [res.value] + [v for v in (lp and lp.value, sp_value) if v is not None]
        agree = max(values) - min(values) <= 1e-9 * max(1.0, abs(res.value))
        out.append(
            {
                "n": n,
                "edges": inst.n_edges,
                "auto_s": t_auto,
                "lp_s": t_lp,
                "scipy_s": t_sp,
                "lp_over_auto": None if t_lp is None else t_lp / t_auto,
                "scipy_over_auto": None if t_sp is None else t_sp / t_auto,
                "value": res.value,
                "bound": res.bound,
                "lp_value": None if lp is None else lp.value,
                "scipy_value": sp_value,
                "values_agree": agree,
            }
        )
        print_sparse_row(out[-1], budget)
        assert agree, values
    return out


def print_sparse_row(r, budget):
    def cell(value, width, fmt):
        return f"{'>' + format(budget, 'g'):>{width}}" if value is None else format(value, fmt)

    def ratio(value):
        return (
            f"{'>' + format(budget / r['auto_s'], '.1f'):>9}"
            if value is None
            else f"{value:>9.1f}"
        )

    print(
        f"{r['n']:>8}{r['edges']:>9}{r['auto_s']:>9.3f}{cell(r['lp_s'], 9, '>9.3f')}"
        f"{cell(r['scipy_s'], 9, '>9.3f')}{ratio(r['lp_over_auto'])}"
        f"{ratio(r['scipy_over_auto'])}{r['values_agree']!s:>7}",
        flush=True,
    )


def dense_part(sizes, repeats):
    out = []
    for n in sizes:
        rng = np.random.default_rng(n)
        w = rng.integers(1, 101, size=(n, n)).astype(float)
        perm = rng.permutation(n * n)
        rows, cols = np.divmod(np.arange(n * n), n)
        grid = matching.Instance.bipartite(w)
        arrays = {"group_ptr": np.arange(n + 1), "group_members": np.arange(n)}
        row_major = matching.Instance.from_arrays(
            **arrays, edge_resource=rows, edge_group=cols, edge_weight=w.ravel()
        )
        shuffled = matching.Instance.from_arrays(
            **arrays, edge_resource=rows[perm], edge_group=cols[perm], edge_weight=w.ravel()[perm]
        )
        fresh = matching.Instance.from_arrays(
            **arrays, edge_resource=rows[perm], edge_group=cols[perm], edge_weight=w.ravel()[perm]
        )
        t_detect, _ = median_time(lambda fresh=fresh: fresh.dense_layout, 1)
        t_scipy, (r, c) = median_time(lambda w=w: linear_sum_assignment(w, maximize=True), repeats)
        expected = float(w[r, c].sum())
        row = {"n": n, "scipy_s": t_scipy}
        for name, inst in (
            ("bipartite", grid),
            ("from_arrays", row_major),
            ("shuffled", shuffled),
        ):
            t, res = median_time(lambda inst=inst: matching.solve(inst), repeats)
            assert res.check(inst) and res.value == expected, (name, res.value, expected)
            row[f"{name}_s"] = t
            row[f"{name}_over_scipy"] = t / t_scipy
        row["shuffled_detect_s"] = t_detect
        out.append(row)
        print(
            f"{n:>6}{row['bipartite_s']:>12.5f}{row['from_arrays_s']:>14.5f}"
            f"{row['shuffled_s']:>11.5f}{t_scipy:>10.5f}{row['bipartite_over_scipy']:>9.2f}"
            f"{row['from_arrays_over_scipy']:>9.2f}{row['shuffled_over_scipy']:>9.2f}"
            f"{t_detect:>10.5f}",
            flush=True,
        )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 20_000, 40_000, 200_000])
    parser.add_argument("--degree", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per peer and size")
    parser.add_argument("--dense", type=int, nargs="*", default=[100, 200, 400, 800])
    parser.add_argument("--dense-repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.dense, args.budget = [2_000, 5_000], [100, 200], 30.0

    print(f"sparse bipartite, {args.degree} edges per resource, median of {args.repeats} runs")
    print(
        f"{'n':>8}{'edges':>9}{'auto s':>9}{'lp s':>9}{'scipy s':>9}"
        f"{'lp/auto':>9}{'sp/auto':>9}{'agree':>7}"
    )
    sparse = sparse_part(args.sizes, args.degree, args.repeats, args.budget)
    print(f"\ndense integer costs 1..100, median of {args.dense_repeats} runs")
    print(
        f"{'n':>6}{'bipartite s':>12}{'from_arrays s':>14}{'shuffled s':>11}{'scipy s':>10}"
        f"{'bip/sp':>9}{'arr/sp':>9}{'shuf/sp':>9}{'detect s':>10}"
    )
    dense = dense_part(args.dense, args.dense_repeats)
    if sparse:
        write_csv(RESULTS / "sparse_bipartite_sparse.csv", sparse)
    if dense:
        write_csv(RESULTS / "sparse_bipartite_dense.csv", dense)
    print(f"\nwrote {RESULTS}/sparse_bipartite_*.csv")


if __name__ == "__main__":
    main()
