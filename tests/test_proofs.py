"""Certificates are bound to their claims, check the argument's key step, and can fail.

The tests in the last section (``test_online_harness_*``) compare certificates with
the online harness (``matching.driver``, ``matching.online``, ``matching.ratio``,
``matching.arrivals``) and import it inside each test; every other test uses only the
offline solvers, the benchmark LP and the proofs package.
"""

import dataclasses
import itertools
import math
import re
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest

import matching
from matching.attenuation import GUARANTEED_RATIO, kad_benchmark_lp
from matching.families import random_groups
from matching.online_families import KADReusable
from proofs.adversary import (
    instance_from_adjacency,
    search,
    upper_triangular_adjacency,
)
from proofs.attenuate import lp_attenuate_certificate
from proofs.catalog import build_certificate, report
from proofs.certificate import Certificate
from proofs.claims import CLAIMS, WRITTEN_PROOFS
from proofs.exact import Check, RationalLP
from proofs.greedy import (
    certify_greedy,
    greedy_dual_certificate,
    greedy_tight_instance,
)
from proofs.lp import ranking_certificate, ranking_lp, ranking_lp_optimum

ONE_MINUS_1_OVER_E = 1 - np.exp(-1)
TINY = Fraction(1, 10**9)
SMALL_KAD = KADReusable(3, 4, 8, k=2, degree=2, max_duration=3)


def unit_groups(n_resources, n_groups, k, seed):
    """Unit-weight random groups of <= k requests (random_groups has unit loads, caps)."""
    inst = random_groups(
        n_resources, 2 * n_groups, n_groups, max_group_size=k, degree=2, seed=seed
    )
    return inst.replace(edge_weight=np.ones(inst.n_edges))


def kad_model(seed, family=SMALL_KAD):
    return family.types_and_probabilities(np.random.default_rng(seed))


def attenuation_example():
    return lp_attenuate_certificate(*kad_model(0))


# ------------------------------------------------------------------ every kind verifies
@pytest.mark.parametrize(
    "make",
    [
        lambda: ranking_certificate(8),
        lambda: certify_greedy(unit_groups(10, 12, 2, seed=0)),
        attenuation_example,
    ],
    ids=["ranking", "greedy", "lp-attenuate"],
)
def test_genuine_certificates_verify_with_a_derived_statement(make):
    cert = make()
    result = cert.verify()
    assert result.ok, result.message
    assert cert.check.certified
    assert result.statement and report(cert, result)[0] == result.statement


def test_written_proofs_carry_no_certified_badge():
    assert {w.policy for w in WRITTEN_PROOFS} == {"ranking", "greedy", "lp-attenuate"}
    for proof in WRITTEN_PROOFS:
        assert proof.check is Check.WRITTEN and not proof.check.certified
    certified = {Check.LP_DUALITY, Check.DUAL_FITTING, Check.ATTENUATION}
    assert all(check.certified for check in certified)


# ---------------------------------------------------- LP certificates bound to a claim
def lp_perturbations(cert):
    """Every single-number change to dual, primal, bounds and LP data, and what it breaks."""
    for i in range(len(cert.dual)):
        dual = list(cert.dual)
        dual[i] += TINY
        yield f"dual[{i}]", dataclasses.replace(cert, dual=dual), ("dual", "lower bound")
    for j in range(len(cert.primal)):
        primal = list(cert.primal)
        primal[j] -= TINY
        yield f"primal[{j}]", dataclasses.replace(cert, primal=primal), ("primal", "upper")
    yield "lower", dataclasses.replace(cert, lower=cert.lower + TINY), ("lower bound",)
    yield "upper", dataclasses.replace(cert, upper=cert.upper - TINY), ("upper bound",)
    for i, row in enumerate(cert.lp.a):
        for j, value in enumerate(row):
            a = [list(r) for r in cert.lp.a]
            a[i][j] = value + TINY
            lp = dataclasses.replace(cert.lp, a=a)
            yield f"A[{i}][{j}]", dataclasses.replace(cert, lp=lp), (f"A[{i}][{j}] =",)
    for i in range(len(cert.lp.b)):
        b = list(cert.lp.b)
        b[i] += TINY
        lp = dataclasses.replace(cert.lp, b=b)
        yield f"b[{i}]", dataclasses.replace(cert, lp=lp), (f"b[{i}] =",)
    for j in range(len(cert.lp.c)):
        c = list(cert.lp.c)
        c[j] -= TINY
        lp = dataclasses.replace(cert.lp, c=c)
        yield f"c[{j}]", dataclasses.replace(cert, lp=lp), (f"c[{j}] =",)


def assert_every_perturbation_fails(perturbations):
    count = 0
    for where, bad, expected in perturbations:
        result = bad.verify()
        assert not result.ok, f"perturbing {where} went unnoticed"
        assert not result.statement
        assert any(word in result.message for word in expected), (where, result.message)
        count += 1
    return count


def test_any_lp_perturbation_fails_and_names_the_inequality():
    assert assert_every_perturbation_fails(lp_perturbations(ranking_certificate(4))) > 40


def test_perturbed_dual_names_the_violated_dual_row():
    cert = ranking_certificate(6)
    dual = list(cert.dual)
    dual[0] += 1
    result = dataclasses.replace(cert, dual=dual, lower=cert.lower).verify()
    assert not result.ok and "dual constraint of variable" in result.message


def forged(kind, params, lp, value):
    """A certificate whose dual and primal are exact for ``lp`` (so only binding fails)."""
    return Certificate(
        kind=kind,
        params=params,
        lower=value,
        upper=value,
        lp=lp,
        dual=[Fraction(1)] * len(lp.b),
        primal=[Fraction(1)] * len(lp.c),
        float_dual=np.ones(len(lp.b)),
        float_primal=np.ones(len(lp.c)),
    )


def test_forged_ranking_one_with_lp_x_at_least_one_is_refused():
    # min x s.t. x >= 1: a self-consistent LP "proving" RANKING 1.0-competitive
    trivial = RationalLP(c=[Fraction(1)], a=[[Fraction(1)]], b=[Fraction(1)], row_names=["x>=1"])
    cert = forged("ranking", {"n": 50}, trivial, Fraction(1))
    # the dual/primal pair is valid for the LP it carries, so only the binding can catch it
    assert trivial.dual_value(cert.dual) == trivial.primal_value(cert.primal) == 1
    result = cert.verify()
    assert not result.ok and not result.statement
    assert "not the LP of ranking(n=50)" in result.message
    assert "1 rows x 1 variables (expected 100 x 50)" in result.message


def test_genuine_lp_relabelled_with_other_parameters_is_refused():
    genuine = ranking_certificate(5)
    assert genuine.verify().ok
    for n in (6, 50):
        result = dataclasses.replace(genuine, params={"n": n}).verify()
        assert not result.ok and not result.statement
        assert result.message == (
            f"refused: the certificate's LP is not the LP of ranking(n={n}): 10 rows x 5 "
            f"variables (expected {2 * n} x {n})"
        )
    # the relabelled LP is genuine: it still verifies under its own parameters
    assert dataclasses.replace(genuine, lp=ranking_lp(5)).verify().ok


def test_unknown_kind_and_bad_parameters_are_refused():
    genuine = ranking_certificate(3)
    cases = {
        "ranking-vw": ({"n": 3}, "unknown claim kind 'ranking-vw'; registered LP claims"),
        "greedy": ({"k": 1}, "unknown claim kind 'greedy'"),
        "ranking": ({"n": 0}, "n must be positive"),
    }
    for kind, (params, message) in cases.items():
        result = dataclasses.replace(genuine, kind=kind, params=params).verify()
        assert not result.ok and message in result.message, result.message
    for params, message in (
        ({"n": 3.0}, "parameter n must be an int"),
        ({"n": True}, "parameter n must be an int"),
        ({"m": 3}, "takes parameters (n), got (m)"),
        ({"n": 3, "k": 1}, "takes parameters (n), got (k, n)"),
    ):
        result = dataclasses.replace(genuine, params=params).verify()
        assert not result.ok and message in result.message, result.message


def test_claims_registry_is_read_only():
    with pytest.raises(TypeError):
        CLAIMS["trivial"] = CLAIMS["ranking"]  # type: ignore[index]


def test_statement_is_derived_from_the_verified_interval():
    cert = ranking_certificate(7)
    result = cert.verify()
    printed = result.statement.split("at least ")[1].split("-competitive")[0]
    # rounded down, so the printed number is itself a proven lower bound
    assert Fraction(printed) <= cert.lower < Fraction(printed) + Fraction(1, 10**6)
    assert "7 x 7" in result.statement
    bad = dataclasses.replace(cert, lower=Fraction(1)).verify()
    assert not bad.ok and bad.statement == ""


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


# ----------------------------------------------------------- greedy: dual fitting
def first_unblocked_edge(inst, chosen):
    """Smallest edge that shares no request and no resource with a chosen edge (sets)."""
    served = {q for e in chosen for q in inst.group(int(inst.edge_group[e])).tolist()}
    used = {int(inst.edge_resource[e]) for e in chosen}
    for e in range(inst.n_edges):
        requests = set(inst.group(int(inst.edge_group[e])).tolist())
        if not requests & served and int(inst.edge_resource[e]) not in used:
            return e
    return None


def scan_greedy(inst, order):
    """Greedy in any order: accept an edge when its requests and resource are free."""
    served, used, chosen = set(), set(), []
    for e in order:
        requests = set(inst.group(int(inst.edge_group[e])).tolist())
        r = int(inst.edge_resource[e])
        if not requests & served and r not in used:
            served |= requests
            used.add(r)
            chosen.append(int(e))
    return chosen


@pytest.mark.parametrize("k", [1, 2, 3])
def test_greedy_dual_fitting_on_unit_random_groups(k):
    rng = np.random.default_rng(k)
    for seed in range(6):
        inst = unit_groups(12, 14, k, seed=seed)
        greedy = matching.solve(inst, "greedy")
        cert = greedy_dual_certificate(inst, greedy.edges, k)
        result = cert.verify()
        assert result.ok, result.message
        assert cert.alg == greedy.value
        # OPT <= LP <= dual <= (k + 1) ALG, against independent solvers
        opt = matching.solve(inst, "mip").value
        lp = matching.solve(inst, "lp").value
        assert opt <= lp + 1e-9 <= float(cert.dual_value) + 2e-9
        assert cert.dual_value <= (k + 1) * cert.alg
        assert greedy.value >= opt / (k + 1)
        # any arrival order gives a maximal matching, and so a valid certificate
        order = rng.permutation(inst.n_edges)
        chosen = scan_greedy(inst, order)
        assert first_unblocked_edge(inst, chosen) is None
        assert greedy_dual_certificate(inst, chosen, k).verify().ok


def test_greedy_dual_fitting_on_the_upper_triangular_graph():
    for n in (2, 4, 6, 8):
        inst = instance_from_adjacency(upper_triangular_adjacency(n), n)
        cert = certify_greedy(inst)
        assert cert.verify().ok
        opt = matching.solve(inst, "bipartite").value
        assert cert.alg == n // 2 and cert.dual_value == n == opt
        assert cert.ratio == Fraction(1, 2)


def test_non_maximal_choice_fails_naming_the_uncovered_edge():
    cases = [unit_groups(12, 14, k, seed=s) for k in (1, 2, 3) for s in range(3)]
    cases.append(instance_from_adjacency(upper_triangular_adjacency(5), 5))
    for inst in cases:
        chosen = matching.solve(inst, "greedy").edges.tolist()
        for drop in range(len(chosen)):
            kept = chosen[:drop] + chosen[drop + 1 :]
            cert = greedy_dual_certificate(inst, kept)  # builds: it is still a matching
            result = cert.verify()
            uncovered = first_unblocked_edge(inst, kept)
            assert uncovered is not None and uncovered <= chosen[drop]
            assert not result.ok
            assert result.message.startswith(f"dual row of edge {uncovered} ")
            assert "not maximal" in result.message


def test_a_choice_that_is_not_a_matching_is_refused():
    inst = instance_from_adjacency(upper_triangular_adjacency(3), 3)
    chosen = matching.solve(inst, "greedy").edges.tolist()  # edges 0 and 4
    clash = next(e for e in range(inst.n_edges) if e not in chosen and inst.edge_resource[e] == 0)
    with pytest.raises(ValueError, match="not a matching: chosen edges 0 and"):
        greedy_dual_certificate(inst, [*chosen, clash])
    cert = certify_greedy(inst)
    for bad, message in (
        ((*cert.chosen, clash), "not a matching"),
        ((*cert.chosen, cert.chosen[0]), "chosen twice"),
        ((*cert.chosen, 99), "not an edge of the instance"),
    ):
        result = dataclasses.replace(cert, chosen=bad).verify()
        assert not result.ok and message in result.message


def test_greedy_preconditions_are_named():
    inst = unit_groups(6, 8, 2, seed=3)
    big = int(np.flatnonzero(inst.group_sizes == 2)[0])
    ones = np.ones(inst.n_edges)
    cases = [
        (inst.replace(edge_weight=np.r_[2.0, ones[1:]]), None, "'unit weights' fails: edge 0"),
        (
            inst.replace(edge_load=np.r_[ones[:-1], 0.5]),
            None,
            f"'unit loads' fails: edge {inst.n_edges - 1}",
        ),
        (inst.replace(capacity=np.full(6, 2.0)), None, "'unit capacities' fails: resource 0"),
        (inst.replace(edge_duration=ones), None, "'single-use resources' fails"),
        (inst, 1, f"'groups of <= k = 1 requests' fails: group {big} has 2 requests"),
        (inst, 0, "k must be a positive int"),
    ]
    genuine = certify_greedy(inst)
    for bad, k, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            greedy_dual_certificate(bad, [], k)
        forged_cert = dataclasses.replace(genuine, instance=bad, k=genuine.k if k is None else k)
        result = forged_cert.verify()
        assert not result.ok and message in result.message


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_certified_factor_k_plus_one_is_attained(k):
    inst = greedy_tight_instance(k)
    greedy = matching.solve(inst, "greedy")
    cert = greedy_dual_certificate(inst, greedy.edges, k)
    assert cert.verify().ok
    opt = matching.solve(inst, "mip").value
    assert cert.alg == 1 and opt == k + 1 == cert.dual_value == (k + 1) * cert.alg


def test_exhaustive_adversary_attains_the_dual_fitting_bound_for_k_one():
    for n in (2, 4):
        found = search("greedy", n)  # all 2^(n^2) graphs, exact ratios
        assert found.method == "exhaustive"
        assert found.isomorphic_to(upper_triangular_adjacency(n))
        greedy = matching.solve(found.instance, "greedy")
        cert = greedy_dual_certificate(found.instance, greedy.edges, 1)
        assert cert.verify().ok
        # the library's greedy is the searched greedy, and the worst ratio found over
        # every graph equals ALG / dual on the worst graph: no instance beats the bound
        assert cert.alg == found.alg
        assert cert.dual_value == found.opt
        assert found.ratio == cert.ratio == Fraction(1, 1 + cert.k)


def greedy_perturbations(cert):
    for name in ("y", "z"):
        values = getattr(cert, name)
        for i in range(len(values)):
            for delta in (TINY, -TINY):
                changed = list(values)
                changed[i] += delta
                bad = dataclasses.replace(cert, **{name: tuple(changed)})
                where = f"{name}[{i}] {'+' if delta > 0 else '-'} tiny"
                yield where, bad, ("dual value", f"dual {name}[{i}]", "dual row")
    yield "alg", dataclasses.replace(cert, alg=cert.alg - TINY), ("claimed ALG",)
    yield "dual", dataclasses.replace(cert, dual_value=cert.dual_value - TINY), ("dual value",)


def test_any_greedy_perturbation_fails_and_names_the_inequality():
    cert = certify_greedy(unit_groups(8, 9, 3, seed=1))
    assert cert.verify().ok
    assert assert_every_perturbation_fails(greedy_perturbations(cert)) > 40


def test_lowering_a_resource_dual_uncovers_the_edges_it_blocked():
    inst = greedy_tight_instance(2)  # edge 3 (request 2 on resource 0) is blocked by z_0
    cert = certify_greedy(inst)
    z = list(cert.z)
    z[0] = Fraction(0)
    bad = dataclasses.replace(cert, z=tuple(z), dual_value=cert.dual_value - 1).verify()
    assert not bad.ok and bad.message.startswith("dual row of edge 3 (resource 0, group 3")


# ------------------------------------------------- LP sample-and-attenuate: the chain
def started_mass(types, x):
    """Float x mass started per (resource, step), from the benchmark LP's x."""
    out = np.zeros((types.n_resources, x.shape[1]))
    np.add.at(out, types.edge_resource, x)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_attenuation_chain_on_kad_models(seed):
    types, p = kad_model(seed)
    cert = lp_attenuate_certificate(types, p)
    result = cert.verify()
    assert result.ok, result.message
    bench = kad_benchmark_lp(types, p)
    # x was only rounded and scaled: LP(x) is the benchmark optimum up to 1e-9
    assert float(cert.lp_value) <= bench.value * (1 + 1e-12)
    assert float(cert.lp_value) >= bench.value * (1 - 1e-9)
    assert cert.gamma == Fraction(1, 2) and cert.alg == cert.lp_value / 2
    # min beta over used cells, recomputed from matching.attenuation's busy mass
    used = started_mass(types, bench.x) > 1e-12
    expected = (1 - 0.5 * bench.busy_mass())[used].min()
    assert float(cert.min_beta) == pytest.approx(expected, abs=1e-9)
    assert cert.min_beta >= cert.gamma


LARGER_KAD = KADReusable(4, 5, 12, k=3, degree=2, max_duration=4)


@pytest.mark.parametrize(
    ("family", "seed"),
    [(SMALL_KAD, 0), (SMALL_KAD, 1), (SMALL_KAD, 5), (LARGER_KAD, 0), (LARGER_KAD, 3)],
)
def test_gamma_above_one_half_fails_exactly_where_busy_mass_exceeds_the_threshold(family, seed):
    types, p = kad_model(seed, family)
    bench = kad_benchmark_lp(types, p)
    used = started_mass(types, bench.x) > 1e-12
    # gamma = 3/5 needs 1 - 3/5 B >= 3/5, i.e. B <= 2/3, at every used cell
    over = np.argwhere(used & (bench.busy_mass() > Fraction(2, 3) + 1e-9))
    result = lp_attenuate_certificate(types, p, 0.6).verify()
    assert result.ok == (over.size == 0)
    if over.size:
        u, t = over[0]
        assert result.message.startswith(f"cell (u={u}, t={t}): beta = 1 - gamma B")
        assert "no probability" in result.message


def test_gamma_six_tenths_fails_on_a_model_with_busy_mass_near_one():
    types = matching.Instance([[0]], [(0, 0, 1.0, 1, 2.0)])  # one type, duration 2
    cert = lp_attenuate_certificate(types, [[0.9, 0.9, 0.9]], gamma=Fraction(3, 5))
    # x = (9/10, 1/10, 9/10): at t = 1 the busy mass is 9/10 and 1/10 starts
    assert cert.x[0] == (Fraction(9, 10), Fraction(1, 10), Fraction(9, 10))
    result = cert.verify()
    assert not result.ok
    assert result.message == (
        "cell (u=0, t=1): beta = 1 - gamma B = 1 - 3/5 * 9/10 = 23/50 < gamma = 3/5, "
        "so the acceptance gamma / beta > 1 is no probability"
    )


def test_guaranteed_ratio_is_the_largest_gamma_every_model_accepts():
    """The library's 1/2: accepted everywhere; anything larger fails as B -> 1."""
    types = matching.Instance([[0]], [(0, 0, 1.0, 1, 2.0)])
    previous = Fraction(1)
    for m in (10, 100, 1000):
        p = [[1 - 1 / m] * 3]
        cert = lp_attenuate_certificate(types, p, gamma=Fraction(GUARANTEED_RATIO))
        assert cert.verify().ok
        busy = cert.x[0][0]  # duration 2: the busy mass at t = 1 is x[0, 0]
        assert cert.x[0][1] > 0
        largest = 1 / (1 + busy)  # gamma <= 1 - gamma B  <=>  gamma <= 1 / (1 + B)
        assert lp_attenuate_certificate(types, p, gamma=largest).verify().ok
        result = lp_attenuate_certificate(types, p, gamma=largest + TINY).verify()
        assert not result.ok and result.message.startswith("cell (u=0, t=1)")
        assert Fraction(GUARANTEED_RATIO) < largest < previous
        assert largest - Fraction(1, 2) < Fraction(1, m)
        previous = largest


def test_perturbed_x_violating_a_resource_row_fails_naming_it():
    # two types on one resource, duration 2; both start at t = 0, so at t = 1 the
    # resource is fully busy and any mass started at t = 1 overflows its row
    types = matching.Instance([[0], [1]], [(0, 0, 1.0, 1, 2.0), (0, 1, 1.0, 1, 2.0)], capacity=[1])
    p = [[Fraction(1, 2)] * 2, [Fraction(1, 2)] * 2]
    x = [[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 2), Fraction(0)]]
    result = lp_attenuate_certificate(types, p, x=x).verify()
    assert not result.ok
    assert result.message == (
        "resource row (u=0, t=1): busy mass B = 1 plus mass started S = 1/2 is 3/2 > 1"
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moving_mass_onto_a_full_resource_fails_naming_its_row(seed):
    """On a KAD model: keep every type row, overflow one resource row."""
    types, p = kad_model(seed)
    cert = lp_attenuate_certificate(types, p)
    x = [list(row) for row in cert.x]
    ge = types.group_edges
    for v, t in itertools.product(range(types.n_groups), range(cert.n_steps)):
        edges = ge.indices[ge.indptr[v] : ge.indptr[v + 1]].tolist()
        for e1, e2 in itertools.permutations(edges, 2):
            u1 = int(types.edge_resource[e1])
            if x[e2][t] > 0 and resource_row(types, x, u1, t) + x[e2][t] > 1:
                x[e1][t] += x[e2][t]
                x[e2][t] = Fraction(0)
                result = lp_attenuate_certificate(types, p, x=x).verify()
                assert not result.ok
                assert result.message.startswith(f"resource row (u={u1}, t={t}): busy mass")
                return
    pytest.fail("no type edge could be moved onto a full resource")


def resource_row(types, x, u, t):
    """Exact busy mass of resource u at step t, counting edges started at t too."""
    total = Fraction(0)
    for e, row in enumerate(x):
        if int(types.edge_resource[e]) == u:
            d = int(types.edge_duration[e])
            total += sum((row[s] for s in range(max(0, t - d + 1), t + 1)), Fraction(0))
    return total


def attenuation_perturbations(cert):
    expected = ("x[", "type row", "resource row", "claimed", "cell")
    for e, t in itertools.product(range(len(cert.x)), range(cert.n_steps)):
        for delta in (TINY, -TINY):
            x = [list(row) for row in cert.x]
            x[e][t] += delta
            bad = dataclasses.replace(cert, x=tuple(map(tuple, x)))
            yield f"x[{e}, {t}] {'+' if delta > 0 else '-'} tiny", bad, expected
    for name in ("gamma", "lp_value", "min_beta", "alg"):
        bad = dataclasses.replace(cert, **{name: getattr(cert, name) + TINY})
        yield name, bad, ("claimed", "cell")


def test_any_attenuation_perturbation_fails_and_names_the_inequality():
    cert = attenuation_example()
    assert assert_every_perturbation_fails(attenuation_perturbations(cert)) > 100


def test_attenuation_preconditions_are_named():
    types, p = kad_model(0)
    genuine = lp_attenuate_certificate(types, p)
    crowded = np.array(p, dtype=float)
    crowded[:, 2] = 0.3  # four types at 0.3 each: 1.2 expected arrivals in one step
    cases = [
        (types.replace(edge_load=np.full(types.n_edges, 0.5)), p, "'unit loads' fails: edge 0"),
        (types.replace(capacity=np.full(3, 2.0)), p, "'unit capacities' fails: resource 0"),
        (
            types.replace(edge_duration=np.full(types.n_edges, 1.5)),
            p,
            "'integer durations >= 1' fails: edge 0 has duration 1.5",
        ),
        (types, crowded, "'at most one arrival per step' fails: sum_v p[v, t=2]"),
        (types, p[:2], "p must be a table of n_types=4 rows"),
    ]
    for bad_types, bad_p, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            lp_attenuate_certificate(bad_types, bad_p, x=genuine.x)
        forged_p = tuple(tuple(Fraction(float(v)) for v in row) for row in bad_p)
        result = dataclasses.replace(genuine, types=bad_types, p=forged_p).verify()
        assert not result.ok and message in result.message
    for gamma in (0, -1, Fraction(3, 2)):
        result = dataclasses.replace(genuine, gamma=Fraction(gamma)).verify()
        assert not result.ok and "gamma must lie in (0, 1]" in result.message


# ------------------------------------------------------------- adversary search
def ranking_expectation_by_brute_force(adj, n):
    """E[RANKING] over all n! rankings, written independently of proofs.adversary."""
    neighbours = [{r for r in range(n) if mask >> r & 1} for mask in adj]
    total = 0
    for rank in itertools.permutations(range(n)):
        free = set(range(n))
        for options in neighbours:
            options = options & free
            if options:
                free.remove(min(options, key=lambda r: rank[r]))
                total += 1
    return Fraction(total, math.factorial(n))


def optimum_by_networkx(adj, n):
    g = nx.Graph()
    g.add_nodes_from(range(2 * n))
    g.add_edges_from((i, n + r) for i in range(n) for r in range(n) if adj[i] >> r & 1)
    return len(nx.max_weight_matching(g, maxcardinality=True))


def test_ranking_search_rediscovers_upper_triangular_and_exact_expectation():
    for n, expected in ((2, Fraction(3, 4)), (3, Fraction(13, 18))):
        found = search("ranking", n)
        assert found.ratio == expected
        assert found.isomorphic_to(upper_triangular_adjacency(n))
        assert found.alg == ranking_expectation_by_brute_force(found.adjacency, n)
        assert found.opt == optimum_by_networkx(found.adjacency, n)


def test_ranking_local_search_reports_exact_ratios():
    n = 4
    local = search("ranking", n, method="local", restarts=4, steps=100)
    # the reported ratio is the exact E[ALG] / OPT of the returned graph, recomputed
    alg = ranking_expectation_by_brute_force(local.adjacency, n)
    opt = optimum_by_networkx(local.adjacency, n)
    assert (local.alg, local.opt, local.ratio) == (alg, opt, alg / opt)
    # no graph is worse than the exhaustive search's worst, recomputed independently
    worst = search("ranking", n)
    assert worst.alg == ranking_expectation_by_brute_force(worst.adjacency, n)
    assert worst.opt == optimum_by_networkx(worst.adjacency, n)
    assert local.ratio >= worst.ratio >= ranking_lp_optimum(n)


def test_maximum_matching_against_networkx():
    from proofs.adversary import maximum_matching

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 7))
        adj = tuple(int(v) for v in rng.integers(0, 1 << n, size=n))
        assert maximum_matching(adj, n) == optimum_by_networkx(adj, n)


def test_bad_arguments():
    with pytest.raises(ValueError, match="policy"):
        search("oracle", 3)
    with pytest.raises(ValueError, match="n must be positive"):
        ranking_certificate(0)
    with pytest.raises(ValueError, match="k must be a positive int"):
        greedy_tight_instance(0)
    with pytest.raises(TypeError, match="chosen_edges must be edge indices"):
        greedy_dual_certificate(greedy_tight_instance(1), [0.5])
    with pytest.raises(ValueError, match="unknown policy"):
        build_certificate("balance")


# ------------------------------------------------------------------ command line
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--policy", "ranking", "--n", "50"], "RANKING is at least 0.628472-competitive"),
        (["--policy", "greedy", "--k", "2", "--n", "8"], "greedy on this instance: OPT <= LP"),
        (["--policy", "lp-attenuate"], "LP sample-and-attenuate on this model"),
    ],
)
def test_prove_command_prints_the_verified_statement(argv, expected, capsys):
    from groupmatch.cli import main

    assert main(["prove", *argv]) == 0
    out = capsys.readouterr().out
    assert out.startswith(expected)
    assert "exact check: verified" in out and "written proof only" in out


def test_prove_command_fails_on_a_refused_certificate(tmp_path, capsys):
    from groupmatch.cli import main

    argv = ["prove", "--policy", "lp-attenuate", "--gamma", "3/5"]
    assert main([*argv, "--seed", "0"]) == 1  # a used cell has busy mass above 2/3
    out = capsys.readouterr().out
    assert out.startswith("NOT CERTIFIED") and "exact check: cell (u=1, t=4)" in out
    path = tmp_path / "weighted.json"
    matching.Instance([[0], [1]], [(0, 0, 2.0), (0, 1, 1.0)]).to_json(path)
    assert main(["prove", "--policy", "greedy", "--instance", str(path)]) == 2
    assert "'unit weights' fails: edge 0 has weight 2" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# Consistency with the online harness: certificates against runs of matching.driver.simulate,
# matching.online policies and matching.ratio.competitive_ratio.
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class UnitWeights:
    """A family with every weight set to 1 (the online greedy guarantee's setting)."""

    family: object

    def __call__(self, rng):
        seq = self.family(rng)
        inst = seq.instance
        return dataclasses.replace(seq, instance=inst.replace(edge_weight=np.ones(inst.n_edges)))


def test_online_harness_greedy_runs_are_certified():
    from matching.driver import simulate
    from matching.online import GreedyPolicy
    from matching.online_families import KUniformGroups, RandomBipartite

    for k in (1, 2, 3):
        fam = UnitWeights(
            RandomBipartite(10, 12, density=0.3) if k == 1 else KUniformGroups(6, 18, 20, k=k)
        )
        rng = np.random.default_rng(k)
        for _ in range(10):
            seq = fam(rng)
            run = simulate(GreedyPolicy(), seq)
            cert = greedy_dual_certificate(seq.instance, run.edges, k)
            assert cert.verify().ok  # online greedy's output is a maximal matching
            assert cert.alg == run.value
            assert run.value >= matching.solve(seq.instance, "mip").value / (k + 1) - 1e-9


def test_online_harness_agrees_with_the_adversary_search():
    from matching.arrivals import adversarial_order
    from matching.driver import simulate
    from matching.online import GreedyPolicy, RankingPolicy

    for n in (2, 4):
        found = search("greedy", n)
        run = simulate(GreedyPolicy(), adversarial_order(found.instance))
        assert Fraction(run.value).limit_denominator() == found.alg
    for n in (2, 3):
        found = search("ranking", n)
        seq = adversarial_order(found.instance)
        values = [simulate(RankingPolicy(), seq, seed=s).value for s in range(4000)]
        se = np.std(values) / np.sqrt(len(values))
        assert abs(np.mean(values) - float(found.alg)) < 4 * se + 1e-9


def test_online_harness_ranking_meets_its_certified_lp_bound():
    from matching.online import RankingPolicy
    from matching.online_families import UpperTriangular
    from matching.ratio import competitive_ratio

    cert = ranking_certificate(40)
    assert cert.verify().ok
    report = competitive_ratio(
        RankingPolicy(), UpperTriangular(40), trials=150, seed=5, with_lp=False
    )
    se = report.ratio_opt.std() / np.sqrt(150)
    assert report.ratio_opt.mean() >= float(cert.lower) - 4 * se


def test_online_harness_lp_attenuate_reaches_the_certified_value():
    from matching.arrivals import known_adversarial
    from matching.attenuation import LPSampleAttenuatePolicy
    from matching.driver import simulate

    types, p = KADReusable(3, 4, 10).types_and_probabilities(np.random.default_rng(11))
    cert = lp_attenuate_certificate(types, p, gamma=Fraction(GUARANTEED_RATIO))
    assert cert.verify().ok
    policy = LPSampleAttenuatePolicy()
    assert Fraction(policy.gamma) == cert.gamma
    values = [
        simulate(policy, known_adversarial(types, p, seed=s, reusable=True), seed=10**6 + s).value
        for s in range(1500)
    ]
    se = np.std(values) / np.sqrt(len(values))
    assert np.mean(values) >= float(cert.alg) - 4 * se
