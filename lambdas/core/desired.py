"""Desired state: what the spec says should exist, as typed, JSON-serialisable data.

Deploy resolves `config/config.yaml` into a `DesiredState` and ships it inside the Lambda
package as `desired_state.json`; every handler reads the same file, so the functions and
`deploy.py plan` judge "correct" against one document.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DESIRED_STATE_FILE = "desired_state.json"
MANAGED_BY_TAG = "fileferry:managed-by"
CREATED_BY_TAG = "fileferry:created-by"


def created_by_value(execution_name: str) -> str:
    """The `fileferry:created-by` tag value for an execution: its name, made acceptable to DynamoDB and IAM.

    Step Functions allows execution names that tag values reject (`!`, `(`, `'`, `@`, ...): DynamoDB
    takes letters, numbers, white space and `+ - = . _ : /`, IAM letters, numbers, white space and
    `_ . : / = + - @` (TagResource / TagRole API references). Any other character becomes `_`, and a
    name that had one gets `=` and 8 hex digits of its SHA-256, so the value still names one execution
    and the name can be found from it (the readable part leads).
    """
    kept = "".join(char if char.isalnum() or char in "+-=._" else "_" for char in execution_name)
    if kept == execution_name:
        return execution_name
    return f"{kept}={hashlib.sha256(execution_name.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: str = "S"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    projection: str = "ALL"


@dataclass(frozen=True)
class TableSpec:
    name: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None
    billing_mode: str = "PAY_PER_REQUEST"
    sse_type: str = "KMS"
    kms_key_id: str | None = None  # None: the AWS-managed key (alias/aws/dynamodb)
    purpose: str = ""
    # Protection (dynamodb.point_in_time_recovery / deletion_protection / recovery_period_days). A run only
    # ever turns these on: a table protected beyond its config is not a difference.
    point_in_time_recovery: bool = False
    recovery_period_days: int = 35
    deletion_protection: bool = False

    def attribute_definitions(self) -> list[dict[str, str]]:
        """Every key attribute of the table and its indexes, once each, sorted by name."""
        keys = [self.hash_key, self.range_key]
        for index in self.indexes:
            keys += [index.hash_key, index.range_key]
        by_name = {key.name: key.type for key in keys if key is not None}
        return [{"AttributeName": name, "AttributeType": by_name[name]} for name in sorted(by_name)]


@dataclass(frozen=True)
class RoleSpec:
    name: str
    trust_policy: dict[str, Any]
    inline_policy_name: str
    inline_policy: dict[str, Any]
    max_session_duration: int = 3600
    description: str = ""


@dataclass(frozen=True)
class DesiredState:
    provisioner_name: str
    region: str
    account_id: str
    tables: tuple[TableSpec, ...]
    role: RoleSpec
    poll_interval_seconds: int = 2
    max_polls: int = 15
    max_concurrency: int = 25
    backup_wait_seconds: int = 1800
    metrics_namespace: str = "FileFerry"
    extra: dict[str, Any] = field(default_factory=dict)
    # The config's dynamodb.region: there the read-only role's inline policy keeps the spec's name; in any
    # other Region it is FileFerryReadOnlyPolicy-<region> (lambdas.core.role.read_only_policy_name). "": `region`.
    home_region: str = ""

    def table(self, name: str) -> TableSpec:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def table_names(self) -> list[str]:
        return [table.name for table in self.tables]

    def customer_managed_key(self) -> str | None:
        """The configured customer managed KMS key (dynamodb.kms_key_id), if any: its health is checked."""
        return next((table.kms_key_id for table in self.tables if table.kms_key_id), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesiredState:
        return cls(
            provisioner_name=data["provisioner_name"],
            region=data["region"],
            account_id=data["account_id"],
            tables=tuple(_table_from_dict(table) for table in data["tables"]),
            role=RoleSpec(**data["role"]),
            poll_interval_seconds=data["poll_interval_seconds"],
            max_polls=data["max_polls"],
            max_concurrency=data["max_concurrency"],
            backup_wait_seconds=data.get("backup_wait_seconds", 1800),
            metrics_namespace=data["metrics_namespace"],
            extra=data.get("extra", {}),
            home_region=data.get("home_region", ""),
        )

    @classmethod
    def from_json(cls, text: str) -> DesiredState:
        return cls.from_dict(json.loads(text))


def _key(data: dict[str, str] | None) -> KeyAttribute | None:
    return KeyAttribute(**data) if data else None


def _table_from_dict(data: dict[str, Any]) -> TableSpec:
    return TableSpec(
        **{
            **data,
            "hash_key": _key(data["hash_key"]),
            "range_key": _key(data.get("range_key")),
            "indexes": tuple(
                IndexSpec(
                    name=index["name"],
                    hash_key=_key(index["hash_key"]),
                    range_key=_key(index.get("range_key")),
                    projection=index.get("projection", "ALL"),
                )
                for index in data.get("indexes", ())
            ),
        }
    )


@lru_cache(maxsize=1)
def load_packaged() -> DesiredState:
    """The desired state shipped in this Lambda package (or named by FILEFERRY_DESIRED_STATE)."""
    path = os.environ.get("FILEFERRY_DESIRED_STATE") or str(Path(__file__).resolve().parents[2] / DESIRED_STATE_FILE)
    return DesiredState.from_json(Path(path).read_text(encoding="utf-8"))
