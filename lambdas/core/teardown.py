"""The spec's rollback instructions as a run: back up what holds data, then delete."""

from __future__ import annotations

import re
from typing import Any


from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error
from lambdas.core.errors import ResourceBusy, TableNotActive
from lambdas.core.observe import observe_table
from lambdas.core.rollback import delete_role


def backup_name(table: str, execution_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{table}-teardown-{execution_name}")[:255]


def _has_items(dynamodb: Any, table: str) -> bool:
    # ItemCount is refreshed only every few hours; a one-item scan is exact.
    page = dynamodb.scan(TableName=table, Limit=1, Select="COUNT")
    return page.get("Count", 0) > 0 or "LastEvaluatedKey" in page


def _available_backup(dynamodb: Any, table: str, name: str) -> str:
    """The ARN of this run's backup of `table`, created if needed; ResourceBusy until it is AVAILABLE."""
    for page in dynamodb.get_paginator("list_backups").paginate(TableName=table):
        for backup in page.get("BackupSummaries", []):
            if backup["BackupName"] == name:
                if backup["BackupStatus"] != "AVAILABLE":
                    raise ResourceBusy(f"backup {name} is {backup['BackupStatus']}")
                return backup["BackupArn"]
    details = dynamodb.create_backup(TableName=table, BackupName=name)["BackupDetails"]
    if details["BackupStatus"] != "AVAILABLE":
        raise ResourceBusy(f"backup {name} is {details['BackupStatus']}")
    return details["BackupArn"]


def teardown_table(dynamodb: Any, table: str, execution_name: str) -> dict[str, Any]:
    """Back up a table that holds items, then delete it; deletion protection is reported, not forced."""
    observed = observe_table(dynamodb, table)
    if not observed.exists:
        return {"table": table, "result": "absent", "backup_arn": None}
    if observed.deletion_protection:
        return {"table": table, "result": "deletion-protected", "backup_arn": None}
    if observed.status == "DELETING":
        return {"table": table, "result": "deleted", "backup_arn": None}
    if observed.status != "ACTIVE":
        raise TableNotActive(f"table {table} is {observed.status}")
    try:
        backup_arn = _available_backup(dynamodb, table, backup_name(table, execution_name)) if _has_items(dynamodb, table) else None
        dynamodb.delete_table(TableName=table)
    except dynamodb.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"table {table} is busy") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"teardown of table {table}") from err
    return {"table": table, "result": "deleted", "backup_arn": backup_arn}


def teardown_role(iam: Any, role: str) -> dict[str, Any]:
    return {"role": role, "result": "deleted" if delete_role(iam, role) else "absent"}
