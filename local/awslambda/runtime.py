"""The Lambda Python runtime a function's code runs in: its interpreter version and what it can import.

AWS documents (Lambda developer guide, "Building Lambda functions with Python" and "Lambda runtimes")
that a Python function runs on the interpreter its `Runtime` names (python3.12 -> CPython 3.12) and
sees its deployment package (`/var/task`, first on `sys.path`) plus what the runtime includes: the
AWS SDK for Python, boto3, with its dependencies botocore, s3transfer, jmespath, python-dateutil,
six and urllib3 (on `/var/runtime`). Nothing else: a package the zip does not carry fails the init
phase with `Runtime.ImportModuleError`.

So the embedded AWS runs each function's runtime process

- on the interpreter matching its `Runtime` when this machine has one (`interpreter_for`), found by
  asking each candidate its version (a pyenv shim on PATH may answer for another version, or not at
  all); otherwise on the host's interpreter, with one warning per runtime;
- isolated (`isolated_command`): `-S -s`, so neither the interpreter's site-packages nor the user's
  are on `sys.path`, and `PYTHONPATH` = the extracted zip, then the runtime layer;
- with the runtime layer (`runtime_layer`): the host's installed boto3 and its dependencies' Python
  sources, copied (hard-linked where possible) once per set of versions into a cache directory.

The benchmark's cold-start model runs handler imports through the same three functions.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger(__name__)

# What the Lambda Python runtime provides besides the standard library: boto3 and its dependencies
# (import name, distribution name).
RUNTIME_PACKAGES: tuple[tuple[str, str], ...] = (
    ("boto3", "boto3"),
    ("botocore", "botocore"),
    ("s3transfer", "s3transfer"),
    ("jmespath", "jmespath"),
    ("dateutil", "python-dateutil"),
    ("six", "six"),
    ("urllib3", "urllib3"),
)
_VERSION_CHECK_TIMEOUT_SECONDS = 10
_RUNTIME_NAME = re.compile(r"^python(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Interpreter:
    """The Python a function's runtime process runs on."""

    executable: str
    version: tuple[int, int]
    matches_runtime: bool  # False: the host's Python stands in for a runtime this machine lacks


_interpreters: dict[str, Interpreter] = {}
_interpreters_lock = threading.Lock()
_layer_lock = threading.Lock()


def runtime_version(runtime: str | None) -> tuple[int, int] | None:
    """(3, 12) for "python3.12"; None for a runtime that is not CPython."""
    match = _RUNTIME_NAME.match(runtime or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def interpreter_for(runtime: str | None) -> Interpreter:
    """The interpreter for a function's `Runtime`, found once per runtime and remembered."""
    key = runtime or ""
    with _interpreters_lock:
        found = _interpreters.get(key)
        if found is None:
            found = _find_interpreter(runtime)
            _interpreters[key] = found
        return found


def _find_interpreter(runtime: str | None) -> Interpreter:
    host = (sys.version_info[0], sys.version_info[1])
    wanted = runtime_version(runtime)
    if wanted is None or wanted == host:
        return Interpreter(sys.executable, host, wanted == host)
    for candidate in _candidates(f"python{wanted[0]}.{wanted[1]}"):
        executable = _reports_version(candidate, wanted)
        if executable:
            return Interpreter(executable, wanted, True)
    LOG.warning(
        "no %s interpreter on this machine: functions with Runtime %s run on the host's Python %d.%d",
        runtime, runtime, *host,
    )
    return Interpreter(sys.executable, host, False)


def _candidates(name: str) -> list[str]:
    """Where an interpreter called `name` may be, most specific first (duplicates removed)."""
    places = [Path(os.path.realpath(sys.executable)).parent / name, Path(sys.base_prefix) / "bin" / name]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    version = name.removeprefix("python")
    # pyenv's real interpreters, newest patch release first (its shims need a selected version).
    for root in sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*")), key=_patch_level, reverse=True):
        places.append(Path(root) / "bin" / name)
    places += [Path(directory) / name for directory in os.environ.get("PATH", "").split(os.pathsep) if directory]
    places += [Path("/usr/local/bin") / name, Path("/usr/bin") / name]
    seen: list[str] = []
    for place in places:
        if place.is_file() and os.access(place, os.X_OK) and str(place) not in seen:
            seen.append(str(place))
    return seen


def _patch_level(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", os.path.basename(path)))


def _reports_version(candidate: str, wanted: tuple[int, int]) -> str | None:
    """The interpreter's own sys.executable if `candidate` runs and is Python `wanted`, else None."""
    try:
        result = subprocess.run(
            [candidate, "-S", "-s", "-c", "import sys; print(sys.version_info[0], sys.version_info[1], sys.executable)"],
            capture_output=True, text=True, timeout=_VERSION_CHECK_TIMEOUT_SECONDS,
            env={"PATH": os.environ.get("PATH", ""), **({"PYENV_ROOT": os.environ["PYENV_ROOT"]} if "PYENV_ROOT" in os.environ else {})},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = result.stdout.split(maxsplit=2)
    if result.returncode != 0 or len(parts) != 3 or (parts[0], parts[1]) != (str(wanted[0]), str(wanted[1])):
        return None
    return parts[2].strip() or candidate


def runtime_layer(cache_dir: Path) -> Path:
    """A directory holding boto3 and its dependencies as the Lambda runtime provides them.

    Built once per set of installed versions (the directory name is their digest), from the host's
    installed packages: Python sources and data only, no compiled extensions or caches.
    """
    versions = [(name, _distribution_version(distribution)) for name, distribution in RUNTIME_PACKAGES]
    digest = hashlib.sha256(repr(versions).encode()).hexdigest()[:16]
    target = Path(cache_dir) / "runtime-layer" / digest
    if target.is_dir():
        return target
    with _layer_lock:
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
        try:
            for name, _ in RUNTIME_PACKAGES:
                _copy_module(name, staging)
            os.rename(staging, target)  # atomic: a reader sees the whole layer or none
        except OSError:
            if not target.is_dir():  # unless another process built it first, a real failure
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _distribution_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"{distribution} is not installed; the embedded AWS needs it as the Lambda runtime's SDK") from None


def _copy_module(name: str, into: Path) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed; the embedded AWS needs it as the Lambda runtime's SDK")
    origin = Path(spec.origin)
    if origin.name != "__init__.py":
        _link_or_copy(str(origin), str(into / origin.name))
        return
    shutil.copytree(
        origin.parent, into / name,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.pyd"),
        copy_function=_link_or_copy,
    )


def _link_or_copy(source: str, destination: str) -> str:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
    return destination


def isolated_command(interpreter: Interpreter, script: str | Path, *args: str) -> list[str]:
    """Run `script` on `interpreter` without any site-packages: `-S` (no site) and `-s` (no user site)."""
    return [interpreter.executable, "-S", "-s", str(script), *args]


def isolated_environment(task_root: Path, layer: Path) -> dict[str, str]:
    """What the runtime adds to a function's environment: where its code and the SDK are."""
    return {
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(layer),
        "PYTHONPATH": os.pathsep.join([str(task_root), str(layer)]),
    }
