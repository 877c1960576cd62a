"""After provisioning: the spec's verification steps, read back from AWS."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.report import verify
from lambdas.core.runtime import aws, bind_execution, desired, logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name", "tables": [iteration outputs], "role": role outcome}.

    Output: {"verified": true, "tables": [...], "role": {...}, "differences": []}; raises VerificationFailed.
    """
    bind_execution(event["execution_name"])
    report = verify(aws.dynamodb, aws.iam, desired(), event["tables"], event["role"])
    metrics.add_metric(name="RunsSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("verification passed")
    return report
