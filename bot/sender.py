"""The one way the bot sends a message nobody asked for: reminders, digests and their charts.

python-telegram-bot's AIORateLimiter (set up in `bot.app`) paces every call and already
waits out a flood-control answer up to three times, pausing all sending meanwhile. The sender
adds what the limiter cannot know: a RetryAfter that still gets through (the limiter gave
up, or there is none, as over the stand-in) is waited out here, with the wait Telegram asked
for, and the message is sent again, since a 429 means Telegram did not deliver it. A
recipient who blocked the bot, or whose chat Telegram cannot find (a lead who never opened
the chat), is marked unreachable, so later runs skip them until they write; every failure
is logged once, with the recipient's internal staff id only.

Text longer than one message goes out as several, each its own attempt, so a flood wait or
a retry sends again only the part Telegram refused, never the parts already delivered. Once
a part is delivered the rest is not tried again on a later run (the outcome is PARTIAL), so
no part ever shows twice. A caption too long for a photo is never cut: the photo carries
what fits and the rest follows as a message.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut

from bot.chat import CHAT_GONE, MAX_CAPTION, MAX_TEXT, split_html

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from telegram import Bot, Message

    from bot.chat import Screen
    from bot.store import Staff, Store

logger = logging.getLogger(__name__)

# After this many flood waits for one message the sender gives up on it for this run; the
# ledger then gives the message back, so the next run sends it.
MAX_FLOOD_WAITS = 5
SENDER_KEY = "sender"


class Outcome(StrEnum):
    """What became of one proactive message."""

    SENT = "sent"
    UNCERTAIN = "uncertain"
    """Timed out: Telegram may or may not have delivered it, so it is not sent again."""
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    PARTIAL = "partial"
    """Some parts were delivered and a later one failed; none is sent again."""


@dataclass(frozen=True, slots=True)
class Photo:
    """A PNG to send with a short caption."""

    png: bytes
    filename: str
    caption: str


class Sender:
    """Sends to members of staff, honouring flood control and remembering who blocked the bot."""

    def __init__(
        self,
        bot: Bot,
        store: Store,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_flood_waits: int = MAX_FLOOD_WAITS,
    ) -> None:
        self._bot = bot
        self._store = store
        self._sleep = sleep
        self._max_flood_waits = max_flood_waits

    async def deliver(
        self, recipient: Staff, view: Screen, *, photos: tuple[Photo, ...] = ()
    ) -> Outcome:
        """Send a message (and then any photos) to one member of staff's private chat."""
        calls = _text_calls(self, recipient, view.text, view)
        for photo in photos:
            calls += _photo_calls(self, recipient, photo)
        for delivered, call in enumerate(calls):
            outcome = await self._attempt(recipient, call)
            if outcome is not Outcome.SENT:
                return Outcome.PARTIAL if delivered and outcome is Outcome.FAILED else outcome
        return Outcome.SENT

    async def _attempt(self, recipient: Staff, call: Callable[[], Awaitable[Message]]) -> Outcome:
        waits = 0
        while True:
            try:
                await call()
            except RetryAfter as error:
                if waits >= self._max_flood_waits:
                    logger.error(
                        "Gave up sending to staff %s after %d flood-control waits",
                        recipient.id,
                        waits,
                    )
                    return Outcome.FAILED
                waits += 1
                seconds = _seconds(error)
                logger.info("Flood control: waiting %.1f s before sending again", seconds)
                await self._sleep(seconds)
            except Forbidden as error:
                return await self._unreachable(recipient, error)
            except BadRequest as error:
                if not any(reason in error.message.lower() for reason in CHAT_GONE):
                    logger.error("Sending to staff %s failed: %s", recipient.id, error.message)
                    return Outcome.FAILED
                return await self._unreachable(recipient, error)
            except TimedOut:
                # Telegram may have delivered it, so sending again could show it twice.
                logger.warning("Sending to staff %s timed out; not sending it again", recipient.id)
                return Outcome.UNCERTAIN
            except TelegramError as error:
                logger.error("Sending to staff %s failed: %s", recipient.id, error.message)
                return Outcome.FAILED
            else:
                return Outcome.SENT

    async def _unreachable(self, recipient: Staff, error: TelegramError) -> Outcome:
        await self._store.mark_unreachable(recipient)
        logger.warning(
            "Staff %s cannot be reached (%s); skipping them until they write again",
            recipient.id,
            error.message,
        )
        return Outcome.UNREACHABLE

    async def send_text(self, recipient: Staff, text: str, view: Screen | None) -> Message:
        """Send one part of a message (at most one message long), with `view`'s buttons."""
        return await self._bot.send_message(
            recipient.telegram_user_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=view.markup() if view is not None else None,
            disable_web_page_preview=True,
        )

    async def send_photo(self, recipient: Staff, photo: Photo, caption: str) -> Message:
        """Send the photo with an HTML caption that fits the caption limit."""
        return await self._bot.send_photo(
            recipient.telegram_user_id,
            photo.png,
            caption=caption,
            parse_mode=ParseMode.HTML,
            filename=photo.filename,
        )


def _text_calls(
    sender: Sender, recipient: Staff, text: str, view: Screen | None
) -> list[Callable[[], Awaitable[Message]]]:
    """One call per part of `text`; the buttons of `view`, if any, go on the last part."""
    parts = split_html(text, MAX_TEXT)
    return [
        partial(sender.send_text, recipient, part, view if number == len(parts) else None)
        for number, part in enumerate(parts, start=1)
    ]


def _photo_calls(
    sender: Sender, recipient: Staff, photo: Photo
) -> list[Callable[[], Awaitable[Message]]]:
    """The photo with as much of its caption as fits, then the rest of it as messages."""
    parts = split_html(html.escape(photo.caption, quote=False), MAX_CAPTION)
    calls: list[Callable[[], Awaitable[Message]]] = [
        partial(sender.send_photo, recipient, photo, parts[0] if parts else "")
    ]
    if len(parts) > 1:
        calls += _text_calls(sender, recipient, "".join(parts[1:]), None)
    return calls


def _seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for, whichever way PTB is set to express it."""
    wait = error.retry_after
    return wait if isinstance(wait, int | float) else wait.total_seconds()


def sender_for(application: Any) -> Sender:
    """The application's sender, made on first use from its bot and store."""
    sender = application.bot_data.get(SENDER_KEY)
    if not isinstance(sender, Sender):
        sender = Sender(application.bot, application.bot_data["services"].store)
        application.bot_data[SENDER_KEY] = sender
    return sender
