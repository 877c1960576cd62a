"""First contact: what a new user meets after install, without a traceback; and what the wheel carries."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from provisioner.cli.commands import main
from provisioner.runs import executions as runs

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "http://127.0.0.1:9"  # nothing listens: a command that made an AWS call would fail with exit 1
# What a fresh checkout holds; a developer's build/ would leave stale modules (bench/) in the wheel.
NOT_SOURCE = shutil.ignore_patterns(".git", "build", "node_modules", "*.egg-info", "__pycache__", ".pytest_cache", ".venv")


def deploy_py(*args, cwd=PROJECT_ROOT, env=None):
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "deploy.py"), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def without_credentials(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine where no AWS credentials are configured."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "no-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
               AWS_EC2_METADATA_DISABLED="true")
    return env


@pytest.mark.parametrize("kind", ["a directory", "bytes that are not UTF-8", "a YAML list", "a YAML scalar", "invalid YAML"])
def test_a_config_that_cannot_be_read_as_yaml_is_one_error_line_exit_2(tmp_path, kind):
    config = tmp_path / "config.yaml"
    if kind == "a directory":
        config.mkdir()
    else:
        config.write_bytes({"bytes that are not UTF-8": b"dynamodb:\n  region: \xe9\xff\n", "a YAML list": b"- dynamodb\n",
                            "a YAML scalar": b"dynamodb\n", "invalid YAML": b"dynamodb: [\n"}[kind])
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


def test_without_credentials_an_endpoint_that_is_not_the_embedded_aws_is_one_error_line_exit_1(tmp_path):
    result = deploy_py("--endpoint-url", NOWHERE, "plan", env=without_credentials(tmp_path))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: no AWS credentials found; ")


def test_without_credentials_the_embedded_aws_is_used_with_its_keys_and_says_so(aws, config_path, tmp_path):
    result = deploy_py("--config", str(config_path), "--endpoint-url", aws.endpoint_url, "plan",
                       env=without_credentials(tmp_path))
    assert result.returncode == 3, result.stderr  # nothing provisioned yet: the plan creates everything
    assert result.stderr.splitlines() == [
        f"No AWS credentials found; {aws.endpoint_url} is the embedded AWS, so using its test keys (as --local does)"
    ]
    assert "create  table/FileFerry-ActiveSessions" in result.stdout


def _interrupt_when_following(command: list[str]) -> tuple[int, str, str]:
    """Run `command`, press Ctrl-C once it shows a run's first progress line; (exit code, stdout, stderr)."""
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if len(lines) > 1 and lines[-2].startswith("Execution "):  # the line after it: following the run
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, "".join(lines) + out, err


def test_ctrl_c_while_following_a_run_exits_130_and_says_the_run_goes_on_and_how_to_follow_or_stop_it(
    aws, deployed, config_path, clients
):
    aws.set_create_latency(600)  # tables stay CREATING: the run is still going when Ctrl-C comes
    code, out, err = _interrupt_when_following(
        [sys.executable, "deploy.py", "--config", str(config_path), "--endpoint-url", aws.endpoint_url, "run", "provision"])

    assert code == 130, err
    arn = re.search(r"^Execution (\S+)$", out, re.M).group(1)
    assert (
        f"Interrupted; execution {arn} keeps running: follow it with python deploy.py status {arn} --follow, "
        f"or stop it with aws stepfunctions stop-execution --execution-arn {arn}") in err.splitlines()
    assert clients.stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING"


def test_ctrl_c_while_following_a_run_under_json_names_the_run_on_stderr(aws, deployed, config_path, clients, capsys,
                                                                         monkeypatch):
    def ctrl_c(follower, execution_arn):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs.Follower, "follow", ctrl_c)
    code = main(["--config", str(config_path), "--endpoint-url", aws.endpoint_url, "--json", "run", "drift-check"])

    captured = capsys.readouterr()
    assert (code, captured.out) == (130, "")
    aws.clock.advance(aws.consistency.seconds)  # ListExecutions lists a run started moments ago only after the lag
    (arn,) = [e["executionArn"] for e in clients.stepfunctions.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"]]
    assert any(line.startswith(f"Interrupted; execution {arn} keeps running: ") for line in captured.err.splitlines())


def test_ctrl_c_during_up_local_exits_130_without_a_run_to_follow_since_its_embedded_aws_stops_too():
    code, out, err = _interrupt_when_following([sys.executable, "deploy.py", "up", "--local", "--create-latency", "600"])

    assert code == 130, err
    assert "keeps running" not in err and "Traceback" not in err


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a clean copy of the source tree."""
    source, out = tmp_path_factory.mktemp("source") / "tree", tmp_path_factory.mktemp("wheel")
    shutil.copytree(PROJECT_ROOT, source, symlinks=True, ignore=NOT_SOURCE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("fileferry_provisioner-*.whl")
    return built


def test_the_wheel_carries_what_users_run_and_not_the_benchmark(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    lambdas = {path.relative_to(PROJECT_ROOT).as_posix() for path in (PROJECT_ROOT / "lambdas").rglob("*.py")}
    assert {"provisioner/config.yaml", "state_machine/provisioner.asl.json", "local/awslambda/worker.py",
            "provisioner/blueprint/parliament_auditors/least_privilege.py", *lambdas} <= names
    assert zipfile.ZipFile(wheel).read("provisioner/config.yaml") == (PROJECT_ROOT / "config/config.yaml").read_bytes()
    assert not any(name.startswith(("bench/", "tests/")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("dist-info/METADATA"))).decode()
    assert "Description-Content-Type: text/markdown" in metadata and "Classifier: " in metadata


def test_the_installed_console_command_runs_outside_the_repository_on_what_the_wheel_ships(wheel, tmp_path):
    # The dependencies come from this interpreter's site-packages; the project itself only from the wheel.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    subprocess.run([env_dir / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    command = env_dir / "bin" / "fileferry-provisioner"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([command, *args], cwd=elsewhere, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    version = run("--version")
    release = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (version.returncode, version.stdout) == (0, f"fileferry-provisioner {release}\n"), version.stderr
    assert run("--help").stdout.startswith("Usage: fileferry-provisioner ")
    rendered = run("--endpoint-url", NOWHERE, "render", "--out", str(elsewhere / "out"))
    assert rendered.returncode == 0, rendered.stderr
    assert (elsewhere / "out" / "state_machine.asl.json").exists()
    located = subprocess.run(
        [env_dir / "bin" / "python", "-c", "import provisioner.config as c, state_machine.asl as a; print(c.default_config_path()); print(a.ASL_PATH)"],
        cwd=elsewhere, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert all(Path(path).is_relative_to(env_dir) for path in located), located
