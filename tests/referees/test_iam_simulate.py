"""The iam-simulate wrapper answers as IAM does on small known cases, and refuses to judge what it cannot."""

from __future__ import annotations

import pytest

import node_tools
from iam_simulate import ALLOWED, EXPLICITLY_DENIED, IMPLICITLY_DENIED, Case, SimulationRejected, simulate

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/FileFerryReadOnlyRole"
READ_BUCKET = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
    ],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "right"}},
        },
    ],
}
ASSUMER = f"arn:aws:iam::{ACCOUNT}:role/sso-handler"
MAY_ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


def test_one_batch_gives_allow_explicit_and_implicit_denials_in_order() -> None:
    cases = [
        Case("s3:GetObject", "arn:aws:s3:::bucket/key", [READ_BUCKET]),
        Case("s3:PutObject", "arn:aws:s3:::bucket/key", [READ_BUCKET]),
        Case("s3:GetObject", "arn:aws:s3:::other/key", [READ_BUCKET]),
        Case("sts:AssumeRole", ROLE, resource_policy=TRUST, principal="lambda.amazonaws.com"),
        Case("sts:AssumeRole", ROLE, [MAY_ASSUME], TRUST, {"sts:ExternalId": "right"}, principal=ASSUMER),
        Case("sts:AssumeRole", ROLE, [MAY_ASSUME], TRUST, {"sts:ExternalId": "wrong"}, principal=ASSUMER),
        Case("sts:AssumeRole", ROLE, resource_policy=TRUST, principal="ec2.amazonaws.com"),
    ]
    assert simulate(cases) == [
        ALLOWED,
        EXPLICITLY_DENIED,
        IMPLICITLY_DENIED,
        ALLOWED,
        ALLOWED,
        IMPLICITLY_DENIED,
        IMPLICITLY_DENIED,
    ]


def test_a_case_the_tool_cannot_judge_raises() -> None:
    with pytest.raises(SimulationRejected, match="s3:GetObjekt"):
        simulate([Case("s3:GetObject", "arn:aws:s3:::bucket/key", [READ_BUCKET]), Case("s3:GetObjekt", "arn:aws:s3:::bucket/key")])


def test_missing_node_packages_fail_with_the_setup_command(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(node_tools, "NODE_MODULES", tmp_path / "node_modules")
    with pytest.raises(node_tools.NodeToolsMissing, match="npm ci --no-audit --no-fund"):
        simulate([Case("s3:GetObject", "arn:aws:s3:::bucket/key", [READ_BUCKET])])
