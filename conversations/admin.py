"""Administration in the chat: /invite and /team for administrators, /transfer for leads.

Who may do what is checked again in the store (an invitation needs an administrator, a
transfer needs a lead of the case's team), so a forged button changes nothing.
"""

from __future__ import annotations

import html
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.access import ADMIN_ACTION
from bot.callbacks import pack, pattern, unpack
from bot.chat import answer, screen, send, show
from bot.store import Role

if TYPE_CHECKING:
    from telegram import Update

    from bot.app import ApartContext
    from bot.store import Staff

logger = logging.getLogger(__name__)

INVITATION_HOURS = 72
MAX_TEAM_NAME = 60
TRANSFER = "tr"

# Roles an invitation made in the chat can carry, by the short code its button packs.
_ROLES = {
    "p": (Role.PRACTITIONER, False, "Practitioner"),
    "l": (Role.LEAD, False, "Team lead"),
    "la": (Role.LEAD, True, "Team lead who also administers"),
    "a": (Role.ADMIN, True, "Administrator (sees no cases)"),
}
_NOT_ADMIN = "Only an administrator can do that."
_NOT_LEAD = "Only a team lead can transfer cases."


def invitation_link(bot_username: str | None, code: str) -> str:
    """The deep link that redeems `code`, or the message to send when the name is unknown."""
    if bot_username:
        return f"https://t.me/{bot_username}?start={code}"
    return f"/start {code}"


async def ask_invitation_team(update: Update, context: ApartContext) -> None:
    """/invite: which team the new member of staff joins."""
    if not await _administrator(context):
        return
    teams = await context.services.store.teams()
    rows = [[(name, pack(ADMIN_ACTION, "t", team_id))] for team_id, name in teams]
    rows.append([("No team (administrator only)", pack(ADMIN_ACTION, "t", 0))])
    text = "<b>New invitation</b>\nWhich team will they join?"
    if not teams:
        text += "\nThere are no teams yet: send /team NAME to create one first."
    await send(context, screen(text, rows))


async def ask_invitation_role(update: Update, context: ApartContext) -> None:
    """A team was chosen: which role the invitation gives."""
    if not await _administrator(context):
        return
    callback = unpack(_data(update))
    team_id = callback.int_arg(1)
    if team_id is None:
        await answer(context, "That button is out of date. Send /invite again.")
        return
    codes = ["a"] if team_id == 0 else ["p", "l", "la"]
    rows = [[(_ROLES[c][2], pack(ADMIN_ACTION, "r", team_id, c))] for c in codes]
    await answer(context)
    await show(context, screen("<b>New invitation</b>\nWhich role?", rows))


async def create_invitation(update: Update, context: ApartContext) -> None:
    """A role was chosen: issue the invitation and show its link once."""
    staff = await _administrator(context)
    if staff is None:
        return
    callback = unpack(_data(update))
    team_id = callback.int_arg(1)
    role = _ROLES.get(callback.arg(2))
    teams = dict(await context.services.store.teams())
    if team_id is None or role is None or (team_id != 0 and team_id not in teams):
        await answer(context, "That button is out of date. Send /invite again.")
        return

    expires = context.services.clock.now() + timedelta(hours=INVITATION_HOURS)
    code = await context.services.store.create_invitation(
        team_id or None, role[0], expires, staff, is_admin=role[1]
    )
    logger.info("Staff %s created an invitation (%s)", staff.id, role[0].value)
    where = f" of {html.escape(teams[team_id])}" if team_id else ""
    text = (
        f"<b>Invitation: {html.escape(role[2].lower())}{where}</b>\n"
        f"Send this to the person, and to no one else. It works once, within "
        f"{INVITATION_HOURS} hours:\n\n{html.escape(invitation_link(context.bot.username, code))}"
    )
    await answer(context)
    await show(context, screen(text))


async def add_team(update: Update, context: ApartContext) -> None:
    """/team NAME: create a team (or say it already exists)."""
    if not await _administrator(context):
        return
    name = " ".join(context.args or ()).strip()
    if not name or len(name) > MAX_TEAM_NAME:
        await send(
            context,
            screen(
                f"Send the team's name after the command, such as /team North (at most "
                f"{MAX_TEAM_NAME} characters)."
            ),
        )
        return
    store = context.services.store
    existed = await store.team_id(name) is not None
    await store.add_team(name)
    said = "already exists" if existed else "is ready"
    await send(
        context, screen(f"Team <b>{html.escape(name)}</b> {said}. Send /invite to add staff.")
    )


async def list_team_cases(update: Update, context: ApartContext) -> None:
    """/transfer: a lead picks one of the team's open cases."""
    staff = context.require_staff()
    cases = await context.services.store.team_cases(staff)
    if staff.role is not Role.LEAD:
        await send(context, screen(_NOT_LEAD))
        return
    if not cases:
        await send(context, screen("Your team has no open cases to transfer."))
        return
    rows = [[(case.reference, pack(TRANSFER, case.id))] for case in cases]
    await send(context, screen("<b>Transfer a case</b>\nWhich case?", rows))


async def choose_new_holder(update: Update, context: ApartContext) -> None:
    """A case was chosen (offer the team's staff) or a person was chosen (transfer)."""
    callback = unpack(_data(update))
    store = context.services.store
    lead = context.require_staff()
    young_person_id = callback.int_arg(0)
    case = await store.young_person(young_person_id, lead) if young_person_id else None
    if case is None or lead.role is not Role.LEAD:
        await answer(context, "That case is not available to you.", alert=True)
        return
    members = [m for m in await store.team_members(case.team_id) if m.id != case.practitioner_id]

    to_id = callback.int_arg(1)
    if to_id is None:
        if not members:
            await answer(context, "There is no one else in the team to give it to.", alert=True)
            return
        rows = [[(_who(m, lead), pack(TRANSFER, case.id, m.id))] for m in members]
        await answer(context)
        text = f"<b>Transfer {html.escape(case.reference)}</b>\nTo whom?"
        await show(context, screen(text, rows))
        return

    to = next((m for m in members if m.id == to_id), None)
    if to is None or not await store.transfer(case, to, lead):
        await answer(context, "That transfer is not possible any more.", alert=True)
        return
    logger.info("Young person %s transferred to staff %s by staff %s", case.id, to.id, lead.id)
    await answer(context, "Transferred.")
    await show(
        context,
        screen(
            f"{html.escape(case.reference)} now belongs to {html.escape(_who(to, lead))}, "
            "with its history and any unfinished assessment."
        ),
    )


def _who(member: Staff, viewer: Staff) -> str:
    """A member of staff as the lead sees them: no names are stored, so role and number."""
    if member.id == viewer.id:
        return "You"
    role = "Lead" if member.role is Role.LEAD else "Practitioner"
    return f"{role} #{member.id}"


async def _administrator(context: ApartContext) -> Staff | None:
    staff = context.require_staff()
    if staff.can_administer:
        return staff
    await context.services.store.audit(staff, "refused", detail="administration")
    await answer(context, _NOT_ADMIN, alert=True)
    if context.current_update is not None and context.current_update.callback_query is None:
        await send(context, screen(_NOT_ADMIN))
    return None


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query else None


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """/invite, /team, /transfer and their buttons."""
    return [
        CommandHandler("invite", ask_invitation_team),
        CommandHandler("team", add_team),
        CommandHandler("transfer", list_team_cases),
        CallbackQueryHandler(ask_invitation_team, pattern=f"^{ADMIN_ACTION}:new$"),
        CallbackQueryHandler(ask_invitation_role, pattern=f"^{ADMIN_ACTION}:t:"),
        CallbackQueryHandler(create_invitation, pattern=f"^{ADMIN_ACTION}:r:"),
        CallbackQueryHandler(choose_new_holder, pattern=pattern(TRANSFER)),
    ]
