"""Desired vs observed: the one place that decides what "correct" means.

Plan, verify, drift-check and every provisioning step's choice (create / adopt / update /
refuse) are computed from these differences.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from lambdas.core.desired import DesiredState, IndexSpec, KeyAttribute, RoleSpec, TableSpec
from lambdas.core.observe import ObservedRole, ObservedTable

# What can fix a difference.
CREATE = "create"  # the resource is missing
UPDATE = "update"  # changed in place, no data touched
WAIT = "wait"  # AWS is still working on it (CREATING, UPDATING)
REFUSE = "refuse"  # needs a new resource; never done automatically, data would be lost
OPERATOR = "operator"  # only someone with other permissions can fix it (a KMS key's state); reported, never acted on
# Differences a run cannot fix in place: they never block what it can fix, and are reported.
NOT_FIXABLE_HERE = (REFUSE, OPERATOR)
INACCESSIBLE = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"

TTL_ON = ("ENABLED", "ENABLING")


@dataclass(frozen=True)
class Difference:
    resource: str
    property: str
    expected: Any
    actual: Any
    remedy: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.resource} {self.property}: expected {_brief(self.expected)}, found {_brief(self.actual)}"


def _brief(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def table_resource(name: str) -> str:
    return f"table/{name}"


def role_resource(name: str) -> str:
    return f"role/{name}"


def _key_text(key: KeyAttribute | None) -> str | None:
    return f"{key.name} ({key.type})" if key else None


def _index_shape(index: IndexSpec) -> dict[str, Any]:
    return {"hash": _key_text(index.hash_key), "range": _key_text(index.range_key), "projection": index.projection}


def diff_table(spec: TableSpec, observed: ObservedTable) -> list[Difference]:
    """Every way `observed` differs from `spec`."""
    resource = table_resource(spec.name)
    if not observed.exists:
        return [Difference(resource, "exists", True, False, CREATE)]
    differences: list[Difference] = []

    def differ(prop: str, expected: Any, actual: Any, remedy: str) -> None:
        if expected != actual:
            differences.append(Difference(resource, prop, expected, actual, remedy))

    if observed.status != INACCESSIBLE:  # that one is the encryption_key difference below
        differ("status", "ACTIVE", observed.status, WAIT if observed.status in ("CREATING", "UPDATING") else REFUSE)
    differ(
        "key_schema",
        {"hash": _key_text(spec.hash_key), "range": _key_text(spec.range_key)},
        {"hash": _key_text(observed.hash_key), "range": _key_text(observed.range_key)},
        REFUSE,
    )
    differ(
        "indexes",
        {index.name: _index_shape(index) for index in spec.indexes},
        {index.name: _index_shape(index) for index in observed.indexes},
        REFUSE,
    )
    differ("billing_mode", spec.billing_mode, observed.billing_mode, UPDATE)
    differ("sse_type", spec.sse_type, observed.sse_type, UPDATE)
    # An alias or key id cannot be compared with the ARN DynamoDB reports without a KMS call.
    if spec.kms_key_id and spec.kms_key_id.startswith("arn:") and observed.sse_type == spec.sse_type:
        differ("kms_key", spec.kms_key_id, observed.kms_key_arn, UPDATE)
    expected_ttl = {"status": "ENABLED", "attribute": spec.ttl_attribute} if spec.ttl_attribute else {"status": "DISABLED"}
    if observed.ttl_status in TTL_ON:
        actual_ttl = {"status": "ENABLED", "attribute": observed.ttl_attribute}
    else:
        actual_ttl = {"status": "DISABLED"}
    # TTL cannot move from one attribute to another in place: that needs disable, an hour, enable.
    moved = spec.ttl_attribute and actual_ttl["status"] == "ENABLED" and actual_ttl != expected_ttl
    # ENABLING/DISABLING: AWS is still processing the last change and refuses another within its hour.
    in_transition = observed.ttl_status in ("ENABLING", "DISABLING")
    differ("ttl", expected_ttl, actual_ttl, REFUSE if moved else WAIT if in_transition else UPDATE)
    # Protection is only ever added: a table protected beyond its config is the operator's choice, not drift.
    if spec.deletion_protection and not observed.deletion_protection:
        differ("deletion_protection", True, False, UPDATE)
    if spec.point_in_time_recovery and observed.pitr_status is not None:
        actual_pitr = {"status": observed.pitr_status}
        if observed.pitr_status == "ENABLED":
            actual_pitr["recovery_period_days"] = observed.recovery_period_days
        differ("point_in_time_recovery", {"status": "ENABLED", "recovery_period_days": spec.recovery_period_days},
               actual_pitr, UPDATE)
    if observed.status == INACCESSIBLE:
        since = _moment(observed.inaccessible_since)
        archived = _moment(observed.inaccessible_since, ARCHIVED_AFTER)
        differ("encryption_key", "accessible",
               {"status": INACCESSIBLE, "since": since, "archived_by": archived, "kms_key": observed.kms_key_arn,
                "what_to_do": KEY_ADVICE}, OPERATOR)
    if observed.kms_key_state is not None and observed.kms_key_state != "Enabled":
        found: dict[str, Any] = {"state": observed.kms_key_state, "kms_key": observed.kms_key_arn,
                                 "what_to_do": KEY_ADVICE}
        if observed.kms_key_deletion_date is not None:
            found["deletion_date"] = _moment(observed.kms_key_deletion_date)
        differ("kms_key_state", "Enabled", found, OPERATOR)
    return differences


# AWS archives a table whose KMS key stays inaccessible for more than seven days (TableDescription.TableStatus).
ARCHIVED_AFTER = datetime.timedelta(days=7)
KEY_ADVICE = ("the table cannot be read or written while its KMS key is unusable: enable the key (kms enable-key) "
              "or cancel its deletion (kms cancel-key-deletion, then enable-key); AWS archives a table whose key "
              "stays inaccessible for seven days")


def _moment(value: Any, later: datetime.timedelta | None = None) -> str | None:
    """An ISO 8601 UTC time from boto3's datetime (or epoch seconds); None stays None."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime.datetime) else datetime.datetime.fromtimestamp(float(value), datetime.UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    return (moment + (later or datetime.timedelta())).astimezone(datetime.UTC).replace(microsecond=0).isoformat()


def canonical_statements(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A policy's statements in one canonical form, so order and formatting do not count."""
    if not document:
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    canonical = [_canonical_statement(statement) for statement in statements]
    unique = {json.dumps(statement, sort_keys=True): statement for statement in canonical}
    return [unique[key] for key in sorted(unique)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _canonical_principal(principal: Any) -> Any:
    if principal == "*":
        return "*"
    result = {}
    for kind, values in principal.items():
        names = []
        for value in _as_list(values):
            root = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):root", str(value)) if kind == "AWS" else None
            if root:
                value = root.group(1)  # IAM takes an account id and its root ARN (in any partition) as one principal
            names.append(str(value))
        result[kind] = sorted(names)
    return result


def _canonical_statement(statement: dict[str, Any]) -> dict[str, Any]:
    canonical: dict[str, Any] = {"Effect": statement.get("Effect")}
    for key in ("Action", "NotAction"):
        if key in statement:
            canonical[key] = sorted({action.lower() for action in _as_list(statement[key])})
    for key in ("Resource", "NotResource"):
        if key in statement:
            canonical[key] = sorted(set(_as_list(statement[key])))
    for key in ("Principal", "NotPrincipal"):
        if key in statement:
            canonical[key] = _canonical_principal(statement[key])
    if statement.get("Condition"):
        canonical["Condition"] = {
            operator: {name.lower(): sorted(str(v) for v in _as_list(values)) for name, values in block.items()}
            for operator, block in statement["Condition"].items()
        }
    return canonical


def _policy_difference(resource: str, prop: str, desired: dict[str, Any], actual: dict[str, Any] | None) -> Difference | None:
    """The statements missing from `actual` (expected) and the ones it has that are not desired (actual)."""
    wanted, found = canonical_statements(desired), canonical_statements(actual)
    missing = [statement for statement in wanted if statement not in found]
    unexpected = [statement for statement in found if statement not in wanted]
    if not missing and not unexpected:
        return None
    return Difference(resource, prop, missing, unexpected if actual is not None else None, UPDATE)


# The read-only role is one per account (IAM is global) and grants each Region's tables by an inline
# policy of that Region's own: FileFerryReadOnlyPolicy in the config's Region, FileFerryReadOnlyPolicy-<region>
# in any other (lambdas.core.role.read_only_policy_name). Each Region's runs own their policy only.
READ_ONLY_POLICY = "FileFerryReadOnlyPolicy"
_READ_ONLY_POLICY_NAME = re.compile(rf"{READ_ONLY_POLICY}(-[a-z]{{2,4}}(-[a-z]+){{1,3}}-\d{{1,2}})?")


def is_read_only_policy(name: str) -> bool:
    """Whether an inline policy name is one Region's policy of the read-only role (FileFerryReadOnlyPolicy*)."""
    return _READ_ONLY_POLICY_NAME.fullmatch(name) is not None


def policy_regions(document: dict[str, Any] | None) -> set[str]:
    """The Regions the ARNs in a policy's Resource elements name (IAM and S3 ARNs name none)."""
    regions = set()
    for statement in canonical_statements(document):
        for resource in statement.get("Resource", []):
            parts = str(resource).split(":")
            if len(parts) > 3 and parts[0] == "arn" and parts[3] not in ("", "*"):
                regions.add(parts[3])
    return regions


def other_regions_policies(spec: RoleSpec, observed: ObservedRole) -> list[str]:
    """The role's inline policies another Region's runs own: every FileFerryReadOnlyPolicy* but this Region's,
    except one that grants this Region's tables and no other's (this Region's own, under the name an earlier
    version or another home Region gave it: this Region's to replace)."""
    own_regions = policy_regions(spec.inline_policy)
    return sorted(
        name for name, document in observed.inline_policies.items()
        if name != spec.inline_policy_name and is_read_only_policy(name) and policy_regions(document) != own_regions
    )


def diff_role(spec: RoleSpec, observed: ObservedRole) -> list[Difference]:
    """The role as this Region's runs see it: another Region's inline policy (other_regions_policies) is that
    Region's business, never a difference here; any other policy the spec does not name is one."""
    resource = role_resource(spec.name)
    if not observed.exists:
        return [Difference(resource, "exists", True, False, CREATE)]
    others = other_regions_policies(spec, observed)
    differences = [
        _policy_difference(resource, "trust_policy", spec.trust_policy, observed.trust_policy),
        _policy_difference(
            resource,
            f"inline_policy:{spec.inline_policy_name}",
            spec.inline_policy,
            observed.inline_policies.get(spec.inline_policy_name),
        ),
    ]
    for name in sorted(observed.inline_policies):
        if name != spec.inline_policy_name and name not in others:
            differences.append(Difference(resource, f"inline_policy:{name}", None, "present", UPDATE))
    if observed.attached_policy_arns:
        differences.append(Difference(resource, "attached_policies", [], list(observed.attached_policy_arns), UPDATE))
    if observed.max_session_duration != spec.max_session_duration:
        differences.append(
            Difference(resource, "max_session_duration", spec.max_session_duration, observed.max_session_duration, UPDATE)
        )
    return [difference for difference in differences if difference is not None]


def diff_state(
    desired: DesiredState, tables: dict[str, ObservedTable], role: ObservedRole
) -> list[Difference]:
    """Every difference between the desired state and what was observed."""
    differences: list[Difference] = []
    for spec in desired.tables:
        differences += diff_table(spec, tables[spec.name])
    differences += diff_role(desired.role, role)
    return differences


def plan_action(differences: list[Difference]) -> str:
    """What provisioning would do to one resource: create, adopt, update or refuse."""
    remedies = {difference.remedy for difference in differences}
    if CREATE in remedies:
        return "create"
    if REFUSE in remedies or OPERATOR in remedies:
        return "refuse"
    if UPDATE in remedies:
        return "update"
    return "adopt"


ACCESS = "access"  # a Difference's property prefix for a grant of the role that is not as the spec says
NOT_CHECKED = "not-checked"  # a grant the access check could not prove either way (its proof says why)


def access_grants(access: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every grant the access check proved (the ProveAccess states' output: {"tables": [...], "role": {...}})."""
    if not access:
        return []
    results = list(access.get("tables") or []) + ([access["role"]] if access.get("role") else [])
    return [grant for result in results for grant in result.get("grants", [])]


def diff_access(access: dict[str, Any] | None) -> list[Difference]:
    """A grant that is not as the spec says: someone with other permissions fixes what causes it (a table's
    resource policy, an attached policy, a boundary, the trust policy); a run never acts on it. A grant not
    checked is none: what stopped the check (a missing table, a role that cannot be assumed) is its own
    difference."""
    differences = []
    for grant in access_grants(access):
        if grant["expected"] == grant["actual"] or grant["actual"] == NOT_CHECKED:
            continue
        actual = f"{grant['actual']}: {grant['proof']}" + (f"; likely cause: {grant['cause']}" if grant.get("cause") else "")
        differences.append(Difference(grant["resource"], f"{ACCESS} {grant['action']}", grant["expected"], actual, OPERATOR))
    return differences


def unproven_access(access: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The grants the access check could not prove: a provisioning run is not verified with any."""
    return [grant for grant in access_grants(access) if grant["actual"] == NOT_CHECKED]
