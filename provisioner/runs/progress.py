"""What a run is doing, per table and for the role, built from its history events as they arrive.

Each resource has a state in plain words and the moment it entered it (seconds since the run
started, on the service's clock). Feeding new events returns the changes a person should see.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from lambdas.core.errors import poll_error_names
from provisioner.cli import words

END_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
FAILURE_EVENTS = ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut")
# A poll that finds a table not ACTIVE yet ends its attempt with one of these: the state machine looks
# again later. It is waiting for the table, not a failed attempt.
POLL_ERRORS = frozenset(poll_error_names())


def is_poll(event: dict[str, Any]) -> bool:
    """Whether a history event is a poll's "not ACTIVE yet" (a TaskFailed the state machine answers by looking again)."""
    if event.get("type") not in FAILURE_EVENTS:
        return False
    details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
    return details.get("error") in POLL_ERRORS
# What a step is doing to the resource it was given, while it does it (None: keep the last state).
STEP_WORDS = {
    "CreateOrAdoptTable": "checking; creating it if missing",
    "TeardownTable": "backing up if it holds items, then deleting",
    "EnsureRole": "checking; creating or updating it",
    "TeardownRole": "deleting",
}
# Steps about the whole run, shown as a row of their own while they work.
RUN_STEPS = {
    "DriftCheck": ("drift check", "comparing every table and the role with the spec"),
    "Verify": ("verification", "checking every table and the role against the spec"),
    "ProveAccess": ("access", "using the role as the SSO handler will (writing nothing)"),
    "ProveDriftAccess": ("access", "using the role as the SSO handler will (writing nothing)"),
    "RollbackOnFailure": ("rollback", "undoing what this run created or changed"),
    "RollbackExecution": ("rollback", "undoing what that run created or changed"),
}


@dataclass(frozen=True)
class Change:
    """A resource entered a new state (or a step failed) `at` seconds into the run."""

    at: float
    subject: str
    state: str
    previous_for: float | None = None  # seconds the resource spent in its previous state

    @property
    def line(self) -> str:
        return f"{self.subject}: {self.state}"


@dataclass
class Resource:
    subject: str  # "table NAME" or "role NAME"
    state: str
    since: float
    settled: bool = False  # nothing more is expected to happen to it in this run


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def payload(event: dict[str, Any]) -> dict[str, Any] | None:
    """What a Lambda step returned, from its TaskSucceeded event."""
    details = event.get("taskSucceededEventDetails") or {}
    output = _parse(details.get("output"))
    body = output.get("Payload") if isinstance(output, dict) else None
    return body if isinstance(body, dict) else None


def readable_cause(cause: str | None) -> str:
    if not cause:
        return ""
    parsed = _parse(cause)
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause


@dataclass
class RunProgress:
    role_name: str | None = None
    started_at: datetime.datetime | None = None
    status: str = "RUNNING"
    ended: float | None = None  # seconds from start to the end event
    resources: dict[str, Resource] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    open_steps: dict[str, int] = field(default_factory=dict)  # state name -> entries not yet exited
    entered_at: dict[str, float] = field(default_factory=dict)  # state name -> seconds at its latest entry
    _subject_of: dict[int, str] = field(default_factory=dict)
    _clock_offset: float | None = None  # local wall clock minus service clock, at most

    @property
    def finished(self) -> bool:
        return self.status != "RUNNING"

    def seconds(self, timestamp: datetime.datetime) -> float:
        if self.started_at is None:
            return 0.0
        return max(0.0, (timestamp - self.started_at).total_seconds())

    def now(self, wall: float) -> float:
        """Seconds since the run started, on the service's clock, estimated from the local wall clock."""
        if self.ended is not None:
            return self.ended
        if self.started_at is None or self._clock_offset is None:
            return 0.0
        return max(0.0, wall - self._clock_offset - self.started_at.timestamp())

    def add(self, events: list[dict[str, Any]], fetched_at: float | None = None) -> list[Change]:
        """Take new events (ascending ids); return what changed, in order."""
        changes: list[Change] = []
        for event in events:
            self.events.append(event)
            if fetched_at is not None:
                # The smallest gap seen between fetching and an event's time is the closest to the skew.
                gap = fetched_at - event["timestamp"].timestamp()
                self._clock_offset = gap if self._clock_offset is None else min(self._clock_offset, gap)
            changes.extend(self._take(event))
        return changes

    def waiting_on(self) -> list[Resource]:
        """Resources still in a state that something else must follow."""
        return [resource for resource in self.resources.values() if not resource.settled]

    def waiting_on_aws(self) -> bool:
        """A table or the role is in a state only AWS can end (CREATING, a backup pending); the run's own
        steps (validation, verification, a drift check) take a second or two and do not count."""
        run_subjects = {subject for subject, _ in RUN_STEPS.values()}
        return any(resource.subject not in run_subjects for resource in self.waiting_on())

    def _take(self, event: dict[str, Any]) -> list[Change]:
        kind, at = event["type"], event["timestamp"]
        if kind == "ExecutionStarted":
            self.started_at = at
        if kind in END_EVENTS:
            self.status = END_EVENTS[kind]
            self.ended = self.seconds(at)
        subject = self._subject_of.get(event.get("previousEventId") or 0)
        entered = event.get("stateEnteredEventDetails")
        if entered:
            name = entered.get("name", "")
            self.open_steps[name] = self.open_steps.get(name, 0) + 1
            self.entered_at[name] = self.seconds(at)
            subject = self._subject_for(name, _parse(entered.get("input"))) or subject
        exited = event.get("stateExitedEventDetails")
        if exited:
            name = exited.get("name", "")
            self.open_steps[name] = max(0, self.open_steps.get(name, 0) - 1)
        if subject:
            self._subject_of[event["id"]] = subject
        if entered and subject:
            step = entered.get("name", "")
            doing = STEP_WORDS.get(step) or (RUN_STEPS[step][1] if step in RUN_STEPS else None)
            return self._set(subject, doing, at) if doing else []
        body = payload(event)
        if body is not None:
            if subject in {run_subject for run_subject, _ in RUN_STEPS.values()}:
                return self._set(subject, _run_step_result(body), at, settled=True)
            return self._apply(body, at)
        if is_poll(event):
            return []  # the table keeps its state ("created; AWS is creating it") while it is polled
        if kind in FAILURE_EVENTS:
            details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
            error, cause = details.get("error", kind), readable_cause(details.get("cause"))
            changes = [Change(self.seconds(at), "step failed", f"{error}: {cause}" if cause else error)]
            if subject:
                changes += self._set(subject, f"hit {error}", at)
            return changes
        return []

    def _subject_for(self, step: str, state_input: Any) -> str | None:
        if isinstance(state_input, dict) and isinstance(state_input.get("table"), str):
            return f"table {state_input['table']}"
        if step in RUN_STEPS:
            return RUN_STEPS[step][0]
        if step in ("EnsureRole", "TeardownRole"):
            return f"role {self.role_name}" if self.role_name else "role"
        return None

    def _apply(self, body: dict[str, Any], at: datetime.datetime) -> list[Change]:
        if isinstance(body.get("table"), str):
            subject = f"table {body['table']}"
            if body.get("ttl") is not None:  # the await-table step: the table is ACTIVE, its TTL done
                ttl = words.ttl_result(body["ttl"])
                if body.get("ttl_change_possible_by"):
                    ttl += f" (possible by {body['ttl_change_possible_by']})"
                pitr = words.PITR_RESULTS.get(str(body.get("point_in_time_recovery")))
                if pitr:
                    ttl += f", {pitr}"
                return self._set(subject, f"{_outcome_prefix(body)}{ttl}", at, settled=True)
            if "result" in body:
                backup = f" (backup {body['backup_arn']})" if body.get("backup_arn") else ""
                pending = body["result"] == "backup-pending"
                return self._set(subject, words.teardown_result(body["result"]) + backup, at, settled=not pending)
            if "outcome" in body:
                status = body.get("status")
                settled = body["outcome"] == "refused"
                said = words.outcome(body["outcome"]) + (f"; {words.table_status(status)}" if status else "")
                return self._set(subject, said, at, settled=settled)
            return []
        if isinstance(body.get("role"), str):
            self.role_name = self.role_name or body["role"]
            subject = f"role {body['role']}"
            if "role" in self.resources and subject not in self.resources:
                self.resources[subject] = self.resources.pop("role")
                self.resources[subject].subject = subject
            if "outcome" in body:
                return self._set(subject, words.outcome(body["outcome"]), at, settled=True)
            if "result" in body:
                return self._set(subject, words.teardown_result(body["result"]), at, settled=True)
        return []

    def _set(self, subject: str, state: str, at: datetime.datetime, settled: bool = False) -> list[Change]:
        seconds = self.seconds(at)
        resource = self.resources.get(subject)
        if resource is None:
            self.resources[subject] = Resource(subject, state, seconds, settled)
            return [Change(seconds, subject, state)]
        if resource.state == state:
            return []
        previous_for = seconds - resource.since
        resource.state, resource.since, resource.settled = state, seconds, settled
        return [Change(seconds, subject, state, previous_for)]


def _outcome_prefix(body: dict[str, Any]) -> str:
    return f"{words.outcome(body['outcome'])}, " if body.get("outcome") in ("created", "adopted", "updated") else ""


def _run_step_result(body: dict[str, Any]) -> str:
    if "drifted_resources" in body and "remediated" not in body:
        count = body["drifted_resources"]
        return f"{count} resource(s) differ from the spec" if count else "no drift"
    if "verified" in body:
        return "passed" if body["verified"] else "did not pass"
    if "deleted" in body:
        done = [f"{label} {', '.join(body[key])}" for label, key in
                (("deleted", "deleted"), ("restored", "restored"), ("NOT restored", "not_restored")) if body.get(key)]
        return "; ".join(done) or "nothing this run created was left to delete"
    return "done"


def waiting_lines(progress: RunProgress, now: float) -> list[str]:
    """What the run is waiting for, one line per state shared by the resources in it."""
    groups: dict[str, list[Resource]] = {}
    for resource in progress.waiting_on():
        groups.setdefault(resource.state, []).append(resource)
    lines = []
    for state, resources in groups.items():
        longest = max(now - resource.since for resource in resources)
        if len(resources) == 1:
            lines.append(f"still waiting for {resources[0].subject}: {state} ({longest:.0f} s)")
        else:
            names = ", ".join(resource.subject.split(" ", 1)[-1] for resource in resources[:3])
            more = f" and {len(resources) - 3} more" if len(resources) > 3 else ""
            lines.append(f"still waiting for {len(resources)} resources ({names}{more}): {state} ({longest:.0f} s)")
    if not lines:
        for name, count in progress.open_steps.items():
            if count:
                lines.append(f"still waiting for step {name} ({now - progress.entered_at.get(name, 0.0):.0f} s)")
    return lines


class PlainView:
    """Progress as plain lines, for output that is not a terminal: each change with the seconds into
    the run, and "still waiting for X (N s)" every `interval` seconds while nothing changes."""

    def __init__(self, echo: Any, interval: float = 10.0, wall_clock: Any = None):
        import time

        self.echo = echo
        self.interval = interval
        self.wall_clock = wall_clock or time.time
        self.last_said = 0.0

    def change(self, change: Change, progress: RunProgress) -> None:
        took = f" (after {change.previous_for:.0f} s)" if change.previous_for is not None and change.previous_for >= 1 else ""
        self.echo(f"  {change.at:4.0f} s  {change.line}{took}")
        self.last_said = max(self.last_said, change.at)

    def tick(self, progress: RunProgress) -> None:
        now = progress.now(self.wall_clock())
        if now - self.last_said < self.interval:
            return
        self.last_said = now
        for line in waiting_lines(progress, now):
            self.echo(f"  {now:4.0f} s  {line}")
