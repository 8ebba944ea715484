"""Certificates: a claimed ratio, the LP behind it, and an exact rational check.

A certificate is built for a *minimisation* LP in the standard form

    minimise c.x   subject to   A x >= b,   x >= 0,

whose optimum lower-bounds a competitive ratio (a factor-revealing LP), or for any LP
written that way. Weak duality proves ``optimum >= b.y`` for every ``y >= 0`` with
``A^T y <= c``, and ``optimum <= c.x`` for every feasible ``x``. :meth:`Certificate.verify`
re-checks both, and that the claimed interval is exactly ``[b.y, c.x]``, in
:class:`fractions.Fraction` arithmetic (no floats), after rebuilding the LP from its
definition so that a changed coefficient is caught too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = ["Certificate", "RationalLP", "Verification", "rationalize"]

Matrix = list[list[Fraction]]


@dataclass(frozen=True)
class RationalLP:
    """``minimise c.x s.t. A x >= b, x >= 0`` with rational data and named rows."""

    c: list[Fraction]
    a: Matrix
    b: list[Fraction]
    row_names: list[str]

    def __post_init__(self) -> None:
        if len(self.a) != len(self.b) or len(self.row_names) != len(self.b):
            raise ValueError("A, b and row_names need one entry per row")
        if any(len(row) != len(self.c) for row in self.a):
            raise ValueError("every row of A needs one entry per variable")

    def dual_column(self, j: int, y: list[Fraction]) -> Fraction:
        """Return ``(A^T y)_j`` in exact arithmetic."""
        return sum((row[j] * yi for row, yi in zip(self.a, y, strict=True) if row[j]), Fraction(0))

    def row_value(self, i: int, x: list[Fraction]) -> Fraction:
        """Return ``(A x)_i`` in exact arithmetic."""
        return sum((aij * xj for aij, xj in zip(self.a[i], x, strict=True) if aij), Fraction(0))

    def dual_value(self, y: list[Fraction]) -> Fraction:
        """Return ``b.y``, the lower bound a feasible dual proves."""
        return sum((bi * yi for bi, yi in zip(self.b, y, strict=True)), Fraction(0))

    def primal_value(self, x: list[Fraction]) -> Fraction:
        """Return ``c.x``, the upper bound a feasible primal proves."""
        return sum((cj * xj for cj, xj in zip(self.c, x, strict=True)), Fraction(0))

    def as_float(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(c, A, b)`` as float arrays, for a floating-point solver."""
        return (
            np.array(self.c, dtype=float),
            np.array(self.a, dtype=float),
            np.array(self.b, dtype=float),
        )


def rationalize(values: np.ndarray, max_denominator: int = 10**12) -> list[Fraction]:
    """Round floats to nearby fractions (``Fraction.limit_denominator``)."""
    return [Fraction(float(v)).limit_denominator(max_denominator) for v in values]


@dataclass(frozen=True)
class Verification:
    """Outcome of :meth:`Certificate.verify`: ``ok`` and, if not, the first violation."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class Certificate:
    """A claim about a policy's competitive ratio, with what proves it.

    Attributes
    ----------
    claim : str
        The statement, in words.
    policy, arrival_model : str
    lower, upper : Fraction
        The certified interval: the LP optimum (and so the ratio bound the theorem
        derives from it) lies in ``[lower, upper]``.
    lp : RationalLP
        The inequality system.
    dual : list of Fraction
        ``y >= 0`` with ``A^T y <= c``; proves ``optimum >= b.y = lower``.
    primal : list of Fraction
        Feasible ``x``; proves ``optimum <= c.x = upper``.
    float_dual, float_primal : ndarray
        The floating-point solution the rationals were rounded from.
    rebuild : callable
        Builds the LP again from its definition (for :meth:`verify`).
    """

    claim: str
    policy: str
    arrival_model: str
    lower: Fraction
    upper: Fraction
    lp: RationalLP
    dual: list[Fraction]
    primal: list[Fraction]
    float_dual: np.ndarray = field(repr=False)
    float_primal: np.ndarray = field(repr=False)
    rebuild: Callable[[], RationalLP] | None = field(default=None, repr=False)

    def verify(self) -> Verification:
        """Re-check everything in exact rational arithmetic.

        Returns
        -------
        Verification
            ``ok`` True, or False with the first violated inequality named.
        """
        lp = self.lp
        if self.rebuild is not None:
            fresh = self.rebuild()
            for name, mine, theirs in (("c", lp.c, fresh.c), ("b", lp.b, fresh.b)):
                for i, (u, v) in enumerate(zip(mine, theirs, strict=True)):
                    if u != v:
                        return Verification(
                            False, f"LP data {name}[{i}] = {u} differs from its definition ({v})"
                        )
            for i, (row, fresh_row) in enumerate(zip(lp.a, fresh.a, strict=True)):
                for j, (u, v) in enumerate(zip(row, fresh_row, strict=True)):
                    if u != v:
                        return Verification(
                            False, f"LP data A[{i}][{j}] = {u} differs from its definition ({v})"
                        )
        if len(self.dual) != len(lp.b) or len(self.primal) != len(lp.c):
            return Verification(False, "dual or primal has the wrong length")
        for i, y in enumerate(self.dual):
            if y < 0:
                return Verification(False, f"dual y[{i}] = {y} < 0 (row {lp.row_names[i]})")
        for j in range(len(lp.c)):
            column = lp.dual_column(j, self.dual)
            if column > lp.c[j]:
                return Verification(
                    False, f"dual constraint of variable {j}: A^T y = {column} > c = {lp.c[j]}"
                )
        lower = lp.dual_value(self.dual)
        if lower != self.lower:
            return Verification(False, f"claimed lower bound {self.lower} != b.y = {lower}")
        for j, x in enumerate(self.primal):
            if x < 0:
                return Verification(False, f"primal x[{j}] = {x} < 0")
        for i in range(len(lp.b)):
            lhs = lp.row_value(i, self.primal)
            if lhs < lp.b[i]:
                return Verification(False, f"primal row {lp.row_names[i]}: {lhs} < {lp.b[i]}")
        upper = lp.primal_value(self.primal)
        if upper != self.upper:
            return Verification(False, f"claimed upper bound {self.upper} != c.x = {upper}")
        return Verification(
            True, f"verified: {float(self.lower):.9f} <= LP optimum <= {float(self.upper):.9f}"
        )
