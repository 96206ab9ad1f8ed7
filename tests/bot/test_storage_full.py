"""The disk fills up under a running bot process, mid-assessment, and space comes back.

A full disk is simulated for the bot's process alone with RLIMIT_FSIZE, lowered and raised
from outside with prlimit: every write past the first byte of any file is refused by the
kernel, as writes are on a full disk, while reads go on working.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import sys
from typing import TYPE_CHECKING

import pytest

from apart_engine import default_instrument
from bot.standin_http import StandInHTTPServer
from tests.bot.test_crash_recovery import Driver
from tests.support.remote import enrol, stop_bot
from tests.support.steps import assessment_steps
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from pathlib import Path

PRACTITIONER_ID = 5001
FIRST_RATING = 23

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="prlimit on another process is Linux-only"
)


def _draft_state(db_path: Path) -> tuple[str | None, bool]:
    """The draft's current item and whether R1 is answered, read by a separate connection."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT id, current_item FROM assessments WHERE status = 'draft'"
        ).fetchone()
        answered = connection.execute(
            "SELECT count(*) FROM answers WHERE assessment_id = ? AND item_id = 'R1'", (row[0],)
        ).fetchone()[0]
        return row[1], bool(answered)
    finally:
        connection.close()


async def test_a_full_disk_is_explained_keeps_the_draft_and_passes(tmp_path: Path) -> None:
    vignette = json.loads((VIGNETTES_DIR / "YP-A1.json").read_text("utf-8"))
    steps = assessment_steps(default_instrument(), vignette, 0, register=True)
    db_path = tmp_path / "apart.db"
    await enrol(db_path, PRACTITIONER_ID)

    async with StandInHTTPServer() as server:
        driver = Driver(server, db_path)
        await driver.start()
        assert driver.process is not None
        pid = driver.process.pid
        unlimited = resource.getrlimit(resource.RLIMIT_FSIZE)
        try:
            for step in steps[:FIRST_RATING]:
                await driver.step(step)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, unlimited[1]))
            mark = driver.chat.mark()

            await driver.step("[2 ·]")

            said = [e.message.text or "" for e in driver.chat.chat.events[mark:]]
            assert sum("could not save that" in text for text in said) == 1, said
            assert _draft_state(db_path) == ("R1", False)

            resource.prlimit(pid, resource.RLIMIT_FSIZE, unlimited)
            await driver.step("[2 ·]")
            assert driver.chat.current_item(newest_only=False) == "R2"
            assert _draft_state(db_path) == ("R2", True)
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, unlimited)
            log = await stop_bot(driver.process)

    assert driver.process.returncode == 0, log
    assert "The database cannot be written" in log
    connection = sqlite3.connect(db_path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()
