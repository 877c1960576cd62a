"""The action, resource ARN and condition keys the embedded AWS derives from a request's parameters."""

from __future__ import annotations

import pytest

from local.aws_calls import AwsCall
from local.iam.requests import Scope, authorization_requests, on_behalf_requests

SCOPE = Scope("aws", "eu-west-1", "123456789012")


def asked(service: str, operation: str, params: dict, protocol: str = "json", role_path=None) -> list[tuple]:
    call = AwsCall(service, operation, protocol, "")
    return [(r.action, r.resource, dict(r.context)) for r in authorization_requests(call, params, SCOPE, role_path)]


@pytest.mark.parametrize(
    ("service", "operation", "params", "action", "resource"),
    [
        ("dynamodb", "CreateTable", {"TableName": "t"}, "dynamodb:CreateTable", "arn:aws:dynamodb:eu-west-1:123456789012:table/t"),
        ("dynamodb", "Query", {"TableName": "t", "IndexName": "i"}, "dynamodb:Query",
         "arn:aws:dynamodb:eu-west-1:123456789012:table/t/index/i"),
        ("dynamodb", "DescribeBackup", {"BackupArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/backup/0-a"},
         "dynamodb:DescribeBackup", "arn:aws:dynamodb:eu-west-1:123456789012:table/t/backup/0-a"),
        ("dynamodb", "ListBackups", {}, "dynamodb:ListBackups", "*"),
        ("states", "DescribeExecution", {"executionArn": "arn:aws:states:eu-west-1:123456789012:execution:m:e"},
         "states:DescribeExecution", "arn:aws:states:eu-west-1:123456789012:execution:m:e"),
        ("states", "CreateStateMachine", {"name": "m"}, "states:CreateStateMachine",
         "arn:aws:states:eu-west-1:123456789012:stateMachine:m"),
        ("logs", "PutLogEvents", {"logGroupName": "/aws/lambda/f", "logStreamName": "s"}, "logs:PutLogEvents",
         "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:log-stream:s"),
        ("cloudwatch", "PutMetricAlarm", {"AlarmName": "a"}, "cloudwatch:PutMetricAlarm",
         "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a"),
        ("events", "PutTargets", {"Rule": "r"}, "events:PutTargets", "arn:aws:events:eu-west-1:123456789012:rule/r"),
        ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s"},
         "sts:AssumeRole", "arn:aws:iam::123456789012:role/r"),
    ],
)
def test_the_resource_is_the_one_the_request_names(service, operation, params, action, resource) -> None:
    assert [(a, r) for a, r, _ in asked(service, operation, params)] == [(action, resource)]


@pytest.mark.parametrize(
    ("name", "qualifier", "arn"),
    [
        ("f", None, "arn:aws:lambda:eu-west-1:123456789012:function:f"),
        ("f", "live", "arn:aws:lambda:eu-west-1:123456789012:function:f:live"),
        ("f:3", None, "arn:aws:lambda:eu-west-1:123456789012:function:f:3"),
        ("123456789012:function:f", None, "arn:aws:lambda:eu-west-1:123456789012:function:f"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:f:$LATEST", None,
         "arn:aws:lambda:eu-west-1:123456789012:function:f:$LATEST"),
    ],
)
def test_lambda_invoke_is_invoke_function_on_the_qualified_function(name, qualifier, arn) -> None:
    params = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    assert asked("lambda", "Invoke", params, "rest-json") == [("lambda:InvokeFunction", arn, {})]


def test_a_batch_asks_for_every_table_it_touches() -> None:
    resources = [r for _, r, _ in asked("dynamodb", "BatchWriteItem", {"RequestItems": {"a": [], "b": []}})]
    assert resources == ["arn:aws:dynamodb:eu-west-1:123456789012:table/a", "arn:aws:dynamodb:eu-west-1:123456789012:table/b"]


def test_an_iam_role_arn_carries_the_stored_path() -> None:
    [(action, resource, _)] = asked("iam", "GetRole", {"RoleName": "r"}, "query", role_path=lambda name: "/service/")
    assert (action, resource) == ("iam:GetRole", "arn:aws:iam::123456789012:role/service/r")
    [(_, created, _)] = asked("iam", "CreateRole", {"RoleName": "r", "Path": "/app/"}, "query")
    assert created == "arn:aws:iam::123456789012:role/app/r"


def test_condition_keys_come_from_the_request() -> None:
    [(_, _, metric)] = asked("cloudwatch", "PutMetricData", {"Namespace": "FileFerry"})
    [(_, _, assume)] = asked("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r",
                                                    "RoleSessionName": "s", "ExternalId": "x"}, "query")
    [(_, _, attach)] = asked("iam", "AttachRolePolicy", {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/P"}, "query")
    assert metric == {"cloudwatch:namespace": "FileFerry"}
    assert assume == {"sts:RoleSessionName": "s", "sts:ExternalId": "x"}
    assert attach == {"iam:PolicyARN": "arn:aws:iam::aws:policy/P"}


def test_sts_get_caller_identity_needs_no_permission() -> None:
    assert asked("sts", "GetCallerIdentity", {}, "query") == []


def test_an_unknown_service_is_asked_on_star_which_scoped_policies_do_not_match() -> None:
    assert asked("glacier", "ListVaults", {}, "rest-json") == [("glacier:ListVaults", "*", {})]


def test_a_table_under_a_customer_key_asks_for_the_key_via_dynamodb() -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    call = AwsCall("dynamodb", "CreateTable", "json", "")
    asks = on_behalf_requests(call, {"TableName": "t", "SSESpecification": {"Enabled": True, "SSEType": "KMS",
                                                                             "KMSMasterKeyId": key}}, SCOPE)
    assert {r.action for r in asks} >= {"kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:DescribeKey"}
    assert {r.resource for r in asks} == {key}
    assert all(r.context["kms:ViaService"] == "dynamodb.eu-west-1.amazonaws.com" for r in asks)
    assert on_behalf_requests(call, {"TableName": "t", "SSESpecification": {"Enabled": True}}, SCOPE) == []
