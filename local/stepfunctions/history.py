"""GetExecutionHistory's pages, order and data flag, as AWS documents them.

AWS (Step Functions API reference, GetExecutionHistory; botocore's states model): events come in
ascending order of their timeStamp, or latest first with ``reverseOrder``; at most ``maxResults``
per call (default 100, maximum 1000, 0 means the default) and a ``nextToken`` while more remain
("Keep all other arguments unchanged"); a token the service did not issue for this request is an
HTTP 400 ``InvalidToken``; ``includeExecutionData=false`` leaves out each event's input and output.
moto's server answers every call with the whole history in one page and ignores all four, which
hides a caller that re-reads everything (or reads only the first 100 events) on AWS.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import InvalidToken, ValidationException
from moto.stepfunctions.responses import StepFunctionResponse

from local import patching

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def _token(execution_arn: str, reverse: bool, last_id: int) -> str:
    raw = json.dumps({"arn": execution_arn, "reverse": reverse, "after": last_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _position(token: str, execution_arn: str, reverse: bool) -> int:
    """The id of the last event the token's page returned; InvalidToken if it is not this request's."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if decoded["arn"] == execution_arn and decoded["reverse"] is reverse and isinstance(decoded["after"], int):
            return decoded["after"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        pass
    raise InvalidToken("the token was not issued for this execution and order")


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            details.pop("input", None)
            details.pop("output", None)
    return event


def history_page(
    events: list[dict[str, Any]],
    execution_arn: str,
    max_results: int | None = None,
    reverse_order: bool = False,
    next_token: str | None = None,
    include_execution_data: bool = True,
) -> dict[str, Any]:
    """One page of an execution's history, as GetExecutionHistory returns it."""
    if max_results is not None and not 0 <= max_results <= MAX_PAGE:
        raise ValidationException(f"1 validation error detected: Value '{max_results}' at 'maxResults' "
                                  f"failed to satisfy constraint: Member must have value less than or equal to {MAX_PAGE}")
    size = max_results or DEFAULT_PAGE
    ordered = sorted(events, key=lambda event: event["id"], reverse=reverse_order)
    if next_token:
        after = _position(next_token, execution_arn, reverse_order)
        ordered = [e for e in ordered if (e["id"] < after if reverse_order else e["id"] > after)]
    page = ordered[:size]
    result: dict[str, Any] = {"events": page if include_execution_data else [_without_data(e) for e in page]}
    if len(ordered) > size:
        result["nextToken"] = _token(execution_arn, reverse_order, page[-1]["id"])
    return result


def install() -> None:
    patching.wrap(StepFunctionResponse, "get_execution_history", _get_execution_history)


def _get_execution_history(previous: Any, response: StepFunctionResponse) -> Any:
    """moto's GetExecutionHistory, paged and ordered as AWS pages and orders it."""
    if not patching.in_emulator_request():
        return previous(response)
    execution_arn = response._get_param("executionArn")
    events = response.stepfunction_backend.get_execution_history(execution_arn)["events"]
    include = response._get_param("includeExecutionData")
    return ActionResult(
        history_page(
            list(events),
            execution_arn,
            max_results=response._get_param("maxResults"),
            reverse_order=bool(response._get_param("reverseOrder")),
            next_token=response._get_param("nextToken"),
            include_execution_data=include is not False,
        )
    )
