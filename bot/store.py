"""The SQLite store: schema migrations, and every read and write the bot makes.

One aiosqlite connection serves the process. A lock serialises the store's operations so
that one coroutine's transaction never interleaves with another's statements on the shared
connection; other processes on the same file are kept in step by WAL and the busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from apart_engine.schedule import add_months
from bot import encryption
from bot.clock import Clock, SystemClock, from_db, to_db
from bot.errors import (
    AccessError,
    DatabaseTooNewError,
    DuplicateReferenceError,
    InvalidTeamNameError,
    InvitationError,
    StorageUnavailableError,
    StoreError,
    UnknownInvitationError,
)
from bot.gc_pause import gc_paused
from bot.private_files import create_private

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Sequence

    from apart_engine.instrument import AssessmentKind

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5_000
MAX_TEAM_NAME = 60

# SQLite's words for a database it cannot write to now but may later (disk, permissions).
_CANNOT_WRITE = ("database or disk is full", "readonly database", "disk i/o error")

JsonValue = int | str | list[str] | None

# 16 random bytes: a 22-character code, unguessable and short enough for a deep link.
INVITATION_BYTES = 16


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
    is_admin: bool = False
    unreachable: bool = field(default=False, compare=False)
    """Whether the row, when read, said proactive messages to them were being skipped."""

    @property
    def can_administer(self) -> bool:
        """Whether this member of staff manages teams, staff and invitations."""
        return self.role is Role.ADMIN or self.is_admin

    @property
    def sees_cases(self) -> bool:
        """Whether this member of staff may see any case data at all (admins alone do not)."""
        return self.role is not Role.ADMIN


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
class Adjustment:
    """A practitioner's band for a section, why, and the computed band it was set against."""

    band: str
    reason: str
    computed_band: str | None


@dataclass(frozen=True, slots=True)
class Awaiting:
    """What the bot expects from a member of staff's next typed message."""

    kind: str
    payload: dict[str, Any]
    prompt_message_id: int | None
    since: datetime


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """A line of a caseload: the case and the dates its schedule counts from."""

    young_person: YoungPerson
    baseline_on: date | None
    latest_on: date | None
    latest_kind: str | None
    draft_id: int | None


@dataclass(frozen=True, slots=True)
class AnalysisRow:
    """One submitted assessment with its answers, as reports and exports read it."""

    assessment_id: int
    young_person_id: int
    reference: str
    team: str
    kind: str
    assessed_on: date
    instrument_id: str
    instrument_version: str
    risk_score: float | None
    risk_band: str | None
    resilience_score: float | None
    resilience_band: str | None
    scores: dict[str, Any]
    answers: dict[str, JsonValue]
    notes: dict[str, str]


@dataclass(frozen=True, slots=True)
class StaffEntry:
    """A line of the staff list: the record, the team's name and the caseload's size."""

    staff: Staff
    team_name: str | None
    cases: int
    enrolled_at: datetime


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


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
    async def open(
        cls, path: Path | str, *, clock: Clock | None = None, key: str | None = None
    ) -> Store:
        """Open (creating if need be) and migrate the database at `path`, encrypted if keyed.

        A key that does not open the file raises WrongKeyError before anything is written.
        """
        file = Path(path)
        if await asyncio.to_thread(encryption.check_opens, file, key) == "missing":
            # SQLite would create it 0644; its WAL and SHM files take the database's mode. A
            # folder that cannot take the file is left for SQLite to report as it always has.
            with contextlib.suppress(OSError):
                await asyncio.to_thread(create_private, file)
        connection = await aiosqlite.Connection(encryption.connector(file, key), 64)
        connection.row_factory = encryption.row_type(key)
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
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    await self._db.commit()
                except BaseException:
                    await self._db.rollback()
                    raise
            except encryption.DATABASE_ERRORS as error:
                if not any(sign in str(error).lower() for sign in _CANNOT_WRITE):
                    raise
                logger.error(
                    "The database cannot be written (%s): free disk space or make the file "
                    "writable; nothing was stored and the bot carries on when it can write",
                    error,
                )
                raise StorageUnavailableError(
                    f"The database cannot be written: {error}."
                ) from error

    async def _fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """The first row of a query that matches one row or a few (it reads them all)."""
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        # One trip to the database thread rather than two (execute, then fetch): each trip
        # costs tens of microseconds, and a tap makes several reads.
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, tuple(params)))

    def _now(self) -> str:
        return to_db(self._clock.now())

    # Teams and staff

    async def add_team(self, name: str) -> int:
        """Create a team, or return the id of the team of that name."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_TEAM_NAME:
            raise InvalidTeamNameError(
                f"A team name must be 1 to {MAX_TEAM_NAME} characters, not blank."
            )
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

    async def staff_on_arrival(
        self, telegram_user_id: int
    ) -> tuple[Staff | None, Awaiting | None]:
        """The member of staff with this Telegram user id and what the bot awaits from them.

        One read where `staff_by_telegram_id` and `awaiting` make two: the gate runs it on
        every update.
        """
        row = await self._fetchone(
            "SELECT s.*, cs.awaiting, cs.payload, cs.prompt_message_id,"
            " cs.updated_at AS awaiting_since"
            " FROM staff s LEFT JOIN chat_state cs ON cs.staff_id = s.id"
            " WHERE s.telegram_user_id = ?",
            (telegram_user_id,),
        )
        if row is None:
            return None, None
        return _staff(row), _awaiting(row)

    # Young people

    async def add_young_person(self, reference: str, practitioner: Staff) -> YoungPerson:
        """Register a case reference on the practitioner's caseload."""
        if practitioner.team_id is None or not practitioner.sees_cases:
            raise StoreError("Only staff who belong to a team can register young people.")
        async with self.transaction() as db:
            try:
                cursor = await db.execute(
                    "INSERT INTO young_people (reference, team_id, practitioner_id, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (reference, practitioner.team_id, practitioner.id, self._now()),
                )
            except encryption.INTEGRITY_ERRORS:
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

    async def young_person(
        self, young_person_id: int, viewer: Staff, *, own: bool = False
    ) -> YoungPerson | None:
        """The young person, if `viewer` may see the case; None otherwise. Both are audited.

        With `own`, only a case on the viewer's own caseload (to assess it, not just read it).
        """
        row = await self._fetchone(
            f"SELECT * FROM young_people yp WHERE yp.id = ? AND {_VISIBLE_TO}"
            " AND (? = 0 OR yp.practitioner_id = ?)",
            (young_person_id, *_visibility(viewer), int(own), viewer.id),
        )
        if row is None:
            await self._refuse(viewer, "young_people", young_person_id)
            return None
        await self.audit(viewer, "view", young_person_id=young_person_id)
        return _young_person(row)

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
            f" FROM young_people yp WHERE yp.practitioner_id = ? AND yp.team_id = ?"
            f" AND {_NOT_REVOKED} AND yp.erased_at IS NULL"
            " ORDER BY yp.reference",
            (viewer.id, viewer.team_id),
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
            except encryption.INTEGRITY_ERRORS:
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

    async def assessment(
        self, assessment_id: int, viewer: Staff, *, own: bool = False
    ) -> Assessment | None:
        """The assessment, if `viewer` may see its case; None (and a refusal audited) otherwise.

        With `own`, only an assessment of the viewer's own caseload: answering and changing a
        draft is for the practitioner responsible, not for everyone who may read it.
        """
        row = await self._fetchone(
            f"{_ASSESSMENT_SELECT} WHERE a.id = ? AND {_VISIBLE_TO}"
            " AND (? = 0 OR yp.practitioner_id = ?)",
            (assessment_id, *_visibility(viewer), int(own), viewer.id),
        )
        if row is None:
            await self._refuse(viewer, "assessments", assessment_id)
            return None
        return _assessment(row)

    async def open_draft(self, viewer: Staff) -> Assessment | None:
        """The draft on `viewer`'s caseload touched most recently, if any."""
        row = await self._fetchone(
            f"{_ASSESSMENT_SELECT} WHERE a.status = 'draft' AND yp.practitioner_id = ?"
            " AND yp.team_id = ? ORDER BY a.updated_at DESC LIMIT 1",
            (viewer.id, viewer.team_id),
        )
        return _assessment(row) if row else None

    async def drafts_shown_since(self, since: datetime) -> list[tuple[Staff, int, datetime]]:
        """Each member of staff's latest open draft touched since `since`, with its chat.

        Gives (staff, chat id, last touched), for putting idle timers back after a restart.
        """
        # With max(), SQLite takes the other bare columns from the row that holds the maximum.
        rows = await self._fetchall(
            "SELECT s.*, a.chat_id AS draft_chat_id, max(a.updated_at) AS touched"
            " FROM assessments a JOIN young_people yp ON yp.id = a.young_person_id"
            " JOIN staff s ON s.id = yp.practitioner_id AND s.team_id = yp.team_id"
            " WHERE a.status = 'draft' AND a.chat_id IS NOT NULL AND a.updated_at >= ?"
            " AND s.revoked_at IS NULL GROUP BY s.id",
            (to_db(since),),
        )
        return [(_staff(row), row["draft_chat_id"], from_db(row["touched"])) for row in rows]

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

    async def answers_on_record(self, young_person_id: int) -> dict[str, JsonValue]:
        """Answers of the young person's submitted assessments; the latest wins for each item."""
        rows = await self._fetchall(
            "SELECT an.item_id, an.value FROM answers an"
            " JOIN assessments a ON a.id = an.assessment_id"
            " WHERE a.young_person_id = ? AND a.status = 'submitted'"
            " ORDER BY a.assessed_on, a.id",
            (young_person_id,),
        )
        return {row["item_id"]: _loads(row["value"]) for row in rows}

    async def notes(self, assessment_id: int) -> dict[str, str]:
        """The notes written so far, by item id."""
        rows = await self._fetchall(
            "SELECT item_id, text FROM notes WHERE assessment_id = ?", (assessment_id,)
        )
        return {row["item_id"]: row["text"] for row in rows}

    async def answers_and_notes(
        self, assessment_id: int
    ) -> tuple[dict[str, JsonValue], dict[str, str]]:
        """`answers` and `notes` in one read (an item screen shows both)."""
        rows = await self._fetchall(
            "SELECT 'answer' AS source, item_id, value FROM answers WHERE assessment_id = ?"
            " UNION ALL"
            " SELECT 'note', item_id, text FROM notes WHERE assessment_id = ?",
            (assessment_id, assessment_id),
        )
        answers = {r["item_id"]: _loads(r["value"]) for r in rows if r["source"] == "answer"}
        notes = {r["item_id"]: r["value"] for r in rows if r["source"] == "note"}
        return answers, notes

    async def adjustments(self, assessment_id: int) -> dict[str, Adjustment]:
        """The band adjustments, by section id."""
        rows = await self._fetchall(
            "SELECT section_id, band, reason, computed_band FROM band_adjustments"
            " WHERE assessment_id = ?",
            (assessment_id,),
        )
        return {
            row["section_id"]: Adjustment(row["band"], row["reason"], row["computed_band"])
            for row in rows
        }

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
            rows = await db.execute_fetchall(
                "SELECT status, step, current_item FROM assessments WHERE id = ?", (draft.id,)
            )
            row = next(iter(rows), None)
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
        self, draft: Assessment, section_id: str, adjustment: Adjustment, staff: Staff
    ) -> None:
        """Store the practitioner's chosen band for a section, with the reason."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO band_adjustments (assessment_id, section_id, band, reason,"
                " computed_band, adjusted_by, adjusted_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (assessment_id, section_id) DO UPDATE SET band = excluded.band,"
                " reason = excluded.reason, computed_band = excluded.computed_band,"
                " adjusted_by = excluded.adjusted_by, adjusted_at = excluded.adjusted_at",
                (
                    draft.id,
                    section_id,
                    adjustment.band,
                    adjustment.reason,
                    adjustment.computed_band,
                    staff.id,
                    self._now(),
                ),
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
        row = await self._fetchone(
            "SELECT awaiting, payload, prompt_message_id, updated_at AS awaiting_since"
            " FROM chat_state WHERE staff_id = ?",
            (staff.id,),
        )
        return None if row is None else _awaiting(row)

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

    async def teams(self) -> list[tuple[int, str]]:
        """Every team as (id, name), by name."""
        rows = await self._fetchall("SELECT id, name FROM teams ORDER BY name")
        return [(row["id"], row["name"]) for row in rows]

    async def team_id(self, name: str) -> int | None:
        """The id of the team of that name (case-insensitively), if there is one."""
        row = await self._fetchone("SELECT id FROM teams WHERE name = ?", (name,))
        return int(row["id"]) if row else None

    async def create_invitation(
        self,
        team_id: int | None,
        role: Role,
        expires_at: datetime,
        created_by: Staff | None,
        *,
        is_admin: bool = False,
    ) -> str:
        """Issue a single-use invitation and return its code; only the code's hash is kept."""
        if created_by is not None and (created_by.revoked or not created_by.can_administer):
            raise AccessError("Only an administrator can create invitations.")
        if role is not Role.ADMIN and team_id is None:
            raise StoreError("A practitioner or lead must be invited to a team.")
        code = secrets.token_urlsafe(INVITATION_BYTES)
        role_text = role.value if not is_admin or role is Role.ADMIN else f"{role.value}+admin"
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO invitations (code_hash, team_id, role, created_by, created_at,"
                " expires_at, is_admin) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _code_hash(code),
                    team_id,
                    role.value,
                    created_by.id if created_by else None,
                    self._now(),
                    to_db(expires_at),
                    int(is_admin or role is Role.ADMIN),
                ),
            )
            await self._audit(
                db, created_by.id if created_by else None, "invite", detail=role_text
            )
        return code

    async def redeem_invitation(self, code: str, telegram_user_id: int) -> Staff:
        """Enrol the sender with the invitation's team and role, using the invitation up."""
        now = self._now()
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT * FROM invitations WHERE code_hash = ?", (_code_hash(code),)
            )
            invitation = await cursor.fetchone()
            if invitation is None:
                raise UnknownInvitationError("No invitation has this code.")
            if invitation["used_at"] is not None or invitation["expires_at"] <= now:
                raise InvitationError(
                    "This invitation has expired or has already been used. Ask the person "
                    "who invited you for a new one."
                )
            await db.execute(
                "INSERT INTO staff (telegram_user_id, team_id, role, is_admin, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (telegram_user_id) DO UPDATE SET"
                " team_id = excluded.team_id, role = excluded.role,"
                " is_admin = excluded.is_admin, revoked_at = NULL",
                (
                    telegram_user_id,
                    invitation["team_id"],
                    invitation["role"],
                    invitation["is_admin"],
                    now,
                ),
            )
            staff = await self.staff_by_telegram_id(telegram_user_id)
            assert staff is not None
            await db.execute(
                "UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ?",
                (now, staff.id, invitation["id"]),
            )
            await self._audit(
                db,
                staff.id,
                "enrol",
                detail=f"{staff.role.value} by invitation {invitation['id']}",
            )
        return staff

    async def bootstrap_admin(self, telegram_user_id: int) -> Staff:
        """Enrol the very first administrator; refused once any administrator exists."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT 1 FROM staff WHERE (is_admin = 1 OR role = 'admin') AND revoked_at IS NULL"
            )
            if await cursor.fetchone() is not None:
                raise AccessError(
                    "There is already an administrator. Ask them for an invitation instead."
                )
            await db.execute(
                "INSERT INTO staff (telegram_user_id, team_id, role, is_admin, created_at)"
                " VALUES (?, NULL, 'admin', 1, ?) ON CONFLICT (telegram_user_id) DO UPDATE SET"
                " is_admin = 1, revoked_at = NULL",
                (telegram_user_id, self._now()),
            )
            staff = await self.staff_by_telegram_id(telegram_user_id)
            assert staff is not None
            await self._audit(db, None, "enrol", detail=f"staff {staff.id} bootstrapped as admin")
        return staff

    async def staff_list(self) -> list[StaffEntry]:
        """Everyone ever enrolled, revoked or not, with their team and caseload size."""
        rows = await self._fetchall(
            "SELECT s.*, t.name AS team_name,"
            " (SELECT count(*) FROM young_people yp WHERE yp.practitioner_id = s.id"
            "   AND yp.erased_at IS NULL) AS cases"
            " FROM staff s LEFT JOIN teams t ON t.id = s.team_id ORDER BY t.name, s.id"
        )
        return [
            StaffEntry(_staff(row), row["team_name"], row["cases"], from_db(row["created_at"]))
            for row in rows
        ]

    async def revoke(
        self, telegram_user_id: int, by: Staff | None, *, actor: str | None = None
    ) -> Staff | None:
        """Revoke a member of staff at once; their drafts stay for a lead to reassign."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE staff SET revoked_at = ? WHERE telegram_user_id = ?"
                " AND revoked_at IS NULL",
                (self._now(), telegram_user_id),
            )
            staff = await self.staff_by_telegram_id(telegram_user_id)
            if staff is None or cursor.rowcount != 1:
                return None
            await db.execute("DELETE FROM chat_state WHERE staff_id = ?", (staff.id,))
            detail = f"staff {staff.id}" + (f" by {actor}" if actor else "")
            await self._audit(db, by.id if by else None, "revoke", detail=detail)
        return staff

    async def team_cases(self, lead: Staff) -> list[YoungPerson]:
        """The open cases of a lead's team, whoever holds them (revoked staff included)."""
        if lead.role is not Role.LEAD or lead.revoked:
            return []
        rows = await self._fetchall(
            "SELECT * FROM young_people yp WHERE yp.team_id = ? AND yp.erased_at IS NULL"
            " AND yp.closed_on IS NULL ORDER BY yp.reference",
            (lead.team_id,),
        )
        return [_young_person(row) for row in rows]

    async def team_members(self, team_id: int) -> list[Staff]:
        """The team's unrevoked practitioners and leads: who may hold a case."""
        rows = await self._fetchall(
            "SELECT * FROM staff WHERE team_id = ? AND revoked_at IS NULL"
            " AND role IN ('practitioner', 'lead') ORDER BY id",
            (team_id,),
        )
        return [_staff(row) for row in rows]

    async def transfer(self, young_person: YoungPerson, to: Staff, lead: Staff) -> bool:
        """Give a case, its history and any open draft to another member of its team.

        Only a lead of the case's team may, and only to an unrevoked practitioner or lead of
        that team; the draft forgets the chat message that showed it to the previous holder.
        """
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE young_people SET practitioner_id = ? WHERE id = ? AND team_id = ?"
                " AND erased_at IS NULL"
                " AND EXISTS (SELECT 1 FROM staff l WHERE l.id = ? AND l.role = 'lead'"
                "   AND l.team_id = young_people.team_id AND l.revoked_at IS NULL)"
                " AND EXISTS (SELECT 1 FROM staff s WHERE s.id = ? AND s.team_id = ?"
                "   AND s.role IN ('practitioner', 'lead') AND s.revoked_at IS NULL)",
                (to.id, young_person.id, lead.team_id, lead.id, to.id, lead.team_id),
            )
            if cursor.rowcount != 1:
                await self._audit(
                    db,
                    lead.id,
                    "refused",
                    young_person_id=young_person.id,
                    detail="transfer not allowed",
                )
                return False
            await db.execute(
                "UPDATE assessments SET chat_id = NULL, message_id = NULL"
                " WHERE young_person_id = ? AND status = 'draft'",
                (young_person.id,),
            )
            await self._audit(
                db,
                lead.id,
                "transfer",
                young_person_id=young_person.id,
                detail=f"staff {young_person.practitioner_id} to staff {to.id}",
            )
        return True

    async def find_case(self, reference: str) -> YoungPerson | None:
        """The case with this reference, erased or not, for the operator's command line."""
        row = await self._fetchone("SELECT * FROM young_people WHERE reference = ?", (reference,))
        return _young_person(row) if row else None

    async def audit_entries(
        self, *, young_person_id: int | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Audit entries, oldest first, about one case and/or from a moment on."""
        rows = await self._fetchall(
            "SELECT * FROM audit WHERE (? IS NULL OR young_person_id = ?)"
            " AND (? IS NULL OR at >= ?) ORDER BY id",
            (
                young_person_id,
                young_person_id,
                to_db(since) if since else None,
                to_db(since) if since else None,
            ),
        )
        return [dict(row) for row in rows]

    async def export_case(self, young_person_id: int, actor: str) -> dict[str, Any]:
        """Everything held about one young person, for a subject access request (audited)."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT * FROM young_people WHERE id = ?", (young_person_id,)
            )
            case = await cursor.fetchone()
            if case is None:
                raise StoreError("There is no such case.")
            cursor = await db.execute(
                "SELECT * FROM assessments WHERE young_person_id = ? ORDER BY id",
                (young_person_id,),
            )
            assessments = []
            for row in await cursor.fetchall():
                record = dict(row)
                record["scores"] = json.loads(record.pop("scores_json") or "null")
                for table in ("answers", "notes"):
                    # The table names are this fixed tuple's, never input; the id is bound.
                    rows = await (
                        await db.execute(
                            f"SELECT * FROM {table} WHERE assessment_id = ? ORDER BY item_id",
                            (row["id"],),
                        )
                    ).fetchall()
                    record[table] = [dict(r) for r in rows]
                for answer in record["answers"]:
                    answer["value"] = _loads(answer["value"])
                adjustments = await (
                    await db.execute(
                        "SELECT * FROM band_adjustments WHERE assessment_id = ?", (row["id"],)
                    )
                ).fetchall()
                record["band_adjustments"] = [dict(r) for r in adjustments]
                assessments.append(record)
            await self._audit(
                db, None, "export", young_person_id=young_person_id, detail=f"by {actor}"
            )
            cursor = await db.execute(
                "SELECT * FROM audit WHERE young_person_id = ? ORDER BY id", (young_person_id,)
            )
            audit = [dict(row) for row in await cursor.fetchall()]
        return {
            "young_person": dict(case),
            "assessments": assessments,
            "audit": audit,
            "exported_at": self._now(),
        }

    async def erase_case(self, young_person_id: int, actor: str, by: Staff | None = None) -> bool:
        """Remove a case's answers, notes, adjustments and scores; False if already erased.

        The case keeps its reference and the dates of its assessments, so the audit trail
        still reads; an open draft is discarded.
        """
        now = self._now()
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE young_people SET erased_at = ?, erased_by = ?"
                " WHERE id = ? AND erased_at IS NULL",
                (now, by.id if by else None, young_person_id),
            )
            if cursor.rowcount != 1:
                return False
            owned = "SELECT id FROM assessments WHERE young_person_id = ?"
            # The table names are this fixed tuple's, never input; the id is bound.
            for table in ("answers", "notes", "band_adjustments"):
                await db.execute(
                    f"DELETE FROM {table} WHERE assessment_id IN ({owned})", (young_person_id,)
                )
            # A note held back for "Save anyway" waits in the chat state; it goes too.
            await db.execute(
                f"DELETE FROM chat_state WHERE json_extract(payload, '$.draft') IN ({owned})",
                (young_person_id,),
            )
            await db.execute(
                "UPDATE assessments SET risk_score = NULL, risk_band = NULL,"
                " resilience_score = NULL, resilience_band = NULL, scores_json = NULL,"
                " current_item = NULL, chat_id = NULL, message_id = NULL,"
                " status = CASE status WHEN 'draft' THEN 'discarded' ELSE status END,"
                " updated_at = ? WHERE young_person_id = ?",
                (now, young_person_id),
            )
            await self._audit(
                db,
                by.id if by else None,
                "erase",
                young_person_id=young_person_id,
                detail=f"by {actor}",
            )
        return True

    async def retention_due(self, today: date, months: int) -> list[YoungPerson]:
        """Closed, unerased cases whose closure is at least `months` before `today`."""
        rows = await self._fetchall(
            "SELECT * FROM young_people WHERE closed_on IS NOT NULL AND erased_at IS NULL"
            " ORDER BY closed_on, reference"
        )
        cases = [_young_person(row) for row in rows]
        return [
            case
            for case in cases
            if case.closed_on is not None and add_months(case.closed_on, months) <= today
        ]

    async def _refuse(self, viewer: Staff, table: str, row_id: int) -> None:
        """Audit a read refused by the visibility rule, naming the case only if it exists."""
        if table == "young_people":
            row = await self._fetchone("SELECT id FROM young_people WHERE id = ?", (row_id,))
            young_person_id = row["id"] if row else None
            assessment_id = None
        else:
            row = await self._fetchone(
                "SELECT id, young_person_id FROM assessments WHERE id = ?", (row_id,)
            )
            young_person_id = row["young_person_id"] if row else None
            assessment_id = row["id"] if row else None
        detail = "case not visible" if row else f"no such {table} row {row_id}"
        await self.audit(
            viewer,
            "refused",
            young_person_id=young_person_id,
            assessment_id=assessment_id,
            detail=detail,
        )

    # Reminders and digests

    async def reminder_recipients(self) -> list[Staff]:
        """Staff holding an open case who are neither revoked nor unreachable."""
        rows = await self._fetchall(
            "SELECT s.* FROM staff s WHERE s.revoked_at IS NULL AND s.unreachable_since IS NULL"
            " AND EXISTS (SELECT 1 FROM young_people yp WHERE yp.practitioner_id = s.id"
            "   AND yp.team_id = s.team_id AND yp.closed_on IS NULL)"
            " ORDER BY s.id"
        )
        return [_staff(row) for row in rows]

    async def digest_recipients(self) -> list[Staff]:
        """Team leads who are neither revoked nor unreachable."""
        rows = await self._fetchall(
            "SELECT s.* FROM staff s WHERE s.role = 'lead' AND s.team_id IS NOT NULL"
            " AND s.revoked_at IS NULL AND s.unreachable_since IS NULL ORDER BY s.id"
        )
        return [_staff(row) for row in rows]

    async def mark_unreachable(self, staff: Staff) -> None:
        """Note that Telegram refuses messages to this member of staff (kept until they write)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE staff SET unreachable_since = COALESCE(unreachable_since, ?) WHERE id = ?",
                (self._now(), staff.id),
            )

    async def mark_reachable(self, staff: Staff) -> bool:
        """Clear the unreachable mark; True if there was one to clear."""
        if not await self.is_unreachable(staff):
            return False
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE staff SET unreachable_since = NULL"
                " WHERE id = ? AND unreachable_since IS NOT NULL",
                (staff.id,),
            )
        return cursor.rowcount == 1

    async def is_unreachable(self, staff: Staff) -> bool:
        """Whether proactive messages to this member of staff are being skipped."""
        row = await self._fetchone("SELECT unreachable_since FROM staff WHERE id = ?", (staff.id,))
        return row is not None and row["unreachable_since"] is not None

    async def claim_reminders(
        self, recipient: Staff, due: Sequence[DueReminder], today: date
    ) -> ReminderClaim:
        """Take the reminders not yet sent, all at once; snoozed cases are set aside.

        Claiming before sending is what keeps a second sweep, or a second instance on the
        same database, from sending the same reminder: only one of them gets each row.
        """
        claimed: list[ClaimedReminder] = []
        snoozed: dict[int, date] = {}
        async with self.transaction() as db:
            for item in due:
                key = (recipient.id, item.young_person_id, item.due_on.isoformat())
                cursor = await db.execute(
                    "SELECT until, reminded_at FROM snoozes"
                    " WHERE recipient_id = ? AND young_person_id = ? AND due_on = ?",
                    key,
                )
                snooze = await cursor.fetchone()
                if snooze is not None and date.fromisoformat(snooze["until"]) > today:
                    snoozed[item.young_person_id] = date.fromisoformat(snooze["until"])
                    continue
                comeback = False
                if snooze is not None and snooze["reminded_at"] is None:
                    cursor = await db.execute(
                        "UPDATE snoozes SET reminded_at = ? WHERE recipient_id = ?"
                        " AND young_person_id = ? AND due_on = ? AND reminded_at IS NULL",
                        (self._now(), *key),
                    )
                    comeback = cursor.rowcount == 1
                cursor = await db.execute(
                    "INSERT INTO reminders_sent (recipient_id, young_person_id, due_on, kind,"
                    " claimed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (*key, item.kind, self._now()),
                )
                ledger = cursor.rowcount == 1
                if ledger or comeback:
                    claimed.append(ClaimedReminder(item, ledger=ledger, snooze=comeback))
        return ReminderClaim(tuple(claimed), snoozed)

    async def settle_reminders(
        self, recipient: Staff, claimed: Sequence[ClaimedReminder], *, sent: bool
    ) -> None:
        """Record claimed reminders as sent, or give them back when the message failed."""
        async with self.transaction() as db:
            for claim in claimed:
                key = (recipient.id, claim.item.young_person_id, claim.item.due_on.isoformat())
                if sent and claim.ledger:
                    await db.execute(
                        "UPDATE reminders_sent SET sent_at = ? WHERE recipient_id = ?"
                        " AND young_person_id = ? AND due_on = ? AND kind = ?",
                        (self._now(), *key, claim.item.kind),
                    )
                if not sent and claim.ledger:
                    await db.execute(
                        "DELETE FROM reminders_sent WHERE recipient_id = ?"
                        " AND young_person_id = ? AND due_on = ? AND kind = ?",
                        (*key, claim.item.kind),
                    )
                if not sent and claim.snooze:
                    await db.execute(
                        "UPDATE snoozes SET reminded_at = NULL WHERE recipient_id = ?"
                        " AND young_person_id = ? AND due_on = ?",
                        key,
                    )

    async def snooze(
        self, recipient: Staff, young_person_id: int, due_on: date, until: date
    ) -> YoungPerson | None:
        """Hold back reminders of one of the recipient's open cases until `until`."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT yp.* FROM young_people yp WHERE yp.id = ? AND yp.practitioner_id = ?"
                f" AND yp.team_id = ? AND yp.closed_on IS NULL AND {_NOT_REVOKED}",
                (young_person_id, recipient.id, recipient.team_id),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            await db.execute(
                "INSERT INTO snoozes (recipient_id, young_person_id, due_on, until, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (recipient_id, young_person_id, due_on)"
                " DO UPDATE SET until = excluded.until, created_at = excluded.created_at,"
                " reminded_at = NULL",
                (
                    recipient.id,
                    young_person_id,
                    due_on.isoformat(),
                    until.isoformat(),
                    self._now(),
                ),
            )
            await self._audit(
                db, recipient.id, "snooze", young_person_id=young_person_id, detail=str(until)
            )
        return _young_person(row)

    async def snoozed(self, recipient: Staff, today: date) -> dict[tuple[int, date], date]:
        """The recipient's snoozes still running: (case id, due date) to the snooze's end."""
        rows = await self._fetchall(
            "SELECT young_person_id, due_on, until FROM snoozes"
            " WHERE recipient_id = ? AND until > ?",
            (recipient.id, today.isoformat()),
        )
        return {
            (row["young_person_id"], date.fromisoformat(row["due_on"])): date.fromisoformat(
                row["until"]
            )
            for row in rows
        }

    async def claim_digest(self, recipient: Staff, week_of: date) -> bool:
        """Take the recipient's digest for the week; False if it was taken already."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO digests_sent (recipient_id, week_of, claimed_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (recipient.id, week_of.isoformat(), self._now()),
            )
        return cursor.rowcount == 1

    async def settle_digest(self, recipient: Staff, week_of: date, *, sent: bool) -> None:
        """Record a claimed digest as sent, or give it back when the message failed."""
        async with self.transaction() as db:
            if sent:
                await db.execute(
                    "UPDATE digests_sent SET sent_at = ? WHERE recipient_id = ? AND week_of = ?",
                    (self._now(), recipient.id, week_of.isoformat()),
                )
            else:
                await db.execute(
                    "DELETE FROM digests_sent WHERE recipient_id = ? AND week_of = ?",
                    (recipient.id, week_of.isoformat()),
                )

    async def last_job_slot(self, job: str) -> datetime | None:
        """The scheduled moment of the job's last completed run, if it ever ran."""
        row = await self._fetchone("SELECT slot FROM job_runs WHERE job = ?", (job,))
        return from_db(row["slot"]) if row else None

    async def record_job_run(self, job: str, slot: datetime) -> None:
        """Note that the job's run for `slot` finished; an earlier slot never replaces a later."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO job_runs (job, slot, finished_at) VALUES (?, ?, ?)"
                " ON CONFLICT (job) DO UPDATE SET slot = excluded.slot,"
                " finished_at = excluded.finished_at WHERE excluded.slot > job_runs.slot",
                (job, to_db(slot), self._now()),
            )

    async def team_caseload(self, lead: Staff) -> list[CaseSummary]:
        """The open cases of the lead's team, with their schedule dates; none for a non-lead."""
        rows = await self._fetchall(
            f"{_CASE_SUMMARY_SELECT} WHERE yp.team_id = ? AND yp.closed_on IS NULL"
            f" AND ? = 'lead' AND {_VISIBLE_TO} ORDER BY yp.reference",
            (lead.team_id, lead.role.value, *_visibility(lead)),
        )
        return [_case_summary(row) for row in rows]

    async def lead_team(self, lead: Staff) -> list[Staff]:
        """The unrevoked staff of the lead's team; none for a non-lead."""
        rows = await self._fetchall(
            "SELECT s.* FROM staff s WHERE s.team_id = ? AND s.revoked_at IS NULL"
            " AND EXISTS (SELECT 1 FROM staff l WHERE l.id = ? AND l.role = 'lead'"
            "   AND l.team_id = s.team_id AND l.revoked_at IS NULL)"
            " ORDER BY s.id",
            (lead.team_id, lead.id),
        )
        return [_staff(row) for row in rows]

    async def team_history(self, lead: Staff) -> list[ScoredAssessment]:
        """Every submitted assessment of the lead's team's cases, case by case, oldest first."""
        rows = await self._fetchall(
            f"{_ASSESSMENT_SELECT} WHERE a.status = 'submitted' AND yp.team_id = ?"
            f" AND ? = 'lead' AND {_VISIBLE_TO}"
            " ORDER BY yp.reference, a.assessed_on, a.id",
            (lead.team_id, lead.role.value, *_visibility(lead)),
        )
        return [_scored(row, ()) for row in rows]

    async def stale_drafts(
        self, lead: Staff, started_before: datetime
    ) -> list[tuple[str, int, datetime]]:
        """The team's drafts opened before `started_before`: (reference, practitioner, opened)."""
        rows = await self._fetchall(
            f"{_ASSESSMENT_SELECT} WHERE a.status = 'draft' AND a.started_at < ?"
            f" AND yp.team_id = ? AND ? = 'lead' AND {_VISIBLE_TO} ORDER BY a.started_at",
            (to_db(started_before), lead.team_id, lead.role.value, *_visibility(lead)),
        )
        return [
            (row["reference"], row["practitioner_id"], from_db(row["started_at"])) for row in rows
        ]

    async def case_by_reference(self, reference: str, viewer: Staff) -> YoungPerson | None:
        """The young person with this reference (any case), if `viewer` may see the case."""
        row = await self._fetchone(
            f"SELECT * FROM young_people yp WHERE yp.reference = ? AND {_VISIBLE_TO}",
            (reference, *_visibility(viewer)),
        )
        return _young_person(row) if row else None

    async def case_history(
        self, young_person_id: int, viewer: Staff, events_item: str
    ) -> list[ScoredAssessment]:
        """The case's submitted assessments with their recorded events, if `viewer` may see it."""
        rows = await self._fetchall(
            f"{_ASSESSMENT_SELECT} WHERE a.status = 'submitted' AND yp.id = ?"
            f" AND {_VISIBLE_TO} ORDER BY a.assessed_on, a.id",
            (young_person_id, *_visibility(viewer)),
        )
        found = []
        for row in rows:
            answer = await self._fetchone(
                "SELECT value FROM answers WHERE assessment_id = ? AND item_id = ?",
                (row["id"], events_item),
            )
            events = _loads(answer["value"]) if answer else None
            found.append(_scored(row, tuple(events) if isinstance(events, list) else ()))
        return found

    # Analysis and export

    async def analysis_rows(
        self,
        viewer: Staff | None,
        *,
        purpose: str,
        team: str | None = None,
        reference: str | None = None,
        with_notes: bool = False,
    ) -> list[AnalysisRow]:
        """Submitted assessments for a report or an export, oldest first, each case audited.

        `viewer` None is the command line on the server; a member of staff sees only the
        cases they may see. Erased cases are never included; notes only when asked for.
        """
        where = ["a.status = 'submitted'", "a.assessed_on IS NOT NULL", "yp.erased_at IS NULL"]
        params: list[Any] = []
        if viewer is not None:
            where.append(_VISIBLE_TO)
            params += _visibility(viewer)
        if team is not None:
            where.append("t.name = ?")
            params.append(team)
        if reference is not None:
            where.append("yp.reference = ?")
            params.append(reference)
        async with self.transaction() as db:
            # SQLite gathers each assessment's answers into one JSON object beside its row.
            cursor = await db.execute(
                "SELECT a.id, a.young_person_id, a.kind, a.assessed_on, a.instrument_id,"
                " a.instrument_version, a.risk_score, a.risk_band, a.resilience_score,"
                " a.resilience_band, a.scores_json, yp.reference, t.name AS team_name,"
                " (SELECT json_group_object(item_id, json(value)) FROM answers"
                " WHERE assessment_id = a.id) AS answers_json"
                " FROM assessments a"
                " JOIN young_people yp ON yp.id = a.young_person_id"
                " JOIN teams t ON t.id = yp.team_id"
                f" WHERE {' AND '.join(where)} ORDER BY yp.reference, a.assessed_on, a.id",
                params,
            )
            found = list(await cursor.fetchall())
            notes = await self._by_assessment(db, "notes", "text", found) if with_notes else {}
            # One audit entry per case, written in one statement: a cohort has thousands.
            detail = purpose + (" with notes" if with_notes else "")
            await db.executemany(
                "INSERT INTO audit (at, staff_id, action, young_person_id, assessment_id, detail)"
                " VALUES (?, ?, 'export', ?, NULL, ?)",
                [
                    (self._now(), viewer.id if viewer else None, young_person_id, detail)
                    for young_person_id in dict.fromkeys(row["young_person_id"] for row in found)
                ],
            )
        with gc_paused():
            return _analysis_rows(found, notes)

    async def _by_assessment(
        self, db: aiosqlite.Connection, table: str, column: str, rows: list[aiosqlite.Row]
    ) -> dict[int, dict[str, Any]]:
        """A column of `notes` (or `answers`) for the given assessments, by assessment and item.

        `column` is an SQL expression whose JSON value is wanted (`json(value)` decodes an
        answer); SQLite gathers each assessment's items into one JSON object, so Python
        decodes one string per assessment rather than one per item.
        """
        grouped: dict[int, dict[str, Any]] = {}
        ids = [row["id"] for row in rows]
        # Chunks stay under SQLite's limit on bound parameters.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            # The table and column names come from the call sites in this class, never input.
            cursor = await db.execute(
                f"SELECT assessment_id, json_group_object(item_id, {column}) AS items"
                f" FROM {table} WHERE assessment_id IN ({marks}) GROUP BY assessment_id",
                chunk,
            )
            for row in await cursor.fetchall():
                grouped[row["assessment_id"]] = json.loads(row["items"])
        return grouped

    async def team_names(self) -> list[str]:
        """The names of every team, alphabetically."""
        rows = await self._fetchall("SELECT name FROM teams ORDER BY name")
        return [row["name"] for row in rows]

    async def team_name(self, team_id: int) -> str | None:
        """The name of the team with this id, if there is one."""
        row = await self._fetchone("SELECT name FROM teams WHERE id = ?", (team_id,))
        return row["name"] if row else None

    async def count_young_people(self) -> int:
        """How many young people the database holds, erased ones included."""
        row = await self._fetchone("SELECT count(*) FROM young_people")
        return int(row[0]) if row else 0

    async def add_submitted_assessment(
        self,
        young_person: YoungPerson,
        staff: Staff,
        *,
        kind: AssessmentKind,
        assessed_on: date,
        instrument_id: str,
        instrument_version: str,
        answers: dict[str, JsonValue],
        scores: dict[str, Any],
        risk: tuple[float | None, str | None],
        resilience: tuple[float | None, str | None],
        started_at: datetime | None = None,
        submitted_at: datetime | None = None,
    ) -> int:
        """Write a whole submitted assessment at once (the synthetic cohort uses this).

        The caller scores the answers with the engine; a closure closes the case. The started
        and submitted moments default to now and are never later than now.
        """
        moment = self._clock.now()
        started = to_db(min(started_at or moment, moment))
        now = to_db(min(submitted_at or moment, moment))
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO assessments (young_person_id, kind, status, instrument_id,"
                " instrument_version, assessed_on, step, started_by, started_at, updated_at,"
                " submitted_by, submitted_at, risk_score, risk_band, resilience_score,"
                " resilience_band, scores_json)"
                " VALUES (?, ?, 'submitted', ?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    young_person.id,
                    kind.value,
                    instrument_id,
                    instrument_version,
                    assessed_on.isoformat(),
                    staff.id,
                    started,
                    now,
                    staff.id,
                    now,
                    *risk,
                    *resilience,
                    json.dumps(scores),
                ),
            )
            assessment_id = cursor.lastrowid
            assert assessment_id is not None
            await db.executemany(
                "INSERT INTO answers (assessment_id, item_id, value, answered_by, answered_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (assessment_id, item_id, json.dumps(value), staff.id, now)
                    for item_id, value in answers.items()
                ],
            )
            if kind.value == "closure":
                await db.execute(
                    "UPDATE young_people SET closed_on = ? WHERE id = ?",
                    (assessed_on.isoformat(), young_person.id),
                )
            await self._audit(
                db,
                staff.id,
                "submit",
                young_person_id=young_person.id,
                assessment_id=assessment_id,
                detail=f"{kind.value} (synthetic)",
            )
        return assessment_id

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


# A young person is visible to their practitioner while both are in the case's team, and to
# the leads of that team (a practitioner moved to another team leaves their old cases behind
# for a lead to transfer), and only while the viewer is not revoked and the case is not
# erased. An admin's role is 'admin', so an admin sees no case unless enrolled as a lead or
# practitioner with is_admin set.
_VISIBLE_TO = (
    "yp.team_id = ? AND (yp.practitioner_id = ? OR ? = 'lead')"
    " AND EXISTS (SELECT 1 FROM staff s WHERE s.id = ? AND s.revoked_at IS NULL)"
    " AND yp.erased_at IS NULL"
)
_NOT_REVOKED = (
    "EXISTS (SELECT 1 FROM staff s WHERE s.id = yp.practitioner_id AND s.revoked_at IS NULL)"
)

_ASSESSMENT_SELECT = (
    "SELECT a.*, yp.reference, yp.practitioner_id, yp.team_id"
    " FROM assessments a JOIN young_people yp ON yp.id = a.young_person_id"
)


def _visibility(viewer: Staff) -> tuple[Any, ...]:
    return (viewer.team_id, viewer.id, viewer.role.value, viewer.id)


def _loads(value: str | None) -> JsonValue:
    decoded: JsonValue = None if value is None else json.loads(value)
    return decoded


def _analysis_rows(
    found: list[aiosqlite.Row], notes: dict[int, dict[str, Any]]
) -> list[AnalysisRow]:
    """The rows of a cohort read, with their scores and answers decoded."""
    scores = _loads_each(row["scores_json"] or "{}" for row in found)
    answers = _loads_each(row["answers_json"] for row in found)
    return [
        AnalysisRow(
            assessment_id=row["id"],
            young_person_id=row["young_person_id"],
            reference=row["reference"],
            team=row["team_name"],
            kind=row["kind"],
            assessed_on=date.fromisoformat(row["assessed_on"]),
            instrument_id=row["instrument_id"],
            instrument_version=row["instrument_version"],
            risk_score=row["risk_score"],
            risk_band=row["risk_band"],
            resilience_score=row["resilience_score"],
            resilience_band=row["resilience_band"],
            scores=row_scores,
            answers=row_answers,
            notes=notes.get(row["id"], {}),
        )
        for row, row_scores, row_answers in zip(found, scores, answers, strict=True)
    ]


def _loads_each(texts: Iterable[str]) -> list[Any]:
    """Decode many JSON texts at once: one call for a cohort is about twice as fast as one each."""
    decoded: list[Any] = json.loads(f"[{','.join(texts)}]")
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
        is_admin=bool(row["is_admin"]),
        unreachable=row["unreachable_since"] is not None,
    )


def _awaiting(row: aiosqlite.Row) -> Awaiting | None:
    if row["awaiting"] is None:
        return None
    return Awaiting(
        row["awaiting"],
        json.loads(row["payload"]),
        row["prompt_message_id"],
        from_db(row["awaiting_since"]),
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


# Reminders and digests: what the store hands the scheduler and the digest.

_CASE_SUMMARY_SELECT = (
    "SELECT yp.*,"
    " (SELECT assessed_on FROM assessments a WHERE a.young_person_id = yp.id"
    "   AND a.status = 'submitted' AND a.kind = 'baseline') AS baseline_on,"
    " (SELECT assessed_on FROM assessments a WHERE a.young_person_id = yp.id"
    "   AND a.status = 'submitted' ORDER BY assessed_on DESC, id DESC LIMIT 1) AS latest_on,"
    " (SELECT kind FROM assessments a WHERE a.young_person_id = yp.id"
    "   AND a.status = 'submitted' ORDER BY assessed_on DESC, id DESC LIMIT 1) AS latest_kind,"
    " (SELECT id FROM assessments a WHERE a.young_person_id = yp.id"
    "   AND a.status = 'draft') AS draft_id"
    " FROM young_people yp"
)


@dataclass(frozen=True, slots=True)
class DueReminder:
    """One case to remind its practitioner of: its due date and whether it is overdue."""

    young_person_id: int
    reference: str
    due_on: date
    kind: str
    """'due_soon' or 'overdue'."""


@dataclass(frozen=True, slots=True)
class ClaimedReminder:
    """A reminder this sweep took: a new ledger row, a snooze coming back, or both."""

    item: DueReminder
    ledger: bool
    snooze: bool


@dataclass(frozen=True, slots=True)
class ReminderClaim:
    """What a sweep may send one recipient, and which cases are snoozed until when."""

    claimed: tuple[ClaimedReminder, ...]
    snoozed: dict[int, date]


@dataclass(frozen=True, slots=True)
class ScoredAssessment:
    """A submitted assessment's scores, as charts and digests read them."""

    id: int
    young_person_id: int
    reference: str
    practitioner_id: int
    kind: str
    assessed_on: date
    submitted_at: datetime | None
    risk_score: float | None
    risk_band: str | None
    resilience_score: float | None
    resilience_band: str | None
    scores: dict[str, Any] | None
    events: tuple[str, ...]


def _case_summary(row: aiosqlite.Row) -> CaseSummary:
    return CaseSummary(
        young_person=_young_person(row),
        baseline_on=_date(row["baseline_on"]),
        latest_on=_date(row["latest_on"]),
        latest_kind=row["latest_kind"],
        draft_id=row["draft_id"],
    )


def _scored(row: aiosqlite.Row, events: tuple[str, ...]) -> ScoredAssessment:
    assessed_on = _date(row["assessed_on"])
    assert assessed_on is not None, "a submitted assessment always has its date"
    return ScoredAssessment(
        id=row["id"],
        young_person_id=row["young_person_id"],
        reference=row["reference"],
        practitioner_id=row["practitioner_id"],
        kind=row["kind"],
        assessed_on=assessed_on,
        submitted_at=from_db(row["submitted_at"]) if row["submitted_at"] else None,
        risk_score=row["risk_score"],
        risk_band=row["risk_band"],
        resilience_score=row["resilience_score"],
        resilience_band=row["resilience_band"],
        scores=json.loads(row["scores_json"]) if row["scores_json"] else None,
        events=events,
    )
