"""Figures 5 and 7: the cohort analysis and CSV export on a large store, and bytes on disk.

Analysis and export are timed end to end as an operator runs them: the audited read of
every submitted assessment, then the engine's analysis or the CSV writer. Size is measured
on assessments submitted through the chat, so it includes everything a real submission
leaves behind (answers, the audit trail, the draft's bookkeeping), plain and with SQLCipher.
"""

from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING

from apart_engine.analysis import analyse
from bench.common import Figure, bench_bot, median, migrated, seed_store
from bench.throughput import count, play_all

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

# A made-up key for a throwaway benchmark file; no real data is ever encrypted with it.
BENCH_KEY = "bench-only-key-not-a-secret"


async def analysis_figures(workdir: Path, young_people: int, repeats: int) -> list[Figure]:
    """Figure 5: the cohort analysis and the CSV export, each median of `repeats` runs."""
    if importlib.util.find_spec("bot.export") is None:
        return [Figure("5", "Analysis and export", "pending", "-", None, "no bot/export.py")]
    from bot.export import export_to, records_from_rows

    db_path = workdir / "cohort.db"
    await migrated(db_path)
    assessments = seed_store(db_path, young_people=young_people, per_person=4)
    reads: list[float] = []
    async with bench_bot(db_path) as bench:
        services = bench.services

        async def analysis() -> None:
            started = time.perf_counter()
            rows = await services.store.analysis_rows(None, purpose="benchmark")
            reads.append(time.perf_counter() - started)
            analyse(services.instrument, records_from_rows(services.instrument, rows))

        async def export() -> None:
            await export_to(services, "csv", workdir / "export.csv")

        analysis_times = await _timed(analysis, repeats)
        export_times = await _timed(export, repeats)
    label = f"{young_people:,} young people, {assessments:,} assessments"
    return [
        Figure(
            "5",
            f"Cohort analysis, {label} (median of {repeats})",
            f"{median(analysis_times):.2f} s",
            "< 2 s",
            median(analysis_times) < 2.0,
            f"of which the audited read {median(reads):.2f} s",
        ),
        Figure(
            "5",
            f"CSV export, {label} (median of {repeats})",
            f"{median(export_times):.2f} s",
            "< 2 s",
            median(export_times) < 2.0,
            f"{(workdir / 'export.csv').stat().st_size / 1e6:.1f} MB written",
        ),
    ]


async def _timed(run: Callable[[], Awaitable[None]], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return times


async def size_figures(workdir: Path, practitioners: int) -> list[Figure]:
    """Figure 7: bytes on disk per assessment submitted through the chat, plain and encrypted."""
    figures = []
    for key in (None, BENCH_KEY):
        db_path = workdir / ("size-encrypted.db" if key else "size-plain.db")
        await migrated(db_path, key)
        async with bench_bot(db_path, key=key) as bench:
            await bench.services.store.add_team("Bench size team")
        # Closing the last connection folds the write-ahead log into the file.
        before = db_path.stat().st_size
        async with bench_bot(db_path, key=key) as bench:
            elapsed, updates, _ = await play_all(bench, practitioners, "S")
        after = db_path.stat().st_size
        submitted = count(
            db_path, "SELECT count(*) FROM assessments WHERE status = 'submitted'", key
        )
        figures.append(
            Figure(
                "7",
                f"Bytes on disk per submitted assessment, {'encrypted' if key else 'plain'}",
                f"{(after - before) / submitted:,.0f} B",
                "-",
                None,
                f"{submitted} submitted through the chat; {updates / elapsed:,.0f} updates/s",
            )
        )
    return figures
