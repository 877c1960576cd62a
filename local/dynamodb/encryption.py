"""A table whose customer managed key is disabled or pending deletion becomes inaccessible, as on AWS.

AWS (DynamoDB API reference, TableDescription.TableStatus and SSEDescription): when the table's KMS key
is inaccessible the table's status is INACCESSIBLE_ENCRYPTION_CREDENTIALS ("Table operations may fail due
to failure to use the KMS key"), its SSEDescription's InaccessibleEncryptionDateTime says when DynamoDB
detected it, and both clear once the key is accessible again; after seven days AWS archives the table.
DynamoDB notices within minutes, not at once: the emulator marks the table KEY_DETECTION_SECONDS (of its
clock) after DisableKey / ScheduleKeyDeletion (local/kms/key_states.py), and from then on refuses the
table's item reads and writes. AWS does not document which error those get; the emulator answers
HTTP 400 ValidationException naming the key. EnableKey makes the table ACTIVE again at once.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from local import patching
from local.kms.key_states import unusable_since

KEY_DETECTION_SECONDS = 300.0
INACCESSIBLE = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
_ITEM_OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan")


def install() -> None:
    patching.wrap(Table, "describe", _describe)
    for operation in _ITEM_OPERATIONS:
        patching.wrap(DynamoDBBackend, operation, _refused_while_inaccessible)


def inaccessible_since(table: Any) -> float | None:
    """When DynamoDB detected that the table's customer managed key is unusable (emulator clock); None: usable."""
    emulator = patching.running_emulator()
    key_id = (getattr(table, "sse_specification", None) or {}).get("KMSMasterKeyId")
    if emulator is None or not key_id:
        return None
    from moto.kms.models import kms_backends

    try:
        key = kms_backends[table.account_id][table.region_name].describe_key(key_id)
    except Exception:  # an AWS-managed key moto does not hold, or a key deleted since
        return None
    since = unusable_since(key)
    if since is None or emulator.clock.time() < since + KEY_DETECTION_SECONDS:
        return None
    return since + KEY_DETECTION_SECONDS


def _describe(previous: Any, self: Table, *args: Any, **kwargs: Any) -> dict[str, Any]:
    description = previous(self, *args, **kwargs)
    detected = inaccessible_since(self)
    if detected is not None:
        for body in description.values():
            if body.get("TableStatus") == "ACTIVE":
                body["TableStatus"] = INACCESSIBLE
            if "SSEDescription" in body:
                body["SSEDescription"]["InaccessibleEncryptionDateTime"] = detected
    return description


def _refused_while_inaccessible(previous: Any, self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
    if patching.in_emulator_request():
        table = self.tables.get(table_name)
        if table is not None and inaccessible_since(table) is not None:
            key = table.sse_specification.get("KMSMasterKeyId")
            raise MockValidationException(
                f"The table's KMS key {key} is inaccessible (disabled or pending deletion); enable it to use the table")
    return previous(self, table_name, *args, **kwargs)
