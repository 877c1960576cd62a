"""Verification and the drift check prove the read-only role's access by using it, and write nothing.
Read back with boto3: the items of every table, the reports, the exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

ROLE = "FileFerryReadOnlyRole"
TABLES = ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests",
          "FileFerry-AgentLearning", "FileFerry-S3FileCache"]
TRANSFERS = "FileFerry-TransferRequests"
PROBED = ["dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
          "dynamodb:Scan", "dynamodb:UpdateItem"]


def _items(clients) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table, sorted (a Scan by the operator, all pages)."""
    everything = {}
    for table in TABLES:
        pages = clients.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        everything[table] = sorted((item for page in pages for item in page["Items"]), key=lambda i: json.dumps(i, sort_keys=True))
    return everything


def _fill(clients) -> None:
    """Application data in every table, at the keys the application uses."""
    for table in TABLES:
        key = clients.dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        for number in range(3):
            item = {k["AttributeName"]: {"S": f"{k['AttributeName']}-{number}"} for k in key}
            item.update({"payload": {"S": f"data {number}"}, "user_id": {"S": f"user-{number}"},
                         "created_at": {"S": f"2026-12-0{number + 1}"}})
            clients.dynamodb.put_item(TableName=table, Item=item)


def _off(output: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(g["resource"], g["action"]): g["actual"] for g in output["access"] if g["expected"] != g["actual"]}


@pytest.fixture
def provisioned(run, clients):
    result = run({"action": "provision"})
    assert result.succeeded, (result.error, result.cause)
    return result


def test_provision_proves_every_grant_with_a_session_of_the_role(provisioned, cli):
    output = provisioned.output
    code, shown = cli("status", provisioned.execution_arn)
    assert code == 0 and f"access: {len(output['access'])} of {len(output['access'])} grants proven" in shown, shown
    assert output["verified"] is True
    grants = output["access"]
    assert all(g["expected"] == g["actual"] for g in grants), [g for g in grants if g["expected"] != g["actual"]]
    for table in TABLES:
        probed = sorted(g["action"] for g in grants if g["resource"] == f"table/{table}" and g["action"] in PROBED)
        assert probed == PROBED, table
        writes = [g for g in grants if g["resource"] == f"table/{table}" and g["action"] == "dynamodb:PutItem"]
        assert "ConditionalCheckFailedException" in writes[0]["proof"]
    assert any(g["action"] == "dynamodb:Query index/UserIdIndex" and g["actual"] == "allowed" for g in grants)
    role = {g["action"]: (g["expected"], g["actual"]) for g in grants if g["resource"] == f"role/{ROLE}"}
    assert role["sts:AssumeRole with a wrong ExternalId"] == ("denied", "denied")
    assert role["s3:PutObject"] == ("denied", "denied") and role["s3:GetObject"] == ("allowed", "allowed")
    assert role["cloudwatch:PutMetricData with cloudwatch:namespace=FileFerry"] == ("allowed", "allowed")
    deletes = [g for g in grants if g["action"] == "dynamodb:DeleteTable"]
    assert len(deletes) == len(TABLES) and all(g["actual"] == "denied" for g in deletes)


def test_every_table_holds_exactly_the_items_it_held_before_a_provision_and_a_drift_check(provisioned, run, cli, clients):
    _fill(clients)
    before = _items(clients)

    again = run({"action": "provision"})
    code, out = cli("run", "drift-check")

    assert again.succeeded and again.output["verified"] is True, again.output
    assert code == 0, out
    assert _items(clients) == before


def test_a_table_policy_denying_the_role_put_item_is_drift_naming_table_and_action_until_it_is_removed(
    provisioned, cli, clients
):
    arn = clients.dynamodb.describe_table(TableName=TRANSFERS)["Table"]["TableArn"]
    role_arn = clients.iam.get_role(RoleName=ROLE)["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "NoWritesByTheRole", "Effect": "Deny",
                                                      "Principal": {"AWS": role_arn}, "Action": "dynamodb:PutItem", "Resource": arn}]}
    clients.dynamodb.put_resource_policy(ResourceArn=arn, Policy=json.dumps(policy))

    code, out = cli("--json", "run", "drift-check")
    human_code, human = cli("run", "drift-check")
    clients.dynamodb.delete_resource_policy(ResourceArn=arn)
    cleared_code, cleared = cli("run", "drift-check")

    assert code == 3, out
    result = json.loads(out)["output"]
    assert _off(result) == {(f"table/{TRANSFERS}", "dynamodb:PutItem"): "denied"}
    difference = next(d for d in result["differences"] if d["resource"] == f"table/{TRANSFERS}")
    assert difference["property"] == "access dynamodb:PutItem" and "resource-based policy" in difference["actual"]
    assert result["drifted_resources"] == 1
    assert human_code == 3 and f"table/{TRANSFERS}" in human and "access dynamodb:PutItem" in human
    assert cleared_code == 0, cleared


def test_a_trust_policy_letting_the_account_in_without_the_external_id_is_reported(provisioned, cli, clients):
    trust = clients.iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    opened = [{k: v for k, v in s.items() if k != "Condition"} for s in trust["Statement"]]
    clients.iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps({**trust, "Statement": opened}))

    code, out = cli("--json", "run", "drift-check")

    assert code == 3, out
    result = json.loads(out)["output"]
    assert _off(result) == {(f"role/{ROLE}", "sts:AssumeRole with a wrong ExternalId"): "allowed"}
    finding = next(d for d in result["differences"] if d["property"] == "access sts:AssumeRole with a wrong ExternalId")
    assert "without the ExternalId" in finding["actual"]


def test_a_permissions_boundary_denying_a_write_is_found_though_no_document_the_diff_compares_changed(provisioned, cli, clients):
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                                       {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}]}
    # A permissions boundary is not one of the role's documents the diff compares: only using the role shows it.
    boundary = clients.iam.create_policy(PolicyName="NoDeletes", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    clients.iam.put_role_permissions_boundary(RoleName=ROLE, PermissionsBoundary=boundary)

    code, out = cli("--json", "run", "drift-check")

    result = json.loads(out)["output"]
    assert code == 3, out
    assert _off(result) == {(f"table/{t}", "dynamodb:DeleteItem"): "denied" for t in TABLES}
    finding = next(d for d in result["differences"] if d["property"] == "access dynamodb:DeleteItem")
    assert "permissions boundary" in finding["actual"]


def test_a_role_deleted_by_hand_is_its_missing_role_and_one_refused_assume_role_not_a_finding_per_grant(provisioned, cli, clients):
    iam = clients.iam
    for name in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]:
        iam.delete_role_policy(RoleName=ROLE, PolicyName=name)
    iam.delete_role(RoleName=ROLE)

    code, out = cli("--json", "run", "drift-check")

    assert code == 3, out
    result = json.loads(out)["output"]
    access = [(d["resource"], d["property"]) for d in result["differences"] if d["property"].startswith("access ")]
    assert access == [(f"role/{ROLE}", "access sts:AssumeRole with the ExternalId")]
    assert (f"role/{ROLE}", "exists") in {(d["resource"], d["property"]) for d in result["differences"]}
    assert {g["actual"] for g in result["access"] if g["resource"].startswith("table/")} == {"not-checked"}
    assert result["drifted_resources"] == 1
