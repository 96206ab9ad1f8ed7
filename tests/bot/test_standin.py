"""The stand-in Bot API answers PTB's Bot the way Telegram does, refusals and faults included."""

from __future__ import annotations

import asyncio
import datetime as dtm
from typing import TYPE_CHECKING

import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    TimedOut,
)
from telegram.error import RetryAfter as RetryAfterError
from telegram.ext import AIORateLimiter, ExtBot

from bot import standin
from bot.standin import StandInBotAPI, StandInRequest, standin_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

USER = 4242


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without this PTB warns when it builds RetryAfter, and warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def api() -> StandInBotAPI:
    api = StandInBotAPI(clock=lambda: 1_760_000_000.0)
    api.add_private_chat(USER, "Robin")
    return api


@pytest.fixture
async def bot(api: StandInBotAPI) -> AsyncIterator[Bot]:
    async with Bot(
        standin_token(),
        request=StandInRequest(api),
        get_updates_request=StandInRequest(api),
    ) as bot:
        yield bot


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in pairs]]
    )


class TestIdentity:
    async def test_get_me_describes_the_demo_bot(self, bot: Bot) -> None:
        me = await bot.get_me()

        assert (me.id, me.is_bot, me.username) == (100000001, True, "apart_demo_bot")
        assert me.first_name == "APART bot"

    def test_token_is_well_formed(self) -> None:
        bot_id, secret = standin_token().split(":")

        assert bot_id == "100000001"
        assert secret.startswith("STANDIN")

    async def test_unknown_method_is_404_which_ptb_reports_as_endpoint_not_found(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        """PTB maps a plain 404 to InvalidToken, and to EndPointNotFound in do_api_request."""
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("sendCarrierPigeon")

        assert api.calls_to("sendCarrierPigeon")[0].status == 404

    async def test_commands_round_trip(self, bot: Bot) -> None:
        await bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("assess", "Go")])

        commands = await bot.get_my_commands()
        await bot.delete_my_commands()

        assert [c.command for c in commands] == ["start", "assess"]
        assert await bot.get_my_commands() == ()


class TestSending:
    async def test_html_is_parsed_into_plain_text_and_entities(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        sent = await bot.send_message(
            USER,
            "  <b>Risk</b> &amp; <a href='https://example.org'>plan</a>\n",
            parse_mode="HTML",
        )

        assert sent.text == "Risk & plan"
        assert sent.text_html == '<b>Risk</b> &amp; <a href="https://example.org">plan</a>'
        stored = api.chats[USER].messages[sent.message_id]
        assert (stored.from_bot, stored.html, stored.text) == (True, True, "Risk & plan")

    async def test_files_keep_their_bytes_and_names(self, bot: Bot, api: StandInBotAPI) -> None:
        photo = await bot.send_photo(USER, b"png-bytes", caption="Chart", filename="chart.png")
        document = await bot.send_document(USER, InputFile(b"a,b\n", filename="scores.csv"))

        assert photo.caption == "Chart"
        assert document.document is not None
        assert document.document.file_name == "scores.csv"
        assert [(f.kind, f.filename, f.content) for f in api.sent_files] == [
            ("photo", "chart.png", b"png-bytes"),
            ("document", "scores.csv", b"a,b\n"),
        ]

    async def test_every_call_is_logged(self, bot: Bot, api: StandInBotAPI) -> None:
        await bot.send_chat_action(USER, "typing")

        assert api.calls_to("sendChatAction")[0].params == {"chat_id": USER, "action": "typing"}
        assert api.chat_actions == [(USER, "typing")]


class TestRefusals:
    async def test_editing_to_identical_content_is_not_modified(self, bot: Bot) -> None:
        """Bold written as <b> or <strong> is the same content to Telegram."""
        markup = keyboard(("Today", "d:today"))
        sent = await bot.send_message(USER, "<b>R5</b>", parse_mode="HTML", reply_markup=markup)

        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text(
                "<strong>R5</strong>",
                chat_id=USER,
                message_id=sent.message_id,
                parse_mode="HTML",
                reply_markup=markup,
            )

    async def test_editing_text_without_markup_drops_the_keyboard(self, bot: Bot) -> None:
        sent = await bot.send_message(USER, "R5", reply_markup=keyboard(("Today", "d:today")))

        edited = await bot.edit_message_text("R5", chat_id=USER, message_id=sent.message_id)

        assert isinstance(edited, type(sent))
        assert edited.reply_markup is None

    async def test_edit_and_delete_of_missing_messages(self, bot: Bot) -> None:
        sent = await bot.send_message(USER, "R5")
        await bot.delete_message(USER, sent.message_id)

        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("R6", chat_id=USER, message_id=sent.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(USER, sent.message_id)

    @pytest.mark.parametrize("data", ["é" * 32 + "x", "", "x" * 65])
    async def test_callback_data_outside_1_to_64_bytes_is_refused(
        self,
        bot: Bot,
        data: str,
    ) -> None:
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(USER, "R5", reply_markup=keyboard(("Rate", data)))

    async def test_callback_data_of_64_multibyte_bytes_is_accepted(self, bot: Bot) -> None:
        await bot.send_message(USER, "R5", reply_markup=keyboard(("Rate", "é" * 32)))

    async def test_a_callback_query_can_be_answered_once(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        sent = await bot.send_message(USER, "R5", reply_markup=keyboard(("Today", "d:today")))
        query = api.issue_callback_query(USER, sent.message_id, "d:today")

        await bot.answer_callback_query(query["id"], text="Saved")
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query["id"])
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query("no-such-query")

        assert api.callbacks_answered_more_than_once()[0].text == "Saved"

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
            ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
            ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
            ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
            ("Q&A", "Character '&' at byte offset 1 must be escaped as &amp;"),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            ("<b x", "Unclosed start tag at byte offset 0"),
            ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
            ("&#xD800;", 'Unsupported HTML entity "&#xD800;" at byte offset 0'),
        ],
    )
    def test_invalid_html_is_refused(self, text: str, reason: str) -> None:
        with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
            standin.parse_html(text)

    def test_numeric_entities_and_nested_tags_parse(self) -> None:
        text, entities = standin.parse_html(
            '<pre><code class="language-python">x</code></pre> it&#8217;s <i><b>ok</b></i>'
        )

        assert text == "x it\u2019s ok"
        assert entities == [
            {"type": "pre", "language": "python", "offset": 0, "length": 1},
            {"type": "italic", "offset": 7, "length": 2},
            {"type": "bold", "offset": 7, "length": 2},
        ]

    async def test_invalid_html_is_a_bad_request(self, bot: Bot) -> None:
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(USER, "<b>open", parse_mode="HTML")

    async def test_length_is_counted_after_parsing(self, bot: Bot) -> None:
        await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")

        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(USER, "x" * 4097)
        with pytest.raises(BadRequest, match="Message caption is too long"):
            await bot.send_photo(USER, b"png", caption="x" * 1025)
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(USER, "<b> </b>", parse_mode="HTML")

    async def test_unknown_chat_and_blocked_user(self, bot: Bot, api: StandInBotAPI) -> None:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(999, "hello")

        api.block(USER)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(USER, "hello")
        api.unblock(USER)
        await bot.send_message(USER, "hello")


class TestFaults:
    async def test_retry_after_surfaces_with_its_seconds(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        api.fail_next("sendMessage", standin.RetryAfter(5))

        with pytest.raises(RetryAfterError) as caught:
            await bot.send_message(USER, "digest")

        assert caught.value.retry_after == dtm.timedelta(seconds=5)
        assert api.chats[USER].messages == {}
        await bot.send_message(USER, "digest")

    async def test_faults_can_target_one_chat_several_times(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        api.add_private_chat(7, "Alex")
        api.fail_next("sendMessage", standin.ServerError(), times=2, chat_id=7)

        await bot.send_message(USER, "one")
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(7, "two")
        await bot.send_message(7, "two")

        assert [call.status for call in api.calls_to("sendMessage")] == [200, 502, 502, 200]

    @pytest.mark.parametrize("applied", [False, True])
    async def test_a_timeout_may_come_after_telegram_did_the_work(
        self,
        bot: Bot,
        api: StandInBotAPI,
        applied: bool,
    ) -> None:
        api.fail_next("sendMessage", standin.Timeout(applied=applied))

        with pytest.raises(TimedOut):
            await bot.send_message(USER, "digest")

        assert len(api.chats[USER].messages) == int(applied)

    async def test_a_worded_refusal_comes_back_as_that_bad_request(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        sent = await bot.send_message(USER, "R1")
        api.fail_next("editMessageText", standin.Refusal("Bad Request: can't parse entities: x"))

        with pytest.raises(BadRequest, match="Can't parse entities: x"):
            await bot.edit_message_text("R2", chat_id=USER, message_id=sent.message_id)

        assert [call.status for call in api.calls_to("editMessageText")] == [400]
        assert api.chats[USER].messages[sent.message_id].text == "R1"

    async def test_a_dropped_connection_is_a_network_error(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        api.fail_next("sendMessage", standin.Dropped())

        with pytest.raises(NetworkError) as caught:
            await bot.send_message(USER, "digest")

        assert not isinstance(caught.value, TimedOut)

    async def test_the_rate_limiter_retries_after_the_wait(self, api: StandInBotAPI) -> None:
        """AIORateLimiter only retries when max_retries is set; it sleeps retry_after + 0.1 s."""
        api.fail_next("sendMessage", standin.RetryAfter(1))
        limited = ExtBot(
            standin_token(),
            request=StandInRequest(api),
            get_updates_request=StandInRequest(api),
            rate_limiter=AIORateLimiter(max_retries=1),
        )

        async with limited:
            started = asyncio.get_running_loop().time()
            await limited.send_message(USER, "digest")
            waited = asyncio.get_running_loop().time() - started

        assert waited >= 1
        assert len(api.chats[USER].messages) == 1


class TestGetUpdates:
    def update(self, api: StandInBotAPI, text: str) -> dict[str, object]:
        message = api.message_json(api.receive_user_message(USER, text))
        return {"update_id": api.next_update_id(), "message": message}

    async def test_returns_queued_updates_and_honours_offset(
        self,
        bot: Bot,
        api: StandInBotAPI,
    ) -> None:
        await api.enqueue_update(self.update(api, "one"))
        await api.enqueue_update(self.update(api, "two"))

        first = await bot.get_updates(timeout=0)
        again = await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
        after = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)

        assert [u.message.text for u in first if u.message] == ["one", "two"]
        assert [u.message.text for u in again if u.message] == ["two"]
        assert after == ()

    async def test_long_poll_waits_for_an_update(self, bot: Bot, api: StandInBotAPI) -> None:
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.01)
        await api.enqueue_update(self.update(api, "late"))

        updates = await asyncio.wait_for(poll, 1)

        assert [u.message.text for u in updates if u.message] == ["late"]

    async def test_long_poll_returns_nothing_after_its_timeout(self, bot: Bot) -> None:
        assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.05)) == ()

    async def test_a_second_poller_terminates_the_first(self, bot: Bot) -> None:
        """As when two bot instances poll one token during an overlapping deploy."""
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.01)

        second = asyncio.create_task(bot.get_updates(timeout=0))

        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 1)
        assert await second == ()
