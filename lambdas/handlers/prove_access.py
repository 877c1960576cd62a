"""Effective access: a session of the read-only role proves each grant of the spec, writing nothing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.access import Account, configured_external_id, prove_role_access, prove_tables_access
from lambdas.core.runtime import aws, bind_execution, desired, logger, tracer

# Settled after a run's own role change only; a drift check reports what it sees at once.
_SETTLING = ("created", "updated")
_accounts: dict[str, Account] = {}  # warm invocations ask GetCallerIdentity once


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input: {"kind": "tables" | "role", "tables": a batch of table names (kind tables), "execution_name",
    and for kind role "role_outcome": what EnsureRole did (created / updated: a refusal may be IAM still
    propagating, raised as NotYetVisible until the last attempt), "retry_count": $$.State.RetryCount, "max_retries"}.

    Output: {"kind": "tables-access" | "role-access", "tables" | "role", "grants": [{"kind": "access", "resource",
    "action", "expected", "actual": allowed | denied | not-checked, "proof", "cause"}]}.
    """
    bind_execution(event["execution_name"])
    state = desired()
    wait = event.get("role_outcome") in _SETTLING and event.get("retry_count", 0) < event.get("max_retries", 0)
    account = _accounts.get("caller") or _accounts.setdefault("caller", Account.of(aws.sts))
    external_id = configured_external_id(state)
    if event["kind"] == "tables":  # after the role's check, which waited for IAM: report what is seen
        result = prove_tables_access(aws.sts, aws.dynamodb, aws.session_dynamodb, state, event["tables"], account,
                                     external_id)
    else:
        result = prove_role_access(aws.sts, aws.iam, aws.session_dynamodb, state, account, external_id, wait)
    off = [grant for grant in result["grants"] if grant["expected"] != grant["actual"]]
    logger.info("access proven", extra={"grants": len(result["grants"]), "findings": len(off)})
    return result
