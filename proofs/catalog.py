"""The certificates the command line and the demo build, and how they are reported.

One entry point per policy: RANKING's factor-revealing LP for ``n``, greedy's dual
fitting on a unit-weight instance, and LP sample-and-attenuate's chain on a known
model. :func:`report` words a certificate's verification, including which general
claim stays a written proof.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

from matching._validate import check_int, check_type
from matching.families import random_groups
from matching.model import Instance
from matching.online_families import KADReusable
from matching.rideshare import RideshareModel
from proofs.attenuate import lp_attenuate_certificate
from proofs.claims import WRITTEN_PROOFS
from proofs.exact import Certified, Verification
from proofs.greedy import certify_greedy, unit_instance
from proofs.lp import ranking_certificate
from proofs.rideshare import rideshare_certificate

__all__ = [
    "DEFAULT_SIZE",
    "POLICIES",
    "attenuation_model",
    "build_certificate",
    "greedy_instance",
    "report",
]

POLICIES = ("ranking", "greedy", "lp-attenuate", "rideshare")

#: default size per policy: graph n, resources, resources, request types
DEFAULT_SIZE = {"ranking": 50, "greedy": 20, "lp-attenuate": 4, "rideshare": 3}


def greedy_instance(n: int, k: int, seed: int = 0) -> Instance:
    """Random groups of ``1..k`` requests on ``n`` resources, unit weights, loads, capacities.

    Examples
    --------
    >>> inst = greedy_instance(5, 2, seed=1)
    >>> inst.n_resources, inst.n_groups, int(inst.group_sizes.max()) <= 2
    (5, 10, True)
    """
    if n < 1 or k < 1:
        raise ValueError(f"n and k must be positive, got n={n}, k={k}")
    return unit_instance(
        random_groups(n, max(2 * n, k), 2 * n, max_group_size=k, degree=min(3, n), seed=seed)
    )


def attenuation_model(n: int, k: int, seed: int = 0) -> tuple[Instance, np.ndarray]:
    """Draw a known-distribution model: ``n`` reusable resources, ``n + 1`` types.

    Horizon ``2 n`` steps, groups of ``1..k`` requests, two resources per type,
    durations ``1..3`` (:class:`matching.online_families.KADReusable`).

    Examples
    --------
    >>> types, p = attenuation_model(3, 2)
    >>> types.n_groups, p.shape
    (4, (4, 6))
    """
    if n < 2 or k < 1:
        raise ValueError(f"the model needs n >= 2 resources and k >= 1, got n={n}, k={k}")
    family = KADReusable(n, n + 1, 2 * n, k=k, degree=2, max_duration=3)
    return family.types_and_probabilities(np.random.default_rng(seed))


def rideshare_model(n: int, k: int, seed: int = 0) -> RideshareModel:
    """Draw a small ridesharing model: ``n`` request types, 2 steps, 2 depots.

    Groups: every type alone and each set of 2..``k`` types with probability 1/2;
    depots of 1 or 2 vehicles; values 1..4; routes of 1..2 steps; arrival probabilities
    dyadic (1/4, 1/2, 3/4, 1) so that the exact certificate's rationals are the floats.

    Examples
    --------
    >>> m = rideshare_model(3, 2)
    >>> m.p.shape, m.k <= 2
    ((3, 2), True)
    """
    if n < 1 or k < 1:
        raise ValueError(f"the model needs n >= 1 request types and k >= 1, got n={n}, k={k}")
    rng = np.random.default_rng(seed)
    groups = [
        list(c)
        for size in range(1, min(k, n) + 1)
        for c in itertools.combinations(range(n), size)
        if size == 1 or rng.random() < 0.5
    ]
    capacity = rng.integers(1, 3, size=2)
    edges = [
        (u, g, float(rng.integers(1, 5)), 1, int(rng.integers(1, 3)))
        for g in range(len(groups))
        for u in range(2)
        if rng.random() < 0.8 or (g, u) == (0, 0)
    ]
    p = rng.choice([0.25, 0.5, 0.75, 1.0], size=(n, 2))
    return RideshareModel(Instance(groups, edges, capacity=capacity, n_requests=n), p)


def build_certificate(
    policy: str,
    *,
    n: int | None = None,
    k: int | None = None,
    seed: int = 0,
    gamma: Fraction | None = None,
    instance: Instance | None = None,
) -> Certified:
    """Build (not verify) the certificate of ``policy``.

    Parameters
    ----------
    policy : {"ranking", "greedy", "lp-attenuate", "rideshare"}
    n : int, optional
        RANKING's graph size; the number of resources of the generated greedy
        instance or attenuation model, or of request types of the ridesharing model
        (at least 1). Defaults to :data:`DEFAULT_SIZE`.
    k : int, optional
        Largest group, at least 1 (greedy: default 1, or the given instance's largest
        group; lp-attenuate and rideshare: default 2).
    seed : int
        Seed of the generated instance or model (non-negative).
    gamma : Fraction, optional
        LP sample-and-attenuate's target acceptance (default 1/2; rideshare: the lower
        end of gamma_k's bracket).
    instance : Instance, optional
        Greedy only: certify greedy on this instance instead of a generated one.

    Examples
    --------
    >>> cert = build_certificate("greedy", n=6, k=2)
    >>> cert.check.value, bool(cert.verify())
    ('dual fitting', True)
    """
    if not isinstance(policy, str) or policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {POLICIES}")
    if n is not None:
        check_int(n, "n", low=1)
    if k is not None:
        check_int(k, "k", low=1)
    check_int(seed, "seed", low=0)
    if instance is not None:
        check_type(instance, Instance, "instance", "a matching.Instance or None")
        if policy != "greedy":
            raise ValueError("an instance can only be given for the greedy certificate")
    size = DEFAULT_SIZE[policy] if n is None else n
    if policy == "ranking":
        return ranking_certificate(size)
    if policy == "greedy":
        if instance is None:
            instance = greedy_instance(size, 1 if k is None else k, seed)
        return certify_greedy(instance, k)
    if policy == "rideshare":
        return rideshare_certificate(
            rideshare_model(size, 2 if k is None else k, seed), gamma=gamma
        )
    types, p = attenuation_model(size, 2 if k is None else k, seed)
    return lp_attenuate_certificate(types, p, Fraction(1, 2) if gamma is None else gamma)


def report(cert: Certified, result: Verification) -> list[str]:
    """Word a verification: the statement (or the failure), the check, the details.

    Examples
    --------
    >>> cert = build_certificate("ranking", n=3)
    >>> lines = report(cert, cert.verify())
    >>> print(lines[0])
    RANKING is at least 0.578125-competitive on 3 x 3 bipartite graphs with a perfect matching
    >>> print(lines[1][:40])
      check: LP duality (the factor-revealin
    >>> print(lines[-1][:61])
      written proof only (not machine-checked): the factor-reveal
    """
    head = result.statement if result.ok else f"NOT CERTIFIED: {cert.policy} certificate refused"
    lines = [
        head,
        f"  check: {cert.check.value} ({cert.check.scope})",
        f"  policy {cert.policy}, arrivals: {cert.arrival_model}",
        *(f"  {line}" for line in cert.details()),
        f"  exact check: {result.message}",
    ]
    lines += [
        f"  written proof only (not machine-checked): {w.statement} ({w.proof})"
        for w in WRITTEN_PROOFS
        if w.policy == cert.policy
    ]
    return lines
