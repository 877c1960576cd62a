"""requirements.lock holds the exact set the suite runs on: complete, installed, within pyproject's ranges."""

import importlib.metadata
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def locked() -> dict[str, str]:
    """Name -> version of each lock line that applies to this interpreter and platform."""
    versions = {}
    for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, _, marker = line.partition(";")
        name, version = requirement.strip().split("==")
        if not marker.strip() or Marker(marker.strip()).evaluate():
            versions[canonicalize_name(name)] = version
    return versions


def declared() -> list[Requirement]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    extras = [spec for group in project["optional-dependencies"].values() for spec in group]
    return [Requirement(spec) for spec in [*project["dependencies"], *extras] if not spec.startswith(project["name"])]


def test_every_locked_distribution_is_installed_at_its_locked_version():
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    differing = {name: (version, installed.get(name)) for name, version in locked().items() if installed.get(name) != version}
    assert differing == {}, "name: (locked, installed); install with: python -m pip install -c requirements.lock -e '.[dev]'"


def test_every_declared_dependency_is_locked_within_its_range():
    lock = locked()
    outside = [str(r) for r in declared() if lock.get(canonicalize_name(r.name)) not in r.specifier]
    assert outside == []


def test_the_lock_holds_what_every_locked_distribution_requires():
    lock = locked()
    missing = set()
    for name in lock:
        for spec in importlib.metadata.requires(name) or ():
            requirement = Requirement(spec)
            needed = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
            if needed and canonicalize_name(requirement.name) not in lock:
                missing.add(f"{name} -> {requirement.name}")
    assert missing == set()
