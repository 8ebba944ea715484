"""Time limits kept: wall time of every exact method on large instances at a limit T.

For each instance and ``T`` in ``--limits`` runs ``matching.solve`` with ``cpsat``,
``mip`` (HiGHS) and ``lp`` (GLOP) at ``time_limit=T`` and, in the same run, the same
integer program through ``scipy.optimize.milp`` (HiGHS) with the same limit. Prints the
median wall time over ``--repeats`` runs (model building included), the status and the
value and bound of the median run (scipy.milp: ``--peer-repeats`` runs, default 1, as
its HiGHS presolve can overrun the limit by a minute), and flags a wall time above
``1.2 T + 0.5`` s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp
from _common import RESULTS, write_csv
from scipy.optimize import Bounds, LinearConstraint, milp

import matching
from matching.families import random_bipartite, random_groups

INSTANCES = {
    "groups-k1 (400 x 20k, 100k edges)": lambda: random_groups(
        400, 20000, 20000, max_group_size=1, degree=5, capacity=10, max_load=5, seed=1
    ),
    "bipartite (2k x 2k, 3%)": lambda: random_bipartite(2000, 2000, density=0.03, seed=3),
    "groups-k3 (500 x 20k, 160k edges)": lambda: random_groups(
        500, 20000, 40000, max_group_size=3, degree=4, capacity=5, max_load=3, seed=2
    ),
}
METHODS = ("cpsat", "mip", "lp")


def scipy_milp(inst: matching.Instance, limit: float) -> dict:
    """The same integer program through scipy.optimize.milp, timed whole."""
    start = time.perf_counter()
    a = sp.vstack([inst.request_edges, inst.resource_edges], format="csr")
    ub = np.concatenate([np.ones(inst.n_requests), inst.capacity])
    res = milp(
        -inst.edge_weight,
        constraints=LinearConstraint(a, -np.inf, ub),
        integrality=np.ones(inst.n_edges),
        bounds=Bounds(0, 1),
        options={"time_limit": limit, "mip_rel_gap": 0.0},
    )
    wall = time.perf_counter() - start
    value = float(inst.edge_weight @ np.round(res.x)) if res.x is not None else float("nan")
    bound = getattr(res, "mip_dual_bound", None)
    return {
        "wall": wall,
        "status": str(res.message).split(":")[0][:28],
        "value": value,
        "bound": -bound if bound is not None else float("nan"),
    }


def ours(inst: matching.Instance, method: str, limit: float) -> dict:
    start = time.perf_counter()
    res = matching.solve(inst, method, time_limit=limit)
    wall = time.perf_counter() - start
    res.check(inst)
    return {"wall": wall, "status": res.status.value, "value": res.value, "bound": res.bound}


def median_run(fn, repeats: int) -> dict:
    runs = sorted((fn() for _ in range(repeats)), key=lambda r: r["wall"])
    out = dict(runs[len(runs) // 2])
    out["wall"] = statistics.median(r["wall"] for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--peer-repeats", type=int, default=1, help="runs of scipy.milp (it can overrun a lot)"
    )
    parser.add_argument(
        "--instances",
        nargs="*",
        default=[name.split()[0] for name in INSTANCES],
        help="short names: " + ", ".join(name.split()[0] for name in INSTANCES),
    )
    args = parser.parse_args()
    short = {name.split()[0]: name for name in INSTANCES}
    unknown = [name for name in args.instances if name not in short]
    if unknown:
        parser.error(f"unknown instance {unknown[0]!r}; choose from {sorted(short)}")
    rows = []
    header = f"{'instance':36} {'method':12} {'T':>4} {'wall s':>7} {'ok':>3} {'status':28} "
    print(header + f"{'value':>14} {'bound':>14}")
    for name in (short[name] for name in args.instances):
        inst = INSTANCES[name]()
        for limit in args.limits:
            for method in (*METHODS, "scipy.milp"):
                if method == "scipy.milp":
                    r = median_run(lambda i=inst, t=limit: scipy_milp(i, t), args.peer_repeats)
                else:
                    r = median_run(lambda i=inst, m=method, t=limit: ours(i, m, t), args.repeats)
                ok = "yes" if r["wall"] <= 1.2 * limit + 0.5 else "NO"
                print(
                    f"{name:36} {method:12} {limit:4g} {r['wall']:7.2f} {ok:>3} "
                    f"{r['status']:28} {r['value']:14.6g} {r['bound']:14.6g}",
                    flush=True,
                )
                rows.append({"instance": name, "method": method, "T": limit, **r})
    write_csv(RESULTS / "time_limits.csv", rows)


if __name__ == "__main__":
    main()
