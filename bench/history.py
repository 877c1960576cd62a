"""What an execution cost, read from its Step Functions history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioner.runs.progress import is_poll

# The Map iteration's first and last per-table states (state_machine/definition.py): a table
# operation is "in flight" from entering the first until leaving a last one, or its iteration failing.
TABLE_OPERATION_FIRST_STATE = "CreateOrAdoptTable"
TABLE_OPERATION_LAST_STATES = ("PollTable", "EnsureTtl", "SkipRefusedTable")
POLL_STATE = "PollTable"
TABLES_MAP_STATE = "ProvisionTables"
_ITERATION_ENDS_WITHOUT_LAST_STATE = ("MapIterationFailed", "MapIterationAborted")
_LAMBDA_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled")
HISTORY_EVENT_LIMIT = 25_000  # Step Functions' hard limit per Standard execution


@dataclass(frozen=True)
class HistorySummary:
    history_events: int
    state_transitions: int  # states entered: what Standard workflows bill
    lambda_invocations: int  # Lambda tasks scheduled, retries included
    table_polls: int  # PollTable attempts (each looks at a table once; the look again after "not ACTIVE yet" is a retry)
    task_failures: int  # failed task attempts (retried or not): throttling, LimitExceeded, ...; polls are not failures
    max_table_operations_in_flight: int
    # Where the execution's time went: before, during and after the per-table Map (None: no Map).
    seconds_before_tables: float | None = None
    seconds_in_tables: float | None = None
    seconds_after_tables: float | None = None
    # Lambda task time (scheduled to succeeded) per state: {"count", "mean", "max"} in seconds.
    task_seconds: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _state_name(event: dict[str, Any]) -> str | None:
    details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
    return details.get("name")


def summarize(events: Iterable[dict[str, Any]]) -> HistorySummary:
    """Counts over the history; `events` in history order (ascending ids)."""
    total = transitions = invocations = polls = failures = in_flight = max_in_flight = 0
    first = last = map_entered = map_exited = None
    by_id: dict[int, dict[str, Any]] = {}
    owner: dict[int, str | None] = {}  # event id -> the state it belongs to (along previousEventId)
    durations: dict[str, list[float]] = {}
    for event in events:
        total += 1
        by_id[event["id"]] = event
        if event["type"] == "TaskSucceeded":
            started = by_id.get(event.get("previousEventId"), {})
            scheduled = by_id.get(started.get("previousEventId"), {})
            state = owner.get(scheduled.get("id") or 0)  # a retried attempt's TaskScheduled follows a TaskFailed
            if scheduled.get("type") in _LAMBDA_SCHEDULED and state:
                seconds = (event["timestamp"] - scheduled["timestamp"]).total_seconds()
                durations.setdefault(state, []).append(seconds)
        kind = event["type"]
        owner[event["id"]] = _state_name(event) if kind.endswith("StateEntered") else owner.get(event.get("previousEventId") or 0)
        first = first or event["timestamp"]
        last = event["timestamp"]
        if kind == "MapStateEntered" and _state_name(event) == TABLES_MAP_STATE:
            map_entered = event["timestamp"]
        elif kind == "MapStateExited" and _state_name(event) == TABLES_MAP_STATE:
            map_exited = event["timestamp"]
        if kind.endswith("StateEntered"):
            transitions += 1
            if _state_name(event) == TABLE_OPERATION_FIRST_STATE:
                in_flight += 1
                max_in_flight = max(max_in_flight, in_flight)
        elif kind.endswith("StateExited") and _state_name(event) in TABLE_OPERATION_LAST_STATES:
            in_flight -= 1
        elif kind in _ITERATION_ENDS_WITHOUT_LAST_STATE:
            in_flight = max(in_flight - 1, 0)
        elif kind in _LAMBDA_SCHEDULED:
            invocations += 1
            if owner[event["id"]] == POLL_STATE:
                polls += 1
        elif kind in ("TaskFailed", "LambdaFunctionFailed") and not is_poll(event):
            failures += 1
    phases: tuple[float | None, float | None, float | None] = (None, None, None)
    if map_entered and map_exited:
        phases = tuple(round((end - start).total_seconds(), 2) for start, end in ((first, map_entered), (map_entered, map_exited), (map_exited, last)))
    task_seconds = {
        state: {"count": len(values), "mean": round(sum(values) / len(values), 2), "max": round(max(values), 2)}
        for state, values in durations.items()
    }
    return HistorySummary(total, transitions, invocations, polls, failures, max_in_flight, *phases, task_seconds)
