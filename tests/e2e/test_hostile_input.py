"""Hostile input gets one clear error naming the problem, and nothing is created.

Execution input goes through whole executions of the deployed state machine (one deployment
serves every input: all are started, then each is followed); config files and CLI arguments
go through deploy.py, which must refuse them before making any AWS call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.runs import executions as runs

HOSTILE = "HOSTILE-MARKER"  # must never come back in an error, a cause or a log line
OTHER_MACHINE_RUN = "arn:aws:states:us-east-1:123456789012:execution:someone-elses-machine:run-1"
OTHER_ACCOUNT_RUN = "arn:aws:states:us-east-1:210987654321:execution:fileferry-provisioner:run-1"

# (execution input, the exact cause); a HOSTILE value must never be echoed back
HOSTILE_EXECUTION_INPUTS: list[tuple[Any, str]] = [
    ({"action": "destroy-everything"}, "action: must be one of provision, drift-check, rollback, teardown"),
    ({"action": 5}, "action: must be string"),
    ({"action": ["provision", "teardown"]}, "action: must be string"),
    ({"action": "provision", "dry_run": True}, "execution input: unknown key 'dry_run'; allowed: action, remediate, execution_arn, confirm, lift_deletion_protection"),
    ({"action": "provision", HOSTILE + "k" * 500: 1}, "execution input: unknown key (a key not shown: too long or unprintable); allowed: action, remediate, execution_arn, confirm, lift_deletion_protection"),
    ({"action": "drift-check", "remediate": "yes"}, "remediate: must be boolean"),
    ({"action": "provision", "lift_deletion_protection": True}, "lift_deletion_protection: only allowed with action teardown"),
    ({"action": "teardown", "confirm": "fileferry-provisioner", "lift_deletion_protection": "yes"},
     "lift_deletion_protection: must be boolean"),
    ({"remediate": True}, "remediate: only allowed with action drift-check"),
    ({"action": "teardown", "confirm": HOSTILE + "x" * 10_000}, "confirm: must be shorter than or equal to 80 characters"),
    ({"action": "teardown", "confirm": "FileFerry-Provisioner"}, "confirm: must be the provisioner name (fileferry-provisioner) to tear down"),
    ({"action": "teardown"}, "confirm: required with action teardown"),
    ({"action": "provision", "confirm": "fileferry-provisioner"}, "confirm: only allowed with action teardown"),
    ({"action": "rollback"}, "execution_arn: required with action rollback"),
    ({"action": "rollback", "execution_arn": OTHER_MACHINE_RUN}, "execution_arn: not an execution of this state machine"),
    ({"action": "rollback", "execution_arn": OTHER_ACCOUNT_RUN}, "execution_arn: not an execution of this state machine"),
    ({"action": "rollback", "execution_arn": f"{HOSTILE}'; DROP TABLE x; --"}, "execution_arn: is not in the expected format"),
    ({"action": "rollback", "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:a:" + HOSTILE * 300},
     "execution_arn: must be shorter than or equal to 2048 characters"),
    (["provision"], "execution input: must be a JSON object"),
    ("teardown", "execution input: must be a JSON object"),
]


def _resources(clients) -> dict[str, Any]:
    roles = [r["RoleName"] for r in clients.iam.list_roles()["Roles"]]
    return {
        "tables": [name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")],
        "backups": clients.dynamodb.list_backups()["BackupSummaries"],
        "managed role": [name for name in roles if name == "FileFerryReadOnlyRole"],
    }


def test_hostile_execution_input_fails_with_invalid_input_naming_the_field_and_creates_nothing(
    deployed, clients, function_logs
):
    sfn = clients.stepfunctions
    started = [
        (run_input, expected, runs.start(sfn, deployed.state_machine_arn, run_input))
        for run_input, expected in HOSTILE_EXECUTION_INPUTS
    ]
    problems = []
    for run_input, expected, arn in started:
        result = runs.Follower(sfn, poll_seconds=0.2).follow(arn)
        # The cause as AWS recorded it, stack trace and all (DescribeExecution may still lag the end).
        raw_cause = runs.end_event(result.events)["executionFailedEventDetails"]["cause"]
        shown = json.dumps(run_input)[:60]
        if (result.status, result.error, result.failed_state) != ("FAILED", "InvalidInput", "ValidateInput"):
            problems.append(f"{shown}: {result.status} {result.error} in {result.failed_state}")
        elif result.cause != expected:
            problems.append(f"{shown}: cause {result.cause!r}, expected {expected!r}")
        elif HOSTILE in raw_cause:
            problems.append(f"{shown}: the hostile value is echoed back in the cause")
    assert problems == [], "\n".join(problems)
    assert _resources(clients) == {"tables": [], "backups": [], "managed role": []}
    logs = function_logs.new_lines()
    # Concurrent invocations write to one file, so a line may hold the tail of another's output.
    assert sum(line.count("START RequestId:") for line in logs["fileferry-provisioner-validate-input"]) == len(started)
    assert not [line for lines in logs.values() for line in lines if HOSTILE in line], "a hostile value reached the logs"


# -- config files: exit 2, one line naming the key, before any AWS call ------------------------


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    for section in sections:
        data = data.setdefault(section, {})
    if value is _DELETE:
        del data[key]
    else:
        data[key] = value


class _Delete:
    def __repr__(self) -> str:  # a stable test id under xdist
        return "<deleted>"


_DELETE = _Delete()

HOSTILE_CONFIGS: list[tuple[str, Any, str]] = [
    ("dynamodb.extra_table", "FileFerry-Extra", "dynamodb.extra_table: unknown key"),
    ("sso.account_id", "12345", "sso.account_id: invalid value '12345'"),
    ("sso.account_id", 123456789012, "sso.account_id: must be a quoted string of 12 digits"),
    ("sso.external_id", _DELETE, "sso.external_id: required key is missing"),
    ("dynamodb.kms_key_id", "my-key", "dynamodb.kms_key_id: must be empty (AWS-managed key), a KMS key ARN"),
    ("dynamodb.active_sessions_table", "x", "dynamodb.active_sessions_table: invalid value 'x'"),
    ("dynamodb.user_context_table", "FileFerry-ActiveSessions", "table name 'FileFerry-ActiveSessions' is used twice"),
    ("dynamodb.region", "us-east-1; rm -rf /", "dynamodb.region: invalid value"),
    ("provisioner.name", "fileferry provisioner!", "provisioner.name: invalid value"),
    ("provisioner.log_retention_days", 8, "provisioner.log_retention_days: must be one of CloudWatch Logs' retention periods"),
    ("provisioner.drift_schedule", "every day", "provisioner.drift_schedule: must be rate("),
    ("provisioner.max_concurrency", 0, "provisioner.max_concurrency: Input should be greater than or equal to 1"),
    ("sso.readable_buckets", [], "sso.readable_buckets: List should have at least 1 item"),
]


@pytest.fixture
def deploy_py(aws, capsys):
    """deploy.py's main() against the embedded AWS with any config; (exit code, output lines)."""
    from provisioner.cli.commands import main

    def invoke(config: Path, *args: str) -> tuple[int, list[str]]:
        code = main(["--config", str(config), "--endpoint-url", aws.endpoint_url, *args])
        captured = capsys.readouterr()
        return code, (captured.out + captured.err).strip().splitlines()

    return invoke


@pytest.mark.parametrize(("key", "value", "message"), HOSTILE_CONFIGS, ids=[f"{k}={v!r}"[:40] for k, v, _ in HOSTILE_CONFIGS])
def test_a_bad_config_exits_2_with_one_line_naming_the_key_before_any_aws_call(aws, deploy_py, config_path, key, value, message):
    data = yaml.safe_load(config_path.read_text())
    _set(data, key, value)
    config_path.write_text(yaml.safe_dump(data))

    code, lines = deploy_py(config_path, "deploy")

    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"error: {config_path}: "), lines
    assert message in lines[0]
    assert aws.api_calls() == {}


def test_config_that_is_not_yaml_or_not_a_mapping_exits_2_before_any_aws_call(aws, deploy_py, tmp_path):
    broken = tmp_path / "broken.yaml"
    for text, message in (("sso: [unclosed", "not valid YAML"), ("- just\n- a list\n", "must be a mapping of sections")):
        broken.write_text(text)
        code, lines = deploy_py(broken, "deploy")
        assert (code, len(lines)) == (2, 1) and message in lines[0], lines
    code, lines = deploy_py(tmp_path / "missing.yaml", "deploy")
    assert (code, lines) == (2, [f"error: {tmp_path / 'missing.yaml'}: file not found; check the path given to "
                                 "--config (without it, config/config.yaml or the packaged config is read)"])
    assert aws.api_calls() == {}


# -- CLI arguments -------------------------------------------------------------------------------

HOSTILE_ARGUMENTS: list[tuple[list[str], str]] = [
    (["--region", "us east 1", "deploy"], "--region: invalid region 'us east 1'"),
    (["--region", "../../etc", "plan"], "--region: invalid region"),
    (["--endpoint-url", "file:///etc/passwd", "deploy"], "--endpoint-url: not an http(s) URL"),
    (["run", "destroy-everything"], "'destroy-everything' is not one of 'provision', 'drift-check', 'rollback', 'teardown'"),
    (["run", "provision", "--input", "{not json"], "Invalid value for --input: not JSON"),
    (["run", "provision", "--input", "[1, 2]"], "Invalid value for --input: must be a JSON object"),
    (["run", "drift-check", "--input", '{"action": "teardown"}'], "Invalid value for --input: its action differs from ACTION"),
    (["run", "rollback"], "execution_arn: required with action rollback"),
    (["run", "teardown", "--input", '{"confirm": "someone-else"}'], "confirm: must be the provisioner name"),
    (["run", "provision", "--input", '{"remediate": true}'], "remediate: only allowed with action drift-check"),
    (["up", "--local", "--create-latency", "nan"], "'nan' is not a number of seconds"),
    (["up", "--local", "--create-latency", "-1"], "-1.0 is not in the range 0<=x<=3600"),
    (["up", "--local", "--backup-latency", "nan"], "'--backup-latency': 'nan' is not a number of seconds"),
    (["up", "--local", "--ttl-latency", "3601"], "'--ttl-latency': 3601.0 is not in the range 0<=x<=3600"),
    (["up", "--backup-latency", "5"], "--backup-latency, --ttl-latency, --consistency-lag, --chaos and --seed go with --local"),
    (["local", "--ttl-latency", "inf"], "'--ttl-latency': inf is not in the range 0<=x<=3600"),
    (["up", "--local", "--chaos", "1.5"], "'--chaos': 1.5 is not in the range 0<=x<=1"),
    (["local", "--chaos", "nan"], "'--chaos': 'nan' is not a number from 0 to 1"),
    (["up", "--local", "--seed", "-1"], "'--seed': -1 is not in the range"),
    (["local", "--consistency-lag", "-1"], "'--consistency-lag': -1.0 is not in the range 0<=x<=3600"),
    (["up", "--chaos", "0.1"], "--consistency-lag, --chaos and --seed go with --local"),
]


@pytest.mark.parametrize(("args", "message"), HOSTILE_ARGUMENTS, ids=[" ".join(a)[:40] for a, _ in HOSTILE_ARGUMENTS])
def test_bad_cli_arguments_exit_2_with_one_error_line_before_any_aws_call(aws, capsys, config_path, args, message):
    from provisioner.cli.commands import main

    global_args = ["--config", str(config_path)]
    if "--endpoint-url" not in args:  # the bad endpoint case brings its own
        global_args += ["--endpoint-url", aws.endpoint_url]
    code = main([*global_args, *args])
    output = capsys.readouterr()
    errors = [line for line in (output.out + output.err).splitlines() if line.lower().startswith("error")]

    assert code == 2
    assert len(errors) == 1 and message in errors[0], errors
    assert aws.api_calls() == {}
