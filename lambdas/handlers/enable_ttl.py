"""Map iteration, last state: TTL as the spec says, once the table is ACTIVE."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer
from lambdas.core.tables import ensure_ttl


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"table", "execution_name", "outcome"}. Output: {"table", "outcome", "ttl": enabled|already-enabled|disabled|not-specified}.

    TTL that is already enabled is success, not ValidationException.
    """
    bind_execution(event["execution_name"], table=event["table"])
    ttl = ensure_ttl(aws.dynamodb, desired().table(event["table"]))
    logger.info("ttl %s", ttl)
    return {"table": event["table"], "outcome": event["outcome"], "ttl": ttl}
