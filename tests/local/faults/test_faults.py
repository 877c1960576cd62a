"""Fault injection and API-call counts, observed through boto3 as a handler would see them."""

import json
import re
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from local.emulator import Emulator
from local.faults.injected import parse_fault_specs

TABLE = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


def control(emulator, method, action, payload=None):
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_fileferry/{action}",
        data=None if payload is None else json.dumps(payload).encode(),
        method=method,
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


@pytest.mark.parametrize(
    "spec",
    ["dynamodb:CreateTable", "dynamodb=Throttling", "dynamodb:CreateTable=X*0",
     "dynamodb:CreateTable=X*two", "CreateTable=ThrottlingException", "x"],
)
def test_a_bad_spec_is_refused_naming_it(spec):
    with pytest.raises(ValueError, match=f"bad fault spec '{re.escape(spec)}'"):
        parse_fault_specs([spec])


def test_specs_come_from_the_constructor_and_the_environment(monkeypatch):
    monkeypatch.setenv("FILEFERRY_FAULTS", "iam:CreateRole=AccessDenied, lambda:Invoke=ServiceException*1")
    emulator = Emulator(faults=["dynamodb:CreateTable=ThrottlingException*3"])  # not started
    assert emulator.faults() == [
        {"spec": "dynamodb:CreateTable=ThrottlingException*3", "remaining": 3},
        {"spec": "iam:CreateRole=AccessDenied", "remaining": None},
        {"spec": "lambda:Invoke=ServiceException*1", "remaining": 1},
    ]
    monkeypatch.setenv("FILEFERRY_FAULTS", "iam:CreateRole")
    with pytest.raises(ValueError, match="iam:CreateRole"):
        Emulator()


def test_dynamodb_fault_hits_handler_calls_count_times(emulator, aws, handler_client):
    emulator.set_faults(["dynamodb:CreateTable=ThrottlingException*2"])
    as_handler = handler_client("dynamodb")

    for _ in range(2):
        with pytest.raises(ClientError) as refused:
            as_handler.create_table(TableName="sessions", **TABLE)
        assert refused.value.response["Error"]["Code"] == "ThrottlingException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    as_handler.create_table(TableName="sessions", **TABLE)

    assert aws("dynamodb").describe_table(TableName="sessions")["Table"]["TableName"] == "sessions"
    assert emulator.api_calls()["dynamodb:CreateTable"] == 3
    assert emulator.faults() == [
        {"spec": "dynamodb:CreateTable=ThrottlingException*2", "remaining": 0}
    ]


def test_calls_without_the_handler_user_agent_are_not_faulted(emulator, aws):
    emulator.set_faults(["dynamodb:CreateTable=ThrottlingException", "iam:CreateRole=AccessDenied"])
    aws("dynamodb").create_table(TableName="sessions", **TABLE)
    aws("iam").create_role(RoleName="reader", AssumeRolePolicyDocument=TRUST)
    assert emulator.api_calls() == {"dynamodb:CreateTable": 1, "iam:CreateRole": 1}


def test_iam_fault_without_count_hits_every_call(emulator, handler_client):
    emulator.set_faults(["iam:CreateRole=AccessDenied"])
    iam = handler_client("iam")
    for _ in range(3):
        with pytest.raises(ClientError) as refused:
            iam.create_role(RoleName="reader", AssumeRolePolicyDocument=TRUST)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert iam.list_roles()["Roles"] == []  # other operations are untouched
    assert emulator.api_calls() == {"iam:CreateRole": 3, "iam:ListRoles": 1}


def test_botocore_retries_absorb_a_short_throttling_burst(emulator, aws):
    emulator.set_faults(["dynamodb:ListTables=ThrottlingException*2"])
    retrying_handler = aws("dynamodb", user_agent_appid="fileferry-lambda-runner")
    assert retrying_handler.list_tables()["TableNames"] == []
    assert emulator.api_calls() == {"dynamodb:ListTables": 3}


def test_rest_and_query_operations_are_named_like_the_api(emulator, aws):
    aws("lambda").list_functions()
    aws("sts").get_caller_identity()
    aws("stepfunctions").list_state_machines()
    aws("cloudwatch").put_metric_data(Namespace="FileFerry", MetricData=[{"MetricName": "Drift", "Value": 1}])
    aws("events").list_rules()
    assert emulator.api_calls() == {
        "lambda:ListFunctions": 1,
        "sts:GetCallerIdentity": 1,
        "states:ListStateMachines": 1,
        "cloudwatch:PutMetricData": 1,
        "events:ListRules": 1,
    }


def test_controls_over_http(emulator, handler_client):
    assert control(emulator, "POST", "faults", ["states:ListStateMachines=ThrottlingException*1"]) == [
        {"spec": "states:ListStateMachines=ThrottlingException*1", "remaining": 1}
    ]
    sfn = handler_client("stepfunctions")
    with pytest.raises(ClientError) as refused:
        sfn.list_state_machines()
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"
    sfn.list_state_machines()

    assert control(emulator, "GET", "api-calls") == {"states:ListStateMachines": 2}
    assert control(emulator, "DELETE", "api-calls") == {}
    assert control(emulator, "GET", "api-calls") == {}

    with pytest.raises(urllib.error.HTTPError) as bad:
        control(emulator, "POST", "faults", ["not a spec"])
    assert bad.value.code == 400
    assert "not a spec" in json.load(bad.value)["error"]


def test_reset_over_http_clears_state_and_keeps_faults(emulator, aws):
    emulator.set_faults(["iam:CreateRole=AccessDenied"])
    aws("dynamodb").create_table(TableName="sessions", **TABLE)
    assert control(emulator, "POST", "reset") == {}
    assert aws("dynamodb").list_tables()["TableNames"] == []
    assert emulator.faults() == [{"spec": "iam:CreateRole=AccessDenied", "remaining": None}]
