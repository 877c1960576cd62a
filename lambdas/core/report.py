"""Verify and drift-check: one observation pass, one diff, a report a person can read."""

from __future__ import annotations

from typing import Any

from lambdas.core.desired import DesiredState
from lambdas.core.diff import (
    NOT_FIXABLE_HERE,
    Difference,
    access_grants,
    diff_access,
    diff_state,
    table_resource,
    unproven_access,
)
from lambdas.core.errors import NotYetVisible, VerificationFailed
from lambdas.core.observe import ObservedState, observe_state


def observe_desired(dynamodb: Any, iam: Any, desired: DesiredState, kms: Any = None) -> ObservedState:
    kms_key_id = desired.tables[0].kms_key_id if desired.tables else None
    return observe_state(dynamodb, iam, desired.table_names(), desired.role.name, kms, kms_key_id)


def verify(
    dynamodb: Any,
    iam: Any,
    desired: DesiredState,
    table_outcomes: list[dict[str, Any]],
    role_outcome: dict[str, Any],
    drift_before: dict[str, Any] | None = None,
    final_attempt: bool = True,
    kms: Any = None,
    access: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The spec's verification steps; raises VerificationFailed naming every difference.

    `access` is what the access check proved with a session of the role (lambdas.core.access): a grant that
    is not as the spec says is reported (verified false), never raised: its cause is outside the role's
    documents (a table's resource policy, an SCP), so rolling the run back would not fix it.

    Reads may lag the writes the run just made (IAM is eventually consistent; so is DescribeTable right
    after CreateTable): unless `final_attempt`, a difference raises NotYetVisible, which the state
    machine retries (a bounded number of times, the last one with `final_attempt` true).
    A TTL change the run had to defer (AWS's one-hour rule; the iteration's `ttl` is "deferred") is
    reported under `deferred` with when it becomes possible, not raised: the run is not rolled back for it.
    `drift_before` (the drift check's output) marks a remediating drift check: then the differences
    that cannot be fixed in place (REFUSE, OPERATOR, or any difference of a table create-or-adopt refused) are
    reported, not raised, next to the drift found before remediation. Any other difference left over
    means remediation failed, and still raises.
    """
    observed = observe_desired(dynamodb, iam, desired, kms)
    outcomes = {outcome["table"]: outcome for outcome in table_outcomes}
    deferred_by = {
        table_resource(name): outcome.get("ttl_change_possible_by")
        for name, outcome in outcomes.items()
        if outcome.get("ttl") == "deferred"
    }
    differences, deferred = [], []
    for difference in diff_state(desired, observed.tables, observed.role):
        if difference.property == "ttl" and difference.resource in deferred_by:
            deferred.append({**difference.as_dict(), "possible_by": deferred_by[difference.resource]})
        else:
            differences.append(difference)
    findings = diff_access(access)
    refused = {table_resource(name) for name, outcome in outcomes.items() if outcome.get("outcome") == "refused"}
    unexpected = differences if drift_before is None else [d for d in differences if d.remedy not in NOT_FIXABLE_HERE and d.resource not in refused]
    if unexpected and not final_attempt:
        raise NotYetVisible("reads do not show every change yet: " + "; ".join(str(difference) for difference in unexpected))
    if drift_before is None:
        if differences:
            raise VerificationFailed("; ".join(str(difference) for difference in differences))
        return {
            "verified": not deferred and not findings and not unproven_access(access),
            **_resources(observed, outcomes, role_outcome),
            "differences": deferred + [finding.as_dict() for finding in findings],
            "deferred": deferred,
            "access": access_grants(access),
        }
    if unexpected:
        raise VerificationFailed("remediation left: " + "; ".join(str(difference) for difference in unexpected))
    differences += findings
    return {
        "verified": not differences and not deferred,
        "remediated": True,
        "drifted": bool(differences or deferred),
        "drifted_resources": len({difference.resource for difference in differences} | {d["resource"] for d in deferred}),
        "differences": [difference.as_dict() for difference in differences] + deferred,
        "deferred": deferred,
        "drift_before_remediation": drift_before.get("differences", []),
        **_resources(observed, outcomes, role_outcome),
        "access": access_grants(access),
    }


def _resources(observed: ObservedState, outcomes: dict[str, dict[str, Any]], role_outcome: dict[str, Any]) -> dict[str, Any]:
    return {
        "tables": [
            {
                "table": name,
                "outcome": outcomes.get(name, {}).get("outcome", "adopted"),
                "status": table.status,
                "arn": table.arn,
                "ttl": table.ttl_status,
            }
            for name, table in observed.tables.items()
        ],
        "role": {
            "role": observed.role.name,
            "arn": observed.role.arn,
            "outcome": role_outcome.get("outcome", "adopted"),
        },
    }


def drift(dynamodb: Any, iam: Any, desired: DesiredState, kms: Any = None, access: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every difference, as resource / property / expected / actual (with `kms`, the key's health too), and
    every grant of the role the access check found not as the spec says."""
    observed = observe_desired(dynamodb, iam, desired, kms)
    differences: list[Difference] = diff_state(desired, observed.tables, observed.role) + diff_access(access)
    return {
        "drifted": bool(differences),
        "drifted_resources": len({difference.resource for difference in differences}),
        "differences": [difference.as_dict() for difference in differences],
        "access": access_grants(access),
    }
