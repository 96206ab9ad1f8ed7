"""The bot process killed (SIGKILL) at 50 random points during scripted assessments.

`apart-bot run` polls the HTTP stand-in in this test; the test plays YP-A1's three
assessments tap by tap and kills the process at random moments after a tap, restarting it
each time on the same database. Every rating the bot had confirmed (by moving the screen on)
must be stored, no rating may be stored twice, the drafts must resume, and SQLite's
integrity check must pass.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from typing import TYPE_CHECKING, Any

from apart_engine import default_instrument
from bot.standin_http import StandInHTTPServer
from bot.store import Store
from tests.support.remote import (
    RemoteChat,
    bot_environment,
    enrol,
    start_bot,
    stop_bot,
    wait_until_polling,
)
from tests.support.steps import assessment_steps
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from pathlib import Path

PRACTITIONER_ID = 5001
KILLS = 50
SEED = 20261204
SETTLE_S = 0.5


class Driver:
    """Plays the practitioner and kills and restarts the bot process at random."""

    def __init__(
        self, server: StandInHTTPServer, db_path: Path, rng: random.Random | None = None
    ) -> None:
        self.server = server
        self.env = bot_environment(server, db_path)
        self.chat = RemoteChat(server.api, PRACTITIONER_ID)
        self.rng = rng
        self.kills = 0
        self.process: asyncio.subprocess.Process | None = None
        self.confirmed: list[dict[str, Any]] = []

    async def start(self) -> None:
        """Start the bot and wait until it polls."""
        polls = len(self.server.api.calls_to("getUpdates"))
        self.process = await start_bot(self.env)
        await wait_until_polling(self.server.api, polls)

    async def kill_and_restart(self) -> None:
        """SIGKILL the bot at once, then start it again on the same database."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()
        self.kills += 1
        await self.start()

    async def step(self, step: str) -> None:
        """One scripted input, waiting for the bot's reply."""
        if step.startswith("[") and step.endswith("]"):
            mark, query_id = await self.chat.tap(step[1:-1])
            await self.chat.reply(mark, query_id)
        else:
            mark = await self.chat.send(step)
            await self.chat.reply(mark)

    async def rate(self, answers: dict[str, Any], confirmed: dict[str, Any]) -> None:
        """Answer whatever rating is on screen until the summary shows, killing at random."""
        ratings = {item.id for item in default_instrument().rating_items}
        for _ in range(10 * len(ratings)):
            item = self.chat.current_item()
            if item not in ratings:
                return
            value = answers[item]
            mark, query_id = await self.chat.tap("Unknown" if value is None else f"{value} ·")
            if self.rng is not None and self.kills < KILLS and self.rng.random() < 0.7:
                await asyncio.sleep(self.rng.uniform(0, 0.06))
                await self.kill_and_restart()
                await self._settle(query_id)
                if self.kills % 10 == 0:
                    await self.resume_from_the_menu()
            else:
                await self.chat.reply(mark, query_id)
            if self.chat.current_item() != item:
                # The screen moved on: the practitioner has seen this answer taken.
                confirmed[item] = value
        raise AssertionError("the ratings never reached the summary")

    async def _settle(self, query_id: str) -> None:
        """Give a tap the bot may have been handling when killed time to be redelivered."""
        try:
            async with asyncio.timeout(SETTLE_S):
                while self.server.api.callbacks[query_id].attempts == 0:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        except TimeoutError:
            pass  # the tap was taken from Telegram but lost with the process: tap again

    async def resume_from_the_menu(self) -> None:
        """After a restart, carry on the way a practitioner would: /assess, then Resume."""
        await self.step("/assess")
        await self.step("[Resume YP-A1]")


async def test_fifty_kills_lose_no_confirmed_answer_and_store_none_twice(tmp_path: Path) -> None:
    vignette = json.loads((VIGNETTES_DIR / "YP-A1.json").read_text("utf-8"))
    instrument = default_instrument()
    ratings = {item.id for item in instrument.rating_items}
    db_path = tmp_path / "apart.db"
    await enrol(db_path, PRACTITIONER_ID)
    rng = random.Random(SEED)
    confirmed: list[dict[str, Any]] = []

    async with StandInHTTPServer() as server:
        driver = Driver(server, db_path, rng)
        await driver.start()
        try:
            for index, assessment in enumerate(vignette["assessments"]):
                steps = assessment_steps(instrument, vignette, index, register=index == 0)
                scripted = iter(steps)
                for step in scripted:
                    if driver.chat.current_item() in ratings:
                        break
                    await driver.step(step)
                confirmed.append({})
                await driver.rate(assessment["answers"], confirmed[-1])
                await driver.step("[Submit]")
                await driver.step("[Yes, submit]")
                assert "Submitted." in driver.chat.last_text()
        finally:
            assert driver.process is not None
            log = await stop_bot(driver.process)

    assert driver.kills == KILLS
    assert "Traceback" not in log
    store = await Store.open(db_path)
    try:
        staff = await store.staff_by_telegram_id(PRACTITIONER_ID)
        assert staff is not None
        cases = await store.caseload(staff)
        history = await store.submitted(cases[0].young_person.id)
        assert len(history) == len(vignette["assessments"])
        trail = await store.audit_trail(cases[0].young_person.id)
        for stored, expected, seen in zip(
            history, vignette["assessments"], confirmed, strict=True
        ):
            answers = await store.answers(stored.id)
            assert {k: answers[k] for k in seen} == seen, "a confirmed answer was lost"
            assert {k: v for k, v in answers.items() if k in ratings} == expected["answers"]
            taken = [
                e["detail"]
                for e in trail
                if e["action"] == "answer" and e["assessment_id"] == stored.id
            ]
            rated = [item for item in taken if item in ratings]
            assert sorted(rated) == sorted(set(rated)), "a rating was stored twice"
            assert stored.risk_score == expected["expected"]["risk_score"]
    finally:
        await store.close()

    connection = sqlite3.connect(db_path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()
