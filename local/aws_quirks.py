"""moto's Lambda and Step Functions, corrected where they differ from AWS (and, for the JSONPath
cache, made fast enough to measure a workflow with).

Nothing here runs on import: ``install(emulator)`` applies these patches and every behaviour
module's (DynamoDB table status, TTL, backups, inline Map concurrency) when an Emulator starts,
and ``uninstall()`` restores moto when it stops (see local/patching.py).  The Lambda changes apply
only to requests served by the emulator's HTTP server (``serving_request``), so code in the same
process that uses moto in-process (``mock_aws`` unit tests) keeps plain moto behaviour.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import importlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.config
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.core.models import botocore_stubber
from moto.settings import moto_server_port
from moto.stepfunctions.models import StateMachineInstance
from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.common.path import (
    result_path as moto_result_path,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils as moto_lambda_eval,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.asl.utils import boto_client as moto_boto_client
from moto.stepfunctions.parser.asl.utils import json_path as moto_json_path
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local import (
    cloudformation_stacks,
    dynamodb_backups,
    dynamodb_tables,
    dynamodb_ttl,
    execution_events,
    execution_history,
    iam_enforcement,
    map_concurrency,
    patching,
    tag_values,
)
from local.lambda_runner import InvocationRefused
from local.patching import EmulatorSettings, running_emulator, serving_request  # noqa: F401 (re-exported)

LOG = logging.getLogger(__name__)

_patch = patching.patch
_original = patching.original
_in_emulator_request = patching.in_emulator_request

# One module per AWS behaviour; each names its AWS documentation source.
_BEHAVIOURS = (
    dynamodb_tables, dynamodb_ttl, dynamodb_backups, map_concurrency, cloudformation_stacks, tag_values, execution_history,
)


def install(emulator: EmulatorSettings) -> None:
    patching.claim(emulator)  # refuses a second running Emulator in this process
    for behaviour in _BEHAVIOURS:
        behaviour.install()
    _patch(LambdaSimpleBackend, "invoke", _lambda_invoke)
    _patch(LambdaResponse, "invoke", _lambda_invoke_response)
    _patch(LambdaFunction, "update_configuration", _update_function_configuration)
    for method in ("create_function", "update_function_code", "update_function_configuration"):
        _patch(LambdaSimpleBackend, method, _initialising_in_background(method))
    _patch(StepFunctionsParserBackend, "start_execution", _start_execution)
    _patch(StateMachineInstance, "__deepcopy__", _snapshot_state_machine)
    _patch(Execution, "stop", _execution_stop)
    _patch(Execution, "get_start_execution_details", _start_execution_details)
    _patch(BaseExecutionWorkerCommunication, "terminated", _execution_terminated)
    for module, parsed_paths in _PARSED_PATHS.items():
        _patch(module, "parse", parsed_paths)
    _patch(StepFunctionsParserBackend, "_validate_definition", staticmethod(_validate_definition))
    _patch(moto_lambda_eval, "boto_client_for", _shared_boto_client_for)
    # Every other service integration calls AWS as the state machine's role too (IAM enforcement).
    for name in _SERVICE_INTEGRATIONS:
        module = importlib.import_module(f"moto.stepfunctions.parser.asl.component.state.exec.{name}")
        if hasattr(module, "boto_client_for"):
            _patch(module, "boto_client_for", _shared_boto_client_for)


# moto's interpreter modules that call AWS through their own `boto_client_for` (moto 5.2).
_SERVICE_INTEGRATIONS = (
    "state_map.result_writer.resource_eval.resource_eval_s3",
    "state_map.item_reader.eval.resource_eval_s3",
    "state_task.service.state_task_service_unsupported",
    "state_task.service.state_task_service_glue",
    "state_task.service.state_task_service_events",
    "state_task.service.state_task_service_ecs",
    "state_task.service.state_task_service_sqs",
    "state_task.service.state_task_service_sfn",
    "state_task.service.state_task_service_dynamodb",
)


def uninstall() -> None:
    patching.uninstall()


# -- Lambda ---------------------------------------------------------------------------------
# AWS runs the function's code; moto without Docker returns a canned string.


def _lambda_invoke(self: LambdaSimpleBackend, function_name: str, qualifier: str | None,
                   body: Any, headers: Any, response_headers: Any) -> bytes:
    if not _in_emulator_request():
        return _original(LambdaSimpleBackend, "invoke")(
            self, function_name, qualifier, body, headers, response_headers
        )
    function = self.get_function(function_name, qualifier)
    try:
        payload = patching.emulator().lambda_runner.invoke(
            function, qualifier, body, headers, response_headers
        )
    except InvocationRefused as refused:
        raise JsonRESTError(refused.code, str(refused)) from None
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _initialising_in_background(method: str) -> Callable[..., Any]:
    """A function change, then its init phase started at once (Lambda's proactive initialisation)."""

    def change_then_initialise(self: LambdaSimpleBackend, *args: Any, **kwargs: Any) -> Any:
        result = _original(LambdaSimpleBackend, method)(self, *args, **kwargs)
        if _in_emulator_request():
            name = args[0]["FunctionName"] if method == "create_function" else args[0]
            patching.emulator().lambda_runner.initialise_in_background(self.get_function(name, None))
        return result

    return change_then_initialise


def _update_function_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    # UpdateFunctionConfiguration takes TracingConfig (Lambda API reference); moto drops it, so turning
    # tracing on or off after the function was created never showed in GetFunctionConfiguration.
    if "TracingConfig" in config_updates:
        self.tracing_config = {"Mode": config_updates["TracingConfig"].get("Mode", "PassThrough")}
    return _original(LambdaFunction, "update_configuration")(self, config_updates)


def _lambda_invoke_response(self: LambdaResponse) -> Any:
    # Lambda takes Invoke's Qualifier from the query string.  moto looks for "qualifier" in the
    # JSON payload instead: a payload that is not an object (a Map item such as 6 or "a") fails
    # with HTTP 500, and a payload with a "qualifier" key selects a function version.
    qualifier = self.querystring.get("Qualifier", [None])[0]
    self._get_param = lambda name, if_none=None: qualifier if name == "qualifier" else if_none
    return _original(LambdaResponse, "invoke")(self)


# -- Step Functions -------------------------------------------------------------------------
# moto's interpreter parses a state's JSONPaths (InputPath, Parameters' "x.$", ResultPath, ...)
# afresh on every evaluation, and jsonpath_ng builds its LALR tables for each parse: about 10 ms
# of CPU per path, most of a transition's cost, taken from the Lambda workers it runs beside.
# A parsed path is an immutable expression tree, so one per distinct path text is enough.  The
# paths of a definition are parsed when it is created or updated, as AWS compiles a state machine
# then, so not even an execution's first transitions parse; the parsed paths outlive an Emulator.
_PATH_FIELDS = frozenset({
    "InputPath", "OutputPath", "ResultPath", "ItemsPath", "Variable", "SecondsPath", "TimestampPath",
    "MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "ErrorPath",
    "CausePath", "HeartbeatSecondsPath", "TimeoutSecondsPath", "StringEqualsPath",
})


class _ParsedPaths:
    """A JSONPath parser that parses each distinct path once, even when threads ask at once."""

    _MAX_PATHS = 4096

    def __init__(self, parse: Callable[[str], Any]):
        self._parse = parse
        self._parsed: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, path: str) -> Any:
        parsed = self._parsed.get(path)
        if parsed is not None:
            return parsed
        with self._lock:
            if path not in self._parsed:
                if len(self._parsed) >= self._MAX_PATHS:
                    self._parsed.clear()
                self._parsed[path] = self._parse(path)  # a bad path raises, and is not kept
            return self._parsed[path]


_PARSED_PATHS = {module: _ParsedPaths(module.parse) for module in (moto_json_path, moto_result_path)}


def _paths_in(node: Any) -> Iterator[str]:
    """Every JSONPath text in an ASL definition, context paths ($$) as moto evaluates them ($)."""
    if isinstance(node, list):
        for item in node:
            yield from _paths_in(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key in _PATH_FIELDS or key.endswith(".$")) and value.startswith("$"):
                yield value[1:] if value.startswith("$$") else value
            else:
                yield from _paths_in(value)


def _validate_definition(definition: str) -> None:
    _original(StepFunctionsParserBackend, "_validate_definition")(definition=definition)
    for path in set(_paths_in(json.loads(definition))):
        for parsed_paths in _PARSED_PATHS.values():
            with contextlib.suppress(Exception):  # not every path suits both parsers
                parsed_paths(path)


# moto's interpreter also builds a new boto3 Lambda client (service model loaded from disk,
# ~40 ms of CPU) for every Lambda task.  Clients are thread-safe: one per region and endpoint,
# as moto configures them, with a connection pool as large as a Map's concurrency may need.
_LAMBDA_CLIENT_POOL_CONNECTIONS = 100
_sfn_clients: dict[tuple[str, str, str, str | None], Any] = {}
_sfn_clients_lock = threading.Lock()


def _shared_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    if botocore_stubber.enabled:  # in-process moto (mock_aws) intercepts the calls instead
        return moto_boto_client.boto_client_for(region, service, state_credentials)
    endpoint_url = f"http://localhost:{moto_server_port()}"
    # AWS: a task calls its service as the state machine's role (or the state's Credentials role).
    role_arn = getattr(state_credentials, "role_arn", None)
    credentials = (
        iam_enforcement.session_credentials(role_arn, "StepFunctions", iam_enforcement.STATES_SERVICE)
        if role_arn else None
    )
    key = (region, service, endpoint_url, role_arn)
    with _sfn_clients_lock:
        if key not in _sfn_clients:
            _sfn_clients[key] = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id=credentials.access_key_id if credentials else "ak",
                aws_secret_access_key=credentials.secret_access_key if credentials else "sk",
                aws_session_token=credentials.session_token if credentials else None,
                config=botocore.config.Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=moto_boto_client.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=moto_boto_client.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    max_pool_connections=_LAMBDA_CLIENT_POOL_CONNECTIONS,
                ),
            )
        return _sfn_clients[key]


_EVENT_SENT = "_fileferry_status_event_sent"
_STARTUP_WAIT_SECONDS = 10.0
_SILENCED = "_fileferry_silenced"
_event_claim_lock = threading.Lock()


def _start_execution(self: StepFunctionsParserBackend, state_machine_arn: str,
                     name: str | None = None, execution_input: str | None = None,
                     trace_header: str | None = None) -> Execution:
    # AWS names an execution with a UUID when StartExecution has no name; moto's interpreter
    # backend would name it "None" and refuse the second such start as ExecutionAlreadyExists.
    return _original(StepFunctionsParserBackend, "start_execution")(
        self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
    )


# Attributes an execution's snapshot of its state machine shares with the original instead of
# copying: the backend and the other versions are live objects, not part of the definition.
_SHARED_WITH_SNAPSHOT = frozenset({"backend", "versions", "aliases", "latest_version"})


def _snapshot_state_machine(self: StateMachineInstance, memo: dict[int, Any]) -> StateMachineInstance:
    # Each execution runs against a snapshot of its state machine (AWS, too: a later
    # UpdateStateMachine does not change running executions).  moto takes it with copy.deepcopy,
    # which also copies the state machine's past executions and its whole backend, and those hold
    # interpreter locks: once any execution exists, every StartExecution fails with HTTP 500
    # ("cannot pickle '_thread.RLock' object").  The snapshot starts with no executions instead.
    clone = copy.copy(self)
    memo[id(self)] = clone
    for name, value in vars(self).items():
        if name == "executions":
            clone.executions = []
        elif name not in _SHARED_WITH_SNAPSHOT:
            setattr(clone, name, copy.deepcopy(value, memo))
    return clone


def _start_execution_details(self: Execution) -> Any:
    # AWS: $$.Execution.StartTime is an ISO 8601 string ("2024-05-01T12:00:00.123Z").  moto hands
    # the interpreter a datetime, and an execution whose data holds it can no longer be described
    # (DescribeExecution answers HTTP 500: datetime is not JSON serializable).
    details = _original(Execution, "get_start_execution_details")(self)
    start = details.start_time
    if isinstance(start, datetime.datetime):
        start = start.astimezone(datetime.UTC)
        details.start_time = f"{start:%Y-%m-%dT%H:%M:%S}.{start.microsecond // 1000:03d}Z"
    return details


def _execution_stop(self: Execution, stop_date: Any, error: str | None, cause: str | None) -> None:
    # In the moment after StartExecution returns, moto's interpreter is still setting up: with no
    # environment yet StopExecution fails with HTTP 500, and before the program runs the stop is
    # silently ignored.  Wait (briefly) until there is a running program to stop.
    worker, deadline = self.exec_worker, time.monotonic() + _STARTUP_WAIT_SECONDS
    while worker is not None and not _program_started(worker) and time.monotonic() < deadline:
        time.sleep(0.01)
    _original(Execution, "stop")(self, stop_date, error, cause)
    # AWS: StopExecution makes the execution ABORTED at once.  moto's interpreter reports it only
    # when its current state returns (a running Lambda task finishes first).
    if self.exec_status == ExecutionStatus.RUNNING:
        self.exec_status = ExecutionStatus.ABORTED
        self.stop_date = stop_date
        self.error, self.cause = error or None, cause or None
        _publish_status_change(self)


def _program_started(worker: Any) -> bool:
    return worker.env is not None and worker.env.program_state() is not None


def _execution_terminated(self: BaseExecutionWorkerCommunication) -> None:
    execution = self.execution
    aborted_at = execution.stop_date if getattr(execution, _EVENT_SENT, False) else None
    _record_abort_in_history(execution.exec_worker.env, stopped=aborted_at is not None)
    _original(BaseExecutionWorkerCommunication, "terminated")(self)
    if aborted_at is not None:
        # StopExecution already answered ABORTED and sent the event; whatever the interpreter made of
        # the interruption (inside a Map it can end in States.Runtime), AWS keeps the run ABORTED.
        execution.exec_status = ExecutionStatus.ABORTED
        execution.error, execution.cause = None, None
        execution.stop_date = aborted_at  # keep the time StopExecution answered with
        return
    _publish_status_change(execution)


def _record_abort_in_history(env: Any, stopped: bool = False) -> None:
    # AWS always ends an aborted execution's history with ExecutionAborted (StopExecution API
    # reference: the execution becomes ABORTED).  moto's interpreter writes it only if it had begun
    # evaluating states when the stop came; a StopExecution right after StartExecution left the
    # history without it.  A stop that interrupts Map iterations can make the interpreter end in
    # States.Runtime: for an execution StopExecution made ABORTED, that end is its ExecutionAborted.
    if stopped:
        _failure_as_abort(env)
    elif not isinstance(env.program_state(), ProgramStopped):
        return
    if any(event["type"] == HistoryEventType.ExecutionAborted
           for event in env.event_manager.get_event_history()):
        return
    env.event_history_context.source_event_id = 0
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionAborted,
        event_details=EventDetails(executionAbortedEventDetails=ExecutionAbortedEventDetails()),
    )


def _failure_as_abort(env: Any) -> None:
    # get_event_history() returns a copy; the interpreter keeps its events in this list.
    for event in env.event_manager._history_event_list:
        if event["type"] == HistoryEventType.ExecutionFailed:
            event.pop("executionFailedEventDetails", None)
            event["type"] = HistoryEventType.ExecutionAborted
            event["executionAbortedEventDetails"] = ExecutionAbortedEventDetails()


def _publish_status_change(execution: Execution) -> None:
    # AWS puts an "Execution Status Change" event on the default bus; moto emits none.
    emulator = running_emulator()
    if emulator is None or getattr(execution, _SILENCED, False):
        return
    if execution.exec_status.value not in execution_events.TERMINAL_STATUSES:
        return
    # StopExecution (request thread) and the interpreter's end (its own thread) may both get here.
    with _event_claim_lock:
        if getattr(execution, _EVENT_SENT, False):
            return
        setattr(execution, _EVENT_SENT, True)
    emulator.consistency.execution_ended(execution.exec_arn)  # its reads may still say RUNNING (local/consistency.py)
    try:
        execution_events.deliver(execution_events.status_change_event(execution))
    except Exception:  # never let a delivery problem break the execution or the emulator
        LOG.exception("could not deliver the status-change event of %s", execution.exec_arn)


def silence_and_stop_running_executions() -> None:
    """Before a reset: running executions stop, and their ends trigger no rules of the next test."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    for account in list(stepfunctions_parser_backends.values()):
        for backend in list(account.values()):
            for state_machine in list(backend.state_machines):
                for execution in list(state_machine.executions):
                    setattr(execution, _SILENCED, True)
                    if execution.exec_status == ExecutionStatus.RUNNING:
                        now = datetime.datetime.now(datetime.UTC)
                        with contextlib.suppress(Exception):  # never let one execution block a reset
                            _execution_stop(execution, now, None, None)
