"""The role step and rollback against an in-process AWS, read back with boto3."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fileferry_aws import (
    all_items,
    inline_policy_of,
    ownership,
    role_exists,
    role_tags,
    table_exists,
    trust_policy_of,
)

from lambdas.core.desired import CREATED_BY_TAG, MANAGED_BY_TAG, DesiredState
from lambdas.core.diff import canonical_statements
from lambdas.core.role import ensure_role
from lambdas.core.rollback import roll_back
from lambdas.core.tables import create_or_adopt_table

ROLE = "FileFerryReadOnlyRole"
POLICY = "FileFerryReadOnlyPolicy"
ACCOUNT = "123456789012"

OLD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}],
}
OLD_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}],
}


@pytest.fixture
def created_role(iam: Any, desired: DesiredState, tags: dict[str, str]) -> dict[str, Any]:
    """The role created by execution exec-1."""
    return ensure_role(iam, desired.role, tags).as_dict()


@pytest.fixture
def existing_role(iam: Any) -> None:
    """The role as someone made it by hand: no ExternalId in the trust policy, an inline policy allowing writes."""
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(OLD_TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(OLD_POLICY))


@pytest.fixture
def converged_role(iam: Any, existing_role: None, desired: DesiredState) -> dict[str, Any]:
    """The hand-made role brought to the spec by execution exec-a."""
    return ensure_role(iam, desired.role, ownership(desired, "exec-a")).as_dict()


# -- ensure_role --------------------------------------------------------------------------


def test_ensure_role_creates_the_role_with_the_spec_trust_policy(iam: Any, created_role: dict[str, Any], desired: DesiredState) -> None:
    assert created_role["outcome"] == "created"
    assert canonical_statements(trust_policy_of(iam, ROLE)) == canonical_statements(desired.role.trust_policy)


def test_a_created_role_sessions_last_an_hour(iam: Any, created_role: dict[str, Any]) -> None:
    assert iam.get_role(RoleName=ROLE)["Role"]["MaxSessionDuration"] == 3600


def test_a_created_role_has_the_read_only_inline_policy_and_nothing_else(
    iam: Any, created_role: dict[str, Any], desired: DesiredState
) -> None:
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == [POLICY]
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
    assert canonical_statements(inline_policy_of(iam, ROLE, POLICY)) == canonical_statements(desired.role.inline_policy)


def test_a_created_role_carries_both_ownership_tags(iam: Any, created_role: dict[str, Any], desired: DesiredState) -> None:
    assert role_tags(iam, ROLE) == {MANAGED_BY_TAG: desired.provisioner_name, CREATED_BY_TAG: "exec-1"}


def test_a_retried_role_creation_reports_the_role_its_earlier_attempt_created_as_created(
    iam: Any, desired: DesiredState, tags: dict[str, str]
) -> None:
    # An earlier attempt's CreateRole landed, then its PutRolePolicy failed (a transient fault): the retry
    # meets EntityAlreadyExists on the role this run created, finishes it, and says it created it.
    iam.create_role(
        RoleName=ROLE,
        AssumeRolePolicyDocument=json.dumps(desired.role.trust_policy),
        Description=desired.role.description,
        MaxSessionDuration=desired.role.max_session_duration,
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )

    outcome = ensure_role(iam, desired.role, tags).as_dict()

    assert (outcome["outcome"], outcome["previous"]) == ("created", {})
    assert canonical_statements(inline_policy_of(iam, ROLE, POLICY)) == canonical_statements(desired.role.inline_policy)


def test_a_role_another_execution_created_is_not_reported_as_created(
    iam: Any, created_role: dict[str, Any], desired: DesiredState
) -> None:
    assert ensure_role(iam, desired.role, ownership(desired, "exec-2")).outcome == "adopted"


def test_an_existing_role_is_updated_to_the_spec_trust_policy(
    iam: Any, converged_role: dict[str, Any], desired: DesiredState
) -> None:
    assert converged_role["outcome"] == "updated"
    assert canonical_statements(trust_policy_of(iam, ROLE)) == canonical_statements(desired.role.trust_policy)


def test_an_existing_role_is_updated_to_the_spec_inline_policy(
    iam: Any, converged_role: dict[str, Any], desired: DesiredState
) -> None:
    assert canonical_statements(inline_policy_of(iam, ROLE, POLICY)) == canonical_statements(desired.role.inline_policy)


def test_an_update_remembers_the_previous_trust_and_inline_policy(converged_role: dict[str, Any]) -> None:
    previous = converged_role["previous"]

    assert canonical_statements(previous["trust_policy"]) == canonical_statements(OLD_TRUST)
    assert canonical_statements(previous["inline_policy"]) == canonical_statements(OLD_POLICY)


def test_an_updated_role_is_not_tagged_as_created_by_the_run(iam: Any, converged_role: dict[str, Any]) -> None:
    assert CREATED_BY_TAG not in role_tags(iam, ROLE)


def test_an_existing_role_loses_extra_inline_and_attached_policies(iam: Any, existing_role: None, desired: DesiredState) -> None:
    iam.put_role_policy(RoleName=ROLE, PolicyName="Legacy", PolicyDocument=json.dumps(OLD_POLICY))
    managed = iam.create_policy(PolicyName="S3Writes", PolicyDocument=json.dumps(OLD_POLICY))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=managed)

    outcome = ensure_role(iam, desired.role, ownership(desired, "exec-a"))

    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == [POLICY]
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
    assert outcome.previous["attached_policies"] == [managed]
    assert set(outcome.previous["extra_inline_policies"]) == {"Legacy"}


def test_an_existing_role_with_longer_sessions_is_brought_back_to_an_hour(iam: Any, desired: DesiredState) -> None:
    iam.create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(desired.role.trust_policy), MaxSessionDuration=43200
    )

    ensure_role(iam, desired.role, ownership(desired, "exec-a"))

    assert iam.get_role(RoleName=ROLE)["Role"]["MaxSessionDuration"] == 3600


def test_a_rerun_adopts_the_role_and_changes_nothing(iam: Any, created_role: dict[str, Any], desired: DesiredState) -> None:
    trust_before, policy_before = trust_policy_of(iam, ROLE), inline_policy_of(iam, ROLE, POLICY)

    outcome = ensure_role(iam, desired.role, ownership(desired, "exec-2"))

    assert (outcome.outcome, outcome.changed) == ("adopted", [])
    assert trust_policy_of(iam, ROLE) == trust_before
    assert inline_policy_of(iam, ROLE, POLICY) == policy_before
    assert role_tags(iam, ROLE)[CREATED_BY_TAG] == "exec-1"


def test_a_rerun_after_an_update_adopts(iam: Any, converged_role: dict[str, Any], desired: DesiredState) -> None:
    assert ensure_role(iam, desired.role, ownership(desired, "exec-b")).outcome == "adopted"


# -- roll_back ----------------------------------------------------------------------------


@pytest.fixture
def run_a(
    dynamodb: Any, iam: Any, desired: DesiredState, existing_table: Callable[..., list[dict[str, Any]]]
) -> dict[str, Any]:
    """Execution exec-a created two tables and the role; one table existed before with items; exec-b created another."""
    before = existing_table("FileFerry-UserContext", items=4)
    for name in ("FileFerry-ActiveSessions", "FileFerry-TransferRequests"):
        create_or_adopt_table(dynamodb, desired.table(name), ownership(desired, "exec-a"))
    create_or_adopt_table(dynamodb, desired.table("FileFerry-S3FileCache"), ownership(desired, "exec-b"))
    ensure_role(iam, desired.role, ownership(desired, "exec-a"))
    return {"items_before": before}


def test_rollback_deletes_the_tables_the_execution_created(dynamodb: Any, iam: Any, desired: DesiredState, run_a: dict[str, Any]) -> None:
    roll_back(dynamodb, iam, desired, "exec-a")

    assert not table_exists(dynamodb, "FileFerry-ActiveSessions")
    assert not table_exists(dynamodb, "FileFerry-TransferRequests")


def test_rollback_that_aws_refuses_for_one_table_deletes_the_rest_and_names_the_one_left(
    dynamodb: Any, iam: Any, desired: DesiredState, run_a: dict[str, Any]
) -> None:
    from botocore.exceptions import ClientError

    def refuse_sessions(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == "FileFerry-ActiveSessions":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DeleteTable")

    dynamodb.meta.events.register_first("provide-client-params.dynamodb.DeleteTable", refuse_sessions)
    report = roll_back(dynamodb, iam, desired, "exec-a")
    dynamodb.meta.events.unregister("provide-client-params.dynamodb.DeleteTable", refuse_sessions)

    assert table_exists(dynamodb, "FileFerry-ActiveSessions")
    assert not table_exists(dynamodb, "FileFerry-TransferRequests")
    assert not role_exists(iam, ROLE)
    assert report.not_deleted == ["table/FileFerry-ActiveSessions (AccessDenied)"]
    assert "COULD NOT DELETE table/FileFerry-ActiveSessions" in report.summary()


def test_rollback_keeps_a_pre_existing_table_and_its_items(
    dynamodb: Any, iam: Any, desired: DesiredState, run_a: dict[str, Any]
) -> None:
    roll_back(dynamodb, iam, desired, "exec-a")

    key = lambda item: item["user_id"]["S"]  # noqa: E731
    assert sorted(all_items(dynamodb, "FileFerry-UserContext"), key=key) == sorted(run_a["items_before"], key=key)


def test_rollback_keeps_a_table_another_execution_created(dynamodb: Any, iam: Any, desired: DesiredState, run_a: dict[str, Any]) -> None:
    roll_back(dynamodb, iam, desired, "exec-a")

    assert table_exists(dynamodb, "FileFerry-S3FileCache")


def test_rollback_deletes_the_role_the_execution_created_with_its_inline_policy(
    dynamodb: Any, iam: Any, desired: DesiredState, run_a: dict[str, Any]
) -> None:
    roll_back(dynamodb, iam, desired, "exec-a")

    assert not role_exists(iam, ROLE)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)


def test_rollback_of_another_execution_deletes_nothing_of_exec_a(
    dynamodb: Any, iam: Any, desired: DesiredState, run_a: dict[str, Any]
) -> None:
    roll_back(dynamodb, iam, desired, "exec-c")

    assert all(table_exists(dynamodb, name) for name in ("FileFerry-ActiveSessions", "FileFerry-TransferRequests"))
    assert role_exists(iam, ROLE)


def test_a_second_rollback_finishes_without_error_and_changes_nothing(
    dynamodb: Any, iam: Any, desired: DesiredState, run_a: dict[str, Any]
) -> None:
    roll_back(dynamodb, iam, desired, "exec-a")

    roll_back(dynamodb, iam, desired, "exec-a")

    assert sorted(dynamodb.list_tables()["TableNames"]) == ["FileFerry-S3FileCache", "FileFerry-UserContext"]
    assert not role_exists(iam, ROLE)


def test_rollback_restores_an_adopted_role_previous_policies(
    dynamodb: Any, iam: Any, desired: DesiredState, converged_role: dict[str, Any]
) -> None:
    roll_back(dynamodb, iam, desired, "exec-a", role_previous=converged_role["previous"])

    assert role_exists(iam, ROLE)
    assert canonical_statements(inline_policy_of(iam, ROLE, POLICY)) == canonical_statements(OLD_POLICY)
    assert canonical_statements(trust_policy_of(iam, ROLE)) == canonical_statements(OLD_TRUST)


def test_rollback_removes_the_inline_policy_an_adopted_role_did_not_have(dynamodb: Any, iam: Any, desired: DesiredState) -> None:
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(desired.role.trust_policy))
    outcome = ensure_role(iam, desired.role, ownership(desired, "exec-a"))

    roll_back(dynamodb, iam, desired, "exec-a", role_previous=outcome.previous)

    assert role_exists(iam, ROLE)
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []


def test_rollback_restores_extra_and_attached_policies_it_removed(dynamodb: Any, iam: Any, existing_role: None, desired: DesiredState) -> None:
    iam.put_role_policy(RoleName=ROLE, PolicyName="Legacy", PolicyDocument=json.dumps(OLD_POLICY))
    managed = iam.create_policy(PolicyName="S3Writes", PolicyDocument=json.dumps(OLD_POLICY))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=managed)
    outcome = ensure_role(iam, desired.role, ownership(desired, "exec-a"))

    roll_back(dynamodb, iam, desired, "exec-a", role_previous=outcome.previous)

    assert sorted(iam.list_role_policies(RoleName=ROLE)["PolicyNames"]) == sorted([POLICY, "Legacy"])
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]] == [managed]


def test_a_failure_midway_through_updating_an_existing_role_puts_back_what_was_already_changed(
    iam: Any, existing_role: None, desired: DesiredState
) -> None:
    from botocore.exceptions import ClientError

    from lambdas.core.errors import AccessDenied

    def refuse_policy_writes(**_: Any) -> None:
        # AWS refusing the call, as an injected fault would: the trust policy was already replaced.
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "PutRolePolicy")

    iam.meta.events.register_first("before-call.iam.PutRolePolicy", refuse_policy_writes)
    with pytest.raises(AccessDenied):
        ensure_role(iam, desired.role, ownership(desired, "exec-a"))
    iam.meta.events.unregister("before-call.iam.PutRolePolicy", refuse_policy_writes)

    assert canonical_statements(trust_policy_of(iam, ROLE)) == canonical_statements(OLD_TRUST)
    assert canonical_statements(inline_policy_of(iam, ROLE, POLICY)) == canonical_statements(OLD_POLICY)
