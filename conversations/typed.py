"""Typed messages: routed to whatever the bot asked for, or answered with what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, MessageHandler, filters

from bot.chat import screen, send
from conversations import assessment, register

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from telegram import Update

    from bot.app import ApartContext

_INPUTS: dict[str, Callable[[Update, ApartContext, dict[str, Any]], Awaitable[None]]] = {
    **assessment.TEXT_INPUTS,
    **register.TEXT_INPUTS,
}

NOT_WAITING = (
    "I am not waiting for a typed message just now. Use the buttons, or send /help to see "
    "what I can do."
)
NOT_TEXT = "I can only read text and button taps here."
EDITED = "I do not read edits to messages already sent. Send the corrected text as a new message."
# A forwarded message carries someone else's words (and name) into a case record.
FORWARDED = "I do not save forwarded messages. Type what you want to record yourself."
UNKNOWN_COMMAND = "I do not know that command. Send /help to see what I can do."


async def route_text(update: Update, context: ApartContext) -> None:
    """Hand a typed message to the step that asked for it."""
    awaiting = context.awaiting
    receive = _INPUTS.get(awaiting.kind) if awaiting else None
    if awaiting is None or receive is None:
        await send(context, screen(NOT_WAITING))
        return
    await receive(update, context, awaiting.payload)


async def refuse_other(update: Update, context: ApartContext) -> None:
    """Stickers, photos, voice notes, edits and unknown commands get a plain answer."""
    if update.edited_message is not None:
        text = EDITED
    elif update.message is not None and update.message.forward_origin is not None:
        text = FORWARDED
    elif update.message is not None and update.message.text is not None:
        text = UNKNOWN_COMMAND
    else:
        text = NOT_TEXT
    await send(context, screen(text))


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """Typed text first, then everything else a person can send."""
    return [
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & ~filters.FORWARDED,
            route_text,
        ),
        MessageHandler(filters.ALL, refuse_other),
    ]
