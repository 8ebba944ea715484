"""The serving cluster simulator: conservation, model loads, action checks, hidden lengths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_checks import MODELS, check_audit, hidden_workload, small, workload

from scheduling.engine import Instance
from scheduling.serving import (
    Dispatch,
    Evict,
    LoadModel,
    ServingActionError,
    ServingPolicy,
    WakeUp,
)
from scheduling.serving_baselines import CentralQueuePolicy, FCFSPolicy
from scheduling.serving_sim import ClusterConfig, default_models, simulate_serving
from scheduling.traces import LLMRequests


class ChaosPolicy(ServingPolicy):
    """Random legal actions: dispatches, evictions and model loads."""

    name = "chaos"

    def reset(self, view, rng):
        self.rng = rng
        self.waiting = []

    def on_arrival(self, now, requests):
        self.waiting.extend(requests)

    def decide(self, now, view):
        actions, models = [], {}
        for k in range(view.n_instances):
            models[k] = view.model(k)
        for k in range(view.n_instances):
            mid_prefill = view.prefilling(k)
            running = [rid for rid, _ in view.running(k) if rid not in mid_prefill]
            if running and self.rng.random() < 0.3:
                actions.append(Evict(k, running[self.rng.integers(len(running))]))
            if view.idle(k, now) and self.waiting and self.rng.random() < 0.5:
                want = self.waiting[self.rng.integers(len(self.waiting))].model
                if want != models[k]:
                    actions.append(LoadModel(k, want))
                    models[k] = want
        keep = []
        for req in self.waiting:
            ks = [k for k in range(view.n_instances) if models[k] == req.model]
            if ks and self.rng.random() < 0.7:
                front = self.rng.random() < 0.2
                actions.append(Dispatch(req.rid, int(self.rng.choice(ks)), front))
            else:
                keep.append(req)
        self.waiting = keep
        if keep:
            from scheduling.serving import WakeUp

            actions.append(WakeUp(now + 0.5))
        return actions


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    swap=st.booleans(),
    blocks=st.integers(30, 200),
    chunked=st.booleans(),
)
def test_conservation_under_random_actions(seed, swap, blocks, chunked):
    reqs = workload(int(np.random.default_rng(seed).integers(5, 50)), seed=seed)
    specs = {m: small(m, blocks) for m in MODELS}
    config = ClusterConfig(
        instances=3, models=("mistral-7b", "vicuna-13b", "mistral-7b"), specs=specs,
        max_batch=8, state_swapping=swap, chunked_prefill=chunked, max_batched_tokens=64,
    )  # fmt: skip
    run = simulate_serving(reqs, ChaosPolicy(), config, seed=seed, audit=True)
    for rid, reason in run.dropped.items():  # dropped only when it could never fit
        spec = specs[reqs.model[rid]]
        assert spec.blocks_for(int(reqs.prompt_tokens[rid] + reqs.output_tokens[rid])) > (
            spec.kv_blocks
        )
        assert "KV tokens" in reason
    check_audit(run, reqs, config, specs)
    ttft = run.first_token - run.arrival
    assert (ttft[np.isfinite(ttft)] > 0).all()
    assert (run.finish[np.isfinite(run.finish)] >= run.first_token[np.isfinite(run.finish)]).all()


def test_model_load_times_cold_then_warm():
    """Load vicuna (cold), then mistral back (warm): times from the cost model."""
    spec_m, spec_v = Instance("mistral-7b", "a100"), Instance("vicuna-13b", "a100")
    reqs = LLMRequests(
        np.array([0.0, 0.0, 0.0]), np.array([10, 10, 10]), np.array([2, 2, 2]),
        model=np.array(["vicuna-13b", "mistral-7b", "vicuna-13b"]),
        slo_class=np.array(["a", "a", "a"]), slo_s=np.array([100.0] * 3),
    )  # fmt: skip

    class Script(ServingPolicy):
        name = "script"

        def reset(self, view, rng):
            self.stage = 0

        def decide(self, now, view):
            if self.stage == 0:
                self.stage = 1
                return [LoadModel(0, "vicuna-13b"), Dispatch(0, 0)]
            if self.stage == 1 and view.idle(0, now):
                self.stage = 2
                return [LoadModel(0, "mistral-7b"), Dispatch(1, 0)]
            if self.stage == 2 and view.idle(0, now):
                self.stage = 3
                return [LoadModel(0, "vicuna-13b"), Dispatch(2, 0)]
            return []

    run = simulate_serving(reqs, Script(), ClusterConfig(instances=1, models=("mistral-7b",)),
                           audit=True)  # fmt: skip
    cold_v = spec_v.model_load_time()
    warm_m = spec_m.model_load_time(warm=True)
    warm_v = spec_v.model_load_time(warm=True)
    two = spec_v.step_time([10]) + spec_v.step_time([], [11])
    assert run.first_token[0] == pytest.approx(cold_v + spec_v.step_time([10]))
    assert run.finish[0] == pytest.approx(cold_v + two)
    t = cold_v + two + warm_m
    assert run.finish[1] == pytest.approx(t + spec_m.step_time([10]) + spec_m.step_time([], [11]))
    t = run.finish[1] + warm_v
    assert run.finish[2] == pytest.approx(t + two)
    assert run.summary["lso"]["model_loads_cold"] == 1
    assert run.summary["lso"]["model_loads_warm"] == 2
    assert [m for *_, m in run.audit["loads"]] == ["vicuna-13b", "mistral-7b", "vicuna-13b"]


def test_swap_preemption_costs_pcie_time_and_keeps_tokens():
    """Two requests outgrow a tiny cache: the newest is swapped out, then back in."""
    spec = small("mistral-7b", 6)  # 6 blocks of 16 tokens
    reqs = LLMRequests(
        np.array([0.0, 0.0]), np.array([30, 30]), np.array([20, 20]),
        model=np.array(["mistral-7b"] * 2), slo_class=np.array(["a", "a"]),
        slo_s=np.array([100.0, 100.0]),
    )  # fmt: skip
    config = ClusterConfig(instances=1, models=("mistral-7b",), specs={"mistral-7b": spec},
                           state_swapping=True)  # fmt: skip
    run = simulate_serving(reqs, FCFSPolicy(), config, audit=True)
    assert run.summary["lso"]["swaps_out"] == run.summary["lso"]["swaps_in"] >= 1
    assert run.tokens.tolist() == [20, 20]
    check_audit(run, reqs, config, {"mistral-7b": spec})
    recompute = simulate_serving(
        reqs, FCFSPolicy(), ClusterConfig(instances=1, models=("mistral-7b",),
                                          specs={"mistral-7b": spec}),
    )  # fmt: skip
    assert recompute.summary["lso"]["swaps_out"] == 0
    assert recompute.summary["lso"]["preemptions"] >= 1


def test_impossible_actions_are_refused_by_name():
    reqs = workload(3, models=("mistral-7b",))
    config = ClusterConfig(instances=2, models=("mistral-7b", "vicuna-13b"))

    def run_with(actions):
        class Bad(ServingPolicy):
            name = "bad"

            def decide(self, now, view):
                return actions

        return simulate_serving(reqs, Bad(), config)

    with pytest.raises(ServingActionError, match="needs mistral-7b, instance 1 has vicuna"):
        run_with([Dispatch(0, 1)])
    with pytest.raises(ServingActionError, match="already dispatched"):
        run_with([Dispatch(0, 0), Dispatch(0, 0)])
    with pytest.raises(ServingActionError, match="not running"):
        run_with([Evict(0, 0)])
    with pytest.raises(ServingActionError, match="not idle"):
        run_with([Dispatch(0, 0), LoadModel(0, "vicuna-13b")])
    with pytest.raises(ServingActionError, match="not on this cluster"):
        run_with([LoadModel(0, "gpt-9")])
    with pytest.raises(ServingActionError, match=r"instance must be an integer in \[0, 2\)"):
        run_with([Dispatch(0, 5)])
    with pytest.raises(ServingActionError, match="after now"):
        run_with([WakeUp(0.0)])
    with pytest.raises(RuntimeError, match="never dispatched 3 requests"):
        run_with([])


def test_bad_configs_and_workloads_are_refused():
    with pytest.raises(ValueError, match="one model per instance"):
        ClusterConfig(instances=2, models=("mistral-7b",))
    with pytest.raises(ValueError, match="instances must be an integer >= 1"):
        ClusterConfig(instances=0)
    with pytest.raises(ValueError, match=r"llama-2-70b.*cannot run on this cluster"):
        simulate_serving(workload(2, models=("llama-2-70b",)), FCFSPolicy(),
                         ClusterConfig(instances=1, gpu="a10"))  # fmt: skip
    bare = LLMRequests(np.zeros(1), np.ones(1, dtype=int), np.ones(1, dtype=int))
    with pytest.raises(ValueError, match="assign_classes"):
        simulate_serving(bare, FCFSPolicy())


def test_default_models_share_instances_by_requests():
    assert default_models(["a"] * 5 + ["b"] * 5, 4) == ("a", "a", "b", "b")
    assert default_models(["a"] * 9 + ["b"], 4) == ("a", "a", "a", "b")  # every model one
    assert default_models(["a", "b", "c"], 2) == ("a", "b")  # more models than instances


def test_edf_serves_urgent_requests_first_under_overload():
    """One instance, a burst of batch requests, then interactive ones: EDF lets the
    interactive ones overtake; FCFS makes them wait."""
    n_batch, n_int = 60, 10
    reqs = LLMRequests(
        np.r_[np.zeros(n_batch), np.full(n_int, 0.001)],
        np.full(n_batch + n_int, 200), np.full(n_batch + n_int, 400),
        model=np.array(["mistral-7b"] * (n_batch + n_int)),
        slo_class=np.array(["batch"] * n_batch + ["interactive"] * n_int),
        slo_s=np.r_[np.full(n_batch, 3600.0), np.full(n_int, 20.0)],
    )  # fmt: skip
    config = ClusterConfig(instances=1, max_batch=8)
    fcfs = simulate_serving(reqs, FCFSPolicy(), config)
    edf = simulate_serving(reqs, CentralQueuePolicy("edf"), config)
    urgent = slice(n_batch, None)
    assert edf.met[urgent].all()
    assert not fcfs.met[urgent].any()
    assert edf.summary["slo_attainment_by_class"]["interactive"] == 1.0


@pytest.mark.parametrize("policy", [FCFSPolicy(), CentralQueuePolicy("edf")], ids=str)
def test_policies_never_read_true_lengths(policy):
    reqs = hidden_workload(40)
    config = ClusterConfig(instances=2, models=MODELS)
    run = simulate_serving(reqs, policy, config)
    assert run.summary["finished"] == 40
    assert reqs.output_tokens.reads == 40  # once each, by the simulator


def test_hidden_lengths_catch_a_policy_that_peeks():
    reqs = hidden_workload(5)

    class Peek(FCFSPolicy):
        def on_arrival(self, now, requests):
            reqs.output_tokens[requests[0].rid]
            super().on_arrival(now, requests)

    with pytest.raises(AssertionError, match="read a true output length"):
        simulate_serving(reqs, Peek(), ClusterConfig(instances=2, models=MODELS))


def test_a_snapshot_state_is_read_only_and_checked():
    import dataclasses

    from scheduling.serving import ClusterState, InstanceState

    specs = {"mistral-7b": Instance("mistral-7b", "a100")}
    state = ClusterState(specs, [InstanceState("mistral-7b", waiting=1)], 8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.max_batch_size = 3
    with pytest.raises(TypeError):
        state.specs["vicuna-13b"] = specs["mistral-7b"]
    with pytest.raises(ValueError, match="which specs lacks"):
        ClusterState(specs, [InstanceState("vicuna-13b")], 8)
    warm = ClusterState(
        {**specs, "vicuna-13b": Instance("vicuna-13b", "a100")},
        [InstanceState("mistral-7b", warm_models=("vicuna-13b",))], 8,
    )  # fmt: skip
    assert warm.load_time(0, "vicuna-13b") == Instance("vicuna-13b", "a100").model_load_time(
        warm=True
    )


def test_sjf_pulls_the_shortest_predicted_first():
    """One instance, batch of 1: with exact predictions the requests run shortest first."""
    out = np.array([40, 10, 30, 20])
    reqs = LLMRequests(np.zeros(4), np.full(4, 50), out, model=np.full(4, "mistral-7b"),
                       slo_class=np.full(4, "a"), slo_s=np.full(4, 100.0))  # fmt: skip
    policy = CentralQueuePolicy("sjf", predicted=out, pull_ahead=1)
    run = simulate_serving(reqs, policy, ClusterConfig(instances=1, max_batch=1))
    assert np.argsort(run.first_token).tolist() == [1, 3, 2, 0]


def test_a_request_with_no_output_is_dropped_with_a_reason():
    reqs = LLMRequests(np.zeros(2), np.full(2, 50), np.array([0, 5]),
                       model=np.full(2, "mistral-7b"), slo_class=np.full(2, "a"),
                       slo_s=np.full(2, 10.0))  # fmt: skip
    run = simulate_serving(reqs, FCFSPolicy(), ClusterConfig(instances=1))
    assert run.dropped == {0: "output_tokens 0: nothing to generate"}
    assert run.summary["finished"] == 1 and not run.met[0]


def test_tbt_and_e2e_are_the_hand_computed_ones():
    spec = Instance("mistral-7b", "a100")
    reqs = LLMRequests(np.zeros(1), np.array([100]), np.array([3]),
                       model=np.array(["mistral-7b"]), slo_class=np.array(["a"]),
                       slo_s=np.array([10.0]))  # fmt: skip
    run = simulate_serving(reqs, FCFSPolicy(), ClusterConfig(instances=1))
    steps = [spec.step_time([100]), spec.step_time([], [101]), spec.step_time([], [102])]
    assert run.summary["tbt_p50_s"] == pytest.approx((steps[1] + steps[2]) / 2)
    assert run.summary["e2e_p50_s"] == pytest.approx(sum(steps))
    assert run.summary["gpu_utilisation"] == pytest.approx(1.0)
