"""The emulator's clock: tests move it forward instead of waiting."""

import json
import urllib.error
import urllib.request

import pytest


def clock_control(emulator, advance=None):
    """GET /_fileferry/clock, or POST {"advance_seconds": advance} to it; the JSON answer."""
    url = f"{emulator.endpoint_url}/_fileferry/clock"
    if advance is None:
        request = urllib.request.Request(url)
    else:
        body = advance if isinstance(advance, bytes) else json.dumps({"advance_seconds": advance}).encode()
        request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def create_table(ddb, name):
    return ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]


def test_moving_the_clock_past_the_create_latency_makes_the_table_active(emulator, aws):
    emulator.set_create_latency(600)
    ddb = aws("dynamodb")
    assert create_table(ddb, "sessions")["TableStatus"] == "CREATING"

    clock_control(emulator, advance=601)

    assert ddb.describe_table(TableName="sessions")["Table"]["TableStatus"] == "ACTIVE"


def test_the_clock_reports_how_far_it_was_moved(emulator):
    before = clock_control(emulator)["offset_seconds"]

    after = clock_control(emulator, advance=3600)

    assert after["offset_seconds"] == before + 3600
    assert clock_control(emulator)["now"] >= after["now"]
    assert emulator.clock.offset_seconds == after["offset_seconds"]


@pytest.mark.parametrize("body", [
    b'{"advance_seconds": -1}', b'{"advance_seconds": NaN}', b'{"advance_seconds": true}',
    b'{"advance_seconds": "soon"}', b'{"advance_seconds": 1e12}', b'{"seconds": 5}', b"[5]",
])
def test_a_move_that_is_not_forward_seconds_is_refused_and_changes_nothing(emulator, body):
    before = clock_control(emulator)["offset_seconds"]

    with pytest.raises(urllib.error.HTTPError) as refused:
        clock_control(emulator, advance=body)

    assert refused.value.code == 400
    assert "advance_seconds" in json.load(refused.value)["error"]
    assert clock_control(emulator)["offset_seconds"] == before
