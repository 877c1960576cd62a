"""Teardown, last: this Region's inline policy of the role; the role itself (with its other policies) once no
other Region's policy remains on it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer
from lambdas.core.teardown import teardown_role, teardown_summary


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name", "tables": [teardown_table outputs]}. Output: {"role", "result": deleted | absent |
    kept (another Region's inline policy remains: only this Region's was deleted; then also "other_regions_policies"
    and "why"), "deleted_policies", "tables", "complete", "left": [tables kept for a reason other than deletion
    protection], "cause": what is left, or ""}."""
    bind_execution(event["execution_name"])
    result = teardown_role(aws.iam, desired().role)
    summary = teardown_summary(event["tables"])
    logger.info("teardown role %s", result["result"], extra={"left": summary["left"]})
    return {**result, "tables": event["tables"], **summary}
