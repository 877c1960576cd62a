"""The worst-case history of a provisioning run, on AWS's event rules, stays within half the limit."""

from __future__ import annotations

import json

import pytest

from lambdas.core.errors import transient_error_names
from state_machine.asl import configure_polling, load_definition
from state_machine.history_model import (
    HISTORY_EVENT_BUDGET,
    events_per_run,
    events_per_table,
    worst_case_history,
)
from provisioner.config import ProvisionerSettings

DEFAULTS = ProvisionerSettings()


def test_a_provisioning_run_of_200_tables_with_the_default_config_stays_within_half_the_history_limit() -> None:
    per_table, per_run = worst_case_history(200, DEFAULTS.poll_interval_seconds, DEFAULTS.max_polls)

    # Before polling by Retry: 9 events per poll (Wait, PollTable, Choice), 60 polls: 110,446 events.
    assert per_run <= HISTORY_EVENT_BUDGET == 12_500
    # The access check's Maps run at most eight batches, however many tables: they add events per run, not per table.
    assert per_run == 200 * per_table + events_per_run(load_definition(), 8) - 8 * per_table


def test_one_table_writes_at_most_its_iteration_create_choice_and_every_look() -> None:
    per_table = events_per_table(configure_polling(load_definition(), 2, 15))

    # MapIterationStarted/Succeeded 2; CreateOrAdoptTable 5; RefusedActiveOrCreating 2; PollTable entered and
    # exited 2 + 16 looks x 3 (TaskScheduled, TaskStarted, TaskFailed or TaskSucceeded); the timeout's Fail 1.
    assert per_table == 2 + 5 + 2 + 2 + 16 * 3 + 1 == 60


def test_each_poll_more_is_three_events_per_table() -> None:
    fewer, more = (events_per_table(configure_polling(load_definition(), 2, polls)) for polls in (15, 16))

    assert more - fewer == 3


def test_the_poll_interval_changes_time_not_events() -> None:
    assert worst_case_history(200, 1, 15) == worst_case_history(200, 60, 15)


def _task(next_state: str | None = None, **fields) -> dict:
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", **fields}
    return {**state, "Next": next_state} if next_state else {**state, "End": True}


def test_the_model_follows_aws_rules_on_a_small_machine() -> None:
    machine = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.action", "StringEquals": "provision", "Next": "Tables"},
                    {"Variable": "$.action", "StringEquals": "teardown", "Next": "Long"},
                ],
                "Default": "Unknown",
            },
            "Tables": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Look",
                    "States": {
                        "Look": _task(
                            Retry=[
                                {"ErrorEquals": ["TableStillCreating"], "MaxAttempts": 4},
                                {"ErrorEquals": transient_error_names(), "MaxAttempts": 10},
                            ]
                        )
                    },
                },
                "Next": "Done",
            },
            "Long": _task(Retry=[{"ErrorEquals": ["Wait"], "MaxAttempts": 1000}]),
            "Unknown": {"Type": "Fail"},
            "Done": {"Type": "Succeed"},
        },
    }

    # Execution 2 + Choice 2 + Map 4 + 3 x (iteration 2 + Task 2 + 5 attempts x 3) + Succeed 2; the teardown
    # branch is not a provisioning path, and the transient retries are not counted.
    assert events_per_run(json.dumps(machine), 3) == 2 + 2 + 4 + 3 * (2 + 2 + 15) + 2


def test_a_loop_on_the_provisioning_path_is_refused() -> None:
    machine = {
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Wait", "Seconds": 1, "Next": "Look"}, "Look": _task("Wait")},
    }

    with pytest.raises(ValueError, match="loop"):
        events_per_run(json.dumps(machine), 1)
