"""Figures 3 and 4: charts on their own, and weekly digests with team charts beside taps.

The cohort is 20 teams of 40 cases, four assessments each, with one lead per team. The
charts come from `bot.charts` and the digests from `bot.jobs`; if either is missing from
this checkout, its figures are reported as pending rather than guessed.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import time
from typing import TYPE_CHECKING, Any

from bench.common import (
    NOW,
    Figure,
    StallMonitor,
    bench_bot,
    median,
    migrated,
    ms,
    p99,
    seed_store,
)
from bench.tap import PRACTITIONER, prepare_review
from bot.callbacks import pack
from bot.store import Role
from conversations.screens import Act

if TYPE_CHECKING:
    from pathlib import Path

    from bench.common import Bench
    from bot.store import Staff

TEAMS = 20
CASES_PER_TEAM = 40
FIRST_LEAD = 30_001


def available(*modules: str) -> bool:
    """Whether every named module exists in this checkout."""
    return all(importlib.util.find_spec(name) is not None for name in modules)


def rss_bytes() -> int:
    """The process's resident memory now (not its peak)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def cohort(bench: Bench) -> list[Staff]:
    """Enrol a lead in each seeded team; return the leads."""
    store = bench.services.store
    leads = []
    for number, (team_id, name) in enumerate(await store.teams()):
        if name.startswith("Bench team"):
            leads.append(await store.enrol(FIRST_LEAD + number, team_id, Role.LEAD))
    return leads


async def charts_figures(workdir: Path, repeats: int, memory_charts: int) -> list[Figure]:
    """Figure 4: time per case chart and per team chart, and memory growth."""
    if not available("bot.charts"):
        return [_pending("4", "Charts", "bot/charts.py is not in this checkout")]
    from bot import charts

    db_path = workdir / "charts.db"
    await migrated(db_path)
    seed_store(db_path, young_people=TEAMS * CASES_PER_TEAM, practitioners_per_team=10)
    async with bench_bot(db_path) as bench:
        instrument = bench.services.instrument
        lead = (await cohort(bench))[0]
        team = await bench.services.store.team_history(lead)
        case = await bench.services.store.case_history(
            team[0].young_person_id, lead, charts.EVENTS_ITEM
        )

    def case_chart() -> bytes:
        return charts.case_chart(
            instrument,
            case[0].reference,
            charts.case_points(instrument, case),
            charts.domain_pairs(instrument, case),
        )

    def team_chart() -> bytes:
        return charts.team_chart(instrument, "Bench team", charts.team_samples(instrument, team))

    case_times = _timed(case_chart, repeats)
    team_times = _timed(team_chart, repeats)

    draw = (case_chart, team_chart)
    for n in range(10):
        draw[n % 2]()
    gc.collect()
    after_ten = rss_bytes()
    for n in range(memory_charts - 10):
        draw[n % 2]()
    gc.collect()
    growth = rss_bytes() - after_ten
    return [
        Figure(
            "4",
            f"Case chart (4 assessments), median of {repeats}",
            ms(median(case_times)),
            "< 150 ms",
            median(case_times) < 0.150,
            f"p99 {ms(p99(case_times))}",
        ),
        Figure(
            "4",
            f"Team chart ({len(team)} assessments), median of {repeats}",
            ms(median(team_times)),
            "-",
            None,
            f"p99 {ms(p99(team_times))}",
        ),
        Figure(
            "4",
            f"Memory after {memory_charts:,} charts against after 10",
            f"{growth / 1e6:+.1f} MB",
            "< 20 MB",
            growth < 20e6,
            "case and team charts in turn; resident memory after a collection",
        ),
    ]


def _timed(draw: Any, repeats: int) -> list[float]:
    draw()  # the first chart loads fonts and caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        draw()
        times.append(time.perf_counter() - start)
    return times


async def long_work_figures(workdir: Path, taps: int) -> list[Figure]:
    """Figure 3: the loop's longest stall and the taps' p99 while the digests are built."""
    if not available("bot.jobs", "bot.sender", "bot.charts"):
        return [_pending("3", "Digests beside taps", "bot/jobs.py is not in this checkout")]
    from bot import charts
    from bot.jobs import run_weekly_digest
    from bot.sender import sender_for

    db_path = workdir / "digest.db"
    await migrated(db_path)
    seed_store(db_path, young_people=TEAMS * CASES_PER_TEAM, practitioners_per_team=10)
    async with bench_bot(db_path) as bench:
        leads = await cohort(bench)
        for lead in leads:
            bench.api.add_private_chat(lead.telegram_user_id, "Lead")
        draft_id, ratings = await prepare_review(bench)
        message = bench.last_keyboard(PRACTITIONER)
        quiet = await _taps(bench, draft_id, ratings, message, taps, None)
        # A bot that has run for a while has its chart modules imported and fonts cached;
        # the first chart after start-up also pays for those (see the README).
        await charts.render(charts.team_chart, bench.services.instrument, "Warm-up", [])

        with StallMonitor() as monitor:
            digest = asyncio.ensure_future(
                run_weekly_digest(bench.services, sender_for(bench.app), NOW)
            )
            started = time.perf_counter()
            busy = await _taps(bench, draft_id, ratings, message, None, digest)
            report = await digest
            elapsed = time.perf_counter() - started
        stall = monitor.longest
    sent = len(report.sent)
    return [
        Figure(
            "3",
            f"Longest event-loop stall while {sent} digests were built ({elapsed:.1f} s)",
            ms(stall),
            "≤ 50 ms",
            stall <= 0.050,
            f"{len(report.failed)} digests failed",
        ),
        Figure(
            "3",
            "Tap p99 during the digests (without)",
            f"{ms(p99(busy))} ({ms(p99(quiet))})",
            "-",
            None,
            f"{len(busy)} taps during, median {ms(median(busy))}",
        ),
    ]


async def _taps(
    bench: Bench,
    draft_id: int,
    ratings: list[str],
    message: int,
    count: int | None,
    until: asyncio.Future[Any] | None,
) -> list[float]:
    """Answer and go back, `count` times or until `until` is done; the answers' reply times."""
    times: list[float] = []
    n = 0
    while (count is not None and n < count) or (until is not None and not until.done()):
        value = str(1 + n % 2)
        times.append(
            await bench.tap(PRACTITIONER, pack(Act.VALUE, draft_id, ratings[0], value), message)
        )
        await bench.tap(PRACTITIONER, pack(Act.BACK, draft_id, ratings[1]), message)
        n += 1
    return times


def _pending(number: str, name: str, why: str) -> Figure:
    return Figure(number, name, "pending", "-", None, why)
