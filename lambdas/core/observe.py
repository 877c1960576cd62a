"""Observed state: what AWS reports for a table or the role, read with read-only calls."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from typing import Any


from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error
from lambdas.core.desired import IndexSpec, KeyAttribute


@dataclass(frozen=True)
class ObservedTable:
    name: str
    exists: bool
    status: str | None = None
    arn: str | None = None
    hash_key: KeyAttribute | None = None
    range_key: KeyAttribute | None = None
    indexes: tuple[IndexSpec, ...] = ()
    billing_mode: str | None = None
    sse_type: str | None = None  # "DEFAULT" when encrypted with the DynamoDB-owned key
    kms_key_arn: str | None = None
    ttl_status: str | None = None
    ttl_attribute: str | None = None
    deletion_protection: bool = False
    # DescribeContinuousBackups: ENABLED / DISABLED (None: not readable yet, e.g. the table is CREATING).
    pitr_status: str | None = None
    recovery_period_days: int | None = None
    # SSEDescription.InaccessibleEncryptionDateTime: when DynamoDB found the table's KMS key unusable (its
    # status is then INACCESSIBLE_ENCRYPTION_CREDENTIALS).
    inaccessible_since: datetime.datetime | None = None
    # A customer managed key's KeyState (kms:DescribeKey): Enabled, Disabled, PendingDeletion (with its
    # DeletionDate), ...; None when no customer managed key is configured (nothing was asked).
    kms_key_state: str | None = None
    kms_key_deletion_date: datetime.datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime.datetime | None = None  # CreationDateTime


@dataclass(frozen=True)
class ObservedRole:
    name: str
    exists: bool
    arn: str | None = None
    trust_policy: dict[str, Any] | None = None
    inline_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    attached_policy_arns: tuple[str, ...] = ()
    max_session_duration: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime.datetime | None = None  # CreateDate


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> tuple[KeyAttribute | None, KeyAttribute | None]:
    by_role = {key["KeyType"]: key["AttributeName"] for key in key_schema}
    hash_name, range_name = by_role.get("HASH"), by_role.get("RANGE")
    return (
        KeyAttribute(hash_name, types.get(hash_name, "?")) if hash_name else None,
        KeyAttribute(range_name, types.get(range_name, "?")) if range_name else None,
    )


def observe_table_status(client: Any, name: str) -> str | None:
    """DescribeTable only: the table's status, None if it does not exist (a poll needs no more)."""
    try:
        return client.describe_table(TableName=name)["Table"]["TableStatus"]
    except client.exceptions.ResourceNotFoundException:
        return None
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DescribeTable {name}") from err


def observe_table(client: Any, name: str, with_tags: bool = False) -> ObservedTable:
    """DescribeTable + DescribeTimeToLive (+ ListTagsOfResource); a missing table is `exists=False`."""
    try:
        table = client.describe_table(TableName=name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        return ObservedTable(name=name, exists=False)
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DescribeTable {name}") from err
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    hash_key, range_key = _keys(table["KeySchema"], types)
    indexes = []
    for index in table.get("GlobalSecondaryIndexes", []):
        index_hash, index_range = _keys(index["KeySchema"], types)
        indexes.append(IndexSpec(index["IndexName"], index_hash, index_range, index["Projection"]["ProjectionType"]))
    sse = table.get("SSEDescription") or {}
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    try:
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DescribeTimeToLive {name}") from err
    pitr = continuous_backups(client, name)
    tags: dict[str, str] = {}
    if with_tags:
        tags = list_table_tags(client, table["TableArn"])
    return ObservedTable(
        name=name,
        exists=True,
        status=table["TableStatus"],
        arn=table["TableArn"],
        hash_key=hash_key,
        range_key=range_key,
        indexes=tuple(sorted(indexes, key=lambda index: index.name)),
        billing_mode=billing,
        sse_type=sse.get("SSEType", "DEFAULT") if sse.get("Status") in ("ENABLED", "ENABLING", "UPDATING") else "DEFAULT",
        kms_key_arn=sse.get("KMSMasterKeyArn"),
        ttl_status=ttl.get("TimeToLiveStatus", "DISABLED"),
        ttl_attribute=ttl.get("AttributeName"),
        deletion_protection=bool(table.get("DeletionProtectionEnabled", False)),
        pitr_status=pitr.get("PointInTimeRecoveryStatus"),
        recovery_period_days=pitr.get("RecoveryPeriodInDays"),
        inaccessible_since=sse.get("InaccessibleEncryptionDateTime"),
        tags=tags,
        created_at=table.get("CreationDateTime"),
    )


def continuous_backups(client: Any, name: str) -> dict[str, Any]:
    """The table's PointInTimeRecoveryDescription ({} while DynamoDB cannot describe its backups yet)."""
    try:
        described = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    except client.exceptions.TableNotFoundException:
        return {}
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DescribeContinuousBackups {name}") from err
    return described.get("PointInTimeRecoveryDescription") or {}


def list_table_tags(client: Any, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict[str, str] = {"ResourceArn": arn}
    while True:  # ListTagsOfResource has no boto3 paginator
        try:
            page = client.list_tags_of_resource(**kwargs)
        except AWS_CALL_ERRORS as err:
            raise as_provisioner_error(err, f"ListTagsOfResource {arn}") from err
        tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


def _role_policy(iam: Any, role: str, policy: str) -> dict[str, Any] | None:
    """A listed inline policy's document; None when GetRolePolicy says it is gone.

    IAM's reads are each eventually consistent (IAM User Guide, "Changes that I make are not always
    immediately visible"), not consistent with one another: ListRolePolicies may still list a policy
    that was just deleted. NoSuchEntity here means that policy is gone, not the role.
    """
    try:
        return iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        return None


def observe_role(iam: Any, name: str) -> ObservedRole:
    """GetRole + its inline and attached policies; a missing role is `exists=False`."""
    try:
        role = iam.get_role(RoleName=name)["Role"]
        inline = {}
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                document = _role_policy(iam, name, policy_name)
                if document is not None:
                    inline[policy_name] = document
        attached = [
            policy["PolicyArn"]
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
            for policy in page["AttachedPolicies"]
        ]
    except iam.exceptions.NoSuchEntityException:
        return ObservedRole(name=name, exists=False)
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"GetRole {name}") from err
    return ObservedRole(
        name=name,
        exists=True,
        arn=role["Arn"],
        trust_policy=role.get("AssumeRolePolicyDocument"),
        inline_policies=inline,
        attached_policy_arns=tuple(sorted(attached)),
        max_session_duration=role.get("MaxSessionDuration"),
        tags={tag["Key"]: tag["Value"] for tag in role.get("Tags", [])},
        created_at=role.get("CreateDate"),
    )


@dataclass(frozen=True)
class ObservedState:
    tables: dict[str, ObservedTable]
    role: ObservedRole


def observe_key(kms: Any, key_id: str) -> tuple[str | None, datetime.datetime | None]:
    """A KMS key's (KeyState, DeletionDate), by ARN, id or alias."""
    try:
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        return "NotFound", None
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DescribeKey {key_id}") from err
    return metadata.get("KeyState"), metadata.get("DeletionDate")


def observe_state(dynamodb: Any, iam: Any, table_names: list[str], role_name: str,
                  kms: Any = None, kms_key_id: str | None = None) -> ObservedState:
    """One pass of read-only calls over every resource in the spec; with `kms` and a customer managed
    `kms_key_id`, also that key's state (once), for every table encrypted with it."""
    tables = {name: observe_table(dynamodb, name) for name in table_names}
    if kms is not None and kms_key_id:
        state, deletion = observe_key(kms, kms_key_id)
        tables = {name: replace(table, kms_key_state=state, kms_key_deletion_date=deletion) if table.exists else table
                  for name, table in tables.items()}
    return ObservedState(tables=tables, role=observe_role(iam, role_name))
