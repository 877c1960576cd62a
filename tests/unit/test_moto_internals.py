"""The embedded AWS knows the moto it was written for: every patch point is listed and checked."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from moto.dynamodb.models import DynamoDBBackend

from local import moto_internals, patching

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_every_patch_point_matches_the_installed_moto():
    # On a failure the list names each point that moved: read moto's change, adapt the patch, update PATCH_POINTS.
    assert patching.mismatches() == []


def test_pyproject_and_the_lock_pin_the_moto_the_emulator_was_written_for():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["optional-dependencies"]["local"] == [f"moto[server]=={moto_internals.MOTO_VERSION}"]
    lock = (PROJECT_ROOT / "requirements.lock").read_text()
    assert re.search(rf"^moto=={re.escape(moto_internals.MOTO_VERSION)}$", lock, re.MULTILINE)


def test_a_moved_patch_point_is_refused_in_one_line_naming_it(monkeypatch):
    # As on a moto whose TagResource differs from the one its patch was written for (5.2.1 took a list).
    point = ("moto.dynamodb.models:DynamoDBBackend", "tag_resource")
    monkeypatch.setitem(patching.PATCH_POINTS, point, "(self, table_arn: str, tags: list[dict[str, str]]) -> None")
    monkeypatch.setattr(patching, "installed_moto", lambda: "5.9.0")
    assert [problem.split(":")[0] for problem in patching.mismatches()] == ["DynamoDBBackend.tag_resource"]
    with pytest.raises(patching.IncompatibleMoto) as refused:
        patching.check()
    message = str(refused.value)
    assert "\n" not in message
    assert "moto 5.9.0 is installed" in message and f"needs moto {moto_internals.MOTO_VERSION}" in message
    assert "DynamoDBBackend.tag_resource" in message
    assert message.endswith(f'fix: python -m pip install "moto[server]=={moto_internals.MOTO_VERSION}"')


def test_another_moto_whose_patch_points_all_match_is_accepted(monkeypatch):
    monkeypatch.setattr(patching, "installed_moto", lambda: "5.9.0")
    patching.check()


def test_patching_an_unlisted_moto_attribute_is_refused():
    with pytest.raises(KeyError, match=r"DynamoDBBackend\.list_tables is patched but not listed"):
        patching.patch(DynamoDBBackend, "list_tables", lambda self: [])
    assert "list_tables" not in vars(DynamoDBBackend) or DynamoDBBackend.list_tables.__name__ == "list_tables"


def test_every_listed_patch_point_is_one_the_emulator_patches():
    # A stale entry would check a point no patch relies on; installing the patches lists the real ones.
    script = (
        "from local import emulator, patching\n"
        "for service in emulator.SERVICES: service.install()\n"
        "print(sorted({(patching.owner_name(o), n) for o, n, _ in patching._originals}))\n"
        "patching.uninstall()\n"
    )
    printed = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             check=True, timeout=120).stdout
    assert printed.strip() == str(sorted(moto_internals.PATCH_POINTS))
