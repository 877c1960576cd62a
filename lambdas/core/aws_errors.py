"""Turning a failed boto3 call into the Step Functions error it means.

What is transient is botocore's own judgement, the checkers of its "standard" retry mode
(botocore.retries.standard): throttling error codes (LimitExceededException among them),
HTTP 500/502/503/504 (`InternalServerError`, `ServiceUnavailable`, IAM `ServiceFailure`),
`RequestTimeout`, and connection errors and read timeouts that never got an answer. The
handlers' clients make one attempt each; the state machine retries these errors with backoff
and jitter, so every retry is in the execution history.

Call sites catch `AWS_CALL_ERRORS` and handle the codes whose meaning depends on the call
(ResourceInUseException on CreateTable means "exists"; on UpdateTimeToLive it means "busy");
this module maps what means the same everywhere.
"""

from __future__ import annotations

from types import SimpleNamespace

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from lambdas.core.errors import AccessDenied, AwsUnavailable, LimitExceeded, Throttled

# What a boto3 call raises when AWS, or the way to it, fails: a service error, or no answer at all.
AWS_CALL_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized"})
# DynamoDB's LimitExceededException is about concurrent control-plane operations: it clears, and
# botocore counts it as throttling. IAM's "LimitExceeded" is an account quota: botocore does not.
CONCURRENCY_LIMIT_CODE = "LimitExceededException"

_THROTTLED = ThrottledRetryableChecker()
_TRANSIENT = TransientRetryableChecker()


def error_code(err: BaseException) -> str:
    if isinstance(err, ClientError):
        return err.response.get("Error", {}).get("Code", "")
    return ""


def _retry_context(err: BaseException) -> RetryContext:
    """The view of a failed call that botocore's retry checkers judge."""
    if isinstance(err, ClientError):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        http_response = SimpleNamespace(status_code=status, headers={}) if status else None
        return RetryContext(attempt_number=1, parsed_response=err.response, http_response=http_response)
    return RetryContext(attempt_number=1, caught_exception=err)


def is_transient(err: BaseException) -> bool:
    """Whether botocore's standard retry mode would try this call again."""
    if not isinstance(err, AWS_CALL_ERRORS):
        return False
    context = _retry_context(err)
    return _THROTTLED.is_retryable(context) or _TRANSIENT.is_retryable(context)


def as_provisioner_error(err: BaseException, call: str) -> BaseException:
    """The provisioner error for a failed call, or `err` itself when it has no general meaning (permanent)."""
    code = error_code(err)
    if code in ACCESS_DENIED_CODES:
        return AccessDenied(f"{call}: access denied ({code})")
    if not isinstance(err, AWS_CALL_ERRORS):
        return err
    context = _retry_context(err)
    if _THROTTLED.is_retryable(context):
        if code == CONCURRENCY_LIMIT_CODE:
            return LimitExceeded(f"{call}: too many simultaneous operations ({code})")
        return Throttled(f"{call}: throttled by AWS ({code})")
    if _TRANSIENT.is_retryable(context):
        what = code or type(err).__name__
        status = context.http_response.status_code if context.http_response is not None else None
        return AwsUnavailable(f"{call}: AWS did not complete the call ({what}{f', HTTP {status}' if status else ''})")
    return err


def reason(err: BaseException) -> str:
    """A short name for a failure, for reports: the AWS error code, else the exception's class."""
    return error_code(err) or type(err).__name__
