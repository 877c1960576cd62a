"""AWS's timing rules for DynamoDB, always on: TTL transitions and its hour rule, UPDATING, backups.

Time is moved with the emulator's clock (POST /_fileferry/clock), never waited for.
"""

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

ENABLE = {"Enabled": True, "AttributeName": "expires_at"}
DISABLE = {"Enabled": False, "AttributeName": "expires_at"}
HOUR_RULE = "Time to live has been modified multiple times within a fixed interval"


def advance_clock(emulator, seconds):
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_fileferry/clock",
        data=json.dumps({"advance_seconds": seconds}).encode(), method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def post_config(emulator, body):
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_fileferry/config", data=body.encode(), method="POST"
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def get_config(emulator):
    with urllib.request.urlopen(f"{emulator.endpoint_url}/_fileferry/config") as response:
        return json.load(response)


def refused(call, **kwargs):
    """The (code, message) AWS refused the call with."""
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture
def ddb(aws):
    return aws("dynamodb")


@pytest.fixture
def table(ddb):
    """An ACTIVE table named "sessions"."""
    ddb.create_table(
        TableName="sessions",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert ddb.describe_table(TableName="sessions")["Table"]["TableStatus"] == "ACTIVE"
    return "sessions"


def ttl_status(ddb, table):
    return ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"]


def test_ttl_is_enabling_then_enabled(emulator, ddb, table):
    emulator.configure(ttl_latency=600)

    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=ENABLE)
    assert ttl_status(ddb, table) == "ENABLING"

    advance_clock(emulator, 601)
    described = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_a_second_ttl_change_within_the_hour_is_refused_until_the_hour_has_passed(emulator, ddb, table):
    emulator.configure(ttl_latency=60)
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=ENABLE)
    advance_clock(emulator, 61)  # ENABLED now, but the hour is not over
    assert ttl_status(ddb, table) == "ENABLED"

    assert refused(ddb.update_time_to_live, TableName=table, TimeToLiveSpecification=DISABLE) == (
        "ValidationException", HOUR_RULE
    )
    assert ttl_status(ddb, table) == "ENABLED"  # the refused call changed nothing

    advance_clock(emulator, 3600)
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=DISABLE)
    assert ttl_status(ddb, table) == "DISABLING"
    advance_clock(emulator, 61)
    assert ttl_status(ddb, table) == "DISABLED"


def test_enabling_ttl_while_it_is_enabling_is_already_enabled(emulator, ddb, table):
    emulator.configure(ttl_latency=600)
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=ENABLE)

    assert refused(ddb.update_time_to_live, TableName=table, TimeToLiveSpecification=ENABLE) == (
        "ValidationException", "TimeToLive is already enabled"
    )


def test_update_table_makes_the_table_updating_until_the_latency_has_passed(emulator, ddb, table):
    emulator.set_create_latency(600)

    updated = ddb.update_table(TableName=table, DeletionProtectionEnabled=True)["TableDescription"]
    assert updated["TableStatus"] == "UPDATING"
    assert ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "UPDATING"
    for call, kwargs in [
        (ddb.update_table, {"DeletionProtectionEnabled": False}),
        (ddb.update_time_to_live, {"TimeToLiveSpecification": ENABLE}),
        (ddb.delete_table, {}),
    ]:
        code, message = refused(call, TableName=table, **kwargs)
        assert code == "ResourceInUseException"
        assert "Table is being updated" in message

    advance_clock(emulator, 601)
    described = ddb.describe_table(TableName=table)["Table"]
    assert described["TableStatus"] == "ACTIVE"
    assert described["DeletionProtectionEnabled"] is True


def test_a_backup_is_creating_then_available(emulator, ddb, table):
    emulator.configure(backup_latency=600)

    created = ddb.create_backup(TableName=table, BackupName="before-teardown")["BackupDetails"]
    arn = created["BackupArn"]
    assert created["BackupStatus"] == "CREATING"
    assert ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"] == "CREATING"
    assert [b["BackupStatus"] for b in ddb.list_backups(TableName=table)["BackupSummaries"]] == ["CREATING"]

    advance_clock(emulator, 601)
    assert ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    assert [b["BackupStatus"] for b in ddb.list_backups(TableName=table)["BackupSummaries"]] == ["AVAILABLE"]


def test_while_a_backup_is_creating_its_table_and_it_cannot_be_deleted_nor_backed_up_again(emulator, ddb, table):
    emulator.configure(backup_latency=600)
    arn = ddb.create_backup(TableName=table, BackupName="first")["BackupDetails"]["BackupArn"]

    assert refused(ddb.create_backup, TableName=table, BackupName="second")[0] == "BackupInUseException"
    assert refused(ddb.delete_backup, BackupArn=arn)[0] == "BackupInUseException"
    assert refused(ddb.delete_table, TableName=table)[0] == "ResourceInUseException"
    assert ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    assert len(ddb.list_backups(TableName=table)["BackupSummaries"]) == 1

    advance_clock(emulator, 601)
    ddb.delete_table(TableName=table)
    assert ddb.list_tables()["TableNames"] == []
    assert ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"] == "AVAILABLE"


def test_timing_settings_are_read_and_set_over_http(emulator, ddb, table):
    assert post_config(emulator, '{"backup_latency": 600, "ttl_latency": 30}').items() >= {
        "create_latency": 0.0, "backup_latency": 600.0, "ttl_latency": 30.0,
    }.items()
    assert get_config(emulator)["backup_latency"] == 600.0
    assert ddb.create_backup(TableName=table, BackupName="nightly")["BackupDetails"]["BackupStatus"] == "CREATING"


@pytest.mark.parametrize("body", [
    '{"backup_latency": NaN}', '{"ttl_latency": -1}', '{"backup_latency": 3601}', '{"ttl_latency": null}',
    '{"ttl_latency": 5, "backup_latency": "soon"}', '{"backup_latency": 5, "latency": 5}', "[1]",
])
def test_a_bad_timing_setting_is_refused_over_http_and_changes_nothing(emulator, body):
    before = get_config(emulator)

    with pytest.raises(urllib.error.HTTPError) as raised:
        post_config(emulator, body)

    assert raised.value.code == 400
    assert json.load(raised.value)["error"]
    assert get_config(emulator) == before


def test_a_table_still_creating_cannot_be_backed_up(emulator, ddb):
    emulator.set_create_latency(600)
    ddb.create_table(
        TableName="audit",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    assert refused(ddb.create_backup, TableName="audit", BackupName="too-early")[0] == "TableInUseException"
    assert ddb.list_backups(TableName="audit")["BackupSummaries"] == []

    advance_clock(emulator, 601)
    assert ddb.create_backup(TableName="audit", BackupName="in-time")["BackupDetails"]["BackupStatus"] == "CREATING"
