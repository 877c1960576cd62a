"""Turning botocore's ClientError into the Step Functions error it means.

Call sites handle the codes whose meaning depends on the call (ResourceInUseException on
CreateTable means "exists"; on UpdateTimeToLive it means "busy"); this module maps the
codes that mean the same everywhere.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from lambdas.core.errors import AccessDenied, LimitExceeded, Throttled

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceededException",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized"})
# DynamoDB's LimitExceededException is about concurrent control-plane operations: it clears.
# IAM's "LimitExceeded" is an account quota and does not; it stays a plain ClientError.
TRANSIENT_LIMIT_CODES = frozenset({"LimitExceededException"})


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def as_provisioner_error(err: ClientError, call: str) -> Exception:
    """The provisioner error for `err`, or `err` itself when its code has no general meaning."""
    code = error_code(err)
    if code in THROTTLING_CODES:
        return Throttled(f"{call}: throttled by AWS ({code})")
    if code in TRANSIENT_LIMIT_CODES:
        return LimitExceeded(f"{call}: too many simultaneous operations ({code})")
    if code in ACCESS_DENIED_CODES:
        return AccessDenied(f"{call}: access denied ({code})")
    return err
