"""Certificates verify exactly, fail on any perturbation, and agree with the harness."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

import matching
from matching.arrivals import known_adversarial
from matching.attenuation import GUARANTEED_RATIO, LPSampleAttenuatePolicy, kad_benchmark_lp
from matching.driver import simulate
from matching.online import GreedyPolicy, RankingPolicy
from matching.online_families import KADReusable, KUniformGroups, RandomBipartite, UpperTriangular
from matching.ratio import competitive_ratio
from proofs.adversary import (
    expected_alg,
    maximum_matching,
    search,
    upper_triangular_adjacency,
)
from proofs.lp import (
    greedy_certificate,
    lp_attenuate_certificate,
    ranking_certificate,
    ranking_lp_optimum,
)

ONE_MINUS_1_OVER_E = 1 - np.exp(-1)


@pytest.mark.parametrize(
    "make",
    [lambda: ranking_certificate(8), lambda: greedy_certificate(2), lp_attenuate_certificate],
)
def test_genuine_certificates_verify(make):
    cert = make()
    result = cert.verify()
    assert result.ok, result.message


def perturbations(cert):
    """Every single-number change: dual, primal, claimed bounds, and LP data."""
    tiny = Fraction(1, 10**9)
    for i in range(len(cert.dual)):
        dual = list(cert.dual)
        dual[i] += tiny
        yield f"dual[{i}]", dataclasses.replace(cert, dual=dual)
    for j in range(len(cert.primal)):
        primal = list(cert.primal)
        primal[j] -= tiny
        yield f"primal[{j}]", dataclasses.replace(cert, primal=primal)
    yield "lower", dataclasses.replace(cert, lower=cert.lower + tiny)
    yield "upper", dataclasses.replace(cert, upper=cert.upper - tiny)
    for i, row in enumerate(cert.lp.a):
        for j, value in enumerate(row):
            a = [list(r) for r in cert.lp.a]
            a[i][j] = value + tiny
            lp = dataclasses.replace(cert.lp, a=a)
            yield f"A[{i}][{j}]", dataclasses.replace(cert, lp=lp)
    for i in range(len(cert.lp.b)):
        b = list(cert.lp.b)
        b[i] += tiny
        yield f"b[{i}]", dataclasses.replace(cert, lp=dataclasses.replace(cert.lp, b=b))


@pytest.mark.parametrize(
    "make",
    [lambda: ranking_certificate(4), lambda: greedy_certificate(3), lp_attenuate_certificate],
)
def test_any_perturbation_fails_and_names_the_inequality(make):
    cert = make()
    count = 0
    for where, bad in perturbations(cert):
        result = bad.verify()
        assert not result.ok, f"perturbing {where} went unnoticed"
        assert result.message
        count += 1
    assert count > 3


def test_perturbed_dual_names_the_violated_dual_row():
    cert = ranking_certificate(6)
    dual = list(cert.dual)
    dual[0] += 1
    result = dataclasses.replace(cert, dual=dual, lower=cert.lower).verify()
    assert not result.ok and "dual constraint of variable" in result.message


def test_ranking_lp_values_increase_towards_one_minus_one_over_e():
    previous = Fraction(0)
    for n in (1, 2, 3, 5, 10, 20, 50, 100):
        cert = ranking_certificate(n)
        assert cert.verify().ok
        exact = ranking_lp_optimum(n)
        assert cert.lower <= exact <= cert.upper
        assert float(cert.upper - cert.lower) < 1e-9
        assert exact > previous
        assert float(cert.upper) < ONE_MINUS_1_OVER_E
        previous = exact
    assert ONE_MINUS_1_OVER_E - float(previous) < 0.002


def test_greedy_bound_matches_the_upper_triangular_search():
    lower = greedy_certificate(1).lower
    for n in (2, 4):
        found = search("greedy", n)
        assert found.ratio == lower == Fraction(1, 2)
        assert found.isomorphic_to(upper_triangular_adjacency(n))
        # the library's greedy reaches exactly this on the found instance
        run = simulate(GreedyPolicy(), matching.arrivals.adversarial_order(found.instance))
        assert Fraction(run.value).limit_denominator() == found.alg


def test_ranking_search_rediscovers_upper_triangular_and_exact_expectation():
    for n, expected in ((2, Fraction(3, 4)), (3, Fraction(13, 18))):
        found = search("ranking", n)
        assert found.ratio == expected
        assert found.isomorphic_to(upper_triangular_adjacency(n))
        # Monte Carlo with the library's RANKING agrees with the exact enumeration
        seq = matching.arrivals.adversarial_order(found.instance)
        values = [simulate(RankingPolicy(), seq, seed=s).value for s in range(4000)]
        se = np.std(values) / np.sqrt(len(values))
        assert abs(np.mean(values) - float(found.alg)) < 4 * se + 1e-9
    local = search("ranking", 4, method="local", restarts=4, steps=100)
    assert local.ratio <= expected_alg(upper_triangular_adjacency(4), 4, "ranking") / 4
    assert local.ratio >= ranking_lp_optimum(4)  # an upper bound can't beat the lower bound


def test_maximum_matching_against_networkx():
    import networkx as nx

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 7))
        adj = tuple(int(v) for v in rng.integers(0, 1 << n, size=n))
        g = nx.Graph()
        g.add_nodes_from(range(2 * n))
        g.add_edges_from((i, n + r) for i in range(n) for r in range(n) if adj[i] >> r & 1)
        assert maximum_matching(adj, n) == len(nx.max_weight_matching(g, maxcardinality=True))


def test_certified_ratios_hold_empirically():
    # online greedy, unit weights: ALG/OPT >= 1/(k+1) on every trial (deterministic)
    for k in (1, 2, 3):
        bound = greedy_certificate(k).lower
        fam = UnitWeights(
            RandomBipartite(10, 12, density=0.3) if k == 1 else KUniformGroups(6, 18, 20, k=k)
        )
        report = competitive_ratio(GreedyPolicy(), fam, trials=40, seed=k, with_lp=False)
        assert report.ratio_opt.min() >= float(bound) - 1e-9
    # RANKING on the upper-triangular family: mean ALG/OPT >= the certified c_n
    cert = ranking_certificate(40)
    report = competitive_ratio(
        RankingPolicy(), UpperTriangular(40), trials=150, seed=5, with_lp=False
    )
    se = report.ratio_opt.std() / np.sqrt(150)
    assert report.ratio_opt.mean() >= float(cert.lower) - 4 * se
    # LP sample-and-attenuate: mean ALG / LP >= 1/2 up to sampling error
    gamma = -lp_attenuate_certificate().upper
    assert gamma == GUARANTEED_RATIO
    rng = np.random.default_rng(11)
    types, p = KADReusable(3, 4, 10).types_and_probabilities(rng)
    lp = kad_benchmark_lp(types, p)
    values = [
        simulate(
            LPSampleAttenuatePolicy(),
            known_adversarial(types, p, seed=s, reusable=True),
            seed=10**6 + s,
        ).value
        for s in range(1500)
    ]
    se = np.std(values) / np.sqrt(len(values))
    assert np.mean(values) >= float(gamma) * lp.value - 4 * se


@dataclasses.dataclass(frozen=True)
class UnitWeights:
    """A family with every weight set to 1 (the online greedy guarantee's setting)."""

    family: object

    def __call__(self, rng):
        seq = self.family(rng)
        inst = seq.instance
        return dataclasses.replace(seq, instance=inst.replace(edge_weight=np.ones(inst.n_edges)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="policy"):
        search("oracle", 3)
    with pytest.raises(ValueError, match="n must be positive"):
        ranking_certificate(0)
    with pytest.raises(ValueError, match="k must be positive"):
        greedy_certificate(0)
