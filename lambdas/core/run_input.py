"""The execution input contract: validated in the first state, before anything is touched."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.utilities.validation import validate
from aws_lambda_powertools.utilities.validation.exceptions import InvalidSchemaFormatError, SchemaValidationError

from lambdas.core.access import access_batches
from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error
from lambdas.core.desired import DesiredState
from lambdas.core.errors import InvalidInput
from lambdas.core.run_lease import converged_since, lease_table_name, take_lease

ACTIONS = ("provision", "drift-check", "rollback", "teardown")
# Step Functions names exclude white space, brackets, wildcards, control and these special characters.
_NAME = r"[^\s<>{}\[\]?*\"#%\\^|~`\x24&,;:/]{1,80}"  # \x24 is "$"
EXECUTION_ARN = rf"^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{{12}}:execution:{_NAME}:{_NAME}$"
# Fields that belong to one action only.
ONLY_WITH = {"remediate": "drift-check", "execution_arn": "rollback", "confirm": "teardown",
             "lift_deletion_protection": "teardown"}


INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "action": {"type": "string", "enum": list(ACTIONS)},
        "remediate": {"type": "boolean"},
        "execution_arn": {"type": "string", "maxLength": 2048, "pattern": EXECUTION_ARN},
        "confirm": {"type": "string", "maxLength": 80},
        "lift_deletion_protection": {"type": "boolean"},
    },
    "allOf": [
        {
            "if": {"properties": {"action": {"const": "rollback"}}, "required": ["action"]},
            "then": {"required": ["execution_arn"]},
        },
        {
            "if": {"properties": {"action": {"const": "teardown"}}, "required": ["action"]},
            "then": {"required": ["confirm"]},
        },
    ],
}

MUTATING = ("provision", "teardown", "rollback")


_SHOWABLE_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_READABLE_RULES = {
    "pattern": "is not in the expected format",
    "enum": f"must be one of {', '.join(ACTIONS)}",
}


def _refusal(err: SchemaValidationError, raw: Any) -> str:
    """One line naming the field and the rule broken; the offending value is never echoed back."""
    path = [str(part) for part in (err.path or [])][1:]  # drop fastjsonschema's "data" root
    if not path:
        if err.rule == "type":
            return "execution input: must be a JSON object"
        if err.rule == "additionalProperties":
            unknown = sorted(set(raw) - set(INPUT_SCHEMA["properties"]))
            # A hostile key (huge, or control characters) is not repeated into the cause or logs.
            shown = [repr(key) for key in unknown if _SHOWABLE_KEY.match(key)] or ["(a key not shown: too long or unprintable)"]
            return f"execution input: unknown key {', '.join(shown)}; allowed: {', '.join(INPUT_SCHEMA['properties'])}"
        if err.rule == "required":
            missing = [name for name in (err.rule_definition or []) if name not in raw]
            return f"{', '.join(missing) or 'input'}: required with action {raw.get('action')}"
    field = ".".join(path)
    readable = _READABLE_RULES.get(err.rule or "")
    if readable is None:
        readable = (err.validation_message or "").removeprefix(err.name or "").strip() or "is not valid"
    return f"{field}: {readable}"


def check_schema(raw: Any) -> dict[str, Any]:
    try:
        validate(event=raw, schema=INPUT_SCHEMA)
    except SchemaValidationError as err:
        raise InvalidInput(_refusal(err, raw)) from None
    except InvalidSchemaFormatError as err:
        raise InvalidInput(f"execution input: {err}") from None
    action = raw.get("action", "provision")
    for name, owner in ONLY_WITH.items():
        if name in raw and action != owner:
            raise InvalidInput(f"{name}: only allowed with action {owner}")
    return raw


def _state_machine_name(arn: str) -> tuple[str, str]:
    """(partition:region:account, name) of a state machine or execution ARN."""
    parts = arn.split(":")
    return ":".join(parts[1:5]), parts[6]


def run_context(
    raw: Any,
    execution_name: str,
    execution_arn: str,
    state_machine_arn: str,
    desired: DesiredState,
    stepfunctions: Any,
    dynamodb: Any,
) -> dict[str, Any]:
    """The run context every later state reads, or InvalidInput / ConcurrentRun.

    A run that changes resources (provision, teardown, rollback, a remediating drift check) first takes
    the run lease (lambdas.core.run_lease); a rollback run waits for it (transient errors) instead.
    """
    request = check_schema(raw)
    action = request.get("action", "provision")
    target_execution_name = None
    if action == "rollback":
        target = request["execution_arn"]
        if _state_machine_name(target) != _state_machine_name(state_machine_arn):
            raise InvalidInput("execution_arn: not an execution of this state machine")
        if target == execution_arn:
            raise InvalidInput("execution_arn: a rollback run cannot roll back itself")
        target_execution_name = target.split(":")[7]
        _refuse_rollback_of_a_rollback(stepfunctions, target)
    if action == "teardown" and request["confirm"] != desired.provisioner_name:
        raise InvalidInput(f"confirm: must be the provisioner name ({desired.provisioner_name}) to tear down")
    remediate = bool(request.get("remediate", False))
    superseded_by = None
    if action in MUTATING or remediate:
        target = request.get("execution_arn") if action == "rollback" else None
        previous = take_lease(dynamodb, stepfunctions, lease_table_name(desired.provisioner_name), execution_arn,
                              rollback_target=target)
        if target is not None:
            superseded_by = converged_since(stepfunctions, previous, target)
    return {
        "action": action,
        "execution_name": execution_name,
        "tables": desired.table_names(),
        # The access check's Map: the tables in at most eight batches (lambdas.core.access).
        "access_batches": access_batches(desired.table_names()),
        "max_concurrency": desired.max_concurrency,
        "remediate": remediate,
        "target_execution_name": target_execution_name,
        # A rollback run only: the verified run that converged everything after the target ended (null: none).
        "superseded_by": superseded_by,
        # A teardown only: delete deletion-protected tables too (after their backup), lifting the protection.
        "lift_deletion_protection": request.get("lift_deletion_protection") is True,
        # Filled by DriftCheck; present from the start so Verify can always read it (null: not a drift check).
        "drift": None,
    }


def _refuse_rollback_of_a_rollback(stepfunctions: Any, target: str) -> None:
    """A rollback run creates nothing; refusing to roll one back keeps aborted rollbacks from chaining."""
    try:
        described = stepfunctions.describe_execution(executionArn=target)
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        raise InvalidInput("execution_arn: no such execution of this state machine") from None
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, "DescribeExecution") from err
    try:
        action = json.loads(described.get("input") or "{}").get("action")
    except (ValueError, AttributeError):
        return
    if action == "rollback":
        raise InvalidInput("execution_arn: names a rollback run, which creates nothing to roll back")
