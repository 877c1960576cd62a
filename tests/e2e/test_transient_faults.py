"""Transient AWS failures are retried by the state machine, as botocore's standard retry mode would retry them."""

from __future__ import annotations

import pytest

TABLES = sorted(
    ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]
)
ROLE = "FileFerryReadOnlyRole"


def _retried_errors(clients, execution_arn: str) -> list[str]:
    events = clients.stepfunctions.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]


@pytest.mark.chaos(0.03, seed=707)
def test_server_errors_and_iam_service_failures_are_retried_and_the_run_succeeds(aws, run, clients):
    aws.set_faults(
        [
            "dynamodb:CreateTable=InternalServerError*2",
            "dynamodb:DescribeTable=ServiceUnavailable*1",
            "iam:CreateRole=ServiceFailure*1",
            "iam:PutRolePolicy=ServiceUnavailable*1",
        ]
    )

    result = run({"action": "provision"})

    assert result.succeeded, f"{result.error}: {result.cause}"
    assert sorted(n for n in clients.dynamodb.list_tables()["TableNames"] if n.startswith("FileFerry-")) == TABLES
    assert clients.iam.get_role_policy(RoleName=ROLE, PolicyName="FileFerryReadOnlyPolicy")["PolicyDocument"]
    assert _retried_errors(clients, result.execution_arn).count("AwsUnavailable") >= 4


def test_a_step_that_runs_out_of_time_is_retried_and_the_run_succeeds(aws, run, clients):
    # Every step is idempotent (desired state, observed state, diff), so an attempt that ran out of time
    # (Sandbox.Timedout, Lambda's answer for a function past its timeout) is retried, not the run's end.
    aws.set_faults(["lambda:Invoke=Sandbox.Timedout*2"])

    result = run({"action": "provision"})

    assert result.succeeded and result.output["verified"] is True, f"{result.error}: {result.cause}"
    assert sorted(n for n in clients.dynamodb.list_tables()["TableNames"] if n.startswith("FileFerry-")) == TABLES
    retried = _retried_errors(clients, result.execution_arn)
    assert retried.count("Sandbox.Timedout") == 2
