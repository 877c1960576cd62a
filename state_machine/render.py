"""Render the state machine to its final Amazon States Language.

    python -m state_machine.render [--out PATH] [--check]

writes `state_machine/provisioner.asl.json` (the committed file) by default; `--check`
writes nothing and exits 1 if the file differs from a fresh rendering. Imports the SDK
(through `definition`), so deploy.py must use `state_machine.asl` instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from state_machine.asl import ASL_PATH
from state_machine.post_render import canonical, post_render
from state_machine.time_model import DEFAULT_SHAPE, execution_timeout_seconds


def render() -> dict[str, Any]:
    """The final ASL as a dict: the SDK's rendering plus the one post-render step, with the execution's
    TimeoutSeconds derived from its worst case for the default configuration (state_machine.time_model;
    deploy derives it again for the configured one)."""
    from state_machine.definition import RETRIER_EXTRAS, RETRY_EXTRAS, author

    sdk_definition, state_extras = author()
    machine = post_render(
        sdk_definition, state_extras=state_extras, retry_extras=RETRY_EXTRAS, retrier_extras=RETRIER_EXTRAS
    )
    return canonical({**machine, "TimeoutSeconds": execution_timeout_seconds(machine, DEFAULT_SHAPE)})


def render_json() -> str:
    """The final ASL as the exact text that is committed."""
    return json.dumps(render(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m state_machine.render", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASL_PATH, help=f"output file (default: {ASL_PATH})")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out differs from a fresh rendering")
    args = parser.parse_args(argv)

    text = render_json()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != text:
            print(f"{args.out} is stale: run `python -m state_machine.render`", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
