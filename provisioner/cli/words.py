"""The words people read: the workflow's internal codes (outcomes, statuses, TTL results) in plain words.

Machine-readable output (--json, execution output) keeps the codes; what a person reads uses these.
"""

from __future__ import annotations

OUTCOMES = {
    "created": "created",
    "adopted": "already there, adopted",
    "updated": "updated in place",
    "refused": "refused: differs in a way that needs a new table",
}
TABLE_STATUSES = {
    "CREATING": "AWS is creating it",
    "ACTIVE": "active",
    "UPDATING": "AWS is updating it",
    "DELETING": "AWS is deleting it",
    "ARCHIVING": "AWS is archiving it",
    "ARCHIVED": "archived",
    "INACCESSIBLE_ENCRYPTION_CREDENTIALS": "unreadable: its KMS key is not accessible",
}
TTL_RESULTS = {
    "enabled": "TTL turned on",
    "already-enabled": "TTL on",
    "disabled": "TTL turned off",
    "not-specified": "no TTL (permanent table)",
    "deferred": "TTL change deferred: AWS allows one change an hour",
}
PITR_RESULTS = {  # "not-specified" (a table the config leaves without it) says nothing
    "enabled": "point-in-time recovery turned on",
    "already-enabled": "point-in-time recovery on",
}
TTL_STATUSES = {
    "ENABLED": "TTL on",
    "ENABLING": "TTL being turned on",
    "DISABLED": "no TTL",
    "DISABLING": "TTL being turned off",
}
TEARDOWN_RESULTS = {
    "deleted": "deleted",
    "absent": "was not there",
    "deletion-protected": "deletion-protected: kept",
    "backup-pending": "backed up; waiting for the backup to become available before deleting",
    "backup-not-available": "kept: its backup did not become available in time",
    "failed": "kept: teardown failed",
    "kept": "this Region's policy deleted; kept for the other Regions whose policies remain on it",
}
EXECUTION_STATUSES = {
    "RUNNING": "still running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed out",
    "ABORTED": "stopped (aborted)",
    "PENDING_REDRIVE": "failed, waiting to be redriven",
}


def _say(table: dict[str, str], code: object) -> str:
    return table.get(str(code), str(code).lower().replace("_", " ")) if code is not None else "unknown"


def outcome(code: object) -> str:
    return _say(OUTCOMES, code)


def table_status(code: object) -> str:
    return _say(TABLE_STATUSES, code)


def ttl_result(code: object) -> str:
    return _say(TTL_RESULTS, code)


def ttl_status(code: object, permanent: bool = False) -> str:
    """A table's observed TTL status; a table the spec keeps forever says so."""
    if permanent and code in (None, "DISABLED"):
        return TTL_RESULTS["not-specified"]
    return _say(TTL_STATUSES, code)


def teardown_result(code: object) -> str:
    return _say(TEARDOWN_RESULTS, code)


def execution_status(code: object) -> str:
    return _say(EXECUTION_STATUSES, code)
