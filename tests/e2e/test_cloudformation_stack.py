"""The orchestrator deployed from render's CloudFormation template, with the plain AWS CLI (`s3 cp` of the
zip to the Region's code bucket, `cloudformation deploy`), provisions the spec on the embedded AWS; what
the stack created is read back from AWS and compared with what render wrote (the documents and settings
deploy uses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import yaml

from provisioner.runs import executions as runs
from provisioner.config import resolve
from provisioner.blueprint.rendering import render_documents

STACK = "fileferry-orchestrator"
CODE_BUCKET_PREFIX = "fileferry-code"
BUCKET = f"{CODE_BUCKET_PREFIX}-us-east-1"  # <CodeBucketPrefix>-<Region>


def _aws_cli(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, f"aws {' '.join(args[:2])} failed: {completed.stderr[-2000:]}"
    return completed.stdout


def test_a_provisioning_run_through_the_stack_deployed_orchestrator_succeeds(aws, config_path: Path, tmp_path: Path) -> None:
    resolved = resolve(config_path, endpoint_url=aws.endpoint_url)
    out = tmp_path / "render"
    render_documents(resolved, out)
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    client = lambda service: session.client(service, endpoint_url=aws.endpoint_url)  # noqa: E731
    client("s3").create_bucket(Bucket=BUCKET)

    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws.endpoint_url,  # also for package's own S3 client, which ignores --endpoint-url
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_PROFILE", None)
    template = out / "cloudformation" / "template.yaml"
    code_key = yaml.safe_load(template.read_text())["Parameters"]["CodeKey"]["Default"]
    _aws_cli(env, "s3", "cp", str(out / "cloudformation" / "lambda.zip"), f"s3://{BUCKET}/{code_key}")
    _aws_cli(env, "cloudformation", "deploy", "--template-file", str(template), "--stack-name", STACK,
             "--capabilities", "CAPABILITY_NAMED_IAM", "--s3-bucket", BUCKET,
             "--parameter-overrides", f"CodeBucketPrefix={CODE_BUCKET_PREFIX}")

    cloudformation = client("cloudformation")
    assert cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    created = {r["ResourceType"] for r in cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
               if r["ResourceStatus"] == "CREATE_COMPLETE"}
    # Reads lag writes here (CONSISTENCY_LAG_SECONDS): each role's permissions are an AWS::IAM::RolePolicy its
    # users DependsOn, complete once IAM has propagated them; inline `Policies` would roll the stack back.
    assert created == {"AWS::IAM::Role", "AWS::IAM::RolePolicy", "AWS::Lambda::Function", "AWS::Logs::LogGroup", "AWS::StepFunctions::StateMachine",
                       "AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::DynamoDB::Table",
                       "AWS::SQS::Queue", "AWS::SQS::QueuePolicy"}

    # What the stack created is what render wrote (the documents deploy sends).
    iam = client("iam")
    for trust in sorted((out / "iam").glob("fileferry-provisioner-*.trust.json")):
        role = trust.name.removesuffix(".trust.json")
        assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == json.loads(trust.read_text())
        policy = iam.get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
        assert policy == json.loads((out / "iam" / f"{role}.policy.json").read_text()), role
    sfn = client("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    assert json.loads(described["definition"]) == json.loads((out / "state_machine.asl.json").read_text())
    assert described["roleArn"].endswith(":role/fileferry-provisioner-us-east-1-states")
    assert described["tracingConfiguration"] == {"enabled": True}
    assert described["loggingConfiguration"]["level"] == "ERROR"
    targets = client("events").list_targets_by_rule(Rule="fileferry-provisioner-rollback-on-abort")["Targets"]
    assert [(t["Arn"], t["RoleArn"].split("/")[-1]) for t in targets] == [(machine["stateMachineArn"], "fileferry-provisioner-us-east-1-events")]
    sqs = client("sqs")
    queue = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="fileferry-provisioner-undelivered")["QueueUrl"],
                                     AttributeNames=["QueueArn", "Policy"])["Attributes"]
    assert targets[0]["DeadLetterConfig"] == {"Arn": queue["QueueArn"]}
    (statement,) = json.loads(queue["Policy"])["Statement"]  # EventBridge may send the rule's undelivered events
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":rule/fileferry-provisioner-rollback-on-abort")

    settings = resolved.settings
    schedule = client("scheduler").get_schedule(Name=f"{settings.provisioner.name}-drift-check")
    assert schedule["ScheduleExpression"] == settings.provisioner.drift_schedule
    assert (schedule["Target"]["Arn"], json.loads(schedule["Target"]["Input"])) == (machine["stateMachineArn"], {"action": "drift-check"})
    assert schedule["Target"]["RoleArn"].endswith(":role/fileferry-provisioner-us-east-1-scheduler")
    (alarm,) = client("cloudwatch").describe_alarms(AlarmNames=[f"{settings.provisioner.name}-drift"])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("FileFerry", "DriftedResources", "Maximum")

    execution = runs.start(sfn, machine["stateMachineArn"], {})
    result = runs.Follower(sfn, poll_seconds=0.2).follow(execution)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    dynamodb = client("dynamodb")
    for name in resolved.settings.table_names():
        assert dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    assert iam.get_role(RoleName=resolved.settings.sso.role_name)["Role"]["MaxSessionDuration"] == 3600

    # Deleting the stack keeps the log groups (DeletionPolicy Retain): the runs' record outlives the orchestrator.
    logs = client("logs")
    log_groups = sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"])
    cloudformation.delete_stack(StackName=STACK)
    assert sfn.list_state_machines()["stateMachines"] == []
    assert sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]) == log_groups
    assert f"/aws/vendedlogs/states/{settings.provisioner.name}" in log_groups
