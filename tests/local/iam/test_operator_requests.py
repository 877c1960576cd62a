"""Every call the CLI makes with the operator's credentials is authorized on the right action, resource ARN and
condition keys (local/iam/requests.py), and a call that hands a role to a service also asks for iam:PassRole.

Each request is the one botocore sends (signed, serialized in the service's protocol), read by the emulator's
own request path: `identify_call`, `request_parameters`, then `authorization_requests` and
`passed_role_requests`. No emulator runs: these are the mapping alone; test_operator_passrole.py checks the
answers on the wire.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest
import yaml
from botocore import xform_name
from botocore.config import Config

from local.aws_calls import identify_call
from local.iam.policy import ALLOWED, AuthRequest, evaluate
from local.iam.requests import Scope, authorization_requests, passed_role_requests, request_parameters
from provisioner.blueprint.rendering import render_documents
from provisioner.config import resolve

REPO = Path(__file__).resolve().parents[3]
ACCOUNT, REGION, NAME = "123456789012", "us-east-1", "fileferry-provisioner"
ENDPOINT = "http://127.0.0.1:4566"
SCOPE = Scope("aws", REGION, ACCOUNT)


class _Sent(Exception):
    pass


def environ_of(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The WSGI environ the emulator would get for this call (botocore's own signed request, not sent)."""
    client = boto3.client(service, region_name=REGION, endpoint_url=ENDPOINT, aws_access_key_id="ASIAOPERATOR",
                          aws_secret_access_key="secret", aws_session_token="token",
                          config=Config(retries={"total_max_attempts": 1}))
    sent: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> None:
        sent["request"] = request
        raise _Sent()

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Sent):
        getattr(client, xform_name(operation))(**params)
    request = sent["request"]
    url = urlsplit(request.url)
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body.read() if hasattr(body, "read") else bytes(body)
    environ = {"REQUEST_METHOD": request.method, "PATH_INFO": unquote(url.path), "QUERY_STRING": url.query,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    for header, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        key = header.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE",) else f"HTTP_{key}"] = value
    return environ


def requests_for(service: str, operation: str, **params: Any) -> list[AuthRequest]:
    environ = environ_of(service, operation, params)
    call = identify_call(environ)
    assert (call.service, call.operation) == ({"stepfunctions": "states"}.get(service, service), operation)
    parsed = request_parameters(call, environ)
    return authorization_requests(call, parsed, SCOPE) + passed_role_requests(call, parsed, SCOPE)


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


ROLE = f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{REGION}"
FUNCTION = f"{NAME}-verify"
MACHINE = arn("states", f"stateMachine:{NAME}")
EXECUTION = arn("states", f"execution:{NAME}:provision-20260101T000000-abc123")
QUEUE_URL = f"{ENDPOINT}/{ACCOUNT}/{NAME}-undelivered"
QUEUE = arn("sqs", f"{NAME}-undelivered")
ZIP = {"ZipFile": b"PK\x05\x06" + b"\x00" * 18}
TARGET = {"Id": "rollback", "Arn": MACHINE, "RoleArn": f"{ROLE}-events"}
SCHEDULE_TARGET = {"Arn": MACHINE, "RoleArn": f"{ROLE}-scheduler"}
ALARM = {"AlarmName": f"{NAME}-drift", "Namespace": "FileFerry", "MetricName": "DriftedResources", "Statistic": "Maximum",
         "Period": 3600, "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold"}
KEY = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
       "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}
STACK_SET = arn("cloudformation", f"stackset/{NAME}:*")
CODE_BUCKET = f"fileferry-code-{ACCOUNT}-{REGION}"  # provisioner/fleet/stack_set.py: <prefix>-<region>
CODE_KEY = f"{NAME}/lambda-0123456789abcdef0123.zip"
TEMPLATE = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Sub '${AWS::Region}-x'\n"


def passes(role: str, service: str) -> tuple[str, str, dict[str, Any]]:
    return ("iam:PassRole", role, {"iam:PassedToService": service})


# (service, operation, parameters) -> [(action, resource, context), ...]: every call deploy, up, run, status, plan,
# outputs and destroy make with the operator's credentials (provisioner/deployer.py, provisioner/runs/,
# provisioner/cli/commands.py), then the ones `fleet` makes, then stacks with a service role.
CASES: list[tuple[str, str, dict[str, Any], list[tuple[str, str, dict[str, Any]]]]] = [
    # deploy: the orchestrator's roles.
    ("iam", "CreateRole", {"RoleName": f"{NAME}-{REGION}-states", "AssumeRolePolicyDocument": "{}",
                           "Tags": [{"Key": "k", "Value": "v"}]}, [("iam:CreateRole", f"{ROLE}-states", {})]),
    ("iam", "GetRole", {"RoleName": f"{NAME}-{REGION}-states"}, [("iam:GetRole", f"{ROLE}-states", {})]),
    ("iam", "UpdateAssumeRolePolicy", {"RoleName": f"{NAME}-{REGION}-states", "PolicyDocument": "{}"},
     [("iam:UpdateAssumeRolePolicy", f"{ROLE}-states", {})]),
    ("iam", "GetRolePolicy", {"RoleName": f"{NAME}-{REGION}-states", "PolicyName": "least-privilege"},
     [("iam:GetRolePolicy", f"{ROLE}-states", {})]),
    ("iam", "PutRolePolicy", {"RoleName": f"{NAME}-{REGION}-states", "PolicyName": "least-privilege",
                              "PolicyDocument": "{}"}, [("iam:PutRolePolicy", f"{ROLE}-states", {})]),
    ("iam", "DeleteRolePolicy", {"RoleName": f"{NAME}-{REGION}-old-fn", "PolicyName": "least-privilege"},
     [("iam:DeleteRolePolicy", f"{ROLE}-old-fn", {})]),
    ("iam", "DeleteRole", {"RoleName": f"{NAME}-{REGION}-old-fn"}, [("iam:DeleteRole", f"{ROLE}-old-fn", {})]),
    # The run lease and the runs in flight.
    ("dynamodb", "GetItem", {"TableName": f"{NAME}-run-lease", "Key": {"pk": {"S": "lease"}}},
     [("dynamodb:GetItem", arn("dynamodb", f"table/{NAME}-run-lease"), {})]),
    ("dynamodb", "DescribeTable", {"TableName": f"{NAME}-run-lease"},
     [("dynamodb:DescribeTable", arn("dynamodb", f"table/{NAME}-run-lease"), {})]),
    ("dynamodb", "CreateTable", {"TableName": f"{NAME}-run-lease", **KEY, "Tags": [{"Key": "k", "Value": "v"}]},
     [("dynamodb:CreateTable", arn("dynamodb", f"table/{NAME}-run-lease"), {})]),
    ("stepfunctions", "ListExecutions", {"stateMachineArn": MACHINE, "statusFilter": "RUNNING"},
     [("states:ListExecutions", MACHINE, {})]),
    ("stepfunctions", "DescribeExecution", {"executionArn": EXECUTION}, [("states:DescribeExecution", EXECUTION, {})]),
    ("stepfunctions", "GetExecutionHistory", {"executionArn": EXECUTION, "reverseOrder": True, "maxResults": 1},
     [("states:GetExecutionHistory", EXECUTION, {})]),
    # The functions, each with its role.
    ("logs", "CreateLogGroup", {"logGroupName": f"/aws/lambda/{FUNCTION}", "tags": {"k": "v"}},
     [("logs:CreateLogGroup", arn("logs", f"log-group:/aws/lambda/{FUNCTION}"), {})]),
    ("logs", "PutRetentionPolicy", {"logGroupName": f"/aws/lambda/{FUNCTION}", "retentionInDays": 30},
     [("logs:PutRetentionPolicy", arn("logs", f"log-group:/aws/lambda/{FUNCTION}"), {})]),
    ("lambda", "GetFunction", {"FunctionName": FUNCTION}, [("lambda:GetFunction", arn("lambda", f"function:{FUNCTION}"), {})]),
    ("lambda", "CreateFunction", {"FunctionName": FUNCTION, "Role": f"{ROLE}-verify-fn", "Code": ZIP,
                                  "Handler": "h.h", "Runtime": "python3.12", "Tags": {"k": "v"}},
     [("lambda:CreateFunction", arn("lambda", f"function:{FUNCTION}"), {}),
      passes(f"{ROLE}-verify-fn", "lambda.amazonaws.com")]),
    ("lambda", "UpdateFunctionCode", {"FunctionName": FUNCTION, **ZIP},
     [("lambda:UpdateFunctionCode", arn("lambda", f"function:{FUNCTION}"), {})]),
    ("lambda", "UpdateFunctionConfiguration", {"FunctionName": FUNCTION, "Role": f"{ROLE}-verify-fn", "Timeout": 60},
     [("lambda:UpdateFunctionConfiguration", arn("lambda", f"function:{FUNCTION}"), {}),
      passes(f"{ROLE}-verify-fn", "lambda.amazonaws.com")]),
    ("lambda", "UpdateFunctionConfiguration", {"FunctionName": FUNCTION, "Timeout": 60},  # no role handed over
     [("lambda:UpdateFunctionConfiguration", arn("lambda", f"function:{FUNCTION}"), {})]),
    ("lambda", "DeleteFunction", {"FunctionName": f"{NAME}-old"},
     [("lambda:DeleteFunction", arn("lambda", f"function:{NAME}-old"), {})]),
    # The state machine.
    ("logs", "CreateLogGroup", {"logGroupName": f"/aws/vendedlogs/states/{NAME}"},
     [("logs:CreateLogGroup", arn("logs", f"log-group:/aws/vendedlogs/states/{NAME}"), {})]),
    ("stepfunctions", "DescribeStateMachine", {"stateMachineArn": MACHINE}, [("states:DescribeStateMachine", MACHINE, {})]),
    ("stepfunctions", "CreateStateMachine", {"name": NAME, "definition": "{}", "roleArn": f"{ROLE}-states",
                                             "tags": [{"key": "k", "value": "v"}]},
     [("states:CreateStateMachine", MACHINE, {}), passes(f"{ROLE}-states", "states.amazonaws.com")]),
    ("stepfunctions", "UpdateStateMachine", {"stateMachineArn": MACHINE, "definition": "{}", "roleArn": f"{ROLE}-states"},
     [("states:UpdateStateMachine", MACHINE, {}), passes(f"{ROLE}-states", "states.amazonaws.com")]),
    # The dead-letter queue, the rollback rule, the drift schedule, the alarms.
    ("sqs", "GetQueueUrl", {"QueueName": f"{NAME}-undelivered"}, [("sqs:GetQueueUrl", QUEUE, {})]),
    ("sqs", "CreateQueue", {"QueueName": f"{NAME}-undelivered", "tags": {"k": "v"}}, [("sqs:CreateQueue", QUEUE, {})]),
    ("sqs", "GetQueueAttributes", {"QueueUrl": QUEUE_URL, "AttributeNames": ["All"]},
     [("sqs:GetQueueAttributes", QUEUE, {})]),
    ("sqs", "SetQueueAttributes", {"QueueUrl": QUEUE_URL, "Attributes": {"Policy": "{}"}},
     [("sqs:SetQueueAttributes", QUEUE, {})]),
    ("events", "PutRule", {"Name": f"{NAME}-rollback-on-abort", "EventPattern": "{}", "Tags": [{"Key": "k", "Value": "v"}]},
     [("events:PutRule", arn("events", f"rule/{NAME}-rollback-on-abort"), {})]),
    ("events", "PutTargets", {"Rule": f"{NAME}-rollback-on-abort", "Targets": [TARGET]},
     [("events:PutTargets", arn("events", f"rule/{NAME}-rollback-on-abort"), {}),
      passes(f"{ROLE}-events", "events.amazonaws.com")]),
    ("scheduler", "CreateSchedule", {"Name": f"{NAME}-drift-check", "ScheduleExpression": "rate(1 day)",
                                     "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": SCHEDULE_TARGET},
     [("scheduler:CreateSchedule", arn("scheduler", f"schedule/default/{NAME}-drift-check"), {}),
      passes(f"{ROLE}-scheduler", "scheduler.amazonaws.com")]),
    ("scheduler", "UpdateSchedule", {"Name": f"{NAME}-drift-check", "ScheduleExpression": "rate(1 day)",
                                     "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": SCHEDULE_TARGET},
     [("scheduler:UpdateSchedule", arn("scheduler", f"schedule/default/{NAME}-drift-check"), {}),
      passes(f"{ROLE}-scheduler", "scheduler.amazonaws.com")]),
    ("cloudwatch", "PutMetricAlarm", ALARM, [("cloudwatch:PutMetricAlarm", arn("cloudwatch", f"alarm:{NAME}-drift"), {})]),
    # up / run / status.
    ("stepfunctions", "StartExecution", {"stateMachineArn": MACHINE, "name": "provision-1", "input": "{}"},
     [("states:StartExecution", MACHINE, {})]),
    ("stepfunctions", "DescribeStateMachineForExecution", {"executionArn": EXECUTION},
     [("states:DescribeStateMachineForExecution", EXECUTION, {})]),
    # plan / outputs.
    ("dynamodb", "DescribeTimeToLive", {"TableName": "FileFerry-ActiveSessions"},
     [("dynamodb:DescribeTimeToLive", arn("dynamodb", "table/FileFerry-ActiveSessions"), {})]),
    ("dynamodb", "DescribeContinuousBackups", {"TableName": "FileFerry-ActiveSessions"},
     [("dynamodb:DescribeContinuousBackups", arn("dynamodb", "table/FileFerry-ActiveSessions"), {})]),
    ("iam", "ListRolePolicies", {"RoleName": "FileFerryReadOnlyRole"},
     [("iam:ListRolePolicies", f"arn:aws:iam::{ACCOUNT}:role/FileFerryReadOnlyRole", {})]),
    ("iam", "ListAttachedRolePolicies", {"RoleName": "FileFerryReadOnlyRole"},
     [("iam:ListAttachedRolePolicies", f"arn:aws:iam::{ACCOUNT}:role/FileFerryReadOnlyRole", {})]),
    # destroy.
    ("scheduler", "DeleteSchedule", {"Name": f"{NAME}-drift-check"},
     [("scheduler:DeleteSchedule", arn("scheduler", f"schedule/default/{NAME}-drift-check"), {})]),
    ("events", "RemoveTargets", {"Rule": f"{NAME}-rollback-on-abort", "Ids": ["rollback"]},
     [("events:RemoveTargets", arn("events", f"rule/{NAME}-rollback-on-abort"), {})]),
    ("events", "DeleteRule", {"Name": f"{NAME}-rollback-on-abort"},
     [("events:DeleteRule", arn("events", f"rule/{NAME}-rollback-on-abort"), {})]),
    ("cloudwatch", "DeleteAlarms", {"AlarmNames": [f"{NAME}-drift", f"{NAME}-undelivered"]},
     [("cloudwatch:DeleteAlarms", arn("cloudwatch", f"alarm:{NAME}-drift"), {}),
      ("cloudwatch:DeleteAlarms", arn("cloudwatch", f"alarm:{NAME}-undelivered"), {})]),
    ("stepfunctions", "DeleteStateMachine", {"stateMachineArn": MACHINE}, [("states:DeleteStateMachine", MACHINE, {})]),
    ("sqs", "DeleteQueue", {"QueueUrl": QUEUE_URL}, [("sqs:DeleteQueue", QUEUE, {})]),
    ("dynamodb", "DeleteTable", {"TableName": f"{NAME}-run-lease"},
     [("dynamodb:DeleteTable", arn("dynamodb", f"table/{NAME}-run-lease"), {})]),
    # fleet: the StackSet, its instances and operations, the artifact buckets, the targets' execution role.
    ("cloudformation", "CreateStackSet", {"StackSetName": NAME, "TemplateURL": "https://b.s3.amazonaws.com/t.yaml",
                                          "AdministrationRoleARN": f"arn:aws:iam::{ACCOUNT}:role/Admin",
                                          "ExecutionRoleName": "Exec", "PermissionModel": "SELF_MANAGED"},
     [("cloudformation:CreateStackSet", "*", {"cloudformation:RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Admin",
                                              "cloudformation:TemplateUrl": "https://b.s3.amazonaws.com/t.yaml"}),
      passes(f"arn:aws:iam::{ACCOUNT}:role/Admin", "cloudformation.amazonaws.com")]),
    ("cloudformation", "DescribeStackSet", {"StackSetName": NAME}, [("cloudformation:DescribeStackSet", STACK_SET, {})]),
    ("cloudformation", "UpdateStackSet", {"StackSetName": NAME, "TemplateBody": TEMPLATE},
     [("cloudformation:UpdateStackSet", STACK_SET, {}),
      ("cloudformation:UpdateStackSet", arn("cloudformation", "type/resource/AWS-IAM-Role"), {})]),
    ("cloudformation", "CreateStackInstances", {"StackSetName": NAME, "Accounts": ["111111111111", "222222222222"],
                                                "Regions": ["us-east-1", "eu-west-1"]},
     [(action, resource, {"cloudformation:TargetRegion": ["us-east-1", "eu-west-1"]}) for action, resource in (
         ("cloudformation:CreateStackInstances", STACK_SET),
         ("cloudformation:CreateStackInstances", arn("cloudformation", f"stackset-target/{NAME}:*/111111111111")),
         ("cloudformation:CreateStackInstances", arn("cloudformation", f"stackset-target/{NAME}:*/222222222222")))]),
    ("cloudformation", "DeleteStackInstances", {"StackSetName": NAME, "DeploymentTargets": {"Accounts": ["111111111111"]},
                                                "Regions": ["us-east-1"], "RetainStacks": False},
     [(action, resource, {"cloudformation:TargetRegion": ["us-east-1"]}) for action, resource in (
         ("cloudformation:DeleteStackInstances", STACK_SET),
         ("cloudformation:DeleteStackInstances", arn("cloudformation", f"stackset-target/{NAME}:*/111111111111")))]),
    ("cloudformation", "DescribeStackSetOperation", {"StackSetName": NAME, "OperationId": "op"},
     [("cloudformation:DescribeStackSetOperation", STACK_SET, {})]),
    ("cloudformation", "ListStackSetOperationResults", {"StackSetName": NAME, "OperationId": "op"},
     [("cloudformation:ListStackSetOperationResults", STACK_SET, {})]),
    ("s3", "HeadBucket", {"Bucket": CODE_BUCKET}, [("s3:ListBucket", f"arn:aws:s3:::{CODE_BUCKET}", {})]),
    ("s3", "CreateBucket", {"Bucket": CODE_BUCKET}, [("s3:CreateBucket", f"arn:aws:s3:::{CODE_BUCKET}", {})]),
    ("s3", "PutPublicAccessBlock", {"Bucket": CODE_BUCKET, "PublicAccessBlockConfiguration": {"BlockPublicAcls": True}},
     [("s3:PutBucketPublicAccessBlock", f"arn:aws:s3:::{CODE_BUCKET}", {})]),
    ("s3", "PutBucketPolicy", {"Bucket": CODE_BUCKET, "Policy": "{}"},
     [("s3:PutBucketPolicy", f"arn:aws:s3:::{CODE_BUCKET}", {})]),
    ("s3", "HeadObject", {"Bucket": CODE_BUCKET, "Key": CODE_KEY}, [("s3:GetObject", f"arn:aws:s3:::{CODE_BUCKET}/{CODE_KEY}", {})]),
    ("s3", "PutObject", {"Bucket": CODE_BUCKET, "Key": CODE_KEY, "Body": b"zip"},
     [("s3:PutObject", f"arn:aws:s3:::{CODE_BUCKET}/{CODE_KEY}", {})]),
    ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::111111111111:role/Exec", "RoleSessionName": "fleet-run"},
     [("sts:AssumeRole", "arn:aws:iam::111111111111:role/Exec", {"sts:RoleSessionName": "fleet-run"})]),
    # A stack with a service role (`aws cloudformation deploy --role-arn` of render's template).
    ("cloudformation", "CreateStack", {"StackName": NAME, "TemplateBody": TEMPLATE, "RoleARN": f"{ROLE}-cfn"},
     [("cloudformation:CreateStack", arn("cloudformation", f"stack/{NAME}/*"), {"cloudformation:RoleArn": f"{ROLE}-cfn"}),
      passes(f"{ROLE}-cfn", "cloudformation.amazonaws.com")]),
    ("cloudformation", "CreateChangeSet", {"StackName": NAME, "ChangeSetName": "cs", "TemplateBody": TEMPLATE,
                                           "RoleARN": f"{ROLE}-cfn"},
     [("cloudformation:CreateChangeSet", arn("cloudformation", f"stack/{NAME}/*"),
       {"cloudformation:RoleArn": f"{ROLE}-cfn", "cloudformation:ChangeSetName": "cs"}),
      passes(f"{ROLE}-cfn", "cloudformation.amazonaws.com")]),
    ("cloudformation", "DescribeStacks", {"StackName": NAME},
     [("cloudformation:DescribeStacks", arn("cloudformation", f"stack/{NAME}/*"), {})]),
]


@pytest.mark.parametrize("service, operation, params, expected", CASES,
                         ids=[f"{service}:{operation}-{i}" for i, (service, operation, _, _) in enumerate(CASES)])
def test_each_operator_call_is_authorized_on_its_resource(service, operation, params, expected) -> None:
    got = [(r.action, r.resource, dict(r.context)) for r in requests_for(service, operation, **params)]
    assert got == expected


def test_every_role_a_put_targets_hands_over_is_passed() -> None:
    targets = [TARGET, {**TARGET, "Id": "second", "RoleArn": f"{ROLE}-other-events"}, {"Id": "no-role", "Arn": MACHINE}]
    passed = [r for r in requests_for("events", "PutTargets", Rule="r", Targets=targets) if r.action == "iam:PassRole"]
    assert [(r.resource, r.context["iam:PassedToService"]) for r in passed] == [
        (f"{ROLE}-events", "events.amazonaws.com"), (f"{ROLE}-other-events", "events.amazonaws.com")]


def test_the_stack_set_template_names_the_resource_types_stacksets_authorizes() -> None:
    from local.iam.requests import template_resource_types

    assert template_resource_types(TEMPLATE) == ["AWS::IAM::Role"]
    assert template_resource_types(json.dumps({"Resources": {"T": {"Type": "AWS::DynamoDB::Table"}}})) == [
        "AWS::DynamoDB::Table"]
    assert template_resource_types("not: [a template") == []


# -- the rendered operator policy allows each of those calls, and no role to another service ---------------------


@pytest.fixture(scope="module")
def operator_policy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("render")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    render_documents(resolve(path, endpoint_url=ENDPOINT), directory / "out")
    return json.loads((directory / "out" / "iam" / "operator.policy.json").read_text())


# The cases the operator's own commands make (not the stacks with a service role of their own, nor a StackSet
# with another administration role, which the policy must refuse).
OPERATOR_CASES = [case for case in CASES if not (case[0] == "cloudformation" and case[1] in (
    "CreateStack", "CreateChangeSet", "DescribeStacks", "CreateStackSet", "UpdateStackSet"))]
FLEET_ADMINISTRATION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/AWSCloudFormationStackSetAdministrationRole"


def _decision(policy: dict[str, Any], request: AuthRequest) -> str:
    return evaluate([policy], request).result


@pytest.mark.parametrize("service, operation, params, _expected", OPERATOR_CASES,
                         ids=[f"{s}:{o}-{i}" for i, (s, o, _, _) in enumerate(OPERATOR_CASES)])
def test_the_rendered_operator_policy_allows_each_call_the_cli_makes(operator_policy, service, operation, params,
                                                                     _expected) -> None:
    if operation == "AssumeRole":
        params = {**params, "RoleArn": "arn:aws:iam::111111111111:role/AWSCloudFormationStackSetExecutionRole"}
    for request in requests_for(service, operation, **params):
        assert _decision(operator_policy, request) == ALLOWED, request


def test_the_operator_policy_creates_a_stack_set_only_with_its_administration_role(operator_policy) -> None:
    ours = requests_for("cloudformation", "CreateStackSet", StackSetName=NAME, AdministrationRoleARN=FLEET_ADMINISTRATION_ROLE,
                        TemplateURL="https://b.s3.amazonaws.com/t.yaml")
    other = requests_for("cloudformation", "CreateStackSet", StackSetName=NAME, TemplateURL="https://b/t.yaml",
                         AdministrationRoleARN=f"arn:aws:iam::{ACCOUNT}:role/Admin")
    assert [_decision(operator_policy, r) for r in ours] == [ALLOWED, ALLOWED]
    assert [_decision(operator_policy, r) for r in other] == ["implicit-deny", "implicit-deny"]


@pytest.mark.parametrize("role, service", [
    (f"{ROLE}-verify-fn", "states.amazonaws.com"),
    (f"{ROLE}-states", "lambda.amazonaws.com"),
    (f"{ROLE}-events", "scheduler.amazonaws.com"),
    (f"arn:aws:iam::{ACCOUNT}:role/FileFerryReadOnlyRole", "lambda.amazonaws.com"),
    (f"arn:aws:iam::{ACCOUNT}:role/Admin", "lambda.amazonaws.com"),
    (FLEET_ADMINISTRATION_ROLE, "lambda.amazonaws.com"),
])
def test_the_operator_policy_passes_no_role_to_another_service(operator_policy, role, service) -> None:
    assert _decision(operator_policy, AuthRequest("iam:PassRole", role, {"iam:PassedToService": service})) == "implicit-deny"


def test_s3_put_object_is_not_taken_for_copy_object() -> None:
    """Same method and path; CopyObject requires the x-amz-copy-source header."""
    bucket = {"Bucket": CODE_BUCKET, "Key": CODE_KEY}
    put = identify_call(environ_of("s3", "PutObject", {**bucket, "Body": b"zip"}))
    copy = identify_call(environ_of("s3", "CopyObject", {**bucket, "CopySource": "other/lambda.zip"}))
    assert (put.operation, copy.operation) == ("PutObject", "CopyObject")
