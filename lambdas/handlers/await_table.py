"""Map iteration: wait for the table to be ACTIVE (one look per invocation), then apply its TTL."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer
from lambdas.core.tables import await_table


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"table", "execution_name", "outcome", "polls"?}. Output: {"table", "outcome", "status",
    "polls", "ttl": enabled|already-enabled|disabled|not-specified|deferred, or null while not ACTIVE,
    "ttl_change_possible_by": ISO time when deferred, else null}.

    With "polls" it is a poll: DescribeTable, and TTL only once ACTIVE. Without, the table was
    already seen ACTIVE: TTL straight away. TTL that is already enabled is success, not ValidationException;
    a change AWS's one-hour rule refuses is "deferred", with the time by which it becomes possible.
    """
    bind_execution(event["execution_name"], table=event["table"])
    progress = await_table(aws.dynamodb, desired().table(event["table"]), event["outcome"], event.get("polls"))
    logger.info("table %s", progress.status, extra={"polls": progress.polls, "ttl": progress.ttl})
    return progress.as_dict()
