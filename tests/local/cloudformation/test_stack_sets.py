"""CloudFormation StackSets with self-managed permissions (local/cloudformation/stack_sets.py): each stack instance
is a real stack in its account and Region, created as the target's execution role, after the roles AWS checks;
operations run in the background, honour their preferences and report per target as AWS does."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from emulated_samples import LAMBDA_TRUST_POLICY, trust_policy
from provisioner.runs import executions as runs

OPERATOR, B, C = "111111111111", "222222222222", "333333333333"
ADMIN = "AWSCloudFormationStackSetAdministrationRole"
EXECUTION = "AWSCloudFormationStackSetExecutionRole"
REGIONS = ["us-east-1", "eu-west-1"]
CODE_KEY = "fleet/code.zip"
DEFINITION = json.dumps({"StartAt": "Echo", "States": {"Echo": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload", "End": True,
    "Parameters": {"FunctionName": "${EchoArn}", "Payload": {"greeting": "${Greeting}"}}}}})
EXECUTION_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OPERATOR}:root"}, "Action": "sts:AssumeRole"}]}
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def sub(text):
    return {"Fn::Sub": text}


def orchestrator_template():
    """Account- and Region-neutral, as a StackSet's template must be: names carry the Region, code comes from the
    Region's artifact bucket."""
    return {
        "Parameters": {"CodeBucketPrefix": {"Type": "String"}, "CodeKey": {"Type": "String"},
                       "Greeting": {"Type": "String", "Default": "hello"}},
        "Resources": {
            "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {
                "RoleName": sub("fleet-${AWS::Region}-fn"), "AssumeRolePolicyDocument": json.loads(LAMBDA_TRUST_POLICY)}},
            "StatesRole": {"Type": "AWS::IAM::Role", "Properties": {
                "RoleName": sub("fleet-${AWS::Region}-states"),
                "AssumeRolePolicyDocument": json.loads(trust_policy("states.amazonaws.com"))}},
            "StatesPolicy": {"Type": "AWS::IAM::RolePolicy", "Properties": {
                "RoleName": {"Ref": "StatesRole"}, "PolicyName": "invoke", "PolicyDocument": {
                    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                            "Resource": {"Fn::GetAtt": ["Echo", "Arn"]}}]}}},
            "Echo": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": "fleet-echo", "Runtime": "python3.12", "Handler": "testpkg.handlers.echo",
                "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
                "Code": {"S3Bucket": sub("${CodeBucketPrefix}-${AWS::Region}"), "S3Key": {"Ref": "CodeKey"}}}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "DependsOn": ["StatesPolicy"], "Properties": {
                "StateMachineName": "fleet", "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
                "DefinitionString": DEFINITION, "DefinitionSubstitutions": {
                    "EchoArn": {"Fn::GetAtt": ["Echo", "Arn"]}, "Greeting": {"Ref": "Greeting"}}}},
            "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {
                "Name": "fleet-drift", "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": {"Arn": {"Ref": "Machine"}, "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]}, "Input": "{}"}}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": "fleet-drifted", "Namespace": "FileFerry", "MetricName": "DriftedResources",
                "Statistic": "Maximum", "Period": 3600, "EvaluationPeriods": 1, "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold"}},
            "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "fleet-dlq"}},
            "DeadLettersPolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [{"Ref": "DeadLetters"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                    "Resource": {"Fn::GetAtt": ["DeadLetters", "Arn"]}}]}}},
            "Rollback": {"Type": "AWS::Events::Rule", "Properties": {
                "Name": "fleet-rollback", "EventPattern": {"source": ["aws.states"], "detail": {"status": ["ABORTED"]}},
                "Targets": [{"Id": "machine", "Arn": {"Ref": "Machine"}, "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]}}]}},
        },
    }


def queue_template(name="fleet-q"):
    return json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name}}}})


@pytest.fixture
def operator(aws_as):
    return aws_as(OPERATOR)


@pytest.fixture
def roles(aws_as):
    """roles(*accounts): the administration role in the operator's account, the execution role in each target."""
    def make(*accounts, admin_trust="cloudformation.amazonaws.com", admin_may_assume=True, execution_policy=EVERYTHING):
        iam = aws_as(OPERATOR)("iam")
        iam.create_role(RoleName=ADMIN, AssumeRolePolicyDocument=trust_policy(admin_trust))
        if admin_may_assume:
            iam.put_role_policy(RoleName=ADMIN, PolicyName="assume", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Resource": f"arn:aws:iam::*:role/{EXECUTION}"}]}))
        for account in accounts:
            target = aws_as(account)("iam")
            target.create_role(RoleName=EXECUTION, AssumeRolePolicyDocument=json.dumps(EXECUTION_TRUST))
            target.put_role_policy(RoleName=EXECUTION, PolicyName="deploy", PolicyDocument=json.dumps(execution_policy))

    return make


@pytest.fixture
def artifact_buckets(operator, lambda_zip):
    """The operator's per-Region artifact buckets `fleet-code-<region>`, readable by the target accounts."""
    for region in REGIONS:
        s3 = operator("s3", region_name=region)
        bucket = f"fleet-code-{region}"
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                           {"CreateBucketConfiguration": {"LocationConstraint": region}}))
        s3.put_object(Bucket=bucket, Key=CODE_KEY, Body=lambda_zip)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{B}:root", f"arn:aws:iam::{C}:root"]},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
        s3.put_object(Bucket=bucket, Key="fleet.template", Body=json.dumps(orchestrator_template()).encode())
    return "fleet-code"


def ended(cloudformation, operation_id, name="fleet", timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        operation = cloudformation.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)["StackSetOperation"]
        if operation["Status"] not in ("RUNNING", "STOPPING"):
            return operation
        if time.monotonic() > deadline:
            pytest.fail(f"operation {operation_id} still {operation['Status']} after {timeout} s")
        time.sleep(0.05)


def results(cloudformation, operation_id, name="fleet"):
    summaries = cloudformation.list_stack_set_operation_results(StackSetName=name, OperationId=operation_id)["Summaries"]
    return {(r["Account"], r["Region"]): (r["Status"], r.get("StatusReason")) for r in summaries}


def instances(cloudformation, name="fleet"):
    return {(i["Account"], i["Region"]): (i["Status"], i["StackInstanceStatus"]["DetailedStatus"], i.get("StatusReason"))
            for i in cloudformation.list_stack_instances(StackSetName=name)["Summaries"]}


def error_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def execution_refused(account):
    return f"Account {account} should have '{EXECUTION}' role with trust relationship to Role '{ADMIN}'."


def test_stack_instances_create_the_orchestrator_in_each_account_and_region_and_it_runs_there(
        emulator, aws_as, operator, roles, artifact_buckets):
    roles(B, C)
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(
        StackSetName="fleet", TemplateURL=f"{emulator.endpoint_url}/fleet-code-us-east-1/fleet.template",
        Capabilities=["CAPABILITY_NAMED_IAM"], Tags=[{"Key": "team", "Value": "fileferry"}],
        Parameters=[{"ParameterKey": "CodeBucketPrefix", "ParameterValue": artifact_buckets},
                    {"ParameterKey": "CodeKey", "ParameterValue": CODE_KEY}])

    operation_id = cloudformation.create_stack_instances(
        StackSetName="fleet", Accounts=[B, C], Regions=REGIONS,
        OperationPreferences={"MaxConcurrentCount": 2, "FailureToleranceCount": 1})["OperationId"]
    operation = ended(cloudformation, operation_id)

    assert (operation["Action"], operation["Status"]) == ("CREATE", "SUCCEEDED")
    assert operation["StatusDetails"]["FailedStackInstancesCount"] == 0
    summaries = cloudformation.list_stack_set_operation_results(StackSetName="fleet", OperationId=operation_id)["Summaries"]
    assert {(r["Account"], r["Region"]) for r in summaries} == {(a, r) for a in (B, C) for r in REGIONS}
    assert all(r["Status"] == "SUCCEEDED" and r["AccountGateResult"] == {
        "Status": "SKIPPED", "StatusReason": "AWSCloudFormationStackSetAccountGate function not found"} for r in summaries)
    listed = cloudformation.list_stack_instances(StackSetName="fleet")["Summaries"]
    assert {(i["Status"], i["StackInstanceStatus"]["DetailedStatus"], i["LastOperationId"]) for i in listed} == {
        ("CURRENT", "SUCCEEDED", operation_id)}
    for instance in listed:  # each a real stack of its own account and Region, read with that account's keys
        target = aws_as(instance["Account"])
        (stack,) = target("cloudformation", region_name=instance["Region"]).describe_stacks(
            StackName=instance["StackId"])["Stacks"]
        assert stack["StackName"].startswith("StackSet-fleet-") and stack["StackStatus"] == "CREATE_COMPLETE"
        assert {"Key": "team", "Value": "fileferry"} in stack["Tags"]
    assert operator("stepfunctions").list_state_machines()["stateMachines"] == []  # nothing in the operator's account

    b = aws_as(B)
    sfn = b("stepfunctions", region_name="eu-west-1")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    assert machine["stateMachineArn"] == f"arn:aws:states:eu-west-1:{B}:stateMachine:fleet"
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run-1")["executionArn"]
    result = runs.Follower(sfn, poll_seconds=0.1).follow(execution)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    output = result.output if isinstance(result.output, dict) else json.loads(result.output)
    assert output["event"] == {"greeting": "hello"}
    assert output["invoked_function_arn"] == f"arn:aws:lambda:eu-west-1:{B}:function:fleet-echo"
    assert output["env"]["AWS_REGION"] == "eu-west-1"
    assert b("scheduler", region_name="eu-west-1").get_schedule(Name="fleet-drift")["Target"]["Arn"] == machine["stateMachineArn"]
    assert [a["AlarmName"] for a in b("cloudwatch", region_name="eu-west-1").describe_alarms()["MetricAlarms"]] == ["fleet-drifted"]
    assert b("events", region_name="eu-west-1").list_targets_by_rule(Rule="fleet-rollback")["Targets"][0]["Arn"] == \
        machine["stateMachineArn"]
    queue_url = b("sqs", region_name="eu-west-1").get_queue_url(QueueName="fleet-dlq")["QueueUrl"]
    policy = b("sqs", region_name="eu-west-1").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
    assert json.loads(policy["Attributes"]["Policy"])["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert b("iam").get_role_policy(RoleName="fleet-eu-west-1-states", PolicyName="invoke")["PolicyName"] == "invoke"
    described = cloudformation.describe_stack_instance(StackSetName="fleet", StackInstanceAccount=C,
                                                       StackInstanceRegion="us-east-1")["StackInstance"]
    assert described["StackId"].startswith(f"arn:aws:cloudformation:us-east-1:{C}:stack/StackSet-fleet-")


def test_a_target_without_the_execution_role_fails_and_past_the_tolerance_the_rest_is_cancelled(operator, roles):
    roles(B)  # C has no execution role
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())

    operation_id = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B, C], Regions=REGIONS)["OperationId"]
    operation = ended(cloudformation, operation_id)

    # Defaults: one account at a time, no failure tolerated; Regions one after the other, in the given order.
    assert operation["Status"] == "FAILED"
    assert operation["OperationPreferences"]["RegionOrder"] == REGIONS
    cancelled = "Cancelled since failure tolerance has exceeded"
    assert results(cloudformation, operation_id) == {
        (B, "us-east-1"): ("SUCCEEDED", None), (C, "us-east-1"): ("FAILED", execution_refused(C)),
        (B, "eu-west-1"): ("CANCELLED", cancelled), (C, "eu-west-1"): ("CANCELLED", cancelled)}
    assert instances(cloudformation) == {
        (B, "us-east-1"): ("CURRENT", "SUCCEEDED", None), (C, "us-east-1"): ("OUTDATED", "FAILED", execution_refused(C)),
        (B, "eu-west-1"): ("OUTDATED", "CANCELLED", cancelled), (C, "eu-west-1"): ("OUTDATED", "CANCELLED", cancelled)}


def test_failures_within_the_tolerance_leave_the_operation_succeeded_and_a_retry_deploys_the_failed_target(
        aws_as, operator, roles):
    roles(B)
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())

    first = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[C, B], Regions=REGIONS,
                                                  OperationPreferences={"FailureToleranceCount": 1})["OperationId"]
    assert ended(cloudformation, first)["Status"] == "SUCCEEDED"
    assert {key: status for key, (status, _) in results(cloudformation, first).items()} == {
        (C, "us-east-1"): "FAILED", (B, "us-east-1"): "SUCCEEDED", (C, "eu-west-1"): "FAILED", (B, "eu-west-1"): "SUCCEEDED"}

    aws_as(C)("iam").create_role(RoleName=EXECUTION, AssumeRolePolicyDocument=json.dumps(EXECUTION_TRUST))
    aws_as(C)("iam").put_role_policy(RoleName=EXECUTION, PolicyName="deploy", PolicyDocument=json.dumps(EVERYTHING))
    retry = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[C, B], Regions=REGIONS)["OperationId"]

    assert ended(cloudformation, retry)["Status"] == "SUCCEEDED"
    assert {status for status, _, _ in instances(cloudformation).values()} == {"CURRENT"}
    assert aws_as(C)("sqs", region_name="eu-west-1").get_queue_url(QueueName="fleet-q")["QueueUrl"].endswith(f"/{C}/fleet-q")
    assert len(aws_as(B)("cloudformation").describe_stacks()["Stacks"]) == 1  # B's current stack untouched


@pytest.mark.parametrize("setup", ["no-role", "trusts-another-service"])
def test_without_an_administration_role_cloudformation_can_assume_every_target_fails_with_awss_reason(
        operator, roles, setup):
    if setup == "trusts-another-service":
        roles(B, admin_trust="lambda.amazonaws.com")
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())

    operation_id = cloudformation.create_stack_instances(
        StackSetName="fleet", Accounts=[B], Regions=REGIONS,
        OperationPreferences={"RegionConcurrencyType": "PARALLEL", "FailureToleranceCount": 0})["OperationId"]
    operation = ended(cloudformation, operation_id)

    reason = f"Account {OPERATOR} should have '{ADMIN}' role with trust relationship to CloudFormation service."
    assert operation["Status"] == "FAILED"
    summaries = cloudformation.list_stack_set_operation_results(StackSetName="fleet", OperationId=operation_id)["Summaries"]
    assert [(r["Status"], r["StatusReason"], r["AccountGateResult"]) for r in summaries] == [
        ("FAILED", reason, {"Status": "FAILED", "StatusReason": reason})] * 2  # both Regions ran at once


def test_across_accounts_the_administration_role_needs_its_own_grant_to_assume_the_execution_role(operator, roles):
    roles(B, admin_may_assume=False)
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())

    operation_id = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B], Regions=["us-east-1"])["OperationId"]

    assert ended(cloudformation, operation_id)["Status"] == "FAILED"
    assert results(cloudformation, operation_id) == {(B, "us-east-1"): ("FAILED", execution_refused(B))}


def test_the_execution_role_must_be_allowed_to_create_the_stack(operator, roles):
    roles(B, execution_policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())

    operation_id = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B], Regions=["eu-west-1"])["OperationId"]
    ended(cloudformation, operation_id)

    ((status, reason),) = results(cloudformation, operation_id).values()
    assert status == "FAILED"
    assert reason.startswith(f"User: arn:aws:sts::{B}:assumed-role/{EXECUTION}/{operation_id} is not authorized to "
                             f"perform: cloudformation:CreateStack on resource: arn:aws:cloudformation:eu-west-1:{B}:"
                             "stack/StackSet-fleet-")
    assert reason.endswith("/* because no identity-based policy allows the cloudformation:CreateStack action")


@pytest.mark.parametrize("mode, cancelled", [("STRICT_FAILURE_TOLERANCE", True), ("SOFT_FAILURE_TOLERANCE", False)])
def test_strict_failure_tolerance_runs_no_more_at_once_than_may_fail(aws_as, operator, roles, mode, cancelled):
    """MaxConcurrentCount 3, FailureToleranceCount 0: STRICT runs one account at a time, so the failing first one
    cancels the others; SOFT runs all three at once (StackSetOperationPreferences, ConcurrencyMode)."""
    d = "444444444444"
    roles(B, d)
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())

    operation_id = cloudformation.create_stack_instances(
        StackSetName="fleet", Accounts=[C, B, d], Regions=["us-east-1"],
        OperationPreferences={"MaxConcurrentCount": 3, "FailureToleranceCount": 0, "ConcurrencyMode": mode})["OperationId"]

    assert ended(cloudformation, operation_id)["Status"] == "FAILED"
    statuses = {account: status for (account, _), (status, _) in results(cloudformation, operation_id).items()}
    assert statuses == {C: "FAILED", B: "CANCELLED" if cancelled else "SUCCEEDED", d: "CANCELLED" if cancelled else "SUCCEEDED"}


def test_a_stack_that_fails_to_create_rolls_back_is_deleted_and_names_its_resource(aws_as, operator, roles, artifact_buckets):
    roles(B)
    template = orchestrator_template()
    template["Resources"]["Echo"]["Properties"]["Code"]["S3Bucket"] = f"{artifact_buckets}-us-east-1"  # another Region's
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"],
                                    Parameters=[{"ParameterKey": "CodeBucketPrefix", "ParameterValue": artifact_buckets},
                                                {"ParameterKey": "CodeKey", "ParameterValue": CODE_KEY}])

    operation_id = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B], Regions=["eu-west-1"])["OperationId"]
    ended(cloudformation, operation_id)

    ((status, reason),) = results(cloudformation, operation_id).values()
    assert status == "FAILED"
    assert reason.startswith(
        'ResourceLogicalId:Echo, ResourceType:AWS::Lambda::Function, ResourceStatusReason:Resource handler returned '
        'message: "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is '
        'in this region: us-east-1. Please use this region to retry the request (Service: Lambda, Status Code: 400')
    described = cloudformation.describe_stack_instance(StackSetName="fleet", StackInstanceAccount=B,
                                                       StackInstanceRegion="eu-west-1")["StackInstance"]
    assert (described["Status"], described["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "FAILED")
    target = aws_as(B)("cloudformation", region_name="eu-west-1")
    assert target.describe_stacks(StackName=described["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert aws_as(B)("iam").list_roles()["Roles"] == [r for r in aws_as(B)("iam").list_roles()["Roles"]
                                                       if r["RoleName"] == EXECUTION]  # rolled back


def test_update_stack_set_updates_every_instance_and_stack_instances_keep_their_overrides(aws_as, operator, roles, artifact_buckets):
    roles(B)
    cloudformation = operator("cloudformation")
    parameters = [{"ParameterKey": "CodeBucketPrefix", "ParameterValue": artifact_buckets},
                  {"ParameterKey": "CodeKey", "ParameterValue": CODE_KEY}]
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=json.dumps(orchestrator_template()),
                                    Capabilities=["CAPABILITY_NAMED_IAM"], Parameters=parameters)
    created = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B], Regions=REGIONS,
                                                    OperationPreferences={"RegionConcurrencyType": "PARALLEL"})["OperationId"]
    assert ended(cloudformation, created)["Status"] == "SUCCEEDED"
    overridden = cloudformation.update_stack_instances(
        StackSetName="fleet", Accounts=[B], Regions=["eu-west-1"],
        ParameterOverrides=[{"ParameterKey": "Greeting", "ParameterValue": "hallo"}])["OperationId"]
    assert ended(cloudformation, overridden)["Status"] == "SUCCEEDED"

    updated = cloudformation.update_stack_set(
        StackSetName="fleet", UsePreviousTemplate=True, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[*({"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in parameters),
                    {"ParameterKey": "Greeting", "ParameterValue": "hi"}])["OperationId"]
    operation = ended(cloudformation, updated)

    assert (operation["Action"], operation["Status"]) == ("UPDATE", "SUCCEEDED")
    greetings = {}
    for region in REGIONS:
        sfn = aws_as(B)("stepfunctions", region_name=region)
        (machine,) = sfn.list_state_machines()["stateMachines"]
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
        greetings[region] = definition["States"]["Echo"]["Parameters"]["Payload"]["greeting"]
    assert greetings == {"us-east-1": "hi", "eu-west-1": "hallo"}
    assert {status for status, _, _ in instances(cloudformation).values()} == {"CURRENT"}
    overrides = cloudformation.describe_stack_instance(StackSetName="fleet", StackInstanceAccount=B,
                                                       StackInstanceRegion="eu-west-1")["StackInstance"]["ParameterOverrides"]
    assert overrides == [{"ParameterKey": "Greeting", "ParameterValue": "hallo"}]


def test_deleting_instances_deletes_their_stacks_unless_retained_and_then_the_stack_set(aws_as, operator, roles):
    roles(B)
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())
    ended(cloudformation, cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B], Regions=REGIONS)["OperationId"])

    assert error_of(lambda: cloudformation.delete_stack_set(StackSetName="fleet"))[0] == "StackSetNotEmptyException"
    deleted = cloudformation.delete_stack_instances(StackSetName="fleet", Accounts=[B], Regions=["us-east-1"],
                                                    RetainStacks=False)["OperationId"]
    assert ended(cloudformation, deleted)["Status"] == "SUCCEEDED"
    retained = cloudformation.delete_stack_instances(StackSetName="fleet", Accounts=[B], Regions=["eu-west-1"],
                                                     RetainStacks=True)["OperationId"]
    assert ended(cloudformation, retained)["Status"] == "SUCCEEDED"

    assert cloudformation.list_stack_instances(StackSetName="fleet")["Summaries"] == []
    assert aws_as(B)("sqs").list_queues().get("QueueUrls", []) == []
    assert len(aws_as(B)("sqs", region_name="eu-west-1").list_queues()["QueueUrls"]) == 1
    cloudformation.delete_stack_set(StackSetName="fleet")
    assert error_of(lambda: cloudformation.describe_stack_set(StackSetName="fleet"))[0] == "StackSetNotFoundException"


def test_one_operation_at_a_time_and_a_stopped_operation_cancels_what_had_not_started(emulator, operator, roles):
    roles(B, C)
    emulator.configure(stack_instance_latency=600)  # each target takes ten minutes, on the emulator's clock
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())
    operation_id = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B, C], Regions=["us-east-1"])["OperationId"]

    assert cloudformation.describe_stack_set_operation(StackSetName="fleet", OperationId=operation_id)[
        "StackSetOperation"]["Status"] == "RUNNING"
    code, message = error_of(lambda: cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[C], Regions=["eu-west-1"]))
    assert code == "OperationInProgressException"
    assert message.startswith(f"Another Operation on StackSet arn:aws:cloudformation:us-east-1:{OPERATOR}:stackset/fleet:")
    assert error_of(lambda: cloudformation.delete_stack_set(StackSetName="fleet"))[0] == "OperationInProgressException"
    deadline = time.monotonic() + 10
    while results(cloudformation, operation_id)[(B, "us-east-1")][0] != "RUNNING":  # the first target has started
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert results(cloudformation, operation_id)[(C, "us-east-1")][0] == "PENDING"
    cloudformation.stop_stack_set_operation(StackSetName="fleet", OperationId=operation_id)
    assert cloudformation.describe_stack_set_operation(StackSetName="fleet", OperationId=operation_id)[
        "StackSetOperation"]["Status"] == "STOPPING"
    emulator.clock.advance(600)
    operation = ended(cloudformation, operation_id)

    assert operation["Status"] == "STOPPED"
    assert {key: status for key, (status, _) in results(cloudformation, operation_id).items()} == {
        (B, "us-east-1"): "SUCCEEDED", (C, "us-east-1"): "CANCELLED"}
    # The operation id is an idempotency token: repeating the request starts nothing new.
    again = cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B, C], Regions=["us-east-1"],
                                                  OperationId=operation_id)["OperationId"]
    assert again == operation_id
    assert len(cloudformation.list_stack_set_operations(StackSetName="fleet")["Summaries"]) == 1


def test_requests_aws_refuses(operator, roles):
    cloudformation = operator("cloudformation")
    iam_template = json.dumps({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "named", "AssumeRolePolicyDocument": json.loads(LAMBDA_TRUST_POLICY)}}}})

    assert error_of(lambda: cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=iam_template)) == (
        "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")
    assert error_of(lambda: cloudformation.create_stack_set(
        StackSetName="fleet", TemplateBody=iam_template, Capabilities=["CAPABILITY_IAM"]))[0] == "InsufficientCapabilitiesException"
    assert error_of(lambda: cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template(),
                                                            PermissionModel="SERVICE_MANAGED")) == (
        "ValidationError", "You must be the management account or delegated admin account of an organization before "
                           "operating a SERVICE_MANAGED stack set")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())
    assert error_of(lambda: cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template()))[0] == \
        "NameAlreadyExistsException"
    code, message = error_of(lambda: cloudformation.create_stack_instances(StackSetName="fleet", Accounts=["12345"],
                                                                           Regions=["us-east-1"]))
    assert (code, "^[0-9]{12}$" in message) == ("ValidationError", True)
    assert error_of(lambda: cloudformation.create_stack_instances(
        StackSetName="fleet", Accounts=[B], Regions=["us-east-1"],
        OperationPreferences={"MaxConcurrentCount": 2, "MaxConcurrentPercentage": 50}))[0] == "ValidationError"
    assert error_of(lambda: cloudformation.update_stack_instances(StackSetName="fleet", Accounts=[B], Regions=["us-east-1"]))[0] == \
        "StackInstanceNotFoundException"
    assert error_of(lambda: cloudformation.describe_stack_set_operation(StackSetName="fleet", OperationId="nope"))[0] == \
        "OperationNotFoundException"
    assert error_of(lambda: cloudformation.describe_stack_set(StackSetName="other"))[0] == "StackSetNotFoundException"


def test_a_reset_ends_a_running_operation_and_nothing_of_it_survives(emulator, aws_as, operator, roles):
    roles(B)
    emulator.configure(stack_instance_latency=3600)
    cloudformation = operator("cloudformation")
    cloudformation.create_stack_set(StackSetName="fleet", TemplateBody=queue_template())
    cloudformation.create_stack_instances(StackSetName="fleet", Accounts=[B], Regions=REGIONS)

    started = time.monotonic()
    emulator.reset(stack_instance_latency=0)

    assert time.monotonic() - started < 10
    assert error_of(lambda: cloudformation.describe_stack_set(StackSetName="fleet"))[0] == "StackSetNotFoundException"
    assert aws_as(B)("cloudformation").describe_stacks()["Stacks"] == []
