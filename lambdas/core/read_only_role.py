"""FileFerryReadOnlyRole's documents: its trust policy and its read-only permissions, for one account and Region.

In the Lambda package, because each function builds them for the account and Region it runs in
(lambdas/core/target.py); `deploy.py` builds them from the config with the same functions.
"""

from __future__ import annotations

import json
import os
from typing import Any

DYNAMODB_ITEM_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
]


def table_arn(region: str, account_id: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:dynamodb:{region}:{account_id}:table/{name}"


def trust_policy(account_id: str, external_id: str, partition: str = "aws") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LambdaService",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            {
                "Sid": "AccountWithExternalId",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            },
        ],
    }


# IAM's quota for a role's inline policies, counted without white space.
INLINE_POLICY_QUOTA = 10_240
# Room left for the rest of the read-only policy when the table ARNs are listed one by one.
TABLE_RESOURCES_BUDGET = 7_000


def table_resources(table_arns: list[str]) -> list[str]:
    """Each table and its indexes, or, when that list would not fit IAM's quota, their common prefix."""
    explicit = sorted(table_arns + [f"{arn}/index/*" for arn in table_arns])
    if len(json.dumps(explicit, separators=(",", ":"))) <= TABLE_RESOURCES_BUDGET:
        return explicit
    prefix = os.path.commonprefix(table_arns)
    return [f"{prefix}*"]  # covers the tables and their /index/* too


def read_only_policy(
    table_arns: list[str], buckets: list[str], namespace: str, partition: str = "aws"
) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListReadableBuckets",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": [f"arn:{partition}:s3:::{bucket}" for bucket in buckets],
            },
            {
                "Sid": "ReadObjects",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:{partition}:s3:::{bucket}/*" for bucket in buckets],
            },
            {
                "Sid": "DenyS3Writes",
                "Effect": "Deny",
                "Action": ["s3:DeleteObject", "s3:PutObject"],
                "Resource": "*",
            },
            {
                "Sid": "FileFerryTables",
                "Effect": "Allow",
                "Action": DYNAMODB_ITEM_ACTIONS,
                "Resource": table_resources(table_arns),
            },
            {
                "Sid": "FileFerryMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
            },
            {
                "Sid": "XRayTracing",
                "Effect": "Allow",
                "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Resource": "*",
            },
        ],
    }
