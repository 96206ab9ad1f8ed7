"""Showing things in the chat, robust to Telegram's refusals.

Every handler shows its screen through `show`, which edits the message a button was pressed
on, or sends a fresh one when there is none or it has gone. Every button press is answered
through `answer`, and the application answers any press a handler left unanswered.
"""

from __future__ import annotations

import logging
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
        raise
    return True


async def send(context: ApartContext, view: Screen, chat_id: int | None = None) -> Message | None:
    """Send `view` as a new message to the chat being handled (or `chat_id`)."""
    target = chat_id if chat_id is not None else _chat_id(context.current_update)
    if target is None:
        return None

    try:
        return await context.bot.send_message(
            target,
            view.text,
            parse_mode=ParseMode.HTML,
            reply_markup=view.markup(),
            disable_web_page_preview=True,
        )
    except Forbidden:
        logger.warning("Chat %s refused a message (the bot may be blocked)", target)
        return None


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
