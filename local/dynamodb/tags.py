"""Tag values DynamoDB refuses, and moto accepts.

DynamoDB (Developer Guide, "Tagging restrictions in DynamoDB"): tag keys and values may contain
"letters, whitespace, and numbers representable in UTF-8, plus the following special characters:
+ - = . _ : /"; a value is at most 256 characters. CreateTable (Tags) and TagResource answer
ValidationException otherwise. So an execution name such as ``run(1)!`` (allowed by Step Functions)
cannot be a tag value as is.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend

from local import patching

_DYNAMODB_SPECIAL = set("+-=._:/")


def install() -> None:
    patching.wrap(DynamoDBBackend, "create_table", _checked_create_table)
    patching.wrap(DynamoDBBackend, "tag_resource", _checked_tag_resource)


def _letter_number_or_space(char: str) -> bool:
    return unicodedata.category(char)[0] in ("L", "N", "Z")


def dynamodb_accepts(value: str) -> bool:
    return all(_letter_number_or_space(char) or char in _DYNAMODB_SPECIAL for char in value)


def _check_dynamodb(tags: list[dict[str, str]] | None) -> None:
    for tag in tags or ():
        if not dynamodb_accepts(str(tag.get("Value", ""))):
            raise MockValidationException("One or more parameter values were invalid: a tag value contains characters that are not allowed")


def _checked_create_table(create_table: Any, self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    if patching.in_emulator_request():
        _check_dynamodb(kwargs.get("tags"))
    return create_table(self, name, *args, **kwargs)


def _checked_tag_resource(tag_resource: Any, self: Any, table_arn: str, tags: dict[str, str]) -> Any:
    if patching.in_emulator_request():
        _check_dynamodb([{"Key": key, "Value": value} for key, value in tags.items()])
    return tag_resource(self, table_arn, tags)
