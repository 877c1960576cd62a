"""Teardown: the spec's rollback instructions as a run, backing up every table that holds data first."""

from __future__ import annotations

import json

import pytest

from provisioner.blueprint.desired_state import desired_state

ROLE, POLICY = "FileFerryReadOnlyRole", "FileFerryReadOnlyPolicy"
WITH_ITEMS = ("FileFerry-UserContext", "FileFerry-AgentLearning")
PROTECTED = "FileFerry-S3FileCache"


def _key_attributes(spec) -> list[str]:
    return [spec.hash_key.name] + ([spec.range_key.name] if spec.range_key else [])


def _items(table: str, spec) -> list[dict]:
    items = []
    for number in range(3):
        item = {name: {"S": f"{table}-{name}-{number}"} for name in _key_attributes(spec)}
        item["payload"] = {"S": f"value-{number}"}
        items.append(item)
    return items


def _scan(dynamodb, table: str) -> list[dict]:
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return sorted(items, key=json.dumps)


def _table_names(clients) -> list[str]:
    return sorted(name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-"))


@pytest.fixture
def existing_infrastructure(aws, clients, factory):
    """The five tables and the role, as the spec's scripts would have left them; some tables hold items,
    one has deletion protection. Returns the items per table."""
    desired = desired_state(factory.settings)
    items = {}
    for spec in desired.tables:
        keys = _key_attributes(spec)
        clients.dynamodb.create_table(
            TableName=spec.name,
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in keys],
            KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in zip(keys, ("HASH", "RANGE"))],
            BillingMode="PAY_PER_REQUEST",
            DeletionProtectionEnabled=spec.name == PROTECTED,
        )
        if spec.name in WITH_ITEMS:
            items[spec.name] = _items(spec.name, spec)
            for item in items[spec.name]:
                clients.dynamodb.put_item(TableName=spec.name, Item=item)
    clients.iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(desired.role.trust_policy))
    clients.iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(desired.role.inline_policy))
    aws.clock.advance(aws.consistency.seconds)  # left long ago: every read has caught up with these writes
    return items


def test_teardown_without_the_right_confirm_changes_nothing(cli, run, clients, existing_infrastructure):
    code, out = cli("run", "teardown")  # no confirm, no terminal to ask on: refused before any run
    assert code == 2 and "confirm" in out

    result = run({"action": "teardown", "confirm": "yes"})

    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert "confirm" in result.cause
    assert len(_table_names(clients)) == 5
    for table, items in existing_infrastructure.items():
        assert _scan(clients.dynamodb, table) == sorted(items, key=json.dumps)
    assert clients.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]
    assert clients.dynamodb.list_backups()["BackupSummaries"] == []


@pytest.mark.chaos(0.03, seed=303)
def test_teardown_backs_up_every_table_with_items_then_deletes_the_tables_and_the_role(
    cli, deployed, clients, existing_infrastructure
):
    code, out = cli("run", "teardown", "--input", '{"confirm": "fileferry-provisioner"}')

    assert code == 0, out
    assert _table_names(clients) == [PROTECTED]  # reported, not forced
    assert f"{PROTECTED}: deletion-protected" in out
    assert ROLE not in [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]
    backups = clients.dynamodb.list_backups()["BackupSummaries"]
    assert sorted(backup["TableName"] for backup in backups) == sorted(WITH_ITEMS)
    for backup in backups:
        assert backup["BackupArn"] in out  # the user is told where the data went
        restored = f"{backup['TableName']}-restored"
        clients.dynamodb.restore_table_from_backup(TargetTableName=restored, BackupArn=backup["BackupArn"])
        assert _scan(clients.dynamodb, restored) == sorted(existing_infrastructure[backup["TableName"]], key=json.dumps)
