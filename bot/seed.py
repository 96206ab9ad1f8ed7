"""A synthetic cohort for demos and benchmarks: made-up young people, clearly labelled.

Every reference is SYN-nnnn, every team name says "synthetic", and staff have negative
Telegram ids, which no real Telegram user can have. The cohort is drawn from a seeded
random generator, so the same seed, size and end date give the same database content.

What it models, loosely after the published pilot: baselines spread over the year (more
in its first months, as when a service starts), reviews every few months from the baseline
(some early, some late), extra reviews after significant events, drop-outs, closures,
Unknown answers, and risk that falls faster for young people who start high.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apart_engine.instrument import AssessmentKind, ItemKind, SectionRole
from apart_engine.schedule import add_months
from apart_engine.scoring import score_assessment
from bot.errors import ApartError
from bot.store import Role

if TYPE_CHECKING:
    from collections.abc import Callable

    from apart_engine.instrument import Instrument, Item
    from apart_engine.scoring import AssessmentScores
    from bot.store import JsonValue, Staff, Store

logger = logging.getLogger(__name__)

DEFAULT_YOUNG_PEOPLE = 52
DEFAULT_MONTHS = 12
DEFAULT_SEED = 2041
TEAMS = ("Synthetic North team", "Synthetic South team")
REFERENCE_PREFIX = "SYN-"

# Made-up staff: negative ids never belong to a Telegram user.
_PRACTITIONERS_PER_TEAM = 3
_FIRST_STAFF_ID = -1001

# Starting risk (score range) and how many points a month it tends to fall, by band.
_BASELINE_RISK = {"Low": (6, 22), "Medium": (27, 47), "High": (52, 82)}
_BAND_WEIGHTS = {"Low": 0.25, "Medium": 0.4, "High": 0.35}
_MONTHLY_FALL = {"Low": 0.4, "Medium": 1.6, "High": 3.2}

# Seeded assessments are started and submitted on their assessment date, in the afternoon
# local time, as a practitioner would after a visit; this is the window for the start.
_FIRST_START = time(13, 0)
_START_WINDOW_MINUTES = 180
_DEFAULT_TZ = ZoneInfo("Europe/London")

_EVENTS = ("missing_episode", "moved", "disclosure", "police_or_court", "exclusion", "hospital")


class SeedError(ApartError):
    """The synthetic cohort cannot be written where it was asked to go."""


@dataclass(frozen=True)
class SeedSummary:
    """What a seeding run wrote."""

    teams: int
    young_people: int
    assessments: int
    first_date: date
    last_date: date


@dataclass
class _Person:
    """One synthetic young person's hidden trajectory."""

    reference: str
    band: str
    risk: float
    resilience: float
    fall: float
    rise: float
    baseline_on: date
    background: dict[str, JsonValue]
    item_offsets: dict[str, float]


async def seed_cohort(
    store: Store,
    instrument: Instrument,
    *,
    young_people: int = DEFAULT_YOUNG_PEOPLE,
    months: int = DEFAULT_MONTHS,
    seed: int = DEFAULT_SEED,
    until: date,
    tz: tzinfo = _DEFAULT_TZ,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Write a synthetic cohort into an empty database; refuse one that holds cases.

    Each assessment is stamped as started and submitted on the afternoon of its assessment
    date in `tz` (APART_TIMEZONE), so digests count it in the week it was done.
    """
    if young_people < 1 or months < 1:
        raise SeedError("Ask for at least one young person and at least one month.")
    if await store.count_young_people():
        raise SeedError(
            "This database already holds young people, so a synthetic cohort would mix with "
            "them. Point APART_DB_PATH at a new file and run seed-demo again."
        )

    rng = random.Random(seed)
    # A stream of its own, so the times leave the cohort's answers as they were for a seed.
    clock_rng = random.Random(f"{seed}-times")
    start = add_months(until, -months)
    practitioners = await _staff(store)
    count = 0
    dates: list[date] = []
    for index in range(young_people):
        person = _draw_person(rng, instrument, index, start, until)
        staff = practitioners[index % len(practitioners)]
        case = await store.add_young_person(person.reference, staff)
        for kind, day, answers in _assessments(rng, instrument, person, until):
            scores = score_assessment(instrument, _ratings(instrument, answers))
            started, submitted = _afternoon(clock_rng, day, tz)
            await store.add_submitted_assessment(
                case,
                staff,
                kind=kind,
                assessed_on=day,
                instrument_id=instrument.id,
                instrument_version=instrument.version,
                answers=answers,
                scores=scores_record(instrument, scores),
                risk=(scores.risk.score, scores.risk.band),
                resilience=(scores.resilience.score, scores.resilience.band),
                started_at=started,
                submitted_at=submitted,
            )
            count += 1
            dates.append(day)
        if progress is not None:
            progress(index + 1, young_people)

    logger.info("Seeded %s synthetic young people, %s assessments", young_people, count)
    return SeedSummary(len(TEAMS), young_people, count, min(dates), max(dates))


def scores_record(instrument: Instrument, scores: AssessmentScores) -> dict[str, Any]:
    """The scores as the store keeps them, in the shape the assessment flow writes."""
    return {
        "instrument": {"id": instrument.id, "version": instrument.version},
        "sections": [dataclasses.asdict(section) for section in scores.sections],
    }


async def _staff(store: Store) -> list[Staff]:
    practitioners = []
    staff_id = _FIRST_STAFF_ID
    for team in TEAMS:
        team_id = await store.add_team(team)
        await store.enrol(staff_id, team_id, Role.LEAD)
        staff_id -= 1
        for _ in range(_PRACTITIONERS_PER_TEAM):
            practitioners.append(await store.enrol(staff_id, team_id, Role.PRACTITIONER))
            staff_id -= 1
    return practitioners


def _draw_person(
    rng: random.Random, instrument: Instrument, index: int, start: date, until: date
) -> _Person:
    band = rng.choices(list(_BAND_WEIGHTS), weights=list(_BAND_WEIGHTS.values()))[0]
    risk = rng.uniform(*_BASELINE_RISK[band])
    resilience = min(90.0, max(5.0, 75 - 0.7 * risk + rng.gauss(0, 8)))
    # Most respond to support, some barely; nobody's trajectory is a straight line.
    responder = rng.random() > 0.15
    fall = _MONTHLY_FALL[band] * rng.uniform(0.5, 1.5) if responder else rng.uniform(-0.5, 0.3)
    rise = (1.0 + fall * 0.6) * rng.uniform(0.6, 1.4) if responder else rng.uniform(-0.3, 0.5)
    span = max((until - start).days - 30, 1)
    # Intake is heavier early in the period, as when a service opens.
    offset = int(span * rng.random() ** 2)
    return _Person(
        reference=f"{REFERENCE_PREFIX}{index + 1:04d}",
        band=band,
        risk=risk,
        resilience=resilience,
        fall=fall,
        rise=rise,
        baseline_on=start + timedelta(days=offset),
        background=_background(rng, instrument),
        item_offsets={item.id: rng.gauss(0, 0.45) for item in instrument.rating_items},
    )


def _assessments(
    rng: random.Random, instrument: Instrument, person: _Person, until: date
) -> list[tuple[AssessmentKind, date, dict[str, JsonValue]]]:
    interval = instrument.timing.review_interval_months
    found = [(AssessmentKind.BASELINE, person.baseline_on, _answers(rng, instrument, person, 0))]
    slot, bump = 1, 0.0
    while True:
        due = add_months(person.baseline_on, slot * interval)
        events: list[str] = []
        if rng.random() < 0.25:
            events = rng.sample(_EVENTS, rng.choice((1, 1, 2)))
            bump += rng.uniform(3, 10)
        if events and rng.random() < 0.35:
            # A significant event brings an extra review forward; the schedule stands.
            extra = due - timedelta(days=rng.randint(40, 70))
            if found[-1][1] < extra <= until:
                months = _months(person.baseline_on, extra)
                answers = _answers(rng, instrument, person, months, bump, events)
                found.append((AssessmentKind.REVIEW, extra, answers))
                events = ["none"]
        day = due + timedelta(days=max(-25, min(35, round(rng.gauss(3, 12)))))
        if day > until or rng.random() < 0.07:
            break  # the period ended, or the young person stopped engaging
        months = _months(person.baseline_on, day)
        closing = (months >= 11 and rng.random() < 0.5) or rng.random() < 0.03
        kind = AssessmentKind.CLOSURE if closing else AssessmentKind.REVIEW
        answers = _answers(rng, instrument, person, months, bump, events or ["none"])
        found.append((kind, day, answers))
        bump *= 0.4
        slot += 1
        if closing:
            break
    return found


def _answers(
    rng: random.Random,
    instrument: Instrument,
    person: _Person,
    months: float,
    bump: float = 0.0,
    events: list[str] | None = None,
) -> dict[str, JsonValue]:
    kind = AssessmentKind.REVIEW if events is not None else AssessmentKind.BASELINE
    answers: dict[str, JsonValue] = {}
    risk = max(0.0, person.risk - person.fall * months + bump + rng.gauss(0, 4))
    resilience = min(100.0, max(0.0, person.resilience + person.rise * months + rng.gauss(0, 4)))
    unknown_share = 0.45 if rng.random() < 0.04 else (0.06 if months == 0 else 0.03)
    for item in instrument.items_for(kind):
        role = instrument.section_of(item.id).role
        if role is SectionRole.CONTEXT:
            if item.id == "events":
                answers[item.id] = list(events or ["none"])
            elif item.id in person.background:
                answers[item.id] = person.background[item.id]
            continue
        if rng.random() < unknown_share:
            answers[item.id] = None
            continue
        target = risk if role is SectionRole.RISK else resilience
        expected = target / 100 * 3 + person.item_offsets[item.id] + rng.gauss(0, 0.5)
        answers[item.id] = max(0, min(3, round(expected)))
    return answers


def _background(rng: random.Random, instrument: Instrument) -> dict[str, JsonValue]:
    background: dict[str, JsonValue] = {}
    for item in instrument.section(SectionRole.CONTEXT).items:
        value = _background_answer(rng, item)
        if value is not None:
            background[item.id] = value
    # Keep looked-after status consistent with where the young person lives.
    in_care = background.get("living_situation") in ("foster_care", "residential_care")
    if "looked_after" in background:
        background["looked_after"] = "yes" if in_care else background["looked_after"]
    return background


def _background_answer(rng: random.Random, item: Item) -> JsonValue:
    options = [option.id for option in item.options]
    if item.id == "events":
        return None
    if item.kind is ItemKind.NUMBER:
        low = item.minimum if item.minimum is not None else 0
        high = item.maximum if item.maximum is not None else low + 10
        return rng.randint(max(low, 11), min(high, 17))
    if item.kind is ItemKind.CHOICE:
        if item.optional and rng.random() < 0.1:
            return None
        weights = [4.0 if i == 0 else 1.0 for i in range(len(options))]
        return rng.choices(options, weights=weights)[0]
    if item.kind is ItemKind.MULTICHOICE:
        pickable = [o for o in options if o not in item.exclusive]
        if item.exclusive and rng.random() < 0.2:
            return [item.exclusive[0]]
        return sorted(rng.sample(pickable, rng.randint(1, min(3, len(pickable)))))
    return None


def _ratings(instrument: Instrument, answers: dict[str, JsonValue]) -> dict[str, int | None]:
    wanted = {item.id for item in instrument.rating_items}
    return {k: v for k, v in answers.items() if k in wanted and (v is None or isinstance(v, int))}


def _afternoon(rng: random.Random, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """When an assessment of `day` was started and submitted: that afternoon, local time."""
    start = datetime.combine(day, _FIRST_START, tzinfo=tz)
    start += timedelta(minutes=rng.randrange(_START_WINDOW_MINUTES))
    return start, start + timedelta(minutes=rng.randint(15, 50))


def _months(baseline: date, day: date) -> float:
    return (day - baseline).days / 30.4375
