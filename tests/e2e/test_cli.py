"""deploy.py as an operator uses it, against the embedded AWS, results read back with boto3."""

from __future__ import annotations

import json

from provisioner.cli import main


def _without_run_identity(result: dict) -> dict:
    """A run's JSON without what differs between any two runs (its ARN and its duration)."""
    return {k: v for k, v in result.items() if k not in ("execution_arn", "duration_seconds")}


def test_json_before_or_after_the_command_gives_the_same_json(aws, deployed, config_path, capsys, clients):
    clients.dynamodb.create_table(
        TableName="FileFerry-UserContext",
        KeySchema=[{"AttributeName": "wrong_key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "wrong_key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    where = ["--config", str(config_path), "--endpoint-url", aws.endpoint_url]

    before = main(["--json", *where, "run", "drift-check"]), capsys.readouterr().out
    after = main(["run", "drift-check", "--json", *where]), capsys.readouterr().out

    assert before[0] == after[0] == 3
    first, second = json.loads(before[1]), json.loads(after[1])
    assert _without_run_identity(first) == _without_run_identity(second)
    assert first["output"]["drifted"] is True
    # Two drift checks ran, both read-only: the table made by hand is still the only one.
    sfn = clients.stepfunctions
    for result in (first, second):
        assert sfn.describe_execution(executionArn=result["execution_arn"])["status"] == "SUCCEEDED"
    assert clients.dynamodb.list_tables()["TableNames"] == ["FileFerry-UserContext"]
