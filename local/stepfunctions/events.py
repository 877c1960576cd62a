"""Step Functions "Execution Status Change" events, delivered through EventBridge rules.

AWS puts such an event on the default event bus whenever an execution changes status; moto emits
none, and its EventBridge does not start Step Functions targets.  The emulator builds the event AWS
would send when an execution ends, matches it against the rules on the default bus with moto's own
event-pattern matcher, and starts an execution of every Step Functions target, with the input AWS
would deliver (Input, InputPath or InputTransformer).  Other target types are not delivered.

A target EventBridge may not start (its role may not, the state machine does not exist, the input is
not JSON) is not retried: the event goes to the target's dead-letter queue, if it has one and the
queue's policy lets EventBridge send for that rule, with AWS's attributes; otherwise it is dropped
(EventBridge User Guide, "Using dead-letter queues to process undelivered events in EventBridge":
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).  Failures AWS retries
(throttling, say) are logged and dropped: the emulator does not retry a delivery for a day.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import uuid
from typing import Any

from jsonpath_ng.ext import parse as parse_jsonpath

from local.iam import enforcement as iam_enforcement
from local.iam.policy import AuthRequest, evaluate_trust

LOG = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

_COMPACT = (",", ":")


def _epoch_millis(moment: datetime.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # moto mixes naive-UTC and aware datetimes
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


def status_change_event(execution: Any) -> dict[str, Any]:
    """The event AWS sends for a moto (parser backend) Execution, shaped as AWS documents it."""
    status = execution.exec_status.value
    succeeded = status == "SUCCEEDED"
    _, partition, _, region, account, *_ = execution.exec_arn.split(":")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": _epoch_millis(execution.start_date),
            "stopDate": _epoch_millis(execution.stop_date),
            "input": json.dumps(execution.input_data, separators=_COMPACT),
            "output": json.dumps(execution.output, separators=_COMPACT) if succeeded else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if succeeded else None,
            "error": execution.error or None,
            "cause": execution.cause or None,
            "redriveCount": 0,
        },
    }


def deliver(event: dict[str, Any]) -> None:
    """Start the Step Functions targets of every enabled default-bus rule matching the event.

    A failing delivery is logged and skipped, like EventBridge's FailedInvocations: it never
    propagates into the execution (or the request) that produced the event.
    """
    from moto.events.models import events_backends

    try:
        bus = events_backends[event["account"]][event["region"]].event_buses.get("default")
    except Exception:
        LOG.exception("could not read the EventBridge rules")
        return
    if bus is None:
        return
    for rule in list(bus.rules.values()):
        # A rule without a pattern is a scheduled rule; moto's matcher would match it to anything.
        if not rule.event_pattern.get_pattern() or not rule.state.startswith("ENABLED"):
            continue
        if not rule.event_pattern.matches_event(event):
            continue
        for target in list(rule.targets):
            if ":states:" not in target["Arn"] or ":stateMachine:" not in target["Arn"]:
                continue
            # AWS: EventBridge starts the execution as the target's RoleArn; a role that may not
            # states:StartExecution on it is a failed invocation (FailedInvocations), nothing starts.
            if not iam_enforcement.role_may(target.get("RoleArn") or "", "states:StartExecution",
                                            target["Arn"], iam_enforcement.EVENTS_SERVICE, rule.arn):
                LOG.error("rule %s: role %s may not start target %s (states:StartExecution denied)",
                          rule.name, target.get("RoleArn"), target["Arn"])
                _undelivered(event, rule, target, "NO_PERMISSIONS",
                             f"Role {target.get('RoleArn')} may not perform states:StartExecution on {target['Arn']}")
                continue
            try:
                _start_execution(target["Arn"], target_input(target, event, rule))
            except Exception as error:
                LOG.error(
                    "rule %s: could not start target %s: %s: %s",
                    rule.name, target["Arn"], type(error).__name__, error,
                )
                code = _NOT_RETRIED.get(type(error).__name__)
                if code:
                    _undelivered(event, rule, target, code, str(error))


# The refusals EventBridge does not retry, by the error code it gives them in the dead-letter message.
_NOT_RETRIED = {"StateMachineDoesNotExist": "NO_RESOURCE", "JSONDecodeError": "INVALID_JSON",
                "InvalidExecutionInput": "INVALID_JSON"}


def _undelivered(event: dict[str, Any], rule: Any, target: dict[str, Any], code: str, message: str) -> None:
    """Send the event to the target's dead-letter queue, as EventBridge does (the event as the body,
    RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE attributes), if the queue's policy lets
    events.amazonaws.com send for this rule; else drop it (InvocationsFailedToBeSentToDlq)."""
    from moto.sqs.models import sqs_backends

    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        return
    _, partition, _, region, account, queue_name = queue_arn.split(":", 5)
    try:
        queue = sqs_backends[account][region].get_queue(queue_name)
    except Exception:
        LOG.error("rule %s: dead-letter queue %s does not exist; event dropped", rule.name, queue_arn)
        return
    context = {"aws:SourceArn": rule.arn, "aws:SourceAccount": event["account"]}
    decision = evaluate_trust(queue.policy or {"Statement": []}, {"Service": iam_enforcement.EVENTS_SERVICE},
                              AuthRequest("sqs:SendMessage", queue.queue_arn, context))
    if not decision.allowed:
        LOG.error("rule %s: the policy of %s does not let EventBridge send; event dropped", rule.name, queue_arn)
        return
    attributes = {"RULE_ARN": rule.arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": code,
                  "ERROR_MESSAGE": message, "RETRY_ATTEMPTS": "0"}
    sqs_backends[account][region].send_message(
        queue_name, json.dumps(event),
        message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def _start_execution(state_machine_arn: str, execution_input: str) -> None:
    from moto.stepfunctions.responses import get_backend

    _, _, _, region, account, *_ = state_machine_arn.split(":")
    json.loads(execution_input)  # Step Functions refuses non-JSON input; fail the delivery as AWS does
    get_backend(account, region).start_execution(
        state_machine_arn, str(uuid.uuid4()), execution_input
    )


def target_input(target: dict[str, Any], event: dict[str, Any], rule: Any) -> str:
    """The text EventBridge passes to a target: Input, InputPath, InputTransformer or the event."""
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(_jsonpath_value(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {
            name: _jsonpath_value(event, path)
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        values.setdefault("aws.events.event", event)
        values.setdefault("aws.events.event.json", event)
        values.setdefault("aws.events.rule-arn", rule.arn)
        values.setdefault("aws.events.rule-name", rule.name)
        values.setdefault("aws.events.event.ingestion-time", event["time"])
        return render_input_template(transformer["InputTemplate"], values)
    return json.dumps(event)


def _jsonpath_value(event: dict[str, Any], path: str) -> Any:
    matches = parse_jsonpath(path).find(event)
    return matches[0].value if matches else None


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def render_input_template(template: str, values: dict[str, Any]) -> str:
    """Fill an InputTransformer template the way EventBridge does.

    A placeholder in value position becomes that value as JSON (strings get quotes); inside a JSON
    string literal a string value is inserted without quotes.  Unknown names are left as they are;
    a path that matched nothing yields null (or nothing, inside a string).
    """
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "<":
            match = _PLACEHOLDER.match(template, position)
            if match and match.group(1) in values:
                out.append(_placeholder_text(values[match.group(1)], in_string))
                position = match.end()
                continue
        if char == "\\" and in_string:
            out.append(template[position : position + 2])
            position += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        position += 1
    return "".join(out)


def _placeholder_text(value: Any, in_string: bool) -> str:
    if not in_string:
        return json.dumps(value)
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1]  # escaped for a JSON string, without its quotes
