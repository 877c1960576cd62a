"""Errors the CLI turns into exit codes, in a module every command can import without the deployer."""

from __future__ import annotations


class DeployError(Exception):
    """AWS accepted a deploy call but did not do what it asked, or kept refusing it; exit 1."""
