"""What every handler shares: powertools' Logger, Tracer and Metrics, and AWS clients created once."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.config import Config

from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG, DesiredState, created_by_value, load_packaged

SERVICE = "fileferry-provisioner"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
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


aws = AwsClients()


def desired() -> DesiredState:
    return load_packaged()


def ownership_tags(state: DesiredState, execution_name: str) -> dict[str, str]:
    """The rollback ledger: every resource this run creates carries these."""
    return {MANAGED_BY_TAG: state.provisioner_name, CREATED_BY_TAG: created_by_value(execution_name)}


def bind_execution(execution_name: str | None, **keys: Any) -> None:
    """Put the execution name (and e.g. the table) on every log line of this invocation."""
    logger.append_keys(execution_name=execution_name, **keys)
    if execution_name:
        metrics.add_metadata(key="execution_name", value=execution_name)
