"""A fake human in a private chat, driving a real `Application` over the stand-in Bot API.

`ChatClient` builds real Update objects (messages, button presses), delivers them through the
application's own update processor (or through getUpdates polling) and reads back what the bot
did from `StandInBotAPI`. `render_message` prints a message for the terminal demo.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import Update

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.standin import CallbackRecord, ChatEvent, StandInBotAPI, StoredMessage

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]

RENDER_WIDTH = 60
POLLING_DELIVERY_LIMIT = 10.0


class Delivery(enum.Enum):
    """How a `ChatClient` hands updates to the application."""

    DIRECT = "direct"
    """Through `app.update_processor` at once; finished when the call returns."""
    POLLING = "polling"
    """Queued for getUpdates; the caller must have started `app.updater` and `app`."""


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to one button press."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    times_answered: int

    @property
    def answered(self) -> bool:
        """Say whether the bot answered the press at all."""
        return self.times_answered > 0


class ChatClient:
    """One made-up person in a private chat with the bot.

    `send` and `tap` return once the update has been processed, except work a handler started
    with `block=False` or `context.application.create_task`, which may still be running.
    """

    def __init__(
        self,
        api: StandInBotAPI,
        app: Application[Any, Any, Any, Any, Any, Any],
        user_id: int,
        first_name: str,
        *,
        delivery: Delivery = Delivery.DIRECT,
    ) -> None:
        self.api = api
        self.app = app
        self.user_id = user_id
        self.first_name = first_name
        self.delivery = delivery
        self._chat = api.add_private_chat(user_id, first_name)
        self._last_input_mark = 0

    # -- input --

    async def send(self, text: str) -> None:
        """Send a text message from the person; a leading /command gets its entity."""
        stored = self.api.receive_user_message(self.user_id, text, _command_entities(text))
        await self._deliver_one({"message": self.api.message_json(stored)})

    async def tap(self, label: str, *, message_id: int | None = None) -> CallbackAnswer:
        """Press the inline button with this label on the newest keyboard (or `message_id`)."""
        message = self._keyboard_message(message_id)
        data = _find_button(message, label)
        return await self.tap_data(data, message.message_id)

    async def tap_data(self, data: str, message_id: int) -> CallbackAnswer:
        """Press a button by its raw callback data, e.g. a forged one or one on an old message."""
        query = self.api.issue_callback_query(self.user_id, message_id, data)
        await self._deliver_one({"callback_query": query})
        return self.callback_answer(query["id"])

    async def tap_twice(
        self,
        label: str,
        *,
        message_id: int | None = None,
    ) -> tuple[CallbackAnswer, CallbackAnswer]:
        """Press one button twice at once: two callback queries delivered concurrently."""
        message = self._keyboard_message(message_id)
        data = _find_button(message, label)
        queries = [
            self.api.issue_callback_query(self.user_id, message.message_id, data) for _ in range(2)
        ]
        await self.deliver_concurrently(*({"callback_query": query} for query in queries))
        return self.callback_answer(queries[0]["id"]), self.callback_answer(queries[1]["id"])

    async def send_raw(self, update_fields: JSONDict) -> None:
        """Deliver any update; a "message" or "edited_message" gets chat, sender, id and date.

        A new "message" is also stored in the chat (with its text, if any); an
        "edited_message" should name the `message_id` it edits.
        """
        fields = dict(update_fields)
        if "message" in fields:
            text = fields["message"].get("text")
            stored = self.api.receive_user_message(self.user_id, text)
            fields["message"] = {**self.api.message_json(stored), **fields["message"]}
        if "edited_message" in fields:
            defaults = self.api.message_json(self.messages[-1]) if self.messages else {}
            date = int(self.api.clock())
            defaults.update(date=date, edit_date=date)
            fields["edited_message"] = {**defaults, **fields["edited_message"]}
        await self._deliver_one(fields)

    async def add_bot_to_group(self, group_id: int, title: str = "A group") -> None:
        """Add the bot to a group chat, as this person: Telegram sends my_chat_member."""
        self.api.add_group_chat(group_id, title)
        await self._deliver_one(
            {"my_chat_member": self.api.bot_added_json(group_id, self.user_id)}
        )

    async def send_in_group(self, group_id: int, text: str) -> None:
        """Write in a group chat the bot is in (a /command gets its entity)."""
        self.api.add_group_chat(group_id, "A group")
        stored = self.api.receive_group_message(group_id, self.user_id, text)
        await self._deliver_one({"message": self.api.message_json(stored)})

    def group_messages(self, group_id: int) -> list[StoredMessage]:
        """The visible messages in a group chat, the bot's included."""
        return [m for m in self.api.chats[group_id].messages.values() if not m.deleted]

    async def deliver_concurrently(self, *updates: JSONDict) -> None:
        """Deliver several updates at once through the update processor."""
        self._last_input_mark = len(self._chat.events)
        prepared = [self._with_update_id(fields) for fields in updates]
        await asyncio.gather(*(self._deliver(update) for update in prepared))
        self._report_callback_problems()

    # -- what the person sees --

    @property
    def messages(self) -> list[StoredMessage]:
        """Return the visible messages in order, after edits and deletions."""
        return [message for message in self._chat.messages.values() if not message.deleted]

    @property
    def bot_messages(self) -> list[StoredMessage]:
        """Return the visible messages the bot sent."""
        return [message for message in self.messages if message.from_bot]

    @property
    def last_bot_message(self) -> StoredMessage:
        """Return the newest visible message from the bot."""
        if not self.bot_messages:
            raise LookupError("the bot has not sent any visible message in this chat")
        return self.bot_messages[-1]

    def buttons(self) -> list[str]:
        """Return the labels of the newest inline keyboard, row by row."""
        message = self._keyboard_message(None)
        return [label for row in message.buttons for label, _ in row]

    @property
    def transcript(self) -> list[ChatEvent]:
        """Return every visible change in the chat: new, edited and deleted messages."""
        return list(self._chat.events)

    def mark(self) -> int:
        """Return a position in the transcript, for `events_since`."""
        return len(self._chat.events)

    def events_since(self, mark: int) -> list[ChatEvent]:
        """Return the transcript events after a mark."""
        return self._chat.events[mark:]

    def texts_since(self, mark: int) -> list[str]:
        """Return the texts (or captions) the bot sent or edited in after a mark."""
        return [
            _shown_text(event.message)
            for event in self._chat.events[mark:]
            if event.message.from_bot and event.kind != "deleted"
        ]

    @property
    def last_response(self) -> list[ChatEvent]:
        """Return what changed in the chat since the last input was delivered."""
        return [
            event for event in self._chat.events[self._last_input_mark :] if event.message.from_bot
        ]

    # -- callback bookkeeping --

    def callback_answer(self, query_id: str) -> CallbackAnswer:
        """Return how the bot answered one callback query so far."""
        record = self.api.callbacks[query_id]
        return CallbackAnswer(
            query_id=record.query_id,
            text=record.text,
            show_alert=record.show_alert,
            url=record.url,
            times_answered=record.attempts,
        )

    def unanswered_callbacks(self) -> list[CallbackRecord]:
        """Return this person's button presses the bot never answered."""
        return [r for r in self.api.unanswered_callbacks() if r.chat_id == self.user_id]

    def callbacks_answered_more_than_once(self) -> list[CallbackRecord]:
        """Return this person's button presses the bot tried to answer more than once."""
        return [
            r for r in self.api.callbacks_answered_more_than_once() if r.chat_id == self.user_id
        ]

    # -- delivery --

    async def _deliver_one(self, fields: JSONDict) -> None:
        self._last_input_mark = len(self._chat.events)
        await self._deliver(self._with_update_id(fields))
        self._report_callback_problems()

    def _with_update_id(self, fields: JSONDict) -> JSONDict:
        return {"update_id": self.api.next_update_id(), **fields}

    async def _deliver(self, update_json: JSONDict) -> None:
        if self.delivery is Delivery.POLLING:
            await self._deliver_by_polling(update_json)
            return
        update = Update.de_json(update_json, self.app.bot)
        await self.app.update_processor.process_update(update, self.app.process_update(update))

    async def _deliver_by_polling(self, update_json: JSONDict) -> None:
        """Queue the update for getUpdates and wait until the application has processed it."""
        updater = self.app.updater
        if updater is None or not updater.running or not self.app.running:
            raise RuntimeError(
                "polling delivery needs `await app.updater.start_polling()` and "
                "`await app.start()` first"
            )
        await self.api.enqueue_update(update_json)
        update_id = update_json["update_id"]
        try:
            async with asyncio.timeout(POLLING_DELIVERY_LIMIT):
                # The updater confirms an update only after putting it on the update queue,
                # so once it is confirmed, joining the queue waits for its processing too.
                await self.api.wait_confirmed(update_id)
                await self.app.update_queue.join()
        except TimeoutError as error:
            raise TimeoutError(
                f"update {update_id} was not processed within {POLLING_DELIVERY_LIMIT} s; "
                "is a handler stuck, or did polling stop?"
            ) from error

    def _report_callback_problems(self) -> None:
        for record in self.unanswered_callbacks():
            logger.warning("callback query %s was not answered", record.query_id)
        for record in self.callbacks_answered_more_than_once():
            logger.warning(
                "callback query %s was answered %d times", record.query_id, record.attempts
            )

    # -- helpers --

    def _keyboard_message(self, message_id: int | None) -> StoredMessage:
        if message_id is not None:
            found = self._chat.messages.get(message_id)
            if found is None or found.deleted:
                raise LookupError(f"message {message_id} is not visible in this chat")
            return found
        for message in reversed(self.bot_messages):
            if message.buttons:
                return message
        raise LookupError("no visible bot message has an inline keyboard")


def _command_entities(text: str) -> list[JSONDict]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]


def _find_button(message: StoredMessage, label: str) -> str:
    """Find a button's callback data: exact label, else the one label starting with `label`."""
    buttons = [button for row in message.buttons for button in row]
    exact = [data for text, data in buttons if text == label]
    matches = exact or [data for text, data in buttons if text.startswith(label)]
    if len(matches) != 1:
        visible = ", ".join(repr(text) for text, _ in buttons)
        problem = "no button" if not matches else "several buttons"
        raise LookupError(f"{problem} match {label!r} on message {message.message_id}: {visible}")
    if matches[0] is None:
        raise LookupError(f"button {label!r} carries no callback data (a URL button?)")
    return matches[0]


def _shown_text(message: StoredMessage) -> str:
    if message.text is not None:
        return message.text
    return message.caption or ""


# --- rendering for the terminal demo ----------------------------------------------------------


def render_message(msg: StoredMessage, number_from: int = 1) -> str:
    """Render a message as plain text with its buttons numbered from `number_from`."""
    lines = _wrapped(_display_text(msg))
    lines.extend(_button_lines(msg, number_from))
    return "\n".join(lines)


def render_event(event: ChatEvent, number_from: int = 1) -> str:
    """Render one transcript event, saying whether the message is new, edited or deleted."""
    if event.kind == "deleted":
        return f"(message {event.message.message_id} deleted)"
    body = render_message(event.message, number_from)
    return f"(edited)\n{body}" if event.kind == "edited" else body


def _display_text(msg: StoredMessage) -> str:
    # HTML texts were parsed to plain text on arrival, so there is nothing left to strip.
    text = _shown_text(msg)
    if msg.photo is not None:
        text = f"[photo: {msg.photo.filename}] {text}".rstrip()
    if msg.document is not None:
        text = f"[document: {msg.document.filename}] {text}".rstrip()
    return text


def _wrapped(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, RENDER_WIDTH) or [""])
    return lines


def _button_lines(msg: StoredMessage, number_from: int) -> list[str]:
    lines: list[str] = []
    number = number_from
    for row in msg.buttons:
        line = ""
        for label, _ in row:
            cell = f"[{number}] {label}"
            number += 1
            if line and len(line) + 2 + len(cell) > RENDER_WIDTH:
                lines.append(line)
                line = ""
            line = f"{line}  {cell}" if line else cell
        lines.append(line)
    return lines
