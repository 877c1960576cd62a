"""Many accounts in one emulator: an access key id of exactly 12 digits acts as that account.

moto keeps one backend per account and decides a request's account from its access key
(``BaseResponse.get_current_account`` -> ``moto.iam.models.get_account_id_from``): a key of an IAM user or
an sts:AssumeRole session belongs to the account that issued it, and any other key to the default account,
123456789012.  The embedded AWS adds LocalStack's convention at that one point: a key of exactly 12 digits
is that account's operator (deploy.py, the AWS CLI and tests acting as an administrator of that account).
The `testing` key stays 123456789012, and session keys stay the account of their role.  (Not lower, in
``get_account_id_from``: moto reads only 20-character key ids from the Authorization header, and hands it
"AKIAEXAMPLE" for any other.)

The operator is not evaluated by IAM (local/iam/enforcement.py): it has full access within its account, and
it is the account principal, ``arn:PARTITION:iam::ACCOUNT:root``, to whatever it meets in another account
(a trust policy, a bucket policy).  ``operator_arn`` names it so.
"""

from __future__ import annotations

import re

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import BaseResponse
from moto.iam import models as iam_models

from local import patching

ACCOUNT_KEY = re.compile(r"^[0-9]{12}$")  # ASCII: \d would take any Unicode digit
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def install() -> None:
    patching.patch(BaseResponse, "get_current_account", _current_account)


def _current_account(self: BaseResponse) -> str:
    if patching.in_emulator_request():
        match = _CREDENTIAL.search(self.headers.get("Authorization", "") or "")
        if match and ACCOUNT_KEY.match(match.group(1)):
            return match.group(1)
    return patching.original(BaseResponse, "get_current_account")(self)


def account_of_key(access_key: str | None) -> str:
    """The account a request signed with `access_key` acts in (as moto decides it, with 12-digit keys)."""
    if access_key and ACCOUNT_KEY.match(access_key):
        return access_key
    return iam_models.get_account_id_from(access_key or "") if access_key else DEFAULT_ACCOUNT_ID


def operator_arn(account: str, partition: str = "aws") -> str:
    """The operator of `account`, as IAM names the account principal."""
    return f"arn:{partition}:iam::{account}:root"
