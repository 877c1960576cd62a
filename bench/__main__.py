"""`python -m bench`: the provisioner against the sequential script, on the embedded AWS.

    python -m bench [--tables N ...] [--create-latency L] [--out FILE.json] [--skip-baseline]
                    [--baseline-max-tables K] [--no-baseline-default-delay] [--max-concurrency M]
                    [--poll-interval S] [--fault SPEC ...] [--skip-import-check] [--no-warm-run]

Each measured system gets a fresh embedded AWS in this process, so the first run starts with new
Lambda workers and no state; the provisioner is then torn down and measured again, warm.
Prints markdown tables and writes the whole result as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ContextManager

from bench.imports import REPO, heavy_imports
from bench.measure import bench_settings, measure_baseline, measure_provisioner
from bench.report import judge, render
from bench.tables import MAX_TABLES, generated_tables
from provisioner.config import ConfigError, load_settings

ONE_SECOND_WAITER = 1
DEFAULT_WAITER = None  # boto3's table_exists default: 20 s between describes

EmulatorStarter = Callable[[float, Sequence[str]], ContextManager[Any]]


@contextlib.contextmanager
def fresh_emulator(create_latency: float, faults: Sequence[str]) -> Iterator[Any]:
    from local.emulator import Emulator

    with Emulator(port=0, create_latency=create_latency, faults=faults) as emulator:
        emulator.reset()  # moto's state is global and outlives a stopped Emulator
        yield emulator


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=int, action="append", metavar="N",
                        help="generated tables per run (repeatable: one run per N; default 5)")
    parser.add_argument("--create-latency", type=float, default=2.0, metavar="L",
                        help="seconds a new table stays CREATING (default 2)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "latest.json", metavar="FILE.json",
                        help="where the JSON result goes (default bench/results/latest.json, git-ignored)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure the provisioner only")
    parser.add_argument("--baseline-max-tables", type=int, default=10, metavar="K",
                        help="run the baseline only for N <= K (default 10): it takes L + delay per table")
    parser.add_argument("--no-baseline-default-delay", action="store_true",
                        help="skip the baseline with boto3's default 20-second waiter delay (slow)")
    parser.add_argument("--max-concurrency", type=int, metavar="M", help="override provisioner.max_concurrency")
    parser.add_argument("--poll-interval", type=int, metavar="S", help="override provisioner.poll_interval_seconds")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="fault for the provisioner's handlers, e.g. dynamodb:CreateTable=LimitExceededException*3")
    parser.add_argument("--no-warm-run", action="store_true",
                        help="skip the second provisioning run (after a teardown) with warm Lambda workers")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--skip-import-check", action="store_true",
                        help="do not check which packages `deploy.py --help` and `plan` import")
    parser.add_argument("--skip-person-visible", action="store_true",
                        help="do not time `deploy.py run provision`, `up --local` and the script as processes (also off with --skip-baseline)")
    parser.add_argument("--person-visible-lag", type=float, action="append", metavar="SECONDS",
                        help="consistency lag for the person-visible runs (repeatable; default 0 and 1)")
    parser.add_argument("--skip-cold-start", action="store_true", help="do not measure the handlers' init phases (cold-start model)")
    args = parser.parse_args(argv)
    args.tables = args.tables or [5]
    from local.emulator import checked_create_latency
    from local.faults.injected import FaultPlan

    try:
        checked_create_latency(args.create_latency)
    except ValueError as err:
        parser.error(f"--create-latency: {err}")
    try:
        FaultPlan(args.fault)
    except ValueError as err:
        parser.error(f"--fault: {err}")
    if any(not 1 <= count <= MAX_TABLES for count in args.tables):
        parser.error(f"--tables must be between 1 and {MAX_TABLES}")
    # Found out before minutes of measuring, not after.
    if args.out.is_dir():
        parser.error(f"--out: {args.out} is a directory")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        parser.error(f"--out: cannot create {args.out.parent}: {err.strerror}")
    return args


def run_benchmark(
    args: argparse.Namespace, start_emulator: EmulatorStarter = fresh_emulator, report: Callable[[str], None] = print
) -> dict[str, Any]:
    settings = bench_settings(load_settings(args.config), args.poll_interval, args.max_concurrency)
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        # Other work on the machine slows the emulator and its Lambda workers: the numbers need it.
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "create_latency": args.create_latency,
        "faults": args.fault,
        "provisioner_runs": [],
        "baselines": [],
    }
    if not args.skip_import_check:
        with start_emulator(args.create_latency, []) as emulator:
            result["import_checks"] = {}
            for command in (["--help"], ["plan"]):
                endpoint = ["--config", str(args.config), "--endpoint-url", emulator.endpoint_url]
                code, heavy = heavy_imports([*endpoint, *command] if command != ["--help"] else command)
                result["import_checks"][" ".join(command)] = {"exit_code": code, "heavy_packages": heavy}
    for count in args.tables:
        tables = generated_tables(count, settings.dynamodb.kms_key_id or None)
        with start_emulator(args.create_latency, args.fault) as emulator:
            result["provisioner_runs"].append(measure_provisioner(emulator, settings, tables, report, warm_run=not args.no_warm_run))
        if args.skip_baseline or count > args.baseline_max_tables:
            continue
        delays = [ONE_SECOND_WAITER] + ([] if args.no_baseline_default_delay else [DEFAULT_WAITER])
        for delay in delays:
            report(f"sequential script: {count} tables, waiter delay {delay or 'default'} ...")
            with start_emulator(args.create_latency, []) as emulator:
                result["baselines"].append(measure_baseline(emulator, settings, tables, delay))
    if not (args.skip_person_visible or args.skip_baseline):
        from bench.person import measure_person_visible

        lags = tuple(args.person_visible_lag or (0.0, 1.0))
        result["person_visible"] = measure_person_visible(args.config.resolve(), args.create_latency, lags, report)
    if not args.skip_cold_start:
        report("cold-start model: each provisioning function's handler import, isolated, on its runtime's Python ...")
        result["cold_start_model"] = cold_start_model(args.config, result)
    result["load_average_at_end"] = round(os.getloadavg()[0], 2)
    result["targets"] = judge(result)
    return result


def cold_start_model(config: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The model of bench/cold_start.py for the deployed package, at the functions' MemorySize."""
    from bench import cold_start
    from provisioner.blueprint.desired_state import desired_state
    from provisioner.blueprint.orchestrator import MEMORY_MB, RUNTIME
    from provisioner.blueprint.packaging import build_package

    package = build_package(desired_state(load_settings(config)))
    measurements = cold_start.measure_inits(package.zip_bytes, RUNTIME, cold_start.default_cache_dir())
    model = cold_start.model(measurements, MEMORY_MB)
    model["total_by_memory_mb"] = {memory: cold_start.model(measurements, memory)["modelled_cold_start_seconds_total"]
                                   for memory in (256, 512, 1024, 1769) if memory != MEMORY_MB}
    model["prices_looked_up"] = cold_start.PRICES_LOOKED_UP
    first = next((run for run in result["provisioner_runs"] if run["tables"] == 5), None)
    if first:
        provision = first["provision"]
        invoked = sum(t["mean"] * t["count"] for t in provision.get("task_seconds", {}).values())
        model["cost_per_run"] = cold_start.cost_per_run(
            MEMORY_MB, model["modelled_cold_start_seconds_total"], invoked, provision["lambda_invocations"], provision["state_transitions"],
        )
    return model


def main(argv: Sequence[str] | None = None, start_emulator: EmulatorStarter = fresh_emulator) -> int:
    """Exit 0 when every decidable target passes, 1 when one fails, 2 on bad arguments."""
    args = parse_args(argv)
    try:
        result = run_benchmark(args, start_emulator, report=lambda line: print(line, file=sys.stderr))
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(render(result))
    print(f"\nwritten: {args.out}")
    return 0 if all(target["pass"] for target in result["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
