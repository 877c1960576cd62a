"""Tag values IAM refuses, and moto accepts.

IAM (API reference, Tag data type): Value pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``, at most 256
characters; CreateRole and TagRole answer ValidationError ("1 validation error detected ... failed
to satisfy constraint: Member must satisfy regular expression pattern").
"""

from __future__ import annotations

import unicodedata
from typing import Any

from moto.iam.exceptions import ValidationError
from moto.iam.models import IAMBackend

from local import patching

_IAM_SPECIAL = set("_.:/=+-@")
_IAM_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"


def install() -> None:
    patching.wrap(IAMBackend, "create_role", _checked_create_role)
    patching.wrap(IAMBackend, "tag_role", _checked_tag_role)


def _letter_number_or_space(char: str) -> bool:
    return unicodedata.category(char)[0] in ("L", "N", "Z")


def iam_accepts(value: str) -> bool:
    return all(_letter_number_or_space(char) or char in _IAM_SPECIAL for char in value)


def _check_iam(tags: list[dict[str, str]] | None) -> None:
    for index, tag in enumerate(tags or (), start=1):
        if not iam_accepts(str(tag.get("Value", ""))):
            raise ValidationError(
                f"1 validation error detected: Value at 'tags.{index}.member.value' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {_IAM_PATTERN}"
            )


def _checked_create_role(create_role: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    if patching.in_emulator_request():
        tags = kwargs.get("tags", args[5] if len(args) > 5 else None)
        _check_iam(tags)
    return create_role(self, *args, **kwargs)


def _checked_tag_role(tag_role: Any, self: Any, role_name: str, tags: list[dict[str, str]]) -> Any:
    if patching.in_emulator_request():
        _check_iam(tags)
    return tag_role(self, role_name, tags)
