"""`fleet run` and `fleet status`: each target's own state machine, reached through its execution role.

In each target the operator's credentials assume the StackSet execution role (what StackSets itself
uses there), start that account's state machine with the action's input, and follow it. Runs go on
at most `max_concurrent` at once; once more than `failure_tolerance` have failed no new one starts, as
a StackSet operation stops. A target whose role cannot be assumed is a failed target with AWS's words.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.core.run_input import ACTIONS
from provisioner.aws_clients import Clients, session_client
from provisioner.config import FleetTarget
from provisioner.runs import executions as runs

SESSION_NAME = "fileferry-fleet"
# The names provisioner.runs.executions.execution_name gives: ACTION-YYYYMMDDTHHMMSS-hex.
_NAMED_ACTION = re.compile(rf"^({'|'.join(map(re.escape, ACTIONS))})-[0-9]{{8}}T[0-9]{{6}}-[0-9a-f]{{6}}$")


@dataclass
class TargetRun:
    """One target's run: how it ended, and what it reported."""

    target: FleetTarget
    action: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED; NOT_STARTED once the fleet's failure tolerance was passed
    execution_arn: str | None = None
    error: str | None = None
    cause: str | None = None
    output: Any = None
    duration_seconds: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def drifted(self) -> bool:
        return self.succeeded and isinstance(self.output, dict) and bool(self.output.get("drifted"))

    def differences(self) -> list[dict[str, Any]]:
        return list(self.output.get("differences", [])) if isinstance(self.output, dict) else []

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "fleet-target-run", "target": str(self.target), "account": self.target.account_id,
            "region": self.target.region, "action": self.action, "status": self.status,
            "execution_arn": self.execution_arn, "error": self.error, "cause": self.cause,
            "drifted": self.drifted, "differences": self.differences() if self.drifted else [],
            "duration_seconds": self.duration_seconds, "output": self.output,
        }


class TargetSessions:
    """Clients in each target, signed with a session of the execution role there."""

    def __init__(self, operator: Clients, execution_role_name: str):
        self.operator, self.role_name = operator, execution_role_name
        self._lock = threading.Lock()  # boto3 sessions are not thread-safe; their clients are

    def role_arn(self, target: FleetTarget) -> str:
        return f"arn:{self.operator.partition}:iam::{target.account_id}:role/{self.role_name}"

    def client(self, service: str, target: FleetTarget) -> Any:
        with self._lock:
            sts = self.operator.sts
        credentials = sts.assume_role(RoleArn=self.role_arn(target), RoleSessionName=SESSION_NAME)["Credentials"]
        with self._lock:
            return session_client(service, credentials, target.region, self.operator.target.endpoint_url)

    def state_machine_arn(self, target: FleetTarget, name: str) -> str:
        return f"arn:{self.operator.partition}:states:{target.region}:{target.account_id}:stateMachine:{name}"


def _aws_error(err: Exception) -> tuple[str, str]:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return str(error.get("Code") or "ClientError"), str(error.get("Message") or err)
    return type(err).__name__, str(err)


class FleetRun:
    """One action in every target, bounded like a StackSet operation."""

    def __init__(self, sessions: TargetSessions, name: str, max_concurrent: int, failure_tolerance: int,
                 sleep: Callable[[float], None] = time.sleep, on_end: Callable[[TargetRun], None] = lambda run: None,
                 poll_seconds: float = 2.0):
        self.sessions, self.name = sessions, name
        self.max_concurrent, self.failure_tolerance = max_concurrent, failure_tolerance
        self.sleep, self.on_end, self.poll_seconds = sleep, on_end, poll_seconds

    def run(self, targets: list[FleetTarget], run_input: dict[str, Any]) -> list[TargetRun]:
        action = str(run_input.get("action"))
        pending, ended, failures = list(targets), {}, 0
        running: set[Future[TargetRun]] = set()
        with ThreadPoolExecutor(max_workers=self.max_concurrent, thread_name_prefix="fleet-run") as pool:
            while pending or running:
                while pending and len(running) < self.max_concurrent and failures <= self.failure_tolerance:
                    running.add(pool.submit(self._one, pending.pop(0), run_input))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    ended[result.target] = result
                    failures += 0 if result.succeeded else 1
                    self.on_end(result)
        for target in pending:
            ended[target] = TargetRun(target, action, "NOT_STARTED", cause=(
                f"not started: {failures} targets failed, more than the failure tolerance ({self.failure_tolerance})"))
            self.on_end(ended[target])
        return [ended[target] for target in targets]

    def _one(self, target: FleetTarget, run_input: dict[str, Any]) -> TargetRun:
        action = str(run_input.get("action"))
        began = time.monotonic()
        arn = None
        try:
            sfn = self.sessions.client("stepfunctions", target)
            arn = runs.start(sfn, self.sessions.state_machine_arn(target, self.name), run_input)
            while True:
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING" and described["status"] != "PENDING_REDRIVE":
                    break
                self.sleep(self.poll_seconds)
        except (ClientError, BotoCoreError) as err:
            code, message = _aws_error(err)
            return TargetRun(target, action, "FAILED", arn, code, message, duration_seconds=time.monotonic() - began)
        output = json.loads(described["output"]) if described.get("output") else None
        return TargetRun(target, action, described["status"], arn, described.get("error"), described.get("cause"),
                         output, duration_seconds=time.monotonic() - began)


@dataclass(frozen=True)
class LastRun:
    target: FleetTarget
    action: str
    status: str
    started: str = ""
    execution_arn: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "fleet-last-run", "target": str(self.target), "account": self.target.account_id,
                "region": self.target.region, "action": self.action, "status": self.status,
                "started": self.started, "execution_arn": self.execution_arn, "reason": self.reason}



def last_runs(sessions: TargetSessions, name: str, targets: list[FleetTarget], looked_at: int = 50) -> list[LastRun]:
    """Each target's most recent run of each action (among its `looked_at` newest executions)."""
    found: list[LastRun] = []
    for target in targets:
        try:
            sfn = sessions.client("stepfunctions", target)
            page = sfn.list_executions(stateMachineArn=sessions.state_machine_arn(target, name), maxResults=looked_at)
            latest: dict[str, LastRun] = {}
            for execution in page["executions"]:  # newest first
                action = _action_of(sfn, execution)
                if action in ACTIONS and action not in latest:
                    latest[action] = LastRun(target, action, execution["status"],
                                             execution["startDate"].isoformat(timespec="seconds"),
                                             execution["executionArn"])
            if not latest:
                found.append(LastRun(target, "-", "NO_RUNS", reason="no run yet"))
            found.extend(latest[action] for action in ACTIONS if action in latest)
        except (ClientError, BotoCoreError) as err:
            code, message = _aws_error(err)
            found.append(LastRun(target, "-", "UNREACHABLE", reason=f"{code}: {message}"))
    return found


def _action_of(sfn: Any, execution: dict[str, Any]) -> str | None:
    """The action a run was started with: in its name when this tool named it, else in its input."""
    named = _NAMED_ACTION.match(execution["name"])
    if named:
        return named.group(1)
    try:  # started by the drift schedule or the rollback rule
        run_input = json.loads(sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}")
    except ValueError:
        return None
    return run_input.get("action") if isinstance(run_input, dict) else None
