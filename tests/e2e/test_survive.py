"""The workflow on an AWS as strict as documented: reads that lag writes, TTL's hour rule, slow backups,
a rollback that fails, execution names that are not valid tag values. Read back with boto3."""

from __future__ import annotations

import json

import pytest
import yaml

from lambdas.core.desired import CREATED_BY_TAG, created_by_value
from lambdas.core.errors import NotYetVisible
from lambdas.core.rollback import delete_role
from provisioner.runs import executions as runs
from provisioner.config import resolve
from provisioner.factory import CLIFactory

TABLES = sorted(
    ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]
)
ROLE, POLICY = "FileFerryReadOnlyRole", "FileFerryReadOnlyPolicy"
PRE_EXISTING = "FileFerry-UserContext"
SESSIONS = "FileFerry-ActiveSessions"


def _tables(clients) -> list[str]:
    return sorted(name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-"))


def _role_exists(clients) -> bool:
    return ROLE in [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]


def _items(clients, table: str) -> list[dict]:
    items = []
    for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return sorted(items, key=json.dumps)


def _history_errors(clients, execution_arn: str) -> list[str]:
    return [
        event["taskFailedEventDetails"].get("error")
        for event in runs.history(clients.stepfunctions, execution_arn)
        if event["type"] == "TaskFailed"
    ]


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
    items = [{"user_id": {"S": f"user-{n}"}, "note": {"S": f"kept {n}"}} for n in range(5)]
    for item in items:
        clients.dynamodb.put_item(TableName=PRE_EXISTING, Item=item)
    return sorted(items, key=json.dumps)


@pytest.fixture
def lag(aws):
    """Reads lag writes by this many seconds (worst case: every read in the window is stale)."""
    aws.set_consistency_lag(3)
    yield 3
    aws.set_consistency_lag(0)


def test_provisioning_under_read_lag_waits_for_what_it_wrote_and_verifies(aws, lag, run, clients):
    # DescribeTable answers ResourceNotFound right after CreateTable, and GetRole answers NoSuchEntity
    # right after CreateRole: neither is a conflict or a failed verification, only a read to repeat.
    result = run({"action": "provision"})

    assert result.succeeded, f"{result.error}: {result.cause}"
    assert result.output["verified"] is True
    assert _tables(clients) == TABLES
    assert clients.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]


def test_a_failure_while_tables_are_creating_under_read_lag_deletes_every_table_the_run_created(
    aws, lag, run, clients, user_context_with_items
):
    # The tags of a just-created table are not readable yet, and DescribeTable may not show it: the
    # rollback's ledger is the run's history, and it waits for tables still CREATING.
    aws.set_create_latency(4)
    aws.set_faults(["dynamodb:CreateTable=AccessDeniedException*1"])

    result = run({"action": "provision"})

    assert (result.status, result.error) == ("FAILED", "AccessDenied")
    assert "rollback: deleted table/" in result.cause
    assert _tables(clients) == [PRE_EXISTING]
    assert _items(clients, PRE_EXISTING) == user_context_with_items
    assert not _role_exists(clients)


def _rollback_started_by_the_rule(aws, sfn, state_machine_arn, aborted_arn):
    aws.clock.advance(aws.consistency.seconds)  # ListExecutions lists a run started moments ago only after the lag
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
        started_with = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        if started_with == {"action": "rollback", "execution_arn": aborted_arn}:
            return execution["executionArn"]
    return None


def test_the_rule_started_rollback_of_an_aborted_run_is_not_refused_by_its_own_lagging_target(
    aws, lag, deployed, clients, user_context_with_items, follow_until
):
    # ListExecutions still lists the just-stopped run as RUNNING for the lag: the rollback waits, not refuses.
    aws.set_faults(["iam:CreateRole=ThrottlingException"])
    sfn = clients.stepfunctions
    arn = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    follow_until(arn, lambda line: line.startswith("step failed: Throttled: CreateRole"), "EnsureRole was throttled")

    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by the test")

    rollback_arn = _rollback_started_by_the_rule(aws, sfn, deployed.state_machine_arn, arn)
    assert rollback_arn is not None
    rollback = runs.Follower(sfn, poll_seconds=0.2).follow(rollback_arn)
    assert rollback.succeeded, f"{rollback.error}: {rollback.cause}"
    assert "ConcurrentRun" not in _history_errors(clients, rollback_arn)
    assert _tables(clients) == [PRE_EXISTING]
    assert _items(clients, PRE_EXISTING) == user_context_with_items
    assert not _role_exists(clients)


TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}


def _role_names(clients) -> list[str]:
    return [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]


def _role_whose_policy_an_earlier_attempt_removed(aws, lag: float, iam) -> None:
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(READ))
    aws.clock.advance(lag)
    iam.delete_role_policy(RoleName=ROLE, PolicyName=POLICY)  # as an earlier attempt did, before it failed


def test_a_retried_role_deletion_deletes_the_role_though_the_policy_list_still_shows_a_removed_policy(aws, lag, clients):
    iam = clients.iam
    _role_whose_policy_an_earlier_attempt_removed(aws, lag, iam)

    assert delete_role(iam, ROLE) is True

    aws.clock.advance(lag)
    assert ROLE not in _role_names(clients)


def test_a_role_deletion_that_meets_a_policy_not_listed_yet_is_retried_and_then_deletes_the_role(aws, lag, clients):
    iam = clients.iam
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    aws.clock.advance(lag)
    iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(READ))

    with pytest.raises(NotYetVisible):  # retried by the state machine
        delete_role(iam, ROLE)
    assert ROLE in _role_names(clients)
    aws.clock.advance(lag)
    assert delete_role(iam, ROLE) is True

    aws.clock.advance(lag)
    assert ROLE not in _role_names(clients)


def test_a_role_deletion_whose_policy_list_lags_the_policy_read_deletes_the_role(aws, lag, clients):
    # IAM's reads are each eventually consistent, not consistent with one another: ListRolePolicies can
    # still show a policy that GetRolePolicy already answers NoSuchEntity for. That is a policy gone,
    # not a role gone.
    iam = clients.iam
    _role_whose_policy_an_earlier_attempt_removed(aws, lag, iam)
    aws.clock.advance(lag * 0.75)
    iam.put_role_policy(RoleName=ROLE, PolicyName="Added", PolicyDocument=json.dumps(READ))  # the list changes again
    aws.clock.advance(lag * 0.5)
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == [POLICY]  # the list lags; the removed policy's read does not

    with pytest.raises(NotYetVisible):  # DeleteRole: the policy not listed yet is still there; retried
        delete_role(iam, ROLE)
    aws.clock.advance(lag)
    assert delete_role(iam, ROLE) is True

    aws.clock.advance(lag)
    assert ROLE not in _role_names(clients)


def test_a_rollback_that_fails_itself_keeps_the_original_error_and_says_what_may_be_left(aws, run, clients):
    # CreateRole is refused for good (the run fails and rolls back); the rollback's own GetRole then
    # fails with an error nothing retries.
    aws.set_faults(["iam:CreateRole=AccessDenied", "iam:GetRole=InvalidInput"])

    result = run({"action": "provision"})

    assert (result.status, result.error) == ("FAILED", "AccessDenied")
    assert "CreateRole" in result.cause and "ROLLBACK FAILED" in result.cause
    assert result.execution_arn in result.cause  # how to finish the job
    aws.set_faults([])
    finished = run({"action": "rollback", "execution_arn": result.execution_arn})
    assert finished.succeeded, f"{finished.error}: {finished.cause}"
    assert _tables(clients) == [] and not _role_exists(clients)
    # The failed rollback had deleted tables before it failed: DescribeTable cannot tell those from
    # tables not visible yet, DeleteTable can, so nothing is waited for.
    assert "CreationInFlight" not in _history_errors(clients, finished.execution_arn)


def test_a_ttl_change_refused_by_the_hour_rule_is_reported_with_when_it_becomes_possible_and_nothing_is_rolled_back(
    aws, run, clients, factory
):
    # Someone turned TTL off on the sessions table a moment ago: AWS allows the next change an hour later.
    clients.dynamodb.create_table(
        TableName=SESSIONS,
        AttributeDefinitions=[{"AttributeName": "session_token", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "session_token", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    clients.dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    aws.clock.advance(3600)
    clients.dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"})

    result = run({"action": "provision"})

    assert result.succeeded, f"{result.error}: {result.cause}"
    assert result.output["verified"] is False
    (deferred,) = result.output["deferred"]
    assert deferred["resource"] == f"table/{SESSIONS}" and deferred["property"] == "ttl" and deferred["possible_by"]
    assert _tables(clients) == TABLES and _role_exists(clients)  # the rest stays
    assert clients.dynamodb.describe_time_to_live(TableName=SESSIONS)["TimeToLiveDescription"]["TimeToLiveStatus"] in ("DISABLING", "DISABLED")

    aws.clock.advance(3600)
    again = run({"action": "provision"})

    assert again.succeeded and again.output["verified"] is True, f"{again.error}: {again.cause}"
    assert clients.dynamodb.describe_time_to_live(TableName=SESSIONS)["TimeToLiveDescription"]["TimeToLiveStatus"] in ("ENABLING", "ENABLED")


def test_an_execution_name_that_is_no_valid_tag_value_still_provisions_and_rolls_back(deployed, clients, run):
    name = "import(1)!'x'@night"
    arn = clients.stepfunctions.start_execution(stateMachineArn=deployed.state_machine_arn, name=name, input="{}")["executionArn"]
    provisioned = runs.Follower(clients.stepfunctions, poll_seconds=0.2).follow(arn)
    assert provisioned.succeeded, f"{provisioned.error}: {provisioned.cause}"
    table_arn = clients.dynamodb.describe_table(TableName=SESSIONS)["Table"]["TableArn"]
    tags = {tag["Key"]: tag["Value"] for tag in clients.dynamodb.list_tags_of_resource(ResourceArn=table_arn)["Tags"]}
    assert tags[CREATED_BY_TAG] == created_by_value(name) and tags[CREATED_BY_TAG].startswith("import_1___x__night=")

    rolled_back = run({"action": "rollback", "execution_arn": arn})

    assert rolled_back.succeeded, f"{rolled_back.error}: {rolled_back.cause}"
    assert _tables(clients) == [] and not _role_exists(clients)


# -- teardown and slow backups ---------------------------------------------------------------------


@pytest.fixture
def slow_backups(aws):
    aws.configure(backup_latency=600)
    yield
    aws.configure(backup_latency=2)


def _teardown_factory(aws, tmp_path, backup_wait_seconds: int) -> CLIFactory:
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["provisioner"]["backup_wait_seconds"] = backup_wait_seconds
    path = tmp_path / "teardown-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return CLIFactory(resolve(path, endpoint_url=aws.endpoint_url), local=True)


def _provisioned_with_items(run, clients) -> list[dict]:
    assert run({"action": "provision"}).succeeded
    items = [{"user_id": {"S": f"user-{n}"}} for n in range(3)]
    for item in items:
        clients.dynamodb.put_item(TableName=PRE_EXISTING, Item=item)
    return sorted(items, key=json.dumps)


def test_teardown_waits_for_a_slow_backup_and_deletes_the_table_only_once_it_is_available(
    aws, slow_backups, run, clients, deployed, follow_until
):
    items = _provisioned_with_items(run, clients)
    arn = runs.start(clients.stepfunctions, deployed.state_machine_arn, {"action": "teardown", "confirm": "fileferry-provisioner", "lift_deletion_protection": True})
    follow_until(arn, lambda line: "waiting for the backup" in line, "teardown waited for the backup")
    assert PRE_EXISTING in _tables(clients)  # not deleted while its backup is CREATING

    aws.clock.advance(600)  # the backup becomes AVAILABLE
    result = runs.Follower(clients.stepfunctions, poll_seconds=0.2).follow(arn)

    assert result.succeeded, f"{result.error}: {result.cause}"
    assert _tables(clients) == [] and not _role_exists(clients)
    (backup,) = clients.dynamodb.list_backups(TableName=PRE_EXISTING)["BackupSummaries"]
    assert backup["BackupStatus"] == "AVAILABLE"
    clients.dynamodb.restore_table_from_backup(TargetTableName="FileFerry-Restored", BackupArn=backup["BackupArn"])
    assert _items(clients, "FileFerry-Restored") == items


def test_teardown_that_gives_up_on_a_backup_keeps_the_table_finishes_the_rest_and_names_what_is_left(
    aws, slow_backups, run, clients, deployed, tmp_path, config_path
):
    items = _provisioned_with_items(run, clients)
    impatient = _teardown_factory(aws, tmp_path, backup_wait_seconds=10)
    impatient.deployer().deploy()  # the same orchestrator, with a 10-second backup wait

    sfn = clients.stepfunctions
    arn = runs.start(sfn, deployed.state_machine_arn, {"action": "teardown", "confirm": "fileferry-provisioner", "lift_deletion_protection": True})
    result = runs.Follower(sfn, poll_seconds=0.2).follow(arn)

    assert (result.status, result.error) == ("FAILED", "TeardownIncomplete")
    assert f"table {PRE_EXISTING} is kept" in result.cause
    assert _tables(clients) == [PRE_EXISTING]  # every other table, and the role, are gone
    assert not _role_exists(clients)
    assert _items(clients, PRE_EXISTING) == items
    (backup,) = clients.dynamodb.list_backups(TableName=PRE_EXISTING)["BackupSummaries"]
    assert backup["BackupArn"] in result.cause
