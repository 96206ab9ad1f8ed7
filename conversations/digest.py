"""The team lead's digest (weekly, and on /digest) and case charts (/progress REF).

The figures come from the store's team-scoped reads, the judgement of change from the
engine; the text keeps to case references and counts, never answers or notes.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from apart_engine.instrument import SectionRole
from apart_engine.outcomes import compare
from apart_engine.scoring import AssessmentScores, BandAdjustment, DomainScore, SectionScore
from bot import charts
from bot.callbacks import pack, pattern, unpack
from bot.chat import answer, screen, send
from bot.clock import today
from bot.sender import Outcome, Photo, sender_for
from bot.store import Role
from conversations.reminders import OVERDUE, due_reminders

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telegram import Update

    from apart_engine.instrument import Instrument
    from bot.app import ApartContext, Services
    from bot.chat import Screen
    from bot.store import CaseSummary, ScoredAssessment, Staff, YoungPerson

logger = logging.getLogger(__name__)

CHART = "pg"
PERIOD = timedelta(days=7)
MAX_CHART_BUTTONS = 6

NOT_A_LEAD = "The digest is for team leads. Send /cases to see your own caseload."
PROGRESS_USAGE = "Send /progress and a case reference, like /progress YP-A1."


@dataclass(frozen=True, slots=True)
class Change:
    """A case whose latest assessment moved a score by a meaningful change."""

    young_person_id: int
    reference: str
    before: float
    after: float


@dataclass
class DigestFigures:
    """What one team's digest reports."""

    active_cases: int = 0
    submitted: int = 0
    due: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)
    """By practitioner's staff id: (overdue references, due-soon references)."""
    risk_rose: list[Change] = field(default_factory=list)
    resilience_fell: list[Change] = field(default_factory=list)
    newly_high: list[tuple[int, str]] = field(default_factory=list)
    """Cases whose latest assessment is High risk and whose previous one was not."""
    started_high: list[tuple[int, str]] = field(default_factory=list)
    """New cases whose baseline, their only assessment so far, is High risk."""
    stale_drafts: list[tuple[str, int, int]] = field(default_factory=list)
    """(reference, practitioner's staff id, days open)."""


def digest_figures(
    instrument: Instrument,
    cases: Sequence[CaseSummary],
    history: Sequence[ScoredAssessment],
    drafts: Sequence[tuple[str, int, datetime]],
    *,
    now: datetime,
    on: date,
    due_soon_days: int,
) -> DigestFigures:
    """The digest's figures from the team's cases, assessments and drafts."""
    since = now - PERIOD
    figures = DigestFigures(active_cases=len(cases))
    figures.submitted = sum(1 for a in history if a.submitted_at and a.submitted_at >= since)

    for case in cases:
        for item in due_reminders(instrument, [case], on, due_soon_days):
            overdue, soon = figures.due.setdefault(case.young_person.practitioner_id, ([], []))
            (overdue if item.kind == OVERDUE else soon).append(item.reference)

    by_case: dict[int, list[ScoredAssessment]] = {}
    for assessment in history:
        by_case.setdefault(assessment.young_person_id, []).append(assessment)
    top_band = instrument.section(SectionRole.RISK).band_names[-1]
    for assessments in by_case.values():
        latest = assessments[-1]
        if latest.submitted_at is None or latest.submitted_at < since:
            continue
        flagged = (latest.young_person_id, latest.reference)
        if len(assessments) == 1:
            if latest.risk_band == top_band:
                figures.started_high.append(flagged)
            continue
        previous = assessments[-2]
        if latest.risk_band == top_band and previous.risk_band != top_band:
            figures.newly_high.append(flagged)
        _note_changes(instrument, previous, latest, figures)

    figures.stale_drafts = [
        (reference, practitioner_id, (now - opened).days)
        for reference, practitioner_id, opened in drafts
        if now - opened > PERIOD
    ]
    return figures


def digest_screen(
    figures: DigestFigures, team: str, lead: Staff, members: Sequence[Staff], on: date
) -> Screen:
    """The digest as a short message, with a chart button for each flagged case."""
    threshold = "meaningfully"
    lines = [
        f"<b>Weekly digest · {html.escape(team)}</b>",
        f"{on:%a %-d %b %Y}",
        f"Active cases: {figures.active_cases}",
        f"Assessments submitted in the last 7 days: {figures.submitted}",
        "",
        "<b>Reviews due</b>",
    ]
    telegram_ids = {m.id: m.telegram_user_id for m in members}
    if not figures.due:
        lines.append("None due soon or overdue.")
    for staff_id, (overdue, soon) in sorted(figures.due.items()):
        who = _who(staff_id, lead, telegram_ids)
        lines.append(f"{who}: {len(overdue)} overdue, {len(soon)} due soon")
        if overdue:
            lines.append(f"  overdue: {_refs(overdue)}")
        if soon:
            lines.append(f"  due soon: {_refs(soon)}")

    lines += ["", "<b>Since the previous assessment</b> (last 7 days)"]
    for title, changes in (
        (f"Risk rose {threshold}", figures.risk_rose),
        (f"Resilience fell {threshold}", figures.resilience_fell),
    ):
        for change in changes:
            lines.append(
                f"{title}: <b>{html.escape(change.reference)}</b> "
                f"{change.before:.1f} → {change.after:.1f}"
            )
    for _, reference in figures.newly_high:
        lines.append(f"Now High risk, from lower: <b>{html.escape(reference)}</b>")
    if not (figures.risk_rose or figures.resilience_fell or figures.newly_high):
        lines.append("No case rose in risk or fell in resilience meaningfully.")
    if figures.started_high:
        lines += ["", "<b>New cases starting High</b> (baseline submitted in the last 7 days)"]
        lines.append(_refs([reference for _, reference in figures.started_high]))

    lines += ["", "<b>Drafts open over a week</b>"]
    for reference, staff_id, days in figures.stale_drafts:
        who = _who(staff_id, lead, telegram_ids)
        lines.append(f"{html.escape(reference)} · {days} days · {who}")
    if not figures.stale_drafts:
        lines.append("None.")

    flagged = dict(figures.started_high)
    flagged.update(figures.newly_high)
    flagged.update({c.young_person_id: c.reference for c in figures.risk_rose})
    flagged.update({c.young_person_id: c.reference for c in figures.resilience_fell})
    rows = [
        [(f"Chart {reference}", pack(CHART, yp_id))]
        for yp_id, reference in sorted(flagged.items(), key=lambda kv: kv[1])
    ][:MAX_CHART_BUTTONS]
    return screen("\n".join(lines), rows)


async def build_digest(
    services: Services, lead: Staff, team: str, drawer: charts.ChartDrawer
) -> tuple[Screen, Photo]:
    """The lead's digest message and the team chart, drawn in the drawer's process."""
    store, instrument = services.store, services.instrument
    now = services.clock.now()
    on = today(services.clock, services.tz)
    history = await store.team_history(lead)
    figures = digest_figures(
        instrument,
        await store.team_caseload(lead),
        history,
        await store.stale_drafts(lead, now - PERIOD),
        now=now,
        on=on,
        due_soon_days=services.settings.due_soon_days,
    )
    view = digest_screen(figures, team, lead, await store.lead_team(lead), on)
    png = await drawer.draw(
        charts.team_chart, instrument, team, charts.team_samples(instrument, history)
    )
    return view, Photo(png, "team-progress.png", f"{team}: scores since baseline")


async def case_chart_photo(
    services: Services, young_person: YoungPerson, viewer: Staff, drawer: charts.ChartDrawer
) -> Photo | None:
    """The case's progress chart, or None when it has no submitted assessment."""
    instrument = services.instrument
    history = await services.store.case_history(young_person.id, viewer, charts.EVENTS_ITEM)
    if not history:
        return None
    png = await drawer.draw(
        charts.case_chart,
        instrument,
        young_person.reference,
        charts.case_points(instrument, history),
        charts.domain_pairs(instrument, history),
    )
    await services.store.audit(viewer, "view", young_person_id=young_person.id, detail="chart")
    caption = f"{young_person.reference}: risk and resilience over time"
    return Photo(png, f"{young_person.reference}-progress.png", caption)


async def send_digest(update: Update, context: ApartContext) -> None:
    """/digest: the lead's team digest now, with the team chart."""
    staff = context.require_staff()
    if staff.role is not Role.LEAD or staff.team_id is None:
        await send(context, screen(NOT_A_LEAD))
        return
    services = context.services
    team = await services.store.team_name(staff.team_id) or "Your team"
    drawer = charts.drawer_for(context.application)
    view, chart = await build_digest(services, staff, team, drawer)
    outcome = await sender_for(context.application).deliver(staff, view, photos=(chart,))
    if outcome is not Outcome.SENT:
        logger.warning("The digest asked for by staff %s was not delivered", staff.id)


async def send_progress(update: Update, context: ApartContext) -> None:
    """/progress REF: the case's charts, to someone who may see the case."""
    args = context.args or []
    if len(args) != 1:
        await send(context, screen(PROGRESS_USAGE))
        return
    staff = context.require_staff()
    reference = args[0].strip()
    young_person = await context.services.store.case_by_reference(reference, staff)
    if young_person is None:
        text = (
            f"I cannot find a case {html.escape(reference)} that you can see. "
            "Check the reference, or send /cases."
        )
        await send(context, screen(text))
        return
    await _send_chart(context, young_person)


async def chart_button(update: Update, context: ApartContext) -> None:
    """A digest's Chart button: send that case's chart."""
    callback = unpack(update.callback_query.data if update.callback_query else None)
    young_person_id = callback.int_arg(0)
    staff = context.require_staff()
    young_person = (
        await context.services.store.young_person(young_person_id, staff)
        if young_person_id is not None
        else None
    )
    if young_person is None:
        await answer(context, "That case is not one you can see any more.", alert=True)
        return
    await answer(context)
    await _send_chart(context, young_person)


async def _send_chart(context: ApartContext, young_person: YoungPerson) -> None:
    staff = context.require_staff()
    drawer = charts.drawer_for(context.application)
    photo = await case_chart_photo(context.services, young_person, staff, drawer)
    if photo is None:
        text = (
            f"{html.escape(young_person.reference)} has no submitted assessment yet, "
            "so there is nothing to chart."
        )
        await send(context, screen(text))
        return
    await context.bot.send_photo(
        staff.telegram_user_id, photo.png, caption=photo.caption, filename=photo.filename
    )


def _note_changes(
    instrument: Instrument,
    previous: ScoredAssessment,
    latest: ScoredAssessment,
    figures: DigestFigures,
) -> None:
    before, after = _scores(previous), _scores(latest)
    if before is None or after is None:
        logger.warning("Assessment %s has no readable stored scores; skipped", latest.id)
        return
    for change in compare(instrument, before, after):
        if not change.meaningful or change.before is None or change.after is None:
            continue
        entry = Change(latest.young_person_id, latest.reference, change.before, change.after)
        if change.role is SectionRole.RISK and change.after > change.before:
            figures.risk_rose.append(entry)
        if change.role is SectionRole.RESILIENCE and change.after < change.before:
            figures.resilience_fell.append(entry)


def _scores(assessment: ScoredAssessment) -> AssessmentScores | None:
    """The engine's scores, rebuilt from what the assessment flow stored at submission."""
    record = assessment.scores or {}
    try:
        return AssessmentScores(tuple(_section(s) for s in record["sections"]))
    except (KeyError, TypeError, ValueError):
        return None


def _section(data: dict[str, Any]) -> SectionScore:
    adjustment = data.get("adjustment")
    return SectionScore(
        **{
            **data,
            "role": SectionRole(data["role"]),
            "domains": tuple(DomainScore(**d) for d in data["domains"]),
            "override_items": tuple(data["override_items"]),
            "adjustment": BandAdjustment(**adjustment) if adjustment else None,
        }
    )


def _who(staff_id: int, lead: Staff, telegram_ids: dict[int, int]) -> str:
    # No names are stored: a tap on the link opens the person's Telegram profile.
    label = "you" if staff_id == lead.id else f"staff {staff_id}"
    telegram_id = telegram_ids.get(staff_id)
    return f'<a href="tg://user?id={telegram_id}">{label}</a>' if telegram_id else label


def _refs(references: Sequence[str]) -> str:
    return ", ".join(html.escape(r) for r in references)


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """/digest, /progress and the digest's chart buttons."""
    return [
        CommandHandler("digest", send_digest),
        CommandHandler("progress", send_progress),
        CallbackQueryHandler(chart_button, pattern=pattern(CHART)),
    ]
