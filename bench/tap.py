"""Figure 1: the bot's own time per answer tap, beside a bare PTB handler over the same stand-in.

The tap is a rating answer in the middle of a review (so the background on record is read
too). Each measured tap is followed by an unmeasured Back, so the draft stays mid-way. The
bare handler answers the query and edits the message to the very text and keyboard the bot
last showed, so both hand the request layer the same reply.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ApplicationBuilder, CallbackQueryHandler

from apart_engine.instrument import AssessmentKind, ItemKind
from bench.common import (
    Bench,
    Figure,
    TimedRequest,
    answer_pool,
    bench_bot,
    median,
    migrated,
    ms,
    p99,
    seed_store,
    today,
)
from bot.callbacks import pack
from bot.standin import StandInRequest, standin_token
from bot.store import Role
from conversations.screens import Act

if TYPE_CHECKING:
    from pathlib import Path

    from telegram.ext import Application

PRACTITIONER = 7001
BARE_USER = 7002


async def prepare_review(bench: Bench) -> tuple[int, list[str]]:
    """A practitioner with a review draft open on its first rating; (draft id, rating ids)."""
    store = bench.services.store
    instrument = bench.services.instrument
    team = await store.add_team("Bench tap team")
    staff = await store.enrol(PRACTITIONER, team, Role.PRACTITIONER)
    case = await store.add_young_person("BEN-TAP-0001", staff)
    pool = answer_pool(instrument, size=1)
    await store.add_submitted_assessment(
        case,
        staff,
        kind=AssessmentKind.BASELINE,
        assessed_on=today() - timedelta(days=100),
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        answers=pool.answers[0],
        scores={},
        risk=(None, None),
        resilience=(None, None),
    )
    bench.api.add_private_chat(PRACTITIONER, "Bench")
    await bench.send(PRACTITIONER, "/assess")
    await bench.tap(PRACTITIONER, pack(Act.PICK_CASE, case.id))
    await bench.tap(PRACTITIONER, pack(Act.START, case.id, AssessmentKind.REVIEW.value))
    draft = await store.draft_for(case.id)
    assert draft is not None
    await bench.tap(PRACTITIONER, pack(Act.TODAY, draft.id))
    await bench.tap(PRACTITIONER, pack(Act.ALL_UNCHANGED, draft.id))
    while True:
        draft = await store.draft_for(case.id)
        assert draft is not None
        assert draft.current_item is not None
        item = instrument.item(draft.current_item)
        if item.kind is ItemKind.RATING:
            break
        if item.kind is ItemKind.MULTICHOICE:
            await bench.tap(PRACTITIONER, pack(Act.DONE, draft.id, item.id))
        else:
            await bench.tap(PRACTITIONER, pack(Act.VALUE, draft.id, item.id, "0"))
    ratings = [i.id for i in instrument.items_for(AssessmentKind.REVIEW) if i.kind is item.kind]
    return draft.id, ratings[ratings.index(item.id) :]


async def bare_application(bench: Bench) -> tuple[Application[Any, Any, Any, Any, Any, Any], int]:
    """A bare PTB application over the same stand-in, and the message its user will tap."""
    request = TimedRequest(bench.api)
    replies = list(bench.request.replies)
    taps = iter(range(1 << 62))

    async def answer_and_edit(update: Update, _: object) -> None:
        query = update.callback_query
        assert query is not None
        # The bot's last two screens in turn, so that every edit changes the message.
        reply = replies[next(taps) % len(replies)]
        await query.answer()
        await query.edit_message_text(
            reply["text"], parse_mode=ParseMode.HTML, reply_markup=reply.get("reply_markup")
        )

    app = (
        ApplicationBuilder()
        .token(standin_token())
        .request(request)
        .get_updates_request(StandInRequest(bench.api))
        .build()
    )
    app.add_handler(CallbackQueryHandler(answer_and_edit))
    await app.initialize()
    await app.start()
    bench.api.add_private_chat(BARE_USER, "Bare")
    sent = await app.bot.send_message(BARE_USER, "Bare handler", reply_markup=None)
    return app, sent.message_id


async def bare_tap(
    bench: Bench, app: Application[Any, Any, Any, Any, Any, Any], message_id: int
) -> float:
    """One tap through the bare application; seconds from the update to its edit."""
    request = app.bot.request
    assert isinstance(request, TimedRequest)
    query = bench.api.issue_callback_query(BARE_USER, message_id, "bare")
    update = Update.de_json(
        {"update_id": bench.api.next_update_id(), "callback_query": query}, app.bot
    )
    request.arm()
    start = time.perf_counter()
    await app.update_processor.process_update(update, app.process_update(update))
    done = time.perf_counter()
    return (request.first_reply_at or done) - start


@dataclass
class Sample:
    """The timings of one store: ours to the reply and to done, and the bare handler's."""

    ours: list[float] = field(default_factory=list)
    ours_done: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)


async def measure(db_paths: list[Path], taps: int, rounds: int) -> list[Sample]:
    """`taps` answer taps on each store, and as many bare ones beside each, interleaved.

    All the stores are open at once and take turns a round at a time, so that a change in
    how busy the machine is falls on every store alike.
    """
    samples = [Sample() for _ in db_paths]
    async with AsyncExitStack() as stack:
        benches = [await stack.enter_async_context(bench_bot(path)) for path in db_paths]
        drafts = [await prepare_review(bench) for bench in benches]
        messages = [bench.last_keyboard(PRACTITIONER) for bench in benches]
        app, bare_message = await bare_application(benches[0])
        stack.push_async_callback(app.shutdown)
        stack.push_async_callback(app.stop)
        per_round = max(1, taps // rounds)
        for round_ in range(rounds + 1):
            for bench, (draft_id, ratings), message, sample in zip(
                benches, drafts, messages, samples, strict=True
            ):
                item, following = ratings[0], ratings[1]
                batch: list[tuple[float, float]] = []
                bare: list[float] = []
                for n in range(per_round):
                    query = bench.api.issue_callback_query(
                        PRACTITIONER, message, pack(Act.VALUE, draft_id, item, str(1 + n % 2))
                    )
                    batch.append(await bench.deliver({"callback_query": query}))
                    await bench.tap(PRACTITIONER, pack(Act.BACK, draft_id, following), message)
                    bare.append(await bare_tap(benches[0], app, bare_message))
                if round_ == 0:
                    continue  # the first round warms caches and the allocator
                sample.ours += [replied for replied, _ in batch]
                sample.ours_done += [done for _, done in batch]
                sample.bare += bare
    return samples


async def run(workdir: Path, sizes: tuple[int, ...], taps: int, rounds: int) -> list[Figure]:
    """Figure 1 on a store of each size, measured side by side."""
    paths = []
    for size in sizes:
        db_path = workdir / f"tap-{size}.db"
        await migrated(db_path)
        if size:
            seed_store(db_path, young_people=size // 4)
        paths.append(db_path)
    samples = await measure(paths, taps, rounds)
    figures: list[Figure] = []
    for size, sample in zip(sizes, samples, strict=True):
        ours, bare = sample.ours, sample.bare
        ratio = median(ours) / median(bare)
        figures.append(
            Figure(
                "1",
                f"Tap, store of {size:,} assessments: median / p99 (bare PTB median)",
                f"{ms(median(ours))} / {ms(p99(ours))} ({ms(median(bare))}, {ratio:.1f}x)",
                "≤ 2x bare, p99 < 10 ms",
                ratio <= 2.0 and p99(ours) < 0.010,
                f"to done: median {ms(median(sample.ours_done))},"
                f" p99 {ms(p99(sample.ours_done))}; {len(ours)} taps",
            )
        )
    growth = median(samples[-1].ours) / median(samples[0].ours)
    figures.append(
        Figure(
            "1",
            "Tap median, largest store against the empty one",
            f"{growth:.2f}x",
            "flat (≤ 1.25x)",
            growth <= 1.25,
        )
    )
    return figures
