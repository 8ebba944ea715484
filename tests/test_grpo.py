"""GRPO rollout workloads: capped log-normal calibration, presets, batches, prompt share."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from scheduling.grpo import (
    PRESETS,
    GRPOPreset,
    RolloutBatch,
    calibrate_log_mean,
    capped_lognormal_mean,
    explained_share,
    grpo_batch,
)
from scheduling.rollout import group_length_estimates

# Seer (Qin et al.), Table 3: group size, maximum generation length, mean output length;
# prompts per iteration of its evaluation setup.
TABLE_3 = {
    "moonlight": (8, 65_536, 22_386, 400),
    "qwen2vl": (16, 40_960, 7_615, 600),
    "kimik2": (8, 98_304, 38_959, 800),
}
LARGE = 20_000  # prompts in a "large" batch
CASES = [(9.5, 1.0, 65_536), (0.0, 1.0, 1.0), (2.0, 0.3, 5.0), (10.4, 1.4, 98_304)]


def _by_quad(m: float, s: float, cap: float) -> float:
    """E[min(exp(m + s Z), cap)] by numeric integration over the standard normal Z."""
    z_cap = (math.log(cap) - m) / s
    below, _ = quad(lambda z: math.exp(m + s * z) * norm.pdf(z), -40, z_cap, epsabs=0)
    return below + cap * norm.sf(z_cap)


def _share_se(rho: float, g: int, p: int) -> float:
    """Large-sample standard error of the ANOVA intraclass-correlation estimator."""
    return math.sqrt(2.0 / (g * (g - 1) * (p - 1))) * (1 - rho) * (1 + (g - 1) * rho)


# --------------------------------------------------------------------------- calibration
@pytest.mark.parametrize(("m", "s", "cap"), CASES)
def test_capped_mean_matches_numeric_integration(m, s, cap):
    assert capped_lognormal_mean(m, s, cap) == pytest.approx(_by_quad(m, s, cap), rel=1e-9)


@pytest.mark.parametrize(("m", "s", "cap"), CASES)
def test_capped_mean_matches_monte_carlo(m, s, cap):
    rng = np.random.default_rng(11)
    draws = np.minimum(np.exp(rng.normal(m, s, size=1_000_000)), cap)
    se = draws.std(ddof=1) / math.sqrt(draws.size)
    assert abs(capped_lognormal_mean(m, s, cap) - draws.mean()) < 4 * se


def test_capped_mean_limits():
    # no effective cap: the log-normal mean; a tiny cap: the cap; no spread: min(e^m, cap)
    assert capped_lognormal_mean(3.0, 0.8, 1e300) == pytest.approx(math.exp(3.32), rel=1e-12)
    assert capped_lognormal_mean(30.0, 0.5, 7.0) == pytest.approx(7.0, rel=1e-12)
    assert capped_lognormal_mean(1.0, 0.0, 100.0) == pytest.approx(math.e)
    assert capped_lognormal_mean(5.0, 0.0, 100.0) == 100.0
    # no overflow far beyond the cap
    assert capped_lognormal_mean(800.0, 2.0, 10.0) == pytest.approx(10.0)


@pytest.mark.parametrize("s", [0.0, 0.2, 1.0, 2.5])
@pytest.mark.parametrize("ratio", [1e-4, 0.1, 0.34, 0.9, 0.999])
def test_calibrate_inverts_the_capped_mean(s, ratio):
    cap = 65_536.0
    mean = ratio * cap
    m = calibrate_log_mean(mean, s, cap)
    assert capped_lognormal_mean(m, s, cap) == pytest.approx(mean, rel=1e-10)


def test_calibrated_log_mean_sits_above_the_uncapped_one():
    # The cap removes mass from the top, so m must rise to keep the mean.
    uncapped = math.log(22_386) - 0.5
    assert calibrate_log_mean(22_386, 1.0, 65_536) > uncapped + 0.1
    assert calibrate_log_mean(22_386, 1.0, 1e12) == pytest.approx(uncapped, abs=1e-9)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 1.0, 10.0), "mean must be a positive number"),
        ((10.0, 1.0, 10.0), "mean must be below the cap 10"),
        ((5.0, -0.1, 10.0), "s must be at least 0"),
        ((5.0, 1.0, 0.0), "cap must be a positive number"),
        ((5.0, float("nan"), 10.0), "s must be finite"),
    ],
)
def test_calibrate_refuses_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        calibrate_log_mean(*args)


# --------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", sorted(TABLE_3))
def test_presets_carry_table_3(name):
    p = PRESETS[name]
    assert p.name == name
    assert (p.group_size, p.max_tokens, p.mean_tokens, p.prompts) == TABLE_3[name]
    assert 0.0 <= p.prompt_share <= 1.0
    assert capped_lognormal_mean(p.log_mean, p.log_std, p.max_tokens) == pytest.approx(
        p.mean_tokens, rel=1e-10
    )
    z = (math.log(p.max_tokens) - p.log_mean) / p.log_std
    assert p.cap_share == pytest.approx(norm.sf(z))
    assert 0.01 < p.cap_share < 0.15


@pytest.mark.parametrize("name", sorted(TABLE_3))
def test_large_batch_matches_table_3(name):
    p = PRESETS[name]
    b = grpo_batch(name, prompts=LARGE, seed=3)
    g, cap, mean, _ = TABLE_3[name]
    out = b.output_tokens
    assert b.group_size == g and b.n_groups == LARGE and b.n_requests == LARGE * g
    assert b.max_tokens == cap
    assert out.dtype == np.int64 and out.min() >= 1 and out.max() <= cap
    # Responses to a prompt are correlated: the standard error comes from group means.
    group_means = out.reshape(LARGE, g).mean(axis=1)
    se = group_means.std(ddof=1) / math.sqrt(LARGE)
    assert abs(out.mean() - mean) < 4 * se
    assert 4 * se < 0.04 * mean  # the check is a tight one
    # The truncated share is the model's P(L >= cap), again with a group-level error.
    hit = b.truncated.reshape(LARGE, g).mean(axis=1)
    assert abs(hit.mean() - p.cap_share) < 4 * hit.std(ddof=1) / math.sqrt(LARGE)
    assert (out[b.truncated] == cap).all()


@pytest.mark.parametrize("rho", [0.0, 1.0])
def test_mean_does_not_depend_on_prompt_share(rho):
    b = grpo_batch("moonlight", prompts=LARGE, seed=5, prompt_share=rho)
    group_means = b.output_tokens.reshape(LARGE, 8).mean(axis=1)
    se = group_means.std(ddof=1) / math.sqrt(LARGE)
    assert abs(b.output_tokens.mean() - 22_386) < 4 * se


@pytest.mark.parametrize("name", sorted(TABLE_3))
def test_batch_structure(name):
    b = grpo_batch(name, seed=1)
    p = PRESETS[name]
    assert b.n_groups == p.prompts and b.n_requests == p.prompts * p.group_size
    assert b.prompt_id.tolist() == np.repeat(np.arange(p.prompts), p.group_size).tolist()
    groups = b.groups()
    assert len(groups) == p.prompts
    assert all(idx.size == p.group_size for idx in groups)
    assert np.concatenate(groups).tolist() == list(range(b.n_requests))
    for idx in groups:
        assert (b.prompt_id[idx] == b.prompt_id[idx[0]]).all()
        assert (b.prompt_tokens[idx] == b.prompt_tokens[idx[0]]).all()
    assert b.prompt_tokens.min() >= 1
    # the prompt-length model: median near exp(prompt_log_mean)
    median = np.median(b.prompt_tokens[:: p.group_size])
    spread = 4 * 1.2533 * p.prompt_log_std / math.sqrt(p.prompts)  # se of a log median
    assert abs(math.log(median) - p.prompt_log_mean) < spread
    with pytest.raises(ValueError, match="read-only"):
        b.output_tokens[0] = 1


def test_rollout_state_bridge():
    b = grpo_batch("qwen2vl", prompts=3, seed=2)
    state = b.rollout_state()
    assert state.group_of.tolist() == b.prompt_id.tolist()
    assert state.output_tokens.tolist() == b.output_tokens.tolist()
    assert not state.finished.any()
    assert group_length_estimates(state).tolist() == [40_960.0] * 3


# --------------------------------------------------------------------------- prompt share
@pytest.mark.parametrize("rho", [0.0, 0.3, 0.7, 1.0])
@pytest.mark.parametrize("name", ["moonlight", "qwen2vl"])
def test_explained_share_recovers_rho_without_cap(name, rho):
    # With the cap out of reach the log lengths are exactly the model's.
    p = replace(PRESETS[name], max_tokens=2**40)
    b = grpo_batch(p, prompts=LARGE, seed=7, prompt_share=rho)
    assert not b.truncated.any()
    est = explained_share(b)
    if rho == 1.0:
        assert est == 1.0
    else:
        assert abs(est - rho) < 4 * _share_se(rho, p.group_size, LARGE) + 1e-3


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.7, 1.0])
@pytest.mark.parametrize("name", sorted(TABLE_3))
def test_explained_share_close_to_rho_with_cap(name, rho):
    # Truncation at the cap shifts the estimate by at most ~0.02 for the presets.
    b = grpo_batch(name, prompts=LARGE, seed=8, prompt_share=rho)
    g = PRESETS[name].group_size
    assert abs(explained_share(b) - rho) < 4 * _share_se(rho, g, LARGE) + 0.02


def test_explained_share_by_hand():
    # One-way ANOVA on log lengths: alike within groups -> 1; groups alike -> -1/(G-1).
    def batch(lengths, g):
        n = len(lengths)
        return RolloutBatch(np.repeat(np.arange(n // g), g), g, [7] * n, lengths, 1000)

    assert explained_share(batch([1, 1, 100, 100], 2)) == pytest.approx(1.0)
    assert explained_share(batch([1, 100, 100, 1], 2)) == pytest.approx(-1.0)
    assert explained_share(batch([1, 10, 100, 1, 10, 100], 3)) == pytest.approx(-0.5)
    # a mixed case against sums of squares worked out separately
    lengths = [2, 4, 8, 16, 5, 50]
    y = np.log(lengths).reshape(3, 2)
    ssw = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum()
    ssb = ((y - y.mean()) ** 2).sum() - ssw
    msb, msw = ssb / 2, ssw / 3
    assert explained_share(batch(lengths, 2)) == pytest.approx((msb - msw) / (msb + msw))


def test_explained_share_refuses_degenerate_batches():
    one_group = grpo_batch("moonlight", prompts=1)
    with pytest.raises(ValueError, match="at least 2 groups"):
        explained_share(one_group)
    singles = grpo_batch(replace(PRESETS["moonlight"], group_size=1), prompts=10)
    with pytest.raises(ValueError, match="at least 2 responses"):
        explained_share(singles)
    flat = grpo_batch(replace(PRESETS["moonlight"], log_std=0.0), prompts=4)
    assert len(set(flat.output_tokens.tolist())) == 1
    with pytest.raises(ValueError, match="all output lengths are equal"):
        explained_share(flat)
    with pytest.raises(TypeError, match="batch must be a RolloutBatch"):
        explained_share([1, 2, 3])


# --------------------------------------------------------------------------- seeds
def test_same_seed_same_batch():
    a = grpo_batch("kimik2", seed=42)
    b = grpo_batch("kimik2", seed=42)
    for key in ("prompt_id", "prompt_tokens", "output_tokens"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
    c = grpo_batch("kimik2", seed=43)
    assert not np.array_equal(a.output_tokens, c.output_tokens)
    assert not np.array_equal(a.prompt_tokens, c.prompt_tokens)
    d = grpo_batch("kimik2", seed=np.random.default_rng(42))
    assert np.array_equal(a.output_tokens, d.output_tokens)


def test_prompt_share_reuses_the_random_numbers():
    lo = grpo_batch("moonlight", prompts=50, seed=9, prompt_share=0.2)
    hi = grpo_batch("moonlight", prompts=50, seed=9, prompt_share=0.9)
    assert np.array_equal(lo.prompt_tokens, hi.prompt_tokens)
    assert not np.array_equal(lo.output_tokens, hi.output_tokens)
    # rho = 1: all responses to a prompt equally long; rho = 0: almost never
    same = grpo_batch("moonlight", prompts=50, seed=9, prompt_share=1.0)
    assert all(np.unique(same.output_tokens[idx]).size == 1 for idx in same.groups())
    indep = grpo_batch("moonlight", prompts=50, seed=9, prompt_share=0.0)
    assert sum(np.unique(indep.output_tokens[idx]).size == 1 for idx in indep.groups()) == 0


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("rho", [-0.01, 1.01, float("inf")])
def test_prompt_share_outside_unit_interval(rho):
    with pytest.raises(ValueError, match="prompt_share must be"):
        grpo_batch("moonlight", prompt_share=rho)
    with pytest.raises(ValueError, match="prompt_share must be"):
        replace(PRESETS["moonlight"], prompt_share=rho)


@pytest.mark.parametrize("prompts", [0, -3])
def test_nonpositive_prompts(prompts):
    with pytest.raises(ValueError, match="prompts must be at least 1"):
        grpo_batch("qwen2vl", prompts=prompts)
    with pytest.raises(ValueError, match="prompts must be at least 1"):
        replace(PRESETS["qwen2vl"], prompts=prompts)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("group_size", 0, "group_size must be at least 1"),
        ("group_size", -2, "group_size must be at least 1"),
        ("max_tokens", 0, "max_tokens must be at least 1"),
        ("mean_tokens", 0, "mean_tokens must be at least 1"),
        ("mean_tokens", 65_536, "mean_tokens must be below max_tokens=65536"),
        ("log_std", -0.5, "log_std must be at least 0"),
        ("prompt_log_std", -1.0, "prompt_log_std must be at least 0"),
        ("prompt_log_mean", float("nan"), "prompt_log_mean must be finite"),
    ],
)
def test_preset_field_errors(field, value, match):
    with pytest.raises(ValueError, match=match):
        replace(PRESETS["moonlight"], **{field: value})


def test_type_errors_name_the_field():
    with pytest.raises(TypeError, match="prompts must be an int"):
        grpo_batch("moonlight", prompts=2.0)
    with pytest.raises(TypeError, match="prompt_share must be a number"):
        grpo_batch("moonlight", prompt_share="0.5")
    with pytest.raises(TypeError, match="group_size must be an int"):
        GRPOPreset("x", 8.0, 100, 10, 1.0, 0.5, 5.0, 0.5, 4)
    with pytest.raises(TypeError, match="seed"):
        grpo_batch("moonlight", seed=1.5)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown preset 'kimi-k2'; choose one of") as err:
        grpo_batch("kimi-k2")
    for name in TABLE_3:
        assert repr(name) in str(err.value)
    with pytest.raises(ValueError, match="unknown preset 3"):
        grpo_batch(3)


def test_too_many_requests():
    with pytest.raises(ValueError, match="more than 100000000"):
        grpo_batch("qwen2vl", prompts=10**7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt_id": [0, 1]}, r"prompt_id\[1\] = 1, expected 0"),
        ({"output_tokens": [3, 0]}, r"output_tokens\[1\] = 0 is below 1"),
        ({"output_tokens": [3, 11]}, r"output_tokens\[1\] = 11 is above max_tokens=10"),
        ({"prompt_tokens": [5, 6]}, "prompt_tokens differ within prompt 0"),
        ({"prompt_tokens": [0, 0]}, r"prompt_tokens\[0\] = 0 is below 1"),
        ({"output_tokens": [3, 4, 5]}, "output_tokens has 3 entries, prompt_id has 2"),
        ({"group_size": 3}, "2 requests are not whole groups of group_size=3"),
        ({"max_tokens": 0}, "max_tokens must be at least 1"),
    ],
)
def test_rollout_batch_checks_its_arrays(kwargs, match):
    fields = {
        "prompt_id": [0, 0],
        "group_size": 2,
        "prompt_tokens": [5, 5],
        "output_tokens": [3, 10],
        "max_tokens": 10,
    }
    with pytest.raises(ValueError, match=match):
        RolloutBatch(**(fields | kwargs))


def test_rollout_batch_copies_its_input():
    out = np.array([3, 10])
    b = RolloutBatch(np.array([0, 0]), 2, np.array([5, 5]), out, 10)
    out[0] = 99
    assert b.output_tokens.tolist() == [3, 10]
    assert out.flags.writeable
    with pytest.raises(TypeError, match="output_tokens must hold integers"):
        RolloutBatch(np.array([0, 0]), 2, np.array([5, 5]), np.array([3.0, 4.0]), 10)
