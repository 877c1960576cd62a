"""Actions on the DynamoDB tables, each decided by the diff."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from typing import Any


from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error, error_code
from lambdas.core.desired import TableSpec
from lambdas.core.diff import NOT_FIXABLE_HERE, REFUSE, UPDATE, Difference, diff_table
from lambdas.core.errors import NotYetVisible, ResourceBusy, ResourceConflict, TableStillCreating
from lambdas.core.observe import continuous_backups, observe_table, observe_table_status


@dataclass(frozen=True)
class TableOutcome:
    table: str
    outcome: str  # created | adopted | updated | refused (remediate mode only)
    status: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def create_table_request(spec: TableSpec, tags: dict[str, str]) -> dict[str, Any]:
    keys = [{"AttributeName": spec.hash_key.name, "KeyType": "HASH"}]
    if spec.range_key:
        keys.append({"AttributeName": spec.range_key.name, "KeyType": "RANGE"})
    request: dict[str, Any] = {
        "TableName": spec.name,
        "AttributeDefinitions": spec.attribute_definitions(),
        "KeySchema": keys,
        "BillingMode": spec.billing_mode,
        "SSESpecification": _sse_specification(spec),
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        # Protected from the start; a rollback of the run that created it lifts this, then deletes.
        "DeletionProtectionEnabled": spec.deletion_protection,
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.hash_key.name, "KeyType": "HASH"}]
                + ([{"AttributeName": index.range_key.name, "KeyType": "RANGE"}] if index.range_key else []),
                "Projection": {"ProjectionType": index.projection},
            }
            for index in spec.indexes
        ]
    return request


def _sse_specification(spec: TableSpec) -> dict[str, Any]:
    sse: dict[str, Any] = {"Enabled": True, "SSEType": spec.sse_type}
    if spec.kms_key_id:
        sse["KMSMasterKeyId"] = spec.kms_key_id
    return sse


def _refusal(differences: list[Difference]) -> str:
    return "; ".join(str(difference) for difference in differences)


def create_or_adopt_table(client: Any, spec: TableSpec, tags: dict[str, str], remediate: bool = False) -> TableOutcome:
    """Create the table if it is missing; adopt it if it matches; update billing/SSE in place; refuse otherwise.

    A provisioning run refuses by raising ResourceConflict (the run rolls back). A remediating
    drift check instead returns outcome "refused" and leaves the table untouched, so the rest
    converges and the run reports the table: fixing it would need a new table, and data is never dropped.
    """
    observed = observe_table(client, spec.name)
    if not observed.exists:
        try:
            created = client.create_table(**create_table_request(spec, tags))["TableDescription"]
            return TableOutcome(spec.name, "created", created["TableStatus"])
        except client.exceptions.ResourceInUseException as err:
            # Created by someone else between our describe and create: judge it like any existing table.
            observed = observe_table(client, spec.name)
            if not observed.exists:
                raise NotYetVisible(f"CreateTable {spec.name}: it exists, but DescribeTable does not show it yet") from err
        except AWS_CALL_ERRORS as err:
            raise as_provisioner_error(err, f"CreateTable {spec.name}") from err
    # TTL is the await-table step's job, once the table is ACTIVE.
    every_difference = diff_table(spec, observed)
    # TTL and point-in-time recovery are the await-table step's job, once the table is ACTIVE.
    differences = [d for d in every_difference if d.property not in ("ttl", "status", "point_in_time_recovery")]
    refused = [d for d in differences if d.remedy in NOT_FIXABLE_HERE]
    if remediate:
        # A TTL on another attribute cannot move in place either: skip the table rather than fail in AwaitTable.
        if refused or any(d.property == "ttl" and d.remedy == REFUSE for d in every_difference):
            return TableOutcome(spec.name, "refused", observed.status or "UNKNOWN")
    if refused:
        raise ResourceConflict(f"table {spec.name} exists and differs: {_refusal(refused)}")
    updates = [d for d in differences if d.remedy == UPDATE]
    if not updates:
        return TableOutcome(spec.name, "adopted", observed.status or "UNKNOWN")
    if observed.status != "ACTIVE":
        raise ResourceBusy(f"table {spec.name} is {observed.status}; it must be ACTIVE to be updated")
    changes: dict[str, Any] = {}
    if any(d.property == "billing_mode" for d in updates):
        changes["BillingMode"] = spec.billing_mode
    if any(d.property in ("sse_type", "kms_key") for d in updates):
        changes["SSESpecification"] = _sse_specification(spec)
    if any(d.property == "deletion_protection" for d in updates):
        changes["DeletionProtectionEnabled"] = True
    try:
        updated = client.update_table(TableName=spec.name, **changes)["TableDescription"]
    except client.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"UpdateTable {spec.name}: table is busy") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"UpdateTable {spec.name}") from err
    return TableOutcome(spec.name, "updated", updated["TableStatus"])


@dataclass(frozen=True)
class TableProgress:
    """A table that is being provisioned, seen ACTIVE: what its TTL step found or did."""

    table: str
    outcome: str  # what CreateOrAdoptTable did: created | adopted | updated
    status: str  # always ACTIVE: a table that is not raises TableStillCreating
    ttl: str  # what ensure_ttl found or did
    ttl_change_possible_by: str | None = None  # when ttl is "deferred": by when AWS allows the change
    point_in_time_recovery: str = "not-specified"  # what ensure_point_in_time_recovery found or did

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def await_table(client: Any, spec: TableSpec, outcome: str, look: bool) -> TableProgress:
    """Once the table is ACTIVE, make its TTL what the spec says; until then raise TableStillCreating.

    With `look`, this is a poll: the table's status is read first, and a table that is not ACTIVE
    yet raises TableStillCreating, which the state machine retries with backoff (its poll retrier,
    bounded by provisioner.max_polls) and, after the last retry, catches as TableCreationTimeout
    (so the last one's message is the run's cause). Without
    `look`, CreateOrAdoptTable already saw the table ACTIVE, so the status is not read again
    (UpdateTimeToLive on a table that is no longer ACTIVE fails with ResourceInUse, which is
    ResourceBusy, retried by the state machine).
    """
    just_created = outcome == "created"
    if look:
        status = table_status(client, spec.name, just_created=just_created)
        if status != "ACTIVE":
            raise TableStillCreating(
                f"table {spec.name} is still {status}, not ACTIVE (it is looked at again at most provisioner.max_polls times)"
            )
    ttl = ensure_ttl(client, spec, just_created=just_created)
    possible_by = ttl_change_possible_by() if ttl == DEFERRED else None
    pitr = ensure_point_in_time_recovery(client, spec)
    return TableProgress(spec.name, outcome, "ACTIVE", ttl, possible_by, pitr)


def ensure_point_in_time_recovery(client: Any, spec: TableSpec) -> str:
    """Turn point-in-time recovery on (with the configured period) where the spec wants it; never off.

    Right after a table becomes ACTIVE, DynamoDB may refuse with ContinuousBackupsUnavailableException
    ("Backups have not yet been enabled for this table"): ResourceBusy, retried by the state machine.
    """
    if not spec.point_in_time_recovery:
        return "not-specified"
    described = continuous_backups(client, spec.name)
    if described.get("PointInTimeRecoveryStatus") == "ENABLED" and \
            described.get("RecoveryPeriodInDays", 35) == spec.recovery_period_days:
        return "already-enabled"
    try:
        client.update_continuous_backups(TableName=spec.name, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": spec.recovery_period_days})
    except (client.exceptions.ContinuousBackupsUnavailableException, client.exceptions.TableNotFoundException) as err:
        raise ResourceBusy(f"UpdateContinuousBackups {spec.name}: backups are not available for the table yet") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"UpdateContinuousBackups {spec.name}") from err
    return "enabled"


def table_status(client: Any, name: str, just_created: bool = False) -> str:
    """The table's status; a table that vanished while we waited for it is a conflict.

    Right after CreateTable, DescribeTable may answer ResourceNotFoundException (DescribeTable API
    reference: "If you issue a DescribeTable request immediately after a CreateTable request,
    DynamoDB might return a ResourceNotFoundException ... because DescribeTable uses an eventually
    consistent query"): for a table this run created, that is a table still being created, so the
    poll reports it as CREATING and the state machine looks again.
    """
    status = observe_table_status(client, name)
    if status is None:
        if just_created:
            return "CREATING"
        raise ResourceConflict(f"table {name} disappeared while waiting for it to become ACTIVE")
    return status


# UpdateTimeToLive API reference: "It can take up to one hour for the change to fully process. Any
# additional UpdateTimeToLive calls for the same table during this one hour duration result in a
# ValidationException." AWS's message for it:
TTL_HOUR_RULE_MESSAGE = "modified multiple times within a fixed interval"
TTL_CHANGE_INTERVAL = datetime.timedelta(hours=1)
TTL_TRANSITIONS = ("ENABLING", "DISABLING")
DEFERRED = "deferred"


def ttl_change_possible_by(now: datetime.datetime | None = None) -> str:
    """When a TTL change AWS refuses under the one-hour rule becomes possible, at the latest (ISO 8601, UTC)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (now + TTL_CHANGE_INTERVAL).replace(microsecond=0).isoformat()


def ensure_ttl(client: Any, spec: TableSpec, just_created: bool = False) -> str:
    """Make the table's TTL what the spec says; returns what it found or did.

    "deferred": AWS allows one TTL change per table per hour, and refuses the next one (or any change
    while the last is ENABLING/DISABLING) with ValidationException; the change waits for the next run,
    and nothing else is rolled back for it.
    """
    observed = observe_table(client, spec.name)
    if not observed.exists:
        if just_created:
            raise NotYetVisible(f"table {spec.name} was created but DescribeTable does not show it yet")
        raise ResourceConflict(f"table {spec.name} does not exist")
    difference = next((d for d in diff_table(spec, observed) if d.property == "ttl"), None)
    if difference is None:
        return "already-enabled" if spec.ttl_attribute else "not-specified"
    if difference.remedy == REFUSE:
        raise ResourceConflict(str(difference))
    if observed.ttl_status in TTL_TRANSITIONS:
        return DEFERRED  # the last change is still being processed: the hour has not passed
    enable = spec.ttl_attribute is not None
    attribute = spec.ttl_attribute or observed.ttl_attribute
    try:
        client.update_time_to_live(
            TableName=spec.name, TimeToLiveSpecification={"Enabled": enable, "AttributeName": attribute}
        )
    except client.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"UpdateTimeToLive {spec.name}: table is not ACTIVE yet") from err
    except AWS_CALL_ERRORS as err:
        message = str(err)
        if error_code(err) == "ValidationException" and TTL_HOUR_RULE_MESSAGE in message:
            return DEFERRED
        if enable and error_code(err) == "ValidationException" and "already enabled" in message:
            return "already-enabled"  # enabled by someone else since we looked
        raise as_provisioner_error(err, f"UpdateTimeToLive {spec.name}") from err
    return "enabled" if enable else "disabled"
