"""Reading a run's history: what its create steps reported, and which of them were still in flight."""

import datetime
import json

from lambdas.core.rollback import _step_records

AT = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
LATER = AT + datetime.timedelta(seconds=5)


def _scheduled(event_id: int, table: str | None, function: str = "fileferry-provisioner-create-or-adopt-table", at=AT) -> dict:
    payload = {"table": table} if table else {"execution_name": "run-1"}
    parameters = {"FunctionName": f"arn:aws:lambda:us-east-1:123456789012:function:{function}", "Payload": payload}
    return {"id": event_id, "type": "TaskScheduled", "timestamp": at, "taskScheduledEventDetails": {"parameters": json.dumps(parameters)}}


def _event(event_id: int, kind: str, previous: int, payload: dict | None = None) -> dict:
    event = {"id": event_id, "type": kind, "timestamp": AT, "previousEventId": previous}
    if payload is not None:
        event["taskSucceededEventDetails"] = {"output": json.dumps({"Payload": payload})}
    return event


def test_a_create_that_never_reported_back_is_in_flight_and_finished_ones_are_not():
    events = [
        _scheduled(1, "FileFerry-A"),
        _event(2, "TaskStarted", 1),
        _scheduled(3, "FileFerry-B"),
        _event(4, "TaskStarted", 3),
        _scheduled(5, "FileFerry-C"),
        _event(6, "TaskStarted", 5),
        _event(7, "TaskSucceeded", 2, {"table": "FileFerry-A", "outcome": "created", "status": "CREATING"}),
        _event(8, "TaskFailed", 6),
        _scheduled(9, "FileFerry-D", function="fileferry-provisioner-await-table"),
    ]
    tables, role, _ = _step_records(events)
    assert {name: record.in_flight_since for name, record in tables.items() if record.in_flight_since} == {"FileFerry-B": AT}
    assert tables["FileFerry-A"].outcome["outcome"] == "created"
    assert tables["FileFerry-C"].failed_attempts == 1 and tables["FileFerry-C"].outcome is None
    assert "FileFerry-D" not in tables
    assert role is None


def test_a_retried_create_step_keeps_its_first_start_and_its_failures():
    events = [
        _scheduled(1, "FileFerry-A"),
        _event(2, "TaskStarted", 1),
        _event(3, "TaskFailed", 2),
        _scheduled(4, "FileFerry-A", at=LATER),
        _event(5, "TaskStarted", 4),
        _event(6, "TaskSucceeded", 5, {"table": "FileFerry-A", "outcome": "adopted", "status": "ACTIVE"}),
        _scheduled(7, None, function="fileferry-provisioner-ensure-role", at=LATER),
        _event(8, "TaskStarted", 7),
    ]
    tables, role, _ = _step_records(events)
    record = tables["FileFerry-A"]
    assert (record.first_scheduled, record.failed_attempts, record.outcome["outcome"], record.in_flight_since) == (AT, 1, "adopted", None)
    assert role is not None and role.in_flight_since == LATER and role.outcome is None
