"""Role sessions for the IAM tests: clients signed with credentials sts:AssumeRole gives for a new role."""

import json

import boto3
import pytest
from botocore.config import Config

from emulated_samples import ACCOUNT, REGION, trust_policy


@pytest.fixture
def role_session(aws, emulator):
    """role_session(name, policy_document, service=...) -> a client factory signed as that role (via STS)."""
    iam, sts = aws("iam"), aws("sts")

    def make(name, policy, service="lambda.amazonaws.com"):
        # The service may assume it, and (as the test does, with the operator's keys) the account's principals.
        trust = json.loads(trust_policy(service))
        trust["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                   "Action": "sts:AssumeRole"})
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=name, PolicyName="under-test", PolicyDocument=json.dumps(policy))
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
                                      RoleSessionName="test-session")["Credentials"]

        def client(service_name):
            return boto3.client(
                service_name, endpoint_url=emulator.endpoint_url, region_name=REGION,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                config=Config(retries={"total_max_attempts": 1}),
            )

        return client

    return make
