"""Command line entry point ``groupmatch``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import matching
from groupmatch import __version__
from groupmatch.demo import (
    certificate_rows,
    demo_rows,
    format_table,
    ratio_rows,
    ride_rows,
    rollout_rows,
    serving_rows,
)
from groupmatch.registry import FAMILIES, POLICIES, make_family, make_policy
from matching.ratio import competitive_ratio

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``groupmatch`` command."""
    parser = argparse.ArgumentParser(
        prog="groupmatch",
        description="Online group matching: exact and greedy solves of tripartite "
        "resource/request/group instances, online policies and ratio certificates.",
    )
    parser.add_argument("--version", action="version", version=f"groupmatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="solve the embedded demo instances and print a table")
    demo.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    demo.add_argument("--time-limit", type=float, default=30.0, help="seconds per exact solve")

    solve = sub.add_parser("solve", help="solve an instance stored as groupmatch JSON")
    solve.add_argument("instance", help="path to the instance JSON (see Instance.to_json)")
    solve.add_argument("--method", default="auto", choices=matching.METHODS)
    solve.add_argument("--time-limit", type=float, default=None, help="seconds")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument("--threads", type=int, default=None)
    solve.add_argument("--json", action="store_true", help="print the result as JSON")

    ratio = sub.add_parser("ratio", help="empirical competitive ratio of an online policy")
    ratio.add_argument("--policy", default="ranking", choices=sorted(POLICIES))
    ratio.add_argument("--family", default="upper-triangular", choices=sorted(FAMILIES))
    ratio.add_argument("--n", type=int, default=100, help="family size")
    ratio.add_argument("--k", type=int, default=2, help="largest group (k-uniform, kad)")
    ratio.add_argument("--trials", type=int, default=100)
    ratio.add_argument("--seed", type=int, default=0)
    ratio.add_argument("--window", type=float, default=10.0, help="batch length (batched)")
    ratio.add_argument("--executor", default="local", choices=["local", "process", "ray"])
    ratio.add_argument("--ray-address", default=None)
    ratio.add_argument("--no-lp", action="store_true", help="skip the LP bound")
    ratio.add_argument("--out", default="groupmatch-results", help="folder for CSV and PNG")

    prove = sub.add_parser("prove", help="build and exactly verify a ratio certificate")
    prove.add_argument(
        "--policy", default="ranking", choices=["ranking", "greedy", "lp-attenuate", "rideshare"]
    )
    prove.add_argument(
        "--n",
        type=int,
        default=None,
        help="graph size (ranking, default 50); resources of the generated instance "
        "(greedy, default 20) or model (lp-attenuate, default 4); request types "
        "(rideshare, default 3)",
    )
    prove.add_argument(
        "--k", type=int, default=None, help="largest group (greedy 1, lp-attenuate 2, rideshare 2)"
    )
    prove.add_argument("--seed", type=int, default=0, help="seed of the instance or model")
    prove.add_argument(
        "--instance", default=None, help="greedy: certify greedy on this instance JSON"
    )
    prove.add_argument(
        "--gamma",
        default=None,
        help="target acceptance (lp-attenuate: default 1/2; rideshare: default gamma_k)",
    )

    adversary = sub.add_parser("adversary", help="search for a worst-case input")
    adversary.add_argument("--policy", default="greedy", choices=["greedy", "ranking"])
    adversary.add_argument("--n", type=int, default=4)
    adversary.add_argument("--method", default="auto", choices=["auto", "exhaustive", "local"])
    adversary.add_argument("--seed", type=int, default=0)
    adversary.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="refuse a search whose estimated running time is longer (default 600)",
    )
    _add_rides_parser(sub)
    _add_serve_parser(sub)
    _add_rollout_parser(sub)
    return parser


def _add_serve_parser(sub: argparse._SubParsersAction) -> None:
    from scheduling.engine import GPUS, MODELS
    from scheduling.serving_run import SERVING_POLICIES

    serve = sub.add_parser(
        "serve-sim",
        help="simulate LLM serving: QLM and the baselines on a trace or the embedded workload",
    )
    serve.add_argument("--trace", default=None, help="Azure LLM trace CSV (default: generated)")
    serve.add_argument("--model", default=None, choices=sorted(MODELS),
                       help="serve every request with this model")  # fmt: skip
    serve.add_argument(
        "--models",
        default="mistral-7b,vicuna-13b",
        help="comma-separated models shared by the requests (without --model)",
    )
    serve.add_argument("--gpu", default="a100", help=f"one of {', '.join(sorted(GPUS))}")
    serve.add_argument("--tp", type=int, default=1, help="GPUs per instance")
    serve.add_argument("--instances", type=int, default=4)
    serve.add_argument("--policy", default="all", choices=["all", *SERVING_POLICIES])
    serve.add_argument("--requests", type=int, default=2000,
                       help="generated requests (without --trace)")  # fmt: skip
    serve.add_argument(
        "--loads",
        default=None,
        help="comma-separated offered loads (1 = nominal capacity); default 1,2,3 for "
        "generated requests, the trace as recorded otherwise",
    )
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--out", default="groupmatch-results", help="folder for CSV and PNG")


def _run_serve(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from scheduling.serving_run import (
        SERVING_POLICIES,
        at_load,
        default_workload,
        format_serving_table,
        offered_load,
        plot_attainment,
        run_policies,
    )
    from scheduling.serving_sim import ClusterConfig
    from scheduling.traces import assign_classes, load_azure_trace

    models = [args.model] if args.model else [m for m in args.models.split(",") if m]
    if not models:
        raise ValueError("--models names no model")
    config = ClusterConfig(instances=args.instances, gpu=args.gpu, tp=args.tp)
    out = Path(args.out)
    _check_out_folder(out, "serving_requests")
    if args.trace is not None:
        reqs = assign_classes(load_azure_trace(args.trace), models=models, seed=args.seed)
        name = Path(args.trace).name
    else:
        reqs = default_workload(args.requests, models=models, seed=args.seed)
        name = f"generated azure-conv x {args.requests}"
    if args.loads is not None:
        loads = [float(x) for x in args.loads.split(",") if x]
    elif args.trace is None:
        loads = [1.0, 2.0, 3.0]
    else:
        loads = [None]
    policies = SERVING_POLICIES if args.policy == "all" else (args.policy,)
    print(f"{name}: {len(reqs)} requests, models {', '.join(models)}; {args.instances} x "
          f"{args.tp} x {args.gpu}")  # fmt: skip
    rows, csv_runs = [], []
    with Progress(transient=True) as bar:

        def progress(label: str):
            task = bar.add_task(label, total=len(reqs))
            return lambda done, total: bar.update(task, completed=done, total=total)

        for load in loads:
            work = reqs if load is None else at_load(reqs, config, load)
            level = offered_load(work, config) if load is None else load
            label = f"@ load {level:.2f}"
            runs = run_policies(work, config, policies, seed=args.seed,
                                progress=lambda p, at=label: progress(f"{p} {at}"))  # fmt: skip
            for run, row in runs:
                rows.append({"load": round(level, 3), **row})
                csv_runs.append((level, run))
    print(format_serving_table(rows))
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "serving_requests.csv"
    _write_serving_csv(csv_path, csv_runs)
    png = plot_attainment(rows, out / "serving_attainment.png", title=name)
    print(f"wrote {csv_path}, {png}")
    return 0


def _write_serving_csv(path: Path, runs: list) -> None:
    """One CSV of every run's requests, with the load and policy in front."""
    import csv

    from scheduling.serving_sim import ServingRun

    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["load", "policy", *ServingRun.COLUMNS])
        for level, run in runs:
            prefix = [f"{level:.3f}", run.summary["policy"]]
            writer.writerows(prefix + row for row in run.table())


def _add_rollout_parser(sub: argparse._SubParsersAction) -> None:
    from scheduling.grpo import PRESETS
    from scheduling.rollout_run import ROLLOUT_SETUPS

    roll = sub.add_parser("rollout", help="simulate one GRPO rollout iteration (Seer)")
    roll.add_argument("--preset", default="qwen2vl", choices=sorted(PRESETS))
    roll.add_argument("--policy", default="context-aware", choices=["all", *ROLLOUT_SETUPS],
                      help="baseline = synchronous (veRL-like); all = every setup")  # fmt: skip
    roll.add_argument("--chunk-size", type=int, default=8192)
    roll.add_argument("--prompts", type=int, default=None, help="default: the preset's")
    roll.add_argument("--instances", type=int, default=16)
    roll.add_argument("--model", default="llama-2-70b", help="engine cost model")
    roll.add_argument("--gpu", default="h800")
    roll.add_argument("--tp", type=int, default=8)
    roll.add_argument("--migration", default="transfer", choices=["transfer", "recompute"])
    roll.add_argument("--spec-data", default=None,
                      choices=["auto", "all", "codet", "pot", "tot_text", "synthetic"],
                      help="token streams of grouped-spec: real samples (default auto: "
                      "every data set ../shared/data has, else the generator)")  # fmt: skip
    roll.add_argument(
        "--references",
        type=int,
        default=None,
        help="siblings each request drafts from (grouped-spec; default all)",
    )
    roll.add_argument(
        "--max-draft",
        type=int,
        default=None,
        help="draft tokens per path (grouped-spec; default 16)",
    )
    roll.add_argument(
        "--paths",
        type=int,
        default=None,
        help="draft paths, a top-k tree (grouped-spec; default 1)",
    )
    roll.add_argument("--seed", type=int, default=0)
    roll.add_argument("--out", default="groupmatch-results", help="folder for CSV and PNG")


def _run_rollout(args: argparse.Namespace) -> int:
    import csv

    from scheduling.engine import Instance
    from scheduling.grpo import grpo_batch
    from scheduling.rollout_run import ROLLOUT_SETUPS, plot_finished, plot_timeline, run_setup
    from scheduling.rollout_spec import rollout_streams

    out = Path(args.out)
    _check_out_folder(out, "rollout_requests")
    names = list(ROLLOUT_SETUPS) if args.policy == "all" else ["baseline", args.policy]
    names = list(dict.fromkeys(names))
    speculating = any(ROLLOUT_SETUPS[n].get("speculation") for n in names)
    drafting = {"--references": (args.references, 0), "--max-draft": (args.max_draft, 1),
                "--paths": (args.paths, 1), "--spec-data": (args.spec_data, None)}  # fmt: skip
    for flag, (value, low) in drafting.items():
        if value is not None and not speculating:
            raise ValueError(f"{flag} applies to grouped-spec only (--policy {args.policy})")
        if value is not None and low is not None and value < low:
            raise ValueError(f"{flag} must be >= {low}, got {value}")
    spec = Instance(args.model, args.gpu, tp=args.tp)
    batch = grpo_batch(args.preset, prompts=args.prompts, seed=args.seed)
    if args.references is not None and args.references >= batch.group_size:
        raise ValueError(
            f"--references {args.references}: a request has {batch.group_size - 1} siblings"
        )
    if speculating:
        _check_index_memory(int(batch.output_tokens.sum()))
    print(f"{args.preset}: {batch.n_groups} prompts x {batch.group_size} = "
          f"{batch.n_requests} requests, mean {batch.output_tokens.mean():,.0f} tokens, "
          f"cap {batch.max_tokens:,}; {args.instances} x {spec.describe()}")  # fmt: skip
    streams = None
    if speculating:
        streams = rollout_streams(batch.prompt_id, batch.output_tokens,
                                  data=args.spec_data or "auto", seed=args.seed)  # fmt: skip
        print(f"token streams: {streams.describe()}")
    given = {"references": args.references, "max_draft": args.max_draft, "paths": args.paths}
    draft_options = {key: value for key, value in given.items() if value is not None}
    runs = {}
    for name in names:
        runs[name] = run_setup(name, batch, spec, instances=args.instances,
                               chunk_size=args.chunk_size, migration=args.migration,
                               audit=name == names[-1], streams=streams,
                               **draft_options)  # fmt: skip
    base = runs["baseline"].summary
    header = f"{'setup':<15}{'makespan s':>11}{'tokens/s':>11}{'x baseline':>11}{'tail s':>9}"
    print(header + f"{'tail vs base':>13}{'idle inst-s':>12}{'preempt':>8}{'migrations':>11}"
          f"{'accept len':>11}")  # fmt: skip
    for name, run in runs.items():
        s = run.summary
        print(f"{name:<15}{s['makespan_s']:>11.1f}{s['tokens_per_s']:>11,.0f}"
              f"{s['tokens_per_s'] / base['tokens_per_s']:>11.2f}{s['tail_s']:>9.1f}"
              f"{s['tail_s'] / base['tail_s'] - 1:>+13.0%}{s['idle_s']:>12.0f}"
              f"{s['preemptions']:>8}{s['migrations']:>11}"
              f"{s['acceptance_length']:>11.2f}")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    with (out / "rollout_requests.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["setup", "request", "prompt", "prompt_tokens", "output_tokens", "finish_s"])
        for name, run in runs.items():
            for i in range(batch.n_requests):
                w.writerow([name, i, int(batch.prompt_id[i]), int(batch.prompt_tokens[i]),
                            int(run.tokens[i]), f"{run.finish[i]:.3f}"])  # fmt: skip
    plot_finished(runs, out / "rollout_finished.png", title=args.preset)
    plot_timeline(runs[names[-1]], out / "rollout_timeline.png", title=names[-1])
    print(f"wrote {out / 'rollout_requests.csv'}, rollout_finished.png, rollout_timeline.png")
    return 0


def _add_rides_parser(sub: argparse._SubParsersAction) -> None:
    rides = sub.add_parser(
        "rides",
        help="simulate ride-pooling dispatch (embedded city, or Manhattan with NYC trips)",
    )
    rides.add_argument("--network", default=None, help="Manhattan data folder (real data)")
    rides.add_argument("--trips", default=None, help="NYC trip CSV (needs --network)")
    rides.add_argument("--vehicles", type=int, default=60)
    rides.add_argument("--capacity", type=int, default=4, help="seats per vehicle, 1..4")
    rides.add_argument(
        "--policy",
        default="all",
        choices=["all", "batched", "greedy", "ranking", "attenuate"],
        help="all = the four; attenuate = the ridesharing paper's LP sample-and-attenuate, "
        "its prior fitted to another draw of the same demand",
    )
    rides.add_argument("--window", type=float, default=30.0, help="dispatch window, s")
    rides.add_argument("--duration", type=float, default=1800.0, help="simulated span, s")
    rides.add_argument(
        "--requests", type=int, default=None, help="requests (default 600; real data: all)"
    )
    rides.add_argument("--max-wait", type=float, default=300.0, help="s")
    rides.add_argument("--max-detour", type=float, default=600.0, help="s, absolute")
    rides.add_argument("--grid", type=int, default=20, help="embedded city side (nodes)")
    rides.add_argument("--hour", type=int, default=8, help="Manhattan travel-time hour")
    rides.add_argument("--seed", type=int, default=0)
    rides.add_argument(
        "--sweep", action="store_true", help="also fleets of 1/4 and 1/2 the size (PNG)"
    )
    rides.add_argument("--out", default="groupmatch-results", help="folder for CSV and PNG")


def _run_rides(args: argparse.Namespace) -> int:
    from scheduling.dispatch import POLICIES, PRIOR_POLICIES
    from scheduling.ride_sim import (
        embedded_city,
        format_summary,
        manhattan_scenario,
        plot_routes,
        plot_sweep,
        simulate,
        training_demand,
        write_rows,
    )

    if args.trips is not None and args.network is None:
        raise ValueError("--trips needs --network (the Manhattan data folder)")
    if args.vehicles < 1:
        raise ValueError(f"--vehicles must be at least 1, got {args.vehicles}")
    out = Path(args.out)
    _check_out_folder(out, "rides_requests")
    if args.network is None:
        scen = embedded_city(
            requests=600 if args.requests is None else args.requests,
            duration=args.duration,
            grid=args.grid,
            seed=args.seed,
        )
    else:
        scen = manhattan_scenario(
            args.trips,
            network_dir=args.network,
            requests=args.requests,
            duration=args.duration,
            hour=args.hour,
            seed=args.seed,
        )
    print(f"{scen.name}: {len(scen)} requests over {scen.duration:g} s; {scen.info}")
    policies = POLICIES + PRIOR_POLICIES if args.policy == "all" else (args.policy,)
    training = (
        training_demand(scen, seed=args.seed + 1) if set(policies) & set(PRIOR_POLICIES) else None
    )
    fleets = sorted({max(1, args.vehicles // 4), max(1, args.vehicles // 2), args.vehicles})
    fleets = fleets if args.sweep else [args.vehicles]
    results, rows = {}, []
    for vehicles in fleets:
        for policy in policies:
            res = simulate(
                scen,
                vehicles=vehicles,
                capacity=args.capacity,
                policy=policy,
                window=args.window,
                max_wait=args.max_wait,
                max_detour=args.max_detour,
                seed=args.seed,
                training=training,
            )
            rows.append(res.summary)
            results[vehicles, policy] = res
    print(format_summary(rows))
    out.mkdir(parents=True, exist_ok=True)
    main_runs = [results[args.vehicles, p] for p in policies]
    requests = [{"policy": r.summary["policy"], **row} for r in main_runs for row in r.requests]
    write_rows(out / "rides_requests.csv", requests)
    windows = [{"policy": r.summary["policy"], **row} for r in main_runs for row in r.windows]
    write_rows(out / "rides_windows.csv", windows)
    plot_routes(main_runs[0], out / "rides_routes.png", start=scen.duration / 2, span=300.0)
    written = ["rides_requests.csv", "rides_windows.csv", "rides_routes.png"]
    if args.sweep:
        plot_sweep(rows, out / "rides_sweep.png", title=scen.name)
        written.append("rides_sweep.png")
    print(f"wrote {', '.join(str(out / w) for w in written)}")
    return 0


def _run_prove(args: argparse.Namespace) -> int:
    from fractions import Fraction

    from proofs.catalog import build_certificate, report

    try:
        gamma = None if args.gamma is None else Fraction(args.gamma)
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"--gamma must be a fraction such as 1/2 or 0.5, got {args.gamma!r}"
        ) from None
    instance = None if args.instance is None else matching.Instance.from_json(args.instance)
    cert = build_certificate(
        args.policy, n=args.n, k=args.k, seed=args.seed, gamma=gamma, instance=instance
    )
    result = cert.verify()
    print("\n".join(report(cert, result)))
    return 0 if result.ok else 1


def _run_adversary(args: argparse.Namespace) -> int:
    from proofs import adversary

    seconds = adversary.estimated_seconds(
        args.policy, args.n, method=args.method, relabellings=True
    )
    if seconds > args.max_seconds:
        raise ValueError(_too_long(args, seconds))
    res = adversary.search(args.policy, args.n, method=args.method, seed=args.seed)
    print(
        f"worst input for {args.policy} at n={args.n} ({res.method}, {res.examined} "
        f"inputs examined): E[ALG]/OPT = {res.ratio} = {float(res.ratio):.6f}"
    )
    for i, mask in enumerate(res.adjacency):
        print(f"  online {i}: resources {[r for r in range(args.n) if mask >> r & 1]}")
    same = res.isomorphic_to(adversary.upper_triangular_adjacency(args.n))
    print(f"  upper-triangular among the worst found: {same}")
    return 0


def _too_long(args: argparse.Namespace, seconds: float) -> str:
    """Word the refusal of an adversary search estimated to outrun ``--max-seconds``."""
    from proofs.adversary import search_plan

    n, count = args.n, math.factorial(args.n)
    ways = str(count) if count < 10**12 else f"{float(count):.3g}"
    method, inputs = search_plan(args.policy, n, method=args.method)
    shown = f"2^{n * n}" if method == "exhaustive" else str(inputs)
    runs = f" x {n}! = {ways} rankings each" if args.policy == "ranking" else ""
    return (
        f"adversary --policy {args.policy} --n {n} would take about {_duration(seconds)} "
        f"({method} search: {shown} inputs{runs}, then up to {n}! = {ways} relabellings "
        f"to compare with the upper-triangular input); raise --max-seconds (now "
        f"{args.max_seconds:g}) to run it anyway"
    )


def _duration(seconds: float) -> str:
    """Say a number of seconds in the unit that reads best."""
    for unit, size, limit in (
        ("seconds", 1, 90),
        ("minutes", 60, 90 * 60),
        ("hours", 3600, 48 * 3600),
        ("days", 86400, 730 * 86400),
    ):
        if seconds < limit:
            return f"{_rounded(seconds / size)} {unit}"
    return f"{_rounded(seconds / (365.25 * 86400))} years"


def _rounded(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}" if value < 1e15 else f"{value:.2e}"


def _check_index_memory(tokens: int) -> None:
    """Refuse a grouped-spec run whose suffix indexes would not fit this machine."""
    from scheduling.rollout_spec import INDEX_BYTES_PER_TOKEN

    need = tokens * INDEX_BYTES_PER_TOKEN
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not knowable here: do not guess
        return
    if need > 0.8 * have:
        raise ValueError(
            f"grouped-spec would index {tokens:,} generated tokens, about "
            f"{need / 2**30:.0f} GiB of suffix automata, more than 80% of this machine's "
            f"{have / 2**30:.0f} GiB; draw fewer prompts with --prompts"
        )


def _check_out_folder(out: Path, stem: str) -> None:
    """Refuse an ``--out`` that cannot take the CSV and PNG, before the run starts."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--out {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write in {existing}")
    for suffix in (".csv", ".png"):
        target = out / f"{stem}{suffix}"
        if target.is_dir():
            raise ValueError(f"--out {out}: {target} is a folder, not a file")


def _run_ratio(args: argparse.Namespace) -> int:
    policy = make_policy(args.policy, args.window)
    family = make_family(args.family, args.n, args.k)
    out = Path(args.out)
    stem = f"ratio_{args.policy}_{args.family}_n{args.n}"
    _check_out_folder(out, stem)
    report = competitive_ratio(
        policy,
        family,
        args.trials,
        seed=args.seed,
        executor=args.executor,
        ray_address=args.ray_address,
        with_lp=not args.no_lp,
    )
    print(report.table())
    out.mkdir(parents=True, exist_ok=True)
    report.to_csv(out / f"{stem}.csv")
    report.plot(out / f"{stem}.png")
    print(f"wrote {out / stem}.csv and .png")
    return 0


def _run_solve(args: argparse.Namespace) -> int:
    inst = matching.Instance.from_json(args.instance)
    res = matching.solve(
        inst, args.method, time_limit=args.time_limit, seed=args.seed, threads=args.threads
    )
    res.check(inst)
    if args.json:
        print(
            json.dumps(
                {
                    "status": res.status.value,
                    "method": res.method,
                    "value": res.value,
                    "bound": res.bound if res.bound != float("inf") else None,
                    "gap": res.gap if res.gap != float("inf") else None,
                    "wall_time": res.wall_time,
                    "edges": res.edges.tolist(),
                    "assignment": res.assignment.tolist(),
                }
            )
        )
        return 0
    print(inst.summary())
    print(res)
    for r, g in res.assignment.tolist():
        print(f"  resource {r} <- group {g} {inst.group(g).tolist()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``groupmatch`` command; returns the exit status.

    Usage errors -- a bad argument, an unreadable or invalid instance file, an
    ``--out`` that cannot be written, an adversary search estimated to run longer than
    ``--max-seconds`` -- exit with status 2 and a one-line message on standard error,
    before any run starts. argparse's own errors (an unknown choice, a non-integer
    where one is expected) exit with status 2 too.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            print("groupmatch demo: exact (CP-SAT) vs greedy on embedded generated data\n")
            print(format_table(demo_rows(seed=args.seed, time_limit=args.time_limit)))
            print("\ncompetitive ratios (empirical ALG/OPT, 95% bootstrap CI) vs guarantee\n")
            print(ratio_rows(seed=args.seed))
            print("\ncertificates (exact rational verification)\n")
            print(certificate_rows())
            print("\nride-pooling dispatch, embedded city (decision times in s)\n")
            print(ride_rows(seed=args.seed))
            print("\nLLM serving (QLM), embedded workload, SLO attainment on TTFT\n")
            print(serving_rows(seed=args.seed))
            print("\nRL rollout (Seer), one generated GRPO iteration (qwen2vl preset)\n")
            print(rollout_rows(seed=args.seed))
            return 0
        if args.command == "ratio":
            return _run_ratio(args)
        if args.command == "prove":
            return _run_prove(args)
        if args.command == "adversary":
            return _run_adversary(args)
        if args.command == "rides":
            return _run_rides(args)
        if args.command == "serve-sim":
            return _run_serve(args)
        if args.command == "rollout":
            return _run_rollout(args)
        return _run_solve(args)
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. head)
        sys.stdout = open(os.devnull, "w")  # keep the interpreter's final flush quiet
        return 0
    except (ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"groupmatch: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
