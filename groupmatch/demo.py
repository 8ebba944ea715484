"""The main job: build one instance per application, solve exactly and greedily."""

from __future__ import annotations

from dataclasses import dataclass

import matching
from scheduling.queue import demo_placement
from scheduling.rides import synthetic_ride_batch
from scheduling.rollout import demo_rollout

__all__ = [
    "DemoRow",
    "certificate_rows",
    "demo_rows",
    "format_table",
    "ratio_rows",
    "ride_rows",
]

#: (family, n, trials, policies) of the demo's competitive-ratio table; the policies
#: of one family run on the same inputs and are divided by the same optimum.
RATIO_CASES = (
    ("upper-triangular", 100, 40, ("greedy", "ranking", "balance")),
    ("known-iid", 60, 40, ("greedy", "ranking", "balance")),
    ("random-bipartite", 40, 40, ("greedy", "ranking-vw")),
    ("k-uniform", 30, 40, ("greedy", "balance")),
    ("city-grid", 40, 20, ("greedy", "batched")),
    ("kad-reusable", 24, 60, ("greedy", "lp-attenuate")),
)


@dataclass(frozen=True)
class DemoRow:
    """One line of the demo table."""

    application: str
    instance: matching.Instance
    exact: matching.MatchingResult
    greedy: matching.MatchingResult

    @property
    def ratio(self) -> float:
        """Greedy value over the exact optimum (1 when the optimum is 0)."""
        return self.greedy.value / self.exact.value if self.exact.value else 1.0


def demo_rows(seed: int = 0, time_limit: float = 30.0) -> list[DemoRow]:
    """Solve the embedded demo instances exactly and greedily; every result is checked.

    Examples
    --------
    >>> rows = demo_rows(seed=0)
    >>> [row.application for row in rows]
    ['ride-sharing batch', 'LLM groups -> GPUs (QLM)', 'rollout chunks (Seer)']
    >>> all(row.exact.value >= row.greedy.value for row in rows)
    True
    """
    cases = [
        ("ride-sharing batch", synthetic_ride_batch(30, 120, seed=seed).instance),
        ("LLM groups -> GPUs (QLM)", demo_placement(seed=seed).instance),
        ("rollout chunks (Seer)", demo_rollout(seed=seed)),
    ]
    rows = []
    for name, inst in cases:
        exact = matching.solve(inst, "cpsat", time_limit=time_limit, seed=seed)
        greedy = matching.solve(inst, "greedy", key="density")
        exact.check(inst)
        greedy.check(inst)
        rows.append(DemoRow(name, inst, exact, greedy))
    return rows


def format_table(rows: list[DemoRow]) -> str:
    """Render demo rows as a fixed-width text table."""
    head = (
        f"{'application':<26}{'resources':>10}{'requests':>10}{'groups':>8}{'edges':>8}"
        f"{'exact':>12}{'status':>12}{'greedy':>12}{'greedy/exact':>14}{'exact s':>9}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        inst = row.instance
        lines.append(
            f"{row.application:<26}{inst.n_resources:>10}{inst.n_requests:>10}"
            f"{inst.n_groups:>8}{inst.n_edges:>8}{row.exact.value:>12.2f}"
            f"{row.exact.status.value:>12}{row.greedy.value:>12.2f}{row.ratio:>14.3f}"
            f"{row.exact.wall_time:>9.2f}"
        )
    return "\n".join(lines)


def ratio_rows(seed: int = 0) -> str:
    """Run the demo's competitive-ratio cases and return them as a text table.

    Each row's guarantee is the policy's proven ratio on the family's declared inputs,
    or the preconditions those inputs do not meet (see :mod:`matching.guarantees`).
    """
    from groupmatch.registry import make_family, make_policy
    from matching.ratio import compare_policies

    head = (
        f"{'family':<18}{'n':>4}{'trials':>7}  {'policy':<14}{'ALG/OPT':>8}"
        f"{'95% CI':>17}{'worst':>7}   guarantee on these inputs"
    )
    lines = [head, "-" * (len(head) + 30)]
    for fam, n, trials, names in RATIO_CASES:
        policies = {name: make_policy(name, window=10.0) for name in names}
        reports = compare_policies(policies, make_family(fam, n), trials, seed=seed, with_lp=False)
        for name, report in reports.items():
            s = report.summary()
            lo, hi = s["ci_alg_opt"]
            lines.append(
                f"{fam:<18}{n:>4}{trials:>7}  {name:<14}{s['mean_alg_opt']:>8.3f}"
                f"{f'[{lo:.3f}, {hi:.3f}]':>17}{s['worst_alg_opt']:>7.3f}   {report.guarantee}"
            )
    return "\n".join(lines)


def certificate_rows() -> str:
    """Build and verify the demo's certificates; return them as a text table.

    Machine-checked claims carry the kind of check and "certified" when it passes;
    the general statements that rest on a written proof are listed after them,
    marked "written proof only".
    """
    from proofs.adversary import instance_from_adjacency, upper_triangular_adjacency
    from proofs.attenuate import lp_attenuate_certificate
    from proofs.catalog import attenuation_model, build_certificate, greedy_instance
    from proofs.claims import WRITTEN_PROOFS
    from proofs.greedy import certify_greedy, greedy_tight_instance
    from proofs.lp import ranking_certificate

    certs = [
        *[(f"RANKING LP, n = {n}", ranking_certificate(n)) for n in (5, 20, 50)],
        (
            "greedy, upper-triangular 8",
            certify_greedy(instance_from_adjacency(upper_triangular_adjacency(8), 8)),
        ),
        ("greedy, tight, groups <= 3", certify_greedy(greedy_tight_instance(3))),
        *[
            (f"greedy, random, groups <= {k}", certify_greedy(greedy_instance(20, k)))
            for k in (2, 3)
        ],
        ("LP-attenuate, KAD model", lp_attenuate_certificate(*attenuation_model(4, 2))),
        *[(f"rideshare, groups <= {k}", build_certificate("rideshare", k=k)) for k in (1, 2)],
    ]
    head = f"{'claim':<30}{'check':<15}{'certified bound':<36}status"
    lines = [head, "-" * (len(head) + 30)]
    for name, cert in certs:
        result = cert.verify()
        status = "certified" if result.ok else f"FAIL: {result.message}"
        lines.append(f"{name:<30}{cert.check.value:<15}{cert.headline():<36}{status}")
    for proof in WRITTEN_PROOFS:
        lines.append(
            f"{proof.name:<30}{proof.check.value:<15}{proof.bound:<36}"
            f"written proof only ({proof.proof})"
        )
    lines.append(
        "RANKING's LP values rise towards 1 - 1/e = 0.632121 (KVV). Ridesharing: 1/2 is "
        "proven for groups of 1; for groups of 2 the target 0.31767 (the paper's constant)"
        "\nis certified per model only: some models have a cell free with probability below "
        "it (docs/proofs/rideshare.md)."
    )
    return "\n".join(lines)


def ride_rows(seed: int = 0) -> str:
    """Simulate ride-pooling dispatch on the embedded city, 3 policies side by side.

    20 vehicles of 4 seats, 300 requests over 20 minutes on a 12 x 12 grid city; every
    assignment is checked by the simulator. The fourth policy is the ridesharing paper's
    LP sample-and-attenuate, its prior fitted to another draw of the demand (it serves a
    request only in the window it arrives). Returns the summary table.

    Examples
    --------
    >>> print(ride_rows().splitlines()[1].split()[:3])
    ['batched', '20', '300']
    """
    from scheduling.dispatch import POLICIES, PRIOR_POLICIES
    from scheduling.ride_sim import embedded_city, format_summary, simulate, training_demand

    scen = embedded_city(requests=300, duration=1200.0, grid=12, seed=seed)
    training = training_demand(scen, seed=seed + 1)
    runs = [
        simulate(scen, vehicles=20, capacity=4, policy=p, seed=seed, training=training).summary
        for p in POLICIES + PRIOR_POLICIES
    ]
    return format_summary(runs)


def serving_rows(seed: int = 0) -> str:
    """Simulate LLM serving on the embedded workload: QLM against the baselines.

    1,500 generated conversation requests (Azure-calibrated lengths and bursty
    arrivals) for Mistral-7B and Vicuna-13B, SLO classes interactive 20 s / batch-1
    60 s / batch-2 1 h on time to first token, at 2.5 x the nominal capacity of four
    A100 instances. Returns the summary table.

    Examples
    --------
    >>> print(serving_rows().splitlines()[1].split()[:2])
    ['2.500', 'fcfs']
    """
    from scheduling.serving_run import (
        at_load,
        default_workload,
        format_serving_table,
        run_policies,
    )
    from scheduling.serving_sim import ClusterConfig

    config = ClusterConfig(instances=4)
    work = at_load(default_workload(1500, seed=seed), config, 2.5)
    policies = ["fcfs", "least-outstanding", "edf", "sjf", "online-matching", "qlm"]
    rows = [{"load": 2.5, **row} for _, row in run_policies(work, config, policies, seed=seed)]
    columns = ["load", "policy", "slo_attainment", "slo_interactive", "slo_batch-1",
               "requests_per_s", "ttft_p50_s", "ttft_p99_s", "evictions", "plans"]  # fmt: skip
    return format_serving_table(rows, columns)


def rollout_rows(seed: int = 0) -> str:
    """Simulate one GRPO rollout iteration under each setup, against the baseline.

    The qwen2vl preset (Seer's Table 3: G = 16, cap 40,960, mean 7,615) with 8 prompts,
    on four Mistral-7B A100 instances, chunks of 8,192 tokens; grouped speculative
    decoding drafts from the embedded generator's token streams. Returns the table.

    Examples
    --------
    >>> print(rollout_rows().splitlines()[1].split()[0])
    baseline
    """
    from scheduling.engine import Instance
    from scheduling.grpo import grpo_batch
    from scheduling.rollout_run import ROLLOUT_SETUPS, run_setup
    from scheduling.rollout_spec import rollout_streams

    batch = grpo_batch("qwen2vl", prompts=8, seed=seed)
    streams = rollout_streams(batch.prompt_id, batch.output_tokens, data="synthetic", seed=seed)
    spec = Instance("mistral-7b", "a100")
    lines = [f"{'setup':<15}{'makespan s':>11}{'x baseline':>11}{'tail s':>9}{'carried':>8}"
             f"{'accept len':>11}"]  # fmt: skip
    base = None
    for name in ROLLOUT_SETUPS:
        s = run_setup(name, batch, spec, instances=4, migration="transfer", streams=streams)
        s = s.summary
        base = base or s
        speed = s["tokens_per_s"] / base["tokens_per_s"]
        lines.append(f"{name:<15}{s['makespan_s']:>11.1f}{speed:>11.2f}{s['tail_s']:>9.1f}"
                     f"{s['carried']:>8}{s['acceptance_length']:>11.2f}")  # fmt: skip
    return "\n".join(lines)
