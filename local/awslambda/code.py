"""A function's code from S3 (`Code: {S3Bucket, S3Key}`) is read as Lambda reads it.

AWS (Lambda API reference, FunctionCode: "S3Bucket: An Amazon S3 bucket in the same AWS Region as your
function. The bucket can be in a different AWS account."):

- the bucket must be in the function's Region; otherwise CreateFunction/UpdateFunctionCode answer
  InvalidParameterValueException "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error
  Message: The bucket is in this region: REGION. Please use this region to retry the request";
- Lambda gets the object with the caller's permissions: a bucket of another account is readable only when its
  bucket policy allows the caller (its ARN, its role's, or its account), and an explicit Deny in it refuses
  even its own account's callers; otherwise AccessDeniedException (HTTP 403) "Your access has been denied by
  S3, please make sure your request credentials have permission to GetObject for BUCKET/KEY. S3 Error Code:
  AccessDenied. S3 Error Message: Access Denied" (both texts as Lambda and CloudFormation report them).

moto reads the object from any account's bucket (bucket names are global, and moto finds another account's
bucket by name), in any Region, whatever its policy says. The caller is the request's signer; for a stack's
function, whoever CloudFormation acts as (the caller of CreateStack, or a StackSet's execution role).
Not emulated: the caller's own s3:GetObject grant (its identity policy), ACLs and Block Public Access.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.s3.models import s3_backends

from local import patching
from local.iam.policy import EXPLICIT_DENY, AuthRequest, evaluate_trust


class CodeAccessDenied(LambdaClientError):
    code = 403

    def __init__(self, bucket: str, key: str):
        super().__init__("AccessDeniedException", (
            f"Your access has been denied by S3, please make sure your request credentials have permission to "
            f"GetObject for {bucket}/{key}. S3 Error Code: AccessDenied. S3 Error Message: Access Denied"))


def install() -> None:
    patching.wrap(LambdaFunction, "_set_function_code", _code_as_lambda_reads_it)


def _code_as_lambda_reads_it(previous: Any, self: LambdaFunction, updated_spec: dict[str, Any]) -> None:
    if patching.in_emulator_request() and "ZipFile" not in updated_spec and not updated_spec.get("DryRun") \
            and updated_spec.get("S3Bucket") and updated_spec.get("S3Key"):
        check_readable(updated_spec["S3Bucket"], updated_spec["S3Key"], self.region, self.account_id,
                       patching.request_caller())
    return previous(self, updated_spec)


def check_readable(bucket_name: str, key: str, region: str, account: str, caller: tuple[str, ...]) -> None:
    """Raise Lambda's error if a function of `account` in `region` may not take its code from the object."""
    bucket = _bucket(bucket_name)
    if bucket is None:
        return  # moto answers NoSuchBucket as Lambda does
    if bucket.region_name != region:
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is in "
            f"this region: {bucket.region_name}. Please use this region to retry the request")
    callers = caller or (f"arn:{bucket.partition}:iam::{account}:root",)
    decision = evaluate_trust(_policy(bucket), {"AWS": list(callers)}, AuthRequest(
        "s3:GetObject", f"arn:{bucket.partition}:s3:::{bucket_name}/{key}", _context(callers[-1])))
    if decision.result == EXPLICIT_DENY or (bucket.account_id != _account_of(callers[0]) and not decision.allowed):
        raise CodeAccessDenied(bucket_name, key)


def _bucket(name: str) -> Any | None:
    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account = owner
    return s3_backends[account][partition].buckets.get(name)


def _policy(bucket: Any) -> Any:
    policy = bucket.policy
    if not policy:
        return {"Statement": []}
    return policy.decode("utf-8") if isinstance(policy, bytes) else policy


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def _context(principal: str) -> dict[str, Any]:
    """The request's keys; `principal` is the caller's role (aws:PrincipalArn of a session) or account principal."""
    return {
        "aws:PrincipalArn": principal, "aws:PrincipalAccount": _account_of(principal),
        "aws:CurrentTime": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(time.time())), "aws:SecureTransport": True,
        # Lambda reads the object on the caller's behalf (a forward access session).
        "aws:ViaAWSService": True, "aws:CalledVia": ["lambda.amazonaws.com"],
    }
