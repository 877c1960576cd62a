"""Delete what one execution created (by tag) and restore what it changed."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.rollback import changes_made_by, execution_arn, original_error, roll_back, superseded
from lambdas.core.runtime import aws, bind_execution, desired, logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name", "error": {"Error", "Cause"} | null, "role_previous"?: {...}, "requested_by"?,
    "superseded_by"?: the verified run that converged everything since the target ended (then nothing is undone)}.

    What the target run changed on pre-existing resources is read from its own history
    (states:GetExecutionHistory), so a rollback run started later restores as much as the
    in-run rollback. Output: {"error", "cause", "execution_name", "deleted", "restored", "kept",
    "not_restored"}; `cause` says what failed and what was rolled back. Raises TableNotActive
    while a table is CREATING (the state machine retries).
    """
    target = event["execution_name"]
    bind_execution(event.get("requested_by") or target, rolling_back=target)
    state = desired()
    if event.get("superseded_by"):
        report = superseded(target, event["superseded_by"])
    else:
        changes = changes_made_by(aws.stepfunctions, execution_arn(context.invoked_function_arn, state.provisioner_name, target))
        report = roll_back(aws.dynamodb, aws.iam, state, target, event.get("role_previous"), changes)
    error, cause = original_error(event.get("error"))
    if event.get("error"):
        metrics.add_metric(name="RunsFailed", unit=MetricUnit.Count, value=1)
    logger.info("rolled back", extra=report.as_dict())
    return {"error": error, "cause": f"{cause} | rollback: {report.summary()}", **report.as_dict()}
