"""Deployed by the runner tests as testpkg/eager.py: its init phase leaves a mark in AWS, a table.

Creating the same table twice fails, so a second init phase of one runtime would be an init error.
"""

import os

import boto3

boto3.client("dynamodb").create_table(
    TableName=f"initialised-{os.environ['AWS_LAMBDA_FUNCTION_NAME']}",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)


def handler(event, context):
    return "ran"
