"""The drift-check handler really publishes DriftedResources as CloudWatch EMF, in the shape the alarm watches.

The handler runs in-process against moto; powertools writes the EMF blob to stdout, which
is what Lambda ships to CloudWatch Logs and CloudWatch turns into the metric.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.handlers import drift_check
from provisioner.deployer import DRIFT_METRIC, METRICS_SERVICE

SESSIONS = "FileFerry-ActiveSessions"


@pytest.fixture
def drift_handler(packaged: Any, context: Any) -> Any:
    """The drift-check handler as deployed, its boto3 clients inside moto."""
    return lambda: drift_check.handler({"execution_name": "drift-check-1", "remediate": False}, context)


def emf_blobs(stdout: str) -> list[dict[str, Any]]:
    blobs = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "_aws" in record:
            blobs.append(record)
    return blobs


def drifted_resources_metric(stdout: str) -> tuple[dict[str, Any], Any]:
    """The one EMF directive that declares DriftedResources, and the value it publishes."""
    (blob,) = [
        b for b in emf_blobs(stdout) if any(m["Name"] == DRIFT_METRIC for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"])
    ]
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    value = blob[DRIFT_METRIC]
    values = value if isinstance(value, list) else [value]  # EMF allows a value or a list of them
    dimension_values = {name: blob[name] for names in directive["Dimensions"] for name in names}
    return {**directive, "dimension_values": dimension_values}, values


def test_a_clean_drift_check_publishes_zero_drifted_resources_in_the_fileferry_namespace(
    provisioned: dict[str, Any], drift_handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    output = drift_handler()

    directive, value = drifted_resources_metric(capsys.readouterr().out)
    assert value == [0] and output["differences"] == []
    assert directive["Namespace"] == "FileFerry"
    assert {"Name": DRIFT_METRIC, "Unit": "Count"} in directive["Metrics"]
    # The alarm deploy creates watches exactly this dimension set; any other would never match.
    assert directive["dimension_values"] == {"service": METRICS_SERVICE}


def test_a_drift_check_publishes_the_number_of_drifted_resources(
    dynamodb: Any, iam: Any, provisioned: dict[str, Any], drift_handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"})
    dynamodb.update_table(TableName="FileFerry-UserContext", BillingMode="PROVISIONED",
                          ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    managed = iam.create_policy(PolicyName="S3Writes", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="FileFerryReadOnlyRole", PolicyArn=managed)
    iam.put_role_policy(RoleName="FileFerryReadOnlyRole", PolicyName="Extra", PolicyDocument=json.dumps(document))

    drift_handler()

    _, value = drifted_resources_metric(capsys.readouterr().out)
    assert value == [3]  # two tables and the role (which has two differences): resources, not differences
