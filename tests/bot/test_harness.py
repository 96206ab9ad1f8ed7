"""The chat harness drives a real Application over the stand-in and shows what the bot did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.harness import ChatClient, Delivery, render_event, render_message
from bot.standin import StandInBotAPI, StandInRequest, StoredMessage, standin_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

App = Application[Any, Any, Any, Any, Any, Any]

KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Today", callback_data="d:today"),
            InlineKeyboardButton("Tomorrow", callback_data="d:tomorrow"),
        ],
        [InlineKeyboardButton("Back", callback_data="back")],
    ]
)


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without this PTB warns when it builds RetryAfter, and warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


# --- tiny handlers, standing in for the product's ---------------------------------------------


def seen(context: ContextTypes.DEFAULT_TYPE) -> list[str]:
    """Return the list in bot_data where handlers note what reached them."""
    result: list[str] = context.bot_data.setdefault("seen", [])
    return result


async def greet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply to /start with the payload and a keyboard."""
    assert update.effective_message is not None
    payload = " ".join(context.args or []) or "none"
    await update.effective_message.reply_text(
        f"Welcome. Code: <b>{payload}</b>",
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )


async def choose_day(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press, then redraw the message in place with the same keyboard."""
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    seen(context).append(query.data)
    await query.answer(f"Saved {query.data}")
    await query.edit_message_text(f"Chose {query.data}", reply_markup=KEYBOARD)


async def go_back(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and delete the message."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.delete_message()


async def forget_to_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handle a press without answering it."""
    seen(context).append("forgot")


async def answer_twice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a press twice; the second answer is refused."""
    query = update.callback_query
    assert query is not None
    await query.answer("first")
    await query.answer("second")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo any other message's kind."""
    assert update.effective_message is not None
    kind = "sticker" if update.effective_message.sticker else "text"
    await update.effective_message.reply_text(f"got {kind}")


async def note_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Keep handler errors so tests can look at them."""
    assert context.error is not None
    context.bot_data.setdefault("errors", []).append(context.error)


def build_app(api: StandInBotAPI, *, concurrent: bool = False) -> App:
    """Build an Application over the stand-in with the tiny handlers."""
    app = (
        ApplicationBuilder()
        .token(standin_token())
        .request(StandInRequest(api))
        .get_updates_request(StandInRequest(api))
        .concurrent_updates(concurrent)
        .build()
    )
    app.add_handler(CommandHandler("start", greet))
    app.add_handler(CallbackQueryHandler(choose_day, pattern="^d:"))
    app.add_handler(CallbackQueryHandler(go_back, pattern="^back$"))
    app.add_handler(CallbackQueryHandler(forget_to_answer, pattern="^forget$"))
    app.add_handler(CallbackQueryHandler(answer_twice, pattern="^twice$"))
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.add_error_handler(note_error)
    return app


def errors(app: App) -> list[Exception]:
    """Return the errors the application's error handler saw."""
    result: list[Exception] = app.bot_data.get("errors", [])
    return result


@pytest.fixture
def api() -> StandInBotAPI:
    return StandInBotAPI()


@pytest.fixture
async def app(api: StandInBotAPI) -> AsyncIterator[App]:
    application = build_app(api)
    async with application:
        yield application


@pytest.fixture
def chat(api: StandInBotAPI, app: App) -> ChatClient:
    return ChatClient(api, app, user_id=5551, first_name="Sam")


class TestRoundTrip:
    async def test_start_with_payload_shows_a_keyboard(self, chat: ChatClient) -> None:
        await chat.send("/start YP-A1")

        assert chat.last_bot_message.text == "Welcome. Code: YP-A1"
        assert chat.buttons() == ["Today", "Tomorrow", "Back"]
        assert [m.from_bot for m in chat.messages] == [False, True]

    async def test_tap_edits_in_place_and_is_answered_once(self, chat: ChatClient) -> None:
        await chat.send("/start")
        menu_id = chat.last_bot_message.message_id

        answer = await chat.tap("Tom")

        assert (answer.text, answer.show_alert, answer.times_answered) == (
            "Saved d:tomorrow",
            False,
            1,
        )
        assert chat.last_bot_message.message_id == menu_id
        assert chat.last_bot_message.text == "Chose d:tomorrow"
        assert [event.kind for event in chat.last_response] == ["edited"]
        assert chat.texts_since(0) == ["Welcome. Code: none", "Chose d:tomorrow"]

    async def test_a_label_must_match_one_button(self, chat: ChatClient) -> None:
        await chat.send("/start")

        with pytest.raises(LookupError, match=r"several buttons match 'T'.*'Tomorrow'"):
            await chat.tap("T")
        with pytest.raises(LookupError, match=r"no button match 'Later'.*'Back'"):
            await chat.tap("Later")

    async def test_deleted_message_disappears(self, chat: ChatClient) -> None:
        await chat.send("/start")

        await chat.tap("Back")

        assert chat.bot_messages == []
        assert chat.transcript[-1].kind == "deleted"
        with pytest.raises(LookupError):
            chat.buttons()

    async def test_raw_updates_reach_the_handlers(self, chat: ChatClient) -> None:
        sticker = {
            "file_id": "s1",
            "file_unique_id": "u1",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }

        await chat.send_raw({"message": {"sticker": sticker}})

        assert chat.last_bot_message.text == "got sticker"


class TestTelegramRefusalsInHandlers:
    async def test_redrawing_identical_content_is_refused(
        self,
        chat: ChatClient,
        app: App,
    ) -> None:
        """PTB raises BadRequest for an unchanged edit; it reaches the error handler."""
        await chat.send("/start")
        await chat.tap("Today")

        answer = await chat.tap("Today")

        assert answer.times_answered == 1
        assert len(errors(app)) == 1
        assert isinstance(errors(app)[0], BadRequest)
        assert "not modified" in str(errors(app)[0])

    async def test_a_blocked_user_gives_forbidden(
        self,
        chat: ChatClient,
        app: App,
        api: StandInBotAPI,
    ) -> None:
        await chat.send("/start")
        api.block(chat.user_id)

        with pytest.raises(Forbidden):
            await app.bot.send_message(chat.user_id, "Your review is due")

    async def test_writing_to_the_bot_unblocks_it(
        self,
        chat: ChatClient,
        api: StandInBotAPI,
    ) -> None:
        api.block(chat.user_id)

        await chat.send("/start")

        assert chat.last_bot_message.text == "Welcome. Code: none"


class TestCallbackBookkeeping:
    async def test_unanswered_callbacks_are_reported(
        self,
        chat: ChatClient,
        app: App,
    ) -> None:
        await chat.send("/start")

        answer = await chat.tap_data("forget", chat.last_bot_message.message_id)

        assert not answer.answered
        assert [r.data for r in chat.unanswered_callbacks()] == ["forget"]

    async def test_answering_twice_is_refused_and_reported(
        self,
        chat: ChatClient,
        app: App,
    ) -> None:
        await chat.send("/start")

        answer = await chat.tap_data("twice", chat.last_bot_message.message_id)

        assert (answer.text, answer.times_answered) == ("first", 2)
        assert [r.data for r in chat.callbacks_answered_more_than_once()] == ["twice"]
        assert "Query is too old" in str(errors(app)[0])

    async def test_an_old_button_carries_the_old_message(
        self,
        chat: ChatClient,
        app: App,
    ) -> None:
        await chat.send("/start")
        old_id = chat.last_bot_message.message_id
        await chat.send("/start")

        await chat.tap_data("d:today", old_id)

        assert chat.messages[1].text == "Chose d:today"
        assert chat.last_bot_message.text == "Welcome. Code: none"


class TestConcurrentDelivery:
    @pytest.mark.parametrize("concurrent", [False, True])
    async def test_a_double_tap_reaches_the_handler_twice(
        self,
        api: StandInBotAPI,
        concurrent: bool,
    ) -> None:
        application = build_app(api, concurrent=concurrent)
        async with application:
            chat = ChatClient(api, application, user_id=5552, first_name="Kai")
            await chat.send("/start")

            first, second = await chat.tap_twice("Today")

        assert application.bot_data["seen"] == ["d:today", "d:today"]
        assert (first.times_answered, second.times_answered) == (1, 1)
        # Both presses redraw the same content, so one edit is refused as "not modified".
        assert len(errors(application)) == 1


class TestPolling:
    async def test_updates_travel_through_get_updates(self, api: StandInBotAPI) -> None:
        application = build_app(api)
        async with application:
            chat = ChatClient(api, application, 5553, "Noor", delivery=Delivery.POLLING)
            assert application.updater is not None
            await application.updater.start_polling(timeout=1)
            await application.start()

            await chat.send("/start YP-B2")
            await chat.tap("Today")

            await application.updater.stop()
            await application.stop()

        assert chat.last_bot_message.text == "Chose d:today"
        assert [c.params.get("offset") for c in api.calls_to("getUpdates")][-1] == 3
        assert api.calls_to("deleteWebhook")

    async def test_polling_delivery_needs_a_running_updater(
        self,
        api: StandInBotAPI,
        app: App,
    ) -> None:
        chat = ChatClient(api, app, 5554, "Ira", delivery=Delivery.POLLING)

        with pytest.raises(RuntimeError, match="start_polling"):
            await chat.send("/start")


class TestRendering:
    def test_buttons_are_numbered_row_by_row(self) -> None:
        message = StoredMessage(
            message_id=3,
            chat_id=1,
            from_bot=True,
            date=0,
            text="Pick a day",
            reply_markup=KEYBOARD.to_dict(),
        )

        assert render_message(message, 4) == "Pick a day\n[4] Today  [5] Tomorrow\n[6] Back"

    def test_long_text_and_rows_wrap_at_sixty_columns(self) -> None:
        labels = [f"Option number {n}" for n in range(1, 5)]
        row = [{"text": label, "callback_data": str(n)} for n, label in enumerate(labels)]
        message = StoredMessage(
            message_id=3,
            chat_id=1,
            from_bot=True,
            date=0,
            text="word " * 30,
            reply_markup={"inline_keyboard": [row]},
        )

        lines = render_message(message).splitlines()

        assert max(len(line) for line in lines) <= 60
        assert lines[-2:] == [
            "[1] Option number 1  [2] Option number 2",
            "[3] Option number 3  [4] Option number 4",
        ]

    async def test_events_say_what_changed(self, chat: ChatClient) -> None:
        await chat.send("/start")
        mark = chat.mark()
        await chat.tap("Today")
        await chat.tap("Back")

        rendered = [render_event(event) for event in chat.events_since(mark)]

        assert rendered[0].startswith("(edited)\nChose d:today\n[1] Today")
        assert rendered[1] == "(message 2 deleted)"
