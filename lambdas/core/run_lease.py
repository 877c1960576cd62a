"""One run at a time changes resources: a lease held in a small DynamoDB table, taken with conditional writes.

ListExecutions is eventually consistent ("may not reflect very recent updates and changes", Step Functions
API reference): two runs started within its lag do not see each other, and two that see each other would
both refuse. A conditional PutItem is not: of two runs that try to take the lease at once, exactly one
succeeds. The lease names the execution that holds it and is never released; a run takes it over once its
holder has ended, which the holder's own execution history says (its last event is the end), so a run that
was stopped, timed out or failed never blocks the next one.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error
from lambdas.core.errors import ConcurrentRun, NotYetVisible, OtherRunInFlight, ProvisionerError, TargetStillRunning

LEASE_KEY = "lease"  # the table's partition key (S)
LEASE_ITEM = "mutating-run"  # the one item: the run that changes resources
HOLDER = "execution_arn"
REPLACED = "replaced"  # the ended run the holder took the lease from
_ENDED_EVENTS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


def lease_table_name(provisioner_name: str) -> str:
    """The orchestrator's own table (deploy creates it); never one of the FileFerry tables."""
    return f"{provisioner_name}-run-lease"


def execution_name(arn: str) -> str:
    return arn.split(":")[7] if arn.count(":") >= 7 else arn


def has_ended(stepfunctions: Any, arn: str) -> bool:
    """Whether the execution has ended (one that does not exist has too).

    Two witnesses, either enough: DescribeExecution showing a terminal status (it lags, but never shows
    one for a running execution; StopExecution makes it ABORTED at once), and the history's last event
    being the end. If neither can be read, the execution is taken as still running: a lease is never
    taken over on a guess.
    """
    try:
        if stepfunctions.describe_execution(executionArn=arn).get("status", "RUNNING") != "RUNNING":
            return True
        events = stepfunctions.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)["events"]
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        return True
    except AWS_CALL_ERRORS as err:
        converted = as_provisioner_error(err, "GetExecutionHistory")
        if isinstance(converted, ProvisionerError) and converted.transient:
            raise converted from err
        return False
    return bool(events) and events[0].get("type") in _ENDED_EVENTS


def take_lease(dynamodb: Any, stepfunctions: Any, table: str, execution_arn: str,
               rollback_target: str | None = None, now: datetime.datetime | None = None) -> str | None:
    """Hold the lease for `execution_arn`, or raise why not; returns the ended run it took the lease from.

    ConcurrentRun: another run holds it and is running (permanent: the caller retries later).
    TargetStillRunning / OtherRunInFlight (a rollback run only, transient): the run to roll back, or
    another run, holds it; the rollback waits for it instead of giving up, so it still happens.
    """
    stamp = (now or datetime.datetime.now(datetime.UTC)).isoformat()
    held = _item(dynamodb, table)
    if held.get(HOLDER) == execution_arn:  # an earlier attempt of this same step took it
        return held.get(REPLACED)
    expected = held.get(HOLDER)  # the holder a take-over replaces; None: the item must not exist yet
    for _ in range(3):  # a take-over lost to another run re-reads; a third race is a real contention
        if expected is not None and not has_ended(stepfunctions, expected):
            name = execution_name(expected)
            if rollback_target is not None and expected == rollback_target:
                raise TargetStillRunning(f"execution {name} is still running; it is rolled back once it has ended")
            if rollback_target is not None:
                raise OtherRunInFlight(f"execution {name} is changing resources; the rollback waits for it to end")
            raise ConcurrentRun(f"execution {name} is still running; wait for it to finish (or stop it) and retry")
        if _put(dynamodb, table, execution_arn, stamp, expected):
            return expected
        held = _item(dynamodb, table)
        if held.get(HOLDER) == execution_arn:
            return held.get(REPLACED)
        expected = held.get(HOLDER)
    raise ConcurrentRun("other runs kept taking the run lease at the same moment; retry")


def converged_since(stepfunctions: Any, previous: str | None, rollback_target: str) -> str | None:
    """The name of the run a rollback took the lease from, if that run was a provision (or a remediating
    drift check) that ended verified after the rollback's target ended: its verified state holds what the
    target created, which the rollback then keeps."""
    if previous is None or previous == rollback_target:
        return None
    try:
        described = stepfunctions.describe_execution(executionArn=previous)
        events = stepfunctions.get_execution_history(executionArn=previous, reverseOrder=True, maxResults=1)["events"]
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        return None
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, "DescribeExecution") from err
    request = _json(described.get("input"))
    converging = request.get("action", "provision") == "provision" or request.get("remediate") is True
    if not converging or not events or events[0].get("type") != "ExecutionSucceeded":
        return None
    output = _json(events[0].get("executionSucceededEventDetails", {}).get("output"))
    return execution_name(previous) if output.get("verified") is True else None


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def lease_holder(dynamodb: Any, table: str) -> str | None:
    """The execution that holds the lease (it may have ended), or None."""
    return _item(dynamodb, table).get(HOLDER)


def _put(dynamodb: Any, table: str, execution_arn: str, stamp: str, expected: str | None) -> bool:
    item = {LEASE_KEY: {"S": LEASE_ITEM}, HOLDER: {"S": execution_arn}, "taken_at": {"S": stamp}}
    if expected is not None:
        item[REPLACED] = {"S": expected}
    if expected is None:
        # A retried attempt of this same run finds the lease already its own.
        condition, values = "attribute_not_exists(#key) OR #holder = :me", {":me": {"S": execution_arn}}
    else:
        condition, values = "#holder = :expected", {":expected": {"S": expected}}
    names = {"#holder": HOLDER, **({"#key": LEASE_KEY} if expected is None else {})}
    try:
        dynamodb.put_item(TableName=table, Item=item, ConditionExpression=condition,
                          ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    except dynamodb.exceptions.ResourceNotFoundException as err:
        raise _lease_table_not_ready(table) from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, "PutItem (run lease)") from err
    return True


def _lease_table_not_ready(table: str) -> NotYetVisible:
    # DynamoDB answers ResourceNotFoundException for a table still CREATING: deploy has just created it.
    return NotYetVisible(f"run lease table {table} is not ACTIVE yet (deploy creates it; if it was deleted, re-run deploy)")


def _item(dynamodb: Any, table: str) -> dict[str, str]:
    """The lease item's string attributes ({} when nobody has taken it yet), read strongly consistent."""
    try:
        item = dynamodb.get_item(TableName=table, Key={LEASE_KEY: {"S": LEASE_ITEM}}, ConsistentRead=True).get("Item")
    except dynamodb.exceptions.ResourceNotFoundException as err:
        raise _lease_table_not_ready(table) from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, "GetItem (run lease)") from err
    return {name: value["S"] for name, value in (item or {}).items() if "S" in value}
