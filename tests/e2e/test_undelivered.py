"""A rollback or drift check that EventBridge or Scheduler could not start is not dropped without a word: it
lands in the orchestrator's dead-letter queue, which an alarm watches. Read back with boto3."""

from __future__ import annotations

import json

from provisioner.runs import executions as runs

QUEUE = "fileferry-provisioner-undelivered"


def _queue(clients) -> tuple[str, str]:
    url = clients.sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    return url, clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_deploy_gives_the_rollback_rule_and_the_drift_schedule_a_dead_letter_queue_an_alarm_watches(aws, deployed, clients):
    url, queue_arn = _queue(clients)
    (target,) = clients.events.list_targets_by_rule(Rule="fileferry-provisioner-rollback-on-abort")["Targets"]
    schedule = clients.scheduler.get_schedule(Name="fileferry-provisioner-drift-check")["Target"]
    policy = json.loads(clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    alarms = {alarm["AlarmName"]: alarm for alarm in clients.cloudwatch.describe_alarms()["MetricAlarms"]}

    assert target["DeadLetterConfig"] == schedule["DeadLetterConfig"] == {"Arn": queue_arn}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == schedule["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    (statement,) = policy["Statement"]
    assert (statement["Principal"], statement["Action"]) == ({"Service": "events.amazonaws.com"}, "sqs:SendMessage")
    rule_arn = clients.events.describe_rule(Name="fileferry-provisioner-rollback-on-abort")["Arn"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    undelivered = alarms["fileferry-provisioner-undelivered"]
    assert (undelivered["Namespace"], undelivered["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert undelivered["Dimensions"] == [{"Name": "QueueName", "Value": QUEUE}]
    failed = alarms["fileferry-provisioner-rollback-rule-failed"]
    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/Events", "FailedInvocations")
    assert failed["Dimensions"] == [{"Name": "RuleName", "Value": "fileferry-provisioner-rollback-on-abort"}]


def test_a_rollback_the_rule_cannot_start_lands_in_the_dead_letter_queue_saying_why(aws, deployed, clients, follow_until):
    url, _ = _queue(clients)
    events_role = "fileferry-provisioner-us-east-1-events"
    for name in clients.iam.list_role_policies(RoleName=events_role)["PolicyNames"]:
        clients.iam.delete_role_policy(RoleName=events_role, PolicyName=name)  # the rule may no longer start runs
    aws.clock.advance(aws.consistency.seconds)  # ...once IAM has propagated that
    aws.set_faults(["iam:CreateRole=ThrottlingException"])
    sfn = clients.stepfunctions
    stopped = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    follow_until(stopped, lambda line: line.startswith("step failed: Throttled: CreateRole"), "EnsureRole was throttled")

    sfn.stop_execution(executionArn=stopped, error="Operator", cause="stopped by the test")

    (message,) = clients.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=5)["Messages"]
    event = json.loads(message["Body"])
    assert (event["detail"]["executionArn"], event["detail"]["status"]) == (stopped, "ABORTED")
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS" and "states:StartExecution" in attributes["ERROR_MESSAGE"]
    assert attributes["TARGET_ARN"] == deployed.state_machine_arn
    aws.clock.advance(aws.consistency.seconds)
    started = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
               for e in sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"]]
    assert {"action": "rollback", "execution_arn": stopped} not in started
