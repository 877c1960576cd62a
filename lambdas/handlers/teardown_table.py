"""Teardown, per table: back up a table that holds items, then delete it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer
from lambdas.core.teardown import teardown_table


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"table", "execution_name", "lift_deletion_protection"?}. Output: {"table", "result":
    deleted|absent|deletion-protected (kept)|backup-pending (the state machine waits, then asks again)|
    backup-not-available, "backup_arn", "protection_lifted"?}."""
    bind_execution(event["execution_name"], table=event["table"])
    result = teardown_table(aws.dynamodb, event["table"], event["execution_name"], desired().backup_wait_seconds,
                            lift_deletion_protection=bool(event.get("lift_deletion_protection")))
    logger.info("teardown %s", result["result"], extra={"backup_arn": result["backup_arn"]})
    return result
