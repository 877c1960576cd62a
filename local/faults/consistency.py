"""Reads that lag writes, and IAM changes that take a while to reach other services.

AWS documents these reads as eventually consistent; the embedded AWS makes them lag by up to
``--consistency-lag SECONDS`` (default 0: every read sees the latest write, as moto does):

- DynamoDB DescribeTable: "If you issue a DescribeTable request immediately after a CreateTable
  request, DynamoDB might return a ResourceNotFoundException. This is because DescribeTable uses an
  eventually consistent query" (DynamoDB API reference, DescribeTable).
- DynamoDB ListTagsOfResource: the tags before the last TagResource/UntagResource, and an empty tag
  set right after CreateTable ("Tagging resources in DynamoDB": tags are eventually consistent;
  ListTagsOfResource may not yet show a change).
- IAM GetRole, GetRolePolicy, ListRolePolicies, ListAttachedRolePolicies: the role as it was before
  CreateRole, Put/DeleteRolePolicy, Attach/DetachRolePolicy, UpdateAssumeRolePolicy, UpdateRole,
  Tag/UntagRole ("Changes that I make are not always immediately visible", IAM User Guide,
  troubleshoot_general#troubleshoot_general_eventual-consistency).
- Step Functions DescribeExecution and ListExecutions: an execution that ended moments ago is
  still RUNNING, and ListExecutions does not list one started moments ago yet (both API references:
  "This operation is eventually consistent. The results are best effort and may not reflect very
  recent updates and changes."). GetExecutionHistory, which documents no such lag, never lags.

"May" is taken at its worst, and deterministically: inside the window every such read returns the
state from before the write, so a test sees each lagged read on its first try, and code that copes
with the worst case copes with AWS.  The window of a resource starts at its latest write, and a
read inside it answers with the state before the first write of the burst (writes less than the
lag apart): the oldest state AWS may still show.

Deploy time: for the same window after a role's trust policy (CreateRole, UpdateAssumeRolePolicy)
or its permissions (Put/DeleteRolePolicy, Attach/DetachRolePolicy) change, services that check the
role when it is handed to them refuse it with the errors AWS returns while IAM propagates (texts as
AWS returns them; Terraform's AWS provider and CloudFormation users report and retry the same):

- Lambda CreateFunction/UpdateFunctionConfiguration: InvalidParameterValueException "The role
  defined for the function cannot be assumed by Lambda." (trust), and with TracingConfig Active
  "The provided execution role does not have permissions to call PutTraceSegments on XRAY"
  (permissions).
- Step Functions CreateStateMachine/UpdateStateMachine: AccessDeniedException "Neither the global
  service principal states.amazonaws.com, nor the regional one is authorized to assume the provided
  role." (trust), and with logging configured "The state machine IAM Role is not authorized to
  access the Log Destination" (permissions).
- EventBridge Scheduler CreateSchedule/UpdateSchedule: ValidationException "The execution role you
  provide must allow AWS EventBridge Scheduler to assume the role." (trust).

Run time: for the same window after a role's permissions change (CreateRole, Put/DeleteRolePolicy,
Attach/DetachRolePolicy), requests signed with a session of that role are evaluated against the
identity policies the role had before the first change of the burst (none, for a role just
created): "changes that I make are not always immediately visible ... a change that grants or
revokes permissions may take time to take effect" (IAM User Guide, troubleshoot_general, "Changes
that I make are not always immediately visible").  `permissions_before` answers that for
`local/iam/enforcement.py`.

The window is measured on the emulator's clock, so a test ends it by moving the clock forward.  Each
write's window is as long as the lag in force when it was made: a longer lag set later lags only the
writes that follow (what was propagated stays propagated), and a shorter or zero one shortens every
open window at once.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode

from local.aws_calls import AwsCall, buffer_body
from local.clock import checked_seconds
from local.faults.injected import error_response

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's, for a key it does not know

MAX_CONSISTENCY_LAG_SECONDS = 3600
_PRUNE_ABOVE = 2000  # remembered writes before the ended windows are dropped

_Response = tuple[str, list[tuple[str, str]], bytes]  # WSGI status line, headers, body


def checked_consistency_lag(seconds: Any) -> float:
    """Seconds a read may lag a write: a finite number from 0 to MAX_CONSISTENCY_LAG_SECONDS."""
    return checked_seconds("consistency lag", seconds, MAX_CONSISTENCY_LAG_SECONDS)


# -- what is read, what is written ----------------------------------------------------------

# A read: (service, operation) -> the key of the resource it reads, from the request parameters;
# None: this request is not lagged (e.g. a later page of a paginated list).
_READ_KEYS: dict[tuple[str, str], Callable[[dict[str, Any]], tuple[str, ...] | None]] = {
    ("dynamodb", "DescribeTable"): lambda p: ("table", _table_name(p.get("TableName"))),
    ("dynamodb", "ListTagsOfResource"): lambda p: (
        None if p.get("NextToken") else ("table-tags", _table_name(p.get("ResourceArn")))
    ),
    ("iam", "GetRole"): lambda p: ("role", p.get("RoleName", "")),
    ("iam", "GetRolePolicy"): lambda p: ("role-policy", p.get("RoleName", ""), p.get("PolicyName", "")),
    ("iam", "ListRolePolicies"): lambda p: None if p.get("Marker") else ("role-policies", p.get("RoleName", "")),
    ("iam", "ListAttachedRolePolicies"): lambda p: (
        None if p.get("Marker") or p.get("PathPrefix") else ("role-attached", p.get("RoleName", ""))
    ),
}

# The read request that shows each key's state (to snapshot it just before a write).
_SNAPSHOT_READS: dict[str, tuple[str, str, Callable[[tuple[str, ...]], dict[str, str]]]] = {
    "table": ("dynamodb", "DescribeTable", lambda k: {"TableName": k[1]}),
    "role": ("iam", "GetRole", lambda k: {"RoleName": k[1]}),
    "role-policy": ("iam", "GetRolePolicy", lambda k: {"RoleName": k[1], "PolicyName": k[2]}),
    "role-policies": ("iam", "ListRolePolicies", lambda k: {"RoleName": k[1]}),
    "role-attached": ("iam", "ListAttachedRolePolicies", lambda k: {"RoleName": k[1]}),
}


def _role_keys(params: dict[str, Any], *kinds: str) -> list[tuple[str, ...]]:
    role = params.get("RoleName", "")
    keys = []
    for kind in kinds:
        if kind == "role-policy":
            keys.append(("role-policy", role, params.get("PolicyName", "")))
        else:
            keys.append((kind, role))
    return keys


# A write: (service, operation) -> the keys whose earlier state reads keep showing for the lag.
_WRITES: dict[tuple[str, str], Callable[[dict[str, Any]], list[tuple[str, ...]]]] = {
    ("dynamodb", "CreateTable"): lambda p: [("table", _table_name(p.get("TableName"))),
                                            ("table-tags", _table_name(p.get("TableName")))],
    ("dynamodb", "TagResource"): lambda p: [("table-tags", _table_name(p.get("ResourceArn")))],
    ("dynamodb", "UntagResource"): lambda p: [("table-tags", _table_name(p.get("ResourceArn")))],
    ("iam", "CreateRole"): lambda p: _role_keys(p, "role", "role-policies", "role-attached"),
    ("iam", "PutRolePolicy"): lambda p: _role_keys(p, "role-policy", "role-policies"),
    ("iam", "DeleteRolePolicy"): lambda p: _role_keys(p, "role-policy", "role-policies"),
    ("iam", "AttachRolePolicy"): lambda p: _role_keys(p, "role-attached"),
    ("iam", "DetachRolePolicy"): lambda p: _role_keys(p, "role-attached"),
    ("iam", "UpdateAssumeRolePolicy"): lambda p: _role_keys(p, "role"),
    ("iam", "UpdateRole"): lambda p: _role_keys(p, "role"),
    ("iam", "UpdateRoleDescription"): lambda p: _role_keys(p, "role"),
    ("iam", "TagRole"): lambda p: _role_keys(p, "role"),
    ("iam", "UntagRole"): lambda p: _role_keys(p, "role"),
}

# IAM changes that other services see late (see the module docstring).
_TRUST_CHANGES = {("iam", "CreateRole"), ("iam", "UpdateAssumeRolePolicy")}
_PERMISSION_CHANGES = {("iam", "PutRolePolicy"), ("iam", "DeleteRolePolicy"),
                       ("iam", "AttachRolePolicy"), ("iam", "DetachRolePolicy")}

_LAMBDA_ASSUME = "The role defined for the function cannot be assumed by Lambda."
_LAMBDA_XRAY = "The provided execution role does not have permissions to call PutTraceSegments on XRAY"
_STATES_ASSUME = ("Neither the global service principal states.amazonaws.com, nor the regional one "
                  "is authorized to assume the provided role.")
_STATES_LOGS = "The state machine IAM Role is not authorized to access the Log Destination"
_SCHEDULER_ASSUME = "The execution role you provide must allow AWS EventBridge Scheduler to assume the role."

# Writes after which a role's sessions are evaluated with its permissions from before them.
_EVALUATED_CHANGES = {("iam", "CreateRole"), *_PERMISSION_CHANGES}

_EXECUTION_READS = {("states", "DescribeExecution"), ("states", "ListExecutions")}
_JSON_TARGET_PREFIXES = {"dynamodb": "DynamoDB_20120810", "states": "AWSStepFunctions"}


def _table_name(name_or_arn: Any) -> str:
    text = str(name_or_arn or "")
    return text.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in text else text


def _role_name(role_arn: Any) -> str:
    return str(role_arn or "").rsplit("/", 1)[-1]  # arn:aws:iam::ACCOUNT:role/PATH/NAME


def _role_account(role_arn: Any) -> str:
    parts = str(role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else DEFAULT_ACCOUNT_ID


def _account(environ: dict[str, Any]) -> str:
    """The account a request acts in, as moto decides it from the access key (a 12-digit key is that account)."""
    from local.iam.accounts import account_of_key

    match = re.search(r"Credential=([^/,\s]+)/", environ.get("HTTP_AUTHORIZATION", "") or "")
    return account_of_key(match.group(1) if match else None)


def _role_documents(account: str, role_name: str) -> list[Any]:
    """The role's identity policies now; none for a role that does not exist (yet)."""
    import copy

    from moto.iam.models import iam_backends

    from local.iam.enforcement import identity_documents

    try:
        role = iam_backends[account]["aws"].get_role(role_name)
    except Exception:  # NoSuchEntity: nothing was granted before
        return []
    return copy.deepcopy(identity_documents(role))


def _region(environ: dict[str, Any]) -> str:
    match = re.search(r"Credential=[^/]*/[^/]*/([^/]*)/", environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else ""


def _params(call: AwsCall, environ: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters: the JSON body (JSON and REST-JSON) or the form (query)."""
    body = buffer_body(environ)
    if call.protocol == "query":
        form = parse_qs(body.decode("utf-8", errors="replace"))
        form.update(parse_qs(environ.get("QUERY_STRING", "")))
        return {name: values[0] for name, values in form.items()}
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class _Written(NamedTuple):
    """When a write was made, and the lag in force then."""

    at: float
    lag: float


@dataclass
class _Window:
    written_at: _Written
    before: _Response  # the read's answer just before the write


@dataclass
class _PermissionsWindow:
    written_at: _Written
    documents: list[Any]  # the role's identity policy documents just before the first write of the burst


class ConsistencyLag:
    """The lag windows of the resources written lately; thread-safe (one thread per request)."""

    def __init__(self, seconds: float = 0.0, now: Callable[[], float] = time.time):
        self.seconds = checked_consistency_lag(seconds)
        self._now = now
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, ...], _Window] = {}
        # Keyed by account too: one emulator holds many accounts, and a role of one name in each (a StackSet's).
        self._trust_changed: dict[tuple[str, str], _Written] = {}  # (account, role name) ->
        self._permissions_changed: dict[tuple[str, str], _Written] = {}
        self._executions_ended: dict[str, _Written] = {}
        self._executions_started: dict[str, _Written] = {}
        self._permissions_before: dict[tuple[str, str], _PermissionsWindow] = {}  # (account, role) ->

    def set_seconds(self, seconds: float) -> None:
        self.seconds = checked_consistency_lag(seconds)

    def forget(self) -> None:
        """Forget every write (the AWS state was reset)."""
        with self._lock:
            self._windows.clear()
            self._trust_changed.clear()
            self._permissions_changed.clear()
            self._executions_ended.clear()
            self._executions_started.clear()
            self._permissions_before.clear()

    def permissions_before(self, account: str, role_name: str) -> list[Any] | None:
        """The identity policies a session of the role is evaluated with while a change propagates;
        None when no change is propagating (evaluate the role as it is)."""
        with self._lock:
            window = self._permissions_before.get((account, role_name))
        if window is None or not self._inside(window.written_at):
            return None
        return list(window.documents)

    def execution_ended(self, execution_arn: str) -> None:
        """An execution reached a terminal status just now (called by the interpreter's hooks)."""
        with self._lock:
            self._executions_ended[execution_arn] = self._written()
            self._prune()

    def execution_started(self, execution_arn: str) -> None:
        """An execution started just now (every start: StartExecution, a rule's or a schedule's target)."""
        with self._lock:
            self._executions_started[execution_arn] = self._written()
            self._prune()

    def _prune(self) -> None:
        """Drop windows that have ended, now and then, so a long-running emulator does not grow."""
        if len(self._windows) + len(self._executions_ended) + len(self._executions_started) < _PRUNE_ABOVE:
            return
        self._windows = {k: w for k, w in self._windows.items() if self._inside(w.written_at)}
        self._permissions_before = {k: w for k, w in self._permissions_before.items() if self._inside(w.written_at)}
        for times in (self._executions_ended, self._executions_started, self._trust_changed, self._permissions_changed):
            for key in [k for k, at in times.items() if not self._inside(at)]:
                del times[key]

    def _written(self) -> _Written:
        return _Written(self._now(), self.seconds)

    def _inside(self, written: _Written | None) -> bool:
        return written is not None and self._now() - written.at < min(written.lag, self.seconds)

    # -- the request path ---------------------------------------------------------------------

    def serve(self, call: AwsCall, environ: dict[str, Any], start_response: Callable[..., Any],
              moto_app: Callable[..., Any]) -> list[bytes]:
        """Answer one AWS request: lagged, refused while IAM propagates, or by moto (recording writes)."""
        if self.seconds <= 0:
            return list(moto_app(environ, start_response))
        name = (call.service, call.operation)
        if name not in _READ_KEYS and name not in _WRITES and name not in _EXECUTION_READS \
                and name not in _PROPAGATION_CHECKS:
            return list(moto_app(environ, start_response))
        params = _params(call, environ)
        account = _account(environ)
        region = "" if call.service == "iam" else _region(environ)

        refusal = self._propagation_refusal(call, params)
        if refusal is not None:
            return _reply(start_response, _error(call, *refusal))
        if name in _EXECUTION_READS:
            return _reply(start_response, self._execution_read(call, params, environ, moto_app))
        if name in _READ_KEYS:
            key = _READ_KEYS[name](params)
            with self._lock:
                window = self._windows.get((account, region, *key)) if key else None
            if window is not None and self._inside(window.written_at):
                status, headers, body = window.before
                return _reply(start_response, (status, _fresh_request_id(headers), body))
            return list(moto_app(environ, start_response))

        if name not in _WRITES:
            return list(moto_app(environ, start_response))
        # A write: snapshot what its reads show now, let moto write, keep the snapshots if it did.
        keys = [(account, region, *key) for key in _WRITES[name](params)]
        with self._lock:
            open_windows = {key: self._windows[key] for key in keys
                            if key in self._windows and self._inside(self._windows[key].written_at)}
        before = {key: open_windows[key].before if key in open_windows
                  else self._snapshot(call, key[2:], environ, moto_app) for key in keys}
        permissions_key = (account, params.get("RoleName", "")) if name in _EVALUATED_CHANGES else None
        if permissions_key is not None:
            with self._lock:
                open_permissions = self._permissions_before.get(permissions_key)
            if open_permissions is not None and self._inside(open_permissions.written_at):
                permissions = open_permissions.documents
            else:
                permissions = _role_documents(*permissions_key)
        # While moto writes, reads of these keys already answer with the state from before: the window opens
        # before the write lands, so no read sees the new state and then, once the window is recorded, the old.
        provisional = {key: _Window(self._written(), snapshot) for key, snapshot in before.items()}
        with self._lock:
            replaced = {key: self._windows.get(key) for key in keys}
            self._windows.update(provisional)
        status, headers, body = _call(moto_app, environ)
        if not status.startswith("2"):
            with self._lock:  # nothing was written: put back what was there, unless another write has since
                for key, window in provisional.items():
                    if self._windows.get(key) is window:
                        if replaced[key] is None:
                            del self._windows[key]
                        else:
                            self._windows[key] = replaced[key]
        else:
            written_at = self._written()
            with self._lock:
                for key, snapshot in before.items():
                    self._windows[key] = _Window(written_at, snapshot)
                if permissions_key is not None:
                    self._permissions_before[permissions_key] = _PermissionsWindow(written_at, permissions)
                role = (account, params.get("RoleName", ""))
                if name in _TRUST_CHANGES:
                    self._trust_changed[role] = written_at
                if name in _TRUST_CHANGES or name in _PERMISSION_CHANGES:
                    self._permissions_changed[role] = written_at
                self._prune()
        return _reply(start_response, (status, headers, body))

    def _snapshot(self, call: AwsCall, key: tuple[str, ...], environ: dict[str, Any],
                  moto_app: Callable[..., Any]) -> _Response:
        if key[0] == "table-tags":
            if call.operation == "CreateTable":  # a table that does not exist yet has no tags
                return _json_response({"Tags": []})
            arn = _params(call, environ).get("ResourceArn", "")
            return _call(moto_app, _read_environ(environ, "dynamodb", "ListTagsOfResource", {"ResourceArn": arn}))
        service, operation, params_of = _SNAPSHOT_READS[key[0]]
        return _call(moto_app, _read_environ(environ, service, operation, params_of(key)))

    # -- executions that ended moments ago ------------------------------------------------------

    def _execution_read(self, call: AwsCall, params: dict[str, Any], environ: dict[str, Any],
                        moto_app: Callable[..., Any]) -> _Response:
        status_filter = params.get("statusFilter") if call.operation == "ListExecutions" else None
        if status_filter:
            # Filter here, on the status as the lagged read shows it.
            unfiltered = {k: v for k, v in params.items() if k != "statusFilter"}
            environ = _read_environ(environ, "states", "ListExecutions", unfiltered)
        status, headers, body = _call(moto_app, environ)
        if not status.startswith("2"):
            return status, headers, body
        answer = json.loads(body)
        if call.operation == "DescribeExecution":
            self._as_still_running(answer)
        else:
            with self._lock:
                started = dict(self._executions_started)
            answer["executions"] = [e for e in answer.get("executions", [])
                                    if not self._inside(started.get(e.get("executionArn", "")))]
            for execution in answer["executions"]:
                self._as_still_running(execution)
            if status_filter:
                answer["executions"] = [e for e in answer.get("executions", [])
                                        if e.get("status") == status_filter]
        return status, _without_length(headers), json.dumps(answer).encode("utf-8")

    def _as_still_running(self, execution: dict[str, Any]) -> None:
        if execution.get("status") == "RUNNING":
            return
        with self._lock:
            ended = self._executions_ended.get(execution.get("executionArn", ""))
        if self._inside(ended):
            execution["status"] = "RUNNING"
            for field in ("stopDate", "output", "outputDetails", "error", "cause"):
                execution.pop(field, None)

    # -- IAM propagation at deploy time -------------------------------------------------------

    def role_permissions_changed(self, account: str, role_name: str) -> None:
        """A role's permissions changed just now by other means than a request (a CloudFormation stack's
        AWS::IAM::Role with inline `Policies`): for the window, services refuse what they need of them."""
        with self._lock:
            self._permissions_changed[(account, role_name)] = self._written()

    def role_propagated(self, account: str, role_name: str) -> None:
        """Every change to the role has reached the other services (CloudFormation waited for it)."""
        with self._lock:
            self._trust_changed.pop((account, role_name), None)
            self._permissions_changed.pop((account, role_name), None)

    def propagation_refusal(self, service: str, operation: str, params: dict[str, Any]) -> tuple[str, str] | None:
        """The (code, message) AWS answers `operation` with while the role it is handed propagates, if any;
        `params` in the API's shape (roleArn and loggingConfiguration for CreateStateMachine, ...)."""
        return self._refusal(service, operation, params)

    def _propagation_refusal(self, call: AwsCall, params: dict[str, Any]) -> tuple[str, str] | None:
        return self._refusal(call.service, call.operation, params)

    def _refusal(self, service: str, operation: str, params: dict[str, Any]) -> tuple[str, str] | None:
        check = _PROPAGATION_CHECKS.get((service, operation))
        if check is None:
            return None
        role_arn, assume_error, permission_error = check(params)
        if not role_arn:
            return None
        role = (_role_account(role_arn), _role_name(role_arn))
        with self._lock:
            trust_changed = self._trust_changed.get(role)
            permissions_changed = self._permissions_changed.get(role)
        if self._inside(trust_changed):
            return assume_error
        if permission_error is not None and self._inside(permissions_changed):
            return permission_error
        return None


def _lambda_check(p: dict[str, Any]) -> tuple[Any, tuple[str, str], tuple[str, str] | None]:
    traced = (p.get("TracingConfig") or {}).get("Mode") == "Active"
    return (p.get("Role"), ("InvalidParameterValueException", _LAMBDA_ASSUME),
            ("InvalidParameterValueException", _LAMBDA_XRAY) if traced else None)


def _states_check(p: dict[str, Any]) -> tuple[Any, tuple[str, str], tuple[str, str] | None]:
    logging = p.get("loggingConfiguration") or {}
    logs = bool(logging.get("destinations")) and logging.get("level", "OFF") != "OFF"
    return (p.get("roleArn"), ("AccessDeniedException", _STATES_ASSUME),
            ("AccessDeniedException", _STATES_LOGS) if logs else None)


def _scheduler_check(p: dict[str, Any]) -> tuple[Any, tuple[str, str], tuple[str, str] | None]:
    return (p.get("Target") or {}).get("RoleArn"), ("ValidationException", _SCHEDULER_ASSUME), None


_PROPAGATION_CHECKS = {
    ("lambda", "CreateFunction"): _lambda_check,
    ("lambda", "UpdateFunctionConfiguration"): _lambda_check,
    ("states", "CreateStateMachine"): _states_check,
    ("states", "UpdateStateMachine"): _states_check,
    ("scheduler", "CreateSchedule"): _scheduler_check,
    ("scheduler", "UpdateSchedule"): _scheduler_check,
}


# -- WSGI plumbing ------------------------------------------------------------------------------


def _call(moto_app: Callable[..., Any], environ: dict[str, Any]) -> _Response:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, list(headers)

    body = b"".join(moto_app(environ, start_response))
    return answer["status"], answer["headers"], body


def _reply(start_response: Callable[..., Any], response: _Response) -> list[bytes]:
    status, headers, body = response
    headers = [*_without_length(headers), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


def _without_length(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != "content-length"]


def _fresh_request_id(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, str(uuid.uuid4()) if k.lower() == "x-amzn-requestid" else v) for k, v in headers]


def _json_response(payload: Any) -> _Response:
    return ("200 OK", [("Content-Type", "application/x-amz-json-1.0"),
                       ("x-amzn-RequestId", str(uuid.uuid4()))], json.dumps(payload).encode("utf-8"))


def _error(call: AwsCall, code: str, message: str) -> _Response:
    # All three services answer these with HTTP 400, AccessDeniedException included (as reported
    # by CloudFormation: "Service: AWSStepFunctions; Status Code: 400; Error Code: AccessDeniedException").
    status, headers, body = error_response(call.protocol, call.service, call.operation, code,
                                           message=message, status=400)
    return f"{status} {HTTPStatus(status).phrase}", headers, body


def _read_environ(environ: dict[str, Any], service: str, operation: str,
                  params: dict[str, Any]) -> dict[str, Any]:
    """A copy of `environ` that asks moto for `operation` instead (same caller, same signature scope)."""
    read = {k: v for k, v in environ.items()
            if k not in ("HTTP_X_AMZ_TARGET", "HTTP_CONTENT_ENCODING", "CONTENT_TYPE", "CONTENT_LENGTH")}
    if service == "iam":
        body = urlencode({"Action": operation, "Version": "2010-05-08", **params}).encode("utf-8")
        read["CONTENT_TYPE"] = "application/x-www-form-urlencoded; charset=utf-8"
    else:
        body = json.dumps(params).encode("utf-8")
        read["CONTENT_TYPE"] = "application/x-amz-json-1.0"
        read["HTTP_X_AMZ_TARGET"] = f"{_JSON_TARGET_PREFIXES[service]}.{operation}"
    read.update({"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "",
                 "CONTENT_LENGTH": str(len(body))})
    read["wsgi.input"] = io.BytesIO(body)
    return read
