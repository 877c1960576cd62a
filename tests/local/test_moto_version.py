"""On a moto other than the pinned one, the embedded AWS runs or refuses in one line, exit 2, before serving."""

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Stands in for another moto release: its version, and (moved=True) a TagResource that takes a dict of
# other parameters, as moto 5.2.6 changed DynamoDBBackend.tag_resource.
ANOTHER_MOTO = """
import importlib.metadata, sys
_version = importlib.metadata.version
importlib.metadata.version = lambda name: "5.1.99" if name == "moto" else _version(name)
if {moved}:
    from moto.dynamodb.models import DynamoDBBackend
    def tag_resource(self, arn, tags, *, propagate=False):
        return None
    DynamoDBBackend.tag_resource = tag_resource
"""


def run_on_another_moto(moved, code, timeout=120):
    script = ANOTHER_MOTO.format(moved=moved) + code
    return subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def assert_refused_in_one_line(result):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == (
        "error: the embedded AWS needs moto 5.2.6, but moto 5.1.99 is installed and differs where it patches moto "
        '(DynamoDBBackend.tag_resource); fix: python -m pip install "moto[server]==5.2.6"'
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_python_m_local_refuses_a_moto_whose_patch_points_moved():
    result = run_on_another_moto(True, "from local.__main__ import main\nsys.exit(main(['--port', '0']))")
    assert_refused_in_one_line(result)
    assert "ready" not in result.stdout


def test_an_emulator_refuses_a_moto_whose_patch_points_moved_before_listening():
    code = (
        "from local.emulator import Emulator\nfrom local.patching import IncompatibleMoto\n"
        "emulator = Emulator(port=0)\n"
        "try:\n    emulator.start()\nexcept IncompatibleMoto as refused:\n"
        "    print('refused', emulator._server is None)\n"
    )
    result = run_on_another_moto(True, code)
    assert result.stdout.strip() == "refused True", result.stderr


@pytest.mark.parametrize("command", [["up", "--local"], ["local", "--port", "4566"]])
def test_the_cli_refuses_a_moto_whose_patch_points_moved(command):
    result = run_on_another_moto(True, f"from provisioner.cli.commands import main\nsys.exit(main({command!r}))")
    assert_refused_in_one_line(result)


def test_up_local_runs_on_another_moto_whose_patch_points_all_match():
    result = run_on_another_moto(False, "from provisioner.cli.commands import main\nsys.exit(main(['up', '--local']))", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification passed" in result.stdout
    assert "moto 5.1.99 is installed, not 5.2.6" in result.stderr


def test_the_patch_points_read_motos_own_attributes_while_the_emulator_patches_them(emulator, monkeypatch):
    from local import patching

    assert patching.mismatches() == []
    monkeypatch.setattr(patching, "installed_moto", lambda: "5.1.99")
    patching.check()  # a running emulator's own patches are no mismatch
