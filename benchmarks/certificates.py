"""Time to build, solve and exactly verify the certificates as their inputs grow.

RANKING's factor-revealing LP -- build: the LP in exact rationals; solve: GLOP in
floating point plus rounding and repair of the dual; verify: the exact rational re-check
(``Certificate.verify``). Stops after the first n whose total passes ``--budget`` seconds
and reports the largest n verified within it. Then the per-input certificates: greedy's
dual fitting on random groups of at most k requests, and LP-attenuate's availability
chain on a known-distribution model, each built and verified in exact arithmetic.
Writes ``benchmarks/results/certificates.csv`` and ``per_input_certificates.csv``.
"""

from __future__ import annotations

import argparse
import time

from _common import RESULTS, write_csv

from proofs import lp as prooflp
from proofs.attenuate import lp_attenuate_certificate
from proofs.catalog import attenuation_model, greedy_instance
from proofs.greedy import certify_greedy


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
    per_input_certificates()


def per_input_certificates() -> None:
    """Greedy's dual fitting and LP-attenuate's chain, built and verified per input."""
    print(f"\n{'certificate':<34}{'size':>14}{'build s':>9}{'verify s':>10}   headline")
    rows = []
    cases = [
        *[
            (
                f"greedy dual fitting, k = {k}",
                n,
                k,
                lambda n, k: certify_greedy(greedy_instance(n, k)),
            )
            for k in (2, 3)
            for n in (50, 200, 1000)
        ],
        *[
            (
                "LP-attenuate chain, k = 2",
                n,
                2,
                lambda n, k: lp_attenuate_certificate(*attenuation_model(n, k)),
            )
            for n in (4, 8, 16)
        ],
    ]
    for name, n, k, build in cases:
        t0 = time.perf_counter()
        cert = build(n, k)
        t1 = time.perf_counter()
        result = cert.verify()
        t2 = time.perf_counter()
        if not result.ok:
            raise AssertionError(f"{name}, n = {n}: {result.message}")
        rows.append(
            {
                "certificate": name,
                "n": n,
                "build_s": t1 - t0,
                "verify_s": t2 - t1,
                "headline": cert.headline(),
            }
        )
        print(f"{name:<34}{f'n = {n}':>14}{t1 - t0:>9.2f}{t2 - t1:>10.2f}   {cert.headline()}")
    write_csv(RESULTS / "per_input_certificates.csv", rows)


if __name__ == "__main__":
    main()
