"""`fleet deploy`: the orchestrator in every target through one CloudFormation StackSet (self-managed permissions).

StackSets does the deploying: its operations create and update the stack instances, one target after
another or several at once (MaxConcurrentCount), and stop once more than FailureToleranceCount have failed.
This module uploads what the instances need (the Lambda zip to a bucket in each target Region, the
template), creates or updates the StackSet and its instances, and follows each operation target by target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.desired import DesiredState
from provisioner.aws_clients import Clients
from provisioner.blueprint.cloudformation import code_key, template_yaml
from provisioner.blueprint.packaging import build_package
from provisioner.config import FleetTarget, Settings, dns_suffix_for
from provisioner.errors import DeployError

OPERATION_ENDED = ("SUCCEEDED", "FAILED", "STOPPED")
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]


@dataclass(frozen=True)
class InstanceResult:
    """What one target's stack instance is after `fleet deploy`."""

    target: FleetTarget
    status: str  # the instance's DetailedStatus (SUCCEEDED, FAILED, CANCELLED, ...), or NOT_CREATED
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "fleet-instance", "target": str(self.target), "account": self.target.account_id,
                "region": self.target.region, "status": self.status, "reason": self.reason}


def default_code_bucket_prefix(operator_account: str) -> str:
    return f"fileferry-code-{operator_account}"


class StackSetDeployment:
    """Creates or updates the StackSet `<name>` and its instances in the targets, from the operator's account."""

    def __init__(self, clients: Clients, settings: Settings, desired: DesiredState,
                 sleep: Callable[[float], None], progress: Callable[[str], None], poll_seconds: float = 5.0):
        self.clients, self.settings, self.desired = clients, settings, desired
        self.sleep, self.progress, self.poll_seconds = sleep, progress, poll_seconds
        self.name = settings.provisioner.name
        self.fleet = settings.fleet
        self.operations: list[str] = []

    @property
    def _cloudformation(self) -> Any:
        return self.clients.cloudformation

    def administration_role_arn(self) -> str:
        return f"arn:{self.clients.partition}:iam::{self.clients.account_id}:role/{self.fleet.administration_role_name}"

    def code_bucket_prefix(self) -> str:
        return self.fleet.code_bucket_prefix or default_code_bucket_prefix(self.clients.account_id)

    def deploy(self, targets: list[FleetTarget], max_concurrent: int, failure_tolerance: int) -> list[InstanceResult]:
        preferences = {"MaxConcurrentCount": max_concurrent, "FailureToleranceCount": failure_tolerance,
                       # Any count at once, whatever the tolerance (STRICT allows at most tolerance + 1).
                       "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}
        package = build_package(self.desired)
        digest = hashlib.sha256(package.zip_bytes).hexdigest()
        template = template_yaml(self.settings, self.desired, digest)
        prefix = self.code_bucket_prefix()
        parameters = [{"ParameterKey": "CodeBucketPrefix", "ParameterValue": prefix},
                      {"ParameterKey": "CodeKey", "ParameterValue": code_key(self.name, digest)}]
        existing = self._instances()
        accounts = sorted({t.account_id for t in targets} | {t.account_id for t in existing})
        home = self.clients.target.region
        for region in sorted({t.region for t in targets} | {home}):
            self._upload_code(f"{prefix}-{region}", region, code_key(self.name, digest), package.zip_bytes, accounts)
        template_url = self._upload_template(f"{prefix}-{home}", home, template)

        described = self._describe_stack_set()
        if described is None:
            self.progress(f"Creating StackSet {self.name} (administration role {self.fleet.administration_role_name}, "
                          f"execution role {self.fleet.execution_role_name})")
            self._cloudformation.create_stack_set(
                StackSetName=self.name, TemplateURL=template_url, Parameters=parameters, Capabilities=CAPABILITIES,
                Description=f"FileFerry provisioner {self.name}: the orchestrator in each target (deploy.py fleet)",
                AdministrationRoleARN=self.administration_role_arn(), ExecutionRoleName=self.fleet.execution_role_name,
                PermissionModel="SELF_MANAGED", Tags=[{"Key": "fileferry:managed-by", "Value": self.name}],
            )
        elif self._changed(described, template, parameters) or any(
                e.status != "SUCCEEDED" for e in existing.values()):
            self.progress(f"Updating StackSet {self.name} and its {len(existing)} instances")
            operation = self._cloudformation.update_stack_set(
                StackSetName=self.name, TemplateURL=template_url, Parameters=parameters, Capabilities=CAPABILITIES,
                AdministrationRoleARN=self.administration_role_arn(), ExecutionRoleName=self.fleet.execution_role_name,
                PermissionModel="SELF_MANAGED", OperationPreferences=preferences,
            )["OperationId"]
            self._follow(operation, "update")
            existing = self._instances()
        for regions, group in _by_accounts([t for t in targets if t not in existing]):
            self.progress(f"Creating stack instances in {', '.join(group)} x {', '.join(regions)}")
            operation = self._cloudformation.create_stack_instances(
                StackSetName=self.name, Accounts=group, Regions=regions, OperationPreferences=preferences,
            )["OperationId"]
            self._follow(operation, "create")
        instances = self._instances()
        return [instances.get(t) or InstanceResult(t, "NOT_CREATED", "no stack instance: its operation stopped first")
                for t in targets]

    # -- artifacts ------------------------------------------------------------------------------

    def _upload_code(self, bucket: str, region: str, key: str, body: bytes, accounts: list[str]) -> None:
        """The zip in `bucket` (Lambda reads code only from its own Region), readable by the target accounts."""
        s3 = self.clients.client("s3", region)
        self._ensure_bucket(s3, bucket, region)
        partition = self.clients.partition
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TargetAccountsReadTheCode",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:{partition}:iam::{account}:root" for account in accounts]},
                "Action": "s3:GetObject",
                "Resource": f"arn:{partition}:s3:::{bucket}/{self.name}/*",
            }],
        }))
        try:
            s3.head_object(Bucket=bucket, Key=key)  # named by its content: there already means the same zip
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            self.progress(f"Uploading the Lambda zip to s3://{bucket}/{key}")
            s3.put_object(Bucket=bucket, Key=key, Body=body)

    @staticmethod
    def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise DeployError(f"code bucket {bucket}: {err.response['Error'].get('Message') or err}") from err
        configuration = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            s3.create_bucket(Bucket=bucket, **configuration)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})

    def _upload_template(self, bucket: str, region: str, template: str) -> str:
        """The template is over the 51,200 bytes of an inline TemplateBody: the StackSet reads it from S3."""
        key = f"{self.name}/template-{hashlib.sha256(template.encode()).hexdigest()[:20]}.yaml"
        self.clients.client("s3", region).put_object(Bucket=bucket, Key=key, Body=template.encode())
        endpoint = self.clients.target.endpoint_url
        if endpoint:  # path-style at the endpoint, as `aws cloudformation deploy --s3-bucket` gives it
            return f"{endpoint.rstrip('/')}/{bucket}/{key}"
        return f"https://{bucket}.s3.{region}.{dns_suffix_for(region)}/{key}"

    # -- the StackSet ---------------------------------------------------------------------------

    def _describe_stack_set(self) -> dict[str, Any] | None:
        try:
            return self._cloudformation.describe_stack_set(StackSetName=self.name)["StackSet"]
        except self._cloudformation.exceptions.StackSetNotFoundException:
            return None

    def _changed(self, described: dict[str, Any], template: str, parameters: list[dict[str, str]]) -> bool:
        given = {p["ParameterKey"]: p["ParameterValue"] for p in parameters}
        held = {p["ParameterKey"]: p.get("ParameterValue") for p in described.get("Parameters", [])
                if p["ParameterKey"] in given}
        return (described.get("TemplateBody") != template or held != given
                or described.get("ExecutionRoleName") != self.fleet.execution_role_name
                or described.get("AdministrationRoleARN") != self.administration_role_arn())

    def _instances(self) -> dict[FleetTarget, InstanceResult]:
        found: dict[FleetTarget, InstanceResult] = {}
        if self._describe_stack_set() is None:  # the first fleet deploy
            return found
        paginator = self._cloudformation.get_paginator("list_stack_instances")
        for page in paginator.paginate(StackSetName=self.name):
            for summary in page.get("Summaries", []):
                target = FleetTarget(summary["Account"], summary["Region"])
                detailed = (summary.get("StackInstanceStatus") or {}).get("DetailedStatus")
                status = detailed or ("SUCCEEDED" if summary.get("Status") == "CURRENT" else summary.get("Status", ""))
                found[target] = InstanceResult(target, status, summary.get("StatusReason", "") or "")
        return found

    def _follow(self, operation_id: str, what: str) -> dict[str, Any]:
        """Until the operation ends, a line for each target whose result changed."""
        self.operations.append(operation_id)
        seen: dict[tuple[str, str], str] = {}
        while True:
            operation = self._cloudformation.describe_stack_set_operation(
                StackSetName=self.name, OperationId=operation_id)["StackSetOperation"]
            paginator = self._cloudformation.get_paginator("list_stack_set_operation_results")
            for page in paginator.paginate(StackSetName=self.name, OperationId=operation_id):
                for result in page.get("Summaries", []):
                    key = (result["Account"], result["Region"])
                    if seen.get(key) != result["Status"]:
                        seen[key] = result["Status"]
                        reason = f"  {result['StatusReason']}" if result.get("StatusReason") else ""
                        self.progress(f"  {key[0]}/{key[1]:<16} {result['Status'].lower()}{reason}")
            if operation["Status"] in OPERATION_ENDED:
                self.progress(f"StackSet {what} operation {operation_id}: {operation['Status'].lower()}")
                return operation
            self.sleep(self.poll_seconds)


def _by_accounts(targets: list[FleetTarget]) -> list[tuple[list[str], list[str]]]:
    """CreateStackInstances deploys to every account x Region given: the targets as (Regions, accounts) groups
    whose product is exactly them."""
    by_region: dict[str, set[str]] = {}
    for target in targets:
        by_region.setdefault(target.region, set()).add(target.account_id)
    groups: dict[tuple[str, ...], list[str]] = {}
    for region, accounts in sorted(by_region.items()):
        groups.setdefault(tuple(sorted(accounts)), []).append(region)
    return [(regions, list(accounts)) for accounts, regions in groups.items()]
