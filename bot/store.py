"""The SQLite store: schema migrations, and every read and write the bot makes.

One aiosqlite connection serves the process. A lock serialises the store's operations so
that one coroutine's transaction never interleaves with another's statements on the shared
connection; other processes on the same file are kept in step by WAL and the busy timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING, Any

import aiosqlite

from bot.clock import Clock, SystemClock, from_db, to_db
from bot.errors import DatabaseTooNewError, DuplicateReferenceError, StoreError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable
    from pathlib import Path

    from apart_engine.instrument import AssessmentKind

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5_000

JsonValue = int | str | list[str] | None


class Role(StrEnum):
    """What a member of staff may do."""

    PRACTITIONER = "practitioner"
    LEAD = "lead"
    ADMIN = "admin"


class Status(StrEnum):
    """Where an assessment is in its life."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    DISCARDED = "discarded"


class AnswerOutcome(StrEnum):
    """What became of an answer handed to the store."""

    STORED = "stored"
    UNCHANGED = "unchanged"
    MOVED_ON = "moved_on"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Staff:
    """An enrolled member of staff, known by Telegram user id only."""

    id: int
    telegram_user_id: int
    team_id: int | None
    role: Role
    revoked: bool


@dataclass(frozen=True, slots=True)
class YoungPerson:
    """A young person: a case reference, a team and a responsible practitioner."""

    id: int
    reference: str
    team_id: int
    practitioner_id: int
    closed_on: date | None


@dataclass(frozen=True, slots=True)
class Assessment:
    """One assessment row, draft or submitted, with where the practitioner is in it."""

    id: int
    young_person_id: int
    reference: str
    kind: str
    status: Status
    instrument_id: str
    instrument_version: str
    assessed_on: date | None
    step: str
    current_item: str | None
    editing: bool
    chat_id: int | None
    message_id: int | None
    started_at: datetime
    updated_at: datetime
    risk_score: float | None
    risk_band: str | None
    resilience_score: float | None
    resilience_band: str | None


@dataclass(frozen=True, slots=True)
class Awaiting:
    """What the bot expects from a member of staff's next typed message."""

    kind: str
    payload: dict[str, Any]
    prompt_message_id: int | None


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """A line of a caseload: the case and the dates its schedule counts from."""

    young_person: YoungPerson
    baseline_on: date | None
    latest_on: date | None
    latest_kind: str | None
    draft_id: int | None


def _migrations() -> list[tuple[int, str, str]]:
    """The numbered SQL files shipped in the `migrations` package, in order."""
    found = []
    for entry in resources.files("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _split_statements(script: str) -> Iterable[str]:
    """Statements of a migration, kept whole across the semicolons inside triggers."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip():
                yield statement
            statement = ""
    if statement.strip() and not statement.strip().startswith("--"):
        yield statement


class Store:
    """Every read and write of the bot's data, on one aiosqlite connection."""

    def __init__(self, connection: aiosqlite.Connection, clock: Clock) -> None:
        self._db = connection
        self._clock = clock
        self._lock = _ReentrantTaskLock()

    @classmethod
    async def open(cls, path: Path | str, *, clock: Clock | None = None) -> Store:
        """Open (creating if need be) and migrate the database at `path`."""
        connection = await aiosqlite.connect(str(path), isolation_level=None)
        connection.row_factory = aiosqlite.Row
        store = cls(connection, clock or SystemClock())
        try:
            await store._configure()
            await store._migrate()
        except BaseException:
            await connection.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection; the store cannot be used after."""
        await self._db.close()

    async def _configure(self) -> None:
        await self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await self._db.execute("PRAGMA foreign_keys = ON")
        cursor = await self._db.execute("PRAGMA journal_mode = WAL")
        row = await cursor.fetchone()
        if row is None or str(row[0]).lower() != "wal":
            logger.warning("SQLite refused WAL mode; concurrent readers may wait")
        await self._db.execute("PRAGMA synchronous = NORMAL")

    async def schema_version(self) -> int:
        """The number of the last migration applied."""
        cursor = await self._db.execute("PRAGMA user_version")
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        migrations = _migrations()
        latest = migrations[-1][0] if migrations else 0
        current = await self.schema_version()
        if current > latest:
            raise DatabaseTooNewError(
                f"The database is at schema version {current}, but this version of the bot "
                f"knows only up to {latest}. Upgrade apart-bot, or point APART_DB_PATH at "
                "another database."
            )
        for number, name, script in migrations:
            if number <= current:
                continue
            async with self.transaction() as db:
                for statement in _split_statements(script):
                    await db.execute(statement)
                # PRAGMA takes no parameters; the number comes from our own file name.
                await db.execute(f"PRAGMA user_version = {number}")
            logger.info("Applied migration %s", name)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, committed on success and rolled back on any error."""
        async with self._lock:
            if self._db.in_transaction:
                # Nested use inside an open transaction joins it.
                yield self._db
                return
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def _fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock:
            cursor = await self._db.execute(sql, tuple(params))
            return await cursor.fetchone()

    async def _fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            cursor = await self._db.execute(sql, tuple(params))
            return list(await cursor.fetchall())

    def _now(self) -> str:
        return to_db(self._clock.now())

    # Teams and staff

    async def add_team(self, name: str) -> int:
        """Create a team, or return the id of the team of that name."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO teams (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, self._now()),
            )
            cursor = await db.execute("SELECT id FROM teams WHERE name = ?", (name,))
            row = await cursor.fetchone()
        assert row is not None
        return int(row["id"])

    async def enrol(self, telegram_user_id: int, team_id: int | None, role: Role) -> Staff:
        """Enrol a Telegram user as staff (or re-enrol them with a new team and role)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO staff (telegram_user_id, team_id, role, created_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (telegram_user_id) DO UPDATE SET"
                " team_id = excluded.team_id, role = excluded.role, revoked_at = NULL",
                (telegram_user_id, team_id, role.value, self._now()),
            )
            staff = await self.staff_by_telegram_id(telegram_user_id)
            assert staff is not None
            await self._audit(db, staff.id, "enrol", detail=role.value)
        return staff

    async def staff_by_telegram_id(self, telegram_user_id: int) -> Staff | None:
        """The member of staff with this Telegram user id, revoked or not."""
        row = await self._fetchone(
            "SELECT * FROM staff WHERE telegram_user_id = ?", (telegram_user_id,)
        )
        return _staff(row) if row else None

    # Young people

    async def add_young_person(self, reference: str, practitioner: Staff) -> YoungPerson:
        """Register a case reference on the practitioner's caseload."""
        if practitioner.team_id is None:
            raise StoreError("Only staff who belong to a team can register young people.")
        async with self.transaction() as db:
            try:
                cursor = await db.execute(
                    "INSERT INTO young_people (reference, team_id, practitioner_id, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (reference, practitioner.team_id, practitioner.id, self._now()),
                )
            except sqlite3.IntegrityError:
                raise DuplicateReferenceError(
                    f"{reference} is already in use. Choose another reference."
                ) from None
            yp_id = cursor.lastrowid
            assert yp_id is not None
            await self._audit(db, practitioner.id, "create", young_person_id=yp_id)
        return YoungPerson(yp_id, reference, practitioner.team_id, practitioner.id, None)

    async def reference_taken(self, reference: str) -> bool:
        """Whether any young person already has this reference (case-insensitively)."""
        row = await self._fetchone("SELECT 1 FROM young_people WHERE reference = ?", (reference,))
        return row is not None

    async def young_person(self, young_person_id: int, viewer: Staff) -> YoungPerson | None:
        """The young person, if `viewer` may see the case; None otherwise."""
        row = await self._fetchone(
            f"SELECT * FROM young_people yp WHERE yp.id = ? AND {_VISIBLE_TO}",
            (young_person_id, *_visibility(viewer)),
        )
        return _young_person(row) if row else None

    async def caseload(self, viewer: Staff) -> list[CaseSummary]:
        """The cases `viewer` looks after, with their schedule dates, by reference."""
        rows = await self._fetchall(
            "SELECT yp.*,"
            " (SELECT assessed_on FROM assessments a WHERE a.young_person_id = yp.id"
            "   AND a.status = 'submitted' AND a.kind = 'baseline') AS baseline_on,"
            " (SELECT assessed_on FROM assessments a WHERE a.young_person_id = yp.id"
            "   AND a.status = 'submitted' ORDER BY assessed_on DESC, id DESC LIMIT 1)"
            "   AS latest_on,"
            " (SELECT kind FROM assessments a WHERE a.young_person_id = yp.id"
            "   AND a.status = 'submitted' ORDER BY assessed_on DESC, id DESC LIMIT 1)"
            "   AS latest_kind,"
            " (SELECT id FROM assessments a WHERE a.young_person_id = yp.id"
            "   AND a.status = 'draft') AS draft_id"
            f" FROM young_people yp WHERE yp.practitioner_id = ? AND {_NOT_REVOKED}"
            " ORDER BY yp.reference",
            (viewer.id,),
        )
        return [
            CaseSummary(
                young_person=_young_person(row),
                baseline_on=_date(row["baseline_on"]),
                latest_on=_date(row["latest_on"]),
                latest_kind=row["latest_kind"],
                draft_id=row["draft_id"],
            )
            for row in rows
        ]

    # Assessments

    async def start_assessment(
        self,
        young_person: YoungPerson,
        kind: AssessmentKind,
        instrument_id: str,
        instrument_version: str,
        staff: Staff,
        step: str,
    ) -> Assessment:
        """Open a draft for the young person; there is at most one draft per young person."""
        now = self._now()
        async with self.transaction() as db:
            try:
                cursor = await db.execute(
                    "INSERT INTO assessments (young_person_id, kind, status, instrument_id,"
                    " instrument_version, step, started_by, started_at, updated_at)"
                    " VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?)",
                    (
                        young_person.id,
                        kind.value,
                        instrument_id,
                        instrument_version,
                        step,
                        staff.id,
                        now,
                        now,
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"{young_person.reference} already has an open draft.") from None
            assessment_id = cursor.lastrowid
            assert assessment_id is not None
            await self._audit(
                db,
                staff.id,
                "start",
                young_person_id=young_person.id,
                assessment_id=assessment_id,
                detail=kind.value,
            )
        found = await self.assessment(assessment_id, staff)
        assert found is not None
        return found

    async def assessment(self, assessment_id: int, viewer: Staff) -> Assessment | None:
        """The assessment, if `viewer` may see its case; None otherwise."""
        row = await self._fetchone(
            f"{_ASSESSMENT_SELECT} WHERE a.id = ? AND {_VISIBLE_TO}",
            (assessment_id, *_visibility(viewer)),
        )
        return _assessment(row) if row else None

    async def open_draft(self, viewer: Staff) -> Assessment | None:
        """The draft on `viewer`'s caseload touched most recently, if any."""
        row = await self._fetchone(
            f"{_ASSESSMENT_SELECT} WHERE a.status = 'draft' AND yp.practitioner_id = ?"
            " ORDER BY a.updated_at DESC LIMIT 1",
            (viewer.id,),
        )
        return _assessment(row) if row else None

    async def draft_for(self, young_person_id: int) -> Assessment | None:
        """The open draft of this young person, if any."""
        row = await self._fetchone(
            f"{_ASSESSMENT_SELECT} WHERE a.young_person_id = ? AND a.status = 'draft'",
            (young_person_id,),
        )
        return _assessment(row) if row else None

    async def submitted(self, young_person_id: int) -> list[Assessment]:
        """The young person's submitted assessments, oldest first."""
        rows = await self._fetchall(
            f"{_ASSESSMENT_SELECT} WHERE a.young_person_id = ? AND a.status = 'submitted'"
            " ORDER BY a.assessed_on, a.id",
            (young_person_id,),
        )
        return [_assessment(row) for row in rows]

    async def answers(self, assessment_id: int) -> dict[str, JsonValue]:
        """The answers given so far, by item id (None stands for Unknown or skipped)."""
        rows = await self._fetchall(
            "SELECT item_id, value FROM answers WHERE assessment_id = ?", (assessment_id,)
        )
        return {row["item_id"]: _loads(row["value"]) for row in rows}

    async def notes(self, assessment_id: int) -> dict[str, str]:
        """The notes written so far, by item id."""
        rows = await self._fetchall(
            "SELECT item_id, text FROM notes WHERE assessment_id = ?", (assessment_id,)
        )
        return {row["item_id"]: row["text"] for row in rows}

    async def adjustments(self, assessment_id: int) -> dict[str, tuple[str, str]]:
        """The band adjustments, by section id: (band, reason)."""
        rows = await self._fetchall(
            "SELECT section_id, band, reason FROM band_adjustments WHERE assessment_id = ?",
            (assessment_id,),
        )
        return {row["section_id"]: (row["band"], row["reason"]) for row in rows}

    async def record_answer(
        self,
        draft: Assessment,
        item_id: str,
        value: JsonValue,
        staff: Staff,
        *,
        next_step: str,
        next_item: str | None,
        editing: bool,
    ) -> AnswerOutcome:
        """Store an answer to the item on screen and move on, all or nothing.

        The answer is taken only while the draft is still open and still on this item, so a
        double tap or an old button can neither store twice nor skip an item.
        """
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT status, step, current_item FROM assessments WHERE id = ?", (draft.id,)
            )
            row = await cursor.fetchone()
            if row is None or row["status"] != Status.DRAFT:
                return AnswerOutcome.CLOSED
            if row["step"] != draft.step or row["current_item"] != item_id:
                cursor = await db.execute(
                    "SELECT value FROM answers WHERE assessment_id = ? AND item_id = ?",
                    (draft.id, item_id),
                )
                stored = await cursor.fetchone()
                same = stored is not None and _loads(stored["value"]) == value
                return AnswerOutcome.UNCHANGED if same else AnswerOutcome.MOVED_ON
            now = self._now()
            await db.execute(
                "INSERT INTO answers (assessment_id, item_id, value, answered_by, answered_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (assessment_id, item_id) DO UPDATE SET"
                " value = excluded.value, answered_by = excluded.answered_by,"
                " answered_at = excluded.answered_at",
                (draft.id, item_id, json.dumps(value), staff.id, now),
            )
            await db.execute(
                "UPDATE assessments SET step = ?, current_item = ?, editing = ?, updated_at = ?"
                " WHERE id = ?",
                (next_step, next_item, int(editing), now, draft.id),
            )
            await self._audit(
                db,
                staff.id,
                "answer",
                young_person_id=draft.young_person_id,
                assessment_id=draft.id,
                detail=item_id,
            )
        return AnswerOutcome.STORED

    async def move(
        self, draft: Assessment, *, step: str, current_item: str | None, editing: bool
    ) -> bool:
        """Put the draft on another step; False if it was closed or moved meanwhile."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE assessments SET step = ?, current_item = ?, editing = ?, updated_at = ?"
                " WHERE id = ? AND status = 'draft' AND step = ? AND current_item IS ?",
                (
                    step,
                    current_item,
                    int(editing),
                    self._now(),
                    draft.id,
                    draft.step,
                    draft.current_item,
                ),
            )
            return cursor.rowcount == 1

    async def set_assessed_on(
        self, draft: Assessment, day: date, *, step: str, current_item: str | None
    ) -> bool:
        """Record the date the assessment was done and move to the next step."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE assessments SET assessed_on = ?, step = ?, current_item = ?,"
                " updated_at = ? WHERE id = ? AND status = 'draft' AND step = ?",
                (day.isoformat(), step, current_item, self._now(), draft.id, draft.step),
            )
            return cursor.rowcount == 1

    async def show_on(self, draft: Assessment, chat_id: int, message_id: int) -> None:
        """Remember which chat message now shows the draft."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE assessments SET chat_id = ?, message_id = ? WHERE id = ?",
                (chat_id, message_id, draft.id),
            )

    async def save_note(self, draft: Assessment, item_id: str, text: str, staff: Staff) -> None:
        """Store (or replace) the note on one item of a draft."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO notes (assessment_id, item_id, text, written_by, written_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (assessment_id, item_id) DO UPDATE SET"
                " text = excluded.text, written_by = excluded.written_by,"
                " written_at = excluded.written_at",
                (draft.id, item_id, text, staff.id, self._now()),
            )
            await db.execute(
                "UPDATE assessments SET updated_at = ? WHERE id = ?", (self._now(), draft.id)
            )
            await self._audit(
                db,
                staff.id,
                "note",
                young_person_id=draft.young_person_id,
                assessment_id=draft.id,
                detail=item_id,
            )

    async def adjust_band(
        self, draft: Assessment, section_id: str, band: str, reason: str, staff: Staff
    ) -> None:
        """Store the practitioner's chosen band for a section, with the reason."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO band_adjustments"
                " (assessment_id, section_id, band, reason, adjusted_by, adjusted_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (assessment_id, section_id) DO UPDATE"
                " SET band = excluded.band, reason = excluded.reason,"
                " adjusted_by = excluded.adjusted_by, adjusted_at = excluded.adjusted_at",
                (draft.id, section_id, band, reason, staff.id, self._now()),
            )
            await self._audit(
                db,
                staff.id,
                "adjust",
                young_person_id=draft.young_person_id,
                assessment_id=draft.id,
                detail=section_id,
            )

    async def clear_adjustment(self, draft: Assessment, section_id: str, staff: Staff) -> None:
        """Go back to the computed band for a section."""
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM band_adjustments WHERE assessment_id = ? AND section_id = ?",
                (draft.id, section_id),
            )
            await self._audit(
                db,
                staff.id,
                "adjust",
                young_person_id=draft.young_person_id,
                assessment_id=draft.id,
                detail=f"{section_id} reset",
            )

    async def submit(
        self,
        draft: Assessment,
        staff: Staff,
        *,
        scores: dict[str, Any],
        risk: tuple[float | None, str | None],
        resilience: tuple[float | None, str | None],
        closes_case: bool,
    ) -> bool:
        """Submit the draft with its computed scores; False if it was not open any more."""
        now = self._now()
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE assessments SET status = 'submitted', submitted_by = ?,"
                " submitted_at = ?, updated_at = ?, step = 'done', current_item = NULL,"
                " risk_score = ?, risk_band = ?, resilience_score = ?, resilience_band = ?,"
                " scores_json = ? WHERE id = ? AND status = 'draft'",
                (
                    staff.id,
                    now,
                    now,
                    *risk,
                    *resilience,
                    json.dumps(scores),
                    draft.id,
                ),
            )
            if cursor.rowcount != 1:
                return False
            if closes_case:
                assert draft.assessed_on is not None
                await db.execute(
                    "UPDATE young_people SET closed_on = ? WHERE id = ?",
                    (draft.assessed_on.isoformat(), draft.young_person_id),
                )
            await self._audit(
                db,
                staff.id,
                "submit",
                young_person_id=draft.young_person_id,
                assessment_id=draft.id,
                detail=draft.kind,
            )
        return True

    async def discard(self, draft: Assessment, staff: Staff) -> bool:
        """Discard an open draft; its answers are kept with it for the record."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE assessments SET status = 'discarded', updated_at = ?"
                " WHERE id = ? AND status = 'draft'",
                (self._now(), draft.id),
            )
            if cursor.rowcount != 1:
                return False
            await self._audit(
                db,
                staff.id,
                "discard",
                young_person_id=draft.young_person_id,
                assessment_id=draft.id,
            )
        return True

    # What the bot waits for

    async def await_text(
        self,
        staff: Staff,
        kind: str,
        payload: dict[str, Any] | None = None,
        prompt_message_id: int | None = None,
    ) -> None:
        """Remember that the next typed message from `staff` answers `kind`."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO chat_state (staff_id, awaiting, payload, prompt_message_id,"
                " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (staff_id) DO UPDATE SET"
                " awaiting = excluded.awaiting, payload = excluded.payload,"
                " prompt_message_id = excluded.prompt_message_id,"
                " updated_at = excluded.updated_at",
                (staff.id, kind, json.dumps(payload or {}), prompt_message_id, self._now()),
            )

    async def awaiting(self, staff: Staff) -> Awaiting | None:
        """What the next typed message from `staff` answers, if anything."""
        row = await self._fetchone("SELECT * FROM chat_state WHERE staff_id = ?", (staff.id,))
        if row is None:
            return None
        return Awaiting(row["awaiting"], json.loads(row["payload"]), row["prompt_message_id"])

    async def stop_awaiting(self, staff: Staff) -> None:
        """Forget any typed input the bot was waiting for from `staff`."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM chat_state WHERE staff_id = ?", (staff.id,))

    # Audit

    async def audit(
        self,
        staff: Staff | None,
        action: str,
        *,
        young_person_id: int | None = None,
        assessment_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry to the audit trail."""
        async with self.transaction() as db:
            await self._audit(
                db,
                staff.id if staff else None,
                action,
                young_person_id=young_person_id,
                assessment_id=assessment_id,
                detail=detail,
            )

    async def audit_trail(self, young_person_id: int) -> list[dict[str, Any]]:
        """Every audit entry about one young person, oldest first."""
        rows = await self._fetchall(
            "SELECT * FROM audit WHERE young_person_id = ? ORDER BY id", (young_person_id,)
        )
        return [dict(row) for row in rows]

    # Enrolment, access and privacy

    # Reminders and digests

    # Analysis and export

    async def _audit(
        self,
        db: aiosqlite.Connection,
        staff_id: int | None,
        action: str,
        *,
        young_person_id: int | None = None,
        assessment_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        await db.execute(
            "INSERT INTO audit (at, staff_id, action, young_person_id, assessment_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (self._now(), staff_id, action, young_person_id, assessment_id, detail),
        )


class _ReentrantTaskLock:
    """An asyncio lock that the task holding it may take again.

    Store methods call one another inside a transaction (enrol reads the row it wrote), so
    the lock must let its owner back in while still keeping other tasks out.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: object | None = None
        self._depth = 0

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if self._owner is task and task is not None:
            self._depth += 1
            return
        await self._lock.acquire()
        self._owner = task
        self._depth = 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


# A young person is visible to their practitioner, and to the leads of their team, and only
# while the viewer is not revoked.
_VISIBLE_TO = (
    "(yp.practitioner_id = ? OR (yp.team_id = ? AND ? = 'lead'))"
    " AND EXISTS (SELECT 1 FROM staff s WHERE s.id = ? AND s.revoked_at IS NULL)"
)
_NOT_REVOKED = (
    "EXISTS (SELECT 1 FROM staff s WHERE s.id = yp.practitioner_id AND s.revoked_at IS NULL)"
)

_ASSESSMENT_SELECT = (
    "SELECT a.*, yp.reference, yp.practitioner_id, yp.team_id"
    " FROM assessments a JOIN young_people yp ON yp.id = a.young_person_id"
)


def _visibility(viewer: Staff) -> tuple[Any, ...]:
    return (viewer.id, viewer.team_id, viewer.role.value, viewer.id)


def _loads(value: str | None) -> JsonValue:
    decoded: JsonValue = None if value is None else json.loads(value)
    return decoded


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _staff(row: aiosqlite.Row) -> Staff:
    return Staff(
        id=row["id"],
        telegram_user_id=row["telegram_user_id"],
        team_id=row["team_id"],
        role=Role(row["role"]),
        revoked=row["revoked_at"] is not None,
    )


def _young_person(row: aiosqlite.Row) -> YoungPerson:
    return YoungPerson(
        id=row["id"],
        reference=row["reference"],
        team_id=row["team_id"],
        practitioner_id=row["practitioner_id"],
        closed_on=_date(row["closed_on"]),
    )


def _assessment(row: aiosqlite.Row) -> Assessment:
    return Assessment(
        id=row["id"],
        young_person_id=row["young_person_id"],
        reference=row["reference"],
        kind=row["kind"],
        status=Status(row["status"]),
        instrument_id=row["instrument_id"],
        instrument_version=row["instrument_version"],
        assessed_on=_date(row["assessed_on"]),
        step=row["step"],
        current_item=row["current_item"],
        editing=bool(row["editing"]),
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        started_at=from_db(row["started_at"]),
        updated_at=from_db(row["updated_at"]),
        risk_score=row["risk_score"],
        risk_band=row["risk_band"],
        resilience_score=row["resilience_score"],
        resilience_band=row["resilience_band"],
    )
