"""After provisioning or remediation: the spec's verification steps, read back from AWS."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.report import verify
from lambdas.core.runtime import aws, bind_execution, desired, logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name", "tables": [iteration outputs], "role": role outcome, "remediate", "drift":
    the drift check's output (null in a provisioning run)}.

    Output: {"verified": true, "tables": [...], "role": {...}, "differences": []}; raises VerificationFailed.
    When remediating, also {"remediated", "drifted", "drifted_resources", "drift_before_remediation"}, and
    "differences" lists what cannot be fixed in place.
    """
    bind_execution(event["execution_name"])
    drift_before = event.get("drift") if event.get("remediate") else None
    report = verify(aws.dynamodb, aws.iam, desired(), event["tables"], event["role"], drift_before=drift_before)
    metrics.add_metric(name="RunsSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("verification done", extra={"remaining_differences": len(report["differences"])})
    return report
