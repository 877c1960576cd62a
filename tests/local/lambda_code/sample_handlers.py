"""Handlers the Lambda-runner tests deploy, zipped in memory as testpkg/handlers.py.

They run inside the emulator's worker processes, not in the test process.
"""

import os
import pathlib
import time

import boto3
from aws_lambda_powertools import Logger

logger = Logger(service="runner-test")
invocations = 0  # module state: survives between invocations of a warm worker


class ResourceConflict(Exception):
    pass


@logger.inject_lambda_context
def echo(event, context):
    global invocations
    invocations += 1
    print("printed output must not corrupt the runner's channel")
    logger.info("echo called")
    return {
        "event": event,
        "invocations": invocations,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {
            name: os.environ.get(name)
            for name in (
                "AWS_ENDPOINT_URL",
                "AWS_REGION",
                "AWS_SDK_UA_APP_ID",
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_EXECUTION_ENV",
                "_HANDLER",
                "TABLE_PREFIX",
            )
        },
    }


def conflict(event, context):
    raise ResourceConflict(f"table {event.get('table', '?')} exists with another key schema")


def sleep(event, context):
    time.sleep(event.get("seconds", 0))
    return "woke up"


def list_tables(event, context):
    return boto3.client("dynamodb").list_tables()["TableNames"]


def call_dynamodb(event, context):
    """event["count"] ListTables calls, one attempt each: the error code of each (None: it succeeded)."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}, read_timeout=20))
    outcomes = []
    for _ in range(event["count"]):
        try:
            client.list_tables()
            outcomes.append(None)
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
        except BotoCoreError as error:
            outcomes.append(type(error).__name__)
    return outcomes


def create_table(event, context):
    boto3.client("dynamodb").create_table(
        TableName=event["table"],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def delete_table(event, context):
    boto3.client("dynamodb").delete_table(TableName=event["table"])


def rendezvous(event, context):
    """Counts like echo, but returns only once `parties` invocations are running at the same time."""
    global invocations
    invocations += 1
    arrivals = pathlib.Path(event["directory"])
    (arrivals / str(os.getpid())).touch()
    deadline = time.monotonic() + 10
    while len(list(arrivals.iterdir())) < event["parties"] and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"invocations": invocations, "pid": os.getpid(), "met": len(list(arrivals.iterdir()))}


def chatter(event, context):
    """Meets like rendezvous, then prints `lines` lines to stdout and to stderr, as print() writes them."""
    import sys

    met = rendezvous(event, context)
    for number in range(event["lines"]):
        print(f"chatter {os.getpid()} out {number}")
        print(f"chatter {os.getpid()} err {number}", file=sys.stderr)
    return met


def exit_process(event, context):
    os._exit(3)


def runtime(event, context):
    """What the function's runtime is: its Python, where its modules come from, what it can import."""
    import importlib.util
    import sys

    import botocore

    def importable(name):
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    return {
        "version": list(sys.version_info[:2]),
        "sys_version": sys.version,
        "boto3_file": boto3.__file__,
        "botocore_file": botocore.__file__,
        "powertools_file": __import__("aws_lambda_powertools").__file__,
        "importable": {name: importable(name) for name in ("moto", "pytest", "yaml", "pydantic", "fastjsonschema", "dateutil", "urllib3")},
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
    }
