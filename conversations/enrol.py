"""Enrolment: `/start CODE` from someone the gate does not know redeems an invitation.

The gate lets exactly this message through without a staff record; this handler runs in its
own group before the flows and stops the update here, whatever the outcome.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING, Any

from telegram.ext import ApplicationHandlerStop, BaseHandler, CommandHandler, filters

from bot import access
from bot.chat import screen, send
from bot.errors import InvitationError, UnknownInvitationError
from conversations.start import ADMIN_HELP, HELP

if TYPE_CHECKING:
    from telegram import Update

    from bot.app import ApartContext

logger = logging.getLogger(__name__)


async def redeem_invitation(update: Update, context: ApartContext) -> None:
    """Enrol the sender with the invitation's team and role, or refuse without a clue."""
    if context.staff is not None:
        # Already enrolled: an old link was tapped again; /start greets them as usual.
        return
    code = access.invitation_code(update)
    user = update.effective_user
    if code is None or user is None:
        raise ApplicationHandlerStop

    store = context.services.store
    try:
        staff = await store.redeem_invitation(code, user.id)
    except UnknownInvitationError:
        await access.refuse_stranger(update, context, user.id)
        raise ApplicationHandlerStop from None
    except InvitationError as error:
        logger.info("An expired or used invitation was presented")
        await store.audit(None, "refused", detail="expired or used invitation")
        await send(context, screen(html.escape(str(error))))
        raise ApplicationHandlerStop from None

    logger.info("Staff %s enrolled by invitation as %s", staff.id, staff.role.value)
    context.staff = staff
    text = HELP if staff.sees_cases else ADMIN_HELP
    await send(context, screen(f"<b>Welcome.</b> You are enrolled.\n\n{text}"))
    raise ApplicationHandlerStop


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """The one handler of the enrolment group."""
    return [
        CommandHandler("start", redeem_invitation, filters=filters.ChatType.PRIVATE, has_args=True)
    ]
