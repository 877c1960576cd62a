"""The path one execution took through the state machine: the states it entered, in order, with
their outcomes and durations, Map and Parallel iterations summarised, and where it stopped."""

from __future__ import annotations

import datetime
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from provisioner.cli import words
from provisioner.runs.progress import FAILURE_EVENTS, is_poll, readable_cause

END_EVENTS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


@dataclass
class InnerState:
    """One state inside a Map or Parallel, over all its iterations."""

    name: str
    entered: int = 0
    failed_attempts: Counter[str] = field(default_factory=Counter)
    longest_seconds: float = 0.0
    iterations: int | None = None  # a nested Map's items
    exited: int = 0
    looked_again: int = 0  # polls that found a table not ACTIVE yet (waiting, not failed attempts)

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.name, "entered": self.entered, "failed_attempts": dict(self.failed_attempts),
                "longest_seconds": round(self.longest_seconds, 3), "iterations": self.iterations,
                "looked_again": self.looked_again}


@dataclass
class Step:
    """One visit to a top-level state."""

    name: str
    type: str
    at_seconds: float
    seconds: float | None = None
    outcome: str = "running"
    failed_attempts: Counter[str] = field(default_factory=Counter)
    iterations: int | None = None
    inner: list[InnerState] = field(default_factory=list)
    last_error: str | None = None  # the error of its last task attempt, None once an attempt succeeded

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "state",
            "state": self.name,
            "type": self.type,
            "at_seconds": round(self.at_seconds, 3),
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "outcome": self.outcome,
            "failed_attempts": dict(self.failed_attempts),
            "iterations": self.iterations,
            "inner": [state.as_dict() for state in self.inner],
        }


@dataclass
class RunPath:
    steps: list[Step]
    status: str
    stopped_at: str | None
    error: str | None = None
    cause: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "execution-path",
            "status": self.status,
            "stopped_at": self.stopped_at,
            "error": self.error,
            "cause": self.cause,
            "steps": [step.as_dict() for step in self.steps],
        }


def _containers(definition: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """Top-level states by name, and for each Map/Parallel the names of every state nested in it."""

    def nested(state: dict[str, Any]) -> set[str]:
        machines = [state.get("ItemProcessor") or state.get("Iterator") or {}] + list(state.get("Branches", []))
        names: set[str] = set()
        for machine in machines:
            for name, inner in (machine.get("States") or {}).items():
                names.add(name)
                names |= nested(inner)
        return names

    top = definition.get("States") or {}
    return top, {name: nested(state) for name, state in top.items() if state.get("Type") in ("Map", "Parallel")}


def _seconds(start: datetime.datetime, moment: datetime.datetime) -> float:
    return max(0.0, (moment - start).total_seconds())


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def run_path(events: list[dict[str, Any]], definition: dict[str, Any], now: datetime.datetime | None = None) -> RunPath:
    """The path through `definition` that `events` (one execution's whole history, ascending) record."""
    top, inner_names = _containers(definition)
    by_id = {event["id"]: event for event in events}
    start = events[0]["timestamp"] if events else datetime.datetime.now(datetime.timezone.utc)
    steps: list[Step] = []
    current: Step | None = None
    inner: dict[str, InnerState] = {}
    inner_error: str | None = None  # the last error inside the current Map or Parallel
    status, error, cause = "RUNNING", None, None
    for event in events:
        kind = event["type"]
        entered, exited = event.get("stateEnteredEventDetails"), event.get("stateExitedEventDetails")
        name = (entered or exited or {}).get("name")
        if entered and (name in top or not top):
            current = Step(name, (top.get(name) or {}).get("Type") or kind.removesuffix("StateEntered"),
                           _seconds(start, event["timestamp"]))
            inner, inner_error = {}, None
            steps.append(current)
            if current.type in ("Succeed", "Fail"):
                current.seconds = 0.0
                current.outcome = "ended the run: succeeded" if current.type == "Succeed" else "ended the run: failed"
        elif exited and current is not None and name == current.name:
            current.seconds = _seconds(start, event["timestamp"]) - current.at_seconds
            if current.outcome == "running":
                current.outcome = f"failed ({current.last_error})" if current.last_error else "succeeded"
        elif entered and current is not None and name in inner_names.get(current.name, ()):
            inner.setdefault(name, InnerState(name)).entered += 1
            current.inner = list(inner.values())
        elif exited and current is not None and name in inner:
            began = _entered_event(by_id, event, name)
            inner[name].exited += 1
            if began is not None:
                inner[name].longest_seconds = max(inner[name].longest_seconds, _seconds(began["timestamp"], event["timestamp"]))
        elif kind == "MapStateStarted" and current is not None:
            owner = _owner_name(by_id, event)
            if owner in inner:
                inner[owner].iterations = (inner[owner].iterations or 0) + (_details(event).get("length") or 0)
            else:
                current.iterations = _details(event).get("length")
        elif is_poll(event) and current is not None:
            owner = _owner_name(by_id, event)
            if owner in inner:
                inner[owner].looked_again += 1
        elif kind in FAILURE_EVENTS and current is not None:
            failed = _details(event).get("error", kind)
            owner = _owner_name(by_id, event)
            if owner in inner:
                inner[owner].failed_attempts[failed] += 1
                inner_error = failed
            else:
                current.failed_attempts[failed] += 1
                current.last_error = failed
        elif kind == "TaskSucceeded" and current is not None and _owner_name(by_id, event) == current.name:
            current.last_error = None
        elif kind in ("MapStateFailed", "ParallelStateFailed") and current is not None:
            current.last_error = _details(event).get("error") or inner_error or "a branch or iteration failed"
        elif kind in END_EVENTS:
            status = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED",
                      "ExecutionAborted": "ABORTED", "ExecutionTimedOut": "TIMED_OUT"}[kind]
            details = _details(event)
            error, cause = details.get("error"), readable_cause(details.get("cause")) or None
            if current is not None and current.seconds is None:
                current.seconds = _seconds(start, event["timestamp"]) - current.at_seconds
                current.outcome = {"ABORTED": "stopped here (aborted)", "TIMED_OUT": "stopped here (timed out)"}.get(
                    status, f"failed ({error})" if error else "failed")
    if current is not None and current.seconds is None and now is not None:
        current.seconds = _seconds(start, now) - current.at_seconds
    for previous, following in zip(steps, steps[1:]):
        if previous.type == "Choice":
            previous.outcome = f"chose {following.name}"
        elif previous.outcome.startswith("failed"):
            previous.outcome += f", caught: went to {following.name}"
    return RunPath(steps, status, steps[-1].name if steps else None, error, cause)


def _entered_event(by_id: dict[int, dict[str, Any]], exited: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The StateEntered event an exit belongs to, by walking its previousEventId chain back."""
    event: dict[str, Any] | None = exited
    for _ in range(10_000):
        event = by_id.get(event.get("previousEventId") or 0) if event else None
        if event is None:
            return None
        if (event.get("stateEnteredEventDetails") or {}).get("name") == name:
            return event
    return None


def _owner_name(by_id: dict[int, dict[str, Any]], event: dict[str, Any]) -> str | None:
    """The state whose task failed: the nearest StateEntered on the event's chain."""
    current: dict[str, Any] | None = event
    for _ in range(10_000):
        current = by_id.get(current.get("previousEventId") or 0) if current else None
        if current is None:
            return None
        if current.get("stateEnteredEventDetails"):
            return current["stateEnteredEventDetails"].get("name")
    return None


def describe(path: RunPath) -> list[str]:
    """The path as lines a person reads."""
    width = max((len(step.name) for step in path.steps), default=10)
    lines = []
    for step in path.steps:
        seconds = "" if step.seconds is None else f"{step.seconds:.1f} s"
        retried = ""
        attempts = sum(step.failed_attempts.values())
        if step.outcome.startswith("succeeded") and attempts:
            retried = " after retries (" + ", ".join(f"{e} x{n}" for e, n in step.failed_attempts.items()) + ")"
        elif step.outcome.startswith("failed") and attempts > 1:
            retried = f" after {attempts} attempts"
        iterations = f", {step.iterations} iteration(s)" if step.iterations is not None else ""
        lines.append(f"  {step.at_seconds:6.1f} s  {step.name:<{width}}  {step.type:<8} {seconds:>8}  {step.outcome}{iterations}{retried}")
        for state in step.inner:
            failures = ", ".join(f"{e} x{n}" for e, n in state.failed_attempts.items())
            extra = f"; failed attempts: {failures}" if failures else ""
            if state.looked_again:
                extra += f"; looked again {state.looked_again} time(s) while not ACTIVE yet"
            items = f"{state.iterations} iteration(s), " if state.iterations is not None else ""
            took = f"longest {state.longest_seconds:.1f} s" if state.exited else "did not finish"
            lines.append(f"  {'':8}    - {state.name} x{state.entered} ({items}{took}{extra})")
    where = f"at {path.stopped_at}" if path.stopped_at else "before entering any state"
    if path.status == "RUNNING":
        lines.append(f"Still running, now {where}.")
    else:
        lines.append(f"Stopped {where}: {words.execution_status(path.status)}.")
    return lines


def definition_for(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """The definition the execution ran (the state machine may have changed since)."""
    return json.loads(sfn.describe_state_machine_for_execution(executionArn=execution_arn)["definition"])
