"""DynamoDB point-in-time recovery as AWS answers it: not before a new table's continuous backups exist.

AWS (DynamoDB API reference, UpdateContinuousBackups): continuous backups are enabled for a table shortly
after it is created; until then UpdateContinuousBackups fails with ContinuousBackupsUnavailableException
("Backups have not yet been enabled for this table"), HTTP 400. moto enables point-in-time recovery on a
table at once, even one still CREATING. The emulator refuses while the table is CREATING (its
`create_latency`, local/dynamodb/tables.py), as AWS does for a table that is not ready yet.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models import DynamoDBBackend

from local import patching
from local.dynamodb.tables import busy_status


class ContinuousBackupsUnavailable(DynamodbException):
    def __init__(self) -> None:
        super().__init__("ContinuousBackupsUnavailableException", "Backups have not yet been enabled for this table")


def install() -> None:
    patching.wrap(DynamoDBBackend, "update_continuous_backups", _update_continuous_backups)


def _update_continuous_backups(update: Any, self: DynamoDBBackend, table_name: str, point_in_time_spec: dict[str, Any]
                               ) -> dict[str, Any]:
    if patching.in_emulator_request():
        table = self.get_table(table_name)
        if busy_status(table) == "CREATING":
            raise ContinuousBackupsUnavailable()
    return update(self, table_name, point_in_time_spec)
