"""The read-only role shared by two Regions of one account: each Region's steps own only their own inline policy.

In-process AWS (IAM is global there too); "home" is the shipped config's Region (us-east-1), "other" the same
config moved to us-west-2, as `deploy.py --region us-west-2` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from fileferry_aws import ownership, role_exists

from lambdas.core.desired import DesiredState
from lambdas.core.diff import diff_role
from lambdas.core.observe import observe_role
from lambdas.core.role import ensure_role
from lambdas.core.rollback import roll_back
from lambdas.core.teardown import teardown_role
from provisioner.blueprint.desired_state import desired_state
from provisioner.config import load_settings

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
ROLE = "FileFerryReadOnlyRole"
HOME_POLICY, OTHER_POLICY = "FileFerryReadOnlyPolicy", "FileFerryReadOnlyPolicy-us-west-2"


@pytest.fixture
def other() -> DesiredState:
    return desired_state(load_settings(SHIPPED_CONFIG).in_region("us-west-2"))


def _policies(iam: Any) -> list[str]:
    return sorted(iam.list_role_policies(RoleName=ROLE)["PolicyNames"])


def test_each_region_names_its_own_policy(desired: DesiredState, other: DesiredState) -> None:
    assert (desired.role.name, desired.role.inline_policy_name) == (ROLE, HOME_POLICY)
    assert (other.role.name, other.role.inline_policy_name) == (ROLE, OTHER_POLICY)
    assert other.home_region == desired.home_region == "us-east-1"
    assert other.role.trust_policy == desired.role.trust_policy  # shared: both Regions write the same one


def test_a_second_region_adds_its_policy_and_leaves_the_first_regions(iam: Any, desired: DesiredState, other: DesiredState) -> None:
    ensure_role(iam, desired.role, ownership(desired, "home-1"))
    home_document = iam.get_role_policy(RoleName=ROLE, PolicyName=HOME_POLICY)["PolicyDocument"]

    outcome = ensure_role(iam, other.role, ownership(other, "other-1"))

    assert (outcome.outcome, outcome.changed) == ("updated", [f"inline_policy:{OTHER_POLICY}"])
    assert outcome.previous == {"inline_policy": None}
    assert _policies(iam) == [HOME_POLICY, OTHER_POLICY]
    assert iam.get_role_policy(RoleName=ROLE, PolicyName=HOME_POLICY)["PolicyDocument"] == home_document
    # Neither Region sees a difference in the other's policy; a rerun in either changes nothing.
    observed = observe_role(iam, ROLE)
    assert diff_role(desired.role, observed) == [] and diff_role(other.role, observed) == []
    assert ensure_role(iam, desired.role, ownership(desired, "home-2")).outcome == "adopted"
    assert ensure_role(iam, other.role, ownership(other, "other-2")).outcome == "adopted"


def test_a_policy_of_no_region_is_still_every_regions_difference(iam: Any, desired: DesiredState, other: DesiredState) -> None:
    ensure_role(iam, desired.role, ownership(desired, "home-1"))
    ensure_role(iam, other.role, ownership(other, "other-1"))
    anything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    iam.put_role_policy(RoleName=ROLE, PolicyName="FileFerryReadOnlyPolicy-extra", PolicyDocument=json.dumps(anything))

    observed = observe_role(iam, ROLE)

    for state in (desired, other):
        assert [d.property for d in diff_role(state.role, observed)] == ["inline_policy:FileFerryReadOnlyPolicy-extra"]


def test_this_regions_tables_granted_under_the_home_name_are_this_regions_to_replace(
    iam: Any, desired: DesiredState, other: DesiredState
) -> None:
    # As an earlier version left it after `deploy --region us-west-2`: the spec's name, us-west-2's tables.
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(other.role.trust_policy))
    iam.put_role_policy(RoleName=ROLE, PolicyName=HOME_POLICY, PolicyDocument=json.dumps(other.role.inline_policy))

    outcome = ensure_role(iam, other.role, ownership(other, "other-1"))

    assert sorted(outcome.changed) == [f"inline_policy:{HOME_POLICY}", f"inline_policy:{OTHER_POLICY}"]
    assert _policies(iam) == [OTHER_POLICY]
    assert outcome.previous["extra_inline_policies"] == {HOME_POLICY: other.role.inline_policy}


def test_teardown_in_one_region_deletes_its_policy_and_keeps_the_role_for_the_other(
    iam: Any, desired: DesiredState, other: DesiredState
) -> None:
    ensure_role(iam, desired.role, ownership(desired, "home-1"))
    ensure_role(iam, other.role, ownership(other, "other-1"))

    kept = teardown_role(iam, other.role)

    assert kept["result"] == "kept"
    assert (kept["deleted_policies"], kept["other_regions_policies"]) == ([OTHER_POLICY], [HOME_POLICY])
    assert _policies(iam) == [HOME_POLICY]
    assert teardown_role(iam, other.role)["result"] == "kept"  # a retry: nothing more of its own to delete

    deleted = teardown_role(iam, desired.role)  # the last Region's teardown deletes the role

    assert (deleted["result"], deleted["deleted_policies"]) == ("deleted", [HOME_POLICY])
    assert not role_exists(iam, ROLE)


def test_rollback_of_the_run_that_created_the_role_keeps_it_for_the_region_that_uses_it_since(
    iam: Any, desired: DesiredState, other: DesiredState
) -> None:
    assert ensure_role(iam, other.role, ownership(other, "other-1")).outcome == "created"
    ensure_role(iam, desired.role, ownership(desired, "home-1"))
    dynamodb = boto3.client("dynamodb", region_name="us-west-2")

    report = roll_back(dynamodb, iam, other, "other-1")

    assert report.deleted == [f"role/{ROLE} inline policy {OTHER_POLICY}"]
    assert report.shared == [f"role/{ROLE} (kept for {HOME_POLICY} of other Regions)"]
    assert _policies(iam) == [HOME_POLICY]
    assert "kept role/FileFerryReadOnlyRole (kept for FileFerryReadOnlyPolicy of other Regions)" in report.summary()


def test_rollback_of_a_run_that_adopted_the_role_removes_only_its_own_policy(
    iam: Any, desired: DesiredState, other: DesiredState
) -> None:
    ensure_role(iam, desired.role, ownership(desired, "home-1"))
    previous = ensure_role(iam, other.role, ownership(other, "other-1")).previous
    dynamodb = boto3.client("dynamodb", region_name="us-west-2")

    report = roll_back(dynamodb, iam, other, "other-1", role_previous=previous)

    assert report.restored == [f"role/{ROLE} inline policy {OTHER_POLICY}"]
    assert _policies(iam) == [HOME_POLICY]
