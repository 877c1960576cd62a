"""Convergence on a strict embedded AWS: reads lag writes by seconds and a few percent of calls fail at random.

Whatever the seed, provisioning, re-running, remediating drift, rolling back a failed or an aborted run and
tearing down all end where they should, no item of a pre-existing table is lost, and nothing a run created
outlives its rollback. Each test is a few runs, read back with boto3.

The suite runs each test with one fixed seed. A fault campaign runs them for many, one process at a time:

    FILEFERRY_CONVERGENCE_SEEDS=1,2,3 FILEFERRY_CONVERGENCE_LAG=3 FILEFERRY_CONVERGENCE_CHAOS=0.05 \
        python -m pytest tests/e2e/test_convergence.py -n 0 -p no:randomly

(seeds: comma-separated whole numbers, each test once per seed; lag in seconds; chaos a rate from 0 to 1).
"""

from __future__ import annotations

import json
import os

import pytest

from lambdas.core.diff import canonical_statements
from provisioner.runs import executions as runs
from provisioner.blueprint.desired_state import desired_state

TABLES = sorted(
    ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]
)
ROLE, POLICY = "FileFerryReadOnlyRole", "FileFerryReadOnlyPolicy"
PRE_EXISTING = "FileFerry-UserContext"
CACHE = "FileFerry-S3FileCache"
LAG_SECONDS = float(os.environ.get("FILEFERRY_CONVERGENCE_LAG", "2"))
CHAOS_RATE = float(os.environ.get("FILEFERRY_CONVERGENCE_CHAOS", "0.03"))


def _seeds(default: int) -> list[int]:
    """The suite's fixed seed, or the campaign's (FILEFERRY_CONVERGENCE_SEEDS)."""
    campaign = os.environ.get("FILEFERRY_CONVERGENCE_SEEDS", "").strip()
    return [int(seed) for seed in campaign.split(",")] if campaign else [default]


def _tables(clients) -> list[str]:
    return sorted(name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-"))


def _role_exists(clients) -> bool:
    return ROLE in [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]


def _items(clients, table: str) -> list[dict]:
    items = []
    for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return sorted(items, key=json.dumps)


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
    items = [{"user_id": {"S": f"user-{n}"}, "note": {"S": f"kept {n}"}} for n in range(8)]
    for item in items:
        clients.dynamodb.put_item(TableName=PRE_EXISTING, Item=item)
    return sorted(items, key=json.dumps)


@pytest.fixture
def strict(request, aws, deployed):
    """The deployed orchestrator on an AWS whose reads lag and whose calls fail at random (seeded)."""
    aws.set_consistency_lag(LAG_SECONDS)
    aws.set_chaos(CHAOS_RATE, request.param)
    yield request.param
    aws.set_chaos(0.0)
    aws.set_consistency_lag(0)


def _ok(result) -> None:
    assert result.succeeded, f"{result.status} {result.error}: {result.cause}"


@pytest.mark.parametrize("strict", _seeds(11), indirect=True)  # one seed per test keeps the suite cheap; another test, another seed
def test_provision_rerun_remediate_and_teardown_converge(strict, aws, run, clients, factory, user_context_with_items):
    desired = desired_state(factory.settings)

    first = run({"action": "provision"})
    _ok(first)
    assert first.output["verified"] is True and _tables(clients) == TABLES

    rerun = run({"action": "provision"})
    _ok(rerun)
    assert {table["outcome"] for table in rerun.output["tables"]} == {"adopted"}

    clients.dynamodb.delete_table(TableName=CACHE)
    clients.iam.put_role_policy(
        RoleName=ROLE,
        PolicyName=POLICY,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
    )
    aws.clock.advance(LAG_SECONDS)  # drift is found a while after it is made, not within the read lag
    remediated = run({"action": "drift-check", "remediate": True})
    _ok(remediated)
    assert _tables(clients) == TABLES
    aws.clock.advance(LAG_SECONDS)  # let the reads of this check catch up
    document = clients.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]
    assert canonical_statements(document) == canonical_statements(desired.role.inline_policy)
    assert _items(clients, PRE_EXISTING) == user_context_with_items

    # Tables that hold records are deletion-protected (adopted ones too): a teardown keeps them, items and all.
    protected = sorted(["FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning"])
    kept = run({"action": "teardown", "confirm": "fileferry-provisioner"})
    _ok(kept)
    assert _tables(clients) == protected and not _role_exists(clients)
    assert sorted(entry["table"] for entry in kept.output["kept"]) == protected
    assert _items(clients, PRE_EXISTING) == user_context_with_items
    torn_down = run({"action": "teardown", "confirm": "fileferry-provisioner", "lift_deletion_protection": True})
    _ok(torn_down)
    assert _tables(clients) == [] and not _role_exists(clients)
    (backup,) = clients.dynamodb.list_backups(TableName=PRE_EXISTING)["BackupSummaries"]
    clients.dynamodb.restore_table_from_backup(TargetTableName="FileFerry-Restored", BackupArn=backup["BackupArn"])
    assert _items(clients, "FileFerry-Restored") == user_context_with_items


def _rollback_started_by_the_rule(aws, sfn, state_machine_arn, aborted_arn):
    aws.clock.advance(aws.consistency.seconds)  # ListExecutions lists a run started moments ago only after the lag
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
        started_with = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        if started_with == {"action": "rollback", "execution_arn": aborted_arn}:
            return execution["executionArn"]
    return None


@pytest.mark.parametrize("strict", _seeds(29), indirect=True)
def test_a_failed_run_and_an_aborted_run_are_rolled_back_completely(
    strict, aws, run, clients, deployed, user_context_with_items, follow_until
):
    aws.set_faults(["iam:CreateRole=AccessDenied"])
    failed = run({"action": "provision"})
    assert (failed.status, failed.error) == ("FAILED", "AccessDenied"), failed.cause
    assert "ROLLBACK FAILED" not in failed.cause
    assert _tables(clients) == [PRE_EXISTING] and not _role_exists(clients)
    assert _items(clients, PRE_EXISTING) == user_context_with_items

    aws.clock.advance(LAG_SECONDS)  # the next run starts after the reads have caught up with the rollback
    aws.set_faults(["iam:CreateRole=ThrottlingException"])
    sfn = clients.stepfunctions
    arn = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    follow_until(arn, lambda line: line.startswith("step failed: Throttled: CreateRole"), "EnsureRole was throttled")
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by the test")
    rollback_arn = _rollback_started_by_the_rule(aws, sfn, deployed.state_machine_arn, arn)
    assert rollback_arn is not None
    _ok(runs.Follower(sfn, poll_seconds=0.2).follow(rollback_arn))
    assert _tables(clients) == [PRE_EXISTING] and not _role_exists(clients)
    assert _items(clients, PRE_EXISTING) == user_context_with_items
