"""The embedded AWS's SimulatePrincipalPolicy decides as @cloud-copilot/iam-simulate does, on the read-only role.

The read-only role the workflow provisions (its inline policy and trust policy from the blueprint) is
created on the emulator; each case is simulated there through boto3 and judged by the referee.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import boto3
import pytest
from iam_simulate import ALLOWED, EXPLICITLY_DENIED, IMPLICITLY_DENIED, Case, simulate_detailed

from provisioner.blueprint.desired_state import read_only_policy, table_arn, trust_policy

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE_NAME = "FileFerryReadOnlyRole"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
TABLES = ("FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests",
          "FileFerry-AgentLearning", "FileFerry-S3FileCache")
READ_ONLY = read_only_policy([table_arn(REGION, ACCOUNT, t) for t in TABLES], ["fileferry-files"], "FileFerry")
OBJECT = "arn:aws:s3:::fileferry-files/reports/a.txt"
# AWS's spelling in EvalDecision for each of the referee's decisions.
EVAL_DECISION = {ALLOWED: "allowed", EXPLICITLY_DENIED: "explicitDeny", IMPLICITLY_DENIED: "implicitDeny"}


@dataclass(frozen=True)
class Row:
    name: str
    action: str
    resource: str
    expected: str
    context: dict[str, str] = field(default_factory=dict)


ROWS = [
    Row("writes are denied", "s3:PutObject", OBJECT, EXPLICITLY_DENIED),
    Row("deletes are denied", "s3:DeleteObject", OBJECT, EXPLICITLY_DENIED),
    Row("reads are allowed", "s3:GetObject", OBJECT, ALLOWED),
    *[Row(f"no deleting {t}", "dynamodb:DeleteTable", table_arn(REGION, ACCOUNT, t), IMPLICITLY_DENIED) for t in TABLES],
    *[Row(f"items into {t}", "dynamodb:PutItem", table_arn(REGION, ACCOUNT, t), ALLOWED) for t in TABLES],
    Row("metrics in FileFerry", "cloudwatch:PutMetricData", "*", ALLOWED, {"cloudwatch:namespace": "FileFerry"}),
    Row("metrics elsewhere", "cloudwatch:PutMetricData", "*", IMPLICITLY_DENIED, {"cloudwatch:namespace": "Billing"}),
]


@pytest.fixture(scope="module")
def referee():
    cases = [Case(row.action, row.resource, [READ_ONLY], context=row.context, principal=ROLE) for row in ROWS]
    return dict(zip((row.name for row in ROWS), simulate_detailed(cases)))


@pytest.fixture
def iam(running_emulator):
    running_emulator.reset(faults=(), consistency_lag=0.0)
    client = boto3.client("iam", endpoint_url=running_emulator.endpoint_url, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust_policy(ACCOUNT, "external-id")))
    client.put_role_policy(RoleName=ROLE_NAME, PolicyName="read-only", PolicyDocument=json.dumps(READ_ONLY, indent=2))
    return client


def emulated(iam, row: Row) -> str:
    request = {"PolicySourceArn": ROLE, "ActionNames": [row.action],
               "ContextEntries": [{"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
                                  for key, value in row.context.items()]}
    if row.resource != "*":
        request["ResourceArns"] = [row.resource]
    return iam.simulate_principal_policy(**request)["EvaluationResults"][0]["EvalDecision"]


def test_the_rows_are_distinct() -> None:
    assert len({row.name for row in ROWS}) == len(ROWS) >= 15


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_the_emulators_simulation_agrees_with_iam_simulate(row: Row, iam, referee) -> None:
    judged = referee[row.name]
    assert judged.ignored_context_keys == (), "the referee ignored a context key: the case is mistyped"
    assert (emulated(iam, row), EVAL_DECISION[judged.decision]) == (EVAL_DECISION[row.expected],) * 2
