"""Map iteration, last state: TTL as the spec says, once the table is ACTIVE."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer
from lambdas.core.tables import DEFERRED, ensure_ttl, ttl_change_possible_by


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"table", "execution_name", "outcome"}. Output: {"table", "outcome", "ttl":
    enabled|already-enabled|disabled|not-specified|deferred, "ttl_change_possible_by": ISO time or null}.

    TTL that is already enabled is success, not ValidationException; a change AWS's one-hour rule
    refuses is "deferred", with the time by which it becomes possible.
    """
    bind_execution(event["execution_name"], table=event["table"])
    ttl = ensure_ttl(aws.dynamodb, desired().table(event["table"]), just_created=event["outcome"] == "created")
    logger.info("ttl %s", ttl)
    possible_by = ttl_change_possible_by() if ttl == DEFERRED else None
    return {"table": event["table"], "outcome": event["outcome"], "ttl": ttl, "ttl_change_possible_by": possible_by}
