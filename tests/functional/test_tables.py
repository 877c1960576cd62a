"""The table steps against an in-process AWS: create, adopt, refuse, TTL, teardown — read back with boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fileferry_aws import all_items, ownership, table_exists, table_tags, ttl_of

from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG, DesiredState, TableSpec
from lambdas.core.errors import ResourceConflict
from lambdas.core.tables import create_or_adopt_table, ensure_ttl
from lambdas.core.teardown import teardown_table

SESSIONS = "FileFerry-ActiveSessions"
TRANSFERS = "FileFerry-TransferRequests"
LEARNING = "FileFerry-AgentLearning"


@pytest.fixture
def transfers(desired: DesiredState) -> TableSpec:
    return desired.table(TRANSFERS)


@pytest.fixture
def sessions(desired: DesiredState) -> TableSpec:
    return desired.table(SESSIONS)


@pytest.fixture
def created_transfers(dynamodb: Any, transfers: TableSpec, tags: dict[str, str]) -> dict[str, Any]:
    """FileFerry-TransferRequests created by execution exec-1; returns the outcome."""
    return create_or_adopt_table(dynamodb, transfers, tags).as_dict()


@pytest.fixture
def created_sessions(dynamodb: Any, sessions: TableSpec, tags: dict[str, str]) -> dict[str, Any]:
    return create_or_adopt_table(dynamodb, sessions, tags).as_dict()


def key_schema(dynamodb: Any, table: str) -> list[dict[str, str]]:
    return dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]


# -- create -------------------------------------------------------------------------------


def test_a_missing_table_is_created_with_the_spec_key_schema(dynamodb: Any, created_transfers: dict[str, Any]) -> None:
    table = dynamodb.describe_table(TableName=TRANSFERS)["Table"]

    assert created_transfers["outcome"] == "created"
    assert table["KeySchema"] == [{"AttributeName": "transfer_id", "KeyType": "HASH"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "transfer_id": "S",
        "user_id": "S",
        "created_at": "S",
    }


def test_a_created_table_has_the_user_id_index_on_user_id_and_created_at(dynamodb: Any, created_transfers: dict[str, Any]) -> None:
    indexes = dynamodb.describe_table(TableName=TRANSFERS)["Table"]["GlobalSecondaryIndexes"]

    assert [index["IndexName"] for index in indexes] == ["UserIdIndex"]
    assert indexes[0]["KeySchema"] == [
        {"AttributeName": "user_id", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert indexes[0]["Projection"]["ProjectionType"] == "ALL"


def test_a_created_table_is_on_demand_and_kms_encrypted(dynamodb: Any, created_transfers: dict[str, Any]) -> None:
    table = dynamodb.describe_table(TableName=TRANSFERS)["Table"]

    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert table["SSEDescription"]["SSEType"] == "KMS"


def test_a_created_table_carries_both_ownership_tags(dynamodb: Any, created_transfers: dict[str, Any], desired: DesiredState) -> None:
    assert table_tags(dynamodb, TRANSFERS) == {MANAGED_BY_TAG: desired.provisioner_name, CREATED_BY_TAG: "exec-1"}


def test_agent_learning_is_created_with_its_composite_key(dynamodb: Any, desired: DesiredState, tags: dict[str, str]) -> None:
    create_or_adopt_table(dynamodb, desired.table(LEARNING), tags)

    assert key_schema(dynamodb, LEARNING) == [
        {"AttributeName": "transfer_type", "KeyType": "HASH"},
        {"AttributeName": "size_category", "KeyType": "RANGE"},
    ]


# -- rerun / adopt ------------------------------------------------------------------------


def test_a_rerun_adopts_the_table_it_created_without_a_second_table_or_new_tags(
    dynamodb: Any, created_transfers: dict[str, Any], transfers: TableSpec, desired: DesiredState
) -> None:
    tags_before = table_tags(dynamodb, TRANSFERS)

    outcome = create_or_adopt_table(dynamodb, transfers, ownership(desired, "exec-2"))

    assert outcome.outcome == "adopted"
    assert dynamodb.list_tables()["TableNames"].count(TRANSFERS) == 1
    assert table_tags(dynamodb, TRANSFERS) == tags_before


def test_a_matching_table_someone_else_made_is_adopted_with_every_item(
    dynamodb: Any, existing_table: Callable[..., list[dict[str, Any]]], transfers: TableSpec, tags: dict[str, str]
) -> None:
    items = existing_table(TRANSFERS, items=5)

    outcome = create_or_adopt_table(dynamodb, transfers, tags)

    assert outcome.outcome == "adopted"
    key = lambda item: item["transfer_id"]["S"]  # noqa: E731
    assert sorted(all_items(dynamodb, TRANSFERS), key=key) == sorted(items, key=key)


def test_an_adopted_table_is_not_tagged_as_created_by_the_run(
    dynamodb: Any, existing_table: Callable[..., list[dict[str, Any]]], transfers: TableSpec, tags: dict[str, str]
) -> None:
    existing_table(TRANSFERS)

    create_or_adopt_table(dynamodb, transfers, tags)

    assert CREATED_BY_TAG not in table_tags(dynamodb, TRANSFERS)


def test_a_table_with_another_key_schema_is_a_conflict_and_left_untouched(
    dynamodb: Any, sessions: TableSpec, tags: dict[str, str]
) -> None:
    dynamodb.create_table(
        TableName=SESSIONS,
        AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=SESSIONS, Item={"token": {"S": "t-1"}})
    dynamodb.put_item(TableName=SESSIONS, Item={"token": {"S": "t-2"}})

    with pytest.raises(ResourceConflict, match="key_schema"):
        create_or_adopt_table(dynamodb, sessions, tags)

    assert key_schema(dynamodb, SESSIONS) == [{"AttributeName": "token", "KeyType": "HASH"}]
    assert sorted(item["token"]["S"] for item in all_items(dynamodb, SESSIONS)) == ["t-1", "t-2"]
    assert table_tags(dynamodb, SESSIONS) == {}


def test_a_table_without_the_user_id_index_is_a_conflict(
    dynamodb: Any, existing_table: Callable[..., list[dict[str, Any]]], transfers: TableSpec, tags: dict[str, str]
) -> None:
    existing_table(
        TRANSFERS,
        items=0,
        AttributeDefinitions=[{"AttributeName": "transfer_id", "AttributeType": "S"}],
        GlobalSecondaryIndexes=None,
    )

    with pytest.raises(ResourceConflict, match="indexes"):
        create_or_adopt_table(dynamodb, transfers, tags)

    assert dynamodb.describe_table(TableName=TRANSFERS)["Table"].get("GlobalSecondaryIndexes", []) == []


def test_a_provisioned_table_is_switched_to_on_demand_and_keeps_its_items(
    dynamodb: Any, existing_table: Callable[..., list[dict[str, Any]]], sessions: TableSpec, tags: dict[str, str]
) -> None:
    items = existing_table(
        SESSIONS, items=3, BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    )

    outcome = create_or_adopt_table(dynamodb, sessions, tags)

    assert outcome.outcome == "updated"
    assert dynamodb.describe_table(TableName=SESSIONS)["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert len(all_items(dynamodb, SESSIONS)) == len(items)


# -- TTL ----------------------------------------------------------------------------------


def test_ensure_ttl_enables_ttl_on_the_ttl_attribute(dynamodb: Any, created_sessions: dict[str, Any], sessions: TableSpec) -> None:
    result = ensure_ttl(dynamodb, sessions)

    assert result == "enabled"
    assert ttl_of(dynamodb, SESSIONS) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_ensure_ttl_again_is_success_and_ttl_stays_enabled(
    dynamodb: Any, created_sessions: dict[str, Any], sessions: TableSpec
) -> None:
    ensure_ttl(dynamodb, sessions)

    assert ensure_ttl(dynamodb, sessions) == "already-enabled"
    assert ttl_of(dynamodb, SESSIONS) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_ttl_enabled_beforehand_with_boto3_is_success(dynamodb: Any, created_sessions: dict[str, Any], sessions: TableSpec) -> None:
    dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})

    assert ensure_ttl(dynamodb, sessions) == "already-enabled"
    assert ttl_of(dynamodb, SESSIONS) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_ttl_enabled_on_another_attribute_is_a_conflict_and_left_alone(
    dynamodb: Any, created_sessions: dict[str, Any], sessions: TableSpec
) -> None:
    dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})

    with pytest.raises(ResourceConflict, match="ttl"):
        ensure_ttl(dynamodb, sessions)

    assert ttl_of(dynamodb, SESSIONS) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_agent_learning_keeps_ttl_off(dynamodb: Any, desired: DesiredState, tags: dict[str, str]) -> None:
    spec = desired.table(LEARNING)
    create_or_adopt_table(dynamodb, spec, tags)

    assert ensure_ttl(dynamodb, spec) == "not-specified"
    assert ttl_of(dynamodb, LEARNING)["TimeToLiveStatus"] == "DISABLED"


def test_ensure_ttl_on_a_missing_table_is_a_conflict(dynamodb: Any, sessions: TableSpec) -> None:
    with pytest.raises(ResourceConflict, match=SESSIONS):
        ensure_ttl(dynamodb, sessions)

    assert not table_exists(dynamodb, SESSIONS)


# -- teardown -----------------------------------------------------------------------------


def test_teardown_backs_up_a_table_with_items_then_deletes_it(
    dynamodb: Any, existing_table: Callable[..., list[dict[str, Any]]]
) -> None:
    existing_table(SESSIONS, items=2)

    result = teardown_table(dynamodb, SESSIONS, "teardown-1")

    backups = dynamodb.list_backups(TableName=SESSIONS)["BackupSummaries"]
    assert [(b["BackupName"], b["BackupStatus"]) for b in backups] == [
        ("FileFerry-ActiveSessions-teardown-teardown-1", "AVAILABLE")
    ]
    assert result["backup_arn"] == backups[0]["BackupArn"]
    assert not table_exists(dynamodb, SESSIONS)


def test_teardown_deletes_an_empty_table_without_a_backup(dynamodb: Any, created_sessions: dict[str, Any]) -> None:
    result = teardown_table(dynamodb, SESSIONS, "teardown-1")

    assert result["backup_arn"] is None
    assert dynamodb.list_backups(TableName=SESSIONS)["BackupSummaries"] == []
    assert not table_exists(dynamodb, SESSIONS)


def test_teardown_reports_deletion_protection_and_keeps_the_table(
    dynamodb: Any, existing_table: Callable[..., list[dict[str, Any]]]
) -> None:
    existing_table(SESSIONS, items=2, DeletionProtectionEnabled=True)

    result = teardown_table(dynamodb, SESSIONS, "teardown-1")

    assert result["result"] == "deletion-protected"
    assert table_exists(dynamodb, SESSIONS)
    assert len(all_items(dynamodb, SESSIONS)) == 2


def test_teardown_of_a_missing_table_is_absent(dynamodb: Any) -> None:
    assert teardown_table(dynamodb, SESSIONS, "teardown-1")["result"] == "absent"
    assert dynamodb.list_tables()["TableNames"] == []
