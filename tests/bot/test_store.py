"""The store on real SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from apart_engine import default_instrument
from apart_engine.instrument import AssessmentKind
from bot import jobs
from bot.clock import from_db
from bot.errors import DatabaseTooNewError, DuplicateReferenceError
from bot.sender import sender_for
from bot.store import AnswerOutcome, Role, Staff, Store
from tests.conftest import LEAD_ID
from tests.support.steps import assessment_steps, play
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.clock import FixedClock
    from bot.config import Settings
    from bot.harness import ChatClient
    from bot.runtime import StandInBot


@pytest.fixture
async def store(tmp_path: Path, clock: FixedClock) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db", clock=clock)
    yield opened
    await opened.close()


async def _practitioner(store: Store, user_id: int = 7001, team: str = "North") -> Staff:
    return await store.enrol(user_id, await store.add_team(team), Role.PRACTITIONER)


class TestMigrations:
    async def test_a_new_database_is_migrated_to_the_latest_schema(self, store: Store) -> None:
        from bot.store import _migrations

        assert await store.schema_version() == _migrations()[-1][0]

    async def test_reopening_applies_nothing_twice(self, tmp_path: Path) -> None:
        first = await Store.open(tmp_path / "again.db")
        version = await first.schema_version()
        await first.close()
        second = await Store.open(tmp_path / "again.db")
        assert await second.schema_version() == version
        await second.close()

    async def test_a_database_from_a_newer_version_stops_start_up(self, tmp_path: Path) -> None:
        path = tmp_path / "newer.db"
        with sqlite3.connect(path) as raw:
            raw.execute("PRAGMA user_version = 999")
        with pytest.raises(DatabaseTooNewError, match="Upgrade apart-bot"):
            await Store.open(path)

    async def test_wal_foreign_keys_and_busy_timeout_are_on(self, store: Store) -> None:
        pragmas = {}
        for name in ("journal_mode", "foreign_keys", "busy_timeout"):
            row = await store._fetchone(f"PRAGMA {name}")
            assert row is not None
            pragmas[name] = row[0]
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000}


class TestYoungPeople:
    async def test_references_are_unique_whatever_their_case(self, store: Store) -> None:
        staff = await _practitioner(store)
        await store.add_young_person("YP-A1", staff)
        with pytest.raises(DuplicateReferenceError):
            await store.add_young_person("yp-a1", staff)

    async def test_a_case_is_hidden_from_another_teams_practitioner(self, store: Store) -> None:
        north = await _practitioner(store)
        south = await _practitioner(store, 7002, "South")
        case = await store.add_young_person("YP-A1", north)

        assert await store.young_person(case.id, north) is not None
        assert await store.young_person(case.id, south) is None


class TestAnswers:
    async def _draft(self, store: Store) -> tuple[Staff, int]:
        staff = await _practitioner(store)
        case = await store.add_young_person("YP-A1", staff)
        draft = await store.start_assessment(
            case, AssessmentKind.BASELINE, "apart-default", "1.0", staff, "item"
        )
        await store.move(draft, step="item", current_item="R1", editing=False)
        return staff, draft.id

    async def test_an_answer_is_taken_only_while_its_item_is_on_screen(self, store: Store) -> None:
        staff, draft_id = await self._draft(store)
        draft = await store.assessment(draft_id, staff)
        assert draft is not None

        first = await store.record_answer(
            draft, "R1", 2, staff, next_step="item", next_item="R2", editing=False
        )
        again = await store.record_answer(
            draft, "R1", 2, staff, next_step="item", next_item="R2", editing=False
        )
        other = await store.record_answer(
            draft, "R1", 3, staff, next_step="item", next_item="R2", editing=False
        )

        assert (first, again, other) == (
            AnswerOutcome.STORED,
            AnswerOutcome.UNCHANGED,
            AnswerOutcome.MOVED_ON,
        )
        assert await store.answers(draft_id) == {"R1": 2}

    async def test_answers_and_notes_read_together_match_each_read_alone(
        self, store: Store
    ) -> None:
        staff, draft_id = await self._draft(store)
        draft = await store.assessment(draft_id, staff)
        assert draft is not None
        await store.record_answer(
            draft, "R1", None, staff, next_step="item", next_item="R2", editing=False
        )
        await store.save_note(draft, "R1", "Said so twice", staff)
        await store.save_note(draft, "R2", "Not yet asked", staff)

        together = await store.answers_and_notes(draft_id)

        assert together == (await store.answers(draft_id), await store.notes(draft_id))
        assert together == ({"R1": None}, {"R1": "Said so twice", "R2": "Not yet asked"})

    async def test_concurrent_answers_are_all_stored_beside_a_long_read(
        self, store: Store
    ) -> None:
        """C13: fifty answers at once while a report-sized query runs; nothing is locked."""
        staff, draft_id = await self._draft(store)
        draft = await store.assessment(draft_id, staff)
        assert draft is not None
        items = [f"X{n}" for n in range(50)]

        async def save(item: str) -> None:
            async with store.transaction() as db:
                await db.execute(
                    "INSERT INTO answers (assessment_id, item_id, value, answered_by,"
                    " answered_at) VALUES (?, ?, '1', ?, '2026-01-01T00:00:00+00:00')",
                    (draft_id, item, staff.id),
                )

        async def read() -> None:
            for _ in range(20):
                await store.caseload(staff)

        await asyncio.gather(read(), *(save(item) for item in items))
        assert set(items) <= set(await store.answers(draft_id))

    async def test_fifty_recorded_answers_beside_the_digest_reads_all_land(
        self, store: Store, tmp_path: Path, clock: FixedClock
    ) -> None:
        """C13: fifty drafts answered at once through `record_answer`, from two connections,
        while the team digest's reads run; nothing is locked and every answer is stored."""
        team = await store.add_team("North")
        staff = await store.enrol(7001, team, Role.PRACTITIONER)
        lead = await store.enrol(7003, team, Role.LEAD)
        drafts = []
        for n in range(50):
            case = await store.add_young_person(f"YP-C{n:02d}", staff)
            started = await store.start_assessment(
                case, AssessmentKind.BASELINE, "apart-default", "1.0", staff, "item"
            )
            await store.move(started, step="item", current_item="R1", editing=False)
            draft = await store.assessment(started.id, staff)
            assert draft is not None
            drafts.append(draft)
        second = await Store.open(tmp_path / "store.db", clock=clock)

        async def save(index: int) -> AnswerOutcome:
            writer = store if index % 2 else second
            return await writer.record_answer(
                drafts[index],
                "R1",
                index % 4,
                staff,
                next_step="item",
                next_item="R2",
                editing=False,
            )

        async def digest_reads() -> None:
            for reader in (store, second) * 5:
                await reader.digest_recipients()
                await reader.team_caseload(lead)
                await reader.team_history(lead)
                await reader.stale_drafts(lead, clock.now())

        try:
            *outcomes, _ = await asyncio.gather(*(save(n) for n in range(50)), digest_reads())
        finally:
            await second.close()

        assert outcomes == [AnswerOutcome.STORED] * 50
        for index, draft in enumerate(drafts):
            assert await store.answers(draft.id) == {"R1": index % 4}

    async def test_a_second_process_writing_waits_instead_of_failing(
        self, store: Store, tmp_path: Path
    ) -> None:
        """C13: another connection holding a write lock briefly delays, never breaks, a write."""
        staff = await _practitioner(store)
        other = sqlite3.connect(tmp_path / "store.db", timeout=5)
        other.execute("BEGIN IMMEDIATE")

        async def release_soon() -> None:
            await asyncio.sleep(0.2)
            other.commit()

        await asyncio.gather(release_soon(), store.add_young_person("YP-B2", staff))
        other.close()
        assert await store.reference_taken("YP-B2")


class TestAudit:
    async def test_the_audit_trail_refuses_changes(self, store: Store, tmp_path: Path) -> None:
        staff = await _practitioner(store)
        await store.add_young_person("YP-A1", staff)
        with sqlite3.connect(tmp_path / "store.db") as raw:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute("UPDATE audit SET action = 'nothing'")
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute("DELETE FROM audit")


# An ISO 8601 date and time of day, as the store writes timestamps.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _stored_timestamps(path: Path) -> dict[tuple[str, str], list[str]]:
    """Every value in the database that reads as a date and time, by (table, column)."""
    found: dict[tuple[str, str], list[str]] = {}
    with contextlib.closing(sqlite3.connect(path)) as raw:
        tables = [
            row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            cursor = raw.execute(f'SELECT * FROM "{table}"')  # names from sqlite_master itself
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str) and _TIMESTAMP.match(value):
                        found.setdefault((table, column), []).append(value)
    return found


class TestClock:
    async def test_every_stored_timestamp_carries_a_utc_offset(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        settings: Settings,
        clock: FixedClock,
    ) -> None:
        """C11: after a whole vignette in the chat, a sweep, a snooze and a digest, every
        timestamp in every table is ISO 8601 with an explicit +00:00 offset."""
        vignette = json.loads((VIGNETTES_DIR / "YP-A1.json").read_text("utf-8"))
        for index in range(len(vignette["assessments"])):
            steps = assessment_steps(default_instrument(), vignette, index, register=index == 0)
            await play(practitioner, steps)
        clock.set(datetime(2027, 6, 1, 10, 0, tzinfo=UTC))  # a Tuesday, the review overdue
        sender = sender_for(running.app)
        await jobs.run_reminder_sweep(running.services, sender, running.services.clock.now())
        await practitioner.tap("Snooze 1 day")
        running.client(LEAD_ID)
        await jobs.run_weekly_digest(running.services, sender, running.services.clock.now())

        found = _stored_timestamps(settings.db_path)

        for (table, column), values in found.items():
            for value in values:
                moment = from_db(value)
                assert moment.utcoffset() == timedelta(0), (table, column, value)
                assert value.endswith("+00:00"), (table, column, value)
        expected = {
            ("answers", "answered_at"),
            ("notes", "written_at"),
            ("assessments", "submitted_at"),
            ("audit", "at"),
            ("reminders_sent", "sent_at"),
            ("snoozes", "created_at"),
            ("digests_sent", "sent_at"),
            ("job_runs", "slot"),
            ("job_runs", "finished_at"),
        }
        assert expected <= set(found)

    def test_naive_timestamps_are_refused(self) -> None:
        """C11: a naive datetime is neither stored nor read back."""
        from datetime import datetime

        from bot.clock import from_db, to_db

        with pytest.raises(ValueError, match="naive"):
            to_db(datetime(2026, 1, 1, 9, 0))  # noqa: DTZ001 - the naive value is the point
        with pytest.raises(ValueError, match="naive"):
            from_db("2026-01-01T09:00:00")
