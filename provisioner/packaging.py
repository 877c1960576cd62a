"""The Lambda package: the handlers, their pure-Python dependencies and the desired state.

The zip is deterministic (fixed timestamps, sorted entries), so an unchanged deploy has an
unchanged CodeSha256 and deploy skips the upload.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lambdas.core.desired import DESIRED_STATE_FILE, DesiredState

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Powertools and what its Logger/Tracer/Metrics/validation import. The Lambda runtime has boto3.
VENDORED = ("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "fastjsonschema", "jmespath", "typing_extensions")
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


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


def build_package(desired: DesiredState) -> LambdaPackage:
    entries: list[tuple[str, bytes]] = []
    for path in sorted((PROJECT_ROOT / "lambdas").rglob("*.py")):
        entries.append((path.relative_to(PROJECT_ROOT).as_posix(), path.read_bytes()))
    entries += vendored_entries()
    entries.append((DESIRED_STATE_FILE, desired.to_json().encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(entries):
            _add(archive, arcname, data)
    return LambdaPackage(buffer.getvalue())
