"""DynamoDB on-demand backups: CREATING for a while after CreateBackup, then AVAILABLE.

moto's backups are AVAILABLE at once.  AWS documents (DynamoDB API reference):
- CreateBackup: "the backup is created asynchronously ... Backup requests are processed
  instantaneously and become available for restore within minutes."  BackupStatus is CREATING,
  then AVAILABLE (BackupDetails / BackupSummary data types), as DescribeBackup and ListBackups show.
- BackupInUseException (CreateBackup, DeleteBackup): "There is another ongoing conflicting backup
  control plane operation on the table. The backup is either being created, deleted or restored to
  a table."  So a second CreateBackup of the table, DeleteBackup of the backup, or a restore from it
  is refused while it is CREATING.
- TableInUseException (CreateBackup): "A target table with the specified name is either being
  created or deleted."  So a table still CREATING cannot be backed up yet.
- Developer Guide, "Backing up a DynamoDB table": while a backup is in progress you cannot delete
  the source table of the backup; DeleteTable answers ResourceInUseException (its error for a table
  that is in use).
The emulator keeps a backup CREATING for `backup_latency` seconds of its clock.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import ResourceInUseException, ResourceNotFoundException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Backup

from local import patching
from local.dynamodb import tables as dynamodb_tables

_AVAILABLE_AT = "_fileferry_available_at"  # clock.monotonic() when the backup turns AVAILABLE


class BackupInUseException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("BackupInUseException", message)


class TableInUseException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("TableInUseException", message)


def install() -> None:
    # Backup.status is a plain attribute moto sets in __init__ and reads in details, summary and
    # description; a property (a data descriptor wins over the instance's dict) reports CREATING.
    patching.patch(Backup, "status", property(_backup_status, _set_backup_status))
    patching.wrap(DynamoDBBackend, "create_backup", _create_backup)
    patching.wrap(DynamoDBBackend, "delete_backup", _delete_backup)
    patching.wrap(DynamoDBBackend, "restore_table_from_backup", _restore_table_from_backup)
    patching.wrap(DynamoDBBackend, "delete_table", _delete_table)


def _is_creating(backup: Backup) -> bool:
    available_at = backup.__dict__.get(_AVAILABLE_AT)
    emulator = patching.running_emulator()
    return available_at is not None and emulator is not None and emulator.clock.monotonic() < available_at


def _backup_status(backup: Backup) -> str:
    status = backup.__dict__.get("status", "AVAILABLE")
    return "CREATING" if status == "AVAILABLE" and _is_creating(backup) else status


def _set_backup_status(backup: Backup, status: str) -> None:
    backup.__dict__["status"] = status


def _creating_backup_of(backend: DynamoDBBackend, table_name: str) -> Backup | None:
    return next(
        (backup for backup in backend.backups.values()
         if backup.table.name == table_name and _is_creating(backup)),
        None,
    )


def _create_backup(create_backup: Any, self: DynamoDBBackend, table_name: str, backup_name: str) -> Backup:
    if not patching.in_emulator_request():
        return create_backup(self, table_name, backup_name)
    try:
        table = self.get_table(table_name)
    except ResourceNotFoundException:
        table = None  # moto's create_backup answers TableNotFoundException
    if table is not None and dynamodb_tables.busy_status(table) == "CREATING":
        raise TableInUseException(f"Table is being created: {table.name}")
    if table is not None and _creating_backup_of(self, table.name) is not None:
        raise BackupInUseException(f"Backup is being created for table: {table_name}")
    backup = create_backup(self, table_name, backup_name)  # TableNotFoundException if absent
    emulator = patching.emulator()
    backup.__dict__[_AVAILABLE_AT] = emulator.clock.monotonic() + emulator.backup_latency
    return backup


def _delete_backup(delete_backup: Any, self: DynamoDBBackend, backup_arn: str) -> Backup:
    if patching.in_emulator_request() and _is_creating(self.get_backup(backup_arn)):
        raise BackupInUseException(f"Backup is being created: {backup_arn}")
    return delete_backup(self, backup_arn)


def _restore_table_from_backup(restore: Any, self: DynamoDBBackend, target_table_name: str,
                               backup_arn: str) -> Any:
    if patching.in_emulator_request() and _is_creating(self.get_backup(backup_arn)):
        raise BackupInUseException(f"Backup is being created: {backup_arn}")
    return restore(self, target_table_name, backup_arn)


def _delete_table(delete_table: Any, self: DynamoDBBackend, name: str) -> Any:
    if patching.in_emulator_request():
        table = self.get_table(name)  # ResourceNotFoundException if absent
        if _creating_backup_of(self, table.name) is not None:
            raise ResourceInUseException(
                f"Attempt to change a resource which is still in use: Table is being backed up: {table.name}"
            )
    return delete_table(self, name)
