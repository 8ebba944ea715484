"""Decision latency of the streaming matcher (arrive -> decision), next to a plain-Python rule.

Setting: 10^4 unit-capacity resources, singleton groups each joined to 50 random
resources (uniform weights), requests arriving in random order. For each policy we time
one public call ``OnlineMatcher.arrive(requests, resources, weights, time=t)`` -- input
validation, the candidate edges from the matcher's state, the policy's choice, the
checks and the commit -- and report the median and p99 over all arrivals. The
reference implements the same rule over Python lists and dicts (the way the rule reads
in a paper), on the same state, and must make the same decisions.

Goal: p99 <= 50 us for greedy and RANKING.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import RESULTS, write_csv

from matching.arrivals import random_order
from matching.model import Instance
from matching.online import BalancePolicy, GreedyPolicy, RankingPolicy
from matching.stream import OnlineMatcher


def instance(n_resources: int, n_requests: int, degree: int, seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    resources = np.argsort(rng.random((n_requests, n_resources)), axis=1)[:, :degree]
    return Instance.from_arrays(
        group_ptr=np.arange(n_requests + 1),
        group_members=np.arange(n_requests),
        edge_resource=resources.ravel(),
        edge_group=np.repeat(np.arange(n_requests), degree),
        edge_weight=rng.random(n_requests * degree),
        capacity=np.ones(n_resources),
        n_requests=n_requests,
        check_duplicates=False,
    )


class Reference:
    """The same rules over Python lists: a scan of the arriving group's edges."""

    def __init__(self, inst: Instance, rule: str, rank=None, discount=None):
        self.rule = rule
        self.edges_of = [
            inst.group_edges.indices[
                inst.group_edges.indptr[g] : inst.group_edges.indptr[g + 1]
            ].tolist()
            for g in range(inst.n_groups)
        ]
        self.resource = inst.edge_resource.tolist()
        self.weight = inst.edge_weight.tolist()
        self.load = inst.edge_load.tolist()
        self.capacity = inst.capacity.tolist()
        self.members = [inst.group(g).tolist() for g in range(inst.n_groups)]
        self.rank = None if rank is None else rank.tolist()

    def choose(self, remaining: list[float], served: list[bool], g: int) -> int:
        if any(served[q] for q in self.members[g]):
            return -1
        best, best_key = -1, None
        for e in self.edges_of[g]:
            r = self.resource[e]
            if remaining[r] + 1e-12 < self.load[e] or self.weight[e] <= 0:
                continue
            if self.rule == "greedy":
                key = self.weight[e]
            elif self.rule == "ranking":
                key = -self.rank[r]
            else:
                used = 1.0 - remaining[r] / self.capacity[r]
                key = self.weight[e] * (1.0 - np.exp(used - 1.0))
            if best_key is None or key > best_key:
                best, best_key = e, key
        return best


def time_policy(factory, rule, inst, seq, seed):
    policy = factory()
    matcher = OnlineMatcher(inst.capacity, policy, seed=seed)
    ref = Reference(inst, rule, rank=getattr(policy, "rank", None))
    remaining = inst.capacity.tolist()
    served = [False] * inst.n_requests
    ours, theirs = [], []
    clock = time.perf_counter_ns
    ptr, idx = inst.group_edges.indptr, inst.group_edges.indices
    for t, g in enumerate(seq.order.tolist()):
        edges = idx[ptr[g] : ptr[g + 1]]
        resources = inst.edge_resource[edges]
        weights = inst.edge_weight[edges]
        requests = (g,)
        t0 = clock()
        decision = matcher.arrive(requests, resources, weights, time=t)
        t1 = clock()
        e_ref = ref.choose(remaining, served, g)
        t2 = clock()
        e = int(edges[decision.edge]) if decision.accepted else -1
        if e != e_ref:
            raise AssertionError(f"{rule}: matcher chose {e}, reference {e_ref} at group {g}")
        ours.append((t1 - t0) / 1e3)
        theirs.append((t2 - t1) / 1e3)
        if e >= 0:
            r = int(inst.edge_resource[e])
            remaining[r] -= float(inst.edge_load[e])
            for q in inst.group(g).tolist():
                served[q] = True
    return np.array(ours), np.array(theirs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--degree", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    inst = instance(args.resources, args.requests, args.degree, seed=0)
    seq = random_order(inst, seed=1)
    rows = []
    print(
        f"{args.resources} resources, {args.requests} arrivals, degree {args.degree}; "
        f"median of {args.repeats} runs of each percentile (microseconds)"
    )
    print(
        f"{'policy':<10}{'median':>9}{'p99':>9}{'ref median':>12}{'ref p99':>9}"
        f"{'ref/ours p99':>14}"
    )
    for name, factory in (
        ("greedy", GreedyPolicy),
        ("ranking", RankingPolicy),
        ("balance", BalancePolicy),
    ):
        meds, p99s, rmeds, rp99s = [], [], [], []
        for rep in range(args.repeats):
            ours, ref = time_policy(factory, name, inst, seq, seed=rep)
            meds.append(np.median(ours))
            p99s.append(np.percentile(ours, 99))
            rmeds.append(np.median(ref))
            rp99s.append(np.percentile(ref, 99))
        row = {
            "policy": name,
            "median_us": statistics.median(meds),
            "p99_us": statistics.median(p99s),
            "ref_median_us": statistics.median(rmeds),
            "ref_p99_us": statistics.median(rp99s),
        }
        rows.append(row)
        print(
            f"{name:<10}{row['median_us']:>9.1f}{row['p99_us']:>9.1f}"
            f"{row['ref_median_us']:>12.1f}{row['ref_p99_us']:>9.1f}"
            f"{row['ref_p99_us'] / row['p99_us']:>14.2f}"
        )
    write_csv(RESULTS / "online_latency.csv", rows)
    print(f"wrote {RESULTS / 'online_latency.csv'}")


if __name__ == "__main__":
    main()
