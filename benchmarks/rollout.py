"""Seer-style rollout: the synchronous baseline, divided rollout, context-aware scheduling,
partial rollout and oracle longest-first on each GRPO preset (the paper's Table 4 shape).

Each preset's iteration (``scheduling.grpo``, calibrated to the paper's Table 3; ``--prompts``
per iteration, default 100 to keep the run short) on ``--instances`` instances of
Llama-2-70B on 8 x H800 (the engine cost model standing in for the paper's models), KV
moved through a global pool on migration. Prints throughput relative to the baseline and
the tail time (last 10% of requests) side by side, then a chunk-size sweep (2K ... 32K)
for context-aware scheduling on the qwen2vl preset, and the simulator's wall time per
iteration. Grouped speculative decoding is not in these runs. Writes
``benchmarks/results/rollout.csv`` and ``rollout.png`` (cumulative finished requests).
"""

from __future__ import annotations

import argparse
import time

from _common import RESULTS, write_csv

from scheduling.engine import Instance
from scheduling.grpo import PRESETS, grpo_batch
from scheduling.rollout_run import ROLLOUT_SETUPS, plot_finished, run_setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--instances", type=int, default=16)
    parser.add_argument("--chunk-size", type=int, default=8192)
    parser.add_argument("--presets", default=",".join(PRESETS))
    args = parser.parse_args()
    spec = Instance("llama-2-70b", "h800", tp=8)
    rows = []
    print(f"{args.instances} x {spec.describe()}; chunk {args.chunk_size}; KV-pool transfer")
    head = f"{'preset':<10}{'setup':<15}{'makespan s':>11}{'x baseline':>11}{'tail s':>9}"
    print(head + f"{'tail vs base':>13}{'idle inst-s':>12}{'migrations':>11}{'carried':>8}"
          f"{'wall s':>8}")  # fmt: skip
    for preset in args.presets.split(","):
        batch = grpo_batch(preset, prompts=args.prompts, seed=0)
        runs = {}
        for name in ROLLOUT_SETUPS:
            start = time.perf_counter()
            run = run_setup(name, batch, spec, instances=args.instances,
                            chunk_size=args.chunk_size, migration="transfer")  # fmt: skip
            wall = time.perf_counter() - start
            runs[name] = run
            s, base = run.summary, runs["baseline"].summary
            speed = s["tokens_per_s"] / base["tokens_per_s"]
            tail = s["tail_s"] / base["tail_s"] - 1
            print(f"{preset:<10}{name:<15}{s['makespan_s']:>11.1f}{speed:>11.2f}"
                  f"{s['tail_s']:>9.1f}{tail:>+13.0%}{s['idle_s']:>12.0f}"
                  f"{s['migrations']:>11}{s['carried']:>8}{wall:>8.1f}")  # fmt: skip
            rows.append({"preset": preset, "setup": name, **s, "throughput_vs_baseline": speed,
                         "tail_vs_baseline": tail, "wall_s": wall,
                         "requests": batch.n_requests})  # fmt: skip
        plot_finished(runs, RESULTS / f"rollout_{preset}.png", title=preset)
    print("\nchunk-size sweep, qwen2vl, context-aware")
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
    write_csv(RESULTS / "rollout.csv", rows)
    print(f"wrote {RESULTS / 'rollout.csv'} and rollout_<preset>.png")


if __name__ == "__main__":
    main()
