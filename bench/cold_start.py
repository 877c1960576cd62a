"""A model of what the first provisioning run of the day pays on AWS for cold Lambda functions.

For each distinct function a provisioning run invokes, the CPU seconds of its init phase are measured
here: importing its handler from the built zip in a fresh interpreter of the function's runtime
version that sees only the zip and the runtime's boto3 (`local.awslambda.runtime`, the embedded AWS's
own runtime isolation), with bytecode writing off (Lambda's /var/task is read-only: what the zip
does not carry compiled is compiled at every cold start; the zip carries python3.12 bytecode when it was
built on a machine with python3.12, provisioner/blueprint/packaging.py; the runtime's boto3 comes precompiled, as
on Lambda).
Lambda allocates CPU in proportion to memory, one full vCPU at 1,769 MB (Lambda developer guide,
"Configuring Lambda function memory"), so the modelled init time is the CPU seconds x 1769 / MemorySize
(at most one vCPU's worth of speed-up: a single-threaded import gains nothing beyond it).

Prices (US East (N. Virginia), x86, looked up 2026-12-02): Lambda $0.0000166667 per GB-second of
duration (init included for on-demand functions) and $0.20 per million requests
(https://aws.amazon.com/lambda/pricing/; also docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html);
Step Functions Standard workflows $0.025 per 1,000 state transitions
(https://aws.amazon.com/step-functions/pricing/). Free tiers are left out.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lambdas.core.steps import step
from local.awslambda import runtime as lambda_runtime

FULL_VCPU_MEMORY_MB = 1769
LAMBDA_PRICE_PER_GB_SECOND = 0.0000166667
LAMBDA_PRICE_PER_REQUEST = 0.20 / 1_000_000
STATE_TRANSITION_PRICE = 0.025 / 1000
PRICES_LOOKED_UP = "2026-12-02"
# The functions a successful provisioning run invokes (state_machine/definition.py).
PROVISIONING_STEPS = ("validate-input", "create-or-adopt-table", "await-table", "ensure-role", "verify")
# Imported in a fresh process; prints the CPU and wall seconds of importing the handler's module.
_MEASURE = (
    "import importlib, json, sys, time\n"
    "cpu, wall = time.process_time(), time.perf_counter()\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(json.dumps({'cpu': time.process_time() - cpu, 'wall': time.perf_counter() - wall, 'modules': len(sys.modules)}))\n"
)


@dataclass(frozen=True)
class InitMeasurement:
    step: str
    python: str  # the interpreter's version that ran it
    cpu_seconds: float  # the median of the repeats
    modules: int

    def modelled_seconds(self, memory_mb: int) -> float:
        return self.cpu_seconds * FULL_VCPU_MEMORY_MB / min(memory_mb, FULL_VCPU_MEMORY_MB)


def measure_inits(zip_bytes: bytes, runtime: str, cache_dir: Path, steps: tuple[str, ...] = PROVISIONING_STEPS,
                  repeats: int = 3) -> list[InitMeasurement]:
    """Each step's handler import, in the runtime's isolated interpreter, `repeats` times (median)."""
    interpreter = lambda_runtime.interpreter_for(runtime)
    layer = lambda_runtime.runtime_layer(cache_dir)
    _precompile(interpreter, layer)
    measurements = []
    with tempfile.TemporaryDirectory(prefix="fileferry-cold-") as task_root:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            archive.extractall(task_root)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "cold-start-model",
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda: no .pyc is ever cached
            **lambda_runtime.isolated_environment(Path(task_root), layer),
        }
        for name in steps:
            module = step(name).handler.rsplit(".", 1)[0]
            runs = []
            for _ in range(repeats):
                result = subprocess.run(
                    [interpreter.executable, "-S", "-s", "-c", _MEASURE, module],
                    env=env, cwd=task_root, capture_output=True, text=True, timeout=120, check=False,
                )
                if result.returncode != 0:
                    raise RuntimeError(f"{name}: its handler does not import from the zip: {result.stderr.strip()[-500:]}")
                runs.append(json.loads(result.stdout))
            measurements.append(InitMeasurement(
                name, "%d.%d" % interpreter.version, round(statistics.median(r["cpu"] for r in runs), 3), runs[0]["modules"],
            ))
    return measurements


def _precompile(interpreter: lambda_runtime.Interpreter, layer: Path) -> None:
    """The runtime's own packages carry bytecode on Lambda; compile the layer once for this interpreter."""
    marker = layer / f".compiled-{interpreter.version[0]}.{interpreter.version[1]}"
    if marker.exists():
        return
    subprocess.run([interpreter.executable, "-S", "-s", "-m", "compileall", "-q", str(layer)],
                   capture_output=True, timeout=600, check=False)
    marker.touch()


def model(measurements: list[InitMeasurement], memory_mb: int) -> dict[str, Any]:
    """Per function and in total: init CPU seconds and modelled cold-start seconds at `memory_mb`."""
    per_function = [
        {**asdict(m), "memory_mb": memory_mb, "modelled_init_seconds": round(m.modelled_seconds(memory_mb), 2)}
        for m in measurements
    ]
    return {
        "memory_mb": memory_mb,
        "functions": per_function,
        "init_cpu_seconds_total": round(sum(m.cpu_seconds for m in measurements), 3),
        "modelled_cold_start_seconds_total": round(sum(m.modelled_seconds(memory_mb) for m in measurements), 2),
    }


def cost_per_run(memory_mb: int, init_seconds: float, invoked_seconds: float, invocations: int, transitions: int) -> dict[str, float]:
    """USD per run: Lambda duration (init + invocations) and requests, Step Functions transitions."""
    gb_seconds = memory_mb / 1024 * (init_seconds + invoked_seconds)
    lambda_cost = gb_seconds * LAMBDA_PRICE_PER_GB_SECOND + invocations * LAMBDA_PRICE_PER_REQUEST
    transitions_cost = transitions * STATE_TRANSITION_PRICE
    return {
        "gb_seconds": round(gb_seconds, 3),
        "lambda_usd": round(lambda_cost, 7),
        "step_functions_usd": round(transitions_cost, 7),
        "total_usd": round(lambda_cost + transitions_cost, 7),
    }


def default_cache_dir() -> Path:
    return Path(os.environ.get("FILEFERRY_LAMBDA_CACHE") or Path(tempfile.gettempdir()) / f"fileferry-lambda-{os.getuid()}")
