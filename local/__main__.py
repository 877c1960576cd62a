"""python -m local [--port 4566] [--fault SPEC]... [--create-latency S] [--backup-latency S] [--ttl-latency S]
    [--consistency-lag S] [--chaos RATE --seed N]"""

from __future__ import annotations

import argparse
import sys

from local import patching


def main(argv: list[str] | None = None) -> int:
    try:
        from local.emulator import FAULTS_ENV, TIMING_SETTINGS, Emulator
    except ImportError as error:  # a moto internal the emulator imports is gone
        print(f"error: {patching.import_refusal(error)}", file=sys.stderr)
        return 2

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
    for setting, (name, flag, maximum) in TIMING_SETTINGS.items():
        parser.add_argument(flag, dest=setting, type=float, default=None, metavar="SECONDS",
                            help=f"the {name}, 0 to {maximum} seconds (see local/emulator.py)")
    parser.add_argument("--consistency-lag", default=0.0, metavar="SECONDS",
                        help="for up to this long after a write, reads may show the state before it")
    parser.add_argument("--chaos", default=0.0, metavar="RATE",
                        help="probability (0-1) that a deployed function's AWS call fails transiently")
    parser.add_argument("--seed", default=None, metavar="N", help="seed of the chaos decisions")
    args = parser.parse_args(argv)
    timing = {setting: getattr(args, setting) for setting in TIMING_SETTINGS if getattr(args, setting) is not None}
    try:
        emulator = Emulator(port=args.port, faults=args.fault, host=args.host, **timing,
                            consistency_lag=args.consistency_lag, chaos=args.chaos, seed=args.seed)
    except ValueError as error:
        parser.error(str(error))
    try:
        emulator.start()
    except patching.IncompatibleMoto as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"embedded AWS ready: {emulator.endpoint_url}", flush=True)
    if emulator.chaos.rate:
        print(f"chaos: rate {emulator.chaos.rate}, seed {emulator.chaos.seed}", flush=True)
    emulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
