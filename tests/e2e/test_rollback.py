"""Rollback: a failed, aborted or undone provisioning run leaves no trace, and never loses data."""

from __future__ import annotations

import json
import time

import pytest

from lambdas.core.diff import canonical_statements
from provisioner.runs import executions as runs
from provisioner.blueprint.desired_state import desired_state

TABLES = ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]
ROLE, POLICY = "FileFerryReadOnlyRole", "FileFerryReadOnlyPolicy"
PRE_EXISTING = "FileFerry-UserContext"


def _existing_tables(clients) -> list[str]:
    return sorted(name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-"))


def _role_exists(clients) -> bool:
    return ROLE in [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]


def _all_items(clients, table):
    items = []
    for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return sorted(items, key=lambda item: item["user_id"]["S"])


@pytest.fixture
def user_context_with_items(clients):
    """FileFerry-UserContext as someone created it before any run (matching the spec), holding data."""
    clients.dynamodb.create_table(
        TableName=PRE_EXISTING,
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    items = [{"user_id": {"S": f"user-{n}"}, "preferences": {"M": {"lang": {"S": "en"}}}} for n in range(5)]
    for item in items:
        clients.dynamodb.put_item(TableName=PRE_EXISTING, Item=item)
    return sorted(items, key=lambda item: item["user_id"]["S"])


@pytest.fixture
def role_with_an_old_policy(clients, factory):
    """The read-only role as someone made it by hand: the right trust policy, an older inline policy."""
    desired = desired_state(factory.settings)
    clients.iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(desired.role.trust_policy), MaxSessionDuration=3600)
    old_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    clients.iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(old_policy))
    return old_policy


def _inline_policy(clients):
    document = clients.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]
    return canonical_statements(document)


@pytest.mark.chaos(0.03, seed=404)
def test_access_denied_on_the_role_rolls_back_the_tables_the_run_created_and_keeps_a_table_with_data(
    aws, run, clients, user_context_with_items
):
    aws.set_faults(["iam:CreateRole=AccessDenied"])

    result = run({"action": "provision"})

    assert result.status == "FAILED"
    assert result.error == "AccessDenied"
    assert "CreateRole" in result.cause and "rollback: deleted" in result.cause
    assert _existing_tables(clients) == [PRE_EXISTING]
    assert _all_items(clients, PRE_EXISTING) == user_context_with_items
    assert not _role_exists(clients)


@pytest.mark.chaos(0.03, seed=505)
def test_rollback_run_undoes_an_earlier_run_restoring_the_role_it_updated_and_keeping_tables_it_adopted(
    aws, run, clients, user_context_with_items, role_with_an_old_policy
):
    provisioned = run({"action": "provision"})
    assert provisioned.succeeded, provisioned.cause
    assert _inline_policy(clients) != canonical_statements(role_with_an_old_policy)  # the run replaced it

    rolled_back = run({"action": "rollback", "execution_arn": provisioned.execution_arn})

    assert rolled_back.succeeded, rolled_back.cause
    aws.clock.advance(aws.consistency.seconds)  # IAM reads are eventually consistent: read back after the lag
    assert _existing_tables(clients) == [PRE_EXISTING]
    assert _all_items(clients, PRE_EXISTING) == user_context_with_items
    assert _role_exists(clients)
    assert _inline_policy(clients) == canonical_statements(role_with_an_old_policy)


def _status_once_ended(sfn, execution_arn, within_seconds=30.0):
    """The execution's status once DescribeExecution stops saying RUNNING (bounded wait)."""
    deadline = time.monotonic() + within_seconds
    while (status := sfn.describe_execution(executionArn=execution_arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {within_seconds} s"
        time.sleep(0.2)
    return status


def _rollback_started_by_the_rule(aws, sfn, state_machine_arn, aborted_arn):
    aws.clock.advance(aws.consistency.seconds)  # ListExecutions lists a run started moments ago only after the lag
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
        started_with = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        if started_with == {"action": "rollback", "execution_arn": aborted_arn}:
            return execution["executionArn"]
    return None


@pytest.mark.chaos(0.03, seed=606)
def test_an_aborted_provisioning_run_is_rolled_back_by_the_rule_started_run(
    aws, factory, deployed, clients, user_context_with_items, follow_until
):
    # CreateRole keeps failing: the run sits in EnsureRole's retry back-off while the tables are made.
    aws.set_faults(["iam:CreateRole=ThrottlingException"])
    sfn = clients.stepfunctions
    arn = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    seen: set[str] = set()

    def throttled_and_every_table_done(line: str) -> bool:
        if line.startswith("step failed: Throttled: CreateRole"):
            seen.add("throttled")
        elif line.startswith("table ") and "TTL" in line:  # "TTL turned on", "no TTL (permanent table)", ...
            seen.add(line.split(":")[0])
        return len(seen) == 1 + len(TABLES)

    follow_until(arn, throttled_and_every_table_done, "EnsureRole was throttled and every table was ready")
    assert _existing_tables(clients) == sorted(TABLES)

    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by the test")

    # DescribeExecution is eventually consistent (API reference): it may say RUNNING for a moment.
    assert _status_once_ended(sfn, arn) == "ABORTED"
    rollback_arn = _rollback_started_by_the_rule(aws, sfn, deployed.state_machine_arn, arn)
    assert rollback_arn is not None
    rollback = runs.Follower(sfn, poll_seconds=0.2).follow(rollback_arn)
    assert rollback.succeeded, rollback.cause
    assert _existing_tables(clients) == [PRE_EXISTING]
    assert _all_items(clients, PRE_EXISTING) == user_context_with_items


def test_a_failure_while_tables_are_creating_waits_for_them_then_deletes_them(aws, run, clients):
    # The first CreateTable is refused for good; the other iterations' tables are still CREATING
    # when the Map fails, and DeleteTable refuses a CREATING table: the rollback has to wait.
    # Long enough that the Map's failure reaches the rollback before any table is ACTIVE, even on a
    # loaded machine.
    aws.set_create_latency(8)
    aws.set_faults(["dynamodb:CreateTable=AccessDeniedException*1"])
    result = run({"action": "provision"})
    assert result.status == "FAILED"
    assert result.error == "AccessDenied"
    assert "rollback: deleted" in result.cause
    history = clients.stepfunctions.get_execution_history(executionArn=result.execution_arn, maxResults=1000)["events"]
    waited = [e for e in history if e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["error"] == "TableNotActive"]
    assert waited, "the rollback never met a CREATING table"
    assert _existing_tables(clients) == []
    assert not _role_exists(clients)
