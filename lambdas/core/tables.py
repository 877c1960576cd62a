"""Actions on the DynamoDB tables, each decided by the diff."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.aws_errors import as_provisioner_error
from lambdas.core.desired import TableSpec
from lambdas.core.diff import REFUSE, UPDATE, Difference, diff_table
from lambdas.core.errors import ResourceBusy, ResourceConflict
from lambdas.core.observe import observe_table, observe_table_status


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
        except client.exceptions.ResourceInUseException:
            # Created by someone else between our describe and create: judge it like any existing table.
            observed = observe_table(client, spec.name)
        except ClientError as err:
            raise as_provisioner_error(err, f"CreateTable {spec.name}") from err
    # TTL is the enable-ttl step's job, once the table is ACTIVE.
    every_difference = diff_table(spec, observed)
    differences = [d for d in every_difference if d.property not in ("ttl", "status")]
    refused = [d for d in differences if d.remedy == REFUSE]
    if remediate:
        # A TTL on another attribute cannot move in place either: skip the table rather than fail in EnableTtl.
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
    try:
        updated = client.update_table(TableName=spec.name, **changes)["TableDescription"]
    except client.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"UpdateTable {spec.name}: table is busy") from err
    except ClientError as err:
        raise as_provisioner_error(err, f"UpdateTable {spec.name}") from err
    return TableOutcome(spec.name, "updated", updated["TableStatus"])


def table_status(client: Any, name: str) -> str:
    """The table's status; a table that vanished while we waited for it is a conflict."""
    status = observe_table_status(client, name)
    if status is None:
        raise ResourceConflict(f"table {name} disappeared while waiting for it to become ACTIVE")
    return status


def ensure_ttl(client: Any, spec: TableSpec) -> str:
    """Make the table's TTL what the spec says; returns what it found or did."""
    observed = observe_table(client, spec.name)
    if not observed.exists:
        raise ResourceConflict(f"table {spec.name} does not exist")
    difference = next((d for d in diff_table(spec, observed) if d.property == "ttl"), None)
    if difference is None:
        return "already-enabled" if spec.ttl_attribute else "not-specified"
    if difference.remedy == REFUSE:
        raise ResourceConflict(str(difference))
    enable = spec.ttl_attribute is not None
    attribute = spec.ttl_attribute or observed.ttl_attribute
    try:
        client.update_time_to_live(
            TableName=spec.name, TimeToLiveSpecification={"Enabled": enable, "AttributeName": attribute}
        )
    except client.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"UpdateTimeToLive {spec.name}: table is not ACTIVE yet") from err
    except ClientError as err:
        message = err.response.get("Error", {}).get("Message", "")
        if enable and err.response.get("Error", {}).get("Code") == "ValidationException" and "already enabled" in message:
            return "already-enabled"  # enabled by someone else since we looked
        raise as_provisioner_error(err, f"UpdateTimeToLive {spec.name}") from err
    return "enabled" if enable else "disabled"
