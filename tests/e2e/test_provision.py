"""Provisioning runs: the spec's tables and role, created, verified, re-run."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG
from lambdas.core.steps import STEPS
from lambdas.core.diff import canonical_statements
from provisioner.blueprint.desired_state import desired_state

TTL_TABLES = {"FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-S3FileCache"}


def _table(clients, name):
    return clients.dynamodb.describe_table(TableName=name)["Table"]


def _tags(clients, arn):
    return {t["Key"]: t["Value"] for t in clients.dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


@pytest.mark.chaos(0.03, seed=101)
def test_up_provisions_the_spec_and_rerun_adopts(aws, cli, clients, factory):
    aws.set_create_latency(1.5)  # tables stay CREATING: the poll loop must really wait
    code, out = cli("up")
    assert code == 0, out

    names = [n for n in [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] if n.startswith("FileFerry-")]
    assert sorted(names) == sorted(
        ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]
    )
    for name in names:
        table = _table(clients, name)
        assert table["TableStatus"] == "ACTIVE"
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["SSEDescription"]["SSEType"] == "KMS"
        ttl = clients.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if name in TTL_TABLES:
            # ENABLING, then ENABLED (UpdateTimeToLive API reference): the run may end while it is ENABLING.
            assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) in (("ENABLING", "ttl"), ("ENABLED", "ttl"))
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"
        tags = _tags(clients, table["TableArn"])
        assert tags[MANAGED_BY_TAG] == "fileferry-provisioner" and tags[CREATED_BY_TAG].startswith("provision-")

    learning = _table(clients, "FileFerry-AgentLearning")
    assert {(k["AttributeName"], k["KeyType"]) for k in learning["KeySchema"]} == {
        ("transfer_type", "HASH"),
        ("size_category", "RANGE"),
    }
    requests = _table(clients, "FileFerry-TransferRequests")
    (index,) = requests["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "UserIdIndex"
    assert [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [("user_id", "HASH"), ("created_at", "RANGE")]

    desired = desired_state(factory.settings)
    role = clients.iam.get_role(RoleName="FileFerryReadOnlyRole")["Role"]
    assert canonical_statements(role["AssumeRolePolicyDocument"]) == canonical_statements(desired.role.trust_policy)
    assert role["MaxSessionDuration"] == 3600
    policy = clients.iam.get_role_policy(RoleName="FileFerryReadOnlyRole", PolicyName="FileFerryReadOnlyPolicy")
    assert canonical_statements(policy["PolicyDocument"]) == canonical_statements(desired.role.inline_policy)

    created_at = {name: _table(clients, name)["CreationDateTime"] for name in names}
    first_run_tags = {name: _tags(clients, _table(clients, name)["TableArn"]) for name in names}
    code, out = cli("up")
    assert code == 0, out
    assert {name: _table(clients, name)["CreationDateTime"] for name in names} == created_at
    assert {name: _tags(clients, _table(clients, name)["TableArn"]) for name in names} == first_run_tags
    assert "adopted" in out


def test_deploy_twice_is_idempotent(factory, clients):
    first = factory.deployer().deploy()
    second = factory.deployer().deploy()
    assert second.state_machine_arn == first.state_machine_arn
    assert second.changed == []
    functions = [f["FunctionName"] for f in clients.lambda_.list_functions()["Functions"]]
    assert len([f for f in functions if f.startswith("fileferry-provisioner-")]) == len(STEPS)


def test_deploy_removes_the_functions_and_roles_of_retired_steps(aws, factory, clients):
    # As an earlier version deployed them: the poll step, whose work await-table now does.
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    # Named without a Region, tagged, its policy on this Region's tables and its own log group.
    role = clients.iam.create_role(RoleName="fileferry-provisioner-describe-table-fn", AssumeRolePolicyDocument=json.dumps(trust),
                                   Tags=[{"Key": "fileferry:managed-by", "Value": "fileferry-provisioner"}])["Role"]
    arn = "arn:aws:{}:us-east-1:123456789012:{}"
    clients.iam.put_role_policy(RoleName=role["RoleName"], PolicyName="least-privilege", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:DescribeTable", "Resource": arn.format("dynamodb", "table/FileFerry-ActiveSessions")},
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": arn.format("logs", "log-group:/aws/lambda/fileferry-provisioner-describe-table:*")}]}))
    aws.clock.advance(aws.consistency.seconds)  # that deploy waited until Lambda could assume the new role
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("old.py", "def handler(event, context):\n    return {}\n")
    clients.lambda_.create_function(
        FunctionName="fileferry-provisioner-describe-table", Runtime="python3.12", Role=role["Arn"],
        Handler="old.handler", Code={"ZipFile": code.getvalue()},
    )

    factory.deployer().deploy()

    functions = [f["FunctionName"] for f in clients.lambda_.list_functions()["Functions"]]
    assert "fileferry-provisioner-describe-table" not in functions
    assert "fileferry-provisioner-await-table" in functions
    assert "fileferry-provisioner-describe-table-fn" not in [r["RoleName"] for r in clients.iam.list_roles()["Roles"]]


def test_unknown_action_fails_with_invalid_input_and_creates_nothing(run, clients):
    result = run({"action": "destroy-everything"})
    assert result.status == "FAILED"
    assert result.error == "InvalidInput"
    assert "action" in result.cause
    assert [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] == []
    assert "FileFerryReadOnlyRole" not in [r["RoleName"] for r in clients.iam.list_roles()["Roles"]]


def test_lambda_service_errors_are_retried_and_the_run_still_verifies(aws, run, clients):
    aws.set_faults(["lambda:Invoke=ServiceException*2"])
    result = run({})
    assert result.succeeded, result.cause
    sfn = clients.stepfunctions
    failures = [
        event["taskFailedEventDetails"]["error"]
        for event in sfn.get_execution_history(executionArn=result.execution_arn, maxResults=1000)["events"]
        if event["type"] == "TaskFailed"
    ]
    # Reads lag writes on the strict embedded AWS: a step may also wait out a read (NotYetVisible, retried),
    # and a poll may not see a new table yet, or see it CREATING (TableStillCreating: it looks again).
    assert [failure for failure in failures if failure.startswith("Lambda.")] == ["Lambda.ServiceException", "Lambda.ServiceException"]
    assert set(failures) <= {"Lambda.ServiceException", "NotYetVisible", "TableStillCreating"}
    assert clients.dynamodb.describe_table(TableName="FileFerry-S3FileCache")["Table"]["TableStatus"] == "ACTIVE"


def test_destroy_removes_the_orchestrator_and_keeps_the_tables_and_the_role(cli, run, clients):
    assert run({}).succeeded
    code, out = cli("destroy", "--yes")
    assert code == 0, out
    assert [f for f in clients.lambda_.list_functions()["Functions"] if f["FunctionName"].startswith("fileferry-provisioner-")] == []
    assert clients.stepfunctions.list_state_machines()["stateMachines"] == []
    roles = [r["RoleName"] for r in clients.iam.list_roles()["Roles"]]
    assert [r for r in roles if r.startswith("fileferry-provisioner-")] == []
    assert clients.events.list_rules(NamePrefix="fileferry-provisioner")["Rules"] == []
    assert "FileFerryReadOnlyRole" in roles
    assert len([n for n in [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] if n.startswith("FileFerry-")]) == 5


def _states_entered(clients, execution_arn, name):
    history = clients.stepfunctions.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e for e in history if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == name]


def test_a_rerun_adopts_active_tables_without_waiting_for_them(aws, run, clients):
    aws.set_create_latency(1)
    first = run({"action": "provision"})
    second = run({"action": "provision"})

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert len(_states_entered(clients, first.execution_arn, "PollTable")) == 5  # new tables are polled
    assert _states_entered(clients, second.execution_arn, "PollTable") == []
    assert len(_states_entered(clients, second.execution_arn, "EnsureTtl")) == 5  # TTL is still checked
