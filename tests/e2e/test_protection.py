"""Tables a production account can trust: point-in-time recovery and deletion protection as the config says,
a teardown that keeps protected data unless told otherwise, and a KMS key whose loss is noticed. Read back
with boto3 (and the CLI's exit codes)."""

from __future__ import annotations

import json

import pytest
import yaml

from provisioner.runs import executions as runs

PROTECTED = sorted(["FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning"])
UNPROTECTED = sorted(["FileFerry-ActiveSessions", "FileFerry-S3FileCache"])


def _tables(clients) -> list[str]:
    return sorted(name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-"))


def _pitr(clients, table: str) -> dict:
    return clients.dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]


def _protected(clients, table: str) -> bool:
    return clients.dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"]


def _items(clients, table: str) -> list[dict]:
    return sorted(clients.dynamodb.scan(TableName=table)["Items"], key=json.dumps)


def test_provisioning_protects_the_tables_that_hold_records_and_leaves_sessions_and_cache_unprotected(run, clients):
    result = run({"action": "provision"})

    assert result.succeeded and result.output["verified"] is True, f"{result.error}: {result.cause}"
    assert any(line.startswith("table FileFerry-UserContext: created") and "point-in-time recovery turned on" in line
               for line in result.progress), result.progress
    for table in PROTECTED:
        assert _protected(clients, table) is True, table
        assert (_pitr(clients, table)["PointInTimeRecoveryStatus"], _pitr(clients, table)["RecoveryPeriodInDays"]) == ("ENABLED", 35)
    for table in UNPROTECTED:
        assert _protected(clients, table) is False, table
        assert _pitr(clients, table)["PointInTimeRecoveryStatus"] == "DISABLED", table


def test_point_in_time_recovery_or_protection_turned_off_by_hand_is_drift_and_remediation_turns_them_back_on(
    aws, run, clients, cli
):
    assert run({"action": "provision"}).succeeded
    clients.dynamodb.update_continuous_backups(TableName="FileFerry-UserContext",
                                               PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    clients.dynamodb.update_table(TableName="FileFerry-TransferRequests", DeletionProtectionEnabled=False)
    aws.clock.advance(aws.consistency.seconds + 1)

    code, out = cli("--json", "run", "drift-check")
    drift = json.loads(out)
    remediated_code, _ = cli("--json", "run", "drift-check", "--input", '{"remediate": true}')
    aws.clock.advance(aws.consistency.seconds + 1)
    clean_code, _ = cli("--json", "run", "drift-check")

    assert code == 3
    found = {(d["resource"], d["property"]) for d in drift["output"]["differences"]}
    assert found == {("table/FileFerry-UserContext", "point_in_time_recovery"),
                     ("table/FileFerry-TransferRequests", "deletion_protection")}
    assert remediated_code == 0 and clean_code == 0
    assert _pitr(clients, "FileFerry-UserContext")["PointInTimeRecoveryStatus"] == "ENABLED"
    assert _protected(clients, "FileFerry-TransferRequests") is True


def test_a_teardown_keeps_protected_tables_and_their_items_unless_its_input_lifts_the_protection(run, clients):
    assert run({"action": "provision"}).succeeded
    item = {"user_id": {"S": "user-1"}, "note": {"S": "kept"}}
    clients.dynamodb.put_item(TableName="FileFerry-UserContext", Item=item)

    kept = run({"action": "teardown", "confirm": "fileferry-provisioner"})

    assert kept.succeeded, f"{kept.error}: {kept.cause}"
    assert _tables(clients) == PROTECTED
    assert _items(clients, "FileFerry-UserContext") == [item]
    assert sorted(entry["table"] for entry in kept.output["kept"]) == PROTECTED
    assert all("deletion protection" in entry["why"] for entry in kept.output["kept"])
    assert clients.dynamodb.list_backups(TableName="FileFerry-UserContext")["BackupSummaries"] == []

    lifted = run({"action": "teardown", "confirm": "fileferry-provisioner", "lift_deletion_protection": True})

    assert lifted.succeeded, f"{lifted.error}: {lifted.cause}"
    assert _tables(clients) == []
    (backup,) = clients.dynamodb.list_backups(TableName="FileFerry-UserContext")["BackupSummaries"]
    clients.dynamodb.restore_table_from_backup(TargetTableName="FileFerry-Restored", BackupArn=backup["BackupArn"])
    assert _items(clients, "FileFerry-Restored") == [item]


@pytest.fixture
def customer_key(aws, config_path, clients):
    """A customer managed key the config encrypts the tables with; its ARN."""
    kms = clients.client("kms")
    arn = kms.create_key(Description="FileFerry tables")["KeyMetadata"]["Arn"]
    config = yaml.safe_load(config_path.read_text())
    config["dynamodb"]["kms_key_id"] = arn
    config_path.write_text(yaml.safe_dump(config))
    return arn


def test_a_disabled_customer_managed_key_is_drift_naming_kms_and_the_tables_until_it_is_enabled_again(
    aws, customer_key, cli, clients
):
    code, _ = cli("up")
    assert code == 0
    kms = clients.client("kms")
    kms.disable_key(KeyId=customer_key)
    aws.clock.advance(600)  # DynamoDB notices within minutes: the tables become inaccessible

    drift_code, out = cli("--json", "run", "drift-check")
    differences = json.loads(out)["output"]["differences"]
    kms.enable_key(KeyId=customer_key)
    clean_code, _ = cli("--json", "run", "drift-check")

    assert drift_code == 3
    by_table = {d["resource"]: d for d in differences if d["property"] == "kms_key_state"}
    assert set(by_table) == {f"table/{name}" for name in PROTECTED + UNPROTECTED}
    assert by_table["table/FileFerry-UserContext"]["actual"]["state"] == "Disabled"
    assert "enable-key" in by_table["table/FileFerry-UserContext"]["actual"]["what_to_do"]
    inaccessible = [d for d in differences if d["property"] == "encryption_key"]
    assert inaccessible and all(d["actual"]["status"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS" for d in inaccessible)
    assert clean_code == 0
    assert clients.dynamodb.describe_table(TableName="FileFerry-UserContext")["Table"]["TableStatus"] == "ACTIVE"


def test_the_embedded_aws_refuses_item_reads_of_a_table_whose_key_is_pending_deletion(aws, clients):
    kms, dynamodb = clients.client("kms"), clients.dynamodb
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    dynamodb.create_table(TableName="keyed", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                          SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn})
    dynamodb.put_item(TableName="keyed", Item={"k": {"S": "1"}})
    kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert dynamodb.get_item(TableName="keyed", Key={"k": {"S": "1"}})["Item"]  # not noticed yet
    aws.clock.advance(600)

    described = dynamodb.describe_table(TableName="keyed")["Table"]
    with pytest.raises(dynamodb.exceptions.ClientError) as refused:
        dynamodb.get_item(TableName="keyed", Key={"k": {"S": "1"}})
    kms.cancel_key_deletion(KeyId=arn)
    kms.enable_key(KeyId=arn)

    assert described["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    assert described["SSEDescription"]["InaccessibleEncryptionDateTime"]
    assert refused.value.response["Error"]["Code"] == "ValidationException" and arn in refused.value.response["Error"]["Message"]
    assert dynamodb.get_item(TableName="keyed", Key={"k": {"S": "1"}})["Item"] == {"k": {"S": "1"}}


def test_a_rollback_deletes_the_protected_tables_its_run_created(aws, run, clients):
    aws.set_faults(["iam:CreateRole=AccessDeniedException*1"])

    result = run({"action": "provision"})

    assert (result.status, result.error) == ("FAILED", "AccessDenied")
    aws.clock.advance(aws.consistency.seconds + 1)
    assert _tables(clients) == []  # each created with deletion protection, lifted by the run's own rollback
