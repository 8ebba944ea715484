"""Factor-revealing LPs and small inequality systems behind the ratios groupmatch states.

Each ``*_certificate`` function builds the LP in exact rationals, solves it in floating
point with OR-Tools MathOpt (GLOP), rounds the solution to rationals, repairs any
rounding slack so that the rounded dual stays exactly feasible, and returns a
:class:`~proofs.certificate.Certificate` whose :meth:`verify` re-checks it exactly.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from ortools.math_opt.python import mathopt

from proofs.certificate import Certificate, RationalLP, rationalize

__all__ = [
    "greedy_certificate",
    "lp_attenuate_certificate",
    "ranking_certificate",
    "ranking_lp",
    "ranking_lp_optimum",
    "solve_float_lp",
]


def solve_float_lp(lp: RationalLP) -> tuple[np.ndarray, np.ndarray, float]:
    """Solve ``min c.x, A x >= b, x >= 0`` with GLOP; return ``(x, y, value)``."""
    c, a, b = lp.as_float()
    model = mathopt.Model(name="certificate")
    x = [model.add_variable(lb=0.0) for _ in range(c.size)]
    rows = []
    for i in range(b.size):
        nz = np.flatnonzero(a[i])
        rows.append(
            model.add_linear_constraint(mathopt.LinearSum(a[i, j] * x[j] for j in nz) >= b[i])
        )
    model.minimize(mathopt.LinearSum(c[j] * x[j] for j in range(c.size)))
    result = mathopt.solve(model, mathopt.SolverType.GLOP)
    if result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        raise RuntimeError(f"LP not solved: {result.termination}")
    primal = np.array([result.variable_values(v) for v in x])
    dual = np.array([result.dual_values(r) for r in rows])
    return primal, dual, float(result.objective_value())


def _repair_dual(lp: RationalLP, y: list[Fraction]) -> list[Fraction]:
    """Clip at 0 and scale down so that ``A^T y <= c`` holds exactly (needs ``c > 0``)."""
    y = [max(Fraction(0), v) for v in y]
    worst = Fraction(1)
    for j, cj in enumerate(lp.c):
        column = lp.dual_column(j, y)
        if column > cj:
            if cj <= 0:
                raise ValueError("cannot repair a dual against a non-positive cost")
            worst = min(worst, cj / column)
    return [v * worst for v in y] if worst < 1 else y


def _certificate(
    claim: str, policy: str, model: str, lp: RationalLP, primal: list[Fraction], rebuild
) -> Certificate:
    x, y, _ = solve_float_lp(lp)
    dual = _repair_dual(lp, rationalize(y))
    lower = lp.dual_value(dual)
    upper = lp.primal_value(primal)
    return Certificate(
        claim=claim,
        policy=policy,
        arrival_model=model,
        lower=lower,
        upper=upper,
        lp=lp,
        dual=dual,
        primal=primal,
        float_dual=y,
        float_primal=x,
        rebuild=rebuild,
    )


# ------------------------------------------------------------------------- RANKING
def ranking_lp(n: int) -> RationalLP:
    """Build the factor-revealing LP of RANKING on ``n x n`` bipartite graphs.

    ``x_t`` is the probability that the resource of rank ``t`` is matched, for a graph
    with a perfect matching. The KVV lemma (as simplified by Birnbaum and Mathieu)
    gives ``1 - x_t <= (1/n) sum_{s <= t} x_s``; the ratio is at least
    ``min (1/n) sum_t x_t`` subject to these rows and ``x_t <= 1``.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    inv = Fraction(1, n)
    a: list[list[Fraction]] = []
    b: list[Fraction] = []
    names: list[str] = []
    for t in range(n):
        a.append([inv + (1 if s == t else 0) if s <= t else Fraction(0) for s in range(n)])
        b.append(Fraction(1))
        names.append(f"kvv[t={t + 1}]: x_t + (1/n) sum_(s<=t) x_s >= 1")
    for t in range(n):
        a.append([Fraction(-1) if s == t else Fraction(0) for s in range(n)])
        b.append(Fraction(-1))
        names.append(f"prob[t={t + 1}]: x_t <= 1")
    return RationalLP(c=[inv] * n, a=a, b=b, row_names=names)


def ranking_lp_optimum(n: int) -> Fraction:
    """Return the RANKING LP optimum in closed form, ``1 - (n / (n + 1))^n``."""
    return 1 - Fraction(n, n + 1) ** n


def ranking_certificate(n: int) -> Certificate:
    """Certify ``ratio(RANKING, n x n) >= lower`` with the LP's exact interval.

    Examples
    --------
    >>> cert = ranking_certificate(5)
    >>> bool(cert.verify()), cert.lower <= ranking_lp_optimum(5) <= cert.upper
    (True, True)
    >>> round(float(cert.lower), 6)
    0.598122
    """
    lp = ranking_lp(n)
    # all KVV rows tight: x_t = (n / (n + 1))^t, an exactly feasible primal
    primal = [Fraction(n, n + 1) ** (t + 1) for t in range(n)]
    return _certificate(
        f"RANKING is at least {{lower}}-competitive on {n} x {n} bipartite graphs",
        "ranking",
        "adversarial order",
        lp,
        primal,
        lambda: ranking_lp(n),
    )


# -------------------------------------------------------------------------- greedy
def _single_row_lp(k: int) -> RationalLP:
    # min r s.t. (k + 1) r >= 1: the charging argument's inequality (see docs/proofs)
    return RationalLP(
        c=[Fraction(1)],
        a=[[Fraction(k + 1)]],
        b=[Fraction(1)],
        row_names=[f"charging: OPT <= (k+1) ALG, k={k}"],
    )


def greedy_certificate(k: int = 1) -> Certificate:
    """Certify greedy's ``1/(k+1)`` for groups of at most ``k`` requests (``k = 1``: 1/2).

    Holds online with unit weights, and offline (edges scanned by weight) with weights.
    Every edge of an optimal matching is either chosen by greedy or blocked, when it
    was considered, by an earlier greedy edge at least as heavy that shares one of its
    at most ``k`` requests or fills its resource; each greedy edge blocks at most ``k``
    optimal edges through requests and, counting capacity units, at most one through
    its resource. So ``OPT <= (k + 1) ALG``: the LP ``min r s.t. (k + 1) r >= 1``.

    Examples
    --------
    >>> cert = greedy_certificate(2)
    >>> bool(cert.verify()), cert.lower, cert.upper
    (True, Fraction(1, 3), Fraction(1, 3))
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    lp = _single_row_lp(k)
    return _certificate(
        f"greedy is at least {{lower}}-competitive for groups of <= {k}",
        "greedy",
        "adversarial order",
        lp,
        [Fraction(1, k + 1)],
        lambda: _single_row_lp(k),
    )


# ------------------------------------------------------------ LP sample-and-attenuate
def _attenuation_lp() -> RationalLP:
    # variables (gamma', s) with gamma = 1/2 - gamma' ... kept as the direct system:
    # max gamma s.t. gamma <= 1 - gamma  <=>  min -gamma s.t. -2 gamma >= -1
    return RationalLP(
        c=[Fraction(-1)],
        a=[[Fraction(-2)]],
        b=[Fraction(-1)],
        row_names=["attenuation: gamma <= beta_min = 1 - gamma"],
    )


def lp_attenuate_certificate() -> Certificate:
    """Certify the largest valid attenuation ``gamma = 1/2`` (ratio 1/2 vs the LP).

    Availability under the policy is ``beta = 1 - gamma B`` with busy mass ``B <= 1``
    (the LP's resource rows), so ``beta >= 1 - gamma``; the attenuation ``gamma / beta``
    is a probability for every instance iff ``gamma <= 1 - gamma``. The LP below is
    ``min -gamma s.t. -2 gamma >= -1``: its optimum is ``-1/2``.

    Examples
    --------
    >>> cert = lp_attenuate_certificate()
    >>> bool(cert.verify()), -cert.upper
    (True, Fraction(1, 2))
    """
    lp = _attenuation_lp()
    return _certificate(
        "LP sample-and-attenuate accepts each edge w.p. gamma x* with "
        "gamma = 1/2 (= -LP optimum {lower})",
        "lp-attenuate",
        "known adversarial distributions, reusable resources",
        lp,
        [Fraction(1, 2)],
        _attenuation_lp,
    )
