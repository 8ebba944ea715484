"""Exact rational data shared by every certificate: LPs, outcomes and kinds of check.

Nothing here uses floating point except :func:`rationalize` (which turns a solver's
floats into fractions) and :meth:`RationalLP.as_float` (which hands the exact data to a
floating-point solver).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import numpy as np

__all__ = [
    "Certified",
    "Check",
    "RationalLP",
    "Verification",
    "exact",
    "floor_decimal",
    "rationalize",
    "scaled_into_rows",
    "show",
]

Matrix = list[list[Fraction]]


class Check(enum.Enum):
    """What an exact check establishes, from strongest scope to none.

    Attributes
    ----------
    LP_DUALITY
        Weak duality, checked exactly: the optimum of a factor-revealing LP lies in
        ``[lower, upper]``. That the LP bounds the ratio is a written lemma.
    DUAL_FITTING
        On one instance: ``OPT <= LP <= dual <= (k + 1) ALG`` with the dual built from
        the algorithm's output and every dual row checked.
    ATTENUATION
        On one known model: the LP rows, the busy masses and every acceptance
        probability ``gamma / beta <= 1``, hence ``E[ALG] = gamma * LP(x)``.
    WRITTEN
        A written proof only; no machine check, so no "certified" badge.

    Examples
    --------
    >>> Check.DUAL_FITTING.certified, Check.WRITTEN.certified
    (True, False)
    """

    LP_DUALITY = "LP duality"
    DUAL_FITTING = "dual fitting"
    ATTENUATION = "attenuation"
    WRITTEN = "written proof"

    @property
    def certified(self) -> bool:
        """Whether a machine check stands behind the claim."""
        return self is not Check.WRITTEN

    @property
    def scope(self) -> str:
        """What the check covers, in words."""
        return _SCOPES[self]


_SCOPES = {
    Check.LP_DUALITY: "the factor-revealing LP's optimum, exactly; its link to the ratio "
    "is a written lemma",
    Check.DUAL_FITTING: "one instance: OPT <= LP <= dual <= (k+1) ALG",
    Check.ATTENUATION: "one known model: LP rows, busy mass, every gamma/beta <= 1",
    Check.WRITTEN: "nothing machine-checked",
}


@dataclass(frozen=True)
class RationalLP:
    """``minimise c.x s.t. A x >= b, x >= 0`` with rational data and named rows.

    Examples
    --------
    >>> lp = RationalLP(c=[Fraction(1)], a=[[Fraction(2)]], b=[Fraction(1)], row_names=["r"])
    >>> lp.row_value(0, [Fraction(1, 2)]), lp.primal_value([Fraction(1, 2)])
    (Fraction(1, 1), Fraction(1, 2))
    """

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
        return exact(row[j] * yi for row, yi in zip(self.a, y, strict=True) if row[j])

    def row_value(self, i: int, x: list[Fraction]) -> Fraction:
        """Return ``(A x)_i`` in exact arithmetic."""
        return exact(aij * xj for aij, xj in zip(self.a[i], x, strict=True) if aij)

    def dual_value(self, y: list[Fraction]) -> Fraction:
        """Return ``b.y``, the lower bound a feasible dual proves."""
        return exact(bi * yi for bi, yi in zip(self.b, y, strict=True))

    def primal_value(self, x: list[Fraction]) -> Fraction:
        """Return ``c.x``, the upper bound a feasible primal proves."""
        return exact(cj * xj for cj, xj in zip(self.c, x, strict=True))

    def as_float(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(c, A, b)`` as float arrays, for a floating-point solver."""
        return (
            np.array(self.c, dtype=float),
            np.array(self.a, dtype=float),
            np.array(self.b, dtype=float),
        )

    def first_difference(self, other: RationalLP) -> str | None:
        """Name the first entry where ``self`` and ``other`` differ, or return None.

        Examples
        --------
        >>> one = RationalLP([Fraction(1)], [[Fraction(1)]], [Fraction(1)], ["x >= 1"])
        >>> two = RationalLP([Fraction(1)], [[Fraction(2)]], [Fraction(1)], ["2x >= 1"])
        >>> one.first_difference(two)
        'A[0][0] = 1 differs (expected 2)'
        """
        shape, expected = (len(self.b), len(self.c)), (len(other.b), len(other.c))
        if shape != expected:
            return (
                f"{shape[0]} rows x {shape[1]} variables (expected {expected[0]} x {expected[1]})"
            )
        for name, mine, theirs in (("c", self.c, other.c), ("b", self.b, other.b)):
            for i, (u, v) in enumerate(zip(mine, theirs, strict=True)):
                if u != v:
                    return f"{name}[{i}] = {u} differs (expected {v})"
        for i, (row, expected_row) in enumerate(zip(self.a, other.a, strict=True)):
            for j, (u, v) in enumerate(zip(row, expected_row, strict=True)):
                if u != v:
                    return f"A[{i}][{j}] = {u} differs (expected {v})"
        for i, (u, v) in enumerate(zip(self.row_names, other.row_names, strict=True)):
            if u != v:
                return f"row {i} is named {u!r} (expected {v!r})"
        return None


def exact(terms: Iterable[Fraction]) -> Fraction:
    """Sum fractions exactly, starting from ``Fraction(0)``.

    Examples
    --------
    >>> exact([Fraction(1, 3), Fraction(1, 6)])
    Fraction(1, 2)
    """
    return sum(terms, Fraction(0))


def floor_decimal(value: Fraction, digits: int = 6) -> str:
    """Write ``value`` rounded *down* to ``digits`` decimals, so a lower bound stays one.

    Examples
    --------
    >>> floor_decimal(Fraction(2, 3)), floor_decimal(Fraction(-2, 3), 2)
    ('0.666666', '-0.67')
    """
    scale = 10**digits
    units = (value * scale).numerator // (value * scale).denominator
    sign = "-" if units < 0 else ""
    whole, rest = divmod(abs(units), scale)
    return f"{sign}{whole}.{rest:0{digits}d}"


def show(value: Fraction, max_denominator: int = 10**6) -> str:
    """Write ``value`` exactly when its denominator is small, else as ``~`` a float.

    For messages only: every comparison is made on the exact value.

    Examples
    --------
    >>> show(Fraction(3, 4)), show(Fraction(1, 3**20))
    ('3/4', '~2.86797199e-10')
    """
    if value.denominator <= max_denominator:
        return str(value)
    return f"~{float(value):.9g}"


def rationalize(values: np.ndarray, max_denominator: int = 10**12) -> list[Fraction]:
    """Round floats to nearby fractions (``Fraction.limit_denominator``).

    Examples
    --------
    >>> rationalize(np.array([0.5, 1 / 3]))
    [Fraction(1, 2), Fraction(1, 3)]
    """
    return [Fraction(float(v)).limit_denominator(max_denominator) for v in values]


def scaled_into_rows(
    x: tuple[tuple[Fraction, ...], ...],
    rows: Callable[[tuple[tuple[Fraction, ...], ...]], Iterable[tuple[str, Fraction, Fraction]]],
) -> tuple[tuple[Fraction, ...], ...]:
    """Clip the table ``x`` at 0 and scale it down until every row ``lhs <= rhs`` holds.

    ``rows(x)`` yields ``(name, lhs, rhs)`` for every row of a packing LP (non-negative
    coefficients), so one common factor ``min(rhs / lhs)`` makes all of them hold.

    Examples
    --------
    >>> def rows(x):
    ...     yield "sum", x[0][0] + x[0][1], Fraction(1)
    >>> scaled_into_rows(((Fraction(3, 4), Fraction(1, 2)),), rows)
    ((Fraction(3, 5), Fraction(2, 5)),)
    """
    x = tuple(tuple(max(Fraction(0), v) for v in row) for row in x)
    scale = min((rhs / lhs for _, lhs, rhs in rows(x) if lhs > rhs), default=1)
    return x if scale == 1 else tuple(tuple(v * scale for v in row) for row in x)


@dataclass(frozen=True)
class Verification:
    """Outcome of a certificate's ``verify()``.

    Attributes
    ----------
    ok : bool
    message : str
        What was verified, or the first violated inequality or precondition.
    statement : str
        The claim, worded from the values just verified; empty when ``ok`` is False.
    """

    ok: bool
    message: str
    statement: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @classmethod
    def fail(cls, message: str) -> Verification:
        """Return a failed verification (no statement)."""
        return cls(False, message)


class Certified(Protocol):
    """What every certificate offers: its kind of check, its claim and ``verify()``."""

    check: Check

    @property
    def policy(self) -> str:
        """The policy the claim is about."""
        ...

    @property
    def arrival_model(self) -> str:
        """The arrival model the claim is about."""
        ...

    def verify(self) -> Verification:
        """Re-check everything exactly."""
        ...

    def headline(self) -> str:
        """Return the certified bound in a few words."""
        ...

    def details(self) -> list[str]:
        """Return what was checked, one line each."""
        ...
