"""`render --region R` for a Region outside the aws partition: every document it writes (the template,
the ASL, each IAM document) names ARNs of R's partition only, the KMS key is used through R's own
DynamoDB endpoint (its partition's DNS suffix), and cfn-lint passes the template for R.

Read as a user would: `deploy.py render` run as a command, its files read back from disk.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloudformation_resolution import resolved_in

REPO = Path(__file__).resolve().parents[2]
# Region -> (its partition, its endpoints' DNS suffix), as AWS publishes them (ARNs in the China and
# GovCloud Regions: "Amazon Resource Names (ARNs)", IAM User Guide; China endpoints end in amazonaws.com.cn).
REGIONS = {
    "cn-north-1": ("aws-cn", "amazonaws.com.cn"),
    "us-gov-west-1": ("aws-us-gov", "amazonaws.com"),
    "us-iso-east-1": ("aws-iso", "c2s.ic.gov"),
}
ARN = re.compile(r"arn:([A-Za-z0-9-]*):")


def _render(tmp: Path, region: str, kms_key_id: str = "") -> Path:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["dynamodb"]["kms_key_id"] = kms_key_id
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp / "render"
    done = subprocess.run([sys.executable, "deploy.py", "--config", str(path), "--region", region, "render", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module", params=sorted(REGIONS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    region = request.param
    return region, _render(tmp_path_factory.mktemp(region), region, kms_key_id="alias/fileferry")


def _documents(out: Path) -> dict[str, str]:
    files = [out / "state_machine.asl.json", out / "cloudformation" / "template.yaml", *sorted((out / "iam").glob("*.json"))]
    return {str(path.relative_to(out)): path.read_text() for path in files}


def test_every_rendered_document_names_arns_of_the_regions_partition_only(rendered: tuple[str, Path]) -> None:
    region, out = rendered
    partition, _ = REGIONS[region]
    documents = _documents(out)
    assert len(documents) > 20  # the ASL, the template, a trust and a permission policy per role
    foreign = {name: sorted(set(ARN.findall(text)) - {partition}) for name, text in documents.items()}
    assert {name: found for name, found in foreign.items() if found} == {}
    asl = json.loads(documents["state_machine.asl.json"])
    assert f'"arn:{partition}:states:::lambda:invoke"' in json.dumps(asl)
    # The template names no partition: CloudFormation fills in the stack's (AWS::Partition, AWS::URLSuffix).
    template = yaml.safe_load(documents[str(Path("cloudformation") / "template.yaml")])
    properties = template["Resources"]["StateMachine"]["Properties"]
    assert '"Resource": "${IntegrationLambdaInvoke}"' in properties["DefinitionString"]
    assert properties["DefinitionSubstitutions"]["IntegrationLambdaInvoke"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:::lambda:invoke"}
    resolved = json.dumps(resolved_in(template, "123456789012", region, partition,
                                      {"CodeBucketPrefix": "code", "KmsKeyId": "alias/fileferry"}))
    assert sorted(set(ARN.findall(resolved))) == [partition]
    assert f"dynamodb.{region}.{REGIONS[region][1]}" in resolved
    assert f":{region}:" in documents["state_machine.asl.json"]


def test_the_customer_managed_key_is_used_through_the_regions_own_dynamodb_endpoint(rendered: tuple[str, Path]) -> None:
    region, out = rendered
    partition, suffix = REGIONS[region]
    policy = json.loads((out / "iam" / f"fileferry-provisioner-{region}-create-or-adopt-table-fn.policy.json").read_text())
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "CustomerManagedKey"]
    assert statement["Condition"]["StringEquals"] == {"kms:ViaService": f"dynamodb.{region}.{suffix}"}
    assert statement["Resource"] == [f"arn:{partition}:kms:{region}:123456789012:key/*"]


def test_cfn_lint_finds_no_error_in_the_template_rendered_for_the_region(rendered: tuple[str, Path]) -> None:
    from cfnlint.api import ManualArgs, lint_file

    region, out = rendered
    matches = lint_file(out / "cloudformation" / "template.yaml", ManualArgs(regions=[region]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def _config_with(tmp: Path, **changes: Any) -> Path:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        config[section][key] = value
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(("key", "value", "region"), [
    ("dynamodb__kms_key_id", "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "us-east-1"),
    ("provisioner__alarm_topic_arn", "arn:aws:sns:eu-west-1:123456789012:fileferry-alarms", "us-east-1"),
    ("provisioner__alarm_topic_arn", "arn:aws:sns:us-east-1:123456789012:fileferry-alarms", "cn-north-1"),
], ids=["key of another region", "topic of another region", "topic of another partition"])
def test_a_key_or_topic_outside_the_tables_region_is_refused_with_exit_2_and_nothing_written(
    tmp_path: Path, key: str, value: str, region: str
) -> None:
    path = _config_with(tmp_path, **{key: value})
    out = tmp_path / "render"
    done = subprocess.run([sys.executable, "deploy.py", "--config", str(path), "--region", region, "render", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert key.replace("__", ".") in line and region in line
    assert not out.exists()
