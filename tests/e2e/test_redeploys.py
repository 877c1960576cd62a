"""Deploying on a strict AWS: policies that take a while to take effect, runs in flight during a deploy,
and a follower whose credentials expire. Read back with boto3."""

from __future__ import annotations

import json

import pytest

from provisioner.blueprint.iam_documents import role_name
from provisioner.deployer import POLICY_NAME

TABLES = sorted(["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests",
                 "FileFerry-AgentLearning", "FileFerry-S3FileCache"])


def _active_tables(clients) -> list[str]:
    names = [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")]
    return sorted(name for name in names if clients.dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE")


def test_up_right_after_deploy_restored_a_steps_policy_provisions_and_verifies(aws, factory, deployed, clients, cli):
    # IAM takes a while to apply a policy change; a run started before it has, meets the old permissions.
    role = role_name(factory.settings.provisioner.name, factory.settings.dynamodb.region, "create-or-adopt-table-fn")
    logs_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
    clients.iam.put_role_policy(RoleName=role, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(logs_only))
    aws.clock.advance(60)  # the step's role has lost its permissions everywhere

    code, output = cli("up")  # the deploy puts the step's policy back; the run starts right after it

    assert code == 0, output
    assert _active_tables(clients) == TABLES
