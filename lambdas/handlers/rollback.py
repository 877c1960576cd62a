"""Delete what one execution created (by tag) and restore what it changed."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.rollback import original_error, roll_back
from lambdas.core.runtime import aws, bind_execution, desired, logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name", "error": {"Error", "Cause"} | null, "role_previous": {...}, "requested_by"?}.

    Output: {"error", "cause", "deleted", "restored", "kept", "not_restored"}; `cause` says
    what failed and what was rolled back. Raises TableNotActive while a table is CREATING.
    """
    bind_execution(event.get("requested_by") or event["execution_name"], rolling_back=event["execution_name"])
    report = roll_back(aws.dynamodb, aws.iam, desired(), event["execution_name"], event.get("role_previous"))
    error, cause = original_error(event.get("error"))
    if event.get("error"):
        metrics.add_metric(name="RunsFailed", unit=MetricUnit.Count, value=1)
    logger.info("rolled back", extra=report.as_dict())
    return {"error": error, "cause": f"{cause} | rollback: {report.summary()}", **report.as_dict()}
