"""An inline Map runs at most 40 iterations at once, as on AWS, whatever its MaxConcurrency."""

import json

import pytest

ITEMS = 60


def map_over_items(max_concurrency):
    """A state machine: an inline Map over its input, each iteration waiting one second."""
    return {
        "StartAt": "EachItem",
        "States": {
            "EachItem": {
                "Type": "Map",
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Hold",
                    "States": {"Hold": {"Type": "Wait", "Seconds": 1, "End": True}},
                },
                "End": True,
            }
        },
    }


def history(sfn, execution_arn):
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def most_iterations_at_once(events):
    """The peak number of iterations started and not yet ended, in history order."""
    running = peak = 0
    for event in sorted(events, key=lambda event: event["id"]):
        if event["type"] == "MapIterationStarted":
            running += 1
            peak = max(peak, running)
        elif event["type"] in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
            running -= 1
    return peak


@pytest.mark.parametrize("max_concurrency", [0, 50])
def test_an_inline_map_runs_at_most_40_iterations_at_once(aws, create_state_machine, finished_execution,
                                                        max_concurrency):
    sfn = aws("stepfunctions")
    state_machine = create_state_machine("wide-map", map_over_items(max_concurrency))

    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine, input=json.dumps(list(range(ITEMS)))
    )["executionArn"]

    described = finished_execution(execution_arn, timeout=60)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == list(range(ITEMS))
    events = history(sfn, execution_arn)
    assert sum(event["type"] == "MapIterationSucceeded" for event in events) == ITEMS
    assert 1 < most_iterations_at_once(events) <= 40


def test_a_map_below_the_cap_keeps_its_own_max_concurrency(aws, create_state_machine, finished_execution):
    sfn = aws("stepfunctions")
    state_machine = create_state_machine("narrow-map", map_over_items(3))

    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine, input=json.dumps(list(range(9)))
    )["executionArn"]

    assert finished_execution(execution_arn, timeout=60)["status"] == "SUCCEEDED"
    assert most_iterations_at_once(history(sfn, execution_arn)) <= 3
