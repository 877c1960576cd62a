"""The committed state machine definition, the configured polling, and the ARN substitution deploy performs.

This module never imports the `stepfunctions` SDK (nor anything that does): deploy.py, the
emulator and the tests read the committed JSON through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from pathlib import Path

from lambdas.core.errors import poll_error_names, transient_error_names
from lambdas.core.steps import STEPS, STEPS_BY_NAME

ASL_PATH: Path = Path(__file__).resolve().with_name("provisioner.asl.json")

# The table poll's looks grow apart up to this (its retrier's MaxDelaySeconds), or up to
# provisioner.poll_interval_seconds if that is longer (configure_polling).
POLL_MAX_DELAY_SECONDS = 30

# Anything still shaped like a step placeholder after substitution is an error.
_PLACEHOLDER_PATTERN = re.compile(r"\$\{[A-Za-z0-9]+FunctionArn\}")


def load_definition() -> str:
    """The committed ASL JSON text (with `${...FunctionArn}` placeholders)."""
    return ASL_PATH.read_text(encoding="utf-8")


def poll_retriers(machine: dict) -> list[dict]:
    """Every retrier of `machine` (at any depth) that answers a table poll (TableStillCreating)."""
    found: list[dict] = []
    poll_errors = poll_error_names()

    def visit(states: Mapping[str, Any]) -> None:
        for state in states.values():
            found.extend(r for r in state.get("Retry", []) if r.get("ErrorEquals") == poll_errors)
            if "ItemProcessor" in state:
                visit(state["ItemProcessor"]["States"])
            for branch in state.get("Branches", []):
                visit(branch["States"])

    visit(machine["States"])
    return found


def is_transient_retrier(retrier: Mapping[str, Any]) -> bool:
    """Whether `retrier` is a Task's transient-fault retrier: it retries only transient errors (its list may
    leave out a name an earlier retrier of the same state already answers), unlike the designed waits
    (the table poll, a rollback waiting for a CREATING table or for its target to stop)."""
    errors = retrier.get("ErrorEquals", [])
    return bool(errors) and set(errors) <= set(transient_error_names())


def configure_polling(definition_text: str, poll_interval_seconds: int, max_polls: int) -> str:
    """The definition with its table poll set to the configuration: the first interval between looks
    (`provisioner.poll_interval_seconds`) and how many times a table is looked at again
    (`provisioner.max_polls`), as the poll retrier's IntervalSeconds and MaxAttempts.

    The looks grow x1.5 apart up to the retrier's MaxDelaySeconds, POLL_MAX_DELAY_SECONDS; a first
    interval longer than that is the MaxDelaySeconds instead, so the interval configured is the one kept
    (Step Functions would cap it silently), and the looks stay that far apart.

    Retry fields are static in the States Language, so they are written into the definition wherever
    it is deployed or rendered. The committed ASL carries the defaults: configuring it with them gives
    it back unchanged. Raises ValueError if the definition has no poll retrier.
    """
    machine = json.loads(definition_text)
    retriers = poll_retriers(machine)
    if not retriers:
        raise ValueError("the definition has no table poll retrier (ErrorEquals [TableStillCreating])")
    for retrier in retriers:
        retrier["IntervalSeconds"] = poll_interval_seconds
        retrier["MaxAttempts"] = max_polls
        retrier["MaxDelaySeconds"] = max(POLL_MAX_DELAY_SECONDS, poll_interval_seconds)
    return json.dumps(machine, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def placeholders() -> dict[str, str]:
    """Step name -> the placeholder that stands for its function's ARN in the ASL."""
    return {s.name: s.placeholder for s in STEPS}


# Service integrations are named in the partition they run in (arn:aws-cn:states:::lambda:invoke in China).
_INTEGRATION_PREFIX = '"arn:aws:states:::'


def in_partition(definition_text: str, partition: str) -> str:
    """`definition_text` with its service integrations named in `partition` (placeholders left in)."""
    return definition_text.replace(_INTEGRATION_PREFIX, f'"arn:{partition}:states:::')


def substitute(definition_text: str, function_arns: Mapping[str, str], partition: str = "aws") -> str:
    """Replace every step placeholder in `definition_text` with its function's ARN, in `partition`.

    `function_arns` maps step names (e.g. `"verify"`) to ARNs. Raises ValueError if a step
    whose placeholder occurs in the definition has no ARN, if a name is not a known step,
    if an ARN is empty, or if any placeholder-shaped text remains afterwards.
    """
    unknown = sorted(set(function_arns) - set(STEPS_BY_NAME))
    if unknown:
        raise ValueError(f"unknown step name(s) in function_arns: {', '.join(unknown)}")

    missing = sorted(
        s.name for s in STEPS if s.placeholder in definition_text and s.name not in function_arns
    )
    if missing:
        raise ValueError(f"no function ARN given for step(s): {', '.join(missing)}")

    text = in_partition(definition_text, partition)
    for s in STEPS:
        if s.placeholder not in text:
            continue
        arn = function_arns[s.name]
        if not isinstance(arn, str) or not arn.strip():
            raise ValueError(f"empty function ARN for step {s.name!r}")
        # json.dumps escapes the value for a JSON string literal; [1:-1] drops its quotes.
        text = text.replace(s.placeholder, json.dumps(arn)[1:-1])

    remaining = sorted(set(_PLACEHOLDER_PATTERN.findall(text)))
    if remaining:
        raise ValueError(f"placeholder(s) left unsubstituted: {', '.join(remaining)}")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:  # pragma: no cover - only a malformed input gets here
        raise ValueError(f"definition is not valid JSON after substitution: {exc}") from exc
    return text
