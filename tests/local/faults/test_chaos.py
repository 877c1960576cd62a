"""Transient faults at random (--chaos RATE --seed N), read back with boto3."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from local.emulator import Emulator

ROLE_ARN = "arn:aws:iam::123456789012:role/sample-states-role"


def control(emulator, method, action, payload=None):
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_fileferry/{action}",
        data=None if payload is None else json.dumps(payload).encode(),
        method=method,
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def outcome(call, **kwargs):
    """The error code a call fails with ("ConnectionClosedError" for no answer), or None."""
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    except ConnectionClosedError:
        return "ConnectionClosedError", None
    return None


@pytest.fixture
def handler_calls(handler_client):
    """Calls that look like a deployed function's (the runner's User-Agent mark), one attempt each."""
    return {
        "dynamodb": (handler_client("dynamodb").list_tables, {}),
        "iam": (handler_client("iam").list_roles, {}),
        "states": (handler_client("stepfunctions").list_state_machines, {}),
        "lambda": (handler_client("lambda").list_functions, {}),
        "sts": (handler_client("sts").get_caller_identity, {}),
    }


# The transient errors AWS returns, per service, as botocore parses them (code, HTTP status).
EXPECTED = {
    "dynamodb": {("ThrottlingException", 400), ("InternalServerError", 500), ("ServiceUnavailable", 503),
                 ("ConnectionClosedError", None)},
    "iam": {("Throttling", 400), ("ServiceFailure", 500), ("ServiceUnavailable", 503), ("ConnectionClosedError", None)},
    "states": {("ThrottlingException", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503),
               ("ConnectionClosedError", None)},
    "lambda": {("TooManyRequestsException", 429), ("ServiceException", 500), ("ServiceUnavailable", 503),
               ("ConnectionClosedError", None)},
    "sts": {("Throttling", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503), ("ConnectionClosedError", None)},
}


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_each_service_fails_with_its_own_transient_errors_in_its_wire_shape(emulator, handler_calls, service):
    emulator.set_chaos(1.0, seed=3)
    call, kwargs = handler_calls[service]
    seen = {outcome(call, **kwargs) for _ in range(40)}
    assert seen == EXPECTED[service]


def test_the_same_seed_gives_the_same_decisions_and_another_seed_others(emulator, handler_calls):
    call, kwargs = handler_calls["dynamodb"]

    def run(seed):
        emulator.set_chaos(0.3, seed=seed)
        outcomes = [outcome(call, **kwargs) for _ in range(30)]
        return outcomes, emulator.chaos.describe()["injected"]

    first, injected = run(11)
    assert any(first) and not all(first)  # some calls failed, some did not
    assert [i["n"] for i in injected] == [n + 1 for n, failed in enumerate(first) if failed]
    assert [i["error"] for i in injected] == [
        "RequestTimeout" if failed[0] == "ConnectionClosedError" else failed[0] for failed in first if failed]
    assert run(11) == (first, injected)
    assert run(12)[0] != first


def test_operator_calls_are_never_hit(emulator, aws):
    emulator.set_chaos(1.0, seed=1)
    dynamodb, iam, lambda_ = aws("dynamodb"), aws("iam"), aws("lambda")
    for _ in range(10):
        dynamodb.list_tables()
        iam.list_roles()
        lambda_.list_functions()
    assert emulator.chaos.describe()["calls"] == 0


def test_a_deployed_function_and_the_interpreter_are_hit_and_faults_still_apply(emulator, aws, deploy_function,
                                                                                create_state_machine, poll):
    function_arn = deploy_function("chaotic", "call_dynamodb")
    emulator.set_chaos(0.5, seed=5)
    emulator.set_faults(["dynamodb:ListTables=AccessDeniedException*1"])

    # The operator's Invoke is not hit; the function's own calls are.
    answer = aws("lambda").invoke(FunctionName="chaotic", Payload=json.dumps({"count": 12}))
    outcomes = json.load(answer["Payload"])
    assert outcomes[0] == "AccessDeniedException"  # --fault first, and it does not draw a chaos decision
    assert len(outcomes) == 12 and any(outcomes[1:]) and None in outcomes[1:]
    assert set(outcomes[1:]) <= {None, "ThrottlingException", "InternalServerError", "ServiceUnavailable",
                                 "ConnectionClosedError"}
    assert emulator.chaos.describe()["calls"] == 11

    # The Step Functions interpreter's Invoke fails as Lambda fails it.
    emulator.set_chaos(1.0, seed=5)
    machine = create_state_machine("invoke-once", {
        "StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_arn, "Payload": {"count": 0}}, "End": True}}})
    execution = aws("stepfunctions").start_execution(stateMachineArn=machine)["executionArn"]

    def failed():
        described = aws("stepfunctions").describe_execution(executionArn=execution)
        return described if described["status"] != "RUNNING" else None

    described = poll(failed)
    assert described["status"] == "FAILED"
    assert described["error"] in ("Lambda.ServiceException", "Lambda.TooManyRequestsException")
    assert [i["call"] for i in emulator.chaos.describe()["injected"]] == ["lambda:Invoke"]


def test_chaos_is_set_over_http_and_bad_values_are_refused(emulator):
    settings = control(emulator, "POST", "config", {"chaos": 0.25, "seed": 42})
    assert (settings["chaos"], settings["seed"]) == (0.25, 42)
    assert control(emulator, "GET", "chaos") == {"rate": 0.25, "seed": 42, "calls": 0, "injected": []}

    for bad in ({"chaos": 1.5}, {"chaos": "often"}, {"chaos": float("nan")}, {"seed": -1}, {"seed": 1.5},
                {"seed": "x"}, {"chaos": 0.5, "consistency_lag": -1}, {"unknown": 1}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            control(emulator, "POST", "config", bad)
        assert refused.value.code == 400
    assert control(emulator, "GET", "config")["chaos"] == 0.25
    assert emulator.consistency.seconds == 0


@pytest.mark.parametrize("kwargs", [{"chaos": -0.1}, {"chaos": 2}, {"chaos": "nan"}, {"seed": -5}, {"seed": "seven"}])
def test_the_constructor_refuses_a_bad_rate_or_seed(kwargs):
    with pytest.raises(ValueError, match="chaos rate|seed"):
        Emulator(**kwargs)
