"""One Lambda package for every target: each function resolves the desired state of the account, Region and
settings its environment names, and the template gives each stack those from its parameters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from lambdas.core.errors import InvalidInput
from lambdas.core.target import Target, for_target
from provisioner.blueprint.cloudformation import template
from provisioner.blueprint.desired_state import desired_state
from provisioner.blueprint.iam_documents import Arns
from provisioner.blueprint.orchestrator import describe_orchestrator
from provisioner.config import Settings, load_settings
from cloudformation_resolution import resolved_in

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings() -> Settings:
    return load_settings(REPO / "config" / "config.yaml")


def _with(settings: Settings, **dynamodb: object) -> Settings:
    raw = settings.model_dump()
    raw["dynamodb"].update(dynamodb)
    return Settings.model_validate(raw)


def test_the_configs_own_target_resolves_to_the_configs_desired_state(settings: Settings) -> None:
    for changed in (settings, _with(settings, kms_key_id="alias/fileferry", deletion_protection=False)):
        desired = desired_state(changed)
        assert for_target(desired, Target.of(desired)) == desired
        assert Target.from_environment(Target.of(desired).environment() | {"AWS_REGION": desired.region}) == Target.of(desired)


def test_another_target_gets_its_own_arns_external_id_buckets_key_and_protection(settings: Settings) -> None:
    desired = desired_state(settings)
    target = Target("222222222222", "eu-west-1", "other-id", ("logs", "media"), "alias/theirs",
                    (desired.tables[1].name,), ())
    there = for_target(desired, target)
    text = str(dataclasses.replace(there, home_region=""))  # the config's Region stays the home Region
    assert "123456789012" not in text and "us-east-1" not in text
    assert there.role.trust_policy["Statement"][1]["Condition"] == {"StringEquals": {"sts:ExternalId": "other-id"}}
    assert there.role.trust_policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert "arn:aws:s3:::media/*" in str(there.role.inline_policy)
    assert [t.point_in_time_recovery for t in there.tables] == [False, True, False, False, False]
    assert {t.kms_key_id for t in there.tables} == {"alias/theirs"}
    assert not any(t.deletion_protection for t in there.tables)
    # The account's one role: this Region's tables through this Region's own inline policy.
    assert there.role.inline_policy_name == "FileFerryReadOnlyPolicy-eu-west-1"
    assert for_target(desired, dataclasses.replace(target, region="us-east-1")).role.inline_policy_name == "FileFerryReadOnlyPolicy"


@pytest.mark.parametrize("change, named", [
    ({"account_id": "12345"}, "FILEFERRY_ACCOUNT_ID"),
    ({"region": "mars"}, "AWS_REGION"),
    ({"external_id": ""}, "FILEFERRY_EXTERNAL_ID"),
    ({"readable_buckets": ()}, "FILEFERRY_READABLE_BUCKETS"),
    ({"deletion_protected_tables": ("NotATable",)}, "NotATable"),
])
def test_a_target_setting_that_cannot_apply_is_refused_by_name(settings: Settings, change: dict, named: str) -> None:
    desired = desired_state(settings)
    with pytest.raises(InvalidInput, match=named):
        for_target(desired, dataclasses.replace(Target.of(desired), **change))


@pytest.mark.parametrize("key", ["alias/fileferry", "arn:aws:kms:us-east-1:123456789012:key/"
                                 "1234abcd-12ab-34cd-56ef-1234567890ab"])
def test_the_template_with_a_kms_key_parameter_grants_what_deploy_grants_for_that_key(settings: Settings, key: str) -> None:
    """The roles' KMS statements depend on the kind of key: the template picks them by condition."""
    desired = desired_state(settings)
    neutral = yaml.safe_load(yaml.safe_dump(template(settings, desired, "0" * 64)))
    resolved = resolved_in(neutral, desired.account_id, desired.region, "aws", {"CodeBucketPrefix": "code", "KmsKeyId": key})
    keyed = desired_state(_with(settings, kms_key_id=key))
    orchestrator = describe_orchestrator(settings, keyed, Arns.for_state(keyed, keyed.account_id))
    policies = {r["Properties"]["PolicyName"] + r["Properties"]["RoleName"]["Ref"]: r["Properties"]["PolicyDocument"]
                for r in resolved["Resources"].values() if r["Type"] == "AWS::IAM::RolePolicy"}
    expected = {role.policy_name + "".join(p.capitalize() for p in role.key.replace("-", " ").split()) + "Role": role.policy
                for role in orchestrator.roles}
    assert policies == expected
    assert "kms:" in str(policies)
