"""Which heavy packages a `deploy.py` command imports, seen from a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The stepfunctions SDK (and sagemaker, which it imports) belong to rendering only; moto to the
# embedded AWS; rich to the live view of a run on a terminal.  A command that talks to AWS must not
# pay for, or be disturbed by, any of them.
HEAVY_PACKAGES = ("stepfunctions", "sagemaker", "moto", "rich")

_WRAPPER = """
import json, runpy, sys
sys.argv = ["deploy.py", *json.loads(sys.argv[1])]
code = 0
try:
    runpy.run_path("deploy.py", run_name="__main__")
except SystemExit as exit:
    code = exit.code if isinstance(exit.code, int) else 1
print("\\n" + json.dumps({"exit_code": code, "modules": sorted(sys.modules)}))
"""


def heavy_imports(args: Sequence[str], extra_env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run `deploy.py ARGS` in a subprocess; its exit code and the heavy packages it imported."""
    exit_code, modules = imported_modules(args, extra_env)
    return exit_code, sorted({name.split(".")[0] for name in modules} & set(HEAVY_PACKAGES))


def imported_modules(args: Sequence[str], extra_env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run `deploy.py ARGS` in a subprocess; its exit code and every module it imported."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **(extra_env or {}),
    }
    env.pop("AWS_PROFILE", None)
    completed = subprocess.run(
        [sys.executable, "-c", _WRAPPER, json.dumps(list(args))],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    last_line = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    try:
        result = json.loads(last_line)
    except ValueError:
        raise RuntimeError(f"deploy.py {' '.join(args)} did not finish: {completed.stderr[-2000:]}") from None
    return result["exit_code"], result["modules"]
