"""DynamoDB table status: CREATING after CreateTable, UPDATING after UpdateTable, then ACTIVE.

moto's tables are ACTIVE at once.  AWS documents (DynamoDB API reference):
- CreateTable: "CreateTable is an asynchronous operation. Upon receiving a CreateTable request,
  DynamoDB immediately returns a response with a TableStatus of CREATING. After the table is
  created, DynamoDB sets the TableStatus to ACTIVE."
- UpdateTable: "UpdateTable is an asynchronous operation; while it's executing, the table status
  changes from ACTIVE to UPDATING. While it's UPDATING, you can't issue another UpdateTable request."
- DeleteTable: "If a table is in CREATING or UPDATING states, then DynamoDB returns a
  ResourceInUseException."
- ResourceInUseException (UpdateTimeToLive lists it too): "You tried to update a resource that was
  already being updated."
The emulator keeps a table CREATING, or UPDATING, for `create_latency` seconds of its clock.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ResourceInUseException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from local import patching

_BUSY = "_fileferry_busy"  # (status, clock.monotonic() when it turns ACTIVE)
_REFUSALS = {"CREATING": "Table is being created", "UPDATING": "Table is being updated"}


def install() -> None:
    patching.patch(Table, "describe", _table_describe)
    patching.wrap(DynamoDBBackend, "create_table", _create_table)
    patching.wrap(DynamoDBBackend, "update_table", _update_table)
    patching.wrap(DynamoDBBackend, "delete_table", _delete_table)


def busy_status(table: Any) -> str | None:
    """CREATING or UPDATING while the table is not yet ACTIVE again; None once it is."""
    busy = getattr(table, _BUSY, None)
    emulator = patching.running_emulator()
    if busy is None or emulator is None:
        return None
    status, until = busy
    return status if emulator.clock.monotonic() < until else None


def refuse_while_busy(backend: DynamoDBBackend, table_name: str) -> None:
    """ResourceInUseException while the table is CREATING or UPDATING (ResourceNotFound if absent)."""
    table = backend.get_table(table_name)
    status = busy_status(table)
    if status is not None:
        raise ResourceInUseException(
            f"Attempt to change a resource which is still in use: {_REFUSALS[status]}: {table.name}"
        )


def _mark_busy(table: Any, status: str) -> None:
    emulator = patching.emulator()
    setattr(table, _BUSY, (status, emulator.clock.monotonic() + emulator.create_latency))


def _table_describe(self: Table, *args: Any, **kwargs: Any) -> dict[str, Any]:
    description = patching.original(Table, "describe")(self, *args, **kwargs)
    status = busy_status(self)
    if status is not None:
        for body in description.values():
            body["TableStatus"] = status
    return description


def _create_table(create_table: Any, self: DynamoDBBackend, name: str, *args: Any, **kwargs: Any) -> Table:
    table = create_table(self, name, *args, **kwargs)
    if patching.in_emulator_request():
        _mark_busy(table, "CREATING")
    return table


def _update_table(update_table: Any, self: DynamoDBBackend, name: str, *args: Any, **kwargs: Any) -> Table:
    if not patching.in_emulator_request():
        return update_table(self, name, *args, **kwargs)
    refuse_while_busy(self, name)
    table = update_table(self, name, *args, **kwargs)
    _mark_busy(table, "UPDATING")
    return table


def _delete_table(delete_table: Any, self: DynamoDBBackend, name: str) -> Table:
    if patching.in_emulator_request():
        refuse_while_busy(self, name)
    return delete_table(self, name)
