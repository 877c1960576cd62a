"""The thin Lambda handlers run end to end in-process: packaged desired state, powertools, boto3 against moto."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FakeLambdaContext
from fileferry_aws import table_exists, table_tags, ttl_of

from lambdas.core.desired import CREATED_BY_TAG
from lambdas.core.errors import ResourceConflict
from lambdas.handlers import await_table, create_or_adopt_table, teardown_table

SESSIONS = "FileFerry-ActiveSessions"


def test_create_or_adopt_table_handler_creates_the_table_tagged_with_the_execution(
    dynamodb: Any, packaged: Any, context: FakeLambdaContext
) -> None:
    output = create_or_adopt_table.handler({"table": SESSIONS, "execution_name": "exec-1"}, context)

    assert output["outcome"] == "created"
    table = dynamodb.describe_table(TableName=SESSIONS)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "session_token", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table_tags(dynamodb, SESSIONS)[CREATED_BY_TAG] == "exec-1"


def test_the_poll_that_sees_the_table_active_enables_its_ttl(dynamodb: Any, packaged: Any, context: FakeLambdaContext) -> None:
    create_or_adopt_table.handler({"table": SESSIONS, "execution_name": "exec-1"}, context)

    output = await_table.handler({"table": SESSIONS, "execution_name": "exec-1", "outcome": "created", "look": True}, context)

    assert output == {"table": SESSIONS, "outcome": "created", "status": "ACTIVE", "ttl": "enabled", "ttl_change_possible_by": None,
                      "point_in_time_recovery": "not-specified"}  # ActiveSessions: off by default
    assert ttl_of(dynamodb, SESSIONS) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_a_table_that_holds_records_is_created_protected_and_gets_point_in_time_recovery_once_active(
    dynamodb: Any, packaged: Any, context: FakeLambdaContext
) -> None:
    table = "FileFerry-UserContext"
    create_or_adopt_table.handler({"table": table, "execution_name": "exec-1"}, context)

    output = await_table.handler({"table": table, "execution_name": "exec-1", "outcome": "created", "look": True}, context)
    again = await_table.handler({"table": table, "execution_name": "exec-1", "outcome": "created", "look": True}, context)

    assert (output["point_in_time_recovery"], again["point_in_time_recovery"]) == ("enabled", "already-enabled")
    assert dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    pitr = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert (pitr["PointInTimeRecoveryStatus"], pitr["RecoveryPeriodInDays"]) == ("ENABLED", 35)
    sessions = create_or_adopt_table.handler({"table": SESSIONS, "execution_name": "exec-1"}, context)
    assert sessions["outcome"] == "created"
    assert dynamodb.describe_table(TableName=SESSIONS)["Table"]["DeletionProtectionEnabled"] is False


def test_an_adopted_active_table_gets_its_ttl_without_a_poll(dynamodb: Any, packaged: Any, context: FakeLambdaContext) -> None:
    create_or_adopt_table.handler({"table": SESSIONS, "execution_name": "exec-1"}, context)
    await_table.handler({"table": SESSIONS, "execution_name": "exec-1", "outcome": "created", "look": True}, context)

    output = await_table.handler({"table": SESSIONS, "execution_name": "exec-2", "outcome": "adopted"}, context)

    assert output == {"table": SESSIONS, "outcome": "adopted", "status": "ACTIVE", "ttl": "already-enabled", "ttl_change_possible_by": None,
                      "point_in_time_recovery": "not-specified"}
    assert ttl_of(dynamodb, SESSIONS) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_create_or_adopt_table_handler_raises_the_step_functions_error_on_a_conflict(
    dynamodb: Any, packaged: Any, context: FakeLambdaContext
) -> None:
    dynamodb.create_table(
        TableName=SESSIONS,
        AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )

    with pytest.raises(ResourceConflict):
        create_or_adopt_table.handler({"table": SESSIONS, "execution_name": "exec-1"}, context)

    assert dynamodb.describe_table(TableName=SESSIONS)["Table"]["KeySchema"][0]["AttributeName"] == "token"


def test_teardown_table_handler_deletes_the_table(dynamodb: Any, packaged: Any, context: FakeLambdaContext) -> None:
    create_or_adopt_table.handler({"table": SESSIONS, "execution_name": "exec-1"}, context)

    output = teardown_table.handler({"table": SESSIONS, "execution_name": "teardown-1"}, context)

    assert output["result"] == "deleted"
    assert not table_exists(dynamodb, SESSIONS)
