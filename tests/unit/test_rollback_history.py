"""Reading a run's history for table creations that may still be in flight."""

import datetime
import json

from lambdas.core.rollback import _creations_in_flight

AT = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _scheduled(event_id: int, table: str, function: str = "fileferry-provisioner-create-or-adopt-table") -> dict:
    parameters = {"FunctionName": f"arn:aws:lambda:us-east-1:123456789012:function:{function}", "Payload": {"table": table}}
    return {"id": event_id, "type": "TaskScheduled", "timestamp": AT, "taskScheduledEventDetails": {"parameters": json.dumps(parameters)}}


def _event(event_id: int, kind: str, previous: int) -> dict:
    return {"id": event_id, "type": kind, "timestamp": AT, "previousEventId": previous}


def test_a_create_that_never_reported_back_is_in_flight_and_finished_ones_are_not():
    events = [
        _scheduled(1, "FileFerry-A"),
        _event(2, "TaskStarted", 1),
        _scheduled(3, "FileFerry-B"),
        _event(4, "TaskStarted", 3),
        _scheduled(5, "FileFerry-C"),
        _event(6, "TaskStarted", 5),
        _event(7, "TaskSucceeded", 2),
        _event(8, "TaskFailed", 6),
        _scheduled(9, "FileFerry-D", function="fileferry-provisioner-describe-table"),
    ]
    assert _creations_in_flight(events) == {"FileFerry-B": AT}
