"""Step Functions error names, one class each.

A handler raises one of these; Lambda reports the class name as `errorType`, which is
the error name that the state machine's `Retry` and `Catch` match. The state machine
definition imports these classes for its `ErrorEquals`, so renaming one breaks a test,
not a production run.
"""

from __future__ import annotations


class ProvisionerError(Exception):
    """Base of every error the provisioner raises on purpose."""

    transient = False

    @classmethod
    def error_name(cls) -> str:
        return cls.__name__


# Permanent: retrying cannot help; a provisioning run rolls back.


class InvalidInput(ProvisionerError):
    """The execution input (or a field of it) is not acceptable."""


class ConcurrentRun(ProvisionerError):
    """Another provisioning or teardown run of this state machine is still running."""


class ResourceConflict(ProvisionerError):
    """A resource with the desired name exists but differs in a way that cannot be changed in place."""


class AccessDenied(ProvisionerError):
    """The function's role may not make a call it needs."""


class TableCreationTimeout(ProvisionerError):
    """A table did not become ACTIVE within the bounded number of polls (provisioner.max_polls)."""


class VerificationFailed(ProvisionerError):
    """After provisioning, observed state still differs from desired state."""


class TeardownIncomplete(ProvisionerError):
    """Teardown kept a table it should have deleted (its backup never became AVAILABLE, or a step failed)."""


# Transient: the state machine retries these with exponential backoff and full jitter.


class Throttled(ProvisionerError):
    """AWS throttled the call."""

    transient = True


class LimitExceeded(ProvisionerError):
    """Too many simultaneous control-plane operations (DynamoDB LimitExceededException)."""

    transient = True


class ResourceBusy(ProvisionerError):
    """The resource is in a state that refuses this call for now (CREATING, UPDATING, TTL ENABLING)."""

    transient = True


class TableNotActive(ProvisionerError):
    """A table is not ACTIVE yet; raised where a step must wait for it (retried by the state machine)."""

    transient = True


class NotYetVisible(ProvisionerError):
    """A read does not show a write yet (IAM and DynamoDB reads are eventually consistent)."""

    transient = True


class AwsUnavailable(ProvisionerError):
    """AWS failed the call in a way botocore's standard retry mode retries: HTTP 5xx, a request timeout, no connection."""

    transient = True


class CreationInFlight(ProvisionerError):
    """A rollback waits: the failed run's CreateTable/CreateRole may still land (raised until it certainly has ended)."""

    transient = True


class TargetStillRunning(ProvisionerError):
    """A rollback run waits: the execution it rolls back has not ended yet (it may just have been stopped)."""

    transient = True


class OtherRunInFlight(ProvisionerError):
    """A rollback run waits: another run that changes resources holds the run lease (bounded; then it fails)."""

    transient = True


# A poll: the expected answer while a table is being created, not a fault. The poll step raises it so
# that the state machine's own Retry waits and looks again (3 history events per look, against 9 for a
# Wait/Task/Choice loop); a dedicated retrier bounds it and a Catch turns the last one into
# TableCreationTimeout. Neither transient nor permanent: the transient-fault retrier never matches it.


class TableStillCreating(ProvisionerError):
    """The table is not ACTIVE yet (CREATING, or UPDATING after an in-place update): look again later."""


POLL_ERRORS: tuple[type[ProvisionerError], ...] = (TableStillCreating,)


def poll_error_names() -> list[str]:
    """Error names that mean "not ready yet, looking again": a poll, never a failed attempt to report."""
    return [cls.error_name() for cls in POLL_ERRORS]


PERMANENT_ERRORS: tuple[type[ProvisionerError], ...] = (
    InvalidInput,
    ConcurrentRun,
    ResourceConflict,
    AccessDenied,
    TableCreationTimeout,
    VerificationFailed,
    TeardownIncomplete,
)
TRANSIENT_ERRORS: tuple[type[ProvisionerError], ...] = (
    Throttled,
    LimitExceeded,
    ResourceBusy,
    TableNotActive,
    NotYetVisible,
    AwsUnavailable,
)

# Errors the Lambda service itself raises to Step Functions; always worth a retry.
LAMBDA_SERVICE_ERRORS: tuple[str, ...] = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
)
# An attempt that ran out of time, retried like a Lambda service error: the function's own timeout
# (the Lambda runtime reports `Sandbox.Timedout`; Step Functions documents `Lambda.Unknown` for unhandled
# errors such as timeouts and out-of-memory, "Handle Lambda service exceptions") and a Task's own
# TimeoutSeconds (`States.Timeout`). Every step is idempotent: desired state, observed state, diff.
ATTEMPT_TIMEOUT_ERRORS: tuple[str, ...] = ("Sandbox.Timedout", "Lambda.Unknown", "States.Timeout")


def transient_error_names() -> list[str]:
    """Every error name the state machine retries."""
    return [cls.error_name() for cls in TRANSIENT_ERRORS] + list(LAMBDA_SERVICE_ERRORS) + list(ATTEMPT_TIMEOUT_ERRORS)
