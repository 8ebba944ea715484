"""Generalized assignment families: recipes, and the matching optimum is the min-cost GAP."""

import itertools

import numpy as np
import pytest

import matching
from matching.gap_families import GAP_TYPES, generalized_assignment


def brute_force_min_cost(gap):
    """Cheapest feasible assignment by enumerating every agent-of-job vector."""
    best = None
    for agents in itertools.product(range(gap.n_agents), repeat=gap.n_jobs):
        try:
            cost = gap.total_cost(np.array(agents))
        except ValueError:
            continue
        best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize("method", ["cpsat", "mip"])
@pytest.mark.parametrize("kind", GAP_TYPES)
@pytest.mark.parametrize("seed", range(3))
def test_matching_optimum_is_the_brute_force_min_cost_assignment(kind, seed, method):
    gap = generalized_assignment(kind, 2, 6, seed=seed)
    expected = brute_force_min_cost(gap)
    inst = gap.instance()
    res = matching.solve(inst, method, objective="min", serve_all=True)
    if expected is None:
        assert res.status is matching.Status.INFEASIBLE and len(res.edges) == 0
        return
    assert res.status is matching.Status.OPTIMAL and res.check(inst)
    agent = np.full(gap.n_jobs, -1)
    for r, g in res.assignment.tolist():
        agent[g] = r
    assert gap.total_cost(agent) == expected == res.value
    assert res.bound <= expected + 1e-6


def test_recipes_follow_their_published_ranges():
    for kind in "abc":
        gap = generalized_assignment(kind, 10, 200, seed=4)
        assert gap.load.min() >= 5 and gap.load.max() <= 25
        assert gap.cost.min() >= 10 and gap.cost.max() <= 50
    d = generalized_assignment("d", 10, 200, seed=4)
    assert d.load.min() >= 1 and d.load.max() <= 100
    assert (np.abs(d.cost - (111 - d.load)) <= 10).all()
    e = generalized_assignment("e", 10, 200, seed=4)
    assert (e.load >= 1).all()
    # type E's costs fall as loads grow (1000 / r): strongly negatively correlated
    assert np.corrcoef(e.load.ravel(), e.cost.ravel())[0, 1] < -0.5
    a = generalized_assignment("a", 4, 40, seed=2)
    b = generalized_assignment("b", 4, 40, seed=2)
    assert len(set(a.capacity.tolist())) == 1 and len(set(b.capacity.tolist())) == 1
    assert abs(b.capacity[0] - 0.7 * a.capacity[0]) <= 1  # B is 70% of A, both floored


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown GAP type 'f'"):
        generalized_assignment("f", 2, 3)
    with pytest.raises(ValueError, match="n_jobs must be a positive int, got 0"):
        generalized_assignment("a", 2, 0)
    gap = generalized_assignment("c", 2, 4, seed=0)
    with pytest.raises(ValueError, match="every job needs an agent"):
        gap.total_cost(np.array([0, 1, -1, 0]))
