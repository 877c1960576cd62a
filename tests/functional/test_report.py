"""Verify and drift-check against an in-process AWS after provisioning everything with the core functions."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from lambdas.core.desired import DesiredState
from lambdas.core.errors import VerificationFailed
from lambdas.core.report import drift, verify

ROLE = "FileFerryReadOnlyRole"
POLICY = "FileFerryReadOnlyPolicy"


def found(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(difference["resource"], difference["property"]) for difference in result["differences"]]


def test_everything_provisioned_verifies(dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]) -> None:
    report = verify(dynamodb, iam, desired, provisioned["tables"], provisioned["role"])

    assert report["verified"] is True
    assert [(t["table"], t["status"], t["ttl"]) for t in report["tables"]] == [
        ("FileFerry-ActiveSessions", "ACTIVE", "ENABLED"),
        ("FileFerry-UserContext", "ACTIVE", "ENABLED"),
        ("FileFerry-TransferRequests", "ACTIVE", "ENABLED"),
        ("FileFerry-AgentLearning", "ACTIVE", "DISABLED"),
        ("FileFerry-S3FileCache", "ACTIVE", "ENABLED"),
    ]
    assert report["role"]["arn"] == iam.get_role(RoleName=ROLE)["Role"]["Arn"]


def test_everything_provisioned_has_no_drift(dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]) -> None:
    result = drift(dynamodb, iam, desired)

    assert result == {"drifted": False, "drifted_resources": 0, "differences": [], "access": []}


def test_ttl_disabled_by_hand_is_exactly_one_drift(dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]) -> None:
    dynamodb.update_time_to_live(
        TableName="FileFerry-ActiveSessions", TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"}
    )

    result = drift(dynamodb, iam, desired)

    assert found(result) == [("table/FileFerry-ActiveSessions", "ttl")]
    assert result["drifted"] is True
    assert result["drifted_resources"] == 1
    assert result["differences"][0]["actual"] == {"status": "DISABLED"}


def test_reordered_inline_policy_statements_are_not_drift(
    dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]
) -> None:
    reordered = copy.deepcopy(desired.role.inline_policy)
    reordered["Statement"].reverse()
    iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(reordered))

    assert iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]["Statement"][0]["Sid"] == "XRayTracing"
    assert drift(dynamodb, iam, desired)["differences"] == []


def test_a_widened_inline_policy_is_drift(dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]) -> None:
    widened = copy.deepcopy(desired.role.inline_policy)
    widened["Statement"].append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})
    iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(widened))

    result = drift(dynamodb, iam, desired)

    assert found(result) == [(f"role/{ROLE}", f"inline_policy:{POLICY}")]
    assert result["differences"][0]["actual"] == [{"Action": ["s3:putobject"], "Effect": "Allow", "Resource": ["*"]}]


def test_an_attached_managed_policy_is_drift(dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName="S3Everything", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn)

    result = drift(dynamodb, iam, desired)

    assert found(result) == [(f"role/{ROLE}", "attached_policies")]
    assert result["differences"][0]["actual"] == [arn]


def test_a_trust_policy_without_the_external_id_is_drift(
    dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]
) -> None:
    trust = copy.deepcopy(desired.role.trust_policy)
    del trust["Statement"][1]["Condition"]
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(trust))

    assert found(drift(dynamodb, iam, desired)) == [(f"role/{ROLE}", "trust_policy")]


def test_a_deleted_role_is_drift(dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]) -> None:
    iam.delete_role_policy(RoleName=ROLE, PolicyName=POLICY)
    iam.delete_role(RoleName=ROLE)

    assert found(drift(dynamodb, iam, desired)) == [(f"role/{ROLE}", "exists")]


def test_verify_fails_naming_a_missing_table(dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]) -> None:
    dynamodb.delete_table(TableName="FileFerry-S3FileCache")

    with pytest.raises(VerificationFailed, match="table/FileFerry-S3FileCache exists"):
        verify(dynamodb, iam, desired, provisioned["tables"], provisioned["role"])


def test_verify_fails_when_nothing_was_provisioned(dynamodb: Any, iam: Any, desired: DesiredState) -> None:
    with pytest.raises(VerificationFailed) as raised:
        verify(dynamodb, iam, desired, [], {})

    for name in desired.table_names():
        assert f"table/{name}" in str(raised.value)
    assert f"role/{ROLE}" in str(raised.value)
