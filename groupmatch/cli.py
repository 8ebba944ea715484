"""Command line entry point ``groupmatch``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import matching
from groupmatch import __version__
from groupmatch.demo import demo_rows, format_table

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``groupmatch`` command."""
    parser = argparse.ArgumentParser(
        prog="groupmatch",
        description="Online group matching: exact and greedy solves of tripartite "
        "resource/request/group instances, and their applications.",
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
    return parser


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
    """Run the ``groupmatch`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            print("groupmatch demo: exact (CP-SAT) vs greedy on embedded generated data\n")
            print(format_table(demo_rows(seed=args.seed, time_limit=args.time_limit)))
            return 0
        return _run_solve(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"groupmatch: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
