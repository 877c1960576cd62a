"""What a step's init imports and compiles, and that tracing, when it is on, still reaches X-Ray.

Each check runs in a fresh interpreter with the environment Lambda gives a function
(LAMBDA_TASK_ROOT set) plus what deploy sets (POWERTOOLS_TRACE_DISABLED when untraced).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambdas.core.steps import STEPS

REPO = Path(__file__).resolve().parents[2]

_IMPORTED = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _packages_imported(module: str, **environment: str) -> list[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_"))}
    env.update({"LAMBDA_TASK_ROOT": str(REPO), "AWS_REGION": "us-east-1", "PYTHONPATH": str(REPO), **environment})
    done = subprocess.run([sys.executable, "-c", _IMPORTED, module], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout)


def test_no_step_imports_the_xray_sdk_while_tracing_is_off_and_only_validate_input_imports_schema_validation():
    for step in STEPS:
        module = step.handler.rsplit(".", 1)[0]
        packages = _packages_imported(module, POWERTOOLS_TRACE_DISABLED="true")
        assert "aws_xray_sdk" not in packages, step.name
        assert ("fastjsonschema" in packages) == (step.name == "validate-input"), step.name


def test_with_tracing_on_a_step_imports_the_xray_sdk():
    assert "aws_xray_sdk" in _packages_imported("lambdas.handlers.verify")


_TRACED = """
import botocore.session
from botocore.config import Config

from lambdas.core.runtime import tracer


@tracer.capture_lambda_handler
def handler(event, context):
    sts = botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="x",
        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}, connect_timeout=1))
    try:
        sts.get_caller_identity()
    except Exception:
        pass  # nothing listens there: the call is traced all the same, as a fault
    return {}


handler({}, None)
"""


def test_with_tracing_on_a_step_sends_its_handler_and_its_aws_calls_to_the_xray_daemon():
    # The X-Ray daemon listens on UDP (AWS_XRAY_DAEMON_ADDRESS, set by Lambda); this socket stands in for it.
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(5)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_"))}
    env.update({
        "LAMBDA_TASK_ROOT": str(REPO), "PYTHONPATH": str(REPO), "AWS_REGION": "us-east-1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    })
    try:
        subprocess.run([sys.executable, "-c", _TRACED], cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                       check=True)
        names = []
        while len(names) < 2:
            datagram = daemon.recv(65536).decode()
            names.append(json.loads(datagram.split("\n", 1)[1])["name"])
    finally:
        daemon.close()
    assert sorted(names) == ["## handler", "sts"]


def test_the_package_carries_bytecode_the_runtime_loads_instead_of_compiling_its_sources(tmp_path):
    from bench.cold_start import default_cache_dir
    from local.awslambda import runtime as lambda_runtime
    from provisioner.config import load_settings
    from provisioner.blueprint.desired_state import desired_state
    from provisioner.blueprint.orchestrator import RUNTIME
    from provisioner.blueprint.packaging import build_package

    interpreter = lambda_runtime.interpreter_for(RUNTIME)
    if not interpreter.matches_runtime:
        pytest.skip(f"no {RUNTIME} interpreter on this machine: the package carries no bytecode for it")
    package = build_package(desired_state(load_settings(REPO / "config" / "config.yaml")))
    task_root = tmp_path / "task"
    with zipfile.ZipFile(io.BytesIO(package.zip_bytes)) as archive:
        archive.extractall(task_root)
    # Every source in the package now fails if compiled: an import that succeeds loaded the bytecode.
    sources = list(task_root.rglob("*.py"))
    for source in sources:
        source.write_text("raise ImportError('compiled from source')\n")
    layer = lambda_runtime.runtime_layer(default_cache_dir())  # the runtime's boto3, as the embedded AWS provides it
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1",
           "POWERTOOLS_TRACE_DISABLED": "true", **lambda_runtime.isolated_environment(task_root, layer)}
    for step in STEPS:
        module = step.handler.rsplit(".", 1)[0]
        done = subprocess.run([interpreter.executable, "-S", "-s", "-c", f"import {module}"], cwd=task_root, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, (step.name, done.stderr[-1000:])
    assert len(sources) > 100
