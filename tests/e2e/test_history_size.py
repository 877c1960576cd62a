"""A table that stays CREATING for several looks costs the history what the model says, no more.

The model (state_machine/history_model.py) proves N = 200 stays within half the 25,000-event limit;
this reads a real execution's history back and holds each table's iteration to the model's count.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from state_machine.asl import configure_polling, load_definition
from state_machine.history_model import events_per_run, events_per_table

CREATE_LATENCY_SECONDS = 5  # with one-second polls: looks at about 0, 1, 2.5, 4.75 and 8 s after CreateTable


def _history(stepfunctions: Any, execution_arn: str) -> list[dict[str, Any]]:
    pages = stepfunctions.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def _iteration_of(events: list[dict[str, Any]]) -> dict[int, int]:
    """Event id -> the index of the ProvisionTables iteration it belongs to: from its MapIterationStarted,
    along previousEventId, to its MapIterationSucceeded (or Failed, or Aborted)."""
    iteration: dict[int, int] = {}
    ended: set[int] = set()
    for event in events:
        details = event.get("mapIterationStartedEventDetails")
        previous = event.get("previousEventId")
        if event["type"] == "MapIterationStarted" and details and details.get("name") == "ProvisionTables":
            iteration[event["id"]] = details["index"]
        elif previous in iteration and previous not in ended:
            iteration[event["id"]] = iteration[previous]
            if event["type"] in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
                ended.add(event["id"])
    return iteration


def _looks(events: list[dict[str, Any]]) -> Counter[str]:
    """How often each table was looked at: the await-table invocations that poll."""
    looks: Counter[str] = Counter()
    for event in events:
        if event["type"] == "TaskScheduled":
            payload = json.loads(event["taskScheduledEventDetails"]["parameters"])["Payload"]
            if payload.get("look"):
                looks[payload["table"]] += 1
    return looks


def test_a_table_creating_for_several_looks_writes_no_more_history_than_the_model(aws, run, clients, factory):
    aws.set_create_latency(CREATE_LATENCY_SECONDS)

    result = run({"action": "provision"})

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    events = _history(clients.stepfunctions, result.execution_arn)
    tables = factory.desired().table_names()
    looks = _looks(events)
    assert set(looks) == set(tables) and min(looks.values()) >= 3, looks  # every table was still CREATING twice
    iteration = _iteration_of(events)
    per_iteration: dict[int, int] = defaultdict(int)
    for index in iteration.values():
        per_iteration[index] += 1
    p = factory.settings.provisioner
    definition = configure_polling(load_definition(), p.poll_interval_seconds, p.max_polls)
    model_per_table = events_per_table(definition)
    assert sorted(per_iteration) == list(range(len(tables)))
    # Each iteration: its MapIteration events, CreateOrAdoptTable, the Choice, PollTable entered and exited
    # around 3 events per look; never more than the model's worst case.
    for index, count in per_iteration.items():
        table = tables[index]
        assert count == 2 + 5 + 2 + 2 + 3 * looks[table], (table, count, looks[table])
        assert count <= model_per_table
    assert len(events) <= events_per_run(definition, len(tables))
    for table in tables:
        described = clients.dynamodb.describe_table(TableName=table)["Table"]
        assert described["TableStatus"] == "ACTIVE"
        spec = factory.desired().table(table)
        ttl = clients.dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if spec.ttl_attribute:
            assert ttl["TimeToLiveStatus"] in ("ENABLING", "ENABLED") and ttl["AttributeName"] == spec.ttl_attribute
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"
