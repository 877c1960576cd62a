"""Plan, re-runs and concurrency: read-only planning, retries through throttling, one mutating run at a time."""

from __future__ import annotations

import json


from provisioner.runs import executions as runs

TABLES = ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]


def _task_errors(sfn, execution_arn) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in runs.history(sfn, execution_arn) if e["type"] == "TaskFailed"]


def _plan(cli) -> tuple[int, dict[str, str]]:
    code, out = cli("--json", "plan")
    return code, {row["resource"]: row["action"] for row in json.loads(out)}


def test_a_throttled_run_retries_to_success_while_competing_runs_are_refused_and_plan_then_shows_no_change(
    aws, cli, factory, deployed, run, clients, follow_until
):
    code, planned = _plan(cli)
    assert code == 3
    assert planned == {**{f"table/{name}": "create" for name in TABLES}, "role/FileFerryReadOnlyRole": "create"}
    assert [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] == []  # plan is read-only

    aws.set_create_latency(3)  # the run stays busy long enough to be competed with
    # Six of each, because a handler's boto3 client may itself retry a call once: however the five
    # tables' calls interleave, some task attempts fail with each error and none runs out of retries.
    aws.set_faults(["dynamodb:CreateTable=ThrottlingException*6", "dynamodb:CreateTable=LimitExceededException*6"])
    sfn = clients.stepfunctions
    first = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    follow_until(first, lambda line: line.startswith("table ") and ": created" in line, "creating a table")

    second = run({"action": "provision"})
    teardown = run({"action": "teardown", "confirm": "fileferry-provisioner"})

    for refused in (second, teardown):
        assert (refused.status, refused.error) == ("FAILED", "ConcurrentRun")
        assert first.split(":")[-1] in refused.cause
    finished = runs.Follower(sfn, poll_seconds=0.2).follow(first)
    assert finished.succeeded, finished.cause
    errors = _task_errors(sfn, first)
    assert "Throttled" in errors and "LimitExceeded" in errors  # retried by the state machine, then succeeded
    assert sorted([name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")]) == sorted(TABLES)

    code, planned = _plan(cli)
    assert code == 0
    assert set(planned.values()) == {"adopt"}
