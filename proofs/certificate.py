"""Factor-revealing LP certificates, bound to a registered claim.

A certificate is built for a *minimisation* LP in the standard form

    minimise c.x   subject to   A x >= b,   x >= 0,

whose optimum lower-bounds a competitive ratio. Weak duality proves
``optimum >= b.y`` for every ``y >= 0`` with ``A^T y <= c``, and ``optimum <= c.x`` for
every feasible ``x``. The certificate names its claim by a kind and parameters;
:meth:`Certificate.verify` rebuilds the LP from :data:`proofs.claims.CLAIMS` and those
parameters, refuses a certificate whose LP differs or whose kind is not registered, and
re-checks both bounds and the claimed interval ``[b.y, c.x]`` in
:class:`fractions.Fraction` arithmetic (no floats).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

import numpy as np

from proofs.claims import LPClaim, lp_claim
from proofs.exact import Check, RationalLP, Verification, floor_decimal, rationalize

__all__ = ["Certificate", "RationalLP", "Verification", "rationalize"]


@dataclass(frozen=True)
class Certificate:
    """A factor-revealing LP's exact interval, for the claim it names.

    Attributes
    ----------
    kind : str
        The registered claim (a key of :data:`proofs.claims.CLAIMS`).
    params : mapping of str to int
        The claim's parameters, e.g. ``{"n": 50}``; the LP is rebuilt from them.
    lower, upper : Fraction
        The certified interval: the LP optimum lies in ``[lower, upper]``.
    lp : RationalLP
        The inequality system; must equal the one rebuilt from ``kind`` and ``params``.
    dual : list of Fraction
        ``y >= 0`` with ``A^T y <= c``; proves ``optimum >= b.y = lower``.
    primal : list of Fraction
        Feasible ``x``; proves ``optimum <= c.x = upper``.
    float_dual, float_primal : ndarray
        The floating-point solution the rationals were rounded from.
    """

    kind: str
    params: Mapping[str, int]
    lower: Fraction
    upper: Fraction
    lp: RationalLP
    dual: list[Fraction]
    primal: list[Fraction]
    float_dual: np.ndarray = field(repr=False)
    float_primal: np.ndarray = field(repr=False)

    check: ClassVar[Check] = Check.LP_DUALITY

    @property
    def policy(self) -> str:
        """The policy of the registered claim (``ValueError`` for an unknown kind)."""
        return lp_claim(self.kind).policy

    @property
    def arrival_model(self) -> str:
        """The arrival model of the registered claim."""
        return lp_claim(self.kind).arrival_model

    def headline(self) -> str:
        """Return the certified bound in a few words (meaningful once verified)."""
        return f"LP optimum >= {floor_decimal(self.lower)}"

    def details(self) -> list[str]:
        """Return what was checked, one line each (for the command line)."""
        claim = lp_claim(self.kind)
        return [
            f"LP of {claim.describe(self.params)}: {len(self.lp.c)} variables, "
            f"{len(self.lp.b)} rows, rebuilt from the claim and compared exactly",
            f"certified interval [{float(self.lower):.12f}, {float(self.upper):.12f}]",
        ]

    def verify(self) -> Verification:
        """Rebuild the claim's LP, compare it exactly, then re-check both bounds.

        Returns
        -------
        Verification
            ``ok`` True with the statement worded from the verified interval, or False
            with the first problem named: an unknown kind, bad parameters, LP data that
            differs from the claim's LP, or a violated inequality.
        """
        try:
            claim = lp_claim(self.kind)
            fresh = claim.lp(self.params)
        except ValueError as exc:
            return Verification.fail(f"refused: {exc}")
        difference = self.lp.first_difference(fresh)
        if difference is not None:
            return Verification.fail(
                f"refused: the certificate's LP is not the LP of {claim.describe(self.params)}:"
                f" {difference}"
            )
        problem = self._dual_problem(fresh) or self._primal_problem(fresh)
        if problem is not None:
            return Verification.fail(problem)
        return Verification(
            True,
            f"verified: {float(self.lower):.9f} <= LP optimum of "
            f"{claim.describe(self.params)} <= {float(self.upper):.9f}",
            self._statement(claim),
        )

    def _dual_problem(self, lp: RationalLP) -> str | None:
        """First violated dual inequality, or a wrong claimed lower bound."""
        if len(self.dual) != len(lp.b):
            return f"the dual has {len(self.dual)} entries for {len(lp.b)} rows"
        for i, y in enumerate(self.dual):
            if y < 0:
                return f"dual y[{i}] = {y} < 0 (row {lp.row_names[i]})"
        for j in range(len(lp.c)):
            column = lp.dual_column(j, self.dual)
            if column > lp.c[j]:
                return f"dual constraint of variable {j}: A^T y = {column} > c = {lp.c[j]}"
        lower = lp.dual_value(self.dual)
        if lower != self.lower:
            return f"claimed lower bound {self.lower} != b.y = {lower}"
        return None

    def _primal_problem(self, lp: RationalLP) -> str | None:
        """First violated primal inequality, or a wrong claimed upper bound."""
        if len(self.primal) != len(lp.c):
            return f"the primal has {len(self.primal)} entries for {len(lp.c)} variables"
        for j, x in enumerate(self.primal):
            if x < 0:
                return f"primal x[{j}] = {x} < 0"
        for i in range(len(lp.b)):
            lhs = lp.row_value(i, self.primal)
            if lhs < lp.b[i]:
                return f"primal row {lp.row_names[i]}: {lhs} < {lp.b[i]}"
        upper = lp.primal_value(self.primal)
        if upper != self.upper:
            return f"claimed upper bound {self.upper} != c.x = {upper}"
        return None

    def _statement(self, claim: LPClaim) -> str:
        return claim.statement.format(lower=floor_decimal(self.lower), **self.params)
