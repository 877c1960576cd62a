"""Map iteration, first state: create the table, or adopt / update an existing one."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.runtime import aws, bind_execution, desired, logger, metrics, ownership_tags, tracer
from lambdas.core.tables import create_or_adopt_table


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"table", "execution_name", "remediate"}. Output: {"table", "outcome": created|adopted|updated|refused,
    "status"}.

    Raises ResourceConflict when an existing table differs in a way that cannot change in place, unless
    "remediate" is true: then the outcome is "refused" and the table is left as it is.
    """
    bind_execution(event["execution_name"], table=event["table"])
    state = desired()
    outcome = create_or_adopt_table(
        aws.dynamodb,
        state.table(event["table"]),
        ownership_tags(state, event["execution_name"]),
        remediate=bool(event.get("remediate", False)),
    )
    metrics.add_metric(name=f"Tables{outcome.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("table %s", outcome.outcome, extra={"status": outcome.status})
    return outcome.as_dict()
