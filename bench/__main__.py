"""`make bench`: run every benchmark, print a table, write bench/results/latest.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from bench import engine, torch_baseline
from bench.cases import CASES
from bench.report import table

RESULTS = Path(__file__).parent / "results" / "latest.json"


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--skip-service", action="store_true", help="only the engine benchmarks")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions per answer with callgrind"
    )
    parser.add_argument("--baseline", metavar="REF", help="with --instructions: count a git revision too")
    parser.add_argument(
        "--flood-seconds", type=float, default=30, help="how long the circuit is timed in each flood"
    )
    args = parser.parse_args()

    results: dict = {"machine": machine()}
    results["engine"] = engine.run(CASES)
    baseline = torch_baseline.run(CASES)
    rows = [["case", "params", "rows", "methods", "cold ms", "warm ms", "cold / warm", "torch eager ms"]]
    for name, r in results["engine"].items():
        r.update(baseline[name])
        torch_ms = r["torch_eager_ms"]
        rows.append(
            [
                name,
                str(r["parameters"]),
                str(r["data_rows"]),
                str(len(r["methods"])),
                f"{r['cold_ms']:.1f}",
                f"{r['warm_ms']:.2f}",
                f"{r['cold_over_warm']:.2f}",
                "n/a" if torch_ms is None else f"{torch_ms:.1f}",
            ]
        )
    print("Engine, 100 steps of each method, medians of cold and warm interleaved\n")
    print(table(rows))
    print("\nWarm phases (ms)\n")
    phase_names = list(next(iter(results["engine"].values()))["warm_phases_ms"])
    rows = [["case", *phase_names]]
    for name, r in results["engine"].items():
        rows.append([name, *(f"{r['warm_phases_ms'][p]:.2f}" for p in phase_names)])
    print(table(rows))
    print("\nCold phases (ms)\n")
    rows = [["case", *phase_names]]
    for name, r in results["engine"].items():
        rows.append([name, *(f"{r['cold_phases_ms'][p]:.1f}" for p in phase_names)])
    print(table(rows))

    results["growth"] = engine.growth(CASES["neuron"])
    print("\nGrowth: neuron, steps 1 -> 1000\n")
    rows = [["steps", "total ms", "per step us"]]
    for steps, r in results["growth"]["steps"].items():
        rows.append([str(steps), f"{r['total_ms']:.2f}", f"{r['per_step_us']:.1f}"])
    print(table(rows))
    print("\nGrowth: linear model, 100 steps, parameters 2 -> 64\n")
    rows = [["parameters", "warm ms"]]
    for n, r in results["growth"]["parameters"].items():
        rows.append([str(n), f"{r['warm_ms']:.2f}"])
    print(table(rows))

    if not args.skip_service:
        from bench import service

        results["service"] = service.run()
        print("\nService: POST /api/v1/cases under gunicorn on loopback\n")
        print(service.format_table(results["service"]))
        # The round trip (one client, HTTP, the engine and the database write) against a notebook's
        # PyTorch eager run of the same trials, measured in this same run.
        torch_ms = results["engine"]["neuron"]["torch_eager_ms"]
        for database in ("sqlite", "postgresql"):
            round_trip = results["service"][f"{database}/repeated, 1 client"]["p50_ms"]
            results["service"][f"{database}/round trip over torch eager"] = round_trip / torch_ms
            print(
                f"{database}: round trip p50 {round_trip:.1f} ms = {round_trip / torch_ms:.2f}x torch eager"
            )

        from bench import flood

        # Ten clients flooding maximum-size questions while one asks the circuit (bench/flood.py).
        results["flood"] = flood.run(args.flood_seconds)
        print("\nThe flood: the circuit's answers while ten clients send maximum-size questions\n")
        print(flood.format_table(results["flood"]))

    from bench import inputs

    print("\nReading input: LaTeX, forum posts, quotes\n")
    inputs.main()

    if args.instructions:
        from bench import instructions

        results["instructions"] = instructions.run(baseline=args.baseline)
        print("\nInstructions per answer (callgrind, millions)\n")
        rows = [["revision", "case", "cold", "warm", "cold / warm"]]
        for revision, cases in results["instructions"].items():
            for case, r in cases.items():
                rows.append(
                    [
                        revision,
                        case,
                        f"{r['cold'] / 1e6:.1f}",
                        f"{r['warm'] / 1e6:.1f}",
                        f"{r['cold'] / r['warm']:.2f}",
                    ]
                )
        print(table(rows))

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
