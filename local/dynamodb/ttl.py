"""DynamoDB Time to Live: ENABLING/DISABLING before ENABLED/DISABLED, and one change an hour.

AWS (DynamoDB API reference, UpdateTimeToLive): "It can take up to one hour for the change to fully
process. Any additional UpdateTimeToLive calls for the same table during this one hour duration
result in a ValidationException."  The message AWS sends is "Time to live has been modified multiple
times within a fixed interval" (as reported by users, e.g. the Terraform AWS provider's
internal/service/dynamodb/table_test.go: "TTL tests must be split since it can only be updated once
per hour").  TimeToLiveDescription.TimeToLiveStatus (API reference, data types) is one of ENABLING,
DISABLING, ENABLED, DISABLED.  AWS also refuses to enable TTL that is enabled ("TimeToLive is already
enabled") and to disable it when disabled; moto accepts both.

The emulator shows ENABLING/DISABLING for `ttl_latency` seconds of its clock, and refuses a second
change for an hour of its clock (POST /_fileferry/clock moves it on).  A refused call changes nothing.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend

from local import patching
from local.dynamodb import tables as dynamodb_tables

# AWS's fixed interval between two changes of one table's TTL (UpdateTimeToLive API reference).
CHANGE_INTERVAL_SECONDS = 3600
_LAST_CHANGE = "_fileferry_ttl_changed"  # clock.monotonic() of the last accepted change
_TRANSITIONS = {"ENABLED": "ENABLING", "DISABLED": "DISABLING"}


def install() -> None:
    patching.patch(DynamoDBBackend, "update_time_to_live", _update_time_to_live)
    patching.patch(DynamoDBBackend, "describe_time_to_live", _describe_time_to_live)


def _status(table: Any) -> str:
    """The TTL status AWS would report now: moto's settled status, or its transition."""
    settled = table.ttl.get("TimeToLiveStatus", "DISABLED")
    changed = getattr(table, _LAST_CHANGE, None)
    emulator = patching.running_emulator()
    if changed is not None and emulator is not None and emulator.clock.monotonic() - changed < emulator.ttl_latency:
        return _TRANSITIONS.get(settled, settled)
    return settled


def _update_time_to_live(self: DynamoDBBackend, table_name: str, ttl_spec: dict[str, Any]) -> None:
    update = patching.original(DynamoDBBackend, "update_time_to_live")
    if not patching.in_emulator_request():
        return update(self, table_name, ttl_spec)
    # A missing table: ResourceNotFoundException (moto would say "ResourceNotFound").
    dynamodb_tables.refuse_while_busy(self, table_name)
    table = self.get_table(table_name)
    current = _status(table)
    if ttl_spec.get("Enabled") is True and current in ("ENABLED", "ENABLING"):
        raise MockValidationException("TimeToLive is already enabled")
    if ttl_spec.get("Enabled") is False and current in ("DISABLED", "DISABLING"):
        raise MockValidationException("TimeToLive is already disabled")
    now = patching.emulator().clock.monotonic()
    changed = getattr(table, _LAST_CHANGE, None)
    if changed is not None and now - changed < CHANGE_INTERVAL_SECONDS:
        raise MockValidationException("Time to live has been modified multiple times within a fixed interval")
    update(self, table_name, ttl_spec)
    setattr(table, _LAST_CHANGE, now)


def _describe_time_to_live(self: DynamoDBBackend, table_name: str) -> dict[str, Any]:
    describe = patching.original(DynamoDBBackend, "describe_time_to_live")
    if not patching.in_emulator_request():
        return describe(self, table_name)
    table = self.get_table(table_name)  # AWS: ResourceNotFoundException, not moto's "ResourceNotFound"
    description = dict(describe(self, table_name))
    description["TimeToLiveStatus"] = _status(table)
    return description
