"""Actions on the FileFerry read-only role, each decided by the diff."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


from lambdas.core.aws_errors import AWS_CALL_ERRORS, as_provisioner_error, reason
from lambdas.core.desired import RoleSpec
from lambdas.core.diff import READ_ONLY_POLICY, diff_role
from lambdas.core.errors import NotYetVisible, ProvisionerError
from lambdas.core.observe import ObservedRole, observe_role


def read_only_policy_name(region: str, home_region: str) -> str:
    """The read-only role's inline policy that grants `region`'s tables: the spec's `FileFerryReadOnlyPolicy` in
    the home Region (the config's dynamodb.region), `FileFerryReadOnlyPolicy-<region>` in any other. The role is
    one per account (IAM is global); each Region's runs write, check, restore and delete their own policy only."""
    return READ_ONLY_POLICY if region == home_region else f"{READ_ONLY_POLICY}-{region}"


@dataclass(frozen=True)
class RoleOutcome:
    role: str
    arn: str
    outcome: str  # created | adopted | updated
    changed: list[str] = field(default_factory=list)
    # What the role had before this run changed it, so a rollback can put it back.
    previous: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _document(policy: dict[str, Any]) -> str:
    return json.dumps(policy, separators=(",", ":"), sort_keys=True)


def _iam_call(call: str, function: Any, **kwargs: Any) -> Any:
    try:
        return function(**kwargs)
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, call) from err


def ensure_role(iam: Any, spec: RoleSpec, tags: dict[str, str]) -> RoleOutcome:
    """Create the role, or bring an existing one (EntityAlreadyExists) to the spec in place."""
    try:
        created = iam.create_role(
            RoleName=spec.name,
            AssumeRolePolicyDocument=_document(spec.trust_policy),
            Description=spec.description,
            MaxSessionDuration=spec.max_session_duration,
            Tags=[{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        )["Role"]
    except iam.exceptions.EntityAlreadyExistsException:
        observed = observe_role(iam, spec.name)
        outcome = _converge_existing(iam, spec, observed)
        if _created_by_an_earlier_attempt(observed, tags):
            # A retry after this step's CreateRole landed and a later call failed: the role is this run's.
            return RoleOutcome(spec.name, outcome.arn, "created")
        return outcome
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"CreateRole {spec.name}") from err
    try:
        iam.put_role_policy(
            RoleName=spec.name, PolicyName=spec.inline_policy_name, PolicyDocument=_document(spec.inline_policy)
        )
    except iam.exceptions.NoSuchEntityException as err:
        # IAM is eventually consistent: the role just created may not be visible to this call yet.
        raise NotYetVisible(f"role {spec.name} was created but is not visible yet") from err
    except AWS_CALL_ERRORS as err:
        raise as_provisioner_error(err, f"PutRolePolicy {spec.name}") from err
    return RoleOutcome(spec.name, created["Arn"], "created")


def _created_by_an_earlier_attempt(observed: ObservedRole, tags: dict[str, str]) -> bool:
    """Whether the existing role carries exactly the ownership tags this step creates it with."""
    return bool(tags) and observed.exists and all(observed.tags.get(key) == value for key, value in tags.items())


def _converge_existing(iam: Any, spec: RoleSpec, observed: ObservedRole) -> RoleOutcome:
    if not observed.exists:
        # CreateRole said it exists, GetRole says it does not: IAM has not caught up yet.
        raise NotYetVisible(f"role {spec.name} exists but is not visible yet")
    changed: list[str] = []
    previous: dict[str, Any] = {}
    try:
        _apply_changes(iam, spec, observed, changed, previous)
    except Exception:
        # The step fails without returning `previous`, so the run's rollback could not put the
        # role back: undo the part already changed here, then fail as we would have.
        restore_role(iam, spec, previous)
        raise
    return RoleOutcome(spec.name, observed.arn or "", "updated" if changed else "adopted", changed, previous)


def _apply_changes(iam: Any, spec: RoleSpec, observed: ObservedRole, changed: list[str], previous: dict[str, Any]) -> None:
    for difference in diff_role(spec, observed):
        prop = difference.property
        if prop == "trust_policy":
            previous["trust_policy"] = observed.trust_policy
            _iam_call(
                f"UpdateAssumeRolePolicy {spec.name}",
                iam.update_assume_role_policy,
                RoleName=spec.name,
                PolicyDocument=_document(spec.trust_policy),
            )
        elif prop == f"inline_policy:{spec.inline_policy_name}":
            previous["inline_policy"] = observed.inline_policies.get(spec.inline_policy_name)
            _iam_call(
                f"PutRolePolicy {spec.name}",
                iam.put_role_policy,
                RoleName=spec.name,
                PolicyName=spec.inline_policy_name,
                PolicyDocument=_document(spec.inline_policy),
            )
        elif prop == "max_session_duration":
            previous["max_session_duration"] = observed.max_session_duration
            _iam_call(
                f"UpdateRole {spec.name}",
                iam.update_role,
                RoleName=spec.name,
                MaxSessionDuration=spec.max_session_duration,
            )
        elif prop.startswith("inline_policy:"):
            name = prop.split(":", 1)[1]
            previous.setdefault("extra_inline_policies", {})[name] = observed.inline_policies[name]
            _iam_call(f"DeleteRolePolicy {spec.name}", iam.delete_role_policy, RoleName=spec.name, PolicyName=name)
        elif prop == "attached_policies":
            previous["attached_policies"] = list(observed.attached_policy_arns)
            for arn in observed.attached_policy_arns:
                _iam_call(f"DetachRolePolicy {spec.name}", iam.detach_role_policy, RoleName=spec.name, PolicyArn=arn)
        else:
            continue
        changed.append(prop)


def restore_role(iam: Any, spec: RoleSpec, previous: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Put back what a run replaced on a role it adopted: (what was restored, what could not be)."""
    restored: list[str] = []
    try:
        if previous.get("trust_policy"):
            iam.update_assume_role_policy(RoleName=spec.name, PolicyDocument=json.dumps(previous["trust_policy"]))
            restored.append("trust policy")
        if "inline_policy" in previous:
            if previous["inline_policy"] is None:
                try:
                    iam.delete_role_policy(RoleName=spec.name, PolicyName=spec.inline_policy_name)
                except iam.exceptions.NoSuchEntityException:
                    pass  # already gone: a retried restore
            else:
                iam.put_role_policy(
                    RoleName=spec.name, PolicyName=spec.inline_policy_name, PolicyDocument=json.dumps(previous["inline_policy"])
                )
            restored.append(f"inline policy {spec.inline_policy_name}")
        for name, document in previous.get("extra_inline_policies", {}).items():
            iam.put_role_policy(RoleName=spec.name, PolicyName=name, PolicyDocument=json.dumps(document))
            restored.append(f"inline policy {name}")
        for arn in previous.get("attached_policies", []):
            iam.attach_role_policy(RoleName=spec.name, PolicyArn=arn)
            restored.append(f"attached policy {arn}")
        if previous.get("max_session_duration"):
            iam.update_role(RoleName=spec.name, MaxSessionDuration=previous["max_session_duration"])
            restored.append("max session duration")
    except AWS_CALL_ERRORS as err:
        converted = as_provisioner_error(err, f"restore of role {spec.name}")
        if isinstance(converted, ProvisionerError) and converted.transient:
            raise converted from err  # the state machine retries; every call above is idempotent
        return restored, [reason(err)]
    return restored, []
