"""A function's code from S3 is read as Lambda reads it: from a bucket in the function's Region, and from
another account's bucket only when its bucket policy allows the caller."""

import json

import pytest
from botocore.exceptions import ClientError

from emulated_samples import LAMBDA_TRUST_POLICY

OPERATOR, TARGET = "111111111111", "222222222222"
KEY = "fileferry/code.zip"


@pytest.fixture
def artifact_buckets(aws_as, lambda_zip):
    """The operator's per-Region artifact buckets `prefix-<region>`, each holding the zip."""
    def bucket(region, policy=None):
        s3 = aws_as(OPERATOR)("s3", region_name=region)
        name = f"prefix-{region}"
        s3.create_bucket(Bucket=name, **({} if region == "us-east-1" else
                                         {"CreateBucketConfiguration": {"LocationConstraint": region}}))
        s3.put_object(Bucket=name, Key=KEY, Body=lambda_zip)
        if policy is not None:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        return name

    return bucket


def readable_by(account, bucket):
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}


def create_function(aws_as, account, region, bucket):
    iam = aws_as(account)("iam")
    try:
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="fn")["Role"]["Arn"]
    return aws_as(account)("lambda", region_name=region).create_function(
        FunctionName="from-s3", Runtime="python3.12", Role=role, Handler="testpkg.handlers.echo",
        Code={"S3Bucket": bucket, "S3Key": KEY})


def refusal(call):
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_another_accounts_bucket_in_the_functions_region_is_read_when_its_policy_allows_the_account(aws_as, artifact_buckets):
    bucket = artifact_buckets("eu-west-1", readable_by(TARGET, "prefix-eu-west-1"))

    created = create_function(aws_as, TARGET, "eu-west-1", bucket)
    invoked = aws_as(TARGET)("lambda", region_name="eu-west-1").invoke(FunctionName="from-s3", Payload=b'{"n": 1}')

    assert created["FunctionArn"] == f"arn:aws:lambda:eu-west-1:{TARGET}:function:from-s3"
    assert json.loads(invoked["Payload"].read())["event"] == {"n": 1}


def test_another_accounts_bucket_without_a_policy_for_the_caller_is_refused_as_lambda_refuses_it(aws_as, artifact_buckets):
    bucket = artifact_buckets("eu-west-1", readable_by("333333333333", "prefix-eu-west-1"))

    assert refusal(lambda: create_function(aws_as, TARGET, "eu-west-1", bucket)) == (
        403, "AccessDeniedException",
        f"Your access has been denied by S3, please make sure your request credentials have permission to GetObject "
        f"for {bucket}/{KEY}. S3 Error Code: AccessDenied. S3 Error Message: Access Denied")
    assert create_function(aws_as, OPERATOR, "eu-west-1", bucket)["FunctionName"] == "from-s3"  # its own account's


def test_a_bucket_in_another_region_is_refused_even_in_the_functions_own_account(aws_as, artifact_buckets):
    bucket = artifact_buckets("us-east-1", readable_by(TARGET, "prefix-us-east-1"))

    for account in (OPERATOR, TARGET):
        assert refusal(lambda: create_function(aws_as, account, "eu-west-1", bucket)) == (
            400, "InvalidParameterValueException",
            "Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is in this "
            "region: us-east-1. Please use this region to retry the request")


def test_a_stacks_function_whose_code_s3_refuses_fails_the_resource_and_rolls_the_stack_back(aws_as, artifact_buckets):
    bucket = artifact_buckets("eu-west-1")  # no policy: the operator's account only
    role = aws_as(TARGET)("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)["Role"]["Arn"]
    cloudformation = aws_as(TARGET)("cloudformation", region_name="eu-west-1")
    cloudformation.create_stack(StackName="orchestrator", TemplateBody=json.dumps({"Resources": {"Fn": {
        "Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "from-s3", "Runtime": "python3.12", "Role": role, "Handler": "testpkg.handlers.echo",
            "Code": {"S3Bucket": bucket, "S3Key": KEY}}}}}))

    stack = cloudformation.describe_stacks(StackName="orchestrator")["Stacks"][0]
    failed = [e for e in cloudformation.describe_stack_events(StackName="orchestrator")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed[0]["LogicalResourceId"] == "Fn"
    assert failed[0]["ResourceStatusReason"].startswith(
        'Resource handler returned message: "Your access has been denied by S3, please make sure your request '
        f'credentials have permission to GetObject for {bucket}/{KEY}. S3 Error Code: AccessDenied. S3 Error Message: '
        'Access Denied (Service: Lambda, Status Code: 403, Request ID: ')
    assert failed[0]["ResourceStatusReason"].endswith("HandlerErrorCode: AccessDenied)")
