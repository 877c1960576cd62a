"""Shared fixtures for the moto-backed tests: an in-process AWS, clients, the desired state.

Fixtures build on each other:
    aws -> dynamodb / iam -> desired -> tags -> existing_table / provisioned
Every fixture that touches AWS runs inside the one `mock_aws` context opened by `aws`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from fileferry_aws import create_raw_table, ownership, put_items
from moto import mock_aws

import lambdas.handlers
from lambdas.core import runtime
from lambdas.core.desired import DesiredState, load_packaged
from lambdas.core.role import ensure_role
from lambdas.core.tables import create_or_adopt_table, ensure_point_in_time_recovery, ensure_ttl
from provisioner.config import load_settings
from provisioner.blueprint.desired_state import desired_state

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO_ROOT / "config" / "config.yaml"
REGION = "us-east-1"
HANDLER_MODULES = [
    importlib.import_module(f"lambdas.handlers.{module.name}") for module in pkgutil.iter_modules(lambdas.handlers.__path__)
]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """An in-process AWS (moto) with fake credentials; nothing can reach a real account."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_IAM", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name=REGION)


@pytest.fixture
def desired() -> DesiredState:
    """The desired state the shipped config/config.yaml resolves to."""
    return desired_state(load_settings(SHIPPED_CONFIG))


@pytest.fixture
def tags(desired: DesiredState) -> dict[str, str]:
    """Ownership tags of execution "exec-1"."""
    return ownership(desired, "exec-1")


@pytest.fixture
def existing_table(dynamodb: Any, desired: DesiredState) -> Callable[..., list[dict[str, Any]]]:
    """Factory: a pre-existing table (created directly with boto3, untagged) holding `items` items."""

    def make(name: str, items: int = 3, **overrides: Any) -> list[dict[str, Any]]:
        spec = desired.table(name)
        create_raw_table(dynamodb, spec, **overrides)
        return put_items(dynamodb, spec, items)

    return make


@pytest.fixture
def provisioned(dynamodb: Any, iam: Any, desired: DesiredState, tags: dict[str, str]) -> dict[str, Any]:
    """Everything the spec asks for, provisioned by execution "exec-1" with the core functions."""
    outcomes = []
    for spec in desired.tables:
        outcomes.append(create_or_adopt_table(dynamodb, spec, tags).as_dict())
        ensure_ttl(dynamodb, spec)
        ensure_point_in_time_recovery(dynamodb, spec)
    role = ensure_role(iam, desired.role, tags).as_dict()
    return {"tables": outcomes, "role": role}


@dataclass
class FakeLambdaContext:
    """What powertools reads from the Lambda context object."""

    function_name: str = "fileferry-provisioner-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:fileferry-provisioner-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def packaged(
    aws: None, desired: DesiredState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[runtime.AwsClients]:
    """The desired state shipped as the package's JSON, the deployed environment, fresh boto3 clients inside moto."""
    path = tmp_path / "desired_state.json"
    path.write_text(desired.to_json(), encoding="utf-8")
    monkeypatch.setenv("FILEFERRY_DESIRED_STATE", str(path))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", runtime.SERVICE)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", desired.metrics_namespace)
    load_packaged.cache_clear()
    clients = runtime.AwsClients()
    monkeypatch.setattr(runtime, "aws", clients)
    for module in HANDLER_MODULES:  # each handler module imported the clients by name
        monkeypatch.setattr(module, "aws", clients)
    yield clients
    load_packaged.cache_clear()
