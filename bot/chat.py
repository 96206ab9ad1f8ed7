"""Showing things in the chat, robust to Telegram's refusals.

Every handler shows its screen through `show`, which edits the message a button was pressed
on, or sends a fresh one when there is none or it has gone. Every button press is answered
through `answer`, and the application answers any press a handler left unanswered.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.app import ApartContext

logger = logging.getLogger(__name__)

# Telegram's descriptions for edits that cannot be made; matched case-insensitively.
_NOT_MODIFIED = "message is not modified"
_GONE = (
    "message to edit not found",
    "message can't be edited",
    "message_id_invalid",
    "there is no text in the message to edit",
)
_NOT_DELETABLE = ("message to delete not found", "message can't be deleted")
_TOO_LONG = "message is too long"
# The chat itself has gone (the account was deleted, or the chat never existed for the bot).
CHAT_GONE = ("chat not found", "user is deactivated")

# Telegram's limits on a message's text and a media caption, counted after HTML is parsed.
MAX_TEXT = 4096
MAX_CAPTION = 1024

# One piece of HTML: a tag (group 1 is "/" for an end tag, group 2 the name), an entity like
# &amp;, or a run of text up to and including one whitespace character.
_HTML_PIECE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>|&#?[0-9a-zA-Z]+;|[^<&\s]*\s?|[<&]")

Row = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Screen:
    """What one message shows: HTML text and rows of (label, payload) buttons."""

    text: str
    rows: tuple[tuple[tuple[str, str], ...], ...] = ()

    def markup(self) -> InlineKeyboardMarkup | None:
        """The inline keyboard, or None for a message without buttons."""
        if not self.rows:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                for row in self.rows
            ]
        )


def screen(text: str, rows: Sequence[Sequence[tuple[str, str]]] = ()) -> Screen:
    """Build a Screen from any sequences of rows."""
    return Screen(text, tuple(tuple(row) for row in rows))


async def answer(context: ApartContext, text: str | None = None, *, alert: bool = False) -> None:
    """Answer the button press being handled, once; later calls for the same press do nothing."""
    query = context.current_update.callback_query if context.current_update else None
    if query is None or context.callback_answered:
        return

    context.callback_answered = True
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as error:
        # An answer can come too late (a slow handler, a redelivered press); the practitioner
        # then only sees the spinner stop, which is all an answer does anyway.
        logger.info("Button press could not be answered: %s", error.message)


async def show(context: ApartContext, view: Screen, *, fresh: bool = False) -> int | None:
    """Show `view` in place of the message the button was on, or as a new message.

    Returns the id of the message that now shows it, or None when the chat refused it.
    """
    update = context.current_update
    query = update.callback_query if update else None
    target = query.message if query is not None and not fresh else None
    if isinstance(target, Message) and await edit(
        context, target.chat_id, target.message_id, view
    ):
        return target.message_id
    sent = await send(context, view)
    return sent.message_id if sent else None


async def edit(context: ApartContext, chat_id: int, message_id: int, view: Screen) -> bool:
    """Edit a message to show `view`; False if Telegram says the message is gone.

    "Message is not modified" means the message already shows `view`, so it is success.
    """
    try:
        await context.bot.edit_message_text(
            view.text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=view.markup(),
            disable_web_page_preview=True,
        )
    except BadRequest as error:
        description = error.message.lower()
        if _NOT_MODIFIED in description:
            return True
        if any(reason in description for reason in _GONE):
            logger.info("Message %s in chat %s is gone; sending a new one", message_id, chat_id)
            return False
        if _TOO_LONG in description:
            # One message cannot hold it any more; `send` splits it over several.
            logger.info("Message %s in chat %s is too long to edit in place", message_id, chat_id)
            return False
        raise
    return True


async def send(context: ApartContext, view: Screen, chat_id: int | None = None) -> Message | None:
    """Send `view` as new messages to the chat being handled (or `chat_id`).

    Text longer than Telegram allows goes out in several messages, the buttons on the last;
    that last message is returned, or None when the chat refused it.
    """
    target = chat_id if chat_id is not None else _chat_id(context.current_update)
    if target is None:
        return None

    parts = split_html(view.text, MAX_TEXT)
    sent: Message | None = None
    try:
        for number, part in enumerate(parts, start=1):
            sent = await context.bot.send_message(
                target,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=view.markup() if number == len(parts) else None,
                disable_web_page_preview=True,
            )
    except Forbidden:
        logger.warning("Chat %s refused a message (the bot may be blocked)", target)
        return None
    except BadRequest as error:
        if not any(reason in error.message.lower() for reason in CHAT_GONE):
            raise
        logger.warning("Chat %s no longer exists; nothing was sent", target)
        return None
    return sent


def split_html(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split Telegram HTML into parts of at most `limit` visible characters each.

    Parts break after whitespace where they can, and inside a word only when one word is
    longer than a part; tags open at a break are closed at the end of one part and opened
    again at the start of the next, so every part is valid HTML and no text is lost.
    Characters are counted in UTF-16 units, as Telegram counts them.
    """
    if _visible_length(text) <= limit:
        return [text]

    parts: list[str] = []
    current: list[str] = []
    size = 0
    open_tags: list[tuple[str, str]] = []
    for piece, visible in _pieces(text, limit):
        if visible and size + visible > limit:
            parts.append("".join(current) + _closing(open_tags))
            current = [tag for _, tag in open_tags]
            size = 0
        current.append(piece)
        size += visible
        _track(open_tags, piece)
    parts.append("".join(current))
    return [part for part in parts if _visible_length(part) > 0 and _has_text(part)]


def _pieces(text: str, limit: int) -> list[tuple[str, int]]:
    """The HTML as (piece, visible UTF-16 length) pairs, no text piece longer than `limit`."""
    pieces: list[tuple[str, int]] = []
    for match in _HTML_PIECE.finditer(text):
        piece = match.group(0)
        if not piece:
            continue
        if match.group(2) is not None:
            pieces.append((piece, 0))
        elif piece.startswith("&") and len(piece) > 1:
            pieces.append((piece, _utf16(html.unescape(piece))))
        elif _utf16(piece) <= limit:
            pieces.append((piece, _utf16(piece)))
        else:
            pieces.extend((char, _utf16(char)) for char in piece)
    return pieces


def _track(open_tags: list[tuple[str, str]], piece: str) -> None:
    match = _HTML_PIECE.fullmatch(piece)
    if match is None or match.group(2) is None:
        return
    name = match.group(2).lower()
    if match.group(1):
        if open_tags and open_tags[-1][0] == name:
            open_tags.pop()
    else:
        open_tags.append((name, piece))


def _closing(open_tags: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(open_tags))


def _visible_length(fragment: str) -> int:
    return sum(visible for _, visible in _pieces(fragment, MAX_TEXT))


def _has_text(fragment: str) -> bool:
    return any(visible and not piece.isspace() for piece, visible in _pieces(fragment, MAX_TEXT))


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def remove_keyboard(context: ApartContext, chat_id: int, message_id: int) -> None:
    """Take the buttons off an older message so that it cannot be tapped any more."""
    try:
        await context.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
    except BadRequest as error:
        description = error.message.lower()
        if _NOT_MODIFIED not in description and not any(r in description for r in _GONE):
            raise


async def delete(context: ApartContext, chat_id: int, message_id: int) -> bool:
    """Delete a message where Telegram allows; False when it does not."""
    try:
        return await context.bot.delete_message(chat_id, message_id)
    except BadRequest as error:
        if any(reason in error.message.lower() for reason in _NOT_DELETABLE):
            return False
        raise


def _chat_id(update: Update | None) -> int | None:
    chat = update.effective_chat if update else None
    return chat.id if chat else None
