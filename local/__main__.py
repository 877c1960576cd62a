"""python -m local [--port 4566] [--fault SPEC]... [--create-latency SECONDS]"""

from __future__ import annotations

import argparse
import sys

from local.emulator import FAULTS_ENV, Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run the embedded AWS (moto server + Lambda runner) until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port (default 4566)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="SPEC",
        help="SERVICE:Operation=ErrorCode[*COUNT], repeatable; also env " + FAULTS_ENV,
    )
    parser.add_argument("--create-latency", type=float, default=0.0, metavar="SECONDS",
                        help="how long a new DynamoDB table stays CREATING")
    args = parser.parse_args(argv)
    try:
        emulator = Emulator(port=args.port, create_latency=args.create_latency,
                            faults=args.fault, host=args.host)
    except ValueError as error:
        parser.error(str(error))
    try:
        emulator.start()
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"embedded AWS ready: {emulator.endpoint_url}", flush=True)
    emulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
