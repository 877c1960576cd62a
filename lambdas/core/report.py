"""Verify and drift-check: one observation pass, one diff, a report a person can read."""

from __future__ import annotations

from typing import Any

from lambdas.core.desired import DesiredState
from lambdas.core.diff import Difference, diff_state
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
) -> dict[str, Any]:
    """The spec's verification steps; raises VerificationFailed naming every difference."""
    observed = observe_desired(dynamodb, iam, desired)
    differences = diff_state(desired, observed.tables, observed.role)
    if differences:
        raise VerificationFailed("; ".join(str(difference) for difference in differences))
    outcomes = {outcome["table"]: outcome for outcome in table_outcomes}
    return {
        "verified": True,
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
        "differences": [],
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
