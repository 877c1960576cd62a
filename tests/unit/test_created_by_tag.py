"""The created-by tag value: any execution name Step Functions accepts becomes a value DynamoDB and IAM accept."""

from __future__ import annotations

import re

import pytest

from lambdas.core.desired import created_by_value

# DynamoDB (TagResource): letters, numbers, white space and + - = . _ : /, up to 256 characters.
# IAM (Tag data type): [\p{L}\p{Z}\p{N}_.:/=+\-@]*, up to 256 characters.
ACCEPTED_BY_BOTH = re.compile(r"^[\w+\-=.]{1,256}$")


@pytest.mark.parametrize(
    "name",
    ["provision-20261202-1", "run(1)", "it's-mine!", "a@b", "Übung'(1)", "x" * 80, "日本語-実行", "a+b=c.d_e"],
)
def test_every_execution_name_gives_an_acceptable_tag_value(name):
    value = created_by_value(name)
    assert ACCEPTED_BY_BOTH.match(value) and "@" not in value


def test_acceptable_names_are_kept_and_others_stay_traceable_and_distinct():
    assert created_by_value("provision-20261202-1") == "provision-20261202-1"
    assert created_by_value("run(1)").startswith("run_1_=")
    assert created_by_value("run(1)") != created_by_value("run)1(")
