"""What every handler shares: powertools' Logger, Tracer and Metrics, and AWS clients created once."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config

from lambdas.core.target import Target, for_target
from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG, DesiredState, created_by_value, load_packaged

SERVICE = "fileferry-provisioner"
# The AWS calls are what a trace of a step should show; the X-Ray SDK's other patches (httplib,
# sqlite3, requests, ...) only cost init time here.
TRACED_LIBRARIES = ("botocore",)


def tracing_enabled() -> bool:
    """As powertools' Tracer decides: on inside Lambda unless POWERTOOLS_TRACE_DISABLED is true, off
    outside Lambda and under SAM or Chalice local (powertools docs, Tracer: environment variables)."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "y", "yes", "t", "true", "on"):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not (
        os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE")
    )


class UntracedHandlers:
    """Takes the Tracer's place while tracing is off, so the X-Ray SDK (about a tenth of a step's
    init) is never imported: its handler decorator returns the handler as it is."""

    @staticmethod
    def capture_lambda_handler(handler: Callable[..., Any] | None = None, **_options: Any) -> Any:
        return handler if handler is not None else (lambda actual: actual)


def _tracer() -> Any:
    if not tracing_enabled():
        return UntracedHandlers()
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=TRACED_LIBRARIES)


logger = Logger(service=SERVICE)
tracer = _tracer()
metrics = Metrics(service=SERVICE, namespace="FileFerry")

# Retries of throttled calls belong to the state machine (with backoff and jitter), not here.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=20)


class AwsClients:
    """boto3 clients, created on first use and reused by warm invocations."""

    @cached_property
    def dynamodb(self) -> Any:
        return boto3.client("dynamodb", config=_CLIENT_CONFIG)

    @cached_property
    def iam(self) -> Any:
        return boto3.client("iam", config=_CLIENT_CONFIG)

    @cached_property
    def stepfunctions(self) -> Any:
        return boto3.client("stepfunctions", config=_CLIENT_CONFIG)

    @cached_property
    def cloudwatch(self) -> Any:
        return boto3.client("cloudwatch", config=_CLIENT_CONFIG)

    @cached_property
    def kms(self) -> Any:
        return boto3.client("kms", config=_CLIENT_CONFIG)

    @cached_property
    def sts(self) -> Any:
        return boto3.client("sts", config=_CLIENT_CONFIG)

    @staticmethod
    def session_dynamodb(credentials: dict[str, str]) -> Any:
        """A DynamoDB client signed with another role's session (the access check's)."""
        return boto3.client("dynamodb", config=_CLIENT_CONFIG, **credentials)


aws = AwsClients()


def desired() -> DesiredState:
    """The package's desired state, for the account, Region and settings of the target the function runs for."""
    packaged, target = load_packaged(), Target.from_environment()
    if target is None:
        return packaged
    global _resolved
    if _resolved is None or _resolved[0] is not packaged or _resolved[1] != target:
        _resolved = (packaged, target, for_target(packaged, target))  # once per warm function
    return _resolved[2]


_resolved: tuple[DesiredState, Target, DesiredState] | None = None


def ownership_tags(state: DesiredState, execution_name: str) -> dict[str, str]:
    """The rollback ledger: every resource this run creates carries these."""
    return {MANAGED_BY_TAG: state.provisioner_name, CREATED_BY_TAG: created_by_value(execution_name)}


def bind_execution(execution_name: str | None, **keys: Any) -> None:
    """Put the execution name (and e.g. the table) on every log line of this invocation."""
    logger.append_keys(execution_name=execution_name, **keys)
    if execution_name:
        metrics.add_metadata(key="execution_name", value=execution_name)
