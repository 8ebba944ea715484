"""The online-matching admission policy: its admissions against the hindsight optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.hindsight import offline_optimum
from scheduling.serving_online import OnlineMatchingPolicy
from scheduling.serving_sim import ClusterConfig, simulate_serving
from scheduling.traces import LLMRequests


def brute_force_admissions(times, candidates, duration, seats) -> int:
    """Most requests admitted at arrival, each holding one seat of its instance for
    that instance's duration (exhaustive over every choice per request)."""
    best = 0
    options = [(-1, *ks) for ks in candidates]
    for choice in itertools.product(*options):
        held: list[tuple[float, float, int]] = []
        ok = True
        for t, k in zip(times, choice, strict=True):
            if k < 0:
                continue
            busy = sum(1 for s, e, r in held if r == k and s <= t < e)
            if busy >= seats[k]:
                ok = False
                break
            held.append((t, t + duration[k], k))
        if ok:
            best = max(best, sum(k >= 0 for k in choice))
    return best


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 8))
def test_admissions_are_at_least_half_the_hindsight_optimum(seed, n):
    rng = np.random.default_rng(seed)
    models = rng.choice(["mistral-7b", "vicuna-13b"], n)
    reqs = LLMRequests(
        np.sort(rng.uniform(0, 20, n)), rng.integers(50, 500, n), rng.integers(5, 300, n),
        model=models, slo_class=np.full(n, "a"), slo_s=np.full(n, 30.0),
    )  # fmt: skip
    policy = OnlineMatchingPolicy(seats=1, mean_output=100.0, std_output=50.0)
    config = ClusterConfig(instances=3, models=("mistral-7b", "vicuna-13b", "mistral-7b"))
    run = simulate_serving(reqs, policy, config)
    assert run.summary["finished"] == n
    admitted = policy.counters()["admitted"]
    times = [t for t, _ in policy.admissions]
    candidates = [ks for _, ks in policy.admissions]
    opt = brute_force_admissions(times, candidates, policy.reservation_s, [1, 1, 1])
    assert admitted * 2 >= opt
    assert admitted <= opt
    # the library's hindsight optimum agrees with the exhaustive one
    assert offline_optimum(policy.admission_sequence()).value == pytest.approx(opt)
    assert policy.guarantee().startswith("ALG/OPT >= 1/2")


def test_rejected_requests_are_served_from_the_overflow_queue():
    n = 6
    reqs = LLMRequests(
        np.zeros(n), np.full(n, 100), np.full(n, 50), model=np.full(n, "mistral-7b"),
        slo_class=np.full(n, "a"), slo_s=np.full(n, 30.0),
    )  # fmt: skip
    policy = OnlineMatchingPolicy(seats=2)
    run = simulate_serving(reqs, policy, ClusterConfig(instances=1, models=("mistral-7b",)))
    assert policy.counters() == {"admitted": 2, "overflowed": 4}
    assert run.summary["finished"] == n
