"""Starting executions and following them: progress a person can follow, then the outcome."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class RunResult:
    execution_arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    failed_state: str | None = None
    task_failures: int = 0  # failed task attempts, retried or not
    duration_seconds: float | None = None
    progress: list[str] = field(default_factory=list)

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


def _payload(event: dict[str, Any]) -> dict[str, Any] | None:
    details = event.get("taskSucceededEventDetails")
    if not details:
        return None
    try:
        payload = json.loads(details.get("output") or "{}").get("Payload")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def progress_line(event: dict[str, Any]) -> str | None:
    """One line for a history event a person cares about, or None."""
    payload = _payload(event)
    if payload is not None:
        if "table" in payload:
            if payload.get("ttl") is not None:  # null: a poll that found the table not ACTIVE yet
                return f"table {payload['table']}: TTL {payload['ttl']}"
            if "result" in payload:
                backup = f" (backup {payload['backup_arn']})" if payload.get("backup_arn") else ""
                return f"table {payload['table']}: {payload['result']}{backup}"
            return f"table {payload['table']}: {payload.get('outcome', '')} {payload.get('status', '')}".rstrip()
        if "role" in payload and "outcome" in payload:
            return f"role {payload['role']}: {payload['outcome']}"
        if "role" in payload and "result" in payload:
            return f"role {payload['role']}: {payload['result']}"
        return None
    failed = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
    if failed:
        return f"step failed: {failed.get('error')}: {_readable_cause(failed.get('cause'))}"
    return None


def _readable_cause(cause: str | None) -> str:
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause


class Follower:
    """Polls an execution until it ends, reporting each new progress line once."""

    def __init__(
        self,
        sfn: Any,
        on_progress: Callable[[str], None] = lambda line: None,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 0.5,
    ):
        self.sfn = sfn
        self.on_progress = on_progress
        self.sleep = sleep
        self.poll_seconds = poll_seconds

    def follow(self, execution_arn: str) -> RunResult:
        seen: set[int] = set()
        lines: list[str] = []
        last_line_for: dict[str, str] = {}
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            events = list(history(self.sfn, execution_arn))
            for event in events:
                if event["id"] in seen:
                    continue
                seen.add(event["id"])
                line = progress_line(event)
                # The poll loop repeats the same status; say each change once.
                subject = line.split(":")[0] if line else ""
                if line and last_line_for.get(subject) != line:
                    last_line_for[subject] = line
                    lines.append(line)
                    self.on_progress(line)
            if described["status"] in TERMINAL:
                return self._result(described, events, lines)
            self.sleep(self.poll_seconds)

    def _result(self, described: dict[str, Any], events: list[dict[str, Any]], lines: list[str]) -> RunResult:
        output = described.get("output")
        try:
            output = json.loads(output) if output else None
        except ValueError:
            pass
        stop, start_date = described.get("stopDate"), described.get("startDate")
        return RunResult(
            execution_arn=described["executionArn"],
            status=described["status"],
            output=output,
            error=described.get("error"),
            cause=_readable_cause(described.get("cause")),
            failed_state=failed_state(events),
            task_failures=sum(1 for event in events if event["type"] == "TaskFailed"),
            duration_seconds=(stop - start_date).total_seconds() if stop and start_date else None,
            progress=lines,
        )


def failed_state(events: list[dict[str, Any]]) -> str | None:
    """The state whose failure ended the run (the last state entered before the first unrecovered failure)."""
    entered: str | None = None
    failing: str | None = None
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            entered = details.get("name")
        if event["type"] in ("TaskFailed", "LambdaFunctionFailed", "FailStateEntered", "MapStateFailed"):
            failing = failing or entered
        if event["type"] == "FailStateEntered":
            failing = failing or entered
    return failing
