"""What the assessment flow shows: each step as text and buttons, built from the instrument.

Nothing here talks to Telegram or the store; handlers hand in what they read and send out
what comes back, so every screen can be checked on its own.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from apart_engine.instrument import ItemKind, SectionRole
from bot.callbacks import pack
from bot.chat import Screen, screen

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import date

    from apart_engine.instrument import Instrument, Item
    from apart_engine.scoring import AssessmentScores, SectionScore
    from bot.store import Assessment, JsonValue

CHANGE_PAGE_SIZE = 8
NOTE_PREVIEW = 60


class Step(StrEnum):
    """Where a draft is; stored with it so that any restart resumes at the same place."""

    DATE = "date"
    ITEM = "item"
    SUMMARY = "summary"
    CHANGE = "change"
    ADJUST = "adjust"
    CONFIRM = "confirm"
    DONE = "done"


class Act(StrEnum):
    """Button actions of the assessment flow (kept to two letters for Telegram's 64 bytes)."""

    PICK_CASE = "pc"
    START = "st"
    RESUME = "rs"
    DISCARD = "dx"
    DISCARD_CONFIRMED = "dy"
    TODAY = "td"
    VALUE = "va"
    TOGGLE = "tg"
    DONE = "dn"
    ALL_UNCHANGED = "au"
    NOTE = "nt"
    BACK = "bk"
    PAUSE = "ps"
    SUMMARY = "sm"
    CHANGE = "ch"
    EDIT = "ed"
    ADJUST = "aj"
    SET_BAND = "sb"
    RESET_BAND = "rb"
    SUBMIT = "su"
    CONFIRM = "cf"
    CANCEL_INPUT = "ci"
    SAVE_NOTE = "sn"


# Values of the VALUE action besides a rating or an option's position.
UNKNOWN = "u"
SKIP = "s"
KEEP = "k"


@dataclass(frozen=True, slots=True)
class ItemView:
    """Everything an item's screen shows besides the instrument itself."""

    draft: Assessment
    item: Item
    position: int
    count: int
    answer: JsonValue
    answered: bool
    note: str | None
    on_record: JsonValue
    has_record: bool
    first_of_review_background: bool


def short_date(day: date) -> str:
    """A date as a phone shows it best: 12 Jan 2026."""
    return f"{day.day} {day:%b %Y}"


def long_date(day: date) -> str:
    """A date in full words: 12 April 2026."""
    return f"{day.day} {day:%B %Y}"


def kind_name(kind: str) -> str:
    """The occasion in plain words."""
    return {"baseline": "baseline", "review": "review", "closure": "closure assessment"}[kind]


def describe_value(item: Item, value: JsonValue) -> str:
    """An answer in plain words, as the summary and the change list show it."""
    if value is None:
        return "Unknown" if item.kind is ItemKind.RATING else "not given"
    if item.kind is ItemKind.CHOICE:
        return _option_label(item, str(value))
    if item.kind is ItemKind.MULTICHOICE and isinstance(value, list):
        return ", ".join(_option_label(item, option) for option in value) or "none chosen"
    return str(value)


def date_screen(draft: Assessment, today: date, previous: date | None) -> Screen:
    """Ask when the assessment was done: today in one tap, or a typed earlier date."""
    lines = [
        f"<b>{_e(draft.reference)} · {kind_name(draft.kind)}</b>",
        "When was this assessment done?",
        "Tap Today, or type the date, for example 12/01/2026.",
    ]
    if previous is not None:
        lines.append(f"<i>It cannot be before the last one, on {short_date(previous)}.</i>")
    rows = [
        [(f"Today, {short_date(today)}", pack(Act.TODAY, draft.id))],
        [("Pause", pack(Act.PAUSE, draft.id))],
    ]
    return screen("\n".join(lines), rows)


def item_screen(instrument: Instrument, view: ItemView) -> Screen:
    """One item, its scale or options as buttons, with Unknown, note, back and pause."""
    item = view.item
    section = instrument.section_of(item.id)
    heading = f"<b>{_e(_section_word(section.role))} {view.position} of {view.count}</b>"
    if item.domain:
        heading += f" · {_e(item.domain)}"
    lines = [heading, f"<b>{_e(item.label)}</b>", _e(item.prompt)]
    if item.kind is ItemKind.RATING:
        lines.append(f"<i>Rate {_e(instrument.rating_window)}.</i>")
    if view.has_record and not view.answered:
        lines.append(f"On record: {_e(describe_value(item, view.on_record))}")
    if view.answered and item.kind is not ItemKind.MULTICHOICE:
        lines.append(f"Answer now: {_e(describe_value(item, view.answer))}")
    if view.note:
        lines.append(f"📝 {_e(_preview(view.note))}")

    rows = _answer_rows(instrument, view)
    rows.append(_extra_row(view))
    rows.append(_navigation_row(view))
    return screen("\n".join(lines), [row for row in rows if row])


def note_prompt_screen(draft: Assessment, item: Item, warning: str | None = None) -> Screen:
    """Ask for a short note on one item, with a reminder to leave names out."""
    text = (
        f"<b>Note on {_e(item.label)}</b>\n"
        "Type a short note and send it. Please write no names, dates of birth, addresses, "
        "schools or phone numbers. I store the note and then delete your message here."
    )
    return screen(_warned(text, warning), [[("Cancel note", pack(Act.CANCEL_INPUT, draft.id))]])


def summary_screen(
    instrument: Instrument,
    draft: Assessment,
    scores: AssessmentScores,
    notes: Mapping[str, str],
) -> Screen:
    """Scores, bands (with the override and any adjustment), gaps, and what to do next."""
    lines = [_summary_heading(draft), ""]
    lines += summary_lines(instrument, scores)
    if notes:
        lines.append(f"Notes on {len(notes)} item{'s' if len(notes) != 1 else ''}.")
    rows: list[list[tuple[str, str]]] = [
        [("Submit", pack(Act.SUBMIT, draft.id))],
        [("Change an item", pack(Act.CHANGE, draft.id, 0))],
    ]
    adjust_row = [
        (f"Adjust {section.title.split()[0].lower()} band", pack(Act.ADJUST, draft.id, section.id))
        for section in instrument.scored_sections
        if scores.section(section.id).score is not None
    ]
    if adjust_row:
        rows.append(adjust_row)
    rows.append([("Pause", pack(Act.PAUSE, draft.id))])
    return screen("\n".join(lines), rows)


def summary_lines(instrument: Instrument, scores: AssessmentScores) -> list[str]:
    """The figures of a scored assessment, one short line each."""
    lines: list[str] = []
    for section in instrument.scored_sections:
        result = scores.section(section.id)
        lines.append(_score_line(section.title, result))
        if result.override_applied:
            items = ", ".join(instrument.item(i).label for i in result.override_items)
            if result.score_band == result.computed_band:
                lines.append(f"Harm override applies too: {_e(items)} rated serious.")
            else:
                before, after = result.score_band or "-", result.computed_band or "-"
                lines.append(
                    f"Raised from {_e(before)} to {_e(after)} by the harm override: "
                    f"{_e(items)} rated serious."
                )
        if result.adjustment is not None:
            lines.append(
                f"Band set to {_e(result.adjustment.band)} by the practitioner "
                f"(computed {_e(result.computed_band or '-')}): {_e(result.adjustment.reason)}"
            )
        for domain in result.domains:
            figure = "no score" if domain.score is None else f"{domain.score:.1f}"
            lines.append(f"  {_e(domain.name)} {figure}")
        if result.incomplete:
            missing = result.unknown + result.unanswered
            lines.append(f"⚠ Incomplete: {missing} of {result.total} unknown.")
        lines.append("")
    return lines


def change_screen(
    instrument: Instrument,
    draft: Assessment,
    items: Sequence[Item],
    answers: Mapping[str, JsonValue],
    page: int,
) -> Screen:
    """A page of the draft's items as buttons, each showing its answer, to pick one to change."""
    pages = max(1, -(-len(items) // CHANGE_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * CHANGE_PAGE_SIZE : (page + 1) * CHANGE_PAGE_SIZE]
    rows: list[list[tuple[str, str]]] = [
        [(_change_label(item, answers), pack(Act.EDIT, draft.id, item.id))] for item in shown
    ]
    paging = []
    if page > 0:
        paging.append(("‹ Previous", pack(Act.CHANGE, draft.id, page - 1)))
    if page < pages - 1:
        paging.append(("Next ›", pack(Act.CHANGE, draft.id, page + 1)))
    if paging:
        rows.append(paging)
    rows.append([("Back to summary", pack(Act.SUMMARY, draft.id))])
    text = f"<b>Change an item</b> · page {page + 1} of {pages}\nTap the item to change."
    return screen(text, rows)


def adjust_screen(
    draft: Assessment,
    section_title: str,
    section_id: str,
    result: SectionScore,
    allowed: Sequence[str],
    band_names: Sequence[str],
) -> Screen:
    """Offer the bands one step from the computed one, and a way back to it."""
    lines = [
        f"<b>{_e(section_title)}: adjust the band</b>",
        f"Computed band: {_e(result.computed_band or '-')}.",
    ]
    if result.adjustment is not None:
        lines.append(f"Now set to {_e(result.adjustment.band)}.")
    if allowed:
        lines.append("You may move it one step. Tap the band you judge right; I will ask why.")
    else:
        lines.append("This band cannot be moved (the harm override sets a floor).")
    rows = [
        [(band, pack(Act.SET_BAND, draft.id, section_id, band_names.index(band)))]
        for band in allowed
    ]
    if result.adjustment is not None:
        rows.append([("Use the computed band", pack(Act.RESET_BAND, draft.id, section_id))])
    rows.append([("Back to summary", pack(Act.SUMMARY, draft.id))])
    return screen("\n".join(lines), rows)


def reason_prompt_screen(
    draft: Assessment, band: str, computed: str, warning: str | None = None
) -> Screen:
    """Ask why the practitioner's band differs from the computed one."""
    text = (
        f"<b>Why {_e(band)} rather than {_e(computed)}?</b>\n"
        "Type the reason in a few words and send it (no names, please)."
    )
    return screen(_warned(text, warning), [[("Cancel", pack(Act.CANCEL_INPUT, draft.id))]])


def _warned(text: str, warning: str | None) -> str:
    return text if warning is None else f"{text}\n\n⚠ {_e(warning)}"


def confirm_screen(draft: Assessment) -> Screen:
    """Ask once more before submitting, since a submitted assessment is final."""
    assert draft.assessed_on is not None
    text = (
        f"<b>Submit the {kind_name(draft.kind)} for {_e(draft.reference)}?</b>\n"
        f"Dated {short_date(draft.assessed_on)}. It cannot be changed after submitting."
    )
    rows = [
        [("Yes, submit", pack(Act.CONFIRM, draft.id))],
        [("Not yet", pack(Act.SUMMARY, draft.id))],
    ]
    return screen(text, rows)


def submitted_screen(
    instrument: Instrument,
    draft: Assessment,
    scores: AssessmentScores,
    next_due: date | None,
) -> Screen:
    """The final record of a submitted assessment, with what happens next."""
    lines = [_summary_heading(draft), "✅ <b>Submitted.</b>", ""]
    lines += summary_lines(instrument, scores)
    if next_due is None:
        lines.append("The case is closed: no more reviews are due.")
    else:
        lines.append(f"Next review due: <b>{long_date(next_due)}</b>.")
    return screen("\n".join(lines).rstrip())


def paused_screen(draft: Assessment, reason: str) -> Screen:
    """The draft is saved and put aside; how to carry on."""
    text = (
        f"{_e(reason)} Your answers for {_e(draft.reference)} are saved. Send /assess to carry on."
    )
    return screen(text)


def resume_offer_rows(drafts: Sequence[Assessment]) -> list[list[tuple[str, str]]]:
    """For each open draft, a Resume and a Discard button."""
    return [
        [
            (f"Resume {draft.reference}", pack(Act.RESUME, draft.id)),
            ("Discard", pack(Act.DISCARD, draft.id)),
        ]
        for draft in drafts
    ]


def _summary_heading(draft: Assessment) -> str:
    when = short_date(draft.assessed_on) if draft.assessed_on else "date not set"
    return f"<b>Summary · {_e(draft.reference)}</b>\n{kind_name(draft.kind).capitalize()} · {when}"


def _score_line(title: str, result: SectionScore) -> str:
    name = title.split()[0]
    if result.score is None:
        return f"<b>{_e(name)}: no score</b> (every item unknown)"
    return f"<b>{_e(name)} {result.score:.1f} · {_e(result.band or '-')}</b>"


def _section_word(role: SectionRole) -> str:
    return {
        SectionRole.CONTEXT: "Background",
        SectionRole.RISK: "Risk",
        SectionRole.RESILIENCE: "Resilience",
    }[role]


def _answer_rows(instrument: Instrument, view: ItemView) -> list[list[tuple[str, str]]]:
    item, draft = view.item, view.draft
    rows: list[list[tuple[str, str]]] = []
    if view.has_record and not view.answered:
        rows.append([("Unchanged", pack(Act.VALUE, draft.id, item.id, KEEP))])
    if view.first_of_review_background and not view.answered:
        rows.append([("All background unchanged", pack(Act.ALL_UNCHANGED, draft.id))])

    if item.kind is ItemKind.RATING:
        for point in instrument.section_of(item.id).scale:
            label = f"{point.value} · {point.short}"
            chosen = view.answered and view.answer == point.value
            rows.append([(_tick(label, chosen), pack(Act.VALUE, draft.id, item.id, point.value))])
    elif item.kind is ItemKind.CHOICE:
        for index, option in enumerate(item.options):
            chosen = view.answered and view.answer == option.id
            rows.append([(_tick(option.label, chosen), pack(Act.VALUE, draft.id, item.id, index))])
    elif item.kind is ItemKind.MULTICHOICE:
        picked = view.answer if isinstance(view.answer, list) else []
        for index, option in enumerate(item.options):
            label = ("☑ " if option.id in picked else "☐ ") + option.label
            rows.append([(label, pack(Act.TOGGLE, draft.id, item.id, index))])
        rows.append([("Done", pack(Act.DONE, draft.id, item.id))])
    elif item.kind is ItemKind.NUMBER and item.minimum is not None and item.maximum is not None:
        numbers = [
            (
                _tick(str(n), view.answered and view.answer == n),
                pack(Act.VALUE, draft.id, item.id, n),
            )
            for n in range(item.minimum, item.maximum + 1)
        ]
        rows += [numbers[i : i + 4] for i in range(0, len(numbers), 4)]
    return rows


def _extra_row(view: ItemView) -> list[tuple[str, str]]:
    item, draft = view.item, view.draft
    row: list[tuple[str, str]] = []
    if item.kind is ItemKind.RATING:
        row.append(
            (
                _tick("Unknown", view.answered and view.answer is None),
                pack(Act.VALUE, draft.id, item.id, UNKNOWN),
            )
        )
    elif item.optional:
        row.append(("Skip", pack(Act.VALUE, draft.id, item.id, SKIP)))
    note = "Edit note" if view.note else "Add note"
    row.append((note, pack(Act.NOTE, draft.id, item.id)))
    return row


def _navigation_row(view: ItemView) -> list[tuple[str, str]]:
    draft = view.draft
    if draft.editing:
        return [("Back to summary", pack(Act.SUMMARY, draft.id))]
    return [
        ("‹ Back", pack(Act.BACK, draft.id, view.item.id)),
        ("Pause", pack(Act.PAUSE, draft.id)),
    ]


def _change_label(item: Item, answers: Mapping[str, JsonValue]) -> str:
    shown = describe_value(item, answers[item.id]) if item.id in answers else "not answered"
    label = f"{item.label}: {shown}"
    return label if len(label) <= 40 else label[:39] + "…"


def _option_label(item: Item, option_id: str) -> str:
    for option in item.options:
        if option.id == option_id:
            return option.label
    return option_id


def _tick(label: str, chosen: bool) -> str:
    return f"✓ {label}" if chosen else label


def _preview(note: str) -> str:
    flat = " ".join(note.split())
    return flat if len(flat) <= NOTE_PREVIEW else flat[: NOTE_PREVIEW - 1] + "…"


def _e(text: str) -> str:
    return html.escape(text, quote=False)
