"""Time to build, solve and exactly verify the RANKING certificate as n grows.

Build: the LP in exact rationals; solve: GLOP in floating point plus rounding and
repair of the dual; verify: the exact rational re-check (``Certificate.verify``).
Stops after the first n whose total passes ``--budget`` seconds and reports the
largest n verified within it. Writes ``benchmarks/results/certificates.csv``.
"""

from __future__ import annotations

import argparse
import time

from _common import RESULTS, write_csv

from proofs import lp as prooflp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[5, 10, 25, 50, 100, 200, 300, 400, 500, 600, 800]
    )
    parser.add_argument("--budget", type=float, default=60.0)
    args = parser.parse_args()
    rows, largest = [], None
    print(
        f"{'n':>5}{'build s':>10}{'solve s':>10}{'verify s':>10}{'total s':>10}"
        f"{'certified lower':>18}{'1-(n/(n+1))^n':>16}   verified"
    )
    for n in args.sizes:
        t0 = time.perf_counter()
        prooflp.ranking_lp(n)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        cert = prooflp.ranking_certificate(n)
        solve = time.perf_counter() - t1 - build  # certificate() rebuilds the LP once
        t2 = time.perf_counter()
        ok = cert.verify().ok
        verify = time.perf_counter() - t2
        total = build * 2 + solve + verify
        exact = float(prooflp.ranking_lp_optimum(n))
        rows.append(
            {
                "n": n,
                "build_s": build,
                "solve_s": solve,
                "verify_s": verify,
                "total_s": total,
                "lower": float(cert.lower),
                "exact": exact,
                "ok": ok,
            }
        )
        print(
            f"{n:>5}{build:>10.2f}{solve:>10.2f}{verify:>10.2f}{total:>10.2f}"
            f"{float(cert.lower):>18.12f}{exact:>16.12f}   {ok}",
            flush=True,
        )
        if ok and total <= args.budget:
            largest = n
        if total > args.budget:
            break
    write_csv(RESULTS / "certificates.csv", rows)
    print(f"largest n built, solved and verified within {args.budget:.0f} s: {largest}")


if __name__ == "__main__":
    main()
