"""Create the read-only role, or update an existing one in place (EntityAlreadyExists)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.role import ensure_role
from lambdas.core.runtime import aws, bind_execution, desired, logger, ownership_tags, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name"}. Output: {"role", "arn", "outcome", "changed", "previous"}.

    `previous` holds what this run replaced, so a rollback can restore it.
    """
    bind_execution(event["execution_name"])
    state = desired()
    outcome = ensure_role(aws.iam, state.role, ownership_tags(state, event["execution_name"]))
    logger.info("role %s", outcome.outcome, extra={"changed": outcome.changed})
    return outcome.as_dict()
