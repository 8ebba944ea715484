import json

import pytest

import matching
from groupmatch.cli import main
from groupmatch.demo import demo_rows, format_table
from matching.families import random_groups


def test_solve_command_prints_the_optimum(tmp_path, capsys):
    inst = random_groups(5, 20, 25, capacity=2, seed=4)
    path = tmp_path / "inst.json"
    inst.to_json(path)
    assert main(["solve", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = matching.solve(inst, "mip")
    assert out["status"] == "optimal"
    assert out["value"] == pytest.approx(expected.value)
    assert len(out["assignment"]) == len(out["edges"])


def test_solve_command_text_and_greedy(tmp_path, capsys):
    inst = random_groups(3, 9, 8, seed=1)
    path = tmp_path / "inst.json"
    inst.to_json(path)
    assert main(["solve", str(path), "--method", "greedy"]) == 0
    text = capsys.readouterr().out
    assert "status='feasible'" in text and "resource" in text


def test_solve_command_reports_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"format": "groupmatch.instance", "version": 1, "n_requests": 1, '
        '"capacity": [1], "groups": [[3]], "edges": {"resource": [], "group": [], '
        '"weight": [], "load": []}}'
    )
    assert main(["solve", str(bad)]) == 2
    assert "groups[0] names unknown request id 3" in capsys.readouterr().err
    assert main(["solve", str(tmp_path / "missing.json")]) == 2


def test_demo_rows_are_exact_and_checked(capsys):
    rows = demo_rows(seed=1)
    for row in rows:
        assert row.exact.status is matching.Status.OPTIMAL
        assert row.exact.value >= row.greedy.value > 0
        # the exact optimum agrees with an independent MIP solve
        assert row.exact.value == pytest.approx(matching.solve(row.instance, "mip").value)
    table = format_table(rows)
    assert "ride-sharing batch" in table and "QLM" in table
    assert main(["demo", "--seed", "1"]) == 0
    assert "greedy/exact" in capsys.readouterr().out


def test_ratio_command_writes_table_csv_and_plot(tmp_path, capsys):
    code = main(
        [
            "ratio",
            "--policy",
            "greedy",
            "--family",
            "upper-triangular",
            "--n",
            "20",
            "--trials",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "ALG/OPT mean 0.5000" in out
    assert "guarantee: ALG/OPT >= 1/2 = 0.500" in out
    assert (tmp_path / "ratio_greedy_upper-triangular_n20.csv").exists()
    assert (tmp_path / "ratio_greedy_upper-triangular_n20.png").exists()


def test_ratio_command_states_no_guarantee_where_preconditions_fail(tmp_path, capsys):
    # random-bipartite inputs are edge-weighted: greedy's 1/(k+1) is not printed for them
    args = ["ratio", "--policy", "greedy", "--family", "random-bipartite", "--n", "12"]
    assert main([*args, "--trials", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "guarantee: no guarantee: 1/(k+1) needs unit weights" in out
    assert "ALG/OPT >=" not in out


def test_ratio_command_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit):
        main(["ratio", "--policy", "oracle"])
    assert main(["ratio", "--family", "k-uniform", "--n", "1"]) == 2
    assert "n must be at least 2" in capsys.readouterr().err


def test_serve_sim_writes_one_row_per_request_and_policy(tmp_path, capsys):
    import csv

    out = tmp_path / "out"
    code = main(["serve-sim", "--requests", "150", "--instances", "2", "--loads", "1,2",
                 "--policy", "qlm", "--out", str(out)])  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader((out / "serving_requests.csv").open()))
    assert len(rows) == 2 * 150
    assert {r["policy"] for r in rows} == {"qlm"}
    assert {r["load"] for r in rows} == {"1.000", "2.000"}
    assert sorted(int(r["request"]) for r in rows if r["load"] == "1.000") == list(range(150))
    assert (out / "serving_attainment.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "qlm" in printed and "SLO met" in printed


def test_serve_sim_on_the_azure_trace_with_the_issue_flags(tmp_path, capsys):
    from helpers import SHARED_DATA

    trace = SHARED_DATA / "llm-traces" / "azure2023_conv.csv"
    if not trace.exists():
        pytest.skip(f"real trace not found at {trace}")
    flags = "--model codellama-34b --gpu a100 --tp 2 --instances 1 --policy fcfs".split()
    code = main(["serve-sim", "--trace", str(trace), *flags, "--out", str(tmp_path)])
    assert code == 0
    lines = (tmp_path / "serving_requests.csv").read_text().splitlines()
    assert len(lines) == 1 + 19_366
    assert "codellama-34b" in lines[1] and ",fcfs," in lines[1]


def test_serve_sim_refuses_bad_arguments(capsys):
    assert main(["serve-sim", "--instances", "0"]) == 2
    assert "instances must be an integer >= 1" in capsys.readouterr().err
    assert main(["serve-sim", "--models", ""]) == 2
    assert "--models names no model" in capsys.readouterr().err


def test_rollout_command_prints_setups_and_writes_csv_and_plots(tmp_path, capsys):
    import csv

    code = main(["rollout", "--preset", "qwen2vl", "--policy", "context-aware", "--prompts", "3",
                 "--instances", "2", "--model", "mistral-7b", "--gpu", "a100", "--tp", "1",
                 "--chunk-size", "4096", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "baseline" in printed and "context-aware" in printed
    rows = list(csv.DictReader((tmp_path / "rollout_requests.csv").open()))
    assert len(rows) == 2 * 3 * 16
    by_setup = {}
    for r in rows:
        by_setup.setdefault(r["setup"], []).append(int(r["output_tokens"]))
    assert by_setup["baseline"] == by_setup["context-aware"]  # the same true lengths
    assert (tmp_path / "rollout_finished.png").stat().st_size > 0
    assert (tmp_path / "rollout_timeline.png").stat().st_size > 0


def test_rollout_command_with_grouped_speculation(tmp_path, capsys):
    import csv

    code = main(["rollout", "--preset", "qwen2vl", "--policy", "grouped-spec", "--prompts", "2",
                 "--instances", "2", "--model", "mistral-7b", "--gpu", "a100", "--tp", "1",
                 "--spec-data", "synthetic", "--max-draft", "6",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "token streams: synthetic samples" in printed
    line = next(ln for ln in printed.splitlines() if ln.startswith("grouped-spec"))
    assert 1.0 < float(line.split()[-1]) <= 7.0  # measured acceptance length, g + 1 at most
    base = next(ln for ln in printed.splitlines() if ln.startswith("baseline"))
    assert float(base.split()[-1]) == 1.0
    rows = list(csv.DictReader((tmp_path / "rollout_requests.csv").open()))
    lengths = {}
    for r in rows:
        lengths.setdefault(r["setup"], []).append(int(r["output_tokens"]))
    assert lengths["grouped-spec"] == lengths["baseline"]  # every request its true length


def test_rollout_command_refuses_drafting_flags_before_running(capsys, tmp_path):
    out = ["--out", str(tmp_path)]
    assert main(["rollout", "--policy", "context-aware", "--references", "3", *out]) == 2
    assert "--references applies to grouped-spec only" in capsys.readouterr().err
    assert main(["rollout", "--policy", "grouped-spec", "--max-draft", "0", *out]) == 2
    assert "--max-draft must be >= 1, got 0" in capsys.readouterr().err
    assert main(["rollout", "--policy", "grouped-spec", "--references", "16", *out]) == 2
    assert "a request has 15 siblings" in capsys.readouterr().err
    assert not (tmp_path / "rollout_requests.csv").exists()


def test_rollout_command_refuses_a_speculation_run_too_big_for_memory(
    capsys, tmp_path, monkeypatch
):
    """kimik2's full iteration (800 x 8 requests, ~250 M tokens) needs ~140 GiB of suffix
    automata: refused on a machine of 16 GiB, before anything runs."""
    import os

    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 16 * 2**30 // 4096}
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    code = main(["rollout", "--preset", "kimik2", "--policy", "grouped-spec",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "grouped-spec would index" in err and "of this machine's 16 GiB" in err
    assert not (tmp_path / "rollout_requests.csv").exists()
