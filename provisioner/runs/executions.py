"""Starting executions and following them: progress a person can follow, then the outcome."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from provisioner.runs.progress import END_EVENTS, Change, RunProgress, is_poll, readable_cause

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class RunResult:
    execution_arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    failed_state: str | None = None
    task_failures: int = 0  # failed task attempts, retried or not (a poll finding a table not ACTIVE yet is none)
    duration_seconds: float | None = None
    progress: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list, repr=False)  # the whole history, oldest first

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def as_dict(self) -> dict[str, Any]:
        return {
            "execution_arn": self.execution_arn,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "failed_state": self.failed_state,
            "task_failures": self.task_failures,
            "duration_seconds": self.duration_seconds,
        }


def execution_name(action: str) -> str:
    return f"{action}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def start(sfn: Any, state_machine_arn: str, run_input: dict[str, Any]) -> str:
    action = run_input.get("action", "provision") if isinstance(run_input, dict) else "run"
    return sfn.start_execution(
        stateMachineArn=state_machine_arn, name=execution_name(str(action)), input=json.dumps(run_input)
    )["executionArn"]


def history(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        yield from page["events"]


def read_new_events(sfn: Any, execution_arn: str, after_id: int = 0) -> list[dict[str, Any]]:
    """The events after `after_id`, oldest first, read latest-first so nothing already seen is re-read.

    GetExecutionHistory has no "after" parameter; with reverseOrder the newest events come first,
    so paging stops at the first page that reaches an event already seen.
    """
    request = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 1000 if after_id == 0 else 100}
    new: list[dict[str, Any]] = []
    while True:
        page = sfn.get_execution_history(**request)
        fresh = [event for event in page["events"] if event["id"] > after_id]
        new.extend(fresh)
        if len(fresh) < len(page["events"]) or not page.get("nextToken"):
            return sorted(new, key=lambda event: event["id"])
        request["nextToken"] = page["nextToken"]


class View(Protocol):
    """Where a followed run is shown: each change as it is seen, and a tick after every poll."""

    def change(self, change: Change, progress: RunProgress) -> None: ...

    def tick(self, progress: RunProgress) -> None: ...


class Follower:
    """Follows an execution until it ends, reading only the history events it has not seen yet.

    The end comes from the history's own end event (ExecutionSucceeded/Failed/Aborted/TimedOut, with
    the output or the error and cause): DescribeExecution is eventually consistent ("may not reflect
    very recent updates", Step Functions API reference) and may still say RUNNING after the run
    ended; GetExecutionHistory is not documented so. Polls every `poll_seconds` while things change
    or the run works on steps of its own (validating, verifying: the end is near), less often while a
    resource waits on AWS (at most every `max_poll_seconds`), so following a long run never competes
    with the run's own history reads (its rollback).
    """

    def __init__(
        self,
        sfn: Any,
        on_progress: Callable[[str], None] = lambda line: None,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 0.5,
        max_poll_seconds: float = 5.0,
        view: View | None = None,
        wall_clock: Callable[[], float] = time.time,
        role_name: str | None = None,
    ):
        self.sfn = sfn
        self.on_progress = on_progress
        self.sleep = sleep
        self.poll_seconds = poll_seconds
        self.max_poll_seconds = max(poll_seconds, max_poll_seconds)
        self.view = view
        self.wall_clock = wall_clock
        self.role_name = role_name

    def follow(self, execution_arn: str) -> RunResult:
        progress = RunProgress(role_name=self.role_name)
        lines: list[str] = []
        last_id = 0

        def take(events: list[dict[str, Any]]) -> list[Change]:
            changes = progress.add(events, fetched_at=self.wall_clock())
            for change in changes:
                lines.append(change.line)
                self.on_progress(change.line)
                if self.view is not None:
                    self.view.change(change, progress)
            return changes

        while True:
            events = read_new_events(self.sfn, execution_arn, last_id)
            changes = take(events)
            if events:
                last_id = events[-1]["id"]
            end = end_event(events)
            if end is not None:
                return _result(execution_arn, _end_in_history(end, progress.events), progress.events, lines)
            if not events:
                # Nothing new: the run may have ended without its end event in the history yet (the
                # emulator writes a stopped run's event last). Ask, and take what the history has then.
                described = self.sfn.describe_execution(executionArn=execution_arn)
                if described["status"] in TERMINAL:
                    events = read_new_events(self.sfn, execution_arn, last_id)
                    take(events)
                    end = end_event(events)
                    ended = _end_in_history(end, progress.events) if end is not None else described
                    return _result(execution_arn, ended, progress.events, lines)
            self._wait(self._next_poll(progress, changed=bool(changes)), progress)

    def _next_poll(self, progress: RunProgress, changed: bool) -> float:
        """Seconds until the next look: soon while things change or the run is in steps of its own; while
        a resource waits on AWS, a tenth of the run's time so far (noticing adds at most a tenth to a short
        run, and a long one is read at most every `max_poll_seconds`)."""
        if changed or not progress.waiting_on_aws():
            return self.poll_seconds
        return min(self.max_poll_seconds, max(self.poll_seconds, progress.now(self.wall_clock()) / 10))

    def _wait(self, seconds: float, progress: RunProgress) -> None:
        """Sleep until the next poll, letting the view tick about once a second (no AWS calls)."""
        while True:
            if self.view is not None:
                self.view.tick(progress)
            if seconds <= 0:
                return
            step = min(1.0, seconds)
            self.sleep(step)
            seconds -= step


def end_event(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The event that ended the execution (ExecutionSucceeded, ...Failed, ...Aborted, ...TimedOut), if any."""
    return next((event for event in reversed(events) if event["type"] in END_EVENTS), None)


def _end_in_history(end: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Status, output, error, cause and dates, in DescribeExecution's shape, from the history's end event."""
    kind = end["type"]
    details = end.get(kind[0].lower() + kind[1:] + "EventDetails") or {}
    started = next((event["timestamp"] for event in events if event["type"] == "ExecutionStarted"), None)
    return {"status": END_EVENTS[kind], "output": details.get("output"), "error": details.get("error"),
            "cause": details.get("cause"), "startDate": started, "stopDate": end["timestamp"]}


def _result(execution_arn: str, ended: dict[str, Any], events: list[dict[str, Any]], lines: list[str]) -> RunResult:
    """The run's result from `ended` (the history's end, or DescribeExecution's answer) and its history."""
    output = ended.get("output")
    try:
        output = json.loads(output) if output else None
    except ValueError:
        pass
    stopped, started = ended.get("stopDate"), ended.get("startDate")
    return RunResult(
        execution_arn=execution_arn,
        status=ended["status"],
        output=output,
        error=ended.get("error"),
        cause=readable_cause(ended.get("cause")),
        failed_state=failed_state(events),
        task_failures=sum(1 for event in events if event["type"] == "TaskFailed" and not is_poll(event)),
        duration_seconds=(stopped - started).total_seconds() if stopped and started else None,
        progress=lines,
        events=events,
    )


def failed_state(events: list[dict[str, Any]]) -> str | None:
    """The state whose failure ended the run (the last state entered before the first unrecovered failure)."""
    entered: str | None = None
    failing: str | None = None
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            entered = details.get("name")
        if event["type"] in ("TaskFailed", "LambdaFunctionFailed", "FailStateEntered", "MapStateFailed") and not is_poll(event):
            failing = failing or entered
        if event["type"] == "FailStateEntered":
            failing = failing or entered
    return failing
