"""Rollback of changes a run made to resources it did not create, and of runs whose history is unreadable."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from fileferry_aws import all_items, table_exists

from lambdas.core.desired import DesiredState
import datetime
import json

from lambdas.core.errors import CreationInFlight
from lambdas.core.rollback import RunChanges, StepRecord, changes_made_by, execution_arn, roll_back
from lambdas.core.tables import create_or_adopt_table, ensure_ttl

USER_CONTEXT = "FileFerry-UserContext"


@pytest.fixture
def adopted_table_given_ttl(dynamodb: Any, desired: DesiredState, existing_table, tags: dict[str, str]) -> list[dict[str, Any]]:
    """A pre-existing UserContext (no TTL, three items) that run "exec-1" adopted and enabled TTL on."""
    items = existing_table(USER_CONTEXT)
    spec = desired.table(USER_CONTEXT)
    assert create_or_adopt_table(dynamodb, spec, tags).outcome == "adopted"
    assert ensure_ttl(dynamodb, spec) == "enabled"
    return items


def test_rollback_keeps_an_adopted_table_and_says_its_ttl_could_not_be_turned_back_off(
    dynamodb: Any, iam: Any, desired: DesiredState, adopted_table_given_ttl: list[dict[str, Any]]
) -> None:
    report = roll_back(dynamodb, iam, desired, "exec-1", changes=RunChanges(ttl_enabled_tables=[USER_CONTEXT]))

    assert table_exists(dynamodb, USER_CONTEXT)
    assert len(all_items(dynamodb, USER_CONTEXT)) == len(adopted_table_given_ttl)
    assert any(entry.startswith(f"table/{USER_CONTEXT} TTL") for entry in report.not_restored)
    assert f"could not restore table/{USER_CONTEXT} TTL" in report.summary()


def test_a_rollback_whose_run_history_is_unreadable_still_deletes_what_the_run_created_and_says_so(
    dynamodb: Any, iam: Any, desired: DesiredState, provisioned: dict[str, Any]
) -> None:
    stepfunctions = boto3.client("stepfunctions", region_name=desired.region)
    missing_run = execution_arn(
        "arn:aws:lambda:us-east-1:123456789012:function:fileferry-provisioner-rollback", desired.provisioner_name, "exec-1"
    )

    changes = changes_made_by(stepfunctions, missing_run)
    report = roll_back(dynamodb, iam, desired, "exec-1", changes=changes)

    assert not any(table_exists(dynamodb, spec.name) for spec in desired.tables)
    assert desired.role.name not in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert any("run history unreadable" in entry for entry in report.not_restored)


def test_the_execution_arn_is_in_the_rollback_functions_partition_region_and_account() -> None:
    arn = execution_arn("arn:aws-cn:lambda:cn-north-1:210987654321:function:fp-rollback", "fp", "provision-1")
    assert arn == "arn:aws-cn:states:cn-north-1:210987654321:execution:fp:provision-1"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _in_flight_ensure_role(began: datetime.datetime) -> RunChanges:
    """The history of a run stopped while its EnsureRole invocation had not reported back."""
    return RunChanges(history_read=True, role=StepRecord(first_scheduled=began, in_flight_since=began))


def test_a_rollback_waits_for_an_ensure_role_still_in_flight_and_then_deletes_the_role_it_created(
    dynamodb: Any, iam: Any, desired: DesiredState
) -> None:
    began = _now() - datetime.timedelta(seconds=1)
    with pytest.raises(CreationInFlight):
        roll_back(dynamodb, iam, desired, "exec-1", changes=_in_flight_ensure_role(began))

    # The invocation created the role after it began; its tags are not readable yet (no tags at all here).
    iam.create_role(RoleName=desired.role.name, AssumeRolePolicyDocument=json.dumps(desired.role.trust_policy))
    report = roll_back(dynamodb, iam, desired, "exec-1", changes=_in_flight_ensure_role(began))

    assert desired.role.name not in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert f"role/{desired.role.name}" in report.deleted


def test_a_role_that_existed_before_an_ensure_role_in_flight_is_kept_and_the_report_says_its_changes_are_unknown(
    dynamodb: Any, iam: Any, desired: DesiredState
) -> None:
    iam.create_role(RoleName=desired.role.name, AssumeRolePolicyDocument=json.dumps(desired.role.trust_policy))
    began = _now() + datetime.timedelta(seconds=1)  # the run's EnsureRole started after the role existed

    report = roll_back(dynamodb, iam, desired, "exec-1", changes=_in_flight_ensure_role(began))

    assert desired.role.name in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert f"role/{desired.role.name}" in report.kept
    assert any("EnsureRole was still running" in entry for entry in report.not_restored)
