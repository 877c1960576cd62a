"""Recognise which AWS API call an HTTP request is, from the request alone.

Fault injection and the API-call counts need "service:Operation" before moto sees the request:
- the service is the SigV4 signing name in the Authorization header's credential scope;
- awsJson services (DynamoDB, Step Functions, EventBridge, CloudWatch, Logs) name the operation in
  the X-Amz-Target header;
- awsQuery services (IAM, STS, SNS) send it as the Action parameter;
- REST services (Lambda, Scheduler, S3) encode it in method + path, matched against botocore's own
  service model so every operation is recognised without a hand-written table.
"""

from __future__ import annotations

import functools
import gzip
import io
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import botocore.session

from local.faults.injected import canonical_service

# Emulator service names (see faults.SERVICE_ALIASES) -> botocore service model names.
_BOTOCORE_NAMES = {"states": "stepfunctions", "cloudwatch": "cloudwatch"}

# For unsigned JSON requests: the X-Amz-Target prefix names the service.
_TARGET_PREFIXES = {
    "DynamoDB_": "dynamodb",
    "DynamoDBStreams_": "dynamodb",
    "AWSStepFunctions": "states",
    "AWSEvents": "events",
    "GraniteServiceVersion": "cloudwatch",
    "Logs_": "logs",
}

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]*)/aws4_request")


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    protocol: str  # "json" | "query" | "rest-json" | "rest-xml"
    user_agent: str

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


def identify_call(environ: dict[str, Any]) -> AwsCall:
    """Identify the call; unknown parts read "unknown". May buffer the request body (see below)."""
    user_agent = environ.get("HTTP_USER_AGENT", "")
    service = _service_from_signature(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        if service is None:
            service = next(
                (svc for prefix, svc in _TARGET_PREFIXES.items() if target.startswith(prefix)),
                "unknown",
            )
        return AwsCall(service, target.rsplit(".", 1)[-1], "json", user_agent)

    service = service or "unknown"
    action = _query_action(environ)
    if action:
        return AwsCall(service, action, "query", user_agent)

    rest = _rest_operation(service, environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"),
                           environ.get("QUERY_STRING", ""), environ)
    if rest is not None:
        operation, protocol = rest
        return AwsCall(service, operation, protocol, user_agent)
    return AwsCall(service, "unknown", "json", user_agent)


def _service_from_signature(environ: dict[str, Any]) -> str | None:
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return canonical_service(match.group(1)) if match else None


def _query_action(environ: dict[str, Any]) -> str | None:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    content_type = environ.get("CONTENT_TYPE", "")
    if environ["REQUEST_METHOD"] != "POST" or "x-www-form-urlencoded" not in content_type:
        return None
    body = buffer_body(environ)
    if environ.get("HTTP_CONTENT_ENCODING", "") == "gzip":  # botocore compresses big PutMetricData
        body = gzip.decompress(body)
    form = parse_qs(body.decode("utf-8", errors="replace"))
    return form["Action"][0] if "Action" in form else None


def buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the body and put it back, so moto still reads it after us."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


@dataclass(frozen=True)
class _RestRoute:
    method: str
    path: re.Pattern[str]
    query_keys: frozenset[str]
    literal_length: int  # more literal characters = more specific route
    operation: str
    # Headers the operation requires (S3 CopyObject's x-amz-copy-source): what tells it from PutObject,
    # which has the same method and path.
    required_headers: frozenset[str] = frozenset()


_routes_lock = threading.Lock()


@functools.cache
def _rest_routes(service: str) -> tuple[str, list[_RestRoute]] | None:
    with _routes_lock:  # botocore's loader is not meant for concurrent first loads
        try:
            model = botocore.session.get_session().get_service_model(
                _BOTOCORE_NAMES.get(service, service)
            )
        except Exception:  # an unknown service: nothing to match against
            return None
    if model.protocol not in ("rest-json", "rest-xml"):
        return None
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        pattern, literal_length = "", 0
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                pattern += ".+" if piece.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(piece)
                literal_length += len(piece)
        query_keys = frozenset(k.split("=")[0] for k in query.split("&") if k)
        shape = model.operation_model(name).input_shape
        required_headers = frozenset(
            "HTTP_" + shape.members[member].serialization.get("name", member).upper().replace("-", "_")
            for member in (shape.required_members if shape is not None else ())
            if shape.members[member].serialization.get("location") == "header"
        )
        routes.append(
            _RestRoute(
                method=http["method"],
                path=re.compile(f"^{pattern.rstrip('/')}/?$"),
                query_keys=query_keys,
                literal_length=literal_length + len(query_keys) + len(required_headers),
                operation=name,
                required_headers=required_headers,
            )
        )
    routes.sort(key=lambda route: route.literal_length, reverse=True)
    return model.protocol, routes


def _rest_operation(
    service: str, method: str, path: str, query_string: str, environ: dict[str, Any] | None = None
) -> tuple[str, str] | None:
    found = _rest_routes(service)
    if found is None:
        return None
    protocol, routes = found
    query_keys = set(parse_qs(query_string, keep_blank_values=True))
    headers = set(environ or ())
    for route in routes:
        if route.method == method and route.query_keys <= query_keys and route.required_headers <= headers \
                and route.path.match(path):
            return route.operation, protocol
    return None
