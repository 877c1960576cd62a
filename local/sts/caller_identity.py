"""GetCallerIdentity of an operator key names the account principal, as AWS does for the account's root user.

moto answers a key it did not issue (`testing`, a 12-digit account key: the account's operator, see
local/iam/accounts.py) with a made-up user, ``arn:aws:sts::ACCOUNT:user/moto`` (an STS ARN for an IAM user,
which AWS never gives).  The operator is the account principal, so the embedded AWS answers as AWS does for
the root user (STS API reference, GetCallerIdentity: UserId is the account ID, Arn
``arn:aws:iam::ACCOUNT:root``), the ARN local/iam/enforcement.py names in the operator's AccessDenied messages.
A session's and an IAM user's identity stay moto's.
"""

from __future__ import annotations

from typing import Any

from moto.sts.models import STSBackend
from moto.utilities.utils import get_partition

from local import patching
from local.iam.accounts import operator_arn


def install() -> None:
    patching.patch(STSBackend, "get_caller_identity", _caller_identity)


def _caller_identity(self: STSBackend, access_key_id: str, region: str) -> tuple[str, str, str]:
    original = patching.original(STSBackend, "get_caller_identity")
    if not patching.in_emulator_request():
        return original(self, access_key_id, region)
    if self.get_assumed_role_from_access_key(access_key_id) is not None or _user_key(self, access_key_id):
        return original(self, access_key_id, region)
    return self.account_id, operator_arn(self.account_id, get_partition(region)), self.account_id


def _user_key(backend: STSBackend, access_key_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[backend.account_id][backend.partition].get_user_from_access_key_id(access_key_id)
