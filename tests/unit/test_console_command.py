"""`pip install` gives a `fileferry-provisioner` command: the same CLI as `python deploy.py`.

The console script is what pip generates from [project.scripts]: it imports the target and exits
with what it returns. Here the target is resolved as pip resolves it and run as its wrapper runs it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import deploy
from provisioner.cli import commands as cli

REPO = Path(__file__).resolve().parents[2]
# What pip's generated `fileferry-provisioner` script does.
CONSOLE_SCRIPT = """
import sys
from importlib.metadata import EntryPoint
sys.argv[0] = "/usr/local/bin/fileferry-provisioner"
sys.exit(EntryPoint(name="fileferry-provisioner", value=sys.argv.pop(1), group="console_scripts").load()())
"""


def _scripts() -> dict[str, str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def test_the_console_command_is_deploy_py_main():
    target = _scripts()["fileferry-provisioner"]
    entry_point = EntryPoint(name="fileferry-provisioner", value=target, group="console_scripts")
    assert entry_point.load() is cli.main is deploy.main


def test_the_console_command_does_what_deploy_py_does_and_names_itself(tmp_path):
    target = _scripts()["fileferry-provisioner"]
    as_command = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, target, "render", "--out", str(tmp_path / "a")],
                                cwd=REPO, capture_output=True, text=True, timeout=120)
    as_script = subprocess.run([sys.executable, "deploy.py", "render", "--out", str(tmp_path / "b")],
                               cwd=REPO, capture_output=True, text=True, timeout=120)
    assert as_command.returncode == as_script.returncode == 0, as_command.stderr
    assert as_command.stdout.replace(str(tmp_path / "a"), "OUT") == as_script.stdout.replace(str(tmp_path / "b"), "OUT")
    assert (tmp_path / "a" / "state_machine.asl.json").read_text() == (tmp_path / "b" / "state_machine.asl.json").read_text()

    helped = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, target, "--help"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: fileferry-provisioner ")


def test_a_bad_argument_exits_2_from_the_console_command_too():
    target = _scripts()["fileferry-provisioner"]
    refused = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, target, "run", "destroy-everything"],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ")
