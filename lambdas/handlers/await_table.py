"""Map iteration: wait for the table to be ACTIVE (one look per invocation), then apply its TTL."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer
from lambdas.core.tables import await_table


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"table", "execution_name", "outcome", "look"?: true}. Output: {"table",
    "outcome", "status": "ACTIVE", "ttl": enabled|already-enabled|disabled|not-specified|deferred,
    "ttl_change_possible_by": ISO time when deferred, else null,
    "point_in_time_recovery": enabled|already-enabled|not-specified}.

    With "look" it is a poll: DescribeTable first, and a table not ACTIVE yet raises TableStillCreating
    (the state machine looks again later). Without, the table was already seen ACTIVE: TTL straight away,
    then point-in-time recovery where the spec wants it.
    TTL that is already enabled is success, not ValidationException; a change AWS's one-hour rule
    refuses is "deferred", with the time by which it becomes possible.
    """
    bind_execution(event["execution_name"], table=event["table"])
    spec = desired().table(event["table"])
    progress = await_table(aws.dynamodb, spec, event["outcome"], bool(event.get("look")))
    logger.info("table %s", progress.status, extra={"ttl": progress.ttl})
    return progress.as_dict()
