"""deploy.py as an operator uses it, against the embedded AWS, results read back with boto3."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect

from provisioner.runs import executions as runs
from provisioner.cli.commands import main
from provisioner.runs.progress import readable_cause
from state_machine.asl import ASL_PATH

REPO = Path(__file__).resolve().parents[2]


def _without_run_identity(result: dict) -> dict:
    """A run's JSON without what differs between any two runs (its ARN and its duration)."""
    return {k: v for k, v in result.items() if k not in ("execution_arn", "duration_seconds")}


def test_json_before_or_after_the_command_gives_the_same_json(aws, deployed, config_path, capsys, clients):
    clients.dynamodb.create_table(
        TableName="FileFerry-UserContext",
        KeySchema=[{"AttributeName": "wrong_key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "wrong_key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.clock.advance(aws.consistency.seconds)  # made by hand before the checks, not within their read lag
    where = ["--config", str(config_path), "--endpoint-url", aws.endpoint_url]

    before = main(["--json", *where, "run", "drift-check"]), capsys.readouterr().out
    piped = subprocess.run([sys.executable, "deploy.py", "run", "drift-check", "--json", *where],
                           cwd=REPO, capture_output=True, text=True, timeout=240)

    assert before[0] == piped.returncode == 3, piped.stderr
    first, second = json.loads(before[1]), json.loads(piped.stdout)  # all of stdout is one JSON document
    assert _without_run_identity(first) == _without_run_identity(second)
    assert first["output"]["drifted"] is True
    # Two drift checks ran, both read-only: the table made by hand is still the only one.
    aws.clock.advance(aws.consistency.seconds)  # DescribeExecution is eventually consistent: read it after the lag
    sfn = clients.stepfunctions
    for result in (first, second):
        assert sfn.describe_execution(executionArn=result["execution_arn"])["status"] == "SUCCEEDED"
    assert [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] == ["FileFerry-UserContext"]


# -- progress a person can follow ---------------------------------------------------------------

TABLES = ("FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests",
          "FileFerry-AgentLearning", "FileFerry-S3FileCache")
CURSOR_UP = "\x1b[1A"  # how a terminal redraw moves back over the previous frame


def _deploy_py(aws, config_path, *args: str) -> list[str]:
    return [sys.executable, "deploy.py", *args, "--config", str(config_path), "--endpoint-url", aws.endpoint_url]


def _provisioned_as_the_spec_says(clients) -> None:
    for table in TABLES:
        assert clients.dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
        ttl = clients.dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"]
        assert ttl in (("DISABLED",) if table == "FileFerry-AgentLearning" else ("ENABLED", "ENABLING")), (table, ttl)
    assert clients.iam.get_role(RoleName="FileFerryReadOnlyRole")["Role"]["Arn"]


def test_on_a_terminal_a_run_is_a_table_redrawn_in_place_that_ends_in_the_summary(aws, deployed, config_path, clients):
    aws.set_create_latency(2)
    terminal = pexpect.spawn(
        sys.executable, _deploy_py(aws, config_path, "run", "provision")[1:], cwd=str(REPO),
        env={**os.environ, "COLUMNS": "150", "LINES": "50"}, dimensions=(50, 150), timeout=240, encoding="utf-8",
    )
    terminal.expect(pexpect.EOF)
    terminal.close()
    screen = terminal.before

    assert terminal.exitstatus == 0, screen[-3000:]
    assert screen.count(CURSOR_UP) > len(TABLES), "the view was not redrawn in place"
    last_frame = screen[screen.rindex(CURSOR_UP):]
    summary = last_frame[last_frame.index("Verification passed"):]
    frame = last_frame[:last_frame.index("Verification passed")]
    assert "seconds in it" in frame
    for table in TABLES:
        row = next(line for line in frame.splitlines() if table in line)
        assert re.search(r"\d+ s", row), row  # each row carries the seconds spent in its state
        assert table in summary
    assert "no TTL (permanent table)" in summary and "not-specified" not in screen
    assert "Succeeded in" in summary
    _provisioned_as_the_spec_says(clients)


def test_piped_output_is_plain_lines_with_elapsed_times_and_still_waiting_lines(aws, deployed, config_path, clients):
    # Tables stay CREATING until this test moves the embedded AWS's clock: the wait is as long as it takes
    # to see the "still waiting" line, whatever the machine's speed.
    aws.set_create_latency(600)
    process = subprocess.Popen(
        _deploy_py(aws, config_path, "run", "provision", "--waiting-interval", "1"),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "still waiting for" in line and "AWS is creating" in line:
                aws.clock.advance(600)
                break
        lines += process.stdout.read().splitlines()
        assert process.wait(timeout=240) == 0, (lines, process.stderr.read())
    finally:
        if process.poll() is None:
            process.kill()

    output = "\n".join(lines)
    assert "\x1b" not in output, "terminal control sequences in piped output"
    elapsed = re.compile(r"^\s+\d+ s  ")
    for table in TABLES:
        assert any(elapsed.match(line) and f"table {table}: created; AWS is creating it" in line for line in lines), output
        # ...and then, once AWS made it ACTIVE, its TTL, with how long the wait in CREATING took.
        assert any(elapsed.match(line) and re.search(rf"table {table}: created, .*TTL.* \(after \d+ s\)$", line)
                   for line in lines), output
    waiting = [line for line in lines if "still waiting for" in line]
    assert waiting and all(elapsed.match(line) and re.search(r"\(\d+ s\)$", line) for line in waiting), waiting
    assert "table FileFerry-AgentLearning: created, no TTL (permanent table)" in output
    _provisioned_as_the_spec_says(clients)


def test_a_followed_run_reports_how_it_ended_while_describe_execution_still_says_running(aws, deployed, cli, clients):
    # DescribeExecution is eventually consistent (its API reference says so): here it keeps saying RUNNING
    # for ten minutes after a run ends.  The run's history records the end, with its output or error, at once.
    aws.set_consistency_lag(600)  # lags what is written from now on
    sfn = clients.stepfunctions

    code, out = cli("--json", "run", "drift-check")
    checked = json.loads(out)
    invalid = sfn.start_execution(stateMachineArn=deployed.state_machine_arn, input=json.dumps({"action": "drift-check", "remediate": "yes"}))
    status_code, status_out = cli("--json", "status", invalid["executionArn"], "--follow")
    refused = json.loads(status_out)
    shown_code, shown_out = cli("--json", "status", invalid["executionArn"])  # ended; DescribeExecution says RUNNING
    shown = json.loads(shown_out)

    assert sfn.describe_execution(executionArn=checked["execution_arn"])["status"] == "RUNNING"  # nobody waited for it
    aws.clock.advance(600)
    described = sfn.describe_execution(executionArn=checked["execution_arn"])
    assert checked["status"] == described["status"] == "SUCCEEDED", (checked, described)
    assert checked["output"] == json.loads(described["output"]) and checked["output"]["drifted"] is True
    assert code == 3  # drift: nothing was provisioned
    described = sfn.describe_execution(executionArn=invalid["executionArn"])
    assert (refused["status"], refused["error"]) == (described["status"], described["error"]) == ("FAILED", "InvalidInput")
    assert refused["cause"] == readable_cause(described["cause"]) and "remediate" in refused["cause"]
    assert (shown["status"], shown["error"], shown["path"]["stopped_at"]) == ("FAILED", "InvalidInput", refused["path"]["stopped_at"])
    assert status_code == shown_code == 0


# -- where a run went, and what to do next -------------------------------------------------------


def _provisioning_path(definition: dict) -> list[str]:
    """The top-level states a successful provisioning run enters, read from the ASL."""
    path, name = [], definition["StartAt"]
    while True:
        state = definition["States"][name]
        path.append(name)
        if state["Type"] == "Succeed":
            return path
        chosen = [c["Next"] for c in state.get("Choices", []) if c.get("StringEquals") == "provision"]
        name = chosen[0] if chosen else state["Next"]


def _piped(aws, config_path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_deploy_py(aws, config_path, *args), cwd=REPO, capture_output=True, text=True, timeout=240)


def test_a_refused_concurrent_run_names_the_running_one_and_how_to_follow_it_and_status_shows_its_path(
    aws, deployed, config_path, clients, follow_until
):
    aws.set_create_latency(600)  # the first run waits in CREATING until the clock moves
    sfn = clients.stepfunctions
    first = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    # Past its own check for a concurrent run: started at once, each would refuse the other.
    follow_until(first, lambda line: line.startswith("table ") and ": created" in line, "creating a table")

    second = _piped(aws, config_path, "run", "provision")

    assert second.returncode == 1
    assert f"Next: wait for {first} to finish: python deploy.py status {first} --follow" in second.stderr, second.stderr
    aws.clock.advance(aws.consistency.seconds)  # ListExecutions is eventually consistent: read it after the lag
    refused = sfn.list_executions(stateMachineArn=deployed.state_machine_arn, statusFilter="FAILED")["executions"]
    assert sfn.describe_execution(executionArn=refused[0]["executionArn"])["error"] == "ConcurrentRun"

    still_running = _piped(aws, config_path, "status", first)
    assert still_running.returncode == 0, still_running.stderr
    expected = _provisioning_path(json.loads(ASL_PATH.read_text()))
    assert f"Still running, now at {expected[2]}." in still_running.stdout, still_running.stdout
    assert f"status {first} --follow" in still_running.stdout

    aws.clock.advance(600)
    followed = _piped(aws, config_path, "status", first, "--follow")

    assert followed.returncode == 0, followed.stderr
    path = followed.stdout[followed.stdout.index("Path of"):]
    order = [re.search(r"^\s+[\d.]+ s  (\w+)", line).group(1) for line in path.splitlines() if re.match(r"^\s+[\d.]+ s  \w", line)]
    assert order == expected
    assert re.search(rf"{expected[1]}\s+Choice\s+[\d.]+ s  chose {expected[2]}", path), path
    assert re.search(r"\b5 iteration\(s\)", path), path  # the Map over the five tables, summarised
    assert re.search(r"- CreateOrAdoptTable x5 \(longest [\d.]+ s\)", path), path
    assert f"Stopped at {expected[-1]}: succeeded." in path and "Verification passed" in path
    aws.clock.advance(aws.consistency.seconds)  # DescribeExecution is eventually consistent: read it after the lag
    assert sfn.describe_execution(executionArn=first)["status"] == "SUCCEEDED"
    _provisioned_as_the_spec_says(clients)


def test_status_of_a_rolled_back_run_shows_the_failed_step_the_catch_and_where_it_stopped(aws, deployed, config_path, clients):
    aws.set_faults(["iam:CreateRole=AccessDenied"])
    failed = _piped(aws, config_path, "run", "provision", "--json")
    assert failed.returncode == 1
    arn = json.loads(failed.stdout)["execution_arn"]

    shown = _piped(aws, config_path, "status", arn, "--json")

    assert shown.returncode == 0, shown.stderr
    path = json.loads(shown.stdout)["path"]
    failing, rollback, end = path["steps"][-3:]
    assert (rollback["state"], end["state"]) == ("RollbackOnFailure", "ProvisionFailed")
    assert failing["outcome"] == "failed (AccessDenied), caught: went to RollbackOnFailure"
    # EnsureRole is the step that failed: a top-level state, or one inside the failing Parallel.
    ensure_role = failing if failing["state"] == "EnsureRole" else next(s for s in failing["inner"] if s["state"] == "EnsureRole")
    assert ensure_role["failed_attempts"] == {"AccessDenied": 1}
    assert rollback["outcome"] == "succeeded"
    assert (path["status"], path["stopped_at"], path["error"]) == ("FAILED", "ProvisionFailed", "AccessDenied")
    # What the path says happened did happen: the rollback deleted every table the run created.
    assert [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] == []
