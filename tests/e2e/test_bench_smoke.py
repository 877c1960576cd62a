"""The benchmark command, small and quick, and `deploy.py plan`'s imports, on the embedded AWS."""

from __future__ import annotations

import contextlib
import json

import pytest

from bench.__main__ import main as bench_main
from bench.imports import heavy_imports
from bench.tables import NAME_FORMAT


@pytest.fixture
def bench(aws, tmp_path):
    """`python -m bench ARGS` on the session's embedded AWS (one runs per process); returns the JSON report."""

    @contextlib.contextmanager
    def clean_emulator(create_latency, faults):
        # As `python -m bench` starts it (bench.__main__.fresh_emulator): reads do not lag, no chaos.
        aws.reset(faults=list(faults), create_latency=create_latency, consistency_lag=0.0, chaos=0.0)
        yield aws

    def run(*args: str) -> tuple[int, dict]:
        out = tmp_path / "report.json"
        code = bench_main([*args, "--out", str(out)], start_emulator=clean_emulator)
        return code, json.loads(out.read_text())

    return run


def test_bench_at_two_tables_reports_what_aws_counted(bench, aws, clients):
    code, report = bench("--tables", "2", "--create-latency", "0.5", "--max-concurrency", "1", "--poll-interval", "1", "--skip-baseline", "--skip-import-check", "--no-warm-run", "--skip-cold-start")

    # The emulator's own counters (AWS-side): one CreateTable per table, and nothing else created them
    # (deploy's one is the orchestrator's run-lease table).
    assert aws.api_calls()["dynamodb:CreateTable"] == 2 + 1
    names = [NAME_FORMAT.format(number) for number in (1, 2)]
    assert sorted(n for n in clients.dynamodb.list_tables()["TableNames"] if n.startswith("FileFerry-Bench-")) == names
    assert all(clients.dynamodb.describe_table(TableName=n)["Table"]["TableStatus"] == "ACTIVE" for n in names)

    (run,) = report["provisioner_runs"]
    provision, drift = run["provision"], run["drift_check"]
    assert provision["status"] == "SUCCEEDED" and provision["verified"] is True
    assert provision["api_calls"]["dynamodb:CreateTable"] == 2
    for measured in (provision, drift):
        for field in ("wall_seconds", "state_transitions", "lambda_invocations", "history_events", "api_calls"):
            assert measured[field], field
    # MaxConcurrency 1: the Map never had both tables' operations in flight, read from the history.
    assert provision["max_table_operations_in_flight"] == 1
    assert drift["status"] == "SUCCEEDED" and drift["drift_found"] is False
    assert report["baselines"] == []
    assert report["targets"] and all(target["pass"] for target in report["targets"]) and code == 0


def test_deploy_plan_against_the_embedded_aws_imports_neither_the_sdk_nor_sagemaker_nor_moto(aws, config_path):
    # The embedded AWS runs in this process; the deploy.py subprocess only talks HTTP to it.
    exit_code, heavy = heavy_imports(["--config", str(config_path), "--endpoint-url", aws.endpoint_url, "plan"])
    assert exit_code == 3  # everything to create: plan really talked to AWS
    assert heavy == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--create-latency", "nan"], "create latency must be a number of seconds from 0 to 3600, got nan"),
        (["--create-latency", "-1"], "create latency must be a number of seconds from 0 to 3600, got -1.0"),
        (["--tables", "0"], "--tables must be between 1 and"),
        (["--max-concurrency", "0"], "provisioner.max_concurrency override"),
        (["--fault", "dynamodb:CreateTable"], "--fault:"),
        (["--out", "."], "--out: . is a directory"),
    ],
)
def test_bad_bench_arguments_exit_2_naming_the_problem_before_any_aws_call(aws, capsys, args, message):
    def no_emulator(create_latency, faults):
        raise AssertionError("the bench started an embedded AWS despite bad arguments")

    try:
        code = bench_main([*args, "--skip-baseline"], start_emulator=no_emulator)
    except SystemExit as exited:  # argparse's own refusal
        code = exited.code

    assert code == 2
    assert message in capsys.readouterr().err
    assert aws.api_calls() == {}
