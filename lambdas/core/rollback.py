"""Undo one execution: delete exactly what it created (by tag), restore what it changed."""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.aws_errors import as_provisioner_error
from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG, DesiredState
from lambdas.core.errors import PERMANENT_ERRORS, ResourceBusy, TableNotActive
from lambdas.core.observe import observe_role, observe_table
from lambdas.core.role import restore_role
from lambdas.core.steps import step

CREATE_STEP = step("create-or-adopt-table")


@dataclass
class RunChanges:
    """What a run changed on resources it did not create, as its step outputs recorded it.

    `role_previous` is EnsureRole's `previous` (what the run replaced on an existing role);
    `updated_tables` are tables it changed in place (billing mode / encryption);
    `ttl_enabled_tables` are tables on which it enabled TTL.
    """

    role_previous: dict[str, Any] = field(default_factory=dict)
    updated_tables: list[str] = field(default_factory=list)
    ttl_enabled_tables: list[str] = field(default_factory=list)
    # Tables whose CreateOrAdoptTable invocation had not returned when the run stopped recording it
    # (a failed Map stops its iterations, not the Lambda invocations they made), with when it began.
    creations_in_flight: dict[str, datetime.datetime] = field(default_factory=dict)
    unreadable: str | None = None  # why the run's history could not be read, if it could not


def execution_arn(function_arn: str, state_machine_name: str, execution_name: str) -> str:
    """The ARN of an execution of the provisioner's state machine (named after the provisioner).

    Derived from the calling function's own ARN: the state machine lives in the same
    partition, Region and account as the functions it invokes.
    """
    _, partition, _, region, account, *_ = function_arn.split(":")
    return f"arn:{partition}:states:{region}:{account}:execution:{state_machine_name}:{execution_name}"


def _json_field(text: str | None, key: str) -> Any:
    try:
        return json.loads(text or "{}").get(key)
    except (ValueError, AttributeError):
        return None


def _history(stepfunctions: Any, arn: str) -> list[dict[str, Any]]:
    return [
        event
        for page in stepfunctions.get_paginator("get_execution_history").paginate(executionArn=arn)
        for event in page["events"]
    ]


def _succeeded_payloads(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Lambda result (`Payload`) of every task the execution completed, oldest first."""
    payloads = []
    for event in events:
        payload = _json_field((event.get("taskSucceededEventDetails") or {}).get("output"), "Payload")
        if isinstance(payload, dict):
            payloads.append(payload)
    return payloads


def _creations_in_flight(events: list[dict[str, Any]]) -> dict[str, datetime.datetime]:
    """Tables whose create-or-adopt invocation was scheduled and never reported back."""
    by_id = {event["id"]: event for event in events}
    scheduled: dict[int, tuple[str, datetime.datetime]] = {}
    for event in events:
        parameters = (event.get("taskScheduledEventDetails") or {}).get("parameters")
        function = str(_json_field(parameters, "FunctionName") or "")
        payload = _json_field(parameters, "Payload")
        if function.endswith(f"-{CREATE_STEP.name}") and isinstance(payload, dict) and "table" in payload:
            scheduled[event["id"]] = (payload["table"], event["timestamp"])
    for event in events:
        if event["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
            started = by_id.get(event.get("previousEventId"), {})  # TaskStarted, which follows TaskScheduled
            scheduled.pop(started.get("previousEventId"), None)
            scheduled.pop(event.get("previousEventId"), None)
    return {table: at for table, at in scheduled.values()}


def changes_made_by(stepfunctions: Any, arn: str) -> RunChanges:
    """Read an execution's history for what it changed; an unreadable history is reported, not raised.

    Each step's output has its own shape: EnsureRole's alone carries `previous`;
    CreateOrAdoptTable's carries `table` + `outcome` + `status`; EnableTtl's `table` + `ttl`.
    """
    changes = RunChanges()
    try:
        events = _history(stepfunctions, arn)
    except ClientError as err:
        changes.unreadable = err.response.get("Error", {}).get("Code", "error")
        return changes
    changes.creations_in_flight = _creations_in_flight(events)
    for payload in _succeeded_payloads(events):
        if "previous" in payload and "role" in payload:
            changes.role_previous = payload.get("previous") or {}
        elif "table" in payload and payload.get("ttl") == "enabled":
            changes.ttl_enabled_tables.append(payload["table"])
        elif "table" in payload and payload.get("outcome") == "updated" and "status" in payload:
            changes.updated_tables.append(payload["table"])
    return changes


@dataclass
class RollbackReport:
    execution_name: str
    deleted: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    not_restored: list[str] = field(default_factory=list)
    not_deleted: list[str] = field(default_factory=list)  # created by the run, but AWS refused to delete them

    def summary(self) -> str:
        parts = [f"deleted {', '.join(self.deleted) or 'nothing'}"]
        if self.restored:
            parts.append(f"restored {', '.join(self.restored)}")
        if self.kept:
            parts.append(f"kept {', '.join(self.kept)} (not created by {self.execution_name})")
        if self.not_restored:
            parts.append(f"could not restore {', '.join(self.not_restored)}")
        if self.not_deleted:
            parts.append(f"COULD NOT DELETE {', '.join(self.not_deleted)}: delete by hand or re-run the rollback")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def created_by(tags: dict[str, str], desired: DesiredState, execution_name: str) -> bool:
    return tags.get(MANAGED_BY_TAG) == desired.provisioner_name and tags.get(CREATED_BY_TAG) == execution_name


def roll_back(
    dynamodb: Any,
    iam: Any,
    desired: DesiredState,
    execution_name: str,
    role_previous: dict[str, Any] | None = None,
    changes: RunChanges | None = None,
) -> RollbackReport:
    """Delete what `execution_name` created; restore (or list) what it changed on anything else.

    `role_previous`, when given, overrides `changes.role_previous` (the in-run rollback has it at hand).
    Idempotent: a retry after a partial rollback finishes the job.
    """
    changes = changes or RunChanges()
    if role_previous:
        changes.role_previous = role_previous
    report = RollbackReport(execution_name)
    if changes.unreadable:
        report.not_restored.append(f"changes to pre-existing resources (run history unreadable: {changes.unreadable})")
    for spec in desired.tables:
        observed = observe_table(dynamodb, spec.name, with_tags=True)
        resource = f"table/{spec.name}"
        if not observed.exists:
            began = changes.creations_in_flight.get(spec.name)
            if began is not None and _age_seconds(began) < CREATE_STEP.timeout_seconds:
                # Its CreateTable may still land; the state machine retries this step until it has
                # or the invocation has certainly ended, so no table outlives the rollback.
                raise TableNotActive(f"{resource} may still be being created by the failed run")
            continue
        if not created_by(observed.tags, desired, execution_name):
            report.kept.append(resource)
            # A pre-existing table is never deleted; what the run changed on it cannot be put back:
            # the run records no earlier billing/encryption settings, and AWS refuses another TTL
            # change within an hour of the last one.
            if spec.name in changes.updated_tables:
                report.not_restored.append(f"{resource} billing mode / encryption")
            if spec.name in changes.ttl_enabled_tables:
                report.not_restored.append(f"{resource} TTL (AWS allows one TTL change per hour)")
            continue
        if observed.status == "CREATING":
            # DeleteTable refuses a CREATING table; the state machine retries this step.
            raise TableNotActive(f"{resource} is still CREATING; it is deleted once ACTIVE")
        if observed.status != "DELETING":
            try:
                _delete_table(dynamodb, spec.name)
            except PERMANENT_ERRORS + (ClientError,) as err:
                # Keep going: the report must say what was and was not undone, and the run must
                # still fail with its original error, not with the rollback's.
                report.not_deleted.append(f"{resource} ({_reason(err)})")
                continue
        report.deleted.append(resource)
    _roll_back_role(iam, desired, execution_name, changes.role_previous, report)
    return report


def _reason(err: Exception) -> str:
    if isinstance(err, ClientError):
        return err.response.get("Error", {}).get("Code", "error")
    return type(err).__name__


def _age_seconds(moment: datetime.datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return (datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()


def _delete_table(dynamodb: Any, name: str) -> None:
    try:
        dynamodb.delete_table(TableName=name)
    except dynamodb.exceptions.ResourceNotFoundException:
        return
    except dynamodb.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"DeleteTable {name}: table is busy") from err
    except ClientError as err:
        raise as_provisioner_error(err, f"DeleteTable {name}") from err


def delete_role(iam: Any, name: str) -> bool:
    """Inline policies, then attached policies, then the role (IAM refuses another order)."""
    observed = observe_role(iam, name)
    if not observed.exists:
        return False
    try:
        for policy_name in observed.inline_policies:
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        for arn in observed.attached_policy_arns:
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        iam.delete_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return True
    except ClientError as err:
        raise as_provisioner_error(err, f"DeleteRole {name}") from err
    return True


def _roll_back_role(
    iam: Any, desired: DesiredState, execution_name: str, previous: dict[str, Any], report: RollbackReport
) -> None:
    spec = desired.role
    resource = f"role/{spec.name}"
    observed = observe_role(iam, spec.name)
    if not observed.exists:
        return
    if created_by(observed.tags, desired, execution_name):
        try:
            delete_role(iam, spec.name)
        except PERMANENT_ERRORS + (ClientError,) as err:
            report.not_deleted.append(f"{resource} ({_reason(err)})")
            return
        report.deleted.append(resource)
        return
    report.kept.append(resource)
    restored, not_restored = restore_role(iam, spec, previous)
    report.restored += [f"{resource} {item}" for item in restored]
    report.not_restored += [f"{resource} ({code})" for code in not_restored]


def original_error(error: dict[str, Any] | None) -> tuple[str, str]:
    """(error name, readable cause) from a Catch's `{"Error", "Cause"}`."""
    if not error:
        return "States.TaskFailed", "unknown failure"
    name = error.get("Error") or "States.TaskFailed"
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            cause = parsed["errorMessage"]
    except ValueError:
        pass
    return name, cause
