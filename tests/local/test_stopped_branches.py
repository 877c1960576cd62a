"""A Parallel branch stopped because its sibling failed writes nothing more to the execution's history."""

from __future__ import annotations

import pytest


def test_a_lambda_task_of_a_stopped_branch_adds_no_event_when_its_invocation_returns(
    aws, deploy_function, create_state_machine, poll, tmp_path
):
    # Developer Guide, Parallel state: "If any branch fails ... the entire Parallel state fails, and all
    # of its branches are stopped." The Waiting branch's task is still running then: it returns only
    # once the test joins its rendezvous, after the execution has failed.
    function_arn = deploy_function("held", "wait_for_release", timeout=25)
    sfn = aws("stepfunctions")
    held, failing = tmp_path / "held", tmp_path / "failing"
    held.mkdir(), failing.mkdir()

    def task(directory, **fields):
        return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload": {"directory": str(directory)}},
                "ResultSelector": {"released.$": "$.Payload.released"}, **fields}

    state_machine = create_state_machine("stopped-branch", {
        "StartAt": "Both",
        "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Waiting", "States": {"Waiting": task(held, End=True)}},
            {"StartAt": "Released", "States": {
                "Released": task(failing, Next="Fails"),
                "Fails": {"Type": "Fail", "Error": "SiblingFailed", "Cause": "the other branch failed"}}},
        ]}},
    })
    execution_arn = sfn.start_execution(stateMachineArn=state_machine, input="{}")["executionArn"]

    def events():
        return sfn.get_execution_history(executionArn=execution_arn)["events"]

    poll(lambda: (held / "waiting").exists() and (failing / "waiting").exists())
    (failing / "release").touch()  # the other branch goes on to fail
    poll(lambda: any(e["type"] == "ExecutionFailed" for e in events()))
    assert not (held / "returned").exists()  # still running
    ended_with = len(events())
    (held / "release").touch()  # the task returns now, into a branch stopped a while ago
    poll(lambda: (held / "returned").exists())
    # The interpreter handles the returned invocation within milliseconds; without this behaviour it
    # appended the task's TaskSucceeded (or a TaskFailed States.Runtime) then. Watch the history a
    # while longer than that.
    with pytest.raises(AssertionError):
        poll(lambda: len(events()) > ended_with, timeout=2.0)

    history = events()
    assert [e["type"] for e in history][-1] == "ExecutionFailed"
    assert len(history) == ended_with
    assert [e["executionFailedEventDetails"]["error"] for e in history if e["type"] == "ExecutionFailed"] == ["SiblingFailed"]
    assert not [e for e in history if e["type"] == "TaskFailed"]
