"""/new: register a young person by a case reference that cannot identify them."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import pack, pattern, unpack
from bot.chat import answer, screen, send, show
from bot.errors import DuplicateReferenceError, InvalidReferenceError
from bot.references import check_reference, suggest_reference
from conversations.screens import Act

if TYPE_CHECKING:
    from telegram import Update

    from bot.app import ApartContext

logger = logging.getLogger(__name__)

AWAIT_REFERENCE = "reference"
USE_SUGGESTED = "ns"
CANCEL = "nc"
_SUGGESTION_TRIES = 20


async def ask_reference(update: Update, context: ApartContext) -> None:
    """/new: suggest a fresh code, or take the service's own typed reference."""
    store = context.services.store
    suggested = suggest_reference()
    for _ in range(_SUGGESTION_TRIES):
        if not await store.reference_taken(suggested):
            break
        suggested = suggest_reference()

    text = (
        "<b>Register a young person</b>\n"
        f"Tap to use the code {suggested}, or type your service's own case reference.\n"
        "<i>Never a name, initials, date of birth, address, school or phone number.</i>"
    )
    rows = [[(f"Use {suggested}", pack(USE_SUGGESTED, suggested))], [("Cancel", CANCEL)]]
    sent = await send(context, screen(text, rows))
    await store.await_text(
        context.require_staff(),
        AWAIT_REFERENCE,
        {"suggested": suggested},
        sent.message_id if sent else None,
    )


async def use_suggested(update: Update, context: ApartContext) -> None:
    """The suggested code was tapped."""
    reference = unpack(update.callback_query.data if update.callback_query else None).arg(0)
    if (
        context.awaiting is None
        or context.awaiting.kind != AWAIT_REFERENCE
        or context.awaiting.payload.get("suggested") != reference
    ):
        await answer(context, "That suggestion has expired. Send /new again.")
        return
    await answer(context)
    await _register(context, reference, replace_prompt=True)


async def receive_reference(
    update: Update, context: ApartContext, payload: dict[str, Any]
) -> None:
    """A typed reference: refuse it with the reason, or register it."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    await _register(context, message.text, replace_prompt=False)


async def cancel_registration(update: Update, context: ApartContext) -> None:
    """Cancel /new."""
    await context.services.store.stop_awaiting(context.require_staff())
    await answer(context)
    await show(context, screen("Cancelled. Nothing was registered."))


async def _register(context: ApartContext, text: str, *, replace_prompt: bool) -> None:
    store = context.services.store
    staff = context.require_staff()
    try:
        reference = check_reference(text)
        young_person = await store.add_young_person(reference, staff)
    except (InvalidReferenceError, DuplicateReferenceError) as error:
        await send(context, screen(html.escape(f"{error} Try again, or send /cancel.")))
        return

    await store.stop_awaiting(staff)
    logger.info("Young person %s registered", young_person.id)
    view = screen(
        f"<b>{html.escape(reference)}</b> is on your caseload.",
        [[("Start the baseline", pack(Act.PICK_CASE, young_person.id))]],
    )
    await (show(context, view) if replace_prompt else send(context, view))


TEXT_INPUTS = {AWAIT_REFERENCE: receive_reference}


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """/new and its buttons."""
    return [
        CommandHandler("new", ask_reference),
        CallbackQueryHandler(use_suggested, pattern=pattern(USE_SUGGESTED)),
        CallbackQueryHandler(cancel_registration, pattern=pattern(CANCEL)),
    ]
