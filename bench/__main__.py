"""Run every benchmark and print one table: `python -m bench` (or `make bench`).

`--quick` runs each figure with fewer repetitions and smaller stores, to try the suite out;
its figures are not the ones to quote.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from bench.common import Figure


@dataclass(frozen=True)
class Plan:
    """How much of each benchmark to run."""

    store_sizes: tuple[int, ...] = (0, 10_000, 100_000)
    taps: int = 1000
    tap_rounds: int = 5
    practitioners: int = 200
    throughput_rounds: int = 3
    quiet_taps: int = 200
    chart_repeats: int = 10
    memory_charts: int = 250
    cohort: int = 10_000
    analysis_repeats: int = 3
    startup_repeats: int = 5
    size_practitioners: int = 50


QUICK = Plan(
    store_sizes=(0, 10_000),
    taps=200,
    tap_rounds=2,
    practitioners=50,
    throughput_rounds=1,
    quiet_taps=50,
    chart_repeats=3,
    memory_charts=30,
    cohort=1_000,
    analysis_repeats=1,
    startup_repeats=2,
    size_practitioners=10,
)


def machine() -> str:
    """Where the figures come from: cores, CPU model, Python, and how busy the machine was."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                model,
            )
    except OSError:
        pass  # not Linux: the model stays unknown
    return f"{os.cpu_count()} cores · {model} · Python {platform.python_version()}"


def load() -> str:
    """The 1-minute load average, which says whether other work shared the machine."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


async def measure(plan: Plan, workdir: Path, only: set[str]) -> list[Figure]:
    """Every selected figure, in the issue's order."""
    from bench import data, drawing, startup, tap, throughput

    figures: list[Figure] = []
    steps: tuple[tuple[str, Callable[[], Awaitable[list[Figure]]]], ...] = (
        ("tap", lambda: tap.run(workdir, plan.store_sizes, plan.taps, plan.tap_rounds)),
        (
            "throughput",
            lambda: throughput.run(workdir, plan.practitioners, plan.throughput_rounds),
        ),
        ("long", lambda: drawing.long_work_figures(workdir, plan.quiet_taps)),
        (
            "charts",
            lambda: drawing.charts_figures(workdir, plan.chart_repeats, plan.memory_charts),
        ),
        ("analysis", lambda: data.analysis_figures(workdir, plan.cohort, plan.analysis_repeats)),
        ("startup", lambda: asyncio.to_thread(startup.run, workdir, plan.startup_repeats)),
        ("size", lambda: data.size_figures(workdir, plan.size_practitioners)),
    )
    for name, step in steps:
        if only and name not in only:
            continue
        started = time.perf_counter()
        print(f"… {name}", file=sys.stderr, flush=True)
        figures += await step()
        print(f"  {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return figures


def table(figures: Sequence[Figure]) -> str:
    """The figures as one plain-text table, a line each, with notes below their line."""
    head = ("#", "Figure", "Measured", "Budget", "Holds")
    rows = [
        (f.number, f.name, f.value, f.budget, {True: "yes", False: "NO", None: "-"}[f.holds])
        for f in figures
    ]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    for figure, row in zip(figures, rows, strict=True):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if figure.note:
            lines.append(" " * (widths[0] + 2) + f"  ({figure.note})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print the table; exit 0 whether or not every budget holds."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller stores")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=["tap", "throughput", "long", "charts", "analysis", "startup", "size"],
        help="run only this benchmark (may be given more than once)",
    )
    parser.add_argument(
        "--memory-charts",
        type=int,
        metavar="N",
        help="draw N charts for the memory figure (default 250; the issue's figure is 1000)",
    )
    args = parser.parse_args(argv)
    # As the command line does: without it PTB warns while building RetryAfter.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    logging.basicConfig(level=logging.ERROR)

    plan = QUICK if args.quick else Plan()
    if args.memory_charts is not None:
        plan = dataclasses.replace(plan, memory_charts=max(11, args.memory_charts))
    started, load_before = time.perf_counter(), load()
    with tempfile.TemporaryDirectory(prefix="apart-bench-") as workdir:
        figures = asyncio.run(measure(plan, Path(workdir), set(args.only)))
    print(f"\nAPART bot benchmarks{' (quick)' if args.quick else ''} · {machine()}")
    print(
        f"Load average {load_before} at the start, {load()} at the end;"
        f" {time.perf_counter() - started:.0f} s in all.\n"
    )
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
