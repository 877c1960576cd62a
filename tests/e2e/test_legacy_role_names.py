"""Upgrading from the region-less role names (`<name>-<suffix>`) to `<name>-<region>-<suffix>`.

An earlier version is played by this one with the old naming patched in: its deploy made those roles, tagged,
with policies for its Region. deploy and destroy remove this Region's such roles once nothing uses them, and
keep (and name) a role whose policy is for another Region's orchestrator, which may still run the old version.
"""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.blueprint import orchestrator
from provisioner.blueprint.iam_documents import legacy_role_name, role_suffixes
from provisioner.config import resolve
from provisioner.factory import CLIFactory
from provisioner.runs import executions as runs

NAME = "fileferry-provisioner"
LEGACY = sorted(legacy_role_name(NAME, suffix) for suffix in role_suffixes())


def _factory(aws: Any, config_path: Any, region: str) -> CLIFactory:
    return CLIFactory(resolve(config_path, region=region, endpoint_url=aws.endpoint_url), local=True, sleep=aws.clock.advance)


def _deploy(factory: CLIFactory, printed: list[str] | None = None) -> str:
    deployer = factory.deployer()
    if printed is not None:
        deployer.progress = printed.append
    return deployer.deploy().state_machine_arn


def _deploy_as_an_earlier_version(factory: CLIFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(orchestrator, "role_name", lambda name, region, suffix: legacy_role_name(name, suffix))
        return _deploy(factory)


def _roles(aws: Any, factory: CLIFactory) -> list[str]:
    aws.clock.advance(aws.consistency.seconds)  # IAM's reads have caught up
    iam = factory.clients().iam
    return sorted(role["RoleName"] for page in iam.get_paginator("list_roles").paginate()
                  for role in page["Roles"] if role["RoleName"].startswith(f"{NAME}-"))


def _runs(factory: CLIFactory, state_machine_arn: str) -> bool:
    sfn = factory.clients().stepfunctions
    return runs.Follower(sfn, poll_seconds=0.2).follow(runs.start(sfn, state_machine_arn, {"action": "drift-check"})).succeeded


def test_deploy_moves_the_orchestrator_to_region_named_roles_and_removes_the_old_ones(aws, config_path, monkeypatch) -> None:
    factory = _factory(aws, config_path, "us-east-1")
    _deploy_as_an_earlier_version(factory, monkeypatch)
    assert _roles(aws, factory) == LEGACY

    arn = _deploy(factory)

    roles = _roles(aws, factory)
    assert not set(LEGACY) & set(roles)
    assert roles == sorted(f"{NAME}-us-east-1-{suffix}" for suffix in role_suffixes())
    assert _runs(factory, arn)


def test_old_roles_another_regions_orchestrator_uses_are_kept_until_that_region_upgrades(aws, config_path, monkeypatch) -> None:
    west, east = _factory(aws, config_path, "us-west-2"), _factory(aws, config_path, "us-east-1")
    west_arn = _deploy_as_an_earlier_version(west, monkeypatch)

    printed: list[str] = []
    _deploy(east, printed)

    assert set(LEGACY) <= set(_roles(aws, east))
    assert f"kept role {NAME}-states (an earlier version's name, without a Region): its policy is for the orchestrator " \
           "in us-west-2; a deploy or destroy there removes it" in printed
    assert _runs(west, west_arn)  # the old orchestrator in us-west-2 still works
    assert east.deployer().destroy()  # destroy in us-east-1 leaves them too
    assert set(LEGACY) <= set(_roles(aws, east))
    assert _runs(west, west_arn)

    _deploy(west)  # us-west-2 upgrades: now they go

    assert _roles(aws, west) == sorted(f"{NAME}-us-west-2-{suffix}" for suffix in role_suffixes())


def test_destroy_removes_this_regions_old_roles(aws, config_path, monkeypatch) -> None:
    factory = _factory(aws, config_path, "us-east-1")
    _deploy_as_an_earlier_version(factory, monkeypatch)

    removed = factory.deployer().destroy()

    assert {f"role/{name}" for name in LEGACY} <= set(removed)
    assert _roles(aws, factory) == []
