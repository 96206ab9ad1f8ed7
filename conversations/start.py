"""/start, /help and /cancel: the way in, the way to get help, and the way to stop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CommandHandler

from bot.chat import remove_keyboard, screen, send
from bot.store import Role
from conversations.screens import paused_screen, resume_offer_rows

if TYPE_CHECKING:
    from telegram import Update

    from bot.app import ApartContext

HELP = (
    "<b>APART assessments</b>\n"
    "/new registers a young person by a case reference (never a name).\n"
    "/assess starts or carries on an assessment: tap one answer per question.\n"
    "/cases lists your caseload with review dates.\n"
    "/progress REF sends a case's chart of risk and resilience over time.\n"
    "/cancel pauses what you are doing; your answers are always saved as you go.\n\n"
    "Every answer is saved the moment you tap it. If the chat is interrupted, send /assess "
    "to carry on where you were."
)
LEAD_HELP = (
    "<b>For team leads</b>\n"
    "/digest sends your team's digest now: reviews due, changes and the team chart.\n"
    "/report sends the team's outcomes report as a PDF; /report REF one case's progress.\n"
    "/transfer gives a case of your team to another practitioner."
)
ADMIN_HELP = (
    "<b>Administration</b>\n"
    "/invite makes a single-use invitation link for a new member of staff.\n"
    "/team NAME creates a team.\n"
    "Staff lists and revocation are on the command line: <code>apart-bot staff list</code>, "
    "<code>apart-bot revoke USER</code>."
)


async def greet(update: Update, context: ApartContext) -> None:
    """/start: say what the bot does, and offer any unfinished draft first."""
    store = context.services.store
    staff = context.require_staff()
    await store.stop_awaiting(staff)
    if not staff.sees_cases:
        await send(context, screen(ADMIN_HELP))
        return

    drafts = [
        d
        for d in [
            await store.assessment(c.draft_id, staff)
            for c in await store.caseload(staff)
            if c.draft_id
        ]
        if d is not None
    ]
    if drafts:
        text = "Welcome back. You have an unfinished assessment: resume it or discard it."
        await send(context, screen(text, resume_offer_rows(drafts)))
        return
    await send(context, screen(HELP))


async def show_help(update: Update, context: ApartContext) -> None:
    """/help: the commands in plain words."""
    staff = context.require_staff()
    text = HELP if staff.sees_cases else ADMIN_HELP
    if staff.role is Role.LEAD:
        text += "\n\n" + LEAD_HELP
    if staff.sees_cases and staff.can_administer:
        text += "\n\n" + ADMIN_HELP
    await send(context, screen(text))


async def cancel(update: Update, context: ApartContext) -> None:
    """/cancel: stop waiting for typing and put any open draft aside, saved."""
    store = context.services.store
    staff = context.require_staff()
    was_waiting = context.awaiting is not None
    await store.stop_awaiting(staff)

    draft = await store.open_draft(staff)
    if draft is None:
        text = "Cancelled." if was_waiting else "There is nothing to cancel."
        await send(context, screen(text))
        return
    if draft.chat_id is not None and draft.message_id is not None:
        # The paused draft's buttons go, so that nothing is answered by accident later.
        await remove_keyboard(context, draft.chat_id, draft.message_id)
    await send(context, paused_screen(draft, "Paused."))


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """The commands every member of staff has."""
    return [
        CommandHandler("start", greet),
        CommandHandler("help", show_help),
        CommandHandler("cancel", cancel),
    ]
