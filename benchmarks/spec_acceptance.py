"""Grouped speculative decoding: acceptance length against the number of sibling references.

Seer (Qin et al., OSDI 2026) drafts a rollout request's next tokens from a suffix
structure over its group's outputs and reports a mean acceptance length of 1.70 tokens per
verification step with no sibling references and 2.53 with 15. Here the acceptance is
measured, not assumed: ``scheduling.spec_decode.simulate_speculation`` replays the real
sampled outputs of each prompt (``../shared/data/rollout``: codet, pot, tot_text; GPT-2
tokens), all requests of a group advancing one verification step at a time in lockstep,
each drafting from its own output so far and from ``r`` siblings' outputs generated *so
far*, and accepting the longest prefix of the draft that agrees with its real text.

For each data set (and the calibrated generator, ``synthetic_groups``, shaped like codet):
``r`` in 0 (self-only), 1, 3, 7, 15 and ``G - 1`` (capped at ``G - 1``); single-path and
top-4 multi-path (token tree) drafts; a fixed draft budget ``g`` of 4 and 8 tokens and the
adaptive budget (``AdaptiveDraftLen``: the draft length maximising expected tokens per
second for the request's running acceptance estimate, with verification costed as a
prefill chunk on CodeLlama-34B, TP=2 on A100s, ``--batch`` requests at ``--context``
cached tokens; a top-4 tree is charged ``4 g + 1`` tokens). Reported per setting: pooled
acceptance length (tokens / steps), the mean over requests, draft tokens verified per
step, and the modelled decoding speedup over plain decoding under the same cost model
(each step of a request that verifies ``t`` draft tokens costs ``step_time(batch, t + 1)
/ batch``). Also the suffix automaton's build work per token on each data set
(interleaved appends). Writes ``benchmarks/results/spec_acceptance.csv`` and
``spec_acceptance.png``.

By default a spread subset of prompts keeps the run to a few minutes; ``--all`` uses
every prompt.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import RESULTS, write_csv

from scheduling.engine import Instance
from scheduling.rollout_text import DATASETS, load_rollout, rollout_dir, synthetic_groups
from scheduling.spec_decode import AdaptiveDraftLen, simulate_speculation, verify_step_time
from scheduling.suffix import SuffixAutomaton

PAPER = {0: 1.70, 15: 2.53}
REFERENCES = (0, 1, 3, 7, 15)
DEFAULT_PROMPTS = {"codet": 12, "pot": 32, "tot_text": 16, "generator": 8}


def spread(total: int, n: int | None) -> list[int]:
    """``n`` prompt positions spread evenly over ``0 .. total - 1`` (all when None)."""
    if n is None or n >= total:
        return list(range(total))
    return sorted({int(i) for i in np.linspace(0, total - 1, n).round()})


def build_work(groups: list[list[list[int]]]) -> tuple[float, float, float]:
    """Work steps, states and microseconds per token, appending round-robin per group."""
    work = states = tokens = 0
    start = time.perf_counter()
    for group in groups:
        index = SuffixAutomaton()
        for pos in range(max((len(s) for s in group), default=0)):
            for i, seq in enumerate(group):
                if pos < len(seq):
                    index.append(i, seq[pos])
        work += index.work()
        states += index.n_states
        tokens += len(index)
    seconds = time.perf_counter() - start
    return work / tokens, states / tokens, seconds / tokens * 1e6


def measure(groups, *, mode, references, g, paths, cost_fn, batch):
    tokens = steps = drafted = 0
    per_request = []
    step_cost = 0.0
    base = cost_fn(batch, 1) / batch
    for group in groups:
        res = simulate_speculation(group, references=references, g=g, paths=paths, mode=mode)
        tokens += res.tokens
        steps += res.steps
        drafted += res.drafted
        for req in res.requests:
            if req.steps:
                per_request.append(req.acceptance_length)
            for nodes, count in req.steps_by_draft.items():
                step_cost += count * cost_fn(batch, nodes + 1) / batch
    return {
        "acceptance": tokens / steps,
        "acceptance_request_mean": float(np.mean(per_request)),
        "draft_per_step": drafted / steps,
        "modelled_speedup": tokens * base / step_cost,
        "tokens": tokens,
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every prompt of every data set")
    parser.add_argument("--prompts", type=int, default=None, help="prompts per data set")
    parser.add_argument("--budgets", default="4,8", help="fixed draft budgets g")
    parser.add_argument("--max-g", type=int, default=16, help="adaptive budget's largest g")
    parser.add_argument("--batch", type=int, default=16, help="requests per verify step")
    parser.add_argument("--context", type=int, default=1024, help="cached tokens per request")
    args = parser.parse_args()
    spec = Instance("codellama-34b", "a100", tp=2)
    cost_fn = verify_step_time(spec, args.context)
    budgets: list = [int(b) for b in args.budgets.split(",")]
    budgets.append("adaptive")

    data = {}
    for name in DATASETS:
        if not (rollout_dir() / DATASETS[name]).is_file():
            print(f"{name}: skipped, {rollout_dir() / DATASETS[name]} not found")
            continue
        n = None if args.all else (args.prompts or DEFAULT_PROMPTS[name])
        total = load_rollout(name, select=[]).n_groups
        loaded = load_rollout(name, select=spread(total, n))
        groups = [[t.tolist() for t in g] for g in loaded.groups]
        data[name] = (groups, f"{len(groups)}/{total} prompts, skipped rows {loaded.skipped}")
    n_gen = args.prompts or DEFAULT_PROMPTS["generator"]
    generated = synthetic_groups(n_gen, 100, seed=0)
    data["generator"] = ([[t.tolist() for t in g] for g in generated], f"{n_gen} groups")

    print(
        f"Acceptance length (tokens per verification step, bonus included), lockstep "
        f"replay; adaptive budget for {spec.describe()}, batch {args.batch}, "
        f"context {args.context}. Seer paper: {PAPER[0]:.2f} with no references, "
        f"{PAPER[15]:.2f} with 15."
    )
    rows = []
    start = time.perf_counter()
    for name, (groups, note) in data.items():
        size = len(groups[0])
        work, states, micros = build_work(groups)
        refs = sorted({min(r, size - 1) for r in (*REFERENCES, size - 1)})
        print(
            f"\n{name}: {note}, G = {size}, {sum(len(s) for g in groups for s in g):,} "
            f"tokens; automaton build: {work:.1f} steps, {states:.2f} states, "
            f"{micros:.1f} us per token"
        )
        header = "".join(f"{'self' if r == 0 else f'r={r}':>8}" for r in refs)
        print(f"  {'paths':>5} {'g':>8} {'none':>6}{header}   speedup(self, r={refs[-1]})")
        for paths in (1, 4):
            for g in budgets:
                budget = (
                    AdaptiveDraftLen(args.batch, cost_fn, args.max_g, paths=paths)
                    if g == "adaptive"
                    else g
                )
                line = []
                speed = []
                for r in refs:
                    out = measure(
                        groups,
                        mode="self" if r == 0 else "grouped",
                        references=r,
                        g=budget,
                        paths=paths,
                        cost_fn=cost_fn,
                        batch=args.batch,
                    )
                    rows.append(
                        {
                            "dataset": name,
                            "prompts": len(groups),
                            "group_size": size,
                            "paths": paths,
                            "budget": g,
                            "mode": "self" if r == 0 else "grouped",
                            "references": r,
                            **out,
                        }
                    )
                    line.append(out["acceptance"])
                    speed.append(out["modelled_speedup"])
                cells = "".join(f"{v:>8.2f}" for v in line)
                print(
                    f"  {paths:>5} {g!s:>8} {1.0:>6.2f}{cells}   "
                    f"{speed[0]:.2f}x, {speed[-1]:.2f}x",
                    flush=True,
                )
        print(f"  paper (Seer):  none -> {PAPER[0]:.2f}, r=15 -> {PAPER[15]:.2f}")
    print(f"\n{time.perf_counter() - start:.0f} s")
    RESULTS.mkdir(exist_ok=True)
    write_csv(RESULTS / "spec_acceptance.csv", rows)
    plot(rows, RESULTS / "spec_acceptance.png")


def plot(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["dataset"] for r in rows))
    cols = 2 if len(names) > 1 else 1
    nrows = -(-len(names) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.5 * cols, 4 * nrows), squeeze=False)
    flat = axes.ravel()
    for ax in flat[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(flat, names, strict=False):
        mine = [r for r in rows if r["dataset"] == name]
        size = mine[0]["group_size"]
        for key in dict.fromkeys((r["paths"], r["budget"]) for r in mine):
            pts = sorted(
                (r["references"], r["acceptance"])
                for r in mine
                if (r["paths"], r["budget"]) == key
            )
            label = f"g={key[1]}, {'1 path' if key[0] == 1 else f'top-{key[0]}'}"
            ax.plot([p[0] + 1 for p in pts], [p[1] for p in pts], marker="o", ms=3, label=label)
        shown = [r for r in PAPER if r <= size - 1]
        ax.plot([r + 1 for r in shown], [PAPER[r] for r in shown], "k*", ms=10, label="Seer")
        ax.set_xscale("log")
        ticks = sorted({r["references"] for r in mine})
        ax.set_xticks([t + 1 for t in ticks], [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("sibling references r (0: self-only)")
        ax.set_ylabel("acceptance length (tokens / step)")
        ax.set_title(f"{name} (G = {size})")
        ax.grid(alpha=0.3)
    flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
