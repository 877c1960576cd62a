"""First state: validate the execution input and produce the run context."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.run_input import run_context
from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"input": <execution input>, "execution_name", "execution_arn", "state_machine_arn"}.

    Output: the run context {"action", "execution_name", "tables", "max_concurrency", "remediate",
    "target_execution_name", "superseded_by", "drift"}.
    Raises InvalidInput (naming the field) or ConcurrentRun; a rollback run waits with TargetStillRunning or
    OtherRunInFlight.
    """
    bind_execution(event["execution_name"])
    run = run_context(
        event["input"], event["execution_name"], event["execution_arn"], event["state_machine_arn"], desired(),
        aws.stepfunctions, aws.dynamodb,
    )
    logger.info("run accepted", extra={"action": run["action"]})
    return run
