"""/cases: the practitioner's caseload with each case's next review date."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CommandHandler

from apart_engine.schedule import DueStatus
from bot.chat import screen, send
from bot.store import Role
from conversations.assessment import case_due
from conversations.screens import short_date

if TYPE_CHECKING:
    from telegram import Update

    from bot.app import ApartContext
    from bot.store import CaseSummary, Staff

_STATUS_WORDS = {
    DueStatus.UPCOMING: "review due",
    DueStatus.DUE_SOON: "review due soon,",
    DueStatus.OVERDUE: "review OVERDUE since",
}


async def list_cases(update: Update, context: ApartContext) -> None:
    """/cases: one short line per young person, most urgent first."""
    staff = context.require_staff()
    cases = await context.services.store.caseload(staff)
    team = await _team_line(context, staff)
    if not cases:
        text = "You have no young people yet. Send /new to register one."
        await send(context, screen(f"{text}\n\n{team}" if team else text))
        return

    lines = ["<b>Your caseload</b>"]
    lines += [
        case_line(context, case) for case in sorted(cases, key=lambda c: _urgency(context, c))
    ]
    lines.append("\nSend /assess to start or carry on an assessment.")
    if team:
        lines.append(team)
    await send(context, screen("\n".join(lines)))


async def _team_line(context: ApartContext, staff: Staff) -> str | None:
    """For a lead, where the team's cases are: /cases lists only their own."""
    if staff.role is not Role.LEAD:
        return None
    active = len(await context.services.store.team_caseload(staff))
    noun = "case" if active == 1 else "cases"
    return f"Your team has {active} active {noun}: /digest" if active else None


def case_line(context: ApartContext, case: CaseSummary) -> str:
    """One case in a line: reference, then what is due or why nothing is."""
    reference = f"<b>{html.escape(case.young_person.reference)}</b>"
    draft = " · draft open" if case.draft_id else ""
    if case.young_person.closed_on is not None:
        return f"{reference} · closed {short_date(case.young_person.closed_on)}"
    if case.baseline_on is None:
        return f"{reference} · baseline not done yet{draft}"
    due, status = case_due(context, case)
    if due is None or status is None:
        return f"{reference} · no review due{draft}"
    return f"{reference} · {_STATUS_WORDS.get(status, 'review due')} {short_date(due)}{draft}"


def _urgency(context: ApartContext, case: CaseSummary) -> tuple[int, str]:
    if case.young_person.closed_on is not None:
        return 4, case.young_person.reference
    if case.baseline_on is None:
        return 1, case.young_person.reference
    due, status = case_due(context, case)
    order = {DueStatus.OVERDUE: 0, DueStatus.DUE_SOON: 1, DueStatus.UPCOMING: 2}
    return order.get(status, 3) if status else 3, due.isoformat() if due else ""


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """/cases."""
    return [CommandHandler("cases", list_cases)]
