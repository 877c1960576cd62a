"""The Lambda runner: deployed zips run in warm workers, with Lambda's errors, timeouts and context."""

import concurrent.futures
import json
import re
import sys

import pytest
from emulated_samples import zipped_handlers

from local.awslambda import runtime as lambda_runtime


def invoke(aws, name, payload=None):
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(payload or {}))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_handler_result_context_and_environment(emulator, aws, deploy_function):
    arn = deploy_function("echo", "echo", env={"TABLE_PREFIX": "ff-"})

    error, result = invoke(aws, "echo", {"hello": "world"})

    assert error is None
    assert result["event"] == {"hello": "world"}
    assert result["function_name"] == "echo"
    assert result["function_version"] == "$LATEST"
    assert result["invoked_function_arn"] == arn
    assert result["memory_limit_in_mb"] == "128"
    assert 0 < result["remaining_ms"] <= 3000
    assert result["env"] == {
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_SDK_UA_APP_ID": "fileferry-lambda-runner",
        "AWS_LAMBDA_FUNCTION_NAME": "echo",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": "testpkg.handlers.echo",
        "TABLE_PREFIX": "ff-",
    }
    log = emulator.lambda_runner.log_path("echo").read_text()
    assert result["aws_request_id"] in log  # powertools' inject_lambda_context read the context


def test_a_warm_worker_keeps_module_state(aws, deploy_function):
    deploy_function("echo", "echo")
    _, first = invoke(aws, "echo")
    _, second = invoke(aws, "echo")
    assert second["invocations"] == first["invocations"] + 1


def test_concurrent_invocations_each_get_a_worker_fresh_from_init(aws, deploy_function, tmp_path):
    deploy_function("meeting", "rendezvous")
    event = {"directory": str(tmp_path), "parties": 3}

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = [result for _, result in pool.map(lambda _: invoke(aws, "meeting", event), range(3))]
    _, again = invoke(aws, "meeting", dict(event, parties=1))

    assert [result["met"] for result in results] == [3, 3, 3]
    assert len({result["pid"] for result in results}) == 3
    assert [result["invocations"] for result in results] == [1, 1, 1]  # no module state shared
    assert again["pid"] in {result["pid"] for result in results}
    assert again["invocations"] == 2  # a warm worker kept its own


def test_concurrent_invocations_write_whole_lines_to_the_log(emulator, aws, deploy_function, tmp_path):
    # On Lambda each execution environment has a log stream of its own; here they share one file, where
    # a line must still arrive whole (print() writes the text and its newline separately).
    deploy_function("chatter", "chatter")
    event = {"directory": str(tmp_path), "parties": 3, "lines": 3000}

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = [result for _, result in pool.map(lambda _: invoke(aws, "chatter", event), range(3))]

    assert [result["met"] for result in results] == [3, 3, 3]
    lines = emulator.lambda_runner.log_path("chatter").read_text().splitlines()
    written = [line for line in lines if not line.startswith(("START RequestId:", "END RequestId:", "REPORT RequestId:"))]
    assert [line for line in written if not re.fullmatch(r"chatter \d+ (out|err) \d+", line)] == []
    assert len(written) == 3 * 2 * 3000


def test_unhandled_exception_is_reported_like_lambda(aws, deploy_function):
    deploy_function("create-table", "conflict")

    error, payload = invoke(aws, "create-table", {"table": "sessions"})

    assert error == "Unhandled"
    assert payload["errorType"] == "ResourceConflict"
    assert payload["errorMessage"] == "table sessions exists with another key schema"
    assert payload["requestId"]
    assert "raise ResourceConflict" in payload["stackTrace"][-1]
    assert "lambda_worker" not in "".join(payload["stackTrace"])


def test_timeout_kills_the_invocation_and_the_next_one_runs(aws, deploy_function):
    deploy_function("sleeper", "sleep", timeout=1)

    error, payload = invoke(aws, "sleeper", {"seconds": 10})

    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert invoke(aws, "sleeper", {"seconds": 0}) == (None, "woke up")


def test_handler_calls_reach_the_emulator_and_carry_the_runner_user_agent(
    emulator, aws, deploy_function
):
    deploy_function("lister", "list_tables")
    aws("dynamodb").create_table(
        TableName="sessions",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert invoke(aws, "lister") == (None, ["sessions"])

    emulator.set_faults(["dynamodb:ListTables=AccessDeniedException*1"])
    error, payload = invoke(aws, "lister")
    assert error == "Unhandled"
    assert payload["errorType"] == "ClientError"
    assert "AccessDeniedException" in payload["errorMessage"]
    assert aws("dynamodb").list_tables()["TableNames"] == ["sessions"]  # the test is not a handler


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("missing", "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'testpkg.handlers'"),
        ("nosuchmodule.handler", "Runtime.ImportModuleError",
         "Unable to import module 'testpkg.handlers.nosuchmodule': No module named"),
    ],
)
def test_init_errors_are_reported_like_the_python_runtime(aws, deploy_function, handler,
                                                          error_type, message):
    deploy_function("broken", handler)
    error, payload = invoke(aws, "broken")
    assert error == "Unhandled"
    assert payload["errorType"] == error_type
    assert payload["errorMessage"].startswith(message)


def test_a_created_function_is_initialised_before_its_first_invocation(emulator, aws, deploy_function):
    deploy_function("eager", "handler", module="eager")

    assert emulator.lambda_runner.wait_for_initialisation(timeout=30)
    initialised = aws("dynamodb").list_tables()["TableNames"]
    results = [invoke(aws, "eager") for _ in range(2)]

    assert initialised == ["initialised-eager"]
    assert results == [(None, "ran"), (None, "ran")]  # no second init phase (it would fail)


def test_new_code_or_configuration_reaches_the_next_invocation(aws, deploy_function):
    deploy_function("echo", "echo", env={"TABLE_PREFIX": "first-"})
    _, before = invoke(aws, "echo")
    aws("lambda").update_function_configuration(FunctionName="echo", Environment={"Variables": {"TABLE_PREFIX": "second-"}})
    _, configured = invoke(aws, "echo")
    aws("lambda").update_function_code(
        FunctionName="echo", ZipFile=zipped_handlers("def echo(event, context):\n    return 'new code'\n")
    )

    assert before["env"]["TABLE_PREFIX"] == "first-"
    assert configured["env"]["TABLE_PREFIX"] == "second-"
    assert invoke(aws, "echo") == (None, "new code")


def test_a_crashing_worker_is_a_runtime_exit_error(aws, deploy_function):
    deploy_function("crasher", "exit_process")
    error, payload = invoke(aws, "crasher")
    assert (error, payload["errorType"]) == ("Unhandled", "Runtime.ExitError")
    assert payload["errorMessage"].endswith("exit status 3")


def test_event_invocations_run_in_the_background(aws, deploy_function, poll):
    deploy_function("table-maker", "create_table")
    response = aws("lambda").invoke(
        FunctionName="table-maker", InvocationType="Event", Payload=json.dumps({"table": "made"})
    )
    assert response["StatusCode"] == 202
    assert poll(lambda: aws("dynamodb").list_tables()["TableNames"]) == ["made"]


def test_non_object_payloads_reach_the_handler(aws, deploy_function):
    deploy_function("echo", "echo")
    for payload in (6, "text", [1, 2], {"qualifier": "not-a-version"}):
        error, result = invoke(aws, "echo", payload)
        assert (error, result["event"]) == (None, payload)


def test_a_payload_that_is_not_json_is_refused(aws, deploy_function):
    deploy_function("echo", "echo")
    with pytest.raises(aws("lambda").exceptions.ClientError) as refused:
        aws("lambda").invoke(FunctionName="echo", Payload=b"not json")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_step_functions_sees_the_exception_class_as_the_error_name(
    aws, deploy_function, create_state_machine, finished_execution
):
    function_arn = deploy_function("create-table", "conflict")
    state_machine = create_state_machine("provision", {
        "StartAt": "CreateTable",
        "States": {
            "CreateTable": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["ResourceConflict"], "IntervalSeconds": 1,
                           "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
    })
    sfn = aws("stepfunctions")

    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine, input=json.dumps({"table": "sessions"})
    )["executionArn"]
    described = finished_execution(execution_arn)

    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    failures = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["ResourceConflict", "ResourceConflict"]  # one retry
    assert json.loads(failures[0]["cause"])["errorMessage"] == (
        "table sessions exists with another key schema"
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "ResourceConflict"
    assert json.loads(described["cause"])["errorType"] == "ResourceConflict"


def test_invoke_fault_is_a_lambda_service_error_for_step_functions(
    emulator, aws, deploy_function, create_state_machine, finished_execution
):
    function_arn = deploy_function("echo", "echo")
    state_machine = create_state_machine("call", {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload": {"n": 1}},
                "ResultSelector": {"event.$": "$.Payload.event"},
                "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1,
                           "MaxAttempts": 2}],
                "End": True,
            },
        },
    })
    emulator.set_faults(["lambda:Invoke=ServiceException*1"])
    sfn = aws("stepfunctions")

    execution_arn = sfn.start_execution(stateMachineArn=state_machine)["executionArn"]
    described = finished_execution(execution_arn)

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"event": {"n": 1}}
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    assert [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"] == [
        "Lambda.ServiceException"
    ]
    assert emulator.api_calls()["lambda:Invoke"] == 2


def test_a_handler_importing_a_package_its_zip_does_not_carry_fails_its_init(aws, deploy_function):
    # moto is installed on this machine (the emulator runs on it), but no function's zip carries it.
    deploy_function("echo", "echo")
    aws("lambda").update_function_code(
        FunctionName="echo", ZipFile=zipped_handlers("import moto\n\ndef echo(event, context):\n    return 'ran'\n")
    )

    error, payload = invoke(aws, "echo")

    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'testpkg.handlers': No module named 'moto'"


def test_a_function_sees_its_zip_and_the_runtime_sdk_only(emulator, aws, deploy_function):
    deploy_function("runtime", "runtime")

    error, seen = invoke(aws, "runtime")

    assert error is None
    assert seen["importable"] == {
        "moto": False, "pytest": False, "yaml": False, "pydantic": False,  # the host's, not the function's
        "fastjsonschema": True,  # vendored in the zip, as powertools' validation needs it
        "dateutil": True, "urllib3": True,  # boto3's dependencies, which the runtime provides
    }
    assert seen["powertools_file"].startswith(seen["task_root"])
    layer = str(lambda_runtime.runtime_layer(emulator.lambda_runner.cache_dir))
    assert seen["boto3_file"].startswith(layer) and seen["botocore_file"].startswith(layer)


def test_a_function_runs_on_the_python_its_runtime_names_where_the_machine_has_it(aws, deploy_function):
    interpreter = lambda_runtime.interpreter_for("python3.12")
    if not interpreter.matches_runtime:
        pytest.skip("no python3.12 on this machine: functions run on the host's Python, with a warning")
    deploy_function("runtime", "runtime")

    error, seen = invoke(aws, "runtime")

    assert error is None
    assert seen["version"] == [3, 12]
    assert seen["sys_version"].startswith("3.12.")
