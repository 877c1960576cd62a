"""IAM decisions by @cloud-copilot/iam-simulate, an evaluator no one on this team wrote.

AGPL-3.0: a test-time tool, run as a separate Node process from the tests (`iam_simulate.mjs`);
never vendored, shipped, or imported by product code.

    from iam_simulate import Case, simulate   # tests/referees is on pytest's pythonpath
    simulate([Case("s3:GetObject", "arn:aws:s3:::bucket/key", identity_policies=[policy])])
    # -> ["Allowed"]   (or "ExplicitlyDenied" / "ImplicitlyDenied")

One Node process evaluates a whole batch: pass every case of a test (or a module) at once.
A case the tool rejects (an unknown action, a resource ARN of the wrong type for the action, a
malformed policy) raises SimulationRejected: a referee that cannot judge must not pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node_tools import package_dir, run_node_json

SCRIPT = Path(__file__).with_name("iam_simulate.mjs")
ALLOWED, EXPLICITLY_DENIED, IMPLICITLY_DENIED = "Allowed", "ExplicitlyDenied", "ImplicitlyDenied"
DEFAULT_PRINCIPAL = "arn:aws:iam::123456789012:role/caller"


class SimulationRejected(ValueError):
    """iam-simulate refused to evaluate a case (its validation errors are in the message)."""


@dataclass(frozen=True)
class Case:
    """One request: `principal` calls `action` on `resource`, holding `identity_policies`.

    `resource_policy` is the resource's own policy (a role's trust policy for sts:AssumeRole, whose
    principal is then e.g. "lambda.amazonaws.com" or an account's role ARN). `context` holds the
    request's condition keys (`{"cloudwatch:namespace": "FileFerry"}`, `{"sts:ExternalId": "..."}`).
    `resource_account` defaults to the resource ARN's account, else the principal's.
    """

    action: str
    resource: str
    identity_policies: Sequence[Mapping[str, Any]] = ()
    resource_policy: Mapping[str, Any] | None = None
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    principal: str = DEFAULT_PRINCIPAL
    resource_account: str | None = None

    def account(self) -> str:
        if self.resource_account:
            return self.resource_account
        for arn in (self.resource, self.principal):
            parts = arn.split(":")
            if len(parts) > 4 and parts[0] == "arn" and parts[4].isdigit():
                return parts[4]
        return DEFAULT_PRINCIPAL.split(":")[4]

    def as_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "resourceAccount": self.account(),
            "identityPolicies": [dict(policy) for policy in self.identity_policies],
            "resourcePolicy": dict(self.resource_policy) if self.resource_policy is not None else None,
            "context": dict(self.context),
        }


@dataclass(frozen=True)
class Result:
    decision: str
    # Context keys the tool dropped because they do not apply to the action: usually a typo in a case.
    ignored_context_keys: tuple[str, ...]


def simulate_detailed(cases: Sequence[Case]) -> list[Result]:
    """Every case's result, in order, from one Node process."""
    if not cases:
        return []
    package_dir("@cloud-copilot/iam-simulate")
    answers = run_node_json(SCRIPT, [case.as_json() for case in cases])
    if len(answers) != len(cases):
        raise RuntimeError(f"iam-simulate answered {len(answers)} of {len(cases)} cases")
    rejected = [f"case {i} ({cases[i].action} on {cases[i].resource}): {a['errors']}" for i, a in enumerate(answers) if "errors" in a]
    if rejected:
        raise SimulationRejected("iam-simulate rejected: " + "; ".join(rejected))
    return [Result(a["decision"], tuple(a.get("ignoredContextKeys") or ())) for a in answers]


def simulate(cases: Sequence[Case]) -> list[str]:
    """"Allowed", "ExplicitlyDenied" or "ImplicitlyDenied" per case, in order."""
    return [result.decision for result in simulate_detailed(cases)]
