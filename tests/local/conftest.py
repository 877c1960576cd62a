"""The embedded AWS for these tests; every test starts from empty AWS state, no faults, no latency."""

import io
import json
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from local.emulator import DEFAULT_BACKUP_LATENCY_SECONDS, DEFAULT_TTL_LATENCY_SECONDS
from emulated_samples import (  # noqa: F401 (tests import them from conftest too)
    ACCOUNT, EAGER_CODE, EVENTS_ROLE, LAMBDA_CODE, LAMBDA_TRUST_POLICY, REGION, SAMPLE_HANDLER_ACTIONS, STATES_ROLE,
    allow_policy, trust_policy, zipped_handlers,
)



@pytest.fixture
def emulator(running_emulator):
    """The embedded AWS, emptied: no resources, faults, create latency, read lag, chaos or counted calls."""
    running_emulator.reset(faults=(), create_latency=0.0, backup_latency=DEFAULT_BACKUP_LATENCY_SECONDS,
                          ttl_latency=DEFAULT_TTL_LATENCY_SECONDS, stack_instance_latency=0.0, consistency_lag=0.0,
                          chaos=0.0)
    return running_emulator


@pytest.fixture
def aws(emulator):
    """aws("dynamodb", user_agent_appid=...) -> a boto3 client of the emulator (botocore Config kwargs)."""

    def client(service, **config):
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config),
        )

    return client


@pytest.fixture
def aws_as(emulator):
    """aws_as("222222222222")("dynamodb", region_name=...) -> a client acting as that account's operator (a
    12-digit access key is that account), or with credentials={"AccessKeyId", "SecretAccessKey", "SessionToken"}
    as that session."""

    def account(account_id=None, credentials=None):
        keys = ({"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"],
                 "aws_session_token": credentials["SessionToken"]} if credentials
                else {"aws_access_key_id": account_id, "aws_secret_access_key": "any secret"})

        def client(service, region_name=REGION, **config):
            return boto3.client(service, endpoint_url=emulator.endpoint_url, region_name=region_name,
                                config=Config(retries={"total_max_attempts": 1}, **config), **keys)

        return client

    return account


@pytest.fixture
def handler_client(aws):
    """A client that looks like a deployed handler's (the User-Agent faults apply to), no retries."""
    return lambda service: aws(
        service, user_agent_appid="fileferry-lambda-runner", retries={"total_max_attempts": 1}
    )


@pytest.fixture(scope="session")
def lambda_zip():
    return zipped_handlers(LAMBDA_CODE.read_text())


@pytest.fixture
def deploy_function(aws, lambda_zip):
    """deploy_function(name, handler, timeout=3, env=None, module="handlers") -> function ARN."""
    iam = aws("iam")
    role_arn = iam.create_role(
        RoleName="sample-lambda-role", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName="sample-lambda-role", PolicyName="sample-handlers",
                        PolicyDocument=allow_policy(SAMPLE_HANDLER_ACTIONS))

    def deploy(name, handler, timeout=3, env=None, module="handlers"):
        return aws("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=f"testpkg.{module}.{handler}",
            Code={"ZipFile": lambda_zip},
            Timeout=timeout,
            Environment={"Variables": env or {}},
        )["FunctionArn"]

    return deploy


@pytest.fixture
def create_state_machine(aws):
    """create_state_machine(name, definition) -> ARN; its role may invoke any function, as may
    the EventBridge role EVENTS_ROLE start any state machine."""
    iam = aws("iam")
    for name, service, actions in (("sample-states-role", "states.amazonaws.com", ["lambda:InvokeFunction"]),
                                   ("events-start-rollback", "events.amazonaws.com", ["states:StartExecution"])):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(service))
        iam.put_role_policy(RoleName=name, PolicyName="sample", PolicyDocument=allow_policy(actions))

    def create(name, definition):
        return aws("stepfunctions").create_state_machine(
            name=name,
            definition=json.dumps(definition),
            roleArn=STATES_ROLE,
        )["stateMachineArn"]

    return create


def wait_until(probe, timeout=20.0, interval=0.1):
    """Poll probe() until it returns something truthy; bounded, so a broken emulator fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def poll():
    return wait_until


@pytest.fixture
def finished_execution(aws):
    """finished_execution(arn) -> describe_execution once the execution is no longer RUNNING."""
    sfn = aws("stepfunctions")

    def finished(execution_arn, timeout=20.0):
        def describe_if_done():
            described = sfn.describe_execution(executionArn=execution_arn)
            return described if described["status"] != "RUNNING" else None

        return wait_until(describe_if_done, timeout)

    return finished
