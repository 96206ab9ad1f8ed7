"""Telegram failing in the middle of an assessment: nothing acknowledged is lost.

Each test plays YP-A1's baseline through the real application up to its first rating,
breaks Telegram in one way for the next tap, then finishes the assessment and checks the
stored figures against the vignette's.
"""

from __future__ import annotations

import dataclasses
import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest

from apart_engine import default_instrument
from bot.app import ApartContext, build_application
from bot.callbacks import unpack
from bot.chat import screen, send
from bot.runtime import StandInBot, open_services, standin_bot
from bot.standin import (
    Dropped,
    Fault,
    RetryAfter,
    ServerError,
    StandInBotAPI,
    StandInRequest,
    Timeout,
    standin_token,
)
from bot.store import Role
from conversations.screens import Act
from tests.conftest import PRACTITIONER_ID, TEAM
from tests.support.steps import assessment_steps, play
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bot.clock import FixedClock
    from bot.config import Settings
    from bot.harness import ChatClient

APOLOGY = "Everything you had answered is saved"
FIRST_RATING = 23  # YP-A1's baseline steps before R1: registration, date and background


def _steps() -> list[str]:
    vignette = json.loads((VIGNETTES_DIR / "YP-A1.json").read_text("utf-8"))
    steps = assessment_steps(default_instrument(), vignette, 0, register=True)
    assert steps[FIRST_RATING] == "[2 ·]"
    return steps


def _expected() -> dict[str, Any]:
    vignette = json.loads((VIGNETTES_DIR / "YP-A1.json").read_text("utf-8"))
    expected: dict[str, Any] = vignette["assessments"][0]["expected"]
    return expected


def item_on_screen(client: ChatClient) -> str | None:
    """The item the newest keyboard answers, read from its buttons."""
    keyboards = [message for message in client.bot_messages if message.buttons]
    for row in keyboards[-1].buttons if keyboards else ():
        for _, data in row:
            callback = unpack(data)
            if callback.action == Act.VALUE:
                return callback.arg(1)
    return None


async def _finish_and_check(bot: StandInBot, client: ChatClient, remaining: list[str]) -> None:
    """Play the rest, then compare what was stored with the vignette."""
    await play(client, remaining)
    staff = await bot.services.store.staff_by_telegram_id(PRACTITIONER_ID)
    assert staff is not None
    cases = await bot.services.store.caseload(staff)
    history = await bot.services.store.submitted(cases[0].young_person.id)
    expected = _expected()
    assert len(history) == 1
    assert history[0].risk_score == expected["risk_score"]
    assert history[0].resilience_score == expected["resilience_score"]
    trail = await bot.services.store.audit_trail(cases[0].young_person.id)
    # A rating is stored once per tap that reached its item; ticking options stores each tick.
    ratings = {item.id for item in default_instrument().rating_items}
    answered = [e["detail"] for e in trail if e["action"] == "answer" and e["detail"] in ratings]
    assert sorted(answered) == sorted(ratings), "a rating was lost or stored twice"
    assert client.unanswered_callbacks() == []


@asynccontextmanager
async def limited_bot(settings: Settings, clock: FixedClock) -> AsyncIterator[StandInBot]:
    """The bot as production builds it, rate limiter included, over the stand-in."""
    api = StandInBotAPI()
    async with open_services(settings, clock=clock) as services:
        app = build_application(
            services, token=standin_token(), request=StandInRequest(api), retry_delay=0.01
        )
        await app.initialize()
        await app.start()
        try:
            team = await services.store.add_team(TEAM)
            await services.store.enrol(PRACTITIONER_ID, team, Role.PRACTITIONER)
            yield StandInBot(api, app, services)
        finally:
            await app.stop()
            await app.shutdown()


class TestTelegramFailing:
    async def test_flood_control_is_waited_out_and_the_answer_shown(
        self, settings: Settings, clock: FixedClock
    ) -> None:
        async with limited_bot(settings, clock) as bot:
            client = bot.client(PRACTITIONER_ID, "Alex")
            steps = _steps()
            await play(client, steps[:FIRST_RATING])
            bot.api.fail_next("editMessageText", RetryAfter(1))

            await client.tap("2 ·")

            assert item_on_screen(client) == "R2"
            assert not any(APOLOGY in t for t in client.texts_since(0))
            await _finish_and_check(bot, client, steps[FIRST_RATING + 1 :])

    @pytest.mark.parametrize(
        "fault",
        [ServerError(), Timeout(), Timeout(applied=True), Dropped()],
        ids=["server-error", "timeout", "timeout-after-applying", "dropped"],
    )
    @pytest.mark.parametrize("method", ["editMessageText", "answerCallbackQuery"])
    async def test_edits_and_button_answers_are_retried(
        self, running: StandInBot, practitioner: ChatClient, fault: Fault, method: str
    ) -> None:
        """Doing these twice is harmless, so a passing failure never reaches the practitioner."""
        steps = _steps()
        await play(practitioner, steps[:FIRST_RATING])
        running.api.fail_next(method, fault)

        answer = await practitioner.tap("2 ·")

        assert answer.answered
        assert item_on_screen(practitioner) == "R2"
        assert not any(APOLOGY in t for t in practitioner.texts_since(0))
        await _finish_and_check(running, practitioner, steps[FIRST_RATING + 1 :])

    @pytest.mark.parametrize(
        "fault", [Timeout(), Timeout(applied=True), Dropped()], ids=["timeout", "late", "dropped"]
    )
    async def test_a_new_message_that_may_have_gone_is_not_sent_twice(
        self, running: StandInBot, practitioner: ChatClient, fault: Fault
    ) -> None:
        """The practitioner is told once, and /assess carries on from the same item."""
        steps = _steps()
        await play(practitioner, steps[: FIRST_RATING + 1])
        mark = practitioner.mark()
        running.api.fail_next("sendMessage", fault)

        await practitioner.send("/assess")

        said = practitioner.texts_since(mark)
        assert sum(APOLOGY in text for text in said) == 1
        await practitioner.send("/assess")
        await practitioner.tap("Resume YP-A1")
        assert item_on_screen(practitioner) == "R2"
        await _finish_and_check(running, practitioner, steps[FIRST_RATING + 1 :])

    async def test_telegram_down_for_every_retry_keeps_the_answer_and_says_so_once(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        steps = _steps()
        await play(practitioner, steps[:FIRST_RATING])
        mark = practitioner.mark()
        running.api.fail_next("editMessageText", ServerError(), times=3)

        await practitioner.tap("2 ·")

        assert sum(APOLOGY in text for text in practitioner.texts_since(mark)) == 1
        draft = await running.services.store.open_draft(
            await _staff(running),
        )
        assert draft is not None
        assert draft.current_item == "R2"
        assert (await running.services.store.answers(draft.id))["R1"] == 2

    async def test_telegram_down_altogether_still_keeps_the_answer(
        self, running: StandInBot, practitioner: ChatClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Even the apology fails: the answer is stored and the failure is logged."""
        steps = _steps()
        await play(practitioner, steps[:FIRST_RATING])
        running.api.fail_next("editMessageText", Dropped(), times=3)
        running.api.fail_next("sendMessage", Dropped(), times=3)

        await practitioner.tap("2 ·")

        draft = await running.services.store.open_draft(await _staff(running))
        assert draft is not None
        assert (await running.services.store.answers(draft.id))["R1"] == 2
        assert "Could not tell the practitioner about it" in caplog.text


class TestMessagesThatHaveGone:
    async def test_a_query_too_old_to_answer_still_records_the_tap(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        steps = _steps()
        await play(practitioner, steps[:FIRST_RATING])
        message = practitioner.last_bot_message
        data = next(d for row in message.buttons for label, d in row if label.startswith("2 ·"))
        assert data is not None
        query = running.api.issue_callback_query(PRACTITIONER_ID, message.message_id, data)
        # Telegram forgets a query after a while; answering it is then refused.
        del running.api.callbacks[query["id"]]

        await practitioner.send_raw({"callback_query": query})

        assert item_on_screen(practitioner) == "R2"
        await _finish_and_check(running, practitioner, steps[FIRST_RATING + 1 :])

    async def test_a_deleted_question_is_shown_again_in_a_fresh_message(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        steps = _steps()
        await play(practitioner, steps[:FIRST_RATING])
        message = practitioner.last_bot_message
        data = next(d for row in message.buttons for label, d in row if label.startswith("2 ·"))
        assert data is not None
        chat = running.api.chats[PRACTITIONER_ID]
        chat.messages[message.message_id] = dataclasses.replace(message, deleted=True)

        await practitioner.tap_data(data, message.message_id)

        assert practitioner.last_bot_message.message_id > message.message_id
        assert item_on_screen(practitioner) == "R2"
        await _finish_and_check(running, practitioner, steps[FIRST_RATING + 1 :])

    async def test_a_chat_that_no_longer_exists_is_logged_not_raised(
        self, running: StandInBot, caplog: pytest.LogCaptureFixture
    ) -> None:
        context = ApartContext(running.app, chat_id=424242, user_id=424242)
        assert await send(context, screen("Your review is due"), chat_id=424242) is None
        assert "no longer exists" in caplog.text


class TestTapsWhileDown:
    async def test_taps_queued_while_the_bot_was_down_are_processed_or_answered_stale(
        self, settings: Settings, clock: FixedClock
    ) -> None:
        steps = _steps()
        async with standin_bot(settings, clock=clock) as first:
            store = first.services.store
            team = await store.add_team(TEAM)
            await store.enrol(PRACTITIONER_ID, team, Role.PRACTITIONER)
            client = first.client(PRACTITIONER_ID, "Alex")
            await play(client, steps[: FIRST_RATING + 1])
            old = next(m for m in client.bot_messages if m.buttons)
            api = first.api

        # Down: a rating for R2 on the current message, and a tap on a long-gone keyboard.
        current = client.last_bot_message
        r2 = next(d for row in current.buttons for label, d in row if label.startswith("3 ·"))
        stale = next(d for row in old.buttons for _, d in row if d)
        assert r2 is not None
        assert stale is not None
        queued: list[dict[str, Any]] = [
            {"update_id": api.next_update_id(), "callback_query": q}
            for q in (
                api.issue_callback_query(PRACTITIONER_ID, current.message_id, r2),
                api.issue_callback_query(PRACTITIONER_ID, old.message_id, stale),
            )
        ]
        for update in queued:
            await api.enqueue_update(update)

        async with standin_bot(settings, api=api, clock=clock) as second:
            assert second.app.updater is not None
            await second.app.updater.start_polling()
            await api.wait_confirmed(queued[-1]["update_id"])
            await second.app.update_queue.join()
            await second.app.updater.stop()

            again = second.client(PRACTITIONER_ID, "Alex")
            assert again.unanswered_callbacks() == []
            assert item_on_screen(again) == "R3"
            stale_answer = again.callback_answer(queued[1]["callback_query"]["id"])
            assert stale_answer.text
            # R2's note and rating (steps 24 to 26) were replaced by the tap made while down.
            await _finish_and_check(second, again, steps[FIRST_RATING + 4 :])


async def _staff(bot: StandInBot) -> Any:
    staff = await bot.services.store.staff_by_telegram_id(PRACTITIONER_ID)
    assert staff is not None
    return staff


class TestStorageFailing:
    """The database turns read-only in the middle of an assessment (a full disk is tested on a
    real process in test_storage_full.py).

    The store's own connection is reached through `_db` on purpose: SQLite's query-only mode
    is how a read-only file is simulated in-process (tests may run as root, which file
    permissions would not stop).
    """

    async def test_the_practitioner_is_told_the_draft_stays_and_it_recovers(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        db = store._db
        steps = _steps()
        await play(practitioner, steps[:FIRST_RATING])
        await db.execute("PRAGMA query_only = ON")
        mark = practitioner.mark()

        answer = await practitioner.tap("2 ·")

        assert answer.answered
        said = practitioner.texts_since(mark)
        assert sum("could not save that" in text for text in said) == 1
        assert not any("sqlite" in text.lower() or "readonly" in text for text in said)
        draft = await store.open_draft(await _staff(running))
        assert draft is not None
        assert draft.current_item == "R1"
        assert "R1" not in await store.answers(draft.id)

        # The file is writable again: the same tap now goes through.
        await db.execute("PRAGMA query_only = OFF")
        await practitioner.tap("2 ·")
        assert item_on_screen(practitioner) == "R2"
        await _finish_and_check(running, practitioner, steps[FIRST_RATING + 1 :])
        cursor = await db.execute("PRAGMA integrity_check")
        row = await cursor.fetchone()
        assert row is not None
        assert row[0] == "ok"
