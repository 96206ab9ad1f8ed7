"""The gate in front of every handler: private chats with enrolled, unrevoked staff only.

It is the one place that decides who may talk to the bot. Strangers, revoked staff and
people not yet enrolled get one neutral reply (at most hourly) and no handler runs; the only
thing they may send is `/start CODE`, which goes on to the enrolment handler alone. An
administrator who is not also a practitioner or lead reaches the administration commands
and nothing that shows case data.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.logs import bind_staff

if TYPE_CHECKING:
    from telegram import Update

    from bot.app import ApartContext
    from bot.store import Awaiting, Staff

logger = logging.getLogger(__name__)

# Says nothing about who runs the bot or what it is for.
NEUTRAL_REPLY = "Sorry, this bot is not available."
GROUP_REPLY = "I only work in private chats, so I am leaving this group."
ADMIN_ONLY_REPLY = (
    "As an administrator you manage teams, staff and invitations: send /invite or "
    "/team NAME. Case data is only for practitioners and team leads."
)

# What an administrator without a caseload may use: these commands and buttons packed with
# ADMIN_ACTION (see conversations/admin.py).
ADMIN_COMMANDS = frozenset({"start", "help", "cancel", "invite", "team"})
ADMIN_ACTION = "ad"

REFUSAL_INTERVAL_S = 3600.0
_MAX_TRACKED = 10_000
_ADMITTED = "admitted_update"
# The characters of an invitation code (URL-safe base64), as a deep link allows them.
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class RefusalLimiter:
    """Remembers when each stranger was last answered, so the gate answers at most hourly."""

    def __init__(self, interval: float = REFUSAL_INTERVAL_S) -> None:
        self._interval = interval
        self._last: dict[int, float] = {}
        self._attempts: dict[int, int] = {}

    def attempt(self, user_id: int, now: float) -> tuple[int, bool]:
        """Count an attempt; return how many so far and whether to reply to this one."""
        if len(self._last) > _MAX_TRACKED:
            self._forget_older_than(now - self._interval)
        attempts = self._attempts.get(user_id, 0) + 1
        self._attempts[user_id] = attempts
        last = self._last.get(user_id)
        if last is not None and now - last < self._interval:
            return attempts, False
        self._last[user_id] = now
        return attempts, True

    def _forget_older_than(self, cutoff: float) -> None:
        for user_id in [u for u, at in self._last.items() if at < cutoff]:
            del self._last[user_id]
            self._attempts.pop(user_id, None)


async def gate(update: Update, context: ApartContext) -> None:
    """Let enrolled staff through with their record; stop everything else here."""
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        await _leave_group(update, context)
        raise ApplicationHandlerStop

    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop

    store = context.services.store
    staff, awaiting = await store.staff_on_arrival(user.id)
    if staff is None or staff.revoked:
        if invitation_code(update) is not None:
            # On to the enrolment handler, with no staff record: nothing else will run.
            return
        if update.my_chat_member is None:
            await refuse_stranger(update, context, user.id)
        raise ApplicationHandlerStop

    context.staff = staff
    bind_staff(staff.id)
    if not staff.sees_cases and not _for_administrators(update):
        await store.audit(staff, "refused", detail="case data asked for by an administrator")
        await refuse_admin(update, context)
        raise ApplicationHandlerStop
    context.awaiting = await _current_awaiting(context, staff, awaiting)
    if context.user_data is not None:
        context.user_data[_ADMITTED] = update.update_id


async def _current_awaiting(
    context: ApartContext, staff: Staff, awaiting: Awaiting | None
) -> Awaiting | None:
    """What the bot waits for from `staff` (`awaiting`, as read), unless older than the idle time.

    The idle job that would forget it lives in memory and dies with a restart; without this
    a message typed days later would be taken as the note or reason asked for long before.
    """
    services = context.services
    if awaiting is None:
        return None
    if services.clock.now() - awaiting.since > timedelta(minutes=services.settings.idle_minutes):
        await services.store.stop_awaiting(staff)
        return None
    return awaiting


def invitation_code(update: Update) -> str | None:
    """The code of a `/start CODE` message (how a deep link arrives), else None."""
    message = update.message
    if message is None or message.text is None:
        return None
    parts = message.text.split()
    if len(parts) != 2 or parts[0].split("@")[0] != "/start":
        return None
    return parts[1] if _CODE_SHAPE.match(parts[1]) else None


def _for_administrators(update: Update) -> bool:
    """Whether the update is one of the things an administrator without cases may do."""
    message = update.message
    if message is not None and message.text is not None and message.text.startswith("/"):
        return message.text.split()[0][1:].split("@")[0] in ADMIN_COMMANDS
    query = update.callback_query
    return query is not None and (query.data or "").split(":")[0] == ADMIN_ACTION


async def refuse_admin(update: Update, context: ApartContext) -> None:
    """Tell an administrator that case data is not theirs to see."""
    if update.callback_query is not None:
        context.callback_answered = True
        await _quietly(update.callback_query.answer(ADMIN_ONLY_REPLY, show_alert=True))
        return
    if update.effective_chat is not None:
        await _quietly(context.bot.send_message(update.effective_chat.id, ADMIN_ONLY_REPLY))


def was_admitted(update: Update, context: ApartContext) -> bool:
    """Whether the gate let this very update through (for the error handler)."""
    return context.user_data is not None and context.user_data.get(_ADMITTED) == update.update_id


async def refuse_stranger(update: Update, context: ApartContext, user_id: int) -> None:
    """The neutral reply, rate limited per user, for someone who may not use the bot."""
    limiter = context.application.bot_data.setdefault("refusals", RefusalLimiter())
    attempts, reply = limiter.attempt(user_id, time.monotonic())
    logger.warning(
        "Refused an update from a Telegram user who is not enrolled (attempt %d)", attempts
    )
    if reply:
        # At most hourly per person, so a flood cannot fill the audit trail.
        await context.services.store.audit(
            None, "refused", detail=f"not enrolled (attempt {attempts})"
        )

    query = update.callback_query
    if query is not None:
        context.callback_answered = True
        await _quietly(query.answer())
    if reply and update.effective_chat is not None:
        await _quietly(context.bot.send_message(update.effective_chat.id, NEUTRAL_REPLY))


async def _leave_group(update: Update, context: ApartContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    logger.warning("Leaving a %s chat the bot was added to", chat.type)
    if update.callback_query is not None:
        context.callback_answered = True
        await _quietly(update.callback_query.answer())
    await _quietly(context.bot.send_message(chat.id, GROUP_REPLY))
    await _quietly(context.bot.leave_chat(chat.id))


async def _quietly(call: object) -> None:
    """Await a courtesy call whose failure must not stop the gate."""
    try:
        await call  # type: ignore[misc]
    except TelegramError as error:
        logger.info("Telegram refused a courtesy call: %s", error.message)
