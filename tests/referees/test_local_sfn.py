"""The aws-local-stepfunctions runner: its lambda:invoke binding and its one adapter step, against a stand-in Lambda.

The scenarios that compare it with moto's interpreter on the deployed functions are in
tests/e2e/test_second_interpreter.py; here a few lines of HTTP play Lambda's Invoke API
(https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html), so each rule is checked alone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import node_tools
import pytest
from local_sfn import Credentials, LocalStepFunctions, context_object

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:referee-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/referee-test-states"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:referee-test"
CREDENTIALS = Credentials("testing", "testing")
UNUSED_ENDPOINT = "http://127.0.0.1:9"


class FakeLambda:
    """Answers Invoke with the queued (status, function error, body) replies, then echoes the event."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, str | None, dict[str, Any]]] = []
        self.events: list[dict[str, Any]] = []
        self.functions: list[str] = []


@pytest.fixture
def fake_lambda() -> Iterator[tuple[FakeLambda, str]]:
    fake = FakeLambda()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.events.append(event)
            fake.functions.append(self.path)
            status, function_error, body = fake.replies.pop(0) if fake.replies else (200, None, {"echo": event})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if function_error:
                self.send_header("X-Amz-Function-Error", function_error)
            if status >= 400:
                self.send_header("x-amzn-ErrorType", body["__type"])
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def _invoke_task(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": FUNCTION_ARN, "Payload": {"name.$": "$$.Execution.Name", "attempt.$": "$$.State.RetryCount"}},
        **fields,
    }


RETRY_THROTTLED = [{"ErrorEquals": ["Throttled", "Lambda.ServiceException"], "IntervalSeconds": 1, "MaxAttempts": 3, "JitterStrategy": "FULL"}]


def _run(endpoint: str, definition: dict[str, Any], run_input: Any = None):
    with LocalStepFunctions(json.dumps(definition), endpoint, CREDENTIALS, retry_override_ms=0) as interpreter:
        return interpreter.run(run_input or {}, context_object(STATE_MACHINE_ARN, "run-1", ROLE_ARN))


def test_a_task_gets_invokes_response_and_retries_function_errors_by_error_type_with_state_retry_count(fake_lambda) -> None:
    fake, endpoint = fake_lambda
    throttled = {"errorType": "Throttled", "errorMessage": "slow down"}
    fake.replies = [(200, "Unhandled", throttled), (500, None, {"__type": "ServiceException", "message": "oops"})]
    definition = {
        "StartAt": "Call",
        "States": {"Call": _invoke_task(Retry=RETRY_THROTTLED, ResultSelector={"payload.$": "$.Payload", "status.$": "$.StatusCode"}, End=True)},
    }

    ended = _run(endpoint, definition)

    assert ended.status == "SUCCEEDED", ended
    assert ended.output == {"payload": {"echo": {"name": "run-1", "attempt": 2}}, "status": 200}
    assert ended.task_failures == [("Call", "Throttled"), ("Call", "Lambda.ServiceException")]
    assert [event["attempt"] for event in fake.events] == [0, 1, 2]
    assert fake.functions == [f"/2015-03-31/functions/{FUNCTION_ARN.replace(':', '%3A')}/invocations"] * 3


def test_a_function_error_is_caught_with_its_payload_as_cause_and_retry_count_starts_again_on_each_entry(fake_lambda) -> None:
    fake, endpoint = fake_lambda
    denied = {"errorType": "AccessDenied", "errorMessage": "no", "stackTrace": []}
    fake.replies = [(200, "Unhandled", {"errorType": "Throttled", "errorMessage": "x"}), (200, "Unhandled", denied)]
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": _invoke_task(Retry=RETRY_THROTTLED, Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Again"}], End=True),
            "Again": _invoke_task(ResultPath="$.again", Next="Fail"),
            "Fail": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
    }

    ended = _run(endpoint, definition)

    assert (ended.status, ended.error) == ("FAILED", "AccessDenied")
    assert json.loads(ended.cause) == denied
    assert [event["attempt"] for event in fake.events] == [0, 1, 0]


def test_a_state_path_inside_a_map_is_refused_rather_than_guessed() -> None:
    inner = {"StartAt": "Call", "States": {"Call": _invoke_task(End=True)}}
    definition = {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": inner, "End": True}}}
    with pytest.raises(node_tools.NodeToolFailed, match=r"state Call: a \$\$.State path here has no stand-in"):
        with LocalStepFunctions(json.dumps(definition), UNUSED_ENDPOINT, CREDENTIALS):
            pass


def test_a_task_whose_resource_has_no_binding_is_refused_before_any_run() -> None:
    # Without a binding the library would invoke a Lambda function named after the Resource.
    definition = {"StartAt": "Put", "States": {"Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True}}}
    with pytest.raises(node_tools.NodeToolFailed, match="state Put: Task resource arn:aws:states:::dynamodb:putItem has no binding"):
        with LocalStepFunctions(json.dumps(definition), UNUSED_ENDPOINT, CREDENTIALS):
            pass


def test_missing_node_packages_fail_with_the_setup_command(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(node_tools, "NODE_MODULES", tmp_path / "node_modules")
    with pytest.raises(node_tools.NodeToolsMissing, match="npm ci --no-audit --no-fund"):
        with LocalStepFunctions("{}", UNUSED_ENDPOINT, CREDENTIALS):
            pass
