"""The execution's TimeoutSeconds outlasts every path the definition allows, and every Task retries a timed-out attempt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.core.errors import ATTEMPT_TIMEOUT_ERRORS, transient_error_names
from lambdas.core.steps import STEPS
from state_machine.asl import configure_polling, load_definition, poll_retriers
from state_machine.time_model import DEFAULT_SHAPE, STANDARD_MAX_SECONDS, RunShape, configure_timeout


def tasks(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in machine["States"].items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from tasks(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from tasks(processor)


def poll_seconds(first_interval: int, looks: int, max_delay: int) -> float:
    """How long the poll waits in all between its looks (backoff 1.5, each delay capped)."""
    return sum(min(first_interval * 1.5**n, max_delay) for n in range(looks))


def timeout_for(shape: RunShape, poll_interval: int = 2, max_polls: int = 15) -> int:
    return json.loads(configure_timeout(configure_polling(load_definition(), poll_interval, max_polls), shape))["TimeoutSeconds"]


def test_the_committed_definition_carries_the_timeout_of_the_defaults() -> None:
    committed = load_definition()
    assert configure_timeout(committed, DEFAULT_SHAPE) == committed


def test_the_timeout_outlasts_the_longest_poll_and_its_rollback() -> None:
    # max_polls 600 at 30 s apart is five hours of polling: far past the old fixed 3600 s.
    timeout = timeout_for(DEFAULT_SHAPE, poll_interval=30, max_polls=600)
    assert timeout > poll_seconds(30, 600, 30) + 600


def test_the_timeout_outlasts_the_backup_wait() -> None:
    # One table at a time, each waiting up to an hour for its backup: 40 hours of teardown at least.
    assert timeout_for(RunShape(40, 1, 3600)) > 40 * 3600
    assert timeout_for(RunShape(40, 1, 3600)) > timeout_for(RunShape(40, 1, 10))


def test_more_tables_than_the_map_runs_at_once_take_more_rounds() -> None:
    assert timeout_for(RunShape(80, 1, 1800)) > timeout_for(RunShape(80, 40, 1800))


def test_the_timeout_is_at_most_a_standard_executions_year() -> None:
    assert timeout_for(RunShape(5000, 1, 3600), poll_interval=300, max_polls=1000) == STANDARD_MAX_SECONDS


def test_a_poll_interval_longer_than_30_seconds_is_followed_not_capped() -> None:
    (retrier,) = poll_retriers(json.loads(configure_polling(load_definition(), 120, 5)))
    assert retrier["IntervalSeconds"] == 120
    assert retrier["MaxDelaySeconds"] >= 120


def test_every_task_retries_an_attempt_that_ran_out_of_time() -> None:
    machine = json.loads(load_definition())
    for name, state in tasks(machine):
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        assert set(ATTEMPT_TIMEOUT_ERRORS) <= retried, name
        assert {"Sandbox.Timedout", "Lambda.Unknown", "States.Timeout"} <= set(transient_error_names())


def test_no_retrier_names_an_error_an_earlier_retrier_of_its_task_answers() -> None:
    # Step Functions takes the first retrier whose ErrorEquals matches: a name repeated later is dead.
    machine = json.loads(load_definition())
    for name, state in tasks(machine):
        seen: set[str] = set()
        for retrier in state.get("Retry", []):
            assert not seen & set(retrier["ErrorEquals"]), (name, sorted(seen & set(retrier["ErrorEquals"])))
            seen |= set(retrier["ErrorEquals"])


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_every_step_function_is_invoked_by_a_task_with_a_known_bound(step) -> None:
    # The model refuses a Task whose function it does not know; every step's function appears.
    functions = {state["Parameters"]["FunctionName"] for _, state in tasks(json.loads(load_definition()))}
    assert step.placeholder in functions
