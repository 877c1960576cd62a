"""Drift check: one pass of read-only calls, one diff, one metric."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.report import drift
from lambdas.core.runtime import aws, bind_execution, desired, logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name", "remediate", "access": what ProveDriftAccess showed}. Output: {"drifted",
    "drifted_resources", "differences": [{"resource", "property", "expected", "actual", "remedy"}], "access": every
    grant proven}; a grant not as the spec says is a difference (property "access ACTION", remedy operator)."""
    bind_execution(event["execution_name"])
    state = desired()
    result = drift(aws.dynamodb, aws.iam, state, aws.kms if state.customer_managed_key() else None, event.get("access"))
    metrics.add_metric(name="DriftedResources", unit=MetricUnit.Count, value=result["drifted_resources"])
    logger.info("drift check", extra={"drifted_resources": result["drifted_resources"]})
    return result
