"""Verify and drift-check: one observation pass, one diff, a report a person can read."""

from __future__ import annotations

from typing import Any

from lambdas.core.desired import DesiredState
from lambdas.core.diff import REFUSE, Difference, diff_state, table_resource
from lambdas.core.errors import VerificationFailed
from lambdas.core.observe import ObservedState, observe_state


def observe_desired(dynamodb: Any, iam: Any, desired: DesiredState) -> ObservedState:
    return observe_state(dynamodb, iam, desired.table_names(), desired.role.name)


def verify(
    dynamodb: Any,
    iam: Any,
    desired: DesiredState,
    table_outcomes: list[dict[str, Any]],
    role_outcome: dict[str, Any],
    drift_before: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The spec's verification steps; raises VerificationFailed naming every difference.

    `drift_before` (the drift check's output) marks a remediating drift check: then the differences
    that cannot be fixed in place (REFUSE, or any difference of a table create-or-adopt refused) are
    reported, not raised, next to the drift found before remediation. Any other difference left over
    means remediation failed, and still raises.
    """
    observed = observe_desired(dynamodb, iam, desired)
    differences = diff_state(desired, observed.tables, observed.role)
    outcomes = {outcome["table"]: outcome for outcome in table_outcomes}
    if drift_before is None:
        if differences:
            raise VerificationFailed("; ".join(str(difference) for difference in differences))
        return {"verified": True, **_resources(observed, outcomes, role_outcome), "differences": []}
    refused = {table_resource(name) for name, outcome in outcomes.items() if outcome.get("outcome") == "refused"}
    unfixed = [d for d in differences if d.remedy != REFUSE and d.resource not in refused]
    if unfixed:
        raise VerificationFailed("remediation left: " + "; ".join(str(difference) for difference in unfixed))
    return {
        "verified": not differences,
        "remediated": True,
        "drifted": bool(differences),
        "drifted_resources": len({difference.resource for difference in differences}),
        "differences": [difference.as_dict() for difference in differences],
        "drift_before_remediation": drift_before.get("differences", []),
        **_resources(observed, outcomes, role_outcome),
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


def drift(dynamodb: Any, iam: Any, desired: DesiredState) -> dict[str, Any]:
    """Every difference, as resource / property / expected / actual."""
    observed = observe_desired(dynamodb, iam, desired)
    differences: list[Difference] = diff_state(desired, observed.tables, observed.role)
    return {
        "drifted": bool(differences),
        "drifted_resources": len({difference.resource for difference in differences}),
        "differences": [difference.as_dict() for difference in differences],
    }
