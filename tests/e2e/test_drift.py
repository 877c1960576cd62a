"""Drift checks on the embedded AWS: drift made by hand with boto3 is found exactly, reported, and remediated
where it can be fixed in place; the schedule and the alarm that make the checks useful are deployed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from lambdas.core.diff import canonical_statements
from provisioner.runs import executions as runs
from provisioner.config import resolve
from provisioner.deployer import DRIFT_METRIC, METRICS_SERVICE
from provisioner.blueprint.desired_state import desired_state
from provisioner.factory import CLIFactory

ROLE = "FileFerryReadOnlyRole"
POLICY = "FileFerryReadOnlyPolicy"
SESSIONS = "FileFerry-ActiveSessions"
CONTEXT = "FileFerry-UserContext"
CACHE = "FileFerry-S3FileCache"
LEARNING = "FileFerry-AgentLearning"
ADDED_STATEMENT = {"Sid": "Added", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}
READ_ONLY_PREFIXES = ("Describe", "Get", "List")
ACCESS_PROBES = {"dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem", "iam:SimulatePrincipalPolicy"}


@pytest.fixture
def provisioned(run):
    """The spec, provisioned by a real execution of the deployed state machine."""
    result = run({"action": "provision"})
    assert result.succeeded, (result.error, result.cause)
    return result


@pytest.fixture
def desired(factory):
    return desired_state(factory.settings)


def _policy(clients) -> dict[str, Any]:
    return clients.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]


def _put_policy(clients, document: dict[str, Any]) -> None:
    clients.iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(document))


def _ttl(clients, table: str) -> dict[str, Any]:
    return clients.dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]


def _history(clients, execution_arn: str) -> list[dict[str, Any]]:
    return list(runs.history(clients.stepfunctions, execution_arn))


def _cost(events: list[dict[str, Any]]) -> tuple[int, int]:
    """(state transitions, Lambda invocations) of one execution, from its history."""
    transitions = sum(1 for event in events if event["type"].endswith("StateEntered"))
    invocations = sum(1 for event in events if event["type"] == "TaskScheduled")
    return transitions, invocations


def _found(output: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {(d["resource"], d["property"]): (d["expected"], d["actual"]) for d in output["differences"]}


def test_drift_check_finds_exactly_each_change_made_by_hand_and_changes_nothing(
    aws, provisioned, cli, clients, desired
):
    code, out = cli("run", "drift-check")
    assert code == 0, out
    assert "No drift" in out

    # Six kinds of drift at once, made with boto3 the way a person in the console would, later than
    # provisioning (AWS allows one TTL change per table an hour); then the TTL change settles.
    aws.clock.advance(3600)
    clients.dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"})
    clients.dynamodb.update_table(
        TableName=CONTEXT, BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    )
    clients.dynamodb.delete_table(TableName=CACHE)
    policy = _policy(clients)
    # A statement added, and the spec's statements reordered: only the added one is drift.
    _put_policy(clients, {**policy, "Statement": [ADDED_STATEMENT, *reversed(policy["Statement"])]})
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    managed = clients.iam.create_policy(PolicyName="S3Everything", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    clients.iam.attach_role_policy(RoleName=ROLE, PolicyArn=managed)
    trust = clients.iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    without_external_id = [{k: v for k, v in s.items() if k != "Condition"} for s in trust["Statement"]]
    clients.iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps({**trust, "Statement": without_external_id}))
    aws.clock.advance(aws.ttl_latency)

    aws.reset_api_calls()
    code, out = cli("--json", "run", "drift-check")
    calls = aws.api_calls()
    assert code == 3, out
    result = json.loads(out)
    assert result["status"] == "SUCCEEDED"
    output = result["output"]
    found = _found(output)
    with_condition = [s for s in canonical_statements(desired.role.trust_policy) if "Condition" in s]
    assert set(found) == {
        (f"table/{SESSIONS}", "ttl"),
        (f"table/{CONTEXT}", "billing_mode"),
        (f"table/{CACHE}", "exists"),
        (f"role/{ROLE}", f"inline_policy:{POLICY}"),
        (f"role/{ROLE}", "attached_policies"),
        (f"role/{ROLE}", "trust_policy"),
        # The trust policy without its condition: using the role shows it is open to a wrong ExternalId.
        (f"role/{ROLE}", "access sts:AssumeRole with a wrong ExternalId"),
    }
    assert found[(f"table/{SESSIONS}", "ttl")] == ({"status": "ENABLED", "attribute": "ttl"}, {"status": "DISABLED"})
    assert found[(f"table/{CONTEXT}", "billing_mode")] == ("PAY_PER_REQUEST", "PROVISIONED")
    assert found[(f"table/{CACHE}", "exists")] == (True, False)
    assert found[(f"role/{ROLE}", f"inline_policy:{POLICY}")] == ([], canonical_statements({"Statement": [ADDED_STATEMENT]}))
    assert found[(f"role/{ROLE}", "attached_policies")] == ([], [managed])
    missing, unexpected = found[(f"role/{ROLE}", "trust_policy")]
    assert missing == with_condition and len(unexpected) == 1 and "Condition" not in unexpected[0]
    assert output["drifted"] is True and output["drifted_resources"] == 4

    # A drift check only reads: every DynamoDB and IAM call it made was a Describe, Get or List, or one of
    # the access check's probes (reads at a reserved key, conditional writes that cannot succeed, the IAM
    # simulator; tests/e2e/test_access.py compares every item before and after), and everything drifted is
    # still drifted.
    writes = [c for c in calls if c.split(":")[0] in ("dynamodb", "iam")
              and not c.split(":")[1].startswith(READ_ONLY_PREFIXES) and c not in ACCESS_PROBES]
    assert writes == [] and any(c.startswith("dynamodb:") for c in calls), calls
    assert _ttl(clients, SESSIONS)["TimeToLiveStatus"] == "DISABLED"
    assert CACHE not in clients.dynamodb.list_tables()["TableNames"]

    # Cheap: the drift-only path is 5 states and 2 Lambda invocations, drift or not, and the access check's
    # 2 states and 1 + 5 invocations (the role, and one batch per table: at most 8 batches).
    assert _cost(_history(clients, result["execution_arn"])) == (5 + 2 + 5, 2 + 1 + 5)

    code, out = cli("run", "drift-check")
    assert code == 3
    for resource, prop in found:
        assert any(resource in line and prop in line for line in out.splitlines()), (resource, prop, out)


@pytest.mark.chaos(0.03, seed=202)
def test_remediation_restores_what_can_change_in_place_and_reports_a_key_schema_change(
    aws, provisioned, cli, run, clients, desired
):
    aws.clock.advance(3600)  # the drift is made later than provisioning: AWS allows one TTL change an hour
    clients.dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"})
    spec_policy = _policy(clients)
    _put_policy(clients, {**spec_policy, "Statement": [*spec_policy["Statement"], ADDED_STATEMENT]})
    clients.dynamodb.delete_table(TableName=CACHE)
    aws.clock.advance(aws.consistency.seconds)  # drift is found a while after it is made, not within the read lag

    # TTL was changed by hand a moment ago: AWS refuses the next change for an hour. Remediation fixes
    # the rest and says when TTL can be restored; nothing is rolled back for it.
    code, out = cli("--json", "run", "drift-check", "--input", '{"remediate": true}')
    assert code == 3, out
    deferred = json.loads(out)["output"]["deferred"]
    assert [(d["resource"], d["property"]) for d in deferred] == [(f"table/{SESSIONS}", "ttl")] and deferred[0]["possible_by"]
    assert _ttl(clients, SESSIONS)["TimeToLiveStatus"] in ("DISABLING", "DISABLED")
    assert canonical_statements(_policy(clients)) == canonical_statements(desired.role.inline_policy)
    cache = clients.dynamodb.describe_table(TableName=CACHE)["Table"]
    assert cache["TableStatus"] == "ACTIVE" and _ttl(clients, CACHE)["TimeToLiveStatus"] in ("ENABLING", "ENABLED")

    aws.clock.advance(3600)  # the hour has passed: the next remediation restores TTL
    code, out = cli("run", "drift-check", "--input", '{"remediate": true}')
    assert code == 0, out
    assert "Drift found before remediation" in out and f"table/{SESSIONS}" in out
    assert (_ttl(clients, SESSIONS)["TimeToLiveStatus"], _ttl(clients, SESSIONS)["AttributeName"]) in (("ENABLING", "ttl"), ("ENABLED", "ttl"))

    # The restored policy with its statements reordered is still the spec's: the second check is clean.
    restored = _policy(clients)
    _put_policy(clients, {**restored, "Statement": list(reversed(restored["Statement"]))})
    second = run({"action": "drift-check"})
    assert second.succeeded and second.output["differences"] == [], second.output

    # A key schema change needs a new table: reported, never "fixed", and its data stays.
    clients.dynamodb.update_table(TableName=LEARNING, DeletionProtectionEnabled=False)  # as whoever replaced it did
    clients.dynamodb.delete_table(TableName=LEARNING)
    clients.dynamodb.create_table(
        TableName=LEARNING,
        AttributeDefinitions=[{"AttributeName": "transfer_type", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "transfer_type", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    clients.dynamodb.put_item(TableName=LEARNING, Item={"transfer_type": {"S": "s3-to-ftp"}})
    aws.clock.advance(3600)  # TTL changed by hand an hour after remediation restored it, and found an hour later
    clients.dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"})
    aws.clock.advance(3600)
    created = clients.dynamodb.describe_table(TableName=LEARNING)["Table"]["CreationDateTime"]

    code, out = cli("--json", "run", "drift-check", "--input", '{"remediate": true}')
    assert code == 3, out
    remediation = json.loads(out)
    assert remediation["status"] == "SUCCEEDED", out
    output = remediation["output"]
    # The replaced table is left exactly as it is (it needs replacing), so its missing protection is reported too.
    replaced = {(f"table/{LEARNING}", "key_schema"), (f"table/{LEARNING}", "deletion_protection"),
                (f"table/{LEARNING}", "point_in_time_recovery")}
    assert set(_found(output)) == replaced
    assert output["drifted"] is True and output["verified"] is False
    assert {(d["resource"], d["property"]) for d in output["drift_before_remediation"]} == replaced | {
        (f"table/{SESSIONS}", "ttl"),
    }
    assert _ttl(clients, SESSIONS)["TimeToLiveStatus"] in ("ENABLING", "ENABLED")
    learning = clients.dynamodb.describe_table(TableName=LEARNING)["Table"]
    assert learning["CreationDateTime"] == created
    assert learning["KeySchema"] == [{"AttributeName": "transfer_type", "KeyType": "HASH"}]
    assert clients.dynamodb.scan(TableName=LEARNING)["Count"] == 1
    code, out = cli("status", remediation["execution_arn"])  # the same run, as a person reads it
    assert "Not remediated" in out
    assert any(f"table/{LEARNING}" in line and "key_schema" in line for line in out.splitlines()), out


def test_deploy_schedules_drift_checks_that_may_only_start_this_state_machine_and_alarms_on_drift(
    aws, config_path, tmp_path
):
    config = yaml.safe_load(config_path.read_text())
    factory = CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True)
    topic = factory.clients().client("sns").create_topic(Name="fileferry-drift")["TopicArn"]
    config["provisioner"]["drift_schedule"] = "cron(0 6 * * ? *)"
    config["provisioner"]["alarm_topic_arn"] = topic
    path = tmp_path / "scheduled.yaml"
    path.write_text(yaml.safe_dump(config))
    factory = CLIFactory(resolve(path, endpoint_url=aws.endpoint_url), local=True)
    clients = factory.clients()

    deployment = factory.deployer().deploy()

    schedule = clients.scheduler.get_schedule(Name="fileferry-provisioner-drift-check")
    assert schedule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["Arn"] == deployment.state_machine_arn
    assert json.loads(target["Input"]) == {"action": "drift-check"}
    # A drift check Scheduler could not start goes to the dead-letter queue, sent with the schedule's role.
    queue_url = clients.sqs.get_queue_url(QueueName="fileferry-provisioner-undelivered")["QueueUrl"]
    queue_arn = clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert target["DeadLetterConfig"] == {"Arn": queue_arn}
    role_name = target["RoleArn"].split("/")[-1]
    trust = clients.iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert {s["Principal"]["Service"] for s in trust["Statement"]} == {"scheduler.amazonaws.com"}
    policy_names = clients.iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    statements = [
        statement
        for name in policy_names
        for statement in canonical_statements(clients.iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    ]
    assert sorted((s["Effect"], s["Action"], s["Resource"]) for s in statements) == [
        ("Allow", ["sqs:sendmessage"], [queue_arn]),
        ("Allow", ["states:startexecution"], [deployment.state_machine_arn]),
    ]
    assert clients.iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []

    (alarm,) = clients.cloudwatch.describe_alarms(AlarmNamePrefix="fileferry-provisioner-drift")["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("FileFerry", DRIFT_METRIC)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": METRICS_SERVICE}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0.0)
    assert alarm["AlarmActions"] == [topic]
