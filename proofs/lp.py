"""Build factor-revealing LP certificates for the claims in :data:`proofs.claims.CLAIMS`.

The LP comes from the claim's registered builder, in exact rationals. It is solved in
floating point with OR-Tools MathOpt (GLOP); the dual is rounded to rationals and
repaired (clipped and scaled down) so that it stays exactly feasible, and the primal is
an exact feasible point. The resulting :class:`~proofs.certificate.Certificate` names
its claim by kind and parameters, and :meth:`~proofs.certificate.Certificate.verify`
re-checks it exactly against the LP rebuilt from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import numpy as np
from ortools.math_opt.python import mathopt

from proofs.certificate import Certificate
from proofs.claims import lp_claim, ranking_lp, ranking_lp_optimum
from proofs.exact import RationalLP, rationalize

__all__ = [
    "lp_certificate",
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


def lp_certificate(kind: str, params: Mapping[str, int], primal: list[Fraction]) -> Certificate:
    """Certify the LP of the registered claim ``kind(params)`` with an exact primal.

    Parameters
    ----------
    kind : str
        A key of :data:`proofs.claims.CLAIMS`.
    params : mapping of str to int
        The claim's parameters.
    primal : list of Fraction
        An exactly feasible primal point (the upper end is its value).

    Returns
    -------
    Certificate
        Dual from GLOP, rounded and repaired; not yet verified.

    Examples
    --------
    >>> cert = lp_certificate("ranking", {"n": 1}, [Fraction(1, 2)])
    >>> cert.lower, cert.upper, bool(cert.verify())
    (Fraction(1, 2), Fraction(1, 2), True)
    """
    lp = lp_claim(kind).lp(params)
    x, y, _ = solve_float_lp(lp)
    dual = _repair_dual(lp, rationalize(y))
    return Certificate(
        kind=kind,
        params=dict(params),
        lower=lp.dual_value(dual),
        upper=lp.primal_value(primal),
        lp=lp,
        dual=dual,
        primal=primal,
        float_dual=y,
        float_primal=x,
    )


def ranking_certificate(n: int) -> Certificate:
    """Certify ``ratio(RANKING, n x n) >= lower`` with the LP's exact interval.

    Examples
    --------
    >>> cert = ranking_certificate(5)
    >>> result = cert.verify()
    >>> bool(result), cert.lower <= ranking_lp_optimum(5) <= cert.upper
    (True, True)
    >>> result.statement
    'RANKING is at least 0.598122-competitive on 5 x 5 bipartite graphs with a perfect matching'
    """
    # all KVV rows tight: x_t = (n / (n + 1))^t, an exactly feasible primal
    primal = [Fraction(n, n + 1) ** (t + 1) for t in range(n)]
    return lp_certificate("ranking", {"n": n}, primal)
