"""The spec's five tables and the read-only role, declared as data, resolved against the config."""

from __future__ import annotations

from typing import Any

from lambdas.core.desired import DesiredState, IndexSpec, KeyAttribute, RoleSpec, TableSpec
from lambdas.core.read_only_role import (  # noqa: F401  (also imported from here)
    DYNAMODB_ITEM_ACTIONS,
    INLINE_POLICY_QUOTA,
    TABLE_RESOURCES_BUDGET,
    read_only_policy,
    table_arn,
    table_resources,
    trust_policy,
)
from lambdas.core.role import read_only_policy_name
from provisioner.config import Protection, Settings, check_history_budget, partition_for

METRICS_NAMESPACE = "FileFerry"
ROLE_MAX_SESSION_SECONDS = 3600  # IAM's minimum; the 10-second SSO timeout is enforced by the reader

# Keyed by the config key that names the table (config.yaml `dynamodb:` section).
FILEFERRY_TABLES: dict[str, dict[str, Any]] = {
    "active_sessions_table": {
        "purpose": "SSO session management with 10-second timeout",
        "hash_key": ("session_token", "S"),
        "ttl_attribute": "ttl",
    },
    "user_context_table": {
        "purpose": "Conversation history and user context",
        "hash_key": ("user_id", "S"),
        "ttl_attribute": "ttl",
    },
    "transfer_requests_table": {
        "purpose": "Transfer requests, queryable by user",
        "hash_key": ("transfer_id", "S"),
        "indexes": [{"name": "UserIdIndex", "hash_key": ("user_id", "S"), "range_key": ("created_at", "S")}],
        "ttl_attribute": "ttl",
    },
    "agent_learning_table": {
        "purpose": "ML predictions and learning data (permanent)",
        "hash_key": ("transfer_type", "S"),
        "range_key": ("size_category", "S"),
    },
    "s3_file_cache_table": {
        "purpose": "S3 file metadata cache",
        "hash_key": ("cache_key", "S"),
        "ttl_attribute": "ttl",
    },
}



def _key(pair: tuple[str, str] | None) -> KeyAttribute | None:
    return KeyAttribute(*pair) if pair else None


def table_spec(name: str, data: dict[str, Any], kms_key_id: str | None, protection: Protection | None = None) -> TableSpec:
    protection = protection or Protection(point_in_time_recovery=False, recovery_period_days=35, deletion_protection=False)
    return TableSpec(
        name=name,
        hash_key=_key(data["hash_key"]),
        range_key=_key(data.get("range_key")),
        indexes=tuple(
            IndexSpec(index["name"], _key(index["hash_key"]), _key(index.get("range_key")))
            for index in data.get("indexes", ())
        ),
        ttl_attribute=data.get("ttl_attribute"),
        kms_key_id=kms_key_id,
        purpose=data.get("purpose", ""),
        point_in_time_recovery=protection.point_in_time_recovery,
        recovery_period_days=protection.recovery_period_days,
        deletion_protection=protection.deletion_protection,
    )


def desired_state(settings: Settings, tables: list[TableSpec] | None = None) -> DesiredState:
    """The desired state for `settings`; `tables` replaces the spec's five (the benchmark uses it)."""
    region = settings.dynamodb.region
    partition = partition_for(region)
    account_id = settings.sso.account_id
    kms_key_id = settings.dynamodb.kms_key_id or None
    tables_given = tables is not None
    if tables is None:
        tables = [
            table_spec(getattr(settings.dynamodb, key), data, kms_key_id, settings.dynamodb.protection(key))
            for key, data in FILEFERRY_TABLES.items()
        ]
    arns = [table_arn(region, account_id, table.name, partition) for table in tables]
    role = RoleSpec(
        name=settings.sso.role_name,
        trust_policy=trust_policy(account_id, settings.sso.external_id, partition),
        # One role per account, one inline policy per Region: the config's Region keeps the spec's name.
        inline_policy_name=read_only_policy_name(region, settings.home_region),
        inline_policy=read_only_policy(arns, settings.sso.readable_buckets, METRICS_NAMESPACE, partition),
        max_session_duration=ROLE_MAX_SESSION_SECONDS,
        description="Assumed by the FileFerry SSO handler for read-only S3 access",
    )
    p = settings.provisioner
    if tables_given:
        check_history_budget(len(tables), p.poll_interval_seconds, p.max_polls, f"{len(tables)} tables")
    return DesiredState(
        provisioner_name=p.name,
        region=region,
        account_id=account_id,
        tables=tuple(tables),
        role=role,
        poll_interval_seconds=p.poll_interval_seconds,
        max_polls=p.max_polls,
        max_concurrency=p.max_concurrency,
        backup_wait_seconds=p.backup_wait_seconds,
        metrics_namespace=METRICS_NAMESPACE,
        home_region=settings.home_region,
    )
