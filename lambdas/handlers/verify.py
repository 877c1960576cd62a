"""After provisioning or remediation: the spec's verification steps, read back from AWS."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.report import verify
from lambdas.core.runtime import aws, bind_execution, desired, logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"execution_name", "tables": [iteration outputs], "role": role outcome, "remediate", "drift":
    the drift check's output (null in a provisioning run), "access": what ProveAccess showed ({"tables": [...],
    "role": {...}}), "retry_count": $$.State.RetryCount, "max_retries"}.

    Output: {"verified", "tables": [...], "role": {...}, "differences", "deferred": TTL changes AWS's hour rule
    refused, with "possible_by", "access": every grant proven}: a grant not as the spec says is a difference
    that makes "verified" false, never a failure. Raises NotYetVisible before the last retry, then VerificationFailed.
    When remediating, also {"remediated", "drifted", "drifted_resources", "drift_before_remediation"}, and
    "differences" lists what cannot be fixed in place.
    """
    bind_execution(event["execution_name"])
    drift_before = event.get("drift") if event.get("remediate") else None
    # Reads may lag the run's writes: every attempt but the last of the state machine's retries waits them out.
    final_attempt = event.get("retry_count", 0) >= event.get("max_retries", 0)
    state = desired()
    report = verify(
        aws.dynamodb, aws.iam, state, event["tables"], event["role"], drift_before=drift_before, final_attempt=final_attempt,
        kms=aws.kms if state.customer_managed_key() else None, access=event.get("access"),
    )
    metrics.add_metric(name="RunsSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("verification done", extra={"remaining_differences": len(report["differences"])})
    return report
