"""CloudFormation stacks on the embedded AWS create functions, state machines, role policies, schedules
and alarms as CloudFormation on AWS does (local/cloudformation/stacks.py), from a template at a TemplateURL."""

from __future__ import annotations

import json

from emulated_samples import ACCOUNT, LAMBDA_TRUST_POLICY, trust_policy
from provisioner.runs import executions as runs

POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*"}]}
# `$$` must reach Step Functions as written: CloudFormation substitutes only ${...}.
DEFINITION = json.dumps({
    "StartAt": "Echo",
    "States": {"Echo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "${EchoArn}", "Payload": {"run.$": "$$.Execution.Name"}},
                        "OutputPath": "$.Payload", "End": True}},
})
TAGS = [{"Key": "team", "Value": "fileferry"}]


def _template() -> dict:
    return {
        "Resources": {
            "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {
                "RoleName": "stack-function-role", "AssumeRolePolicyDocument": json.loads(LAMBDA_TRUST_POLICY),
                "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": POLICY}]}},
            "StatesRole": {"Type": "AWS::IAM::Role", "Properties": {
                "RoleName": "stack-states-role", "AssumeRolePolicyDocument": json.loads(trust_policy("states.amazonaws.com")),
                "Policies": [{"PolicyName": "invoke", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}}]}},
            "Echo": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": "stack-echo", "Runtime": "python3.12", "Handler": "testpkg.handlers.echo",
                "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]}, "Code": {"S3Bucket": "artifacts", "S3Key": "fn.zip"},
                "TracingConfig": {"Mode": "Active"}, "Tags": TAGS}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "StateMachineName": "stack-machine", "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
                "DefinitionString": DEFINITION, "DefinitionSubstitutions": {"EchoArn": {"Fn::GetAtt": ["Echo", "Arn"]}},
                "TracingConfiguration": {"Enabled": True},
                "LoggingConfiguration": {"Level": "ERROR", "IncludeExecutionData": False, "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:machine:*"}}]},
                "Tags": TAGS}},
            "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {
                "Name": "stack-schedule", "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
                "State": "ENABLED", "Target": {"Arn": {"Ref": "Machine"}, "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
                                              "Input": "{}"}}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": "stack-alarm", "Namespace": "FileFerry", "MetricName": "DriftedResources",
                "Dimensions": [{"Name": "service", "Value": "fileferry-provisioner"}], "Statistic": "Maximum",
                "Period": 3600, "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching"}},
        }
    }


def test_a_stack_from_a_template_url_creates_what_cloudformation_on_aws_creates(aws, emulator, lambda_zip):
    s3 = aws("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="fn.zip", Body=lambda_zip)
    s3.put_object(Bucket="artifacts", Key="stack.template", Body=json.dumps(_template()).encode())
    cloudformation = aws("cloudformation")
    # A path-style URL at the emulator's own address, as `aws cloudformation deploy --s3-bucket` passes.
    cloudformation.create_stack(StackName="stack", TemplateURL=f"{emulator.endpoint_url}/artifacts/stack.template",
                                Capabilities=["CAPABILITY_NAMED_IAM"])
    assert cloudformation.describe_stacks(StackName="stack")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    policy = aws("iam").get_role_policy(RoleName="stack-function-role", PolicyName="least-privilege")["PolicyDocument"]
    assert policy == POLICY
    function = aws("lambda").get_function(FunctionName="stack-echo")
    assert function["Configuration"]["TracingConfig"] == {"Mode": "Active"}
    assert function["Tags"] == {"team": "fileferry"}

    sfn = aws("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    parameters = json.loads(described["definition"])["States"]["Echo"]["Parameters"]
    assert parameters == {"FunctionName": function["Configuration"]["FunctionArn"], "Payload": {"run.$": "$$.Execution.Name"}}
    assert described["tracingConfiguration"] == {"enabled": True}
    assert described["loggingConfiguration"]["level"] == "ERROR"
    assert sfn.list_tags_for_resource(resourceArn=machine["stateMachineArn"])["tags"] == [{"key": "team", "value": "fileferry"}]

    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run-1")["executionArn"]
    result = runs.Follower(sfn, poll_seconds=0.1).follow(execution)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    output = result.output if isinstance(result.output, dict) else json.loads(result.output)
    assert output["event"] == {"run": "run-1"}

    schedule = aws("scheduler").get_schedule(Name="stack-schedule")
    assert (schedule["ScheduleExpression"], schedule["Target"]["Arn"]) == ("rate(1 day)", machine["stateMachineArn"])
    (alarm,) = aws("cloudwatch").describe_alarms(AlarmNames=["stack-alarm"])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Dimensions"]) == ("DriftedResources", [{"Name": "service", "Value": "fileferry-provisioner"}])
    summaries = cloudformation.list_stack_resources(StackName="stack")["StackResourceSummaries"]
    assert {r["ResourceType"]: r["PhysicalResourceId"] for r in summaries if "::" in r["ResourceType"]}[
        "AWS::Scheduler::Schedule"] == "stack-schedule"

    cloudformation.delete_stack(StackName="stack")
    assert aws("lambda").list_functions()["Functions"] == []
    assert sfn.list_state_machines()["stateMachines"] == []
    assert aws("scheduler").list_schedules()["Schedules"] == []
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []


LOGS_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:DescribeLogGroups"],
     "Resource": "*"}]}


def _logged_machine_template(separate_policy: bool) -> dict:
    """A role for Step Functions and a state machine that logs: the permissions inline, or as an
    AWS::IAM::RolePolicy the state machine DependsOn."""
    role = {"RoleName": "stack-logging-states-role",
            "AssumeRolePolicyDocument": json.loads(trust_policy("states.amazonaws.com"))}
    policy = {"PolicyName": "deliver-logs", "PolicyDocument": LOGS_POLICY}
    resources = {
        "StatesRole": {"Type": "AWS::IAM::Role", "Properties": role if separate_policy else {**role, "Policies": [policy]}},
        "MachineLogs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                        "Properties": {"LogGroupName": "/aws/vendedlogs/states/stack-logged"}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": "stack-logged", "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
            "DefinitionString": json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            "LoggingConfiguration": {"Level": "ERROR", "IncludeExecutionData": False, "Destinations": [
                {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["MachineLogs", "Arn"]}}}]}}},
    }
    if separate_policy:
        resources["StatesPolicy"] = {"Type": "AWS::IAM::RolePolicy", "Properties": {
            "RoleName": {"Ref": "StatesRole"}, **policy}}
        resources["Machine"]["DependsOn"] = ["StatesPolicy"]
    return {"Resources": resources}


def test_while_iam_propagates_a_logging_state_machine_after_a_role_with_inline_policies_rolls_the_stack_back(aws, emulator):
    emulator.set_consistency_lag(60)
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="inline", TemplateBody=json.dumps(_logged_machine_template(separate_policy=False)),
                                Capabilities=["CAPABILITY_NAMED_IAM"])

    assert cloudformation.describe_stacks(StackName="inline")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cloudformation.describe_stack_events(StackName="inline")["StackEvents"]
    (failed,) = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["LogicalResourceId"] == "Machine"
    assert "The state machine IAM Role is not authorized to access the Log Destination" in failed["ResourceStatusReason"]
    assert aws("stepfunctions").list_state_machines()["stateMachines"] == []
    assert "stack-logging-states-role" not in [r["RoleName"] for r in aws("iam").list_roles()["Roles"]]
    # DeletionPolicy Retain: the log group outlives the rollback.
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/stack-logged")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/vendedlogs/states/stack-logged"]


def test_a_state_machine_that_depends_on_its_roles_separate_policy_is_created_while_iam_propagates(aws, emulator):
    emulator.set_consistency_lag(60)
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="separate", TemplateBody=json.dumps(_logged_machine_template(separate_policy=True)),
                                Capabilities=["CAPABILITY_NAMED_IAM"])

    assert cloudformation.describe_stacks(StackName="separate")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    (machine,) = aws("stepfunctions").list_state_machines()["stateMachines"]
    assert machine["name"] == "stack-logged"
    policy = aws("iam").get_role_policy(RoleName="stack-logging-states-role", PolicyName="deliver-logs")["PolicyDocument"]
    assert policy == LOGS_POLICY

    cloudformation.delete_stack(StackName="separate")
    assert "stack-logging-states-role" not in [r["RoleName"] for r in aws("iam").list_roles()["Roles"]]
    assert aws("stepfunctions").list_state_machines()["stateMachines"] == []
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/stack-logged")["logGroups"]
    assert len(groups) == 1  # retained
