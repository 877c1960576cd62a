"""Observability a person uses: structured logs per run, metrics, tracing, and `status` on a failure."""

from __future__ import annotations

import json

import pytest

from lambdas.core.steps import STEPS
from provisioner.deployer import Deployer

ITEM_MARKER = "item-data-7f3c"  # written into a table; must never reach a log line
PLATFORM_PREFIXES = ("START RequestId:", "END RequestId:", "REPORT RequestId:")


# A poll that finds a table not ACTIVE yet ends its invocation with TableStillCreating (the state machine
# looks again): the Python runtime reports it as it reports any function error, "[ERROR] Type: message"
# and the traceback, ending with the exception's own line. That report is the runtime's, not ours.
# (Concurrent invocations' lines interleave, so a report's lines are known by their shape; another
# error's report still fails the test by its "[ERROR] Type:" line.)
POLL_REPORT_LINES = ("[ERROR] TableStillCreating: ", "Traceback (most recent call last):", " ",
                     "lambdas.core.errors.TableStillCreating: ")


def _records(lines: list[str]) -> tuple[list[dict], list[str]]:
    """(JSON records, other lines the function wrote) without the Lambda platform's own lines
    and the runtime's reports of polls."""
    records, other = [], []
    for line in lines:
        if line.startswith(PLATFORM_PREFIXES + POLL_REPORT_LINES):
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            other.append(line)
    return records, other


class MissingExecutionName(AssertionError):
    """Log records of a run that do not say which execution wrote them."""


def test_logs_of_a_run_carry_its_execution_name_never_item_data_and_emit_fileferry_metrics(
    run, clients, function_logs
):
    provisioned = run({"action": "provision"})
    assert provisioned.succeeded, provisioned.cause
    provision_name = provisioned.execution_arn.split(":")[-1]
    clients.dynamodb.put_item(
        TableName="FileFerry-ActiveSessions",
        Item={"session_token": {"S": ITEM_MARKER}, "aws_secret_access_key": {"S": f"secret-{ITEM_MARKER}"}},
    )
    torn_down = run({"action": "teardown", "confirm": "fileferry-provisioner", "lift_deletion_protection": True})
    assert torn_down.succeeded, torn_down.cause
    assert [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] == []
    teardown_name = torn_down.execution_arn.split(":")[-1]

    logs = function_logs.new_lines()
    everything = "\n".join(line for lines in logs.values() for line in lines)
    assert ITEM_MARKER not in everything
    log_records, metric_records = [], []
    for function, lines in logs.items():
        records, unstructured = _records(lines)
        assert unstructured == [], f"{function} wrote lines that are not JSON: {unstructured[:3]}"
        for record in records:
            (metric_records if "_aws" in record else log_records).append(record)
    assert log_records, "the runs wrote no log records"
    teardown_functions = {r["function_name"] for r in log_records if r.get("execution_name") == teardown_name}
    assert teardown_functions >= {
        "fileferry-provisioner-validate-input",
        "fileferry-provisioner-teardown-table",
        "fileferry-provisioner-teardown-role",
    }
    metrics = {
        metric["Name"]
        for record in metric_records
        for directive in record["_aws"]["CloudWatchMetrics"]
        if directive["Namespace"] == "FileFerry"
        for metric in directive["Metrics"]
    }
    assert {"TablesCreated", "RunsSucceeded"} <= metrics

    unnamed = sorted({(r.get("function_name"), r.get("message")) for r in log_records if "execution_name" not in r})
    if unnamed:
        raise MissingExecutionName(f"log records without the execution name: {unnamed}")
    assert {record["execution_name"] for record in log_records} == {provision_name, teardown_name}


def test_functions_and_state_machine_are_traced_and_the_state_machine_logs_with_retention(factory, clients):
    # The factory deploys untraced locally (the embedded AWS has no X-Ray daemon); this is the
    # deployer as it runs against a real account.
    deployment = Deployer(clients, factory.settings, factory.desired(), tracing=True).deploy()

    functions = [f for f in clients.lambda_.list_functions()["Functions"] if f["FunctionName"].startswith("fileferry-provisioner-")]
    assert len(functions) == len(STEPS)
    for function in functions:
        assert function["TracingConfig"]["Mode"] == "Active", function["FunctionName"]
    machine = clients.stepfunctions.describe_state_machine(stateMachineArn=deployment.state_machine_arn)
    assert machine["tracingConfiguration"]["enabled"] is True
    logging = machine["loggingConfiguration"]
    assert logging["level"] in ("ALL", "ERROR")
    (destination,) = logging["destinations"]
    group_name = destination["cloudWatchLogsLogGroup"]["logGroupArn"].split(":log-group:")[1].removesuffix(":*")
    groups = clients.logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    (group,) = [g for g in groups if g["logGroupName"] == group_name]
    assert group["retentionInDays"] == factory.settings.provisioner.log_retention_days


def test_status_of_a_failed_run_names_the_failed_state_the_error_and_the_cause(run, cli, clients):
    failed = run({"action": "teardown", "confirm": "not-the-provisioner"})
    assert failed.status == "FAILED"

    code, out = cli("status", failed.execution_arn)

    assert code == 0
    assert (
        "Failed in state ValidateInput: InvalidInput: "
        "confirm: must be the provisioner name (fileferry-provisioner) to tear down"
    ) in out
    assert [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")] == []
