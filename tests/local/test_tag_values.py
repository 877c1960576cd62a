"""Tag values DynamoDB and IAM refuse are refused by the embedded AWS too (moto accepts any)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _create_table(dynamodb, name, value):
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "fileferry:created-by", "Value": value}],
    )


def test_dynamodb_refuses_a_tag_value_with_characters_outside_its_set(aws):
    dynamodb = aws("dynamodb")
    with pytest.raises(ClientError) as refused:
        _create_table(dynamodb, "Refused", "run(1)!")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Refused" not in dynamodb.list_tables()["TableNames"]

    _create_table(dynamodb, "Accepted", "run_1_=0a1b2c3d")
    arn = dynamodb.describe_table(TableName="Accepted")["Table"]["TableArn"]
    with pytest.raises(ClientError):
        dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "a@b"}])  # IAM takes @, DynamoDB does not
    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "fileferry:created-by", "Value": "run_1_=0a1b2c3d"}]


def test_iam_refuses_a_tag_value_outside_its_pattern(aws):
    iam = aws("iam")
    with pytest.raises(ClientError) as refused:
        iam.create_role(RoleName="Refused", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "k", "Value": "it's"}])
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "Refused" not in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    iam.create_role(RoleName="Accepted", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "k", "Value": "a@b Ü-1"}])
    with pytest.raises(ClientError):
        iam.tag_role(RoleName="Accepted", Tags=[{"Key": "k2", "Value": "(x)"}])
