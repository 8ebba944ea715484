"""Online ridesharing ratio table: ALG/LP and ALG/OPT for k = 2, 3, 4 on fitted models.

Models (``scheduling.ride_model.fit_ride_model``): request types are the most frequent
zone pairs of a trip sample, arrival probabilities fitted by zone pair and 5-minute step
(08:00-09:00); vehicles return to depots at the busiest origin zones. Sources: the
NYC yellow-cab sample on the Manhattan network (``../shared/data``; skipped with a
message when absent) and the generated grid city (always). Every policy runs through
the streaming matcher on the *same* realised inputs, divided by the *same* exact
hindsight optimum of each input and by the benchmark LP:

* ``rideshare-attenuate``: LP sample-and-attenuate with target gamma_k and simulated
  availabilities (the table gives the least estimated beta and whether it reaches
  gamma_k, without which the per-cell argument does not apply);
* ``greedy``, ``ranking``: one group at a time in group order;
* ``batched``: each step's groups solved exactly together.

Writes ``benchmarks/results/rideshare_ratios.csv`` and ``.png``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import RESULTS, write_csv

from matching.online import BatchedResolvePolicy, GreedyPolicy, RankingPolicy
from matching.rideshare import gamma_k, rideshare_lp
from matching.rideshare_policy import RideshareAttenuatePolicy, simulated_availability
from matching.rideshare_run import ride_ratio_table
from scheduling.ride_model import fit_ride_model, grid_zone_trips, nyc_zone_trips
from scheduling.roads import RoadNetwork, default_data_dir


def manhattan_source():
    """Zone-pair trips of the NYC yellow 2016 sample on Manhattan, or None."""
    data = default_data_dir() / "rides"
    if not (data / "manhattan").is_dir():
        print("../shared/data/rides absent: the NYC-calibrated rows are skipped")
        return None
    net = RoadNetwork.manhattan(hour=8)
    zone_trips = nyc_zone_trips(
        data / "nyc_yellow_2016-01_sample.csv", data / "nyc_taxi_zone_centroids.csv", net
    )
    return "manhattan+nyc-yellow-2016", net, zone_trips


def city_source():
    """Synthetic zone-pair trips on the generated grid city."""
    net = RoadNetwork.grid(12, spacing_km=0.3, speed_kmh=25.0, seed=0)
    oz, dz, tod, zone_node = grid_zone_trips(net, 20000, zones_per_side=4, seed=0)
    return "grid-city", net, (oz, dz, tod, zone_node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--types", type=int, default=10)
    parser.add_argument("--vehicles", type=int, default=6)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--demand", type=float, default=3.0, help="requests per step")
    parser.add_argument("--max-wait", type=float, default=600.0, help="s")
    parser.add_argument("--max-detour", type=float, default=900.0, help="s")
    parser.add_argument("--sims", type=int, default=2000, help="runs for the availabilities")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sources = [s for s in (manhattan_source(), city_source()) if s is not None]
    rows = []
    header = (
        f"{'source':27}{'k':>2}{'gamma_k':>9}  {'policy':20}{'ALG/LP':>8}{'95% CI':>17}"
        f"{'ALG/OPT':>9}{'min beta':>10}{'mass<gamma':>11}"
    )
    print(header)
    for name, net, (oz, dz, tod, zone_node) in sources:
        for k in (2, 3, 4):
            t0 = time.perf_counter()
            fit = fit_ride_model(
                oz,
                dz,
                tod,
                zone_node,
                net,
                n_types=args.types,
                n_vehicles=args.vehicles,
                k=k,
                n_steps=args.steps,
                requests_per_step=args.demand,
                max_wait=args.max_wait,
                max_detour=args.max_detour,
            )
            model = fit.model
            policies = {
                "rideshare-attenuate": lambda: RideshareAttenuatePolicy(
                    availability="simulated", n_sims=args.sims, seed=args.seed
                ),
                "greedy": GreedyPolicy,
                "ranking": RankingPolicy,
                "batched": lambda: BatchedResolvePolicy(1.0),
            }
            rep = ride_ratio_table(model, policies, trials=args.trials, seed=args.seed)
            # the policy's own availabilities (same computation, same seed)
            lp = rideshare_lp(model)
            av = simulated_availability(
                model, lp, gamma_k(model.k), n_sims=args.sims, seed=args.seed
            )
            min_beta = av.min_beta()
            short = av.used() & (np.nan_to_num(av.beta, nan=1.0) < gamma_k(model.k))
            short_mass = float(lp.x[short].sum() / max(lp.x.sum(), 1e-300))
            for row in rep.rows(seed=args.seed):
                mine = row["policy"] == "rideshare-attenuate"
                beta_txt = f"{min_beta:10.3f}{short_mass:11.3f}" if mine else ""
                print(
                    f"{name:27}{k:>2}{gamma_k(model.k):>9.5f}  {row['policy']:20}"
                    f"{row['alg_over_lp']:>8.3f}   [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
                    f"{row['alg_over_opt']:>9.3f}{beta_txt}"
                )
                rows.append(
                    {
                        "source": name,
                        "k": k,
                        "model_k": model.k,
                        "gamma_k": gamma_k(model.k),
                        "groups": model.types.n_groups,
                        "edges": model.types.n_edges,
                        "lp": rep.lp,
                        "mean_opt": float(rep.opt.mean()),
                        "min_beta_estimate": min_beta,
                        "lp_mass_beta_below_gamma": short_mass,
                        "trials": args.trials,
                        **row,
                    }
                )
            print(
                f"{'':29}({model.types.n_groups} groups, {model.types.n_edges} edges, LP "
                f"{rep.lp:.3f}, mean OPT {rep.opt.mean():.3f}, {time.perf_counter() - t0:.1f} s)"
            )
    RESULTS.mkdir(exist_ok=True)
    write_csv(RESULTS / "rideshare_ratios.csv", rows)
    plot(rows)


def plot(rows: list[dict]) -> None:
    """ALG/LP per policy and k, with gamma_k marked, one panel per source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = sorted({r["source"] for r in rows})
    fig, axes = plt.subplots(1, len(sources), figsize=(6 * len(sources), 4), squeeze=False)
    for ax, source in zip(axes[0], sources, strict=True):
        mine = [r for r in rows if r["source"] == source]
        policies = list(dict.fromkeys(r["policy"] for r in mine))
        ks = sorted({r["k"] for r in mine})
        width = 0.8 / len(policies)
        for i, pol in enumerate(policies):
            vals = [
                next(r["alg_over_lp"] for r in mine if r["k"] == k and r["policy"] == pol)
                for k in ks
            ]
            ax.bar(np.arange(len(ks)) + i * width, vals, width, label=pol)
        for j, k in enumerate(ks):
            g = next(r["gamma_k"] for r in mine if r["k"] == k)
            ax.hlines(g, j - 0.1, j + 0.9, colors="k", linestyles="dashed")
        ax.set_xticks(np.arange(len(ks)) + 0.4, [f"k = {k}" for k in ks])
        ax.set_ylabel("ALG / LP")
        ax.set_title(f"{source} (dashed: gamma_k)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "rideshare_ratios.png", dpi=120)


if __name__ == "__main__":
    main()
