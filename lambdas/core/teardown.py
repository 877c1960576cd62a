"""The spec's rollback instructions as a run: back up what holds data, then delete."""

from __future__ import annotations

import datetime
import re
from typing import Any

from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error
from lambdas.core.errors import ResourceBusy, TableNotActive
from lambdas.core.observe import observe_table
from lambdas.core.desired import RoleSpec
from lambdas.core.rollback import delete_lifting_protection, release_role


def backup_name(table: str, execution_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{table}-teardown-{execution_name}")[:255]


def _has_items(dynamodb: Any, table: str) -> bool:
    # ItemCount is refreshed only every few hours; a one-item scan is exact.
    page = dynamodb.scan(TableName=table, Limit=1, Select="COUNT")
    return page.get("Count", 0) > 0 or "LastEvaluatedKey" in page


def _age_seconds(moment: datetime.datetime) -> float:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
    return (datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()


def _backup(dynamodb: Any, table: str, name: str) -> dict[str, Any]:
    """This run's backup of `table` (BackupArn, BackupStatus, BackupCreationDateTime), created if it has none."""
    for page in dynamodb.get_paginator("list_backups").paginate(TableName=table):
        for backup in page.get("BackupSummaries", []):
            if backup["BackupName"] == name:
                return backup
    return dynamodb.create_backup(TableName=table, BackupName=name)["BackupDetails"]


def teardown_table(dynamodb: Any, table: str, execution_name: str, backup_wait_seconds: int = 1800,
                   lift_deletion_protection: bool = False) -> dict[str, Any]:
    """Back up a table that holds items, then delete it; a deletion-protected table is kept (and reported)
    unless `lift_deletion_protection`: then it is backed up like any other, and its protection lifted just
    before it is deleted.

    A table is deleted only once its backup is AVAILABLE. Until then the result is "backup-pending" (the
    state machine waits and asks again: waiting is not a failure); after `backup_wait_seconds` from the
    backup's creation, the table is kept and reported ("backup-not-available"), with the backup's ARN.
    """
    observed = observe_table(dynamodb, table)
    if not observed.exists:
        return {"table": table, "result": "absent", "backup_arn": None}
    if observed.deletion_protection and not lift_deletion_protection:
        return {"table": table, "result": DELETION_PROTECTED, "backup_arn": None}
    if observed.status == "DELETING":
        return {"table": table, "result": "deleted", "backup_arn": None}
    if observed.status != "ACTIVE":
        raise TableNotActive(f"table {table} is {observed.status}")
    try:
        backup = _backup(dynamodb, table, backup_name(table, execution_name)) if _has_items(dynamodb, table) else None
        if backup is not None and backup["BackupStatus"] != "AVAILABLE":
            waited = _age_seconds(backup["BackupCreationDateTime"])
            if waited < backup_wait_seconds:
                # Look again soon at first, then every 30 s: a long wait stays a few dozen history events.
                wait = int(min(BACKUP_POLL_MAX_SECONDS, max(BACKUP_POLL_MIN_SECONDS, waited / 2)))
                return {"table": table, "result": BACKUP_PENDING, "backup_arn": backup["BackupArn"], "wait_seconds": wait}
            return {"table": table, "result": "backup-not-available", "backup_arn": backup["BackupArn"]}
        # A protected table gets here only when the input lifts its protection; its backup, if any, is AVAILABLE.
        delete_lifting_protection(dynamodb, table)
    except dynamodb.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"table {table} is busy") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"teardown of table {table}") from err
    return {"table": table, "result": "deleted", "backup_arn": backup["BackupArn"] if backup else None,
            "protection_lifted": observed.deletion_protection}


BACKUP_PENDING = "backup-pending"
DELETION_PROTECTED = "deletion-protected"
BACKUP_POLL_MIN_SECONDS, BACKUP_POLL_MAX_SECONDS = 2, 30
LEFT_RESULTS = ("backup-not-available", "failed")


def teardown_summary(tables: list[dict[str, Any]]) -> dict[str, Any]:
    """What teardown left: `complete` unless a table was kept for a reason other than deletion protection."""
    left = [t for t in tables if t.get("result") in LEFT_RESULTS]
    parts = []
    for entry in left:
        why = "its backup is not AVAILABLE" if entry["result"] == "backup-not-available" else f"teardown failed ({entry.get('error')})"
        backup = f", backup {entry['backup_arn']}" if entry.get("backup_arn") else ""
        parts.append(f"table {entry['table']} is kept: {why}{backup}")
    cause = "; ".join(parts) + "; run teardown again to finish" if parts else ""
    kept = [{"table": entry["table"], "why": "deletion protection is on (teardown with "
             '"lift_deletion_protection": true deletes it, after its backup)'}
            for entry in tables if entry.get("result") == DELETION_PROTECTED]
    return {"complete": not left, "left": [entry["table"] for entry in left], "cause": cause, "kept": kept}


def teardown_role(iam: Any, spec: RoleSpec) -> dict[str, Any]:
    """The role is one per account, each Region's tables granted by that Region's inline policy: deleted with
    its policies when no other Region's FileFerryReadOnlyPolicy* is on it; otherwise only this Region's policy
    goes ("kept", naming the other Regions' policies that keep it)."""
    released = release_role(iam, spec)
    result: dict[str, Any] = {"role": spec.name, "result": released.result, "deleted_policies": released.deleted_policies}
    if released.result == "kept":
        result["other_regions_policies"] = released.other_regions_policies
        result["why"] = (f"the role still grants other Regions' tables ({', '.join(released.other_regions_policies)}); "
                         "a teardown in the last of them deletes it")
    return result
