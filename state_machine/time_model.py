"""The longest a run can take, read from the definition, and the execution's TimeoutSeconds derived from it.

An execution that reaches its TimeoutSeconds ends TIMED_OUT: no Catch runs, so the workflow's own ends
(`TableCreationTimeout` after the last look, `TeardownIncomplete` after the backup wait, a rollback after
any failure) never happen, and the rule-started rollback must clean up after it. So the TimeoutSeconds is
never a guess: it is the worst case of every path the definition allows (every action: provision,
drift-check with or without remediation, rollback, teardown), plus a margin, capped at what Step Functions
allows a Standard execution (one year, "Step Functions service quotas").

The worst case counts what each state can spend by its own bounds:

- Task (a Lambda invoke): every attempt its retriers allow (1 + the sum of their MaxAttempts: each retrier
  counts its own) at its function's timeout plus Lambda's init phase (at most 10 s, not counted in the
  function timeout), and every retrier's delays at their longest (IntervalSeconds x BackoffRate^n, capped
  by MaxDelaySeconds; full jitter only shortens them).
- Map: its items (the tables) in ceil(items / c) rounds of its longest iteration, c its max concurrency (at
  most 40, inline Map's own limit): an iteration starts as soon as a slot frees, so the k-th starts within
  floor(k / c) rounds.
- Parallel: its longest branch. Choice, Pass, Succeed and Fail: nothing.
- A failure caught by a Catch spends the state's whole worst case, then the catcher's path.
- Wait: its Seconds. The one loop, teardown's wait for a table's backup (TeardownTable -> BackupPending ->
  WaitForBackup -> TeardownTable), ends once the backup is `backup_wait_seconds` old: the Wait with a
  SecondsPath that closes the loop counts that, its longest wait (lambdas.core.teardown), the attempt that
  saw the backup young, and its Task's worst case once more (the last look). Any other loop has no worst
  case and is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from lambdas.core.desired import DesiredState
from lambdas.core.steps import STEPS
from lambdas.core.teardown import BACKUP_POLL_MAX_SECONDS

# Step Functions: a Standard workflow execution runs for at most one year.
STANDARD_MAX_SECONDS = 365 * 24 * 3600
# Lambda's init phase may take up to 10 s, not counted in the function's timeout.
LAMBDA_INIT_SECONDS = 10
# State transitions and each invoke's round trip are not counted above: five minutes for them.
MARGIN_SECONDS = 300
# Step Functions runs at most 40 iterations of an inline Map at once ("Using Map state in Inline mode").
INLINE_MAP_CONCURRENCY = 40
# States Language defaults of a retrier.
DEFAULT_INTERVAL_SECONDS, DEFAULT_MAX_ATTEMPTS, DEFAULT_BACKOFF_RATE = 1, 3, 2.0

_FUNCTION_TIMEOUTS = {step.placeholder: step.timeout_seconds for step in STEPS}


@dataclass(frozen=True)
class RunShape:
    """What the definition does not say and the worst case depends on: the desired state's, at deploy."""

    tables: int
    max_concurrency: int
    backup_wait_seconds: int


def _default(name: str) -> Any:
    return next(field.default for field in fields(DesiredState) if field.name == name)


# The committed ASL's: the spec's five tables, the config's defaults (lambdas.core.desired).
DEFAULT_SHAPE = RunShape(
    tables=5, max_concurrency=_default("max_concurrency"), backup_wait_seconds=_default("backup_wait_seconds")
)


def retry_delays_seconds(retrier: Mapping[str, Any]) -> float:
    """The longest a retrier waits in all, over its MaxAttempts retries."""
    interval = retrier.get("IntervalSeconds", DEFAULT_INTERVAL_SECONDS)
    rate = retrier.get("BackoffRate", DEFAULT_BACKOFF_RATE)
    cap = retrier.get("MaxDelaySeconds", math.inf)
    return sum(min(interval * rate**n, cap) for n in range(retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS)))


def attempt_seconds(task: Mapping[str, Any]) -> int:
    """The longest one attempt of a Task takes: its function's timeout plus Lambda's init phase."""
    function = task.get("Parameters", {}).get("FunctionName")
    if function not in _FUNCTION_TIMEOUTS:
        raise ValueError(f"a Task invokes {function!r}, not a step's function: its attempts have no known bound")
    seconds = _FUNCTION_TIMEOUTS[function] + LAMBDA_INIT_SECONDS
    return min(seconds, task["TimeoutSeconds"]) if "TimeoutSeconds" in task else seconds


def task_seconds(task: Mapping[str, Any]) -> float:
    """The longest a Task takes: every attempt its retriers allow, and every retrier's delays."""
    retriers = task.get("Retry", [])
    attempts = 1 + sum(r.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS) for r in retriers)
    return attempts * attempt_seconds(task) + sum(retry_delays_seconds(r) for r in retriers)


class _Longest:
    def __init__(self, shape: RunShape):
        self.shape = shape

    def machine(self, machine: Mapping[str, Any]) -> float:
        states = machine["States"]
        memo: dict[str, float] = {}
        on_path: list[str] = []

        def from_state(name: str) -> float:
            if name in memo:
                return memo[name]
            on_path.append(name)
            state = states[name]
            following = []
            for next_name in _successors(state):
                if next_name in on_path:
                    if not _closes_backup_wait(state):
                        loop = on_path[on_path.index(next_name):] + [next_name]
                        raise ValueError(f"a loop through {' -> '.join(loop)} has no worst case")
                    continue  # the backup wait: its Wait counts the loop's rounds
                following.append(from_state(next_name))
            on_path.pop()
            memo[name] = self.state(state, states) + max(following, default=0)
            return memo[name]

        return from_state(machine["StartAt"])

    def state(self, state: Mapping[str, Any], states: Mapping[str, Any]) -> float:
        kind = state["Type"]
        if kind == "Task":
            return task_seconds(state)
        if kind == "Map":
            concurrency = self.shape.max_concurrency if "MaxConcurrencyPath" in state else state.get("MaxConcurrency", 0)
            rounds = math.ceil(self.shape.tables / min(concurrency or INLINE_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY))
            return rounds * self.machine(state.get("ItemProcessor") or state["Iterator"])
        if kind == "Parallel":
            return max((self.machine(branch) for branch in state["Branches"]), default=0)
        if kind == "Wait":
            if "Seconds" in state:
                return state["Seconds"]
            if _closes_backup_wait(state):
                looked_again = states[state["Next"]]
                return (
                    self.shape.backup_wait_seconds
                    + BACKUP_POLL_MAX_SECONDS
                    + attempt_seconds(looked_again)
                    + task_seconds(looked_again)
                )
            raise ValueError("a Wait without Seconds outside the backup wait has no worst case")
        return 0  # Choice, Pass, Succeed, Fail


def _closes_backup_wait(state: Mapping[str, Any]) -> bool:
    return state["Type"] == "Wait" and "SecondsPath" in state and "Next" in state


def _successors(state: Mapping[str, Any]) -> list[str]:
    names = [choice["Next"] for choice in state.get("Choices", [])]
    names += [state[key] for key in ("Default", "Next") if key in state]
    return names + [catcher["Next"] for catcher in state.get("Catch", [])]


def worst_case_seconds(machine: Mapping[str, Any], shape: RunShape) -> float:
    """The longest any run of `machine` can take by its own bounds, for `shape` (see the module doc)."""
    return _Longest(shape).machine(machine)


def execution_timeout_seconds(machine: Mapping[str, Any], shape: RunShape) -> int:
    """The execution's TimeoutSeconds: the worst case plus MARGIN_SECONDS, at most STANDARD_MAX_SECONDS."""
    return min(STANDARD_MAX_SECONDS, math.ceil(worst_case_seconds(machine, shape)) + MARGIN_SECONDS)


def configure_timeout(definition_text: str, shape: RunShape) -> str:
    """The definition with its TimeoutSeconds derived from its worst case for `shape`.

    Like the poll's Retry fields, it is written into the definition wherever it is deployed or rendered.
    The committed ASL carries the value for DEFAULT_SHAPE (and the default poll): configuring it so gives
    it back unchanged.
    """
    machine = json.loads(definition_text)
    machine["TimeoutSeconds"] = execution_timeout_seconds(machine, shape)
    return json.dumps(machine, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
