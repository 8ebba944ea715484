"""The fixed registry of claims that a certificate may name.

A factor-revealing LP certificate names its claim by a *kind* and integer *parameters*
(``kind="ranking", params={"n": 50}``). :meth:`proofs.certificate.Certificate.verify`
looks the kind up in :data:`CLAIMS`, rebuilds the LP from the parameters with the
registered builder and refuses a certificate whose LP differs, so a certificate can
neither bring its own LP nor its own builder. The statement printed for a verified
certificate is the registered template filled with the verified interval.

:data:`WRITTEN_PROOFS` lists the general statements that rest on a written proof only;
they carry :attr:`~proofs.exact.Check.WRITTEN` and no "certified" badge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

from proofs.exact import Check, RationalLP

__all__ = [
    "CLAIMS",
    "WRITTEN_PROOFS",
    "LPClaim",
    "WrittenProof",
    "lp_claim",
    "ranking_lp",
    "ranking_lp_optimum",
]


def ranking_lp(n: int) -> RationalLP:
    """Build the factor-revealing LP of RANKING on ``n x n`` bipartite graphs.

    ``x_t`` is the probability that the resource of rank ``t`` is matched, for a graph
    with a perfect matching. The KVV lemma (as simplified by Birnbaum and Mathieu)
    gives ``1 - x_t <= (1/n) sum_{s <= t} x_s``; the ratio is at least
    ``min (1/n) sum_t x_t`` subject to these rows and ``x_t <= 1``.

    Examples
    --------
    >>> lp = ranking_lp(2)
    >>> lp.row_names[0], [str(v) for v in lp.a[1]], [str(v) for v in lp.b]
    ('kvv[t=1]: x_t + (1/n) sum_(s<=t) x_s >= 1', ['1/2', '3/2'], ['1', '1', '-1', '-1'])
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
    """Return the RANKING LP optimum in closed form, ``1 - (n / (n + 1))^n``.

    Examples
    --------
    >>> ranking_lp_optimum(2)
    Fraction(5, 9)
    """
    return 1 - Fraction(n, n + 1) ** n


@dataclass(frozen=True)
class LPClaim:
    """A registered claim whose certificate is a factor-revealing LP.

    Attributes
    ----------
    kind : str
    policy, arrival_model : str
    params : tuple of str
        Names of the integer parameters the builder takes.
    statement : str
        Template of the verified statement; filled with ``lower`` (the verified lower
        end, rounded down to six decimals) and the parameters.
    proof : str
        Where the written part (the LP's link to the ratio) is.
    build : callable
        The LP builder, called with the parameters as keywords.
    """

    kind: str
    policy: str
    arrival_model: str
    params: tuple[str, ...]
    statement: str
    proof: str
    build: Callable[..., RationalLP]

    def lp(self, params: Mapping[str, object]) -> RationalLP:
        """Build the claim's LP from ``params``; raise ``ValueError`` on bad parameters.

        Examples
        --------
        >>> CLAIMS["ranking"].lp({"n": 3}).c
        [Fraction(1, 3), Fraction(1, 3), Fraction(1, 3)]
        >>> CLAIMS["ranking"].lp({"m": 3})
        Traceback (most recent call last):
        ...
        ValueError: claim 'ranking' takes parameters (n), got (m)
        """
        if sorted(params) != sorted(self.params):
            raise ValueError(
                f"claim {self.kind!r} takes parameters ({', '.join(self.params)}), "
                f"got ({', '.join(sorted(params))})"
            )
        for name, value in params.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"parameter {name} must be an int, got {value!r}")
        return self.build(**params)

    def describe(self, params: Mapping[str, object]) -> str:
        """Name the claim with its parameters, e.g. ``ranking(n=50)``."""
        return f"{self.kind}({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})"


#: The only claims an LP certificate can name; read-only.
CLAIMS: Mapping[str, LPClaim] = MappingProxyType(
    {
        "ranking": LPClaim(
            kind="ranking",
            policy="ranking",
            arrival_model="adversarial order",
            params=("n",),
            statement="RANKING is at least {lower}-competitive on {n} x {n} bipartite "
            "graphs with a perfect matching",
            proof="docs/proofs/ranking.md",
            build=ranking_lp,
        ),
    }
)


def lp_claim(kind: str) -> LPClaim:
    """Return the registered claim ``kind``; raise ``ValueError`` for an unknown kind.

    Examples
    --------
    >>> lp_claim("ranking").policy
    'ranking'
    >>> lp_claim("greedy")
    Traceback (most recent call last):
    ...
    ValueError: unknown claim kind 'greedy'; registered LP claims: ranking
    """
    try:
        return CLAIMS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown claim kind {kind!r}; registered LP claims: {', '.join(sorted(CLAIMS))}"
        ) from None


@dataclass(frozen=True)
class WrittenProof:
    """A general statement that rests on a written proof only (no certified badge).

    Attributes
    ----------
    name : str
        A short name, for tables.
    bound : str
        The bound stated, in a few words.
    statement, policy, arrival_model : str
    proof : str
        The page with the proof.
    checked_on_inputs : str
        Which certificate checks the proof's key step on concrete inputs, if any.
    """

    name: str
    bound: str
    statement: str
    policy: str
    arrival_model: str
    proof: str
    checked_on_inputs: str
    check: Check = Check.WRITTEN


#: General statements whose proof is written, not machine-checked.
WRITTEN_PROOFS: tuple[WrittenProof, ...] = (
    WrittenProof(
        name="RANKING, LP lemma (KVV)",
        bound="ratio >= LP optimum",
        statement="the factor-revealing LP's optimum lower-bounds RANKING's ratio (KVV lemma)",
        policy="ranking",
        arrival_model="adversarial order",
        proof="docs/proofs/ranking.md",
        checked_on_inputs="the LP's optimum: proofs.lp.ranking_certificate(n)",
    ),
    WrittenProof(
        name="greedy, every unit instance",
        bound="ALG/OPT >= 1/(k+1)",
        statement="greedy is 1/(k+1)-competitive on every instance with unit weights, "
        "loads and capacities and groups of <= k requests",
        policy="greedy",
        arrival_model="any arrival order",
        proof="docs/proofs/greedy.md",
        checked_on_inputs="dual fitting per instance: proofs.greedy.greedy_dual_certificate",
    ),
    WrittenProof(
        name="greedy offline, weighted",
        bound="ALG/OPT >= 1/(k+1)",
        statement="offline greedy (edges by decreasing weight) is 1/(k+1)-competitive "
        "with edge weights",
        policy="greedy",
        arrival_model="offline",
        proof="docs/proofs/greedy.md",
        checked_on_inputs="none",
    ),
    WrittenProof(
        name="greedy, reusable resources",
        bound="ALG/OPT >= 1/(k+1)",
        statement="greedy is 1/(k+1)-competitive (1/2 for single requests) with reusable "
        "resources when every edge of a resource holds it for the same duration, with unit "
        "weights and loads",
        policy="greedy",
        arrival_model="any arrival order, reusable resources",
        proof="docs/proofs/greedy_reusable.md",
        checked_on_inputs="exhaustive optimum on small inputs: tests/test_greedy_reusable.py",
    ),
    WrittenProof(
        name="LP-attenuate, every model",
        bound="E[ALG] = LP/2",
        statement="LP sample-and-attenuate with gamma = 1/2 gets E[ALG] = LP/2 on every "
        "known-distribution model with reusable resources",
        policy="lp-attenuate",
        arrival_model="known adversarial distributions, reusable resources",
        proof="docs/proofs/lp_attenuate.md",
        checked_on_inputs="the attenuation chain per model: "
        "proofs.attenuate.lp_attenuate_certificate",
    ),
)
