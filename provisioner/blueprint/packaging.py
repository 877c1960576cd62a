"""The Lambda package: the handlers, their pure-Python dependencies and the desired state.

The zip is deterministic (fixed timestamps, sorted entries), so an unchanged deploy has an
unchanged CodeSha256 and deploy skips the upload.

It also carries each module's bytecode for the functions' runtime (python3.12:
`__pycache__/NAME.cpython-312.pyc`), compiled by that Python when this machine has it. Lambda's
`/var/task` is read-only, so without it every cold start compiles every module it imports (about a
third of a step's init, measured: bench/cold_start.py). The files are "unchecked-hash" pycs
(PEP 552): the interpreter loads them without comparing them with the source's timestamp, which a
zip does not keep. An interpreter of another version ignores them (another magic number) and
compiles the sources, as before.
"""

from __future__ import annotations

import base64
import functools
import glob
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import lambdas
from lambdas.core.desired import DESIRED_STATE_FILE, DesiredState

# Where the lambdas package lies: the repository, or site-packages when installed from the wheel.
LAMBDAS_ROOT = Path(lambdas.__file__).resolve().parent
# Powertools and what its Logger/Tracer/Metrics/validation import. The Lambda runtime has boto3.
VENDORED = ("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "fastjsonschema", "jmespath", "typing_extensions")
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
RUNTIME_PYTHON = (3, 12)  # the functions' Runtime, python3.12 (provisioner/blueprint/orchestrator.py)
_COMPILE_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class LambdaPackage:
    zip_bytes: bytes

    @property
    def code_sha256(self) -> str:
        """As Lambda reports it: base64 of the SHA-256 digest."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()


def _module_files(name: str) -> list[tuple[Path, str]]:
    """(file, path in zip) for an installed top-level module or package, without compiled files."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed; run the README's install command")
    origin = Path(spec.origin)
    if origin.name != "__init__.py":
        return [(origin, origin.name)]
    root = origin.parent
    return [
        (path, f"{name}/{path.relative_to(root).as_posix()}")
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".so", ".pyd")
    ]


def _add(archive: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_FIXED_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def vendored_entries() -> list[tuple[str, bytes]]:
    """(path in zip, content) of every vendored dependency: what a function needs beyond the runtime's boto3."""
    entries: list[tuple[str, bytes]] = []
    for name in VENDORED:
        entries += [(arcname, path.read_bytes()) for path, arcname in _module_files(name)]
    return entries


def build_package(desired: DesiredState, runtime_python: tuple[int, int] = RUNTIME_PYTHON) -> LambdaPackage:
    entries: list[tuple[str, bytes]] = []
    for path in sorted(LAMBDAS_ROOT.rglob("*.py")):
        entries.append((path.relative_to(LAMBDAS_ROOT.parent).as_posix(), path.read_bytes()))
    entries += vendored_entries()
    entries += bytecode_entries(tuple(entries), runtime_python)
    entries.append((DESIRED_STATE_FILE, desired.to_json().encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(entries):
            _add(archive, arcname, data)
    return LambdaPackage(buffer.getvalue())


@functools.lru_cache(maxsize=4)
def bytecode_entries(sources: tuple[tuple[str, bytes], ...], version: tuple[int, int]) -> tuple[tuple[str, bytes], ...]:
    """(path in zip, pyc) for every module in `sources`, compiled by Python `version`; none without one.

    Compiled with a fixed hash seed, so the same sources give the same bytes (and the same CodeSha256).
    """
    python = runtime_interpreter(version)
    modules = [(arcname, data) for arcname, data in sources if arcname.endswith(".py")]
    if python is None or not modules:
        return ()
    tag = f"cpython-{version[0]}{version[1]}"
    with tempfile.TemporaryDirectory(prefix="fileferry-bytecode-") as root:
        for arcname, data in modules:
            target = Path(root, arcname)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        # -s ROOT: tracebacks name each module by its path in the zip, as Lambda places it under /var/task.
        subprocess.run(
            [python, "-S", "-s", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", "-s", root, root],
            env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"}, capture_output=True,
            timeout=_COMPILE_TIMEOUT_SECONDS, check=False,
        )
        compiled = []
        for arcname, _ in modules:
            directory, _, file_name = arcname.rpartition("/")
            pyc = f"{directory}/__pycache__/{file_name[:-3]}.{tag}.pyc".lstrip("/")
            path = Path(root, pyc)
            if path.is_file():  # a module this Python cannot compile is left to compile at import, as before
                compiled.append((pyc, path.read_bytes()))
    return tuple(compiled)


@functools.cache
def runtime_interpreter(version: tuple[int, int]) -> str | None:
    """A CPython `version` on this machine: on PATH, or one of pyenv's real interpreters (its shims may
    answer for another version), checked by asking it; None if there is none."""
    name = f"python{version[0]}.{version[1]}"
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [shutil.which(name), *sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version[0]}.{version[1]}.*", "bin", name)), reverse=True)]
    for candidate in filter(None, candidates):
        try:
            answer = subprocess.run([candidate, "-S", "-s", "-c", "import sys; print(*sys.version_info[:2], sys.executable)"],
                                    capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        parts = answer.stdout.split(maxsplit=2)
        if answer.returncode == 0 and parts[:2] == [str(version[0]), str(version[1])] and len(parts) == 3:
            return parts[2].strip()  # the interpreter itself, not a shim that may pick another version later
    return None
