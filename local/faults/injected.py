"""Fault injection: make chosen AWS calls fail the way the real service fails them.

A fault spec is ``SERVICE:Operation=ErrorCode[*COUNT]``, e.g.
``dynamodb:CreateTable=ThrottlingException*3`` (the next three CreateTable calls fail) or
``iam:CreateRole=AccessDenied`` (every CreateRole call fails).  Faults apply to the calls the
deployed Lambda handlers make (recognised by their User-Agent), so a test's or the deployer's own
calls are never hit, except ``lambda:Invoke``: the Step Functions interpreter is the caller that
matters there, so it applies to every invocation; and ``events:PutTargets``, which only the deployer
calls.

EventBridge's PutTargets does not fail as a whole when a target cannot be attached: it answers HTTP 200
with ``FailedEntryCount`` and one ``FailedEntries`` item (TargetId, ErrorCode, ErrorMessage) per refused
target ("This action can partially fail if too many requests are made at the same time", PutTargets API
reference).  A fault on it is answered that way, for every target in the request.
"""

from __future__ import annotations

import html
import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

# botocore appends `app/<AWS_SDK_UA_APP_ID>` to the User-Agent; the Lambda runner sets this id.
HANDLER_USER_AGENT_APP_ID = "fileferry-lambda-runner"
_HANDLER_USER_AGENT_MARK = f"app/{HANDLER_USER_AGENT_APP_ID}"

_SPEC_PATTERN = re.compile(
    r"(?P<service>[a-z0-9-]+):(?P<operation>[A-Za-z0-9]+)=(?P<code>[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)?)(?:\*(?P<count>[1-9][0-9]*))?"
)

# Service names as a spec may spell them -> the name the emulator uses (the SigV4 signing name,
# except CloudWatch, which everybody calls cloudwatch rather than "monitoring").
SERVICE_ALIASES = {
    "stepfunctions": "states",
    "sfn": "states",
    "monitoring": "cloudwatch",
    "eventbridge": "events",
    "awslambda": "lambda",
}

# Operations whose injected faults hit every caller, not only the handlers (see module docstring).
_ALL_CALLERS_OPERATIONS = {("lambda", "Invoke"), ("events", "PutTargets")}
# Operations that report refusals per entry in a successful answer (see the module docstring).
_PARTIAL_FAILURE_OPERATIONS = {("events", "PutTargets"): "Targets"}


def canonical_service(name: str) -> str:
    name = name.lower()
    return SERVICE_ALIASES.get(name, name)


@dataclass
class Fault:
    service: str
    operation: str
    error_code: str
    remaining: int | None  # None: every matching call fails
    spec: str

    @classmethod
    def parse(cls, spec: str) -> Fault:
        match = _SPEC_PATTERN.fullmatch(spec.strip())
        if match is None:
            raise ValueError(
                f"bad fault spec {spec!r}: expected SERVICE:Operation=ErrorCode[*COUNT], "
                "e.g. dynamodb:CreateTable=ThrottlingException*3"
            )
        count = match["count"]
        service = canonical_service(match["service"])
        if "." in match["code"] and ((service, match["operation"]) != ("lambda", "Invoke") or match["code"] not in FUNCTION_ERRORS):
            raise ValueError(f"bad fault spec {spec!r}: a function error ({', '.join(FUNCTION_ERRORS)}) "
                             "is a fault of lambda:Invoke only")
        return cls(
            service=service,
            operation=match["operation"],
            error_code=match["code"],
            remaining=int(count) if count else None,
            spec=spec.strip(),
        )


def parse_fault_specs(specs: Iterable[str] | str) -> list[Fault]:
    """Parse specs; a single string may hold several, comma-separated (as in FILEFERRY_FAULTS)."""
    if isinstance(specs, str):
        specs = specs.split(",")
    return [Fault.parse(spec) for spec in specs if spec.strip()]


class FaultPlan:
    """The active faults; thread-safe because every request runs on its own server thread."""

    def __init__(self, specs: Iterable[str] | str = ()):
        self._lock = threading.Lock()
        self._faults = parse_fault_specs(specs)

    def replace(self, specs: Iterable[str] | str) -> None:
        faults = parse_fault_specs(specs)  # parse first: a bad spec leaves the plan unchanged
        with self._lock:
            self._faults = faults

    def describe(self) -> list[dict]:
        with self._lock:
            return [
                {"spec": f.spec, "remaining": f.remaining} for f in self._faults
            ]

    def take(self, service: str, operation: str, user_agent: str) -> str | None:
        """The error code this call must fail with, consuming one count; None lets it through."""
        applies_to_caller = (
            _HANDLER_USER_AGENT_MARK in user_agent
            or (service, operation) in _ALL_CALLERS_OPERATIONS
        )
        if not applies_to_caller:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.service != service or fault.operation != operation:
                    continue
                if fault.remaining is None:
                    return fault.error_code
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault.error_code
        return None


def _status_for(error_code: str) -> int:
    """HTTP status AWS uses for an error code (botocore keys on the code; retries key on both)."""
    if error_code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return 403
    if error_code == "TooManyRequestsException":
        return 429
    if error_code in {"EntityAlreadyExists", "LimitExceeded"}:  # IAM
        return 409
    if error_code == "NoSuchEntity":  # IAM
        return 404
    if error_code in {"ServiceUnavailable", "ServiceUnavailableException"}:
        return 503
    if error_code in {
        "ServiceException",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "InternalServerException",
        "ServiceFailure",  # IAM (API reference, Common Errors / ServiceFailureException: HTTP 500)
        "InternalServiceError",  # CloudWatch (botocore model: InternalServiceFault, HTTP 500)
    }:
        return 500
    return 400


# What a function's invocation can end in without Lambda failing the call: Lambda answers HTTP 200 with
# X-Amz-Function-Error: Unhandled and the error as the payload (Lambda API reference, Invoke; the
# runtime's own error types: a function that ran past its timeout is Sandbox.Timedout). A fault
# `lambda:Invoke=Sandbox.Timedout` is answered that way, as local/awslambda/runner.py answers a real timeout.
FUNCTION_ERRORS = {
    "Sandbox.Timedout": "Task timed out after {timeout} seconds",
    "Runtime.ExitError": "Runtime exited without providing a reason",
}


def function_error_response(error_code: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Lambda's answer to an Invoke whose function failed with `error_code` (an injected fault)."""
    message = FUNCTION_ERRORS[error_code].format(timeout="3.00")
    body = json.dumps({"errorType": error_code, "errorMessage": f"RequestId: {uuid.uuid4()} Error: {message}"}).encode()
    return 200, [("x-amzn-RequestId", str(uuid.uuid4())), ("X-Amz-Function-Error", "Unhandled"),
                 ("Content-Type", "application/json")], body


def error_response(
    protocol: str, service: str, operation: str, error_code: str, request_body: bytes = b"",
    message: str | None = None, status: int | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """A well-formed AWS error response for the request's wire protocol: (status, headers, body).

    Without a message it is an injected fault's; without a status, the one AWS uses for the code.
    A function error on lambda:Invoke (FUNCTION_ERRORS) is Lambda's 200 answer with the function's error.
    """
    if (service, operation) == ("lambda", "Invoke") and error_code in FUNCTION_ERRORS and message is None:
        return function_error_response(error_code)
    status = status or _status_for(error_code)
    request_id = str(uuid.uuid4())
    injected = message is None
    if message is None:
        message = f"Injected fault {error_code} for {service}:{operation} (fileferry emulator)"
    message = html.escape(message, quote=False) if protocol in ("query", "rest-xml") else message
    headers = [("x-amzn-RequestId", request_id)]
    entries_key = _PARTIAL_FAILURE_OPERATIONS.get((service, operation))
    if entries_key is not None and injected:
        return _partial_failure(entries_key, error_code, message, request_body, headers)
    if protocol == "query":
        # IAM, STS, SNS...: the awsQuery error document.
        fault_type = "Receiver" if status >= 500 else "Sender"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{fault_type}</Type><Code>{error_code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "rest-xml":
        body = (
            f"<Error><Code>{error_code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        headers.append(("Content-Type", "application/xml"))
    else:
        # awsJson1.0/1.1 (DynamoDB, Step Functions, EventBridge, CloudWatch) and restJson1 (Lambda,
        # Scheduler): botocore reads `__type` (after any '#') and, for REST, x-amzn-ErrorType.
        body = json.dumps({"__type": error_code, "message": message})
        headers.append(("Content-Type", "application/x-amz-json-1.0"))
        headers.append(("x-amzn-ErrorType", error_code))
    return status, headers, body.encode("utf-8")


def _partial_failure(
    entries_key: str, error_code: str, message: str, request_body: bytes, headers: list[tuple[str, str]]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """HTTP 200 with every entry of the request refused, as EventBridge reports a partial failure."""
    try:
        entries = json.loads(request_body or b"{}").get(entries_key, [])
    except (ValueError, AttributeError):
        entries = []
    failed = [{"TargetId": entry.get("Id", ""), "ErrorCode": error_code, "ErrorMessage": message} for entry in entries]
    body = json.dumps({"FailedEntryCount": len(failed), "FailedEntries": failed})
    headers.append(("Content-Type", "application/x-amz-json-1.1"))
    return 200, headers, body.encode("utf-8")
