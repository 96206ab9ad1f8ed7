"""Fixtures shared by the whole suite: settings on a temporary database, a fixed clock, and
the real bot running against the local Bot API stand-in."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from bot.clock import FixedClock
from bot.config import Settings, load_settings
from bot.runtime import StandInBot, standin_bot
from bot.store import Role, Staff

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.harness import ChatClient

PRACTITIONER_ID = 5001
OTHER_PRACTITIONER_ID = 5002
LEAD_ID = 5003
STRANGER_ID = 9999
TEAM = "North team"
OTHER_TEAM = "South team"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or settings; retry_after is a timedelta.

    PTB_TIMEDELTA is what the command line sets too; without it PTB warns while building
    RetryAfter, and the suite turns warnings into errors.
    """
    for name in list(os.environ):
        if name.startswith(("APART_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh database file."""
    return load_settings(APART_DB_PATH=tmp_path / "apart.db")


DB_KEY = "a made-up test passphrase"


@pytest.fixture(params=["plain", "encrypted"])
def db_key(request: pytest.FixtureRequest) -> str | None:
    """None for a plain database, then a key for one encrypted with SQLCipher: store tests
    taking this fixture run both ways (pass it to `Store.open(..., key=db_key)`)."""
    return DB_KEY if request.param == "encrypted" else None


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 10:00 UTC on 4 December 2026, moved only by the test."""
    return FixedClock(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))


@pytest.fixture
async def running(settings: Settings, clock: FixedClock) -> AsyncIterator[StandInBot]:
    """The real bot, job queue and all, over the stand-in, with two teams enrolled."""
    async with standin_bot(settings, clock=clock) as bot:
        store = bot.services.store
        north = await store.add_team(TEAM)
        south = await store.add_team(OTHER_TEAM)
        await store.enrol(PRACTITIONER_ID, north, Role.PRACTITIONER)
        await store.enrol(LEAD_ID, north, Role.LEAD)
        await store.enrol(OTHER_PRACTITIONER_ID, south, Role.PRACTITIONER)
        yield bot


@pytest.fixture
def practitioner(running: StandInBot) -> ChatClient:
    """A practitioner of the North team in a private chat with the bot."""
    return running.client(PRACTITIONER_ID, "Alex")


@pytest.fixture
async def practitioner_staff(running: StandInBot) -> Staff:
    """The practitioner's staff record."""
    staff = await running.services.store.staff_by_telegram_id(PRACTITIONER_ID)
    assert staff is not None
    return staff
