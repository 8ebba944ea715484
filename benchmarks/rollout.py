"""Seer-style rollout: the synchronous baseline, divided rollout, context-aware scheduling,
grouped speculative decoding, oracle longest-first and partial rollout on each GRPO preset
(the paper's Table 4 shape).

Each preset's iteration (``scheduling.grpo``, calibrated to the paper's Table 3;
``--prompts`` per iteration, default 60 so that the run takes minutes and the suffix
indexes of grouped speculative decoding fit in memory) on ``--instances`` instances of
Llama-2-70B on 8 x H800 (the engine cost model standing in for the paper's models), KV
moved through a global pool on migration. Prints throughput relative to the baseline and
the tail time (last 10% of requests) side by side, with the measured acceptance length
of speculative decoding and context-aware's share of the oracle's throughput; then
speculation in the simulator with none, self-only and grouped drafting from 1 ... G - 1
siblings (qwen2vl, ``--sweep-prompts``); then a chunk-size sweep (2K ... 32K) for
context-aware scheduling on qwen2vl, and the simulator's wall time per iteration. Token
streams come from the real samples in ``../shared/data/rollout`` (the three data sets
pooled) when present, from the generator calibrated to codet otherwise. Writes
``benchmarks/results/rollout.csv`` and ``rollout_<preset>.png`` (cumulative finished
requests).
"""

from __future__ import annotations

import argparse
import resource
import time

from _common import RESULTS, write_csv

from scheduling.engine import Instance
from scheduling.grpo import PRESETS, grpo_batch
from scheduling.rollout_run import ROLLOUT_SETUPS, plot_finished, run_setup
from scheduling.rollout_spec import rollout_streams


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _table(args, spec, rows) -> None:
    head = f"{'preset':<10}{'setup':<15}{'makespan s':>11}{'x baseline':>11}{'tail s':>9}"
    print(head + f"{'tail vs base':>13}{'idle inst-s':>12}{'preempt':>8}{'migrations':>11}"
          f"{'carried':>8}{'accept':>7}{'wall s':>8}")  # fmt: skip
    setups = args.setups.split(",")
    for preset in args.presets.split(","):
        batch = grpo_batch(preset, prompts=args.prompts, seed=0)
        streams = None
        if any(ROLLOUT_SETUPS[n].get("speculation") for n in setups):
            streams = rollout_streams(batch.prompt_id, batch.output_tokens, data=args.spec_data)
        runs = {}
        for name in setups:
            start = time.perf_counter()
            run = run_setup(name, batch, spec, instances=args.instances, streams=streams,
                            chunk_size=args.chunk_size, migration="transfer")  # fmt: skip
            wall = time.perf_counter() - start
            runs[name] = run
            s, base = run.summary, runs["baseline"].summary
            speed = s["tokens_per_s"] / base["tokens_per_s"]
            tail = s["tail_s"] / base["tail_s"] - 1
            print(f"{preset:<10}{name:<15}{s['makespan_s']:>11.1f}{speed:>11.2f}"
                  f"{s['tail_s']:>9.1f}{tail:>+13.0%}{s['idle_s']:>12.0f}{s['preemptions']:>8}"
                  f"{s['migrations']:>11}{s['carried']:>8}{s['acceptance_length']:>7.2f}"
                  f"{wall:>8.1f}")  # fmt: skip
            rows.append({"preset": preset, "setup": name, **s, "throughput_vs_baseline": speed,
                         "tail_vs_baseline": tail, "wall_s": wall, "peak_rss_mb": _peak_mb(),
                         "requests": batch.n_requests,
                         "streams": "" if streams is None else streams.source})  # fmt: skip
        if {"context-aware", "oracle"} <= runs.keys():
            share = runs["context-aware"].summary["tokens_per_s"] / runs["oracle"].summary[
                "tokens_per_s"]  # fmt: skip
            print(f"{preset:<10}context-aware = {share:.1%} of the oracle's throughput "
                  "(goal >= 98%)")  # fmt: skip
        if streams is not None:
            print(f"{preset:<10}token streams: {streams.describe()}; "
                  f"peak RSS {_peak_mb():,.0f} MB")  # fmt: skip
        plot_finished(runs, RESULTS / f"rollout_{preset}.png", title=preset)


def _speculation_sweep(args, spec, rows) -> None:
    batch = grpo_batch("qwen2vl", prompts=args.sweep_prompts, seed=0)
    streams = rollout_streams(batch.prompt_id, batch.output_tokens, data=args.spec_data)
    print(f"\nspeculation in the simulator, qwen2vl, {args.sweep_prompts} prompts x 16, "
          f"context-aware; token streams: {streams.describe()}")  # fmt: skip
    base = run_setup("baseline", batch, spec, instances=args.instances,
                     chunk_size=args.chunk_size, migration="transfer").summary  # fmt: skip
    cases = [("none", None), ("self", None)] + [("grouped", r) for r in (1, 3, 7, 15)]
    for mode, refs in cases:
        start = time.perf_counter()
        options = {} if mode == "none" else {"speculation": mode, "references": refs}
        run = run_setup("context-aware", batch, spec, instances=args.instances,
                        chunk_size=args.chunk_size, migration="transfer", streams=streams,
                        **options)  # fmt: skip
        wall = time.perf_counter() - start
        s = run.summary
        label = mode if refs is None else f"grouped, {refs} refs"
        print(
            f"  {label:<16} acceptance {s['acceptance_length']:.2f}, "
            f"x baseline {s['tokens_per_s'] / base['tokens_per_s']:.2f}, "
            f"tail {s['tail_s']:.1f} s (baseline {base['tail_s']:.1f}), wall {wall:.1f} s"
        )
        rows.append({"preset": "qwen2vl", "setup": f"context-aware + {label}", **s,
                     "throughput_vs_baseline": s["tokens_per_s"] / base["tokens_per_s"],
                     "wall_s": wall, "requests": batch.n_requests,
                     "streams": streams.source})  # fmt: skip


def _chunk_sweep(args, spec, rows) -> None:
    print(f"\nchunk-size sweep, qwen2vl, {args.prompts} prompts, context-aware")
    batch = grpo_batch("qwen2vl", prompts=args.prompts, seed=0)
    for chunk in (2048, 4096, 8192, 16384, 32768):
        start = time.perf_counter()
        run = run_setup("context-aware", batch, spec, instances=args.instances,
                        chunk_size=chunk, migration="transfer")  # fmt: skip
        wall = time.perf_counter() - start
        s = run.summary
        print(f"  chunk {chunk:>6}: makespan {s['makespan_s']:.1f} s, tokens/s "
              f"{s['tokens_per_s']:,.0f}, tail {s['tail_s']:.1f} s, chunks {s['chunks']}, "
              f"migrations {s['migrations']}, wall {wall:.1f} s")  # fmt: skip
        rows.append({"preset": "qwen2vl", "setup": f"context-aware chunk {chunk}", **s,
                     "wall_s": wall, "requests": batch.n_requests})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--sweep-prompts", type=int, default=16)
    parser.add_argument("--instances", type=int, default=16)
    parser.add_argument("--chunk-size", type=int, default=8192)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--setups", default=",".join(ROLLOUT_SETUPS))
    parser.add_argument("--spec-data", default="auto")
    parser.add_argument("--skip", default="", help="comma list of: table, speculation, chunks")
    args = parser.parse_args()
    setups = args.setups.split(",")
    if set(setups) - set(ROLLOUT_SETUPS) or "baseline" not in setups:
        parser.error(f"--setups must include baseline and name only {', '.join(ROLLOUT_SETUPS)}")
    args.setups = ",".join(["baseline", *(n for n in setups if n != "baseline")])
    spec = Instance("llama-2-70b", "h800", tp=8)
    skip = set(args.skip.split(","))
    rows: list[dict] = []
    print(f"{args.instances} x {spec.describe()}; chunk {args.chunk_size}; KV-pool transfer; "
          f"{args.prompts} prompts per iteration")  # fmt: skip
    if "table" not in skip:
        _table(args, spec, rows)
    if "speculation" not in skip:
        _speculation_sweep(args, spec, rows)
    if "chunks" not in skip:
        _chunk_sweep(args, spec, rows)
    write_csv(RESULTS / "rollout.csv", rows)
    print(f"wrote {RESULTS / 'rollout.csv'} and rollout_<preset>.png")


if __name__ == "__main__":
    main()
