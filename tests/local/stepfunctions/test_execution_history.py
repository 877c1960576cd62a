"""GetExecutionHistory pages, orders and trims events as AWS documents, so a follower that re-reads
everything, or reads only the first page, shows here as it would on AWS."""

import pytest
from botocore.exceptions import ClientError

# 60 Pass states: 2 events each, plus ExecutionStarted and ExecutionSucceeded = 122 events.
STATES = 60
MANY_PASSES = {
    "StartAt": "Pass0",
    "States": {
        f"Pass{i}": {"Type": "Pass", "Result": {"step": i}, **({"Next": f"Pass{i + 1}"} if i < STATES - 1 else {"End": True})}
        for i in range(STATES)
    },
}
EVENTS = 2 * STATES + 2


@pytest.fixture
def finished_long_run(aws, create_state_machine, finished_execution):
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=create_state_machine("many-passes", MANY_PASSES), input="{}")["executionArn"]
    assert finished_execution(arn)["status"] == "SUCCEEDED"
    return sfn, arn


def test_history_comes_in_pages_of_100_by_default_in_ascending_order(finished_long_run):
    sfn, arn = finished_long_run
    first = sfn.get_execution_history(executionArn=arn)
    assert [e["id"] for e in first["events"]] == list(range(1, 101))
    rest = sfn.get_execution_history(executionArn=arn, nextToken=first["nextToken"])
    assert [e["id"] for e in rest["events"]] == list(range(101, EVENTS + 1))
    assert "nextToken" not in rest
    every = [e["id"] for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn) for e in page["events"]]
    assert every == list(range(1, EVENTS + 1))


def test_reverse_order_gives_the_latest_events_first_page_by_page(finished_long_run):
    sfn, arn = finished_long_run
    latest = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3)
    assert [e["id"] for e in latest["events"]] == [EVENTS, EVENTS - 1, EVENTS - 2]
    assert latest["events"][0]["type"] == "ExecutionSucceeded"
    older = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3, nextToken=latest["nextToken"])
    assert [e["id"] for e in older["events"]] == [EVENTS - 3, EVENTS - 4, EVENTS - 5]


def test_a_token_from_another_request_is_refused_with_invalid_token(finished_long_run):
    sfn, arn = finished_long_run
    ascending = sfn.get_execution_history(executionArn=arn, maxResults=3)
    for token in (ascending["nextToken"], "not-a-token"):
        with pytest.raises(ClientError) as refused:
            sfn.get_execution_history(executionArn=arn, reverseOrder=True, nextToken=token)
        assert refused.value.response["Error"]["Code"] == "InvalidToken"


def test_without_execution_data_events_carry_no_input_or_output(finished_long_run):
    sfn, arn = finished_long_run
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000, includeExecutionData=False)["events"]
    assert len(events) == EVENTS
    details = [v for e in events for k, v in e.items() if k.endswith("EventDetails")]
    assert details and not [d for d in details if "input" in d or "output" in d]
    with_data = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert any("output" in v for e in with_data for k, v in e.items() if k.endswith("EventDetails"))


# -- following a run reads only the events it has not seen (issue 11, item 14) ----------------

WAITS = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Pass", "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Second"},
        "Second": {"Type": "Pass", "Next": "PauseAgain"},
        "PauseAgain": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def test_reading_after_an_event_returns_only_newer_events_without_rereading_the_history(emulator, finished_long_run):
    from provisioner.runs.executions import read_new_events

    sfn, arn = finished_long_run
    emulator.reset_api_calls()
    assert [e["id"] for e in read_new_events(sfn, arn, after_id=EVENTS - 2)] == [EVENTS - 1, EVENTS]
    assert emulator.api_calls().get("states:GetExecutionHistory") == 1
    assert read_new_events(sfn, arn, after_id=EVENTS) == []
    assert [e["id"] for e in read_new_events(sfn, arn, after_id=10)] == list(range(11, EVENTS + 1))  # two pages of 100
    assert [e["id"] for e in read_new_events(sfn, arn)] == list(range(1, EVENTS + 1))


def test_a_followed_run_sees_every_event_exactly_once(aws, create_state_machine):
    from provisioner.runs.executions import Follower

    sfn = aws("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=create_state_machine("waits", WAITS), input="{}")["executionArn"]

    result = Follower(sfn, poll_seconds=0.2).follow(arn)

    assert result.status == "SUCCEEDED"
    history = [e["id"] for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn) for e in page["events"]]
    assert [e["id"] for e in result.events] == history
    assert result.events[-1]["type"] == "ExecutionSucceeded"
