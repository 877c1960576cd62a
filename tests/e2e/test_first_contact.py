"""First contact: what a new user meets after install, without a traceback; and what the wheel carries."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "http://127.0.0.1:9"  # nothing listens: a command that made an AWS call would fail with exit 1


def deploy_py(*args, cwd=PROJECT_ROOT):
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "deploy.py"), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.mark.parametrize("kind", ["a directory", "bytes that are not UTF-8"])
def test_a_config_that_cannot_be_read_as_yaml_is_one_error_line_exit_2(tmp_path, kind):
    if kind == "a directory":
        config = tmp_path / "config.yaml"
        config.mkdir()
    else:
        config = tmp_path / "latin1.yaml"
        config.write_bytes(b"dynamodb:\n  region: \xe9\xff\n")
    result = deploy_py("--config", str(config), "--endpoint-url", NOWHERE, "plan")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith(f"error: {config}: ")


def test_version_names_the_package():
    result = deploy_py("--version")
    assert result.returncode == 0 and result.stdout.startswith("fileferry-provisioner ")


def test_the_help_lists_the_exit_codes_and_run_help_the_actions():
    top = deploy_py("--help").stdout
    assert "Exit codes:" in top and "130" in top and "drift" in top
    run_help = deploy_py("run", "--help").stdout
    assert all(action in run_help for action in ("provision", "drift-check", "rollback", "teardown"))


@pytest.mark.parametrize("argument", ["not-an-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:fileferry"])
def test_status_of_something_that_is_not_an_execution_arn_is_exit_2_before_any_aws_call(argument):
    result = deploy_py("--endpoint-url", NOWHERE, "status", argument)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "not an execution ARN" in result.stderr


def test_outside_a_checkout_the_packaged_config_is_read(tmp_path):
    result = deploy_py("--endpoint-url", NOWHERE, "render", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "state_machine.asl.json").exists()


def test_the_wheel_carries_what_users_run_and_not_the_benchmark(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(PROJECT_ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("fileferry_provisioner-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"provisioner/config.yaml", "state_machine/provisioner.asl.json", "lambdas/handlers/verify.py",
            "local/awslambda/worker.py", "provisioner/blueprint/parliament_auditors/least_privilege.py"} <= names
    assert zipfile.ZipFile(wheel).read("provisioner/config.yaml") == (PROJECT_ROOT / "config/config.yaml").read_bytes()
    assert not any(name.startswith(("bench/", "tests/")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("dist-info/METADATA"))).decode()
    assert "Description-Content-Type: text/markdown" in metadata
