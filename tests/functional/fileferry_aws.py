"""Plain helpers for the moto-backed tests: build resources the way someone else would, read AWS back."""

from __future__ import annotations

from typing import Any

from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG, DesiredState, TableSpec


def ownership(desired: DesiredState, execution_name: str) -> dict[str, str]:
    """The tags a provisioning run puts on what it creates (same keys as lambdas.core.runtime.ownership_tags)."""
    return {MANAGED_BY_TAG: desired.provisioner_name, CREATED_BY_TAG: execution_name}


def create_raw_table(dynamodb: Any, spec: TableSpec, **overrides: Any) -> None:
    """Create a table matching `spec` directly with boto3 (no provisioner tags), as someone else would.

    `overrides` replace CreateTable parameters; an override of None leaves the parameter out.
    """
    keys = [{"AttributeName": spec.hash_key.name, "KeyType": "HASH"}]
    if spec.range_key:
        keys.append({"AttributeName": spec.range_key.name, "KeyType": "RANGE"})
    request: dict[str, Any] = {
        "TableName": spec.name,
        "AttributeDefinitions": spec.attribute_definitions(),
        "KeySchema": keys,
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True, "SSEType": "KMS"},
        "DeletionProtectionEnabled": spec.deletion_protection,
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.hash_key.name, "KeyType": "HASH"}]
                + ([{"AttributeName": index.range_key.name, "KeyType": "RANGE"}] if index.range_key else []),
                "Projection": {"ProjectionType": index.projection},
            }
            for index in spec.indexes
        ]
    for name, value in overrides.items():
        if value is None:
            request.pop(name, None)
        else:
            request[name] = value
    dynamodb.create_table(**request)
    if spec.point_in_time_recovery:
        dynamodb.update_continuous_backups(TableName=spec.name, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": spec.recovery_period_days})


def put_items(dynamodb: Any, spec: TableSpec, count: int) -> list[dict[str, Any]]:
    """`count` items keyed on the spec's key attributes; returns them."""
    items = []
    for number in range(count):
        item = {spec.hash_key.name: {"S": f"key-{number}"}, "payload": {"S": f"value-{number}"}}
        if spec.range_key:
            item[spec.range_key.name] = {"S": f"range-{number}"}
        for index in spec.indexes:
            item[index.hash_key.name] = {"S": f"user-{number}"}
            if index.range_key:
                item[index.range_key.name] = {"S": f"2025-12-0{number % 9 + 1}"}
        dynamodb.put_item(TableName=spec.name, Item=item)
        items.append(item)
    return items


def all_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return items


def table_tags(dynamodb: Any, table: str) -> dict[str, str]:
    arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    return {tag["Key"]: tag["Value"] for tag in dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])}


def table_exists(dynamodb: Any, table: str) -> bool:
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        return False
    return True


def role_exists(iam: Any, role: str) -> bool:
    try:
        iam.get_role(RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def trust_policy_of(iam: Any, role: str) -> dict[str, Any]:
    return iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]


def inline_policy_of(iam: Any, role: str, policy: str) -> dict[str, Any]:
    return iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]


def role_tags(iam: Any, role: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=role)["Tags"]}


def ttl_of(dynamodb: Any, table: str) -> dict[str, Any]:
    return dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
