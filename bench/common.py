"""What every benchmark shares: figures and their budgets, timing, a fast store seeder, drivers.

Nothing here is collected by pytest; `python -m bench` runs it. Every person, team and case
it writes is made up (references BEN-nnnnnn, negative Telegram ids for the bulk staff).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import sqlite3
import statistics
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import Update

from apart_engine.instrument import AssessmentKind, ItemKind, SectionRole, default_instrument
from apart_engine.scoring import score_assessment
from bot.app import build_application
from bot.clock import FixedClock, to_db
from bot.config import load_settings
from bot.runtime import open_services
from bot.standin import StandInBotAPI, StandInRequest, standin_token
from bot.store import Store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from telegram.request import RequestData

    from apart_engine.instrument import Instrument, Item
    from bot.app import ApartApplication, Services

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
REPLY_METHODS = frozenset({"editMessageText", "sendMessage", "sendPhoto", "sendDocument"})


@dataclass
class Figure:
    """One line of the table: a measured value, how it was summarised, and its budget."""

    number: str
    name: str
    value: str
    budget: str
    holds: bool | None
    """None when there is no budget to hold, or the figure is pending."""
    note: str = ""


def median(values: Sequence[float]) -> float:
    """The median of some timings."""
    return statistics.median(values)


def p99(values: Sequence[float]) -> float:
    """The 99th percentile (nearest rank) of some timings."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, -(-99 * len(ordered) // 100) - 1))
    return ordered[rank]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for the table."""
    return f"{seconds * 1000:.2f} ms"


class TimedRequest(StandInRequest):
    """The stand-in's request layer, noting when each reply reaches it."""

    __slots__ = ("calls", "first_reply_at", "replies")

    def __init__(self, api: StandInBotAPI) -> None:
        super().__init__(api)
        self.first_reply_at: float | None = None
        self.replies: deque[dict[str, Any]] = deque(maxlen=2)
        self.calls = 0

    def arm(self) -> None:
        """Forget the last reply's time, before an update is handed in."""
        self.first_reply_at = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        """Note the time of the first reply, then let the stand-in serve the call."""
        self.calls += 1
        if self.first_reply_at is None and url.rsplit("/", 1)[-1] in REPLY_METHODS:
            self.first_reply_at = time.perf_counter()
            if request_data is not None:
                self.replies.append(dict(request_data.parameters))
        return await super().do_request(url, method, request_data, *args, **kwargs)


@dataclass
class Bench:
    """The real application over the stand-in, with its timed request layer."""

    api: StandInBotAPI
    app: ApartApplication
    services: Services
    request: TimedRequest

    async def deliver(self, fields: dict[str, Any]) -> tuple[float, float]:
        """Hand one update to the application; return (seconds to reply, seconds to done)."""
        update = Update.de_json({"update_id": self.api.next_update_id(), **fields}, self.app.bot)
        self.request.arm()
        start = time.perf_counter()
        await self.app.update_processor.process_update(update, self.app.process_update(update))
        done = time.perf_counter()
        replied = self.request.first_reply_at or done
        return replied - start, done - start

    async def tap(self, user_id: int, data: str, message_id: int | None = None) -> float:
        """Press a button on the newest keyboard (or `message_id`); return seconds to reply."""
        query = self.api.issue_callback_query(
            user_id, message_id or self.last_keyboard(user_id), data
        )
        replied, _ = await self.deliver({"callback_query": query})
        return replied

    async def send(self, user_id: int, text: str) -> None:
        """Type a message; a leading /command gets its entity."""
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        stored = self.api.receive_user_message(user_id, text, entities)
        await self.deliver({"message": self.api.message_json(stored)})

    def last_keyboard(self, user_id: int) -> int:
        """The id of the newest bot message with buttons in this user's chat."""
        chat = self.api.chats[user_id]
        for message in reversed(chat.messages.values()):
            if message.from_bot and not message.deleted and message.buttons:
                return message.message_id
        raise LookupError(f"no keyboard in chat {user_id}")


@asynccontextmanager
async def bench_bot(db_path: Path, *, key: str | None = None) -> AsyncIterator[Bench]:
    """Run the real application on `db_path` against the stand-in, as `standin_bot` does."""
    settings = load_settings(APART_DB_PATH=db_path, APART_DB_KEY=key)
    api = StandInBotAPI()
    async with open_services(settings, clock=FixedClock(NOW)) as services:
        request = TimedRequest(api)
        app = build_application(
            services,
            token=standin_token(),
            request=request,
            get_updates_request=StandInRequest(api),
            # As under test: the stand-in sets no flood limits, and waiting for made-up ones
            # would measure the limiter, not the bot.
            rate_limit=False,
        )
        await app.initialize()
        await app.start()
        try:
            yield Bench(api, app, services, request)
        finally:
            await app.stop()
            await app.shutdown()


# A fast seeder: a whole cohort written with plain SQL in one transaction.


@dataclass
class Pool:
    """Ready-scored answer sets to copy into seeded assessments."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    scores: list[tuple[str, float | None, str | None, float | None, str | None]] = field(
        default_factory=list
    )


def answer_pool(instrument: Instrument, size: int = 200, seed: int = 6) -> Pool:
    """`size` plausible answer sets with their scores, drawn from a seeded generator."""
    rng = random.Random(seed)
    pool = Pool()
    for _ in range(size):
        answers = {
            item.id: _random_answer(rng, item)
            for kind in AssessmentKind
            for item in instrument.items_for(kind)
        }
        ratings = {i.id: answers[i.id] for i in instrument.rating_items}
        scores = score_assessment(instrument, ratings)
        record = {
            "instrument": {"id": instrument.id, "version": instrument.version},
            "sections": [dataclasses.asdict(section) for section in scores.sections],
        }
        pool.answers.append(answers)
        pool.scores.append(
            (
                json.dumps(record),
                scores.risk.score,
                scores.risk.band,
                scores.resilience.score,
                scores.resilience.band,
            )
        )
    return pool


def _random_answer(rng: random.Random, item: Item) -> Any:
    if item.kind is ItemKind.RATING:
        return None if rng.random() < 0.05 else rng.randint(0, 3)
    if item.kind is ItemKind.CHOICE:
        return rng.choice(item.options).id
    if item.kind is ItemKind.MULTICHOICE:
        return [o.id for o in item.options if rng.random() < 0.25]
    if item.kind is ItemKind.NUMBER:
        return rng.randint(item.minimum or 0, item.maximum or 20)
    return None


def seed_store(
    db_path: Path,
    *,
    young_people: int,
    per_person: int = 4,
    teams: int = 20,
    practitioners_per_team: int = 10,
    instrument: Instrument | None = None,
) -> int:
    """Write `young_people` cases with `per_person` submitted assessments each; return how many.

    The file must already be migrated (open and close a Store on it first). Each case has a
    baseline and reviews three months apart, ending before NOW; one audit row per submission.
    """
    instrument = instrument or default_instrument()
    pool = answer_pool(instrument)
    rng = random.Random(41)
    stamp = to_db(NOW)
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("BEGIN")
        staff_ids: list[tuple[int, int]] = []
        for team in range(teams):
            cursor = db.execute(
                "INSERT INTO teams (name, created_at) VALUES (?, ?)",
                (f"Bench team {team + 1:02d}", stamp),
            )
            team_id = cursor.lastrowid
            assert team_id is not None
            for n in range(practitioners_per_team):
                cursor = db.execute(
                    "INSERT INTO staff (telegram_user_id, team_id, role, created_at)"
                    " VALUES (?, ?, 'practitioner', ?)",
                    (-(100_000 + team * 1000 + n), team_id, stamp),
                )
                assert cursor.lastrowid is not None
                staff_ids.append((cursor.lastrowid, team_id))
        assessment_id = 0
        for person in range(young_people):
            staff_id, team_id = staff_ids[person % len(staff_ids)]
            cursor = db.execute(
                "INSERT INTO young_people (reference, team_id, practitioner_id, created_at)"
                " VALUES (?, ?, ?, ?)",
                (f"BEN-{person + 1:06d}", team_id, staff_id, stamp),
            )
            yp_id = cursor.lastrowid
            baseline = NOW.date() - timedelta(days=30 + 91 * per_person + rng.randint(0, 300))
            for index in range(per_person):
                picked = rng.randrange(len(pool.answers))
                kind = AssessmentKind.BASELINE if index == 0 else AssessmentKind.REVIEW
                day = baseline + timedelta(days=91 * index)
                cursor = db.execute(
                    "INSERT INTO assessments (young_person_id, kind, status, instrument_id,"
                    " instrument_version, assessed_on, step, started_by, started_at,"
                    " updated_at, submitted_by, submitted_at, scores_json, risk_score,"
                    " risk_band, resilience_score, resilience_band)"
                    " VALUES (?, ?, 'submitted', ?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        yp_id,
                        kind.value,
                        instrument.id,
                        instrument.version,
                        day.isoformat(),
                        staff_id,
                        stamp,
                        stamp,
                        staff_id,
                        stamp,
                        *pool.scores[picked],
                    ),
                )
                assessment_id = cursor.lastrowid or 0
                db.executemany(
                    "INSERT INTO answers (assessment_id, item_id, value, answered_by,"
                    " answered_at) VALUES (?, ?, ?, ?, ?)",
                    [
                        (assessment_id, item_id, json.dumps(value), staff_id, stamp)
                        for item_id, value in _for_kind(instrument, kind, pool.answers[picked])
                    ],
                )
                db.execute(
                    "INSERT INTO audit (at, staff_id, action, young_person_id, assessment_id,"
                    " detail) VALUES (?, ?, 'submit', ?, ?, ?)",
                    (stamp, staff_id, yp_id, assessment_id, kind.value),
                )
        db.execute("COMMIT")
        db.execute("PRAGMA optimize")
    finally:
        db.close()
    return young_people * per_person


def _for_kind(
    instrument: Instrument, kind: AssessmentKind, answers: dict[str, Any]
) -> list[tuple[str, Any]]:
    return [(item.id, answers[item.id]) for item in instrument.items_for(kind)]


async def migrated(db_path: Path, key: str | None = None) -> None:
    """Create and migrate an empty database file."""
    store = await Store.open(db_path, key=key)
    await store.close()


def context_items(instrument: Instrument, kind: AssessmentKind) -> list[Item]:
    """The background items of an assessment of this kind, in order."""
    return [
        item
        for item in instrument.items_for(kind)
        if instrument.section_of(item.id).role is SectionRole.CONTEXT
    ]


class StallMonitor:
    """Measures how late the event loop wakes a task that asks to sleep 1 ms."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.longest = max(self.longest, time.perf_counter() - before - self.interval)

    def __enter__(self) -> StallMonitor:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()


def today() -> date:
    """The benchmark clock's date."""
    return NOW.date()
