"""The target a function runs for: its account and Region, and the settings a target may hold differently.

The Lambda package carries the desired state resolved from the config (lambdas/core/desired.py). One
package serves every account and Region of a fleet (a CloudFormation StackSet's instances share one
template), so what differs per target reaches the functions as environment variables: `deploy` sets them
from the config and the caller's account, the template from its pseudo parameters (AWS::AccountId) and
its Parameters. The Region is the one Lambda runs the function in (AWS_REGION).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lambdas.core.access import configured_external_id
from lambdas.core.desired import DesiredState, RoleSpec
from lambdas.core.errors import InvalidInput
from lambdas.core.role import read_only_policy_name
from lambdas.core.read_only_role import read_only_policy, table_arn, trust_policy

ACCOUNT_ID = "FILEFERRY_ACCOUNT_ID"
EXTERNAL_ID = "FILEFERRY_EXTERNAL_ID"
READABLE_BUCKETS = "FILEFERRY_READABLE_BUCKETS"
KMS_KEY_ID = "FILEFERRY_KMS_KEY_ID"
PITR_TABLES = "FILEFERRY_PITR_TABLES"
PROTECTED_TABLES = "FILEFERRY_DELETION_PROTECTED_TABLES"
REGION = "AWS_REGION"  # set by Lambda

_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")


@dataclass(frozen=True)
class Target:
    """What one account and Region of the fleet may set differently from another."""

    account_id: str
    region: str
    external_id: str
    readable_buckets: tuple[str, ...]
    kms_key_id: str | None
    point_in_time_recovery_tables: tuple[str, ...]
    deletion_protected_tables: tuple[str, ...]

    @classmethod
    def of(cls, state: DesiredState) -> Target:
        """The target a desired state was resolved for (what `deploy` puts in the functions' environment)."""
        return cls(
            account_id=state.account_id,
            region=state.region,
            external_id=configured_external_id(state),
            readable_buckets=_readable_buckets(state.role),
            kms_key_id=state.customer_managed_key(),
            point_in_time_recovery_tables=tuple(t.name for t in state.tables if t.point_in_time_recovery),
            deletion_protected_tables=tuple(t.name for t in state.tables if t.deletion_protection),
        )

    def environment(self) -> dict[str, str]:
        """The functions' environment variables for this target (the Region is Lambda's own AWS_REGION)."""
        return {
            ACCOUNT_ID: self.account_id,
            EXTERNAL_ID: self.external_id,
            READABLE_BUCKETS: ",".join(self.readable_buckets),
            KMS_KEY_ID: self.kms_key_id or "",
            PITR_TABLES: ",".join(self.point_in_time_recovery_tables),
            PROTECTED_TABLES: ",".join(self.deletion_protected_tables),
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Target | None:
        """The target the environment names; None when it names none (the package's own state applies)."""
        environ = os.environ if environ is None else environ
        if not environ.get(ACCOUNT_ID):
            return None
        return cls(
            account_id=environ[ACCOUNT_ID],
            region=environ.get(REGION, ""),
            external_id=environ.get(EXTERNAL_ID, ""),
            readable_buckets=_listed(environ.get(READABLE_BUCKETS, "")),
            kms_key_id=environ.get(KMS_KEY_ID) or None,
            point_in_time_recovery_tables=_listed(environ.get(PITR_TABLES, "")),
            deletion_protected_tables=_listed(environ.get(PROTECTED_TABLES, "")),
        )


def _listed(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _readable_buckets(role: RoleSpec) -> tuple[str, ...]:
    for statement in role.inline_policy.get("Statement", []):
        if statement.get("Sid") == "ListReadableBuckets":
            resources = statement["Resource"]
            return tuple(arn.split(":::", 1)[1] for arn in ([resources] if isinstance(resources, str) else resources))
    return ()


def partition_of(region: str) -> str:
    """The ARN partition of a Region, as botocore's endpoint data has it."""
    import boto3

    return boto3.session.Session().get_partition_for_region(region)


def _refuse(problem: str) -> InvalidInput:
    return InvalidInput(f"target settings (the functions' environment, or the stack's parameters): {problem}")


def for_target(packaged: DesiredState, target: Target, partition: str | None = None, check: bool = True) -> DesiredState:
    """The desired state of `target`: the package's tables and role, in the target's account and Region,
    with the settings the target holds. Raises InvalidInput naming a setting that cannot apply.

    `check=False` (with `partition` given) for a symbolic target: the template's, whose values are `${...}`."""
    if check:
        _check(packaged, target)
    partition = partition or partition_of(target.region)
    tables = tuple(
        dataclasses.replace(
            table,
            kms_key_id=target.kms_key_id,
            point_in_time_recovery=table.name in target.point_in_time_recovery_tables,
            deletion_protection=table.name in target.deletion_protected_tables,
        )
        for table in packaged.tables
    )
    arns = [table_arn(target.region, target.account_id, table.name, partition) for table in tables]
    role = dataclasses.replace(
        packaged.role,
        # One role per account: each Region's runs own the inline policy of that Region only.
        inline_policy_name=read_only_policy_name(target.region, packaged.home_region or packaged.region),
        trust_policy=trust_policy(target.account_id, target.external_id, partition),
        inline_policy=read_only_policy(arns, list(target.readable_buckets), packaged.metrics_namespace, partition),
    )
    return dataclasses.replace(packaged, region=target.region, account_id=target.account_id, tables=tables, role=role)


def _check(packaged: DesiredState, target: Target) -> None:
    if not _ACCOUNT.match(target.account_id):
        raise _refuse(f"{ACCOUNT_ID} is not a 12-digit account ID")
    if not _REGION.match(target.region):
        raise _refuse(f"{REGION} is not a Region name")
    if not target.external_id:
        raise _refuse(f"{EXTERNAL_ID} (the ExternalId) is empty")
    if not target.readable_buckets:
        raise _refuse(f"{READABLE_BUCKETS} names no bucket")
    names = set(packaged.table_names())
    for variable, listed in ((PITR_TABLES, target.point_in_time_recovery_tables),
                             (PROTECTED_TABLES, target.deletion_protected_tables)):
        unknown = sorted(set(listed) - names)
        if unknown:
            raise _refuse(f"{variable} names {', '.join(unknown)}, which is not one of the tables")
