"""moto's Step Functions executions, corrected where they differ from AWS: names, snapshots, stops, their events."""

from __future__ import annotations

import contextlib
import copy
import datetime
import logging
import threading
import time
import uuid
from typing import Any

from moto.stepfunctions.models import StateMachineInstance
from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local import patching
from local.patching import running_emulator
from local.stepfunctions import events as execution_events

LOG = logging.getLogger(__name__)

_original = patching.original


def install() -> None:
    patching.patch(StepFunctionsParserBackend, "start_execution", _start_execution)
    patching.patch(StateMachineInstance, "__deepcopy__", _snapshot_state_machine)
    patching.patch(Execution, "stop", _execution_stop)
    patching.patch(Execution, "get_start_execution_details", _start_execution_details)
    patching.patch(BaseExecutionWorkerCommunication, "terminated", _execution_terminated)
    patching.patch(EventManager, "add_event", _add_event)


_EVENT_SENT = "_fileferry_status_event_sent"
_STARTUP_WAIT_SECONDS = 10.0
_SILENCED = "_fileferry_silenced"
_event_claim_lock = threading.Lock()


def _start_execution(self: StepFunctionsParserBackend, state_machine_arn: str,
                     name: str | None = None, execution_input: str | None = None,
                     trace_header: str | None = None) -> Execution:
    # AWS names an execution with a UUID when StartExecution has no name; moto's interpreter
    # backend would name it "None" and refuse the second such start as ExecutionAlreadyExists.
    execution = _original(StepFunctionsParserBackend, "start_execution")(
        self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
    )
    emulator = patching.running_emulator()
    if emulator is not None:  # ListExecutions may not list it yet (local/faults/consistency.py)
        emulator.consistency.execution_started(execution.exec_arn)
    return execution


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
        _end_history_now(self)
        _publish_status_change(self)


_HISTORY_ENDED = "_fileferry_history_ended"
_HISTORY_LOCK = "_fileferry_history_lock"


def _end_history_now(execution: Execution) -> None:
    # AWS ends the history of a stopped execution with ExecutionAborted when StopExecution answers, and
    # records nothing after it (a Lambda invocation in flight goes on, its result unrecorded; Step Functions
    # API reference, StopExecution: the execution is ABORTED, and its history ends there). moto's
    # interpreter writes the end only when its current state returns, and that state's events before it.
    env = execution.exec_worker.env if execution.exec_worker is not None else None
    if env is None:
        return
    if any(event["type"] == HistoryEventType.ExecutionAborted for event in env.event_manager.get_event_history()):
        return
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionAborted,
        event_details=EventDetails(executionAbortedEventDetails=ExecutionAbortedEventDetails()),
        update_source_event_id=False,
    )


def _add_event(self: EventManager, context: Any, event_type: Any, event_details: Any = None,
               timestamp: Any = None, update_source_event_id: bool = True) -> int:
    # One lock per history, around the check and the add: a Map iteration's event must not slip in after
    # ExecutionAborted between another thread's check and its mark.
    with self.__dict__.setdefault(_HISTORY_LOCK, threading.RLock()):
        if getattr(self, _HISTORY_ENDED, False):
            return context.last_published_event_id  # the execution has ended: AWS records nothing more
        event_id = _original(EventManager, "add_event")(self, context, event_type, event_details, timestamp,
                                                       update_source_event_id)
        if event_type == HistoryEventType.ExecutionAborted:
            setattr(self, _HISTORY_ENDED, True)
        return event_id


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
    emulator.consistency.execution_ended(execution.exec_arn)  # its reads may still say RUNNING (local/faults/consistency.py)
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
