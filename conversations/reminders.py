"""Review reminders: which cases to remind of, the message, and its snooze buttons.

The daily sweep in `bot.jobs` sends the message; its "Start" buttons reuse the assessment
flow's case button, so a tap goes straight to choosing the review.
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CallbackQueryHandler

from apart_engine.instrument import AssessmentKind
from apart_engine.schedule import DueStatus, due_status, next_due_after
from bot.callbacks import pack, pattern, unpack
from bot.chat import answer, edit, screen
from bot.clock import today
from bot.store import DueReminder
from conversations.screens import Act, short_date

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from telegram import Update

    from apart_engine.instrument import Instrument
    from bot.app import ApartContext
    from bot.chat import Screen
    from bot.store import CaseSummary

SNOOZE = "rz"
SNOOZE_DAYS = (1, 7)
DUE_SOON = "due_soon"
OVERDUE = "overdue"

OUT_OF_DATE = (
    "That reminder is out of date: the review was done or its date moved. "
    "Send /cases to see what is due."
)
NOT_YOURS = "That case is not on your caseload any more, so there is nothing to snooze."


def due_reminders(
    instrument: Instrument, cases: Sequence[CaseSummary], on: date, due_soon_days: int
) -> list[DueReminder]:
    """The open cases due soon or overdue on `on`, most overdue first."""
    found = []
    for case in cases:
        if case.young_person.closed_on is not None or case.baseline_on is None:
            continue
        if case.latest_on is None or case.latest_kind is None:
            continue
        due = next_due_after(
            case.baseline_on, case.latest_on, AssessmentKind(case.latest_kind), instrument.timing
        )
        status = due_status(due, on, due_soon_days)
        if due is None or status not in (DueStatus.DUE_SOON, DueStatus.OVERDUE):
            continue
        kind = OVERDUE if status is DueStatus.OVERDUE else DUE_SOON
        found.append(DueReminder(case.young_person.id, case.young_person.reference, due, kind))
    return sorted(found, key=lambda item: (item.due_on, item.reference))


def reminder_screen(
    items: Sequence[DueReminder], snoozed: Mapping[str, date] | None = None
) -> Screen:
    """The reminder: one line and a row of buttons per case; snoozed cases listed after."""
    lines = ["<b>Reviews to do</b>"]
    rows: list[list[tuple[str, str]]] = []
    for item in items:
        reference = html.escape(item.reference)
        if item.kind == OVERDUE:
            lines.append(f"<b>{reference}</b> · review OVERDUE since {short_date(item.due_on)}")
        else:
            lines.append(f"<b>{reference}</b> · review due {short_date(item.due_on)}")
        rows.append([(f"Start {item.reference}", pack(Act.PICK_CASE, item.young_person_id))])
        rows.append(
            [
                (_snooze_label(days), pack(SNOOZE, item.young_person_id, _day(item.due_on), days))
                for days in SNOOZE_DAYS
            ]
        )
    if not items:
        lines.append("Nothing else is due just now.")
    for reference, until in sorted((snoozed or {}).items()):
        lines.append(f"{html.escape(reference)} · snoozed until {short_date(until)}")
    if items:
        lines.append("\nTap Start to begin a review, or snooze a reminder.")
    return screen("\n".join(lines), rows)


async def snooze_reminder(update: Update, context: ApartContext) -> None:
    """Hold back one case's reminder for a day or a week, then show what is left."""
    callback = unpack(update.callback_query.data if update.callback_query else None)
    young_person_id, days = callback.int_arg(0), callback.int_arg(2)
    due_on = _parse_day(callback.arg(1))
    if young_person_id is None or due_on is None or days not in SNOOZE_DAYS:
        await answer(context, OUT_OF_DATE, alert=True)
        return

    services = context.services
    staff = context.require_staff()
    now = today(services.clock, services.tz)
    cases = await services.store.caseload(staff)
    due = due_reminders(services.instrument, cases, now, services.settings.due_soon_days)
    if not any(i.young_person_id == young_person_id and i.due_on == due_on for i in due):
        await answer(context, OUT_OF_DATE, alert=True)
        return
    until = now + timedelta(days=days)
    young_person = await services.store.snooze(staff, young_person_id, due_on, until)
    if young_person is None:
        await answer(context, NOT_YOURS, alert=True)
        return

    await answer(
        context, f"I will remind you about {young_person.reference} on {until:%a %-d %b}."
    )
    await _refresh(update, context, due, now)


async def _refresh(
    update: Update, context: ApartContext, due: Sequence[DueReminder], now: date
) -> None:
    message = update.callback_query.message if update.callback_query else None
    if message is None:
        return
    snoozes = await context.services.store.snoozed(context.require_staff(), now)
    left = [i for i in due if (i.young_person_id, i.due_on) not in snoozes]
    snoozed = {i.reference: snoozes[i.young_person_id, i.due_on] for i in due if i not in left}
    await edit(context, message.chat.id, message.message_id, reminder_screen(left, snoozed))


def _snooze_label(days: int) -> str:
    return "Snooze 1 day" if days == 1 else f"Snooze {days // 7} week"


def _day(day: date) -> str:
    return f"{day:%Y%m%d}"


def _parse_day(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else None
    except ValueError:
        return None


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """The snooze buttons of a reminder."""
    return [CallbackQueryHandler(snooze_reminder, pattern=pattern(SNOOZE))]
