"""Plan, re-runs and concurrency: read-only planning, retries through throttling, one mutating run at a time."""

from __future__ import annotations

import json

import pytest

from provisioner import runs

TABLES = ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]


class _Reached(Exception):
    pass


def _follow_until_a_table_is_created(factory, execution_arn):
    """Follow the run until it has created a table: it is past its own ConcurrentRun check."""
    seen: list[str] = []

    def on_progress(line: str) -> None:
        seen.append(line)
        if line.startswith("table ") and ": created" in line:
            raise _Reached()

    try:
        ended = runs.Follower(factory.clients().stepfunctions, on_progress, poll_seconds=0.1).follow(execution_arn)
    except _Reached:
        return
    pytest.fail(f"the run ended {ended.status} ({ended.error}) before creating a table; progress: {seen}")


def _task_errors(sfn, execution_arn) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in runs.history(sfn, execution_arn) if e["type"] == "TaskFailed"]


def _plan(cli) -> tuple[int, dict[str, str]]:
    code, out = cli("--json", "plan")
    return code, {row["resource"]: row["action"] for row in json.loads(out)}


def test_a_throttled_run_retries_to_success_while_competing_runs_are_refused_and_plan_then_shows_no_change(
    aws, cli, factory, deployed, run, clients
):
    code, planned = _plan(cli)
    assert code == 3
    assert planned == {**{f"table/{name}": "create" for name in TABLES}, "role/FileFerryReadOnlyRole": "create"}
    assert clients.dynamodb.list_tables()["TableNames"] == []  # plan is read-only

    aws.set_create_latency(3)  # the run stays busy long enough to be competed with
    # Six of each, because a handler's boto3 client may itself retry a call once: however the five
    # tables' calls interleave, some task attempts fail with each error and none runs out of retries.
    aws.set_faults(["dynamodb:CreateTable=ThrottlingException*6", "dynamodb:CreateTable=LimitExceededException*6"])
    sfn = clients.stepfunctions
    first = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    _follow_until_a_table_is_created(factory, first)

    second = run({"action": "provision"})
    teardown = run({"action": "teardown", "confirm": "fileferry-provisioner"})

    for refused in (second, teardown):
        assert (refused.status, refused.error) == ("FAILED", "ConcurrentRun")
        assert first.split(":")[-1] in refused.cause
    finished = runs.Follower(sfn, poll_seconds=0.2).follow(first)
    assert finished.succeeded, finished.cause
    errors = _task_errors(sfn, first)
    assert "Throttled" in errors and "LimitExceeded" in errors  # retried by the state machine, then succeeded
    assert sorted(clients.dynamodb.list_tables()["TableNames"]) == sorted(TABLES)

    code, planned = _plan(cli)
    assert code == 0
    assert set(planned.values()) == {"adopt"}
