"""Which failed AWS calls are transient: botocore's standard retry mode decides, the state machine retries."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ParamValidationError, ReadTimeoutError

from lambdas.core.aws_errors import as_provisioner_error
from lambdas.core.errors import AccessDenied, AwsUnavailable, LimitExceeded, Throttled


def _client_error(code: str, status: int, operation: str = "CreateTable") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (_client_error("InternalServerError", 500), AwsUnavailable),  # DynamoDB
        (_client_error("ServiceUnavailable", 503), AwsUnavailable),
        (_client_error("ServiceFailure", 500, "CreateRole"), AwsUnavailable),  # IAM
        (_client_error("SomethingNew", 502), AwsUnavailable),  # by status code alone
        (_client_error("RequestTimeout", 400), AwsUnavailable),
        (ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"), AwsUnavailable),
        (ConnectTimeoutError(endpoint_url="https://iam.amazonaws.com"), AwsUnavailable),
        (EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com"), AwsUnavailable),
        (_client_error("ThrottlingException", 400), Throttled),
        (_client_error("Throttling", 400, "CreateRole"), Throttled),
        (_client_error("TooManyRequestsException", 429), Throttled),
        (_client_error("LimitExceededException", 400), LimitExceeded),  # DynamoDB: concurrent control-plane operations
        (_client_error("AccessDeniedException", 400), AccessDenied),
        (_client_error("AccessDenied", 403, "CreateRole"), AccessDenied),
    ],
)
def test_transient_and_access_denied_failures_become_their_step_functions_errors(failure, expected):
    converted = as_provisioner_error(failure, "CreateTable FileFerry-X")
    assert type(converted) is expected
    assert str(converted).startswith("CreateTable FileFerry-X: ")


@pytest.mark.parametrize(
    "failure",
    [
        _client_error("ValidationException", 400),
        _client_error("LimitExceeded", 409, "CreateRole"),  # IAM: an account quota, which does not clear by itself
        _client_error("MalformedPolicyDocument", 400, "PutRolePolicy"),
        ParamValidationError(report="bad parameter"),
    ],
)
def test_permanent_failures_stay_what_they_are(failure):
    assert as_provisioner_error(failure, "call") is failure


def test_every_transient_error_is_one_the_state_machine_retries():
    from lambdas.core.errors import TRANSIENT_ERRORS, transient_error_names

    assert AwsUnavailable in TRANSIENT_ERRORS and "AwsUnavailable" in transient_error_names()
