"""Map iteration, poll loop: the table's status, counting polls so the loop stays bounded."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, logger, tracer
from lambdas.core.tables import table_status


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"table", "execution_name", "polls", "outcome"}. Output: {"table", "status", "polls": polls + 1, "outcome"}."""
    bind_execution(event["execution_name"], table=event["table"])
    status = table_status(aws.dynamodb, event["table"], just_created=event["outcome"] == "created")
    return {"table": event["table"], "status": status, "polls": event["polls"] + 1, "outcome": event["outcome"]}
