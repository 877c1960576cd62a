"""One account, two Regions (issue 23, item 5): IAM is global, DynamoDB is Regional.

Each Region has its own orchestrator (roles named `<name>-<region>-<suffix>`) and its own tables; the one
FileFerryReadOnlyRole grants each Region's tables by that Region's own inline policy: FileFerryReadOnlyPolicy in
the config's Region (us-east-1), FileFerryReadOnlyPolicy-us-west-2 in the other. Neither Region's runs undo
the other's. The embedded AWS keeps IAM per account and DynamoDB per Region, as moto does.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from provisioner.config import resolve
from provisioner.factory import CLIFactory
from provisioner.runs import executions as runs

HOME, OTHER = "us-east-1", "us-west-2"  # the config's dynamodb.region, and a second Region
ROLE = "FileFerryReadOnlyRole"
POLICY = {HOME: "FileFerryReadOnlyPolicy", OTHER: f"FileFerryReadOnlyPolicy-{OTHER}"}
NAME = "fileferry-provisioner"


@pytest.fixture
def region(aws, config_path):
    """region(R): a deployed orchestrator in R, with `run(input)` and the `cli(...)` of deploy.py there."""
    made: dict[str, Region] = {}

    def in_region(name: str) -> Region:
        if name not in made:
            made[name] = Region(aws, config_path, name)
        return made[name]

    return in_region


class Region:
    def __init__(self, aws: Any, config_path: Any, name: str):
        self.name = name
        self.aws = aws
        self.config_path = config_path
        self.factory = CLIFactory(resolve(config_path, region=name, endpoint_url=aws.endpoint_url), local=True,
                                  sleep=aws.clock.advance)
        self.clients = self.factory.clients()
        self.state_machine_arn = self.deploy()

    def deploy(self) -> str:
        return self.factory.deployer().deploy().state_machine_arn

    def run(self, run_input: Any) -> runs.RunResult:
        sfn = self.clients.stepfunctions
        return runs.Follower(sfn, poll_seconds=0.2).follow(runs.start(sfn, self.state_machine_arn, run_input))

    def cli(self, *args: str) -> int:
        """deploy.py's exit code for `args`, in this Region."""
        from provisioner.cli.commands import main

        return main(["--config", str(self.config_path), "--endpoint-url", self.aws.endpoint_url, "--region", self.name, *args])

    def tables(self) -> list[str]:
        return sorted(name for name in self.clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-"))

    def orchestrator_roles(self) -> list[str]:
        return sorted(role["RoleName"] for page in self.clients.iam.get_paginator("list_roles").paginate()
                      for role in page["Roles"] if role["RoleName"].startswith(f"{NAME}-{self.name}-"))


def _iam(aws: Any) -> Any:
    return boto3.client("iam", region_name=HOME, endpoint_url=aws.endpoint_url, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _policies(aws: Any) -> dict[str, dict[str, Any]]:
    """The role's inline policies, once IAM's reads have caught up with the runs' writes."""
    aws.clock.advance(aws.consistency.seconds)
    iam = _iam(aws)
    names = iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    return {name: iam.get_role_policy(RoleName=ROLE, PolicyName=name)["PolicyDocument"] for name in names}


def _table_arns(document: dict[str, Any]) -> set[str]:
    (statement,) = [s for s in document["Statement"] if s.get("Sid") == "FileFerryTables"]
    return {arn for arn in statement["Resource"] if not arn.endswith("/index/*")}


def _tables_of(region: str) -> set[str]:
    names = ("ActiveSessions", "UserContext", "TransferRequests", "AgentLearning", "S3FileCache")
    return {f"arn:aws:dynamodb:{region}:123456789012:table/FileFerry-{name}" for name in names}


def _drift_check_is_clean(region: Region) -> None:
    result = region.run({"action": "drift-check"})
    assert result.succeeded, (region.name, result.error, result.cause)
    assert result.output["drifted"] is False, (region.name, result.output["differences"])
    assert result.output["access"], "the access check proved nothing"


def test_two_regions_provision_check_clean_and_tear_down_and_destroy_one_without_the_other(aws, region) -> None:
    home, other = region(HOME), region(OTHER)
    assert home.orchestrator_roles() and other.orchestrator_roles()
    assert not set(home.orchestrator_roles()) & set(other.orchestrator_roles())

    for each in (home, other):
        result = each.run({"action": "provision"})
        assert result.succeeded, (each.name, result.error, result.cause)
        assert result.output["verified"] is True, (each.name, result.output["differences"])

    # One role, one inline policy per Region, each naming its own Region's tables only.
    policies = _policies(aws)
    assert sorted(policies) == sorted(POLICY.values())
    assert _table_arns(policies[POLICY[HOME]]) == _tables_of(HOME)
    assert _table_arns(policies[POLICY[OTHER]]) == _tables_of(OTHER)
    # Both drift checks clean: neither Region takes the other's policy for drift (exit 0).
    for each in (home, other):
        assert each.cli("run", "drift-check") == 0, each.name

    # Teardown in the other Region: its tables and its policy go, the role stays for the home Region.
    teardown = other.run({"action": "teardown", "confirm": NAME, "lift_deletion_protection": True})
    assert teardown.succeeded, (teardown.error, teardown.cause)
    assert teardown.output["result"] == "kept"
    assert teardown.output["deleted_policies"] == [POLICY[OTHER]]
    assert teardown.output["other_regions_policies"] == [POLICY[HOME]]
    assert other.tables() == [] and len(home.tables()) == 5
    assert sorted(_policies(aws)) == [POLICY[HOME]]
    _drift_check_is_clean(home)

    # destroy in the other Region removes its orchestrator only: the home Region's still runs.
    assert other.cli("destroy", "--yes") == 0
    assert other.orchestrator_roles() == []
    assert len(home.orchestrator_roles()) == len(region(HOME).factory.deployer().orchestrator().roles)
    _drift_check_is_clean(home)


def test_a_rollback_in_one_region_never_touches_the_policy_the_other_wrote(aws, region) -> None:
    home, other = region(HOME), region(OTHER)
    first = other.run({"action": "provision"})  # the other Region creates the role
    assert first.succeeded, (first.error, first.cause)
    assert home.run({"action": "drift-check"}).output["drifted"] is True  # nothing of the home Region's yet

    # A provision in the home Region that fails after writing its policy (the access check is refused):
    # its rollback deletes its own tables and puts the role back as it found it, the other's policy untouched.
    aws.set_faults(["dynamodb:GetResourcePolicy=AccessDeniedException"])
    failed = home.run({"action": "provision"})
    aws.set_faults([])
    assert failed.status == "FAILED" and failed.error == "AccessDenied", failed.cause
    assert home.tables() == []
    assert sorted(_policies(aws)) == [POLICY[OTHER]]
    assert _table_arns(_policies(aws)[POLICY[OTHER]]) == _tables_of(OTHER)
    _drift_check_is_clean(other)

    # The home Region provisions after all; then the first run (which created the role) is rolled back: the
    # role stays for the home Region, with its policy, and only the other Region's part is undone.
    assert home.run({"action": "provision"}).succeeded
    rollback = other.run({"action": "rollback", "execution_arn": first.execution_arn})
    assert rollback.succeeded, (rollback.error, rollback.cause)
    assert f"role/{ROLE} inline policy {POLICY[OTHER]}" in rollback.output["deleted"]
    assert rollback.output["shared"] == [f"role/{ROLE} (kept for {POLICY[HOME]} of other Regions)"]
    assert other.tables() == []
    assert sorted(_policies(aws)) == [POLICY[HOME]]
    _drift_check_is_clean(home)
