"""Figure 2: many practitioners completing whole baseline assessments at the same time.

Each practitioner has one case and goes /assess, picks it, dates it today, answers every
item (ticking one option and Done on each multiple choice), and submits. All run at once
through the application's own concurrent update processor; each one's updates go in order.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from apart_engine.instrument import AssessmentKind, ItemKind
from bench.common import Bench, Figure, bench_bot, median, migrated, ms
from bot import encryption
from bot.callbacks import pack
from bot.store import Role
from conversations.screens import Act

if TYPE_CHECKING:
    from pathlib import Path

    from bot.store import YoungPerson

FIRST_USER = 20_001


async def complete_baseline(bench: Bench, user_id: int, case: YoungPerson) -> tuple[int, int]:
    """Play one whole baseline through the chat; return (updates sent, answers sent)."""
    instrument = bench.services.instrument
    updates = answers = 0
    await bench.send(user_id, "/assess")
    await bench.tap(user_id, pack(Act.PICK_CASE, case.id))
    updates += 2
    draft = await bench.services.store.draft_for(case.id)
    assert draft is not None
    await bench.tap(user_id, pack(Act.TODAY, draft.id))
    updates += 1
    for item in instrument.items_for(AssessmentKind.BASELINE):
        if item.kind is ItemKind.MULTICHOICE:
            await bench.tap(user_id, pack(Act.TOGGLE, draft.id, item.id, 0))
            await bench.tap(user_id, pack(Act.DONE, draft.id, item.id))
            updates += 2
        else:
            value = str(item.minimum or 0) if item.kind is ItemKind.NUMBER else "1"
            await bench.tap(user_id, pack(Act.VALUE, draft.id, item.id, value))
            updates += 1
        answers += 1
    await bench.tap(user_id, pack(Act.SUBMIT, draft.id))
    await bench.tap(user_id, pack(Act.CONFIRM, draft.id))
    return updates + 2, answers


async def play_all(bench: Bench, practitioners: int, prefix: str) -> tuple[float, int, int]:
    """Enrol `practitioners` with a case each and play every baseline at once.

    Returns (seconds, updates sent, answers sent).
    """
    store = bench.services.store
    team = await store.add_team(f"Bench team {prefix}")
    cases = []
    for n in range(practitioners):
        staff = await store.enrol(FIRST_USER + n, team, Role.PRACTITIONER)
        cases.append(await store.add_young_person(f"BEN-{prefix}-{n:04d}", staff))
        bench.api.add_private_chat(FIRST_USER + n, "Bench")
    start = time.perf_counter()
    played = await asyncio.gather(
        *(complete_baseline(bench, FIRST_USER + n, case) for n, case in enumerate(cases))
    )
    elapsed = time.perf_counter() - start
    return elapsed, sum(u for u, _ in played), sum(a for _, a in played)


def count(db_path: Path, sql: str, key: str | None = None) -> int:
    """One number from a closed database file."""
    connection = encryption.connect(db_path, key)
    try:
        row = connection.execute(sql).fetchone()
    finally:
        connection.close()
    return int(row[0]) if row else 0


async def run(workdir: Path, practitioners: int, rounds: int) -> list[Figure]:
    """Figure 2: updates a second (median over rounds), and answers stored against sent."""
    rates: list[float] = []
    cpu: list[float] = []
    stored_total = sent_total = submitted_total = unanswered = 0
    for round_ in range(rounds):
        db_path = workdir / f"throughput-{round_}.db"
        await migrated(db_path)
        async with bench_bot(db_path) as bench:
            started = time.process_time()
            elapsed, updates, answers = await play_all(bench, practitioners, f"T{round_}")
            cpu.append((time.process_time() - started) / updates)
            rates.append(updates / elapsed)
            sent_total += answers
            unanswered += len(bench.api.unanswered_callbacks())
        stored_total += count(db_path, "SELECT count(*) FROM answers")
        submitted_total += count(
            db_path, "SELECT count(*) FROM assessments WHERE status = 'submitted'"
        )
    rate = median(rates)
    return [
        Figure(
            "2",
            f"Throughput, {practitioners} practitioners at once (median of {rounds} runs)",
            f"{rate:,.0f} updates/s",
            "≥ 1,000 updates/s",
            rate >= 1000,
            "runs: "
            + ", ".join(f"{r:,.0f}" for r in rates)
            + f"; CPU per update {ms(median(cpu))} (both threads)",
        ),
        Figure(
            "2",
            "Answers stored / answers sent (assessments submitted)",
            f"{stored_total:,} / {sent_total:,} ({submitted_total:,})",
            "equal",
            stored_total == sent_total and submitted_total == practitioners * rounds,
            f"button presses left unanswered: {unanswered}",
        ),
    ]
