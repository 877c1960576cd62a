"""Global options go before or after the command with the same meaning, as in the AWS CLI.

deploy.py runs as a user runs it: a fresh process, plain pipes. `render` makes no AWS call,
so what it writes shows which configuration the options selected.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner.cli.commands import cli

REPO = Path(__file__).resolve().parents[2]
GLOBAL_FLAGS = ("--config", "--region", "--profile", "--endpoint-url", "--json")


def deploy_py(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "deploy.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def other_config(tmp_path: Path) -> Path:
    """The shipped config under another provisioner name, so output shows which config was read."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["provisioner"]["name"] = "ff-elsewhere"
    path = tmp_path / "elsewhere.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_global_options_after_the_command_mean_what_they_mean_before_it(tmp_path, other_config):
    before = deploy_py("--json", "--config", str(other_config), "render", "--out", str(tmp_path / "before"))
    after = deploy_py("render", "--out", str(tmp_path / "after"), "--config", str(other_config), "--json")

    assert (before.returncode, after.returncode) == (0, 0), before.stderr + after.stderr
    written_before = [Path(p).relative_to(tmp_path / "before") for p in json.loads(before.stdout)]
    written_after = [Path(p).relative_to(tmp_path / "after") for p in json.loads(after.stdout)]
    assert written_before == written_after
    for out in ("before", "after"):
        asl = (tmp_path / out / "state_machine.asl.json").read_text()
        assert "ff-elsewhere-validate-input" in asl and "fileferry-provisioner-validate-input" not in asl


def test_an_option_given_before_and_after_the_command_with_two_values_exits_2_naming_both(tmp_path):
    out = tmp_path / "render"
    refused = deploy_py("--region", "eu-west-1", "render", "--out", str(out), "--region", "us-east-2")

    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith("error: ") and "--region eu-west-1" in line and "--region us-east-2" in line
    assert not out.exists()


def test_the_same_value_before_and_after_the_command_is_no_conflict(tmp_path):
    given = deploy_py(
        "--config", "config/config.yaml", "--region", "us-east-1",
        "render", "--out", str(tmp_path / "r"), "--config", "./config/config.yaml", "--region", "us-east-1",
    )
    assert given.returncode == 0, given.stderr
    assert (tmp_path / "r" / "state_machine.asl.json").exists()


def test_a_missing_profile_is_the_same_error_wherever_it_is_given():
    before = deploy_py("--profile", "no-such-profile-here", "outputs")
    after = deploy_py("outputs", "--profile", "no-such-profile-here")
    assert before.returncode == after.returncode == 1
    assert before.stderr == after.stderr
    assert "no-such-profile-here" in before.stderr


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_takes_every_global_option(command):
    params = {opt for param in cli.commands[command].params for opt in getattr(param, "opts", [])}
    assert set(GLOBAL_FLAGS) <= params


def test_a_missing_external_id_says_which_key_to_set_where(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    del config["sso"]["external_id"]
    path = tmp_path / "no-external-id.yaml"
    path.write_text(yaml.safe_dump(config))

    refused = deploy_py("render", "--out", str(tmp_path / "r"), "--config", str(path))

    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"error: {path}: sso.external_id: required key is missing; ")
    assert "add `external_id: ...` under `sso:`" in line
    assert not (tmp_path / "r").exists()


def test_the_configured_poll_reaches_the_definition_and_too_many_polls_are_refused(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["provisioner"].update(poll_interval_seconds=5, max_polls=40)
    path = tmp_path / "slow-tables.yaml"
    path.write_text(yaml.safe_dump(config))

    rendered = deploy_py("render", "--out", str(tmp_path / "r"), "--config", str(path))

    assert rendered.returncode == 0, rendered.stderr
    states = json.loads((tmp_path / "r" / "state_machine.asl.json").read_text())["States"]
    poll = states["Provision"]["Branches"][0]["States"]["ProvisionTables"]["ItemProcessor"]["States"]["PollTable"]
    assert (poll["Retry"][0]["IntervalSeconds"], poll["Retry"][0]["MaxAttempts"]) == (5, 40)

    config["provisioner"]["max_polls"] = 1000
    path.write_text(yaml.safe_dump(config))
    refused = deploy_py("render", "--out", str(tmp_path / "r2"), "--config", str(path))

    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert "provisioner.max_polls 1000 lets a provisioning run of 5 tables write up to 15499" in line
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize("args, named", [
    (["fleet", "run", "drift-check", "--target", "12345/us-east-1"], "the account must be 12 digits"),
    (["fleet", "deploy", "--target", "222222222222/moon-1"], "is not an AWS Region"),
    (["fleet", "status", "--target", "222222222222/eu-west-1", "--target", "222222222222/eu-west-1"], "listed twice"),
    (["fleet", "run", "drift-check", "--target", "222222222222"], "is not ACCOUNT/REGION"),
    (["fleet", "run", "teardown", "--target", "222222222222/eu-west-1"], "confirm with --input"),
    (["fleet", "run", "drift-check", "--input", '{"remediate": "yes"}', "--target", "222222222222/eu-west-1"], "remediate"),
    (["fleet", "deploy"], "no targets"),
    (["fleet", "status", "--target", "1" * 5000 + "/us-east-1"], "(5010 characters): the account must be 12 digits"),
    (["fleet", "run", "rollback", "--input",
      '{"execution_arn": "arn:aws:states:us-east-1:222222222222:execution:fileferry-provisioner:provision-x"}',
      "--target", "222222222222/us-east-1", "--target", "333333333333/us-east-1"], "--target 222222222222/us-east-1"),
])
def test_bad_fleet_targets_and_input_exit_2_with_one_line_before_any_aws_call(args: list[str], named: str) -> None:
    # No endpoint and no credentials: any AWS call would fail another way (exit 1).
    completed = deploy_py("--endpoint-url", "http://127.0.0.1:9", *args)
    assert completed.returncode == 2, completed.stderr
    (line,) = completed.stderr.strip().splitlines()
    assert named in line
