"""The DynamoDB behaviours of real AWS that the emulator adds to moto."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError


def create_table(ddb, name):
    return ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]


def error_code(raised):
    return raised.value.response["Error"]["Code"]


def test_new_table_is_creating_until_the_latency_has_passed(emulator, aws):
    emulator.set_create_latency(3)  # long enough for a loaded CI machine
    ddb = aws("dynamodb")

    assert create_table(ddb, "sessions")["TableStatus"] == "CREATING"
    assert ddb.describe_table(TableName="sessions")["Table"]["TableStatus"] == "CREATING"
    assert ddb.list_tables()["TableNames"] == ["sessions"]
    with pytest.raises(ClientError) as ttl_refused:
        ddb.update_time_to_live(
            TableName="sessions",
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    assert error_code(ttl_refused) == "ResourceInUseException"
    with pytest.raises(ClientError) as delete_refused:
        ddb.delete_table(TableName="sessions")
    assert error_code(delete_refused) == "ResourceInUseException"

    ddb.get_waiter("table_exists").wait(
        TableName="sessions", WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    assert ddb.describe_table(TableName="sessions")["Table"]["TableStatus"] == "ACTIVE"
    ddb.update_time_to_live(
        TableName="sessions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


def test_without_latency_a_new_table_is_active_at_once(aws):
    ddb = aws("dynamodb")
    assert create_table(ddb, "users")["TableStatus"] == "ACTIVE"
    assert ddb.describe_table(TableName="users")["Table"]["TableStatus"] == "ACTIVE"


def test_latency_is_settable_over_http(emulator, aws):
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_fileferry/config",
        data=json.dumps({"create_latency": 30}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["create_latency"] == 30.0
    assert create_table(aws("dynamodb"), "audit")["TableStatus"] == "CREATING"


@pytest.mark.parametrize("latency", ["NaN", "-1", "1e9", '"soon"'])
def test_a_latency_that_is_not_seconds_is_refused_over_http_and_changes_nothing(emulator, aws, latency):
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_fileferry/config", data=f'{{"create_latency": {latency}}}'.encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)

    assert refused.value.code == 400
    assert "create latency must be a number of seconds" in refused.value.read().decode()
    assert create_table(aws("dynamodb"), "audit")["TableStatus"] == "ACTIVE"


def test_enabling_ttl_twice_is_refused_like_aws(aws):
    ddb = aws("dynamodb")
    create_table(ddb, "sessions")
    enable = {"Enabled": True, "AttributeName": "expires_at"}
    ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification=enable)

    with pytest.raises(ClientError) as refused:
        ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification=enable)

    assert error_code(refused) == "ValidationException"
    assert refused.value.response["Error"]["Message"] == "TimeToLive is already enabled"
    described = ddb.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"]
    assert described["TimeToLiveStatus"] in ("ENABLING", "ENABLED")
    assert described["AttributeName"] == "expires_at"


def test_ttl_on_a_missing_table_is_resource_not_found(aws):
    with pytest.raises(ClientError) as refused:
        aws("dynamodb").update_time_to_live(
            TableName="nope", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
        )
    assert error_code(refused) == "ResourceNotFoundException"


def test_create_table_on_an_existing_name_is_resource_in_use(aws):
    ddb = aws("dynamodb")
    create_table(ddb, "users")
    with pytest.raises(ClientError) as refused:
        create_table(ddb, "users")
    assert error_code(refused) == "ResourceInUseException"
