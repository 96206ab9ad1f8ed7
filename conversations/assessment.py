"""The assessment flow: pick a case, date it, answer every item, review the summary, submit.

The draft's place (its step and current item) lives in the store, not in memory, so a
restart, a timeout or a lost connection leaves it exactly where it was. Every button names
the draft and, where it matters, the item it was drawn for; the store takes an answer only
while the draft is still on that item, which makes old buttons and double taps harmless.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, TypeHandler

from apart_engine.errors import InvalidAdjustmentError
from apart_engine.instrument import AssessmentKind, ItemKind, SectionRole
from apart_engine.schedule import DueStatus, due_status, next_due_after
from apart_engine.scoring import (
    AssessmentScores,
    BandAdjustment,
    allowed_adjustments,
    check_adjustment,
    score_assessment,
)
from bot.callbacks import pack, pattern, unpack
from bot.chat import Screen, answer, delete, edit, remove_keyboard, screen, send, show
from bot.clock import today
from bot.errors import InvalidDateError
from bot.references import personal_data_in
from bot.store import Adjustment, AnswerOutcome, Assessment, Status
from conversations.screens import (
    KEEP,
    SKIP,
    UNKNOWN,
    Act,
    ItemView,
    Step,
    adjust_screen,
    change_screen,
    confirm_screen,
    date_screen,
    item_screen,
    kind_name,
    note_prompt_screen,
    paused_screen,
    reason_prompt_screen,
    resume_offer_rows,
    short_date,
    submitted_screen,
    summary_screen,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from telegram.ext import JobQueue

    from apart_engine.instrument import Item
    from bot.app import ApartApplication, ApartContext, Services
    from bot.store import CaseSummary, JsonValue, Staff, YoungPerson

logger = logging.getLogger(__name__)

MAX_NOTE_LENGTH = 500
MAX_REASON_LENGTH = 300
CASES_PER_PAGE = 8
EARLIEST_DATE = date(2000, 1, 1)

# Typed input the flow waits for, by the kind stored in chat_state.
AWAIT_DATE = "date"
AWAIT_NOTE = "note"
AWAIT_REASON = "reason"

_STALE = "That button is out of date. Use the latest message, or send /assess."
_CLOSED = "That assessment is no longer open. Send /assess to see your cases."
_MOVED_ON = "That question has moved on. Use the buttons on the latest message."


# Entry points


async def start_assessment(update: Update, context: ApartContext) -> None:
    """/assess: offer open drafts to resume, and the caseload to start a new assessment."""
    await context.services.store.stop_awaiting(context.require_staff())
    await show_case_menu(context, page=0)


async def show_case_menu(context: ApartContext, page: int) -> None:
    """The drafts to resume or discard, then the cases without a draft, a page at a time."""
    store = context.services.store
    staff = context.require_staff()
    cases = await store.caseload(staff)

    if not cases:
        await show(context, screen("You have no young people yet. Send /new to register one."))
        return

    drafts = [
        d
        for d in [await store.assessment(c.draft_id, staff) for c in cases if c.draft_id]
        if d is not None
    ]
    startable = [c for c in cases if c.draft_id is None and c.young_person.closed_on is None]
    pages = max(1, -(-len(startable) // CASES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = startable[page * CASES_PER_PAGE : (page + 1) * CASES_PER_PAGE]

    lines = []
    if drafts:
        lines.append("<b>Unfinished</b>: resume or discard.")
    if shown:
        lines.append("<b>Start an assessment</b>: tap a young person.")
    elif not drafts:
        lines.append("Every case is closed. Send /new to register a young person.")
    rows = resume_offer_rows(drafts)
    rows += [
        [(_case_label(context, case), pack(Act.PICK_CASE, case.young_person.id))] for case in shown
    ]
    paging = []
    if page > 0:
        paging.append(("‹ Previous", pack(Act.PICK_CASE, "p", page - 1)))
    if page < pages - 1:
        paging.append(("Next ›", pack(Act.PICK_CASE, "p", page + 1)))
    if paging:
        rows.append(paging)
    await show(context, screen("\n".join(lines), rows))


async def pick_case(update: Update, context: ApartContext) -> None:
    """A case was tapped: resume its draft, start its baseline, or offer review or closure."""
    callback = unpack(_data(update))
    if callback.arg(0) == "p":
        await answer(context)
        await show_case_menu(context, page=callback.int_arg(1) or 0)
        return

    young_person = await _visible_young_person(context, callback.int_arg(0))
    if young_person is None:
        return
    store = context.services.store
    if young_person.closed_on is not None:
        await answer(
            context,
            f"{young_person.reference} was closed on {short_date(young_person.closed_on)}.",
            alert=True,
        )
        return

    draft = await store.draft_for(young_person.id)
    if draft is not None:
        await answer(context)
        await present(context, draft)
        return
    history = await store.submitted(young_person.id)
    if not history:
        await _open_draft(context, young_person, AssessmentKind.BASELINE)
        return

    await answer(context)
    due = _next_due(context, history)
    when = f"Next review due {short_date(due)}." if due else ""
    text = f"<b>{_e(young_person.reference)}</b>\n{when}\nWhich assessment is this?"
    rows = [
        [("Review", pack(Act.START, young_person.id, AssessmentKind.REVIEW.value))],
        [
            (
                "Closure (the case is ending)",
                pack(Act.START, young_person.id, AssessmentKind.CLOSURE.value),
            )
        ],
        [("‹ Back", pack(Act.PICK_CASE, "p", 0))],
    ]
    await show(context, screen(text, rows))


async def choose_kind(update: Update, context: ApartContext) -> None:
    """Start the review or closure assessment the practitioner chose."""
    callback = unpack(_data(update))
    young_person = await _visible_young_person(context, callback.int_arg(0))
    if young_person is None:
        return
    try:
        kind = AssessmentKind(callback.arg(1))
    except ValueError:
        await answer(context, _STALE)
        return

    store = context.services.store
    draft = await store.draft_for(young_person.id)
    if draft is not None:
        await answer(context)
        await present(context, draft)
        return
    has_baseline = bool(await store.submitted(young_person.id))
    if young_person.closed_on is not None or has_baseline != (kind != AssessmentKind.BASELINE):
        await answer(context, _STALE)
        return
    await _open_draft(context, young_person, kind)


async def resume_draft(update: Update, context: ApartContext) -> None:
    """Show an open draft where it was left."""
    draft = await _open_draft_from(update, context)
    if draft is None:
        return
    await answer(context)
    await present(context, draft)


async def ask_discard(update: Update, context: ApartContext) -> None:
    """Ask before discarding a draft."""
    draft = await _open_draft_from(update, context)
    if draft is None:
        return
    await answer(context)
    text = (
        f"Discard the unfinished {kind_name(draft.kind)} for {_e(draft.reference)}? "
        "Its answers will not count."
    )
    rows = [
        [("Yes, discard", pack(Act.DISCARD_CONFIRMED, draft.id))],
        [("Keep it", pack(Act.RESUME, draft.id))],
    ]
    await show(context, screen(text, rows))


async def confirm_discard(update: Update, context: ApartContext) -> None:
    """Discard the draft; its rows stay in the store, marked discarded."""
    draft = await _open_draft_from(update, context)
    if draft is None:
        return
    store = context.services.store
    staff = context.require_staff()
    await store.stop_awaiting(staff)
    discarded = await store.discard(draft, staff)
    await answer(context, "Discarded." if discarded else _CLOSED)
    await show(
        context,
        screen(f"The draft for {_e(draft.reference)} was discarded. Send /assess to start again."),
    )


# The date


async def choose_today(update: Update, context: ApartContext) -> None:
    """Date the assessment today."""
    draft = await _open_draft_from(update, context, step=Step.DATE)
    if draft is None:
        return
    await answer(context)
    await _set_date(context, draft, today(context.services.clock, context.services.tz))


async def receive_date(update: Update, context: ApartContext, payload: dict[str, Any]) -> None:
    """A typed assessment date: read it, check it, and move on to the first item."""
    draft = await _draft_by_id(context, payload.get("draft"))
    message = update.effective_message
    if draft is None or draft.step != Step.DATE or message is None or message.text is None:
        await context.services.store.stop_awaiting(context.require_staff())
        await send(context, screen(_e(_CLOSED)))
        return
    try:
        day = parse_date(message.text, today(context.services.clock, context.services.tz))
        await _set_date(context, draft, day, typed=True)
    except InvalidDateError as error:
        await send(context, screen(_e(str(error))))


async def _set_date(
    context: ApartContext, draft: Assessment, day: date, *, typed: bool = False
) -> None:
    store = context.services.store
    history = await store.submitted(draft.young_person_id)
    latest = max((a.assessed_on for a in history if a.assessed_on), default=None)
    check_assessment_date(day, today(context.services.clock, context.services.tz), latest)

    first = _items(context, draft)[0]
    if not await store.set_assessed_on(draft, day, step=Step.ITEM, current_item=first.id):
        await answer(context, _MOVED_ON)
        return
    await store.stop_awaiting(context.require_staff())
    moved = await store.assessment(draft.id, context.require_staff())
    assert moved is not None
    # A typed date sits below the prompt, so the flow carries on in a fresh message.
    await present(context, moved, fresh=typed)


def parse_date(text: str, today_: date) -> date:
    """A typed date such as 12/01/2026, 12-1-26, 2026-01-12, 12 Jan 2026, today or yesterday."""
    cleaned = " ".join(text.strip().lower().replace(",", " ").split())
    if cleaned in _RELATIVE_DAYS:
        return today_ - timedelta(days=_RELATIVE_DAYS[cleaned])
    numeric = re.sub(r"[.\-](?=\d)", "/", cleaned)
    for form in ("%d/%m/%Y", "%d/%m/%y", "%Y/%m/%d", "%d %b %Y", "%d %B %Y"):
        candidate = numeric if "/" in form else cleaned
        try:
            # A calendar day: UTC only keeps the datetime from being naive before .date().
            return datetime.strptime(candidate, form).replace(tzinfo=UTC).date()
        except ValueError:
            continue
    if _NUMERIC_DATE.match(numeric):
        raise InvalidDateError(
            f"There is no such day as {text.strip()}. Check the day and the month "
            "(day first, as in 12/01/2026)."
        )
    raise InvalidDateError(
        "I could not read that as a date. Type it like 12/01/2026 (day, month, year), "
        "or tap Today."
    )


_RELATIVE_DAYS = {"today": 0, "yesterday": 1}
_NUMERIC_DATE = re.compile(r"^\d{1,4}/\d{1,2}/\d{1,4}$")


def check_assessment_date(day: date, today_: date, latest: date | None) -> None:
    """Refuse a date in the future, before the last assessment, or implausibly old."""
    if day > today_:
        raise InvalidDateError(
            f"{short_date(day)} is in the future. Type the day the assessment was done."
        )
    if latest is not None and day < latest:
        raise InvalidDateError(
            f"{short_date(day)} is before the last assessment ({short_date(latest)}). "
            "Type a date on or after it."
        )
    if day < EARLIEST_DATE:
        raise InvalidDateError(f"{short_date(day)} looks like a typing slip. Check the year.")


# Items


async def choose_value(update: Update, context: ApartContext) -> None:
    """A rating, an option, a number, Unknown, Skip or Unchanged was tapped for an item."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context)
    if draft is None:
        return
    item = _item_or_none(context, callback.arg(1))
    if item is None:
        await answer(context, _STALE)
        return
    value = await _value_from(context, draft, item, callback.arg(2))
    if isinstance(value, _Invalid):
        await answer(context, _STALE)
        return
    await _store_answer(context, draft, item, value, advance=True)


async def toggle_option(update: Update, context: ApartContext) -> None:
    """Tick or untick one option of a multichoice item."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.ITEM)
    if draft is None:
        return
    item = _item_or_none(context, callback.arg(1))
    index = callback.int_arg(2)
    if (
        item is None
        or item.kind is not ItemKind.MULTICHOICE
        or index is None
        or index >= len(item.options)
        or draft.current_item != item.id
    ):
        await answer(context, _MOVED_ON if item else _STALE)
        return
    answers = await context.services.store.answers(draft.id)
    picked = answers.get(item.id)
    chosen = toggled(item, picked if isinstance(picked, list) else [], item.options[index].id)
    await _store_answer(context, draft, item, chosen, advance=False)


def toggled(item: Item, picked: list[str], option_id: str) -> list[str]:
    """The ticked options after tapping one; an exclusive option ('none') clears the rest."""
    if option_id in picked:
        return [o for o in picked if o != option_id]
    if option_id in item.exclusive:
        return [option_id]
    kept = [o for o in picked if o not in item.exclusive]
    return [o.id for o in item.options if o.id in kept or o.id == option_id]


async def finish_options(update: Update, context: ApartContext) -> None:
    """Done with a multichoice item: keep what is ticked and move on."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.ITEM)
    if draft is None:
        return
    item = _item_or_none(context, callback.arg(1))
    if item is None or item.kind is not ItemKind.MULTICHOICE:
        await answer(context, _STALE)
        return
    answers = await context.services.store.answers(draft.id)
    picked = answers.get(item.id)
    await _store_answer(
        context, draft, item, picked if isinstance(picked, list) else [], advance=True
    )


async def keep_all_background(update: Update, context: ApartContext) -> None:
    """At a review: every background item stays as on record, in one tap."""
    draft = await _open_draft_from(update, context, step=Step.ITEM)
    if draft is None:
        return
    store = context.services.store
    staff = context.require_staff()
    on_record = await _on_record(context, draft)
    context_items = [
        i
        for i in _items(context, draft)
        if _role_of(context, i) is SectionRole.CONTEXT and i.id in on_record
    ]
    for item in context_items:
        current = await store.assessment(draft.id, staff)
        if current is None or current.current_item != item.id:
            break
        step, following, editing = _after(context, current, item)
        await store.record_answer(
            current,
            item.id,
            on_record[item.id],
            staff,
            next_step=step,
            next_item=following,
            editing=editing,
        )
    await answer(context, "Background kept as on record.")
    moved = await store.assessment(draft.id, staff)
    if moved is not None:
        await present(context, moved)


async def go_back(update: Update, context: ApartContext) -> None:
    """Back to the previous item (or to the date before the first item)."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.ITEM)
    if draft is None:
        return
    if draft.current_item != callback.arg(1):
        await answer(context, _MOVED_ON)
        return
    items = _items(context, draft)
    index = [i.id for i in items].index(draft.current_item)
    if index == 0:
        moved = await context.services.store.move(
            draft, step=Step.DATE, current_item=None, editing=False
        )
    else:
        moved = await context.services.store.move(
            draft, step=Step.ITEM, current_item=items[index - 1].id, editing=False
        )
    await answer(context)
    if moved:
        await _present_latest(context, draft)


async def pause(update: Update, context: ApartContext) -> None:
    """Put the draft aside; it stays where it is."""
    draft = await _open_draft_from(update, context)
    if draft is None:
        return
    await context.services.store.stop_awaiting(context.require_staff())
    await answer(context, "Paused. Your answers are saved.")
    await show(context, paused_screen(draft, "Paused."))


# Notes


async def ask_note(update: Update, context: ApartContext) -> None:
    """Ask for a note on the item on screen."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.ITEM)
    if draft is None:
        return
    item = _item_or_none(context, callback.arg(1))
    if item is None or draft.current_item != item.id:
        await answer(context, _MOVED_ON)
        return
    await answer(context)
    shown_on = await show(context, note_prompt_screen(draft, item))
    await context.services.store.await_text(
        context.require_staff(),
        AWAIT_NOTE,
        {"draft": draft.id, "item": item.id, "prompt": shown_on},
        shown_on,
    )
    if shown_on is not None and update.effective_chat is not None:
        await context.services.store.show_on(draft, update.effective_chat.id, shown_on)


async def receive_note(update: Update, context: ApartContext, payload: dict[str, Any]) -> None:
    """A typed note: store it, delete it from the chat, and show the item again."""
    store = context.services.store
    staff = context.require_staff()
    draft = await _draft_by_id(context, payload.get("draft"))
    message = update.effective_message
    item = _item_or_none(context, str(payload.get("item", "")))
    if draft is None or item is None or message is None or message.text is None:
        await store.stop_awaiting(staff)
        await send(context, screen(_e(_CLOSED)))
        return
    text = message.text.strip()
    if not text or len(text) > MAX_NOTE_LENGTH:
        warning = (
            f"A note must be 1 to {MAX_NOTE_LENGTH} characters; yours had {len(text)}. "
            "Send a shorter one, or tap Cancel note."
        )
        await _ask_again(context, message, payload, note_prompt_screen(draft, item, warning))
        return
    concerns = personal_data_in(text)
    if concerns:
        await _confirm_flagged_note(context, message, payload, draft, item, text, concerns)
        return

    await store.save_note(draft, item.id, text, staff)
    await store.stop_awaiting(staff)
    deleted = await delete(context, message.chat_id, message.message_id)
    if not deleted:
        await send(
            context,
            screen("Note saved. I could not delete your message: please delete it yourself."),
        )
    await _present_latest(context, draft, in_place_of=_prompt(message, payload))


async def _confirm_flagged_note(
    context: ApartContext,
    message: Message,
    payload: dict[str, Any],
    draft: Assessment,
    item: Item,
    text: str,
    concerns: list[str],
) -> None:
    """Hold a note that may identify someone until it is confirmed or typed again."""
    # The note waits in the chat state (the same database), never in memory, until decided.
    await context.services.store.await_text(
        context.require_staff(), AWAIT_NOTE, {**payload, "pending": text}, payload.get("prompt")
    )
    warning = (
        f"Your note seems to contain {' and '.join(concerns)}. Notes must not identify anyone. "
        "Type it again without that, or tap Save anyway if it is safe."
    )
    view = note_prompt_screen(draft, item, warning)
    save = (("Save anyway", pack(Act.SAVE_NOTE, draft.id, item.id)),)
    await _ask_again(context, message, payload, dataclasses.replace(view, rows=(save, *view.rows)))


async def save_flagged_note(update: Update, context: ApartContext) -> None:
    """Save anyway: store the note held back for a second look."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.ITEM)
    if draft is None:
        return
    store = context.services.store
    staff = context.require_staff()
    awaiting = context.awaiting
    pending = awaiting.payload.get("pending") if awaiting else None
    if (
        awaiting is None
        or awaiting.kind != AWAIT_NOTE
        or awaiting.payload.get("draft") != draft.id
        or awaiting.payload.get("item") != callback.arg(1)
        or not isinstance(pending, str)
    ):
        await answer(context, _MOVED_ON)
        return
    await store.save_note(draft, callback.arg(1), pending, staff)
    await store.stop_awaiting(staff)
    await answer(context, "Note saved.")
    await _present_latest(context, draft)


async def _ask_again(
    context: ApartContext, message: Message, payload: dict[str, Any], view: Screen
) -> None:
    """Refuse typed text in place: delete it, and show the prompt again with why."""
    await delete(context, message.chat_id, message.message_id)
    prompt = _prompt(message, payload)
    if prompt is None or not await edit(context, *prompt, view):
        await send(context, view)


def _prompt(message: Message, payload: dict[str, Any]) -> tuple[int, int] | None:
    """The chat message that asked for the typed text, as (chat id, message id)."""
    prompt = payload.get("prompt")
    return (message.chat_id, prompt) if isinstance(prompt, int) else None


async def cancel_input(update: Update, context: ApartContext) -> None:
    """Stop waiting for a typed note or reason and show the draft again."""
    draft = await _open_draft_from(update, context)
    if draft is None:
        return
    await context.services.store.stop_awaiting(context.require_staff())
    await answer(context)
    await present(context, draft)


# Summary, changes, band adjustments, submission


async def show_summary(update: Update, context: ApartContext) -> None:
    """Back to the summary from an item, the change list, an adjustment or the confirmation."""
    draft = await _open_draft_from(update, context)
    if draft is None:
        return
    if draft.step in (Step.DATE, Step.ITEM) and not draft.editing:
        await answer(context, _MOVED_ON)
        return
    await context.services.store.stop_awaiting(context.require_staff())
    await context.services.store.move(draft, step=Step.SUMMARY, current_item=None, editing=False)
    await answer(context)
    await _present_latest(context, draft)


async def list_items_to_change(update: Update, context: ApartContext) -> None:
    """A page of items to pick one to change."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context)
    if draft is None or not await _at_summary_stage(context, draft):
        return
    await context.services.store.move(draft, step=Step.CHANGE, current_item=None, editing=False)
    await answer(context)
    answers = await context.services.store.answers(draft.id)
    await show(
        context,
        change_screen(
            context.services.instrument,
            draft,
            _items(context, draft),
            answers,
            callback.int_arg(1) or 0,
        ),
    )


async def edit_item(update: Update, context: ApartContext) -> None:
    """Open one item from the change list; answering it returns to the summary."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.CHANGE)
    if draft is None:
        return
    item = _item_or_none(context, callback.arg(1))
    if item is None or item not in _items(context, draft):
        await answer(context, _STALE)
        return
    await context.services.store.move(draft, step=Step.ITEM, current_item=item.id, editing=True)
    await answer(context)
    await _present_latest(context, draft)


async def offer_adjustment(update: Update, context: ApartContext) -> None:
    """Show the bands the practitioner may choose instead of the computed one."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context)
    if draft is None or not await _at_summary_stage(context, draft):
        return
    section = _section_or_none(context, callback.arg(1))
    if section is None:
        await answer(context, _STALE)
        return
    scores, _ = await _scores(context, draft)
    result = scores.section(section.id)
    await context.services.store.move(draft, step=Step.ADJUST, current_item=None, editing=False)
    await answer(context)
    instrument = context.services.instrument
    await show(
        context,
        adjust_screen(
            draft,
            section.title,
            section.id,
            result,
            allowed_adjustments(instrument, result),
            instrument.band_names(section.id),
        ),
    )


async def choose_band(update: Update, context: ApartContext) -> None:
    """A band was chosen: ask for the reason before storing it."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.ADJUST)
    if draft is None:
        return
    instrument = context.services.instrument
    section = _section_or_none(context, callback.arg(1))
    index = callback.int_arg(2)
    names = instrument.band_names(section.id) if section else ()
    if section is None or index is None or index >= len(names):
        await answer(context, _STALE)
        return
    scores, _ = await _scores(context, draft)
    result = scores.section(section.id)
    if names[index] not in allowed_adjustments(instrument, result):
        await answer(context, "That band is not one step from the computed band.", alert=True)
        return
    await answer(context)
    shown_on = await show(
        context, reason_prompt_screen(draft, names[index], result.computed_band or "-")
    )
    await context.services.store.await_text(
        context.require_staff(),
        AWAIT_REASON,
        {
            "draft": draft.id,
            "section": section.id,
            "band": names[index],
            "prompt": shown_on,
        },
        shown_on,
    )


async def receive_reason(update: Update, context: ApartContext, payload: dict[str, Any]) -> None:
    """The typed reason for a band adjustment: check it, store it, show the summary."""
    store = context.services.store
    staff = context.require_staff()
    draft = await _draft_by_id(context, payload.get("draft"))
    section = _section_or_none(context, str(payload.get("section", "")))
    message = update.effective_message
    if draft is None or section is None or message is None or message.text is None:
        await store.stop_awaiting(staff)
        await send(context, screen(_e(_CLOSED)))
        return
    reason = message.text.strip()
    scores, _ = await _scores(context, draft)
    result = scores.section(section.id)
    adjustment = BandAdjustment(band=str(payload.get("band", "")), reason=reason)
    try:
        if len(reason) > MAX_REASON_LENGTH:
            raise InvalidAdjustmentError(
                f"A reason must be at most {MAX_REASON_LENGTH} characters; yours had "
                f"{len(reason)}. Send a shorter one, or tap Cancel."
            )
        check_adjustment(context.services.instrument, result, adjustment)
    except InvalidAdjustmentError as error:
        computed = result.computed_band or "-"
        view = reason_prompt_screen(draft, adjustment.band, computed, warning=str(error))
        await _ask_again(context, message, payload, view)
        return

    stored = Adjustment(adjustment.band, adjustment.reason, result.computed_band)
    await store.adjust_band(draft, section.id, stored, staff)
    await store.stop_awaiting(staff)
    await store.move(draft, step=Step.SUMMARY, current_item=None, editing=False)
    await delete(context, message.chat_id, message.message_id)
    await _present_latest(context, draft, in_place_of=_prompt(message, payload))


async def reset_band(update: Update, context: ApartContext) -> None:
    """Drop the practitioner's band and use the computed one again."""
    callback = unpack(_data(update))
    draft = await _open_draft_from(update, context, step=Step.ADJUST)
    if draft is None:
        return
    section = _section_or_none(context, callback.arg(1))
    if section is None:
        await answer(context, _STALE)
        return
    store = context.services.store
    await store.clear_adjustment(draft, section.id, context.require_staff())
    await store.move(draft, step=Step.SUMMARY, current_item=None, editing=False)
    await answer(context, "Back to the computed band.")
    await _present_latest(context, draft)


async def ask_submit(update: Update, context: ApartContext) -> None:
    """Ask for one confirmation before submitting."""
    draft = await _open_draft_from(update, context, step=Step.SUMMARY)
    if draft is None:
        return
    missing = await _first_unanswered(context, draft)
    store = context.services.store
    if missing is not None:
        await store.move(draft, step=Step.ITEM, current_item=missing.id, editing=True)
        await answer(context, f"{missing.label} is not answered yet.", alert=True)
        await _present_latest(context, draft)
        return
    await store.move(draft, step=Step.CONFIRM, current_item=None, editing=False)
    await answer(context)
    await show(context, confirm_screen(draft))


async def confirm_submit(update: Update, context: ApartContext) -> None:
    """Submit: score from the stored answers, store the scores, show the next due date."""
    draft = await _open_draft_from(update, context, step=Step.CONFIRM)
    if draft is None:
        return
    store = context.services.store
    staff = context.require_staff()
    scores, _ = await _scores(context, draft)
    submitted = await store.submit(
        draft,
        staff,
        scores=_scores_record(context, scores),
        risk=(scores.risk.score, scores.risk.band),
        resilience=(scores.resilience.score, scores.resilience.band),
        closes_case=draft.kind == AssessmentKind.CLOSURE,
    )
    if not submitted:
        await answer(context, "Already submitted.")
        return
    logger.info("Assessment %s submitted for young person %s", draft.id, draft.young_person_id)
    await answer(context, "Submitted.")
    history = await store.submitted(draft.young_person_id)
    await show(
        context,
        submitted_screen(context.services.instrument, draft, scores, _next_due(context, history)),
    )


# Showing a draft


async def present(
    context: ApartContext,
    draft: Assessment,
    *,
    fresh: bool = False,
    in_place_of: tuple[int, int] | None = None,
) -> None:
    """Show the draft's current step, and remember which message shows it."""
    store = context.services.store
    staff = context.require_staff()
    view = await render(context, draft)

    if in_place_of is not None and await edit(context, *in_place_of, view):
        chat_id, message_id = in_place_of
    else:
        live = _live_message(draft)
        if fresh and live is not None:
            # Only the newest message may carry buttons, so the old one cannot be tapped.
            await remove_keyboard(context, *live)
        shown = await show(context, view, fresh=fresh)
        chat = context.current_update.effective_chat if context.current_update else None
        if shown is None or chat is None:
            return
        chat_id, message_id = chat.id, shown

    if (draft.chat_id, draft.message_id) != (chat_id, message_id):
        await store.show_on(draft, chat_id, message_id)
    if draft.step == Step.DATE:
        await store.await_text(staff, AWAIT_DATE, {"draft": draft.id}, message_id)


async def render(context: ApartContext, draft: Assessment) -> Any:
    """The screen for the step the draft is on."""
    services = context.services
    instrument = services.instrument
    if draft.step == Step.DATE:
        history = await services.store.submitted(draft.young_person_id)
        latest = max((a.assessed_on for a in history if a.assessed_on), default=None)
        return date_screen(draft, today(services.clock, services.tz), latest)
    if draft.step == Step.ITEM and draft.current_item is not None:
        return await _item_view(context, draft)
    if draft.step == Step.CONFIRM:
        return confirm_screen(draft)
    scores, dropped = await _scores(context, draft)
    notes = await services.store.notes(draft.id)
    view = summary_screen(instrument, draft, scores, notes)
    if dropped:
        names = ", ".join(instrument.section_by_id(s).title for s in dropped)
        view = dataclasses.replace(
            view,
            text=view.text
            + (
                f"\n<i>Your band adjustment for {_e(names)} no longer applies because the "
                "computed band changed; set it again if you still judge so.</i>"
            ),
        )
    return view


async def _item_view(context: ApartContext, draft: Assessment) -> Any:
    store = context.services.store
    instrument = context.services.instrument
    assert draft.current_item is not None
    item = instrument.item(draft.current_item)
    answers, notes = await store.answers_and_notes(draft.id)
    role = _role_of(context, item)
    # Only background items have a record to show, and reading it takes a query per
    # earlier assessment, so rating screens skip it.
    on_record = await _on_record(context, draft) if role is SectionRole.CONTEXT else {}
    same_role = [i for i in _items(context, draft) if _role_of(context, i) is role]
    first_background = (
        draft.kind != AssessmentKind.BASELINE
        and role is SectionRole.CONTEXT
        and same_role[0].id == item.id
        and not draft.editing
        and bool(on_record)
    )
    view = ItemView(
        draft=draft,
        item=item,
        position=same_role.index(item) + 1,
        count=len(same_role),
        answer=answers.get(item.id),
        answered=item.id in answers,
        note=notes.get(item.id),
        on_record=on_record.get(item.id),
        has_record=item.id in on_record,
        first_of_review_background=first_background,
    )
    return item_screen(instrument, view)


async def _present_latest(
    context: ApartContext, draft: Assessment, *, in_place_of: tuple[int, int] | None = None
) -> None:
    latest = await context.services.store.assessment(draft.id, context.require_staff())
    if latest is not None and latest.status == Status.DRAFT:
        await present(context, latest, in_place_of=in_place_of)


async def _store_answer(
    context: ApartContext, draft: Assessment, item: Item, value: JsonValue, *, advance: bool
) -> None:
    store = context.services.store
    if advance:
        step, following, editing = _after(context, draft, item)
    else:
        step, following, editing = Step.ITEM, item.id, draft.editing
    outcome = await store.record_answer(
        draft,
        item.id,
        value,
        context.require_staff(),
        next_step=step,
        next_item=following,
        editing=editing,
    )
    if outcome in (AnswerOutcome.UNCHANGED, AnswerOutcome.MOVED_ON):
        await answer(context, None if outcome is AnswerOutcome.UNCHANGED else _MOVED_ON)
        if _tapped_on_live_message(context, draft):
            # The draft moved on but the message showing it did not (the bot stopped between
            # storing an answer and redrawing): show where the draft really is.
            await _present_latest(context, draft)
        return
    if outcome is AnswerOutcome.CLOSED:
        await answer(context, _CLOSED)
        return
    await answer(context)
    await _present_latest(context, draft)


def _tapped_on_live_message(context: ApartContext, draft: Assessment) -> bool:
    query = context.current_update.callback_query if context.current_update else None
    message = query.message if query is not None else None
    return message is not None and message.message_id == draft.message_id


def _after(context: ApartContext, draft: Assessment, item: Item) -> tuple[Step, str | None, bool]:
    """Where the draft goes once `item` is answered."""
    if draft.editing:
        return Step.SUMMARY, None, False
    items = _items(context, draft)
    index = items.index(item)
    if index + 1 < len(items):
        return Step.ITEM, items[index + 1].id, False
    return Step.SUMMARY, None, False


class _Invalid:
    """The answer of a forged or stale button."""


_INVALID = _Invalid()


async def _value_from(
    context: ApartContext, draft: Assessment, item: Item, token: str
) -> JsonValue | _Invalid:
    """The answer a VALUE button stands for, or _INVALID for a forged or stale one."""
    if token == KEEP:
        on_record = await _on_record(context, draft)
        return on_record.get(item.id, _INVALID)
    if token == SKIP:
        return None if item.optional else _INVALID
    if item.kind is ItemKind.RATING:
        if token == UNKNOWN:
            return None
        values = {
            str(p.value): p.value for p in context.services.instrument.section_of(item.id).scale
        }
        return values.get(token, _INVALID)
    if item.kind is ItemKind.CHOICE and token.isdecimal() and int(token) < len(item.options):
        return item.options[int(token)].id
    if item.kind is ItemKind.NUMBER and token.isdecimal():
        number = int(token)
        low = item.minimum if item.minimum is not None else number
        high = item.maximum if item.maximum is not None else number
        return number if low <= number <= high else _INVALID
    return _INVALID


async def _on_record(context: ApartContext, draft: Assessment) -> dict[str, JsonValue]:
    """At a review or closure: the background as the last submitted assessment left it."""
    if draft.kind == AssessmentKind.BASELINE:
        return {}
    record = await context.services.store.answers_on_record(draft.young_person_id)
    instrument = context.services.instrument
    wanted = {i.id for i in _items(context, draft) if _role_of(context, i) is SectionRole.CONTEXT}
    per_assessment = {i.id for i in instrument.items_for(AssessmentKind.REVIEW)} - {
        i.id for i in instrument.items_for(AssessmentKind.BASELINE)
    }
    return {k: v for k, v in record.items() if k in wanted and k not in per_assessment}


async def _scores(context: ApartContext, draft: Assessment) -> tuple[AssessmentScores, list[str]]:
    """Score the stored answers; adjustments that no longer fit are dropped and named."""
    store = context.services.store
    instrument = context.services.instrument
    answers = await store.answers(draft.id)
    ratings = {
        i.id: v
        for i in instrument.rating_items
        if i.id in answers
        for v in [answers[i.id]]
        if v is None or isinstance(v, int)
    }
    plain = score_assessment(instrument, ratings)
    adjustments: dict[str, BandAdjustment] = {}
    dropped: list[str] = []
    for section_id, stored in (await store.adjustments(draft.id)).items():
        adjustment = BandAdjustment(band=stored.band, reason=stored.reason)
        try:
            section = plain.section(section_id)
            if stored.computed_band not in (None, section.computed_band):
                # The reason was written against another computed band; it no longer holds.
                raise InvalidAdjustmentError("the computed band has changed")
            check_adjustment(instrument, section, adjustment)
        except (InvalidAdjustmentError, KeyError):
            await store.clear_adjustment(draft, section_id, context.require_staff())
            dropped.append(section_id)
            continue
        adjustments[section_id] = adjustment
    if not adjustments:
        return plain, dropped
    return score_assessment(instrument, ratings, adjustments), dropped


def _scores_record(context: ApartContext, scores: AssessmentScores) -> dict[str, Any]:
    instrument = context.services.instrument
    return {
        "instrument": {"id": instrument.id, "version": instrument.version},
        "sections": [dataclasses.asdict(section) for section in scores.sections],
    }


async def _first_unanswered(context: ApartContext, draft: Assessment) -> Item | None:
    answers = await context.services.store.answers(draft.id)
    return next((i for i in _items(context, draft) if i.id not in answers), None)


def _next_due(context: ApartContext, history: list[Assessment]) -> date | None:
    baseline = next((a.assessed_on for a in history if a.kind == AssessmentKind.BASELINE), None)
    latest = history[-1] if history else None
    if baseline is None or latest is None or latest.assessed_on is None:
        return None
    return next_due_after(
        baseline,
        latest.assessed_on,
        AssessmentKind(latest.kind),
        context.services.instrument.timing,
    )


def case_due(context: ApartContext, case: CaseSummary) -> tuple[date | None, DueStatus | None]:
    """When the case's next review is due and how that stands today."""
    if case.baseline_on is None or case.latest_on is None or case.latest_kind is None:
        return None, None
    due = next_due_after(
        case.baseline_on,
        case.latest_on,
        AssessmentKind(case.latest_kind),
        context.services.instrument.timing,
    )
    now = today(context.services.clock, context.services.tz)
    return due, due_status(due, now)


def _case_label(context: ApartContext, case: CaseSummary) -> str:
    reference = case.young_person.reference
    if case.baseline_on is None:
        return f"{reference} · baseline"
    due, status = case_due(context, case)
    if due is None:
        return f"{reference} · closed"
    word = "overdue" if status is DueStatus.OVERDUE else "due"
    return f"{reference} · review {word} {short_date(due)}"


# Lookups shared by the handlers


async def _open_draft(
    context: ApartContext, young_person: YoungPerson, kind: AssessmentKind
) -> None:
    instrument = context.services.instrument
    draft = await context.services.store.start_assessment(
        young_person, kind, instrument.id, instrument.version, context.require_staff(), Step.DATE
    )
    logger.info(
        "Assessment %s (%s) started for young person %s", draft.id, kind.value, young_person.id
    )
    await answer(context)
    await present(context, draft)


async def _visible_young_person(
    context: ApartContext, young_person_id: int | None
) -> YoungPerson | None:
    found = None
    if young_person_id is not None:
        found = await context.services.store.young_person(
            young_person_id, context.require_staff(), own=True
        )
    if found is None:
        # The store has audited the refusal.
        await answer(context, "That case is not available to you.", alert=True)
    return found


async def _open_draft_from(
    update: Update, context: ApartContext, *, step: Step | None = None
) -> Assessment | None:
    """The open draft a button names, if it is visible, open, and (optionally) on `step`."""
    callback = unpack(_data(update))
    draft = await _draft_by_id(context, callback.int_arg(0))
    if draft is None:
        await answer(context, _CLOSED)
        return None
    if (
        draft.instrument_id != context.services.instrument.id
        or draft.instrument_version != context.services.instrument.version
    ):
        await answer(
            context,
            "This draft was started on another version of the instrument. "
            "Discard it and start again.",
            alert=True,
        )
        return None
    if step is not None and draft.step != step:
        await answer(context, _MOVED_ON)
        return None
    return draft


async def _draft_by_id(context: ApartContext, assessment_id: object) -> Assessment | None:
    if not isinstance(assessment_id, int):
        return None
    store = context.services.store
    found = await store.assessment(assessment_id, context.require_staff(), own=True)
    return found if found is not None and found.status == Status.DRAFT else None


async def _at_summary_stage(context: ApartContext, draft: Assessment) -> bool:
    if draft.step in (Step.SUMMARY, Step.CHANGE, Step.ADJUST, Step.CONFIRM):
        return True
    await answer(context, _MOVED_ON)
    return False


def _items(context: ApartContext, draft: Assessment) -> tuple[Item, ...]:
    return context.services.instrument.items_for(AssessmentKind(draft.kind))


def _item_or_none(context: ApartContext, item_id: str) -> Item | None:
    try:
        return context.services.instrument.item(item_id)
    except KeyError:
        return None


def _section_or_none(context: ApartContext, section_id: str) -> Any:
    return next(
        (s for s in context.services.instrument.scored_sections if s.id == section_id), None
    )


def _role_of(context: ApartContext, item: Item) -> SectionRole:
    return context.services.instrument.section_of(item.id).role


def _live_message(draft: Assessment) -> tuple[int, int] | None:
    if draft.chat_id is None or draft.message_id is None:
        return None
    return draft.chat_id, draft.message_id


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query else None


def _e(text: str) -> str:
    return html.escape(text, quote=False)


# Idle timeout


IDLE_SLACK = timedelta(minutes=1)
RESTORE_WITHIN = timedelta(days=1)
"""How late after the idle time the idle job may run, so that it moves at most once a minute."""


async def note_activity(update: Update, context: ApartContext) -> None:
    """Restart the idle clock for this member of staff (the job runs within a minute of it)."""
    staff = context.staff
    job_queue = context.job_queue
    if staff is None or job_queue is None or update.effective_chat is None:
        return
    name = f"idle-{staff.id}"
    idle = timedelta(minutes=context.services.settings.idle_minutes)
    # Moving the job costs more than the rest of an update's bookkeeping, so a job already
    # due a full idle spell from now stands. A job not yet handed to a running scheduler has
    # no run time, and is replaced. Looking it up by id is one lookup, not a scan by name.
    job = job_queue.scheduler.get_job(name)
    due = getattr(job, "next_run_time", None)
    if due is not None and due - datetime.now(UTC) >= idle:
        return
    _set_idle_timer(job_queue, staff, update.effective_chat.id, idle)


async def restore_idle_timers(application: ApartApplication) -> None:
    """After a restart, put back the idle timer of each draft touched in the last day.

    The timers live in the job queue, which a restart empties; a draft left longer ago than
    RESTORE_WITHIN is not worth a "paused" message out of the blue.
    """
    services: Services = application.bot_data["services"]
    job_queue = application.job_queue
    if job_queue is None:
        return

    idle = timedelta(minutes=services.settings.idle_minutes)
    now = services.clock.now()
    for staff, chat_id, touched in await services.store.drafts_shown_since(now - RESTORE_WITHIN):
        _set_idle_timer(job_queue, staff, chat_id, max(touched + idle - now, timedelta(0)))


def _set_idle_timer(
    job_queue: JobQueue[Any], staff: Staff, chat_id: int, idle_for: timedelta
) -> None:
    """(Re)place the one idle timer of `staff`, due `idle_for` (plus the slack) from now."""
    name = f"idle-{staff.id}"
    job_queue.run_once(
        pause_if_idle,
        when=idle_for + IDLE_SLACK,
        chat_id=chat_id,
        user_id=staff.telegram_user_id,
        name=name,
        job_kwargs={"id": name, "replace_existing": True},
    )


async def pause_if_idle(context: ApartContext) -> None:
    """After a spell without activity: stop waiting for typing and say the draft is saved."""
    job = context.job
    if job is None or job.user_id is None or job.chat_id is None:
        return
    store = context.services.store
    staff = await store.staff_by_telegram_id(job.user_id)
    if staff is None or staff.revoked:
        return
    draft = await store.open_draft(staff)
    idle = timedelta(minutes=context.services.settings.idle_minutes)
    if draft is None or context.services.clock.now() - draft.updated_at < idle:
        return
    await store.stop_awaiting(staff)
    minutes = context.services.settings.idle_minutes
    view = paused_screen(draft, f"Paused after {minutes} minutes without activity.")
    live = _live_message(draft)
    if live is None or not await edit(context, *live, view):
        await send(context, view, chat_id=job.chat_id)
    logger.info("Assessment %s paused after %d idle minutes", draft.id, minutes)


# Wiring

TEXT_INPUTS: dict[str, Callable[[Update, ApartContext, dict[str, Any]], Awaitable[None]]] = {
    AWAIT_DATE: receive_date,
    AWAIT_NOTE: receive_note,
    AWAIT_REASON: receive_reason,
}

_BUTTONS: dict[Act, Callable[[Update, ApartContext], Coroutine[Any, Any, None]]] = {
    Act.PICK_CASE: pick_case,
    Act.START: choose_kind,
    Act.RESUME: resume_draft,
    Act.DISCARD: ask_discard,
    Act.DISCARD_CONFIRMED: confirm_discard,
    Act.TODAY: choose_today,
    Act.VALUE: choose_value,
    Act.TOGGLE: toggle_option,
    Act.DONE: finish_options,
    Act.ALL_UNCHANGED: keep_all_background,
    Act.BACK: go_back,
    Act.PAUSE: pause,
    Act.NOTE: ask_note,
    Act.CANCEL_INPUT: cancel_input,
    Act.SAVE_NOTE: save_flagged_note,
    Act.SUMMARY: show_summary,
    Act.CHANGE: list_items_to_change,
    Act.EDIT: edit_item,
    Act.ADJUST: offer_adjustment,
    Act.SET_BAND: choose_band,
    Act.RESET_BAND: reset_band,
    Act.SUBMIT: ask_submit,
    Act.CONFIRM: confirm_submit,
}


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """The /assess command and every button of the assessment flow."""
    found: list[BaseHandler[Update, ApartContext, Any]] = [
        CommandHandler("assess", start_assessment)
    ]
    found += [
        CallbackQueryHandler(callback, pattern=pattern(act)) for act, callback in _BUTTONS.items()
    ]
    return found


def aftercare_handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """Handlers that run after the flow for every update: the idle clock."""
    return [TypeHandler(Update, note_activity)]
