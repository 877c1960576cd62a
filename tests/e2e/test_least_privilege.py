"""The orchestrator's own roles, under the embedded AWS's IAM enforcement: each step's role allows what
that step does (its undo included) and nothing makes up for a permission withheld."""

from __future__ import annotations

import json

import pytest
import yaml

from provisioner.runs import executions as runs
from provisioner.config import resolve
from provisioner.factory import CLIFactory
from provisioner.blueprint.iam_documents import role_name

ROLE = "FileFerryReadOnlyRole"
POLICY_NAME = "least-privilege"  # provisioner.deployer.POLICY_NAME
TABLES = {"FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests",
          "FileFerry-AgentLearning", "FileFerry-S3FileCache"}
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _tables(clients) -> set[str]:
    return set([name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")])


def test_withholding_one_permission_from_one_step_fails_that_step_with_access_denied(
    aws, factory, deployed, clients, run
) -> None:
    name = role_name(factory.settings.provisioner.name, factory.settings.dynamodb.region, "await-table-fn")
    policy = clients.iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [action for action in actions if action != "dynamodb:UpdateTimeToLive"]
    clients.iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))

    result = run({"action": "provision"})

    assert result.status == "FAILED"
    assert result.error == "AccessDenied"
    assert "UpdateTimeToLive" in result.cause and "access denied (AccessDeniedException)" in result.cause
    assert _tables(clients) == set()  # the run's rollback removed what it created


def test_ensure_role_puts_back_a_policy_it_detached_when_its_update_fails(aws, deployed, clients, run) -> None:
    """The step's own undo re-attaches the policy: its role needs iam:AttachRolePolicy."""
    managed = clients.iam.create_policy(PolicyName="extra", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::x"}]}))["Policy"]["Arn"]
    clients.iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=7200)
    clients.iam.attach_role_policy(RoleName=ROLE, PolicyArn=managed)
    # The update detaches the policy, then fails on UpdateRole (MaxSessionDuration comes after it).
    aws.set_faults(["iam:UpdateRole=AccessDenied"])

    result = run({"action": "provision"})

    assert result.status == "FAILED"
    attached = clients.iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [managed]


@pytest.mark.parametrize("by_alias", [False, True], ids=["key-id", "alias"])
def test_tables_under_a_customer_managed_key_are_provisioned(aws, config_path, by_alias) -> None:
    """DynamoDB uses the key with the caller's permissions: GenerateDataKey* and ReEncrypt* too."""
    settings = resolve(config_path, endpoint_url=aws.endpoint_url)
    kms = CLIFactory(settings, local=True).clients().client("kms")
    key_id = kms.create_key(Description="FileFerry tables")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/fileferry-tables", TargetKeyId=key_id)
    config = yaml.safe_load(config_path.read_text())
    config["dynamodb"]["kms_key_id"] = "alias/fileferry-tables" if by_alias else key_id
    config_path.write_text(yaml.safe_dump(config))
    factory = CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True)
    deployment = factory.deployer().deploy()
    sfn = factory.clients().stepfunctions

    result = runs.Follower(sfn, poll_seconds=0.2).follow(runs.start(sfn, deployment.state_machine_arn, {}))

    assert result.succeeded, (result.error, result.cause)
    dynamodb = factory.clients().dynamodb
    assert set([name for name in dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")]) == TABLES
    described = dynamodb.describe_table(TableName="FileFerry-ActiveSessions")["Table"]
    assert described["SSEDescription"]["SSEType"] == "KMS"
