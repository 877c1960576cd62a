"""Undo one execution: delete exactly what it created, restore what it changed.

The ledger of what a run created is first its own execution history (what its steps reported
created, and create steps still in flight when it stopped), then the `fileferry:created-by` tag:
AWS documents ListTagsOfResource and IAM reads as eventually consistent, so a tag read right after
the run may not show what the run just did.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error, error_code, reason
from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG, DesiredState, RoleSpec, created_by_value
from lambdas.core.diff import is_read_only_policy, other_regions_policies
from lambdas.core.errors import (
    PERMANENT_ERRORS,
    CreationInFlight,
    NotYetVisible,
    ProvisionerError,
    ResourceBusy,
    TableNotActive,
)
from lambdas.core.observe import ObservedRole, list_table_tags, observe_role, observe_table
from lambdas.core.role import restore_role
from lambdas.core.steps import step

CREATE_STEP = step("create-or-adopt-table")
ROLE_STEP = step("ensure-role")


@dataclass
class StepRecord:
    """What a run's history says about one create step (CreateOrAdoptTable for a table, or EnsureRole)."""

    first_scheduled: datetime.datetime
    failed_attempts: int = 0
    outcome: dict[str, Any] | None = None  # the Lambda payload of the attempt that succeeded
    in_flight_since: datetime.datetime | None = None  # an attempt that never reported back, and when it began


@dataclass
class RunChanges:
    """What a run created and changed, as its execution history recorded it.

    `history_read` is False when the history was not consulted (or could not be read): then the
    tags alone decide. `tables` / `role` hold what the create steps reported, per table and for the
    role; `role_previous` is EnsureRole's `previous` (what the run replaced on an existing role);
    `updated_tables` are tables it changed in place (billing mode / encryption);
    `ttl_enabled_tables` are tables on which it enabled TTL.
    """

    role_previous: dict[str, Any] = field(default_factory=dict)
    updated_tables: list[str] = field(default_factory=list)
    ttl_enabled_tables: list[str] = field(default_factory=list)
    history_read: bool = False
    tables: dict[str, StepRecord] = field(default_factory=dict)
    role: StepRecord | None = None
    unreadable: str | None = None  # why the run's history could not be read, if it could not

    @property
    def creations_in_flight(self) -> dict[str, datetime.datetime]:
        """Tables whose CreateOrAdoptTable invocation had not reported back when the run stopped recording it
        (a failed Map stops its iterations, not the Lambda invocations they made), with when it began."""
        return {name: record.in_flight_since for name, record in self.tables.items() if record.in_flight_since}


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


_TASK_ENDED = ("TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed")


def _step_records(events: list[dict[str, Any]]) -> tuple[dict[str, StepRecord], StepRecord | None, list[dict[str, Any]]]:
    """(create-step records per table, EnsureRole's record, the payload of every task that succeeded, oldest first)."""
    by_id = {event["id"]: event for event in events}
    keys: dict[int, tuple[str, str | None]] = {}  # TaskScheduled id -> (step, table)
    records: dict[tuple[str, str | None], StepRecord] = {}
    open_attempts: dict[int, datetime.datetime] = {}
    payloads: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "TaskScheduled":
            parameters = (event.get("taskScheduledEventDetails") or {}).get("parameters")
            function = str(_json_field(parameters, "FunctionName") or "")
            payload = _json_field(parameters, "Payload")
            if function.endswith(f"-{CREATE_STEP.name}") and isinstance(payload, dict) and "table" in payload:
                key: tuple[str, str | None] = (CREATE_STEP.name, payload["table"])
            elif function.endswith(f"-{ROLE_STEP.name}"):
                key = (ROLE_STEP.name, None)
            else:
                continue
            keys[event["id"]] = key
            records.setdefault(key, StepRecord(first_scheduled=event["timestamp"]))
            open_attempts[event["id"]] = event["timestamp"]
        elif event["type"] in _TASK_ENDED:
            previous = event.get("previousEventId")
            started = by_id.get(previous, {})
            scheduled_id = started.get("previousEventId") if started.get("type") == "TaskStarted" else previous
            if event["type"] == "TaskSucceeded":
                payload = _json_field((event.get("taskSucceededEventDetails") or {}).get("output"), "Payload")
                if isinstance(payload, dict):
                    payloads.append(payload)
            if scheduled_id not in keys:
                continue
            open_attempts.pop(scheduled_id, None)
            record = records[keys[scheduled_id]]
            if event["type"] == "TaskSucceeded":
                record.outcome = payloads[-1] if payloads else None
            else:
                record.failed_attempts += 1
    for scheduled_id, began in open_attempts.items():
        records[keys[scheduled_id]].in_flight_since = began
    tables = {table: record for (name, table), record in records.items() if name == CREATE_STEP.name and table}
    return tables, records.get((ROLE_STEP.name, None)), payloads


def changes_made_by(stepfunctions: Any, arn: str) -> RunChanges:
    """Read an execution's history for what it created and changed.

    A transient failure to read it raises (the state machine retries the rollback step); a permanent
    one (access denied, no such execution) is reported in `unreadable`, and the tags decide alone.
    Each step's output has its own shape: EnsureRole's alone carries `previous`;
    CreateOrAdoptTable's carries `table` + `outcome` + `status`; AwaitTable's also `ttl`.
    """
    changes = RunChanges()
    try:
        events = _history(stepfunctions, arn)
    except AWS_CALL_ERRORS as err:
        converted = as_provisioner_error(err, f"GetExecutionHistory {arn.rsplit(':', 1)[-1]}")
        if isinstance(converted, ProvisionerError) and converted.transient:
            raise converted from err
        changes.unreadable = reason(err)
        return changes
    changes.history_read = True
    changes.tables, changes.role, payloads = _step_records(events)
    for payload in payloads:
        if "previous" in payload and "role" in payload:
            changes.role_previous = payload.get("previous") or {}
        elif "table" in payload and payload.get("ttl") == "enabled":
            changes.ttl_enabled_tables.append(payload["table"])
        elif "table" in payload and "ttl" not in payload and payload.get("outcome") == "updated" and "status" in payload:
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
    # Created by the run, but another Region's runs use it now (the read-only role): only this Region's part went.
    shared: list[str] = field(default_factory=list)
    superseded_by: str | None = None  # a verified run converged everything since: nothing was undone

    def summary(self) -> str:
        if self.superseded_by:
            return (f"nothing deleted or restored: {self.superseded_by} ran after {self.execution_name} ended and "
                    f"verified the desired state, which holds what {self.execution_name} created")
        parts = [f"deleted {', '.join(self.deleted) or 'nothing'}"]
        if self.restored:
            parts.append(f"restored {', '.join(self.restored)}")
        if self.kept:
            parts.append(f"kept {', '.join(self.kept)} (not created by {self.execution_name})")
        if self.shared:
            parts.append(f"kept {', '.join(self.shared)}")
        if self.not_restored:
            parts.append(f"could not restore {', '.join(self.not_restored)}")
        if self.not_deleted:
            parts.append(f"COULD NOT DELETE {', '.join(self.not_deleted)}: delete by hand or re-run the rollback")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def superseded(execution_name: str, by: str) -> RollbackReport:
    """The report of a rollback that undoes nothing: run `by` converged everything after `execution_name` ended."""
    return RollbackReport(execution_name, superseded_by=by)


def created_by(tags: dict[str, str], desired: DesiredState, execution_name: str) -> bool:
    """Whether the ownership tags name this provisioner and this execution (its tag value, or its raw name)."""
    return tags.get(MANAGED_BY_TAG) == desired.provisioner_name and tags.get(CREATED_BY_TAG) in (
        created_by_value(execution_name),
        execution_name,
    )


def _tagged_for_someone_else(tags: dict[str, str], desired: DesiredState, execution_name: str) -> bool:
    return CREATED_BY_TAG in tags and not created_by(tags, desired, execution_name)


# A resource a run reported created may not be visible to a read for a while (DescribeTable may answer
# ResourceNotFoundException right after CreateTable; IAM is eventually consistent). Within this long after
# the create step reported, "absent" means "not visible yet"; later it means gone.
VISIBILITY_WINDOW_SECONDS = 30


def _created(record: StepRecord | None) -> bool:
    return bool(record and record.outcome and record.outcome.get("outcome") == "created")


def _uncertain(record: StepRecord | None) -> bool:
    """An attempt of the create step never reported back, or failed: its create call may have landed."""
    return bool(record and (record.in_flight_since or record.failed_attempts))


def _created_during(record: StepRecord | None, created_at: datetime.datetime | None) -> bool:
    """Whether a resource came into being after the run's create step for it first started."""
    if record is None or created_at is None:
        return False
    return _aware(created_at) >= _aware(record.first_scheduled)


def roll_back(
    dynamodb: Any,
    iam: Any,
    desired: DesiredState,
    execution_name: str,
    role_previous: dict[str, Any] | None = None,
    changes: RunChanges | None = None,
) -> RollbackReport:
    """Delete what `execution_name` created; restore (or list) what it changed on anything else.

    What it created: what its history says its steps created, plus what a create step whose attempt
    never reported back (or failed) brought into being after it started; a tag naming another
    execution always keeps a resource. Without the history (`changes.history_read` False), the
    `fileferry:created-by` tag decides. A table or role that may still be appearing is waited for
    (CreationInFlight, TableNotActive: the state machine retries), so nothing the run created
    outlives the rollback. `role_previous`, when given, overrides `changes.role_previous` (the
    in-run rollback has it at hand). Idempotent: a retry after a partial rollback finishes the job.
    """
    changes = changes or RunChanges()
    if role_previous:
        changes.role_previous = role_previous
    report = RollbackReport(execution_name)
    if changes.unreadable:
        report.not_restored.append(f"changes to pre-existing resources (run history unreadable: {changes.unreadable})")
    for spec in desired.tables:
        _roll_back_table(dynamodb, desired, execution_name, spec.name, changes, report)
    _roll_back_role(iam, desired, execution_name, changes, report)
    return report


def _roll_back_table(
    dynamodb: Any, desired: DesiredState, execution_name: str, name: str, changes: RunChanges, report: RollbackReport
) -> None:
    resource = f"table/{name}"
    record = changes.tables.get(name)
    observed = observe_table(dynamodb, name)
    if not observed.exists:
        if record and record.in_flight_since and _age_seconds(record.in_flight_since) < CREATE_STEP.timeout_seconds:
            # Its CreateTable may still land; wait until it has, or the invocation has certainly ended.
            raise CreationInFlight(f"{resource} may still be being created by {execution_name}")
        if _created(record):
            if _age_seconds(record.first_scheduled) < VISIBILITY_WINDOW_SECONDS:
                _delete_table_not_described_yet(dynamodb, name, f"{resource} was created by {execution_name}")
            report.deleted.append(resource)  # gone already (an earlier attempt of this rollback), or deleted now
        return
    if changes.history_read and record is None:
        report.kept.append(resource)  # the run never touched it
        return
    candidate = not changes.history_read or _created(record) or _uncertain(record)
    if candidate and observed.status == "CREATING":
        # Checked before the tags, which may not be readable yet; DeleteTable refuses a CREATING table.
        raise TableNotActive(f"{resource} is still CREATING; it is deleted once ACTIVE")
    tags = list_table_tags(dynamodb, observed.arn) if candidate and observed.arn else {}
    ours = candidate and not _tagged_for_someone_else(tags, desired, execution_name) and (
        created_by(tags, desired, execution_name)
        or _created(record)
        or (_uncertain(record) and _created_during(record, observed.created_at))
    )
    if not ours:
        report.kept.append(resource)
        # A pre-existing table is never deleted; what the run changed on it cannot be put back:
        # the run records no earlier billing/encryption settings, and AWS refuses another TTL
        # change within an hour of the last one.
        if name in changes.updated_tables:
            report.not_restored.append(f"{resource} billing mode / encryption")
        if name in changes.ttl_enabled_tables:
            report.not_restored.append(f"{resource} TTL (AWS allows one TTL change per hour)")
        return
    if observed.status != "DELETING":
        try:
            _delete_table(dynamodb, name)
        except PERMANENT_ERRORS + AWS_CALL_ERRORS as err:
            # Keep going: the report must say what was and was not undone, and the run must
            # still fail with its original error, not with the rollback's.
            report.not_deleted.append(f"{resource} ({reason(err)})")
            return
    report.deleted.append(resource)


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _age_seconds(moment: datetime.datetime) -> float:
    return (datetime.datetime.now(datetime.timezone.utc) - _aware(moment)).total_seconds()


def _delete_table_not_described_yet(dynamodb: Any, name: str, what: str) -> None:
    """Delete a table this run created that DescribeTable does not show: absent, or not visible yet?

    DescribeTable is the read AWS documents as eventually consistent ("uses an eventually consistent
    query"); DeleteTable acts on the table itself, so its answer tells the two apart without waiting:
    ResourceNotFoundException, gone already (an earlier attempt of this rollback deleted it);
    ResourceInUseException, still CREATING (retried); success, it was there and is being deleted now.
    """
    try:
        delete_lifting_protection(dynamodb, name)
    except dynamodb.exceptions.ResourceNotFoundException:
        return
    except dynamodb.exceptions.ResourceInUseException as err:
        raise TableNotActive(f"{what} and is still CREATING; it is deleted once ACTIVE") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DeleteTable {name}") from err


def is_deletion_protected_refusal(err: BaseException) -> bool:
    """DeleteTable's refusal of a table with deletion protection (a ValidationException, DeleteTable API reference)."""
    return error_code(err) == "ValidationException" and "protect" in str(err).lower()


def delete_lifting_protection(dynamodb: Any, name: str) -> None:
    """DeleteTable; a protected table has its protection lifted first. Only tables that may lose it come here:
    a rollback's own (it never unprotects a table that existed before the run), a teardown's when its input
    says so."""
    try:
        dynamodb.delete_table(TableName=name)
    except dynamodb.exceptions.ClientError as err:
        if not is_deletion_protected_refusal(err):
            raise
        dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
        dynamodb.delete_table(TableName=name)


def _delete_table(dynamodb: Any, name: str) -> None:
    try:
        delete_lifting_protection(dynamodb, name)
    except dynamodb.exceptions.ResourceNotFoundException:
        return
    except dynamodb.exceptions.ResourceInUseException as err:
        raise ResourceBusy(f"DeleteTable {name}: table is busy") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DeleteTable {name}") from err


def delete_role(iam: Any, name: str, observed: ObservedRole | None = None) -> bool:
    """Inline policies, then attached policies, then the role (IAM refuses another order); `observed`: the
    role as the caller just read it.

    IAM's list reads are eventually consistent: right after an earlier attempt removed a policy they may
    still list it (its removal then answers NoSuchEntity: gone already, go on), and right after a
    policy was added they may not list it yet (DeleteRole then answers DeleteConflict: look again).
    """
    observed = observed or observe_role(iam, name)
    if not observed.exists:
        return False
    removals = [(iam.delete_role_policy, {"PolicyName": policy}) for policy in observed.inline_policies]
    removals += [(iam.detach_role_policy, {"PolicyArn": arn}) for arn in observed.attached_policy_arns]
    for remove, params in removals:
        try:
            remove(RoleName=name, **params)
        except iam.exceptions.NoSuchEntityException:
            continue
        except AWS_CALL_ERRORS as err:
            raise as_provisioner_error(err, f"DeleteRole {name}") from err
    try:
        iam.delete_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return True  # deleted meanwhile
    except iam.exceptions.DeleteConflictException as err:
        # Another Region's policy among them, too: the step is retried, and its next look sees it.
        raise NotYetVisible(f"DeleteRole {name}: it still has a policy the list reads do not show yet") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"DeleteRole {name}") from err
    return True


@dataclass(frozen=True)
class RoleRelease:
    """What letting go of the shared read-only role did in this Region."""

    result: str  # deleted | absent | kept (another Region's policy remains: only this Region's were deleted)
    deleted_policies: list[str] = field(default_factory=list)
    other_regions_policies: list[str] = field(default_factory=list)


def release_role(iam: Any, spec: RoleSpec) -> RoleRelease:
    """Delete the role, unless another Region's FileFerryReadOnlyPolicy* is on it: then delete this Region's
    inline policy (and any other that grants this Region's tables only) and keep the role for the others.

    Decided on each attempt's own look: a policy another Region wrote after it (which the list reads may not
    show yet) makes DeleteRole refuse (DeleteConflict), and the retried step sees it and keeps the role.
    """
    observed = observe_role(iam, spec.name)
    if not observed.exists:
        return RoleRelease("absent")
    others = other_regions_policies(spec, observed)
    if not others:
        delete_role(iam, spec.name, observed)
        return RoleRelease("deleted", sorted(observed.inline_policies))
    own = sorted(name for name in observed.inline_policies if is_read_only_policy(name) and name not in others)
    for name in own:
        try:
            iam.delete_role_policy(RoleName=spec.name, PolicyName=name)
        except iam.exceptions.NoSuchEntityException:
            continue  # gone already: an earlier attempt
        except AWS_CALL_ERRORS as err:
            raise as_provisioner_error(err, f"DeleteRolePolicy {spec.name} {name}") from err
    return RoleRelease("kept", own, others)


def _roll_back_role(iam: Any, desired: DesiredState, execution_name: str, changes: RunChanges, report: RollbackReport) -> None:
    spec = desired.role
    resource = f"role/{spec.name}"
    record = changes.role
    observed = observe_role(iam, spec.name)
    if not observed.exists:
        if record and record.in_flight_since and _age_seconds(record.in_flight_since) < ROLE_STEP.timeout_seconds:
            raise CreationInFlight(f"{resource} may still be being created by {execution_name}")
        if _created(record):
            if _age_seconds(record.first_scheduled) < VISIBILITY_WINDOW_SECONDS:
                raise CreationInFlight(f"{resource} was created by {execution_name} and is not visible yet")
            report.deleted.append(resource)
        return
    if changes.history_read and record is None:
        report.kept.append(resource)  # the run never reached EnsureRole
        return
    ours = not _tagged_for_someone_else(observed.tags, desired, execution_name) and (
        created_by(observed.tags, desired, execution_name)
        or _created(record)
        or (_uncertain(record) and _created_during(record, observed.created_at))
    )
    if ours:
        try:
            released = release_role(iam, spec)
        except PERMANENT_ERRORS + AWS_CALL_ERRORS as err:
            report.not_deleted.append(f"{resource} ({reason(err)})")
            return
        if released.result == "kept":
            # Another Region's runs wrote their policy on the role since: only this Region's part is undone.
            report.deleted += [f"{resource} inline policy {name}" for name in released.deleted_policies]
            report.shared.append(f"{resource} (kept for {', '.join(released.other_regions_policies)} of other Regions)")
            return
        report.deleted.append(resource)
        return
    report.kept.append(resource)
    restored, not_restored = restore_role(iam, spec, changes.role_previous)
    report.restored += [f"{resource} {item}" for item in restored]
    report.not_restored += [f"{resource} ({code})" for code in not_restored]
    if record and record.in_flight_since:
        report.not_restored.append(f"{resource}: EnsureRole was still running when the run stopped; what it changed is unknown")


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
