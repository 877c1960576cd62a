"""boto3 clients for the CLI, created once from the resolved AWS target."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from provisioner.config import AwsTarget

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)


class Clients:
    """One boto3 session, one client per service, from the normal credential chain."""

    def __init__(self, target: AwsTarget, local: bool = False):
        self.target = target
        # The embedded AWS accepts any credentials; a laptop without any configured still works.
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"} if local else {}
        self._session = boto3.session.Session(profile_name=target.profile, region_name=target.region, **credentials)

    def has_credentials(self) -> bool:
        """Whether the credential chain (or the embedded AWS's keys) gives any; a missing --profile raises ProfileNotFound."""
        return self._session.get_credentials() is not None

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of `service` in the configured Region, or in `region`."""
        return self._session.client(service, endpoint_url=self.target.endpoint_url, config=_CONFIG,
                                    **({"region_name": region} if region else {}))

    @cached_property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")

    @cached_property
    def sts(self) -> Any:
        return self.client("sts")

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def iam(self) -> Any:
        return self.client("iam")

    @cached_property
    def lambda_(self) -> Any:
        return self.client("lambda")

    @cached_property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")

    @cached_property
    def logs(self) -> Any:
        return self.client("logs")

    @cached_property
    def events(self) -> Any:
        return self.client("events")

    @cached_property
    def scheduler(self) -> Any:
        return self.client("scheduler")

    @cached_property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def _caller_identity(self) -> dict[str, Any]:
        return self.sts.get_caller_identity()  # one call gives both the account and the partition

    @property
    def account_id(self) -> str:
        return self._caller_identity["Account"]

    @property
    def partition(self) -> str:
        return self._caller_identity["Arn"].split(":")[1]


def session_client(service: str, credentials: dict[str, Any], region: str, endpoint_url: str | None) -> Any:
    """A client signed with an assumed role's credentials (STS AssumeRole's `Credentials`), in `region`."""
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region,
    )
    return session.client(service, endpoint_url=endpoint_url, config=_CONFIG)


def is_embedded_aws(url: str) -> bool:
    """Whether `url` is an embedded AWS (local/): it answers GET /_fileferry/faults, which AWS has not."""
    import urllib.request  # only the embedded AWS is asked this

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_fileferry/faults", timeout=2) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False
