"""How many history events a provisioning run can write at most, read from the definition.

Step Functions keeps at most 25,000 events in a Standard execution's history; past that the execution
fails (Step Functions developer guide, "Quotas": "Execution history: 25,000 events in a single state
machine execution history"). The provisioner keeps its worst case within half of it, so that retries of
faults, which are not counted here, have the other half.

The events each state writes are AWS's (GetExecutionHistory; the HistoryEvent types of botocore's
`stepfunctions` service model):

- Task (Lambda invoke): TaskStateEntered, then per attempt TaskScheduled, TaskStarted and TaskSucceeded
  or TaskFailed, then TaskStateExited. A retry is another attempt, not another TaskStateEntered.
- Pass, Choice, Wait, Succeed: <Type>StateEntered, <Type>StateExited. Fail: FailStateEntered.
- Map: MapStateEntered, MapStateStarted, per item MapIterationStarted ... MapIterationSucceeded (or
  Failed), MapStateSucceeded (or Failed), MapStateExited. Parallel the same, with its branches.
- The execution: ExecutionStarted and ExecutionSucceeded (or Failed).

Retries of designed waits (every retrier but the transient-fault one: the table poll, a rollback waiting
for a CREATING table, a rollback waiting for its target to stop) are counted at their MaxAttempts; the
transient-fault retrier's are not (a fault campaign's retries are what the other half is for). A loop
has no worst case, so the model refuses a provisioning path with one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdas.core.access import ACCESS_BATCHES
from state_machine.asl import configure_polling, is_transient_retrier, load_definition

HISTORY_EVENT_LIMIT = 25_000
HISTORY_EVENT_BUDGET = HISTORY_EVENT_LIMIT // 2
TABLES_MAP = "ProvisionTables"
PROVISIONING_ACTIONS = ("provision", "drift-check")  # drift-check with remediate provisions too

EXECUTION_EVENTS = 2  # ExecutionStarted, ExecutionSucceeded | ExecutionFailed
ENTER_EXIT_EVENTS = 2  # <Type>StateEntered, <Type>StateExited
ATTEMPT_EVENTS = 3  # TaskScheduled, TaskStarted, TaskSucceeded | TaskFailed
FAIL_STATE_EVENTS = 1  # FailStateEntered
CONTAINER_EVENTS = 4  # Map/Parallel: Entered, Started, Succeeded | Failed, Exited
ITERATION_EVENTS = 2  # MapIterationStarted, MapIterationSucceeded | MapIterationFailed
DEFAULT_MAX_ATTEMPTS = 3  # States Language: a retrier without MaxAttempts
ACCESS_BATCHES_PATH = "$.access_batches"  # the access check's Map: at most ACCESS_BATCHES items, not one per table


def counted_retries(state: Mapping[str, Any]) -> int:
    """The retries of a Task that are designed waits: every retrier's MaxAttempts but the transient-fault one's."""
    return sum(
        retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS)
        for retrier in state.get("Retry", [])
        if not is_transient_retrier(retrier)
    )


class _Longest:
    """The most events any path through a set of states writes, for `tables` Map items."""

    def __init__(self, tables: int, actions: tuple[str, ...]):
        self.tables = tables
        self.actions = actions

    def machine(self, machine: Mapping[str, Any]) -> int:
        states = machine["States"]
        memo: dict[str, int] = {}
        on_path: list[str] = []

        def from_state(name: str) -> int:
            if name in memo:
                return memo[name]
            if name in on_path:
                raise ValueError(f"a loop through {' -> '.join(on_path[on_path.index(name):] + [name])} has no worst case")
            on_path.append(name)
            state = states[name]
            following = [from_state(next_name) for next_name in self.successors(state)]
            on_path.pop()
            memo[name] = self.state(state) + max(following, default=0)
            return memo[name]

        return from_state(machine["StartAt"])

    def successors(self, state: Mapping[str, Any]) -> list[str]:
        names = [catcher["Next"] for catcher in state.get("Catch", [])]
        if "Next" in state:
            names.append(state["Next"])
        for choice in state.get("Choices", []):
            # The routing Choice: only the actions that provision.
            if choice.get("Variable") == "$.action" and choice.get("StringEquals") not in self.actions:
                continue
            names.append(choice["Next"])
        if "Default" in state:
            names.append(state["Default"])
        return names

    def state(self, state: Mapping[str, Any]) -> int:
        kind = state["Type"]
        if kind == "Task":
            return ENTER_EXIT_EVENTS + ATTEMPT_EVENTS * (1 + counted_retries(state))
        if kind == "Fail":
            return FAIL_STATE_EVENTS
        if kind == "Map":
            processor = state.get("ItemProcessor") or state["Iterator"]
            items = min(self.tables, ACCESS_BATCHES) if state.get("ItemsPath") == ACCESS_BATCHES_PATH else self.tables
            return CONTAINER_EVENTS + items * (ITERATION_EVENTS + self.machine(processor))
        if kind == "Parallel":
            return CONTAINER_EVENTS + sum(self.machine(branch) for branch in state["Branches"])
        return ENTER_EXIT_EVENTS  # Pass, Choice, Wait, Succeed


def _tables_map(machine: Mapping[str, Any]) -> Mapping[str, Any]:
    def find(states: Mapping[str, Any]) -> Mapping[str, Any] | None:
        for name, state in states.items():
            if name == TABLES_MAP:
                return state
            inner = [branch["States"] for branch in state.get("Branches", [])]
            if "ItemProcessor" in state:
                inner.append(state["ItemProcessor"]["States"])
            for states_inside in inner:
                found = find(states_inside)
                if found is not None:
                    return found
        return None

    found = find(machine["States"])
    if found is None:
        raise ValueError(f"the definition has no {TABLES_MAP} Map state")
    return found


def events_per_table(definition_text: str) -> int:
    """The most events one table's Map iteration writes (its MapIteration events included)."""
    tables_map = _tables_map(json.loads(definition_text))
    return ITERATION_EVENTS + _Longest(1, PROVISIONING_ACTIONS).machine(tables_map["ItemProcessor"])


def events_per_run(definition_text: str, tables: int) -> int:
    """The most events a provisioning run over `tables` tables writes (provision, or drift-check with remediate)."""
    machine = json.loads(definition_text)
    return EXECUTION_EVENTS + _Longest(tables, PROVISIONING_ACTIONS).machine(machine)


def worst_case_history(tables: int, poll_interval_seconds: int, max_polls: int) -> tuple[int, int]:
    """(events per table, events per run) of a provisioning run of the committed definition, so configured."""
    definition = configure_polling(load_definition(), poll_interval_seconds, max_polls)
    return events_per_table(definition), events_per_run(definition, tables)
