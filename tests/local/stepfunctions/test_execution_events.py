"""Execution status-change events: emitted when executions end and delivered through EventBridge."""

import json

import pytest

from local.stepfunctions.events import render_input_template

WAIT_LONG = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
EVENTS_ROLE = "arn:aws:iam::123456789012:role/events-start-rollback"  # made by create_state_machine
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@pytest.fixture
def rollback_rule(aws, create_state_machine):
    """A rollback state machine, started by a rule for ABORTED/TIMED_OUT executions of `watched`."""
    events = aws("events")
    rollback_arn = create_state_machine("rollback", PASS)

    def install(watched_arn, dead_letter_arn=None):
        events.put_rule(
            Name="rollback-interrupted",
            EventPattern=json.dumps({
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [watched_arn]},
            }),
        )
        events.put_targets(Rule="rollback-interrupted", Targets=[{
            "Id": "rollback",
            "Arn": rollback_arn,
            "RoleArn": EVENTS_ROLE,
            "InputTransformer": {
                "InputPathsMap": {"arn": "$.detail.executionArn", "status": "$.detail.status"},
                "InputTemplate": '{"action": "rollback", "execution_arn": <arn>, "why": "was <status>"}',
            },
            **({"DeadLetterConfig": {"Arn": dead_letter_arn}} if dead_letter_arn else {}),
        }])
        return rollback_arn

    return install


def started_inputs(sfn, state_machine_arn):
    executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
            for e in executions]


def test_stopped_execution_starts_the_rollback_with_the_transformed_input(
    aws, create_state_machine, rollback_rule, poll
):
    sfn = aws("stepfunctions")
    provision_arn = create_state_machine("provision", WAIT_LONG)
    rollback_arn = rollback_rule(provision_arn)
    execution_arn = sfn.start_execution(stateMachineArn=provision_arn, name="run-1")["executionArn"]

    sfn.stop_execution(executionArn=execution_arn)

    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "ABORTED"
    delivered = poll(lambda: started_inputs(sfn, rollback_arn))
    assert delivered == [{"action": "rollback", "execution_arn": execution_arn, "why": "was ABORTED"}]
    aborted = poll(lambda: [e for e in sfn.get_execution_history(executionArn=execution_arn)["events"]
                            if e["type"] == "ExecutionAborted"])
    assert len(aborted) == 1


def _dead_letter_queue(sqs, rule_arn):
    """A queue whose policy lets EventBridge send the rule's undelivered events; (url, arn)."""
    url = sqs.create_queue(QueueName="rollback-undelivered")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": arn,
                       "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}],
    })})
    return url, arn


def test_a_rollback_the_rule_role_may_not_start_goes_to_the_targets_dead_letter_queue(
    aws, create_state_machine, rollback_rule, poll
):
    sfn, sqs, events = aws("stepfunctions"), aws("sqs"), aws("events")
    provision_arn = create_state_machine("provision", WAIT_LONG)
    rule_arn = f"arn:aws:events:us-east-1:123456789012:rule/rollback-interrupted"
    queue_url, queue_arn = _dead_letter_queue(sqs, rule_arn)
    rollback_arn = rollback_rule(provision_arn, dead_letter_arn=queue_arn)
    assert events.describe_rule(Name="rollback-interrupted")["Arn"] == rule_arn
    aws("iam").delete_role_policy(RoleName="events-start-rollback", PolicyName="sample")
    execution_arn = sfn.start_execution(stateMachineArn=provision_arn)["executionArn"]

    sfn.stop_execution(executionArn=execution_arn)

    (message,) = poll(lambda: sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"]).get("Messages"))
    event = json.loads(message["Body"])
    assert (event["detail-type"], event["detail"]["executionArn"], event["detail"]["status"]) == (
        "Step Functions Execution Status Change", execution_arn, "ABORTED")
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert (attributes["RULE_ARN"], attributes["TARGET_ARN"]) == (rule_arn, rollback_arn)
    assert "states:StartExecution" in attributes["ERROR_MESSAGE"]
    assert sfn.list_executions(stateMachineArn=rollback_arn)["executions"] == []


def test_a_rollback_of_a_deleted_state_machine_goes_to_the_dead_letter_queue_as_no_resource(
    aws, create_state_machine, rollback_rule, poll
):
    sfn, sqs = aws("stepfunctions"), aws("sqs")
    provision_arn = create_state_machine("provision", WAIT_LONG)
    queue_url, queue_arn = _dead_letter_queue(sqs, "arn:aws:events:us-east-1:123456789012:rule/rollback-interrupted")
    rollback_arn = rollback_rule(provision_arn, dead_letter_arn=queue_arn)
    sfn.delete_state_machine(stateMachineArn=rollback_arn)
    execution_arn = sfn.start_execution(stateMachineArn=provision_arn)["executionArn"]

    sfn.stop_execution(executionArn=execution_arn)

    (message,) = poll(lambda: sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"]).get("Messages"))
    assert json.loads(message["Body"])["detail"]["executionArn"] == execution_arn
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_RESOURCE"


def test_timed_out_execution_starts_the_rollback(aws, create_state_machine, rollback_rule, poll,
                                                 finished_execution):
    sfn = aws("stepfunctions")
    provision_arn = create_state_machine("provision", {**WAIT_LONG, "TimeoutSeconds": 1})
    rollback_arn = rollback_rule(provision_arn)

    execution_arn = sfn.start_execution(stateMachineArn=provision_arn)["executionArn"]

    assert finished_execution(execution_arn)["status"] == "TIMED_OUT"
    delivered = poll(lambda: started_inputs(sfn, rollback_arn))
    assert delivered == [{"action": "rollback", "execution_arn": execution_arn, "why": "was TIMED_OUT"}]


def test_succeeded_execution_event_reaches_only_matching_rules(
    aws, create_state_machine, rollback_rule, poll
):
    sfn, events = aws("stepfunctions"), aws("events")
    provision_arn = create_state_machine("provision", PASS)
    rollback_arn = rollback_rule(provision_arn)  # created first, so evaluated first
    report_arn = create_state_machine("report", PASS)
    events.put_rule(Name="report-success", EventPattern=json.dumps({
        "source": ["aws.states"],
        "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [provision_arn]},
    }))
    events.put_targets(Rule="report-success", Targets=[
        {"Id": "fixed", "Arn": report_arn, "RoleArn": EVENTS_ROLE, "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": report_arn, "RoleArn": EVENTS_ROLE, "InputPath": "$.detail"},
    ])

    execution_arn = sfn.start_execution(
        stateMachineArn=provision_arn, input='{"tables": 5}'
    )["executionArn"]

    def both_report_targets_started():
        inputs = started_inputs(sfn, report_arn)
        return inputs if len(inputs) == 2 else None

    delivered = poll(both_report_targets_started)
    detail = next(d for d in delivered if "executionArn" in d)
    assert {"fixed": True} in delivered
    assert detail["executionArn"] == execution_arn
    assert detail["status"] == "SUCCEEDED"
    assert json.loads(detail["output"]) == {"tables": 5}
    assert detail["startDate"] <= detail["stopDate"]
    assert sfn.list_executions(stateMachineArn=rollback_arn)["executions"] == []


def test_stop_answers_aborted_while_a_lambda_task_is_still_running(
    aws, deploy_function, create_state_machine, poll
):
    function_arn = deploy_function("sleeper", "sleep", timeout=5)
    sfn = aws("stepfunctions")
    state_machine = create_state_machine("slow", {
        "StartAt": "Sleep",
        "States": {"Sleep": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                             "Parameters": {"FunctionName": function_arn,
                                            "Payload": {"seconds": 1}},
                             "Next": "After"},
                   "After": {"Type": "Pass", "End": True}},
    })
    execution_arn = sfn.start_execution(stateMachineArn=state_machine)["executionArn"]
    poll(lambda: any(e["type"] == "TaskStarted"
                     for e in sfn.get_execution_history(executionArn=execution_arn)["events"]))

    sfn.stop_execution(executionArn=execution_arn)

    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "ABORTED"
    def history_types():
        return [e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]]

    poll(lambda: "ExecutionAborted" in history_types())
    types = history_types()
    assert types[-1] == "ExecutionAborted"
    assert "PassStateEntered" not in types  # the interpreter stopped after the running task


def test_a_run_stopped_while_map_iterations_run_lambda_tasks_ends_its_history_aborted(
    aws, deploy_function, create_state_machine, poll
):
    # StopExecution API reference: the execution becomes ABORTED; its history ends with ExecutionAborted,
    # whatever its Map iterations were doing (moto's interpreter can make the interruption States.Runtime).
    function_arn = deploy_function("sleeper", "sleep", timeout=5)
    sfn = aws("stepfunctions")
    sleep = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": function_arn, "Payload": {"seconds": 1}}, "End": True}
    state_machine = create_state_machine("slow-map", {
        "StartAt": "Each",
        "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
                            "ItemProcessor": {"StartAt": "Sleep", "States": {"Sleep": sleep}},
                            "End": True}},
    })
    execution_arn = sfn.start_execution(stateMachineArn=state_machine, input=json.dumps({"items": [1, 2, 3]}))["executionArn"]

    def history_types():
        return [e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]]

    poll(lambda: history_types().count("TaskStarted") == 3)
    sfn.stop_execution(executionArn=execution_arn)

    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "ABORTED"
    poll(lambda: "ExecutionAborted" in history_types() or "ExecutionFailed" in history_types())
    poll(lambda: sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING")
    types = history_types()
    assert "ExecutionFailed" not in types
    assert [t for t in types if t.startswith("Execution")] == ["ExecutionStarted", "ExecutionAborted"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"arn": <arn>, "n": <n>}', {"arn": "arn:aws:x", "n": 3}),
        ('{"text": "run <arn> has <n> tables"}', {"text": "run arn:aws:x has 3 tables"}),
        ('{"missing": <nothing>, "in": "[<nothing>]"}', {"missing": None, "in": "[]"}),
        ('{"obj": <obj>, "quoted": "<quote>"}', {"obj": {"a": [1]}, "quoted": 'say "hi"'}),
        ('{"unknown": "<not-mapped>"}', {"unknown": "<not-mapped>"}),
    ],
)
def test_input_template_rendering(template, expected):
    values = {"arn": "arn:aws:x", "n": 3, "nothing": None, "obj": {"a": [1]}, "quote": 'say "hi"'}
    assert json.loads(render_input_template(template, values)) == expected
