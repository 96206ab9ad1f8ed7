"""Section, domain and band scores of one assessment, by the instrument's rules."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from apart_engine.errors import InvalidAdjustmentError, InvalidRatingError
from apart_engine.instrument import SectionRole

if TYPE_CHECKING:
    from apart_engine.instrument import Instrument, Item, Section

Ratings = Mapping[str, int | None]
"""Ratings by item id; None is Unknown, and an item left out has not been answered yet."""


def round_half_up(value: float | Fraction, places: int = 1) -> float:
    """Round to `places` decimals with halves going away from zero, so 6.25 shows as 6.3."""
    # A float is taken as the decimal it prints as, so 0.15 rounds like the 0.15 people see;
    # scores arrive as exact fractions of whole-number sums, so 23/45 never meets float error.
    exact = value if isinstance(value, Fraction) else Fraction(repr(value))
    whole = math.floor(abs(exact) * 10**places + Fraction(1, 2))
    rounded = Decimal(whole).scaleb(-places)
    return float(-rounded if exact < 0 else rounded)


@dataclass(frozen=True)
class DomainScore:
    """A domain's score; `unknown` counts unanswered items as well as Unknown ones."""

    name: str
    score: float | None
    rated: int
    unknown: int


@dataclass(frozen=True)
class BandAdjustment:
    """A practitioner's choice of band in place of the computed one, with the reason."""

    band: str
    reason: str


@dataclass(frozen=True)
class SectionScore:
    """Everything the summary shows about one scored section."""

    section_id: str
    title: str
    role: SectionRole
    score: float | None
    rated: int
    unknown: int
    unanswered: int
    total: int
    incomplete: bool
    domains: tuple[DomainScore, ...]
    score_band: str | None
    override_applied: bool
    override_items: tuple[str, ...]
    override_reason: str | None
    override_floor: str | None
    computed_band: str | None
    adjustment: BandAdjustment | None = None

    @property
    def band(self) -> str | None:
        """The band to act on: the practitioner's adjustment if any, else the computed one."""
        return self.adjustment.band if self.adjustment is not None else self.computed_band


@dataclass(frozen=True)
class AssessmentScores:
    """The scores of every scored section of one assessment."""

    sections: tuple[SectionScore, ...]

    def section(self, section_id: str) -> SectionScore:
        """The score of the section with this id (KeyError if there is none)."""
        for score in self.sections:
            if score.section_id == section_id:
                return score
        raise KeyError(section_id)

    @property
    def risk(self) -> SectionScore:
        """The first risk section's score."""
        return self._first(SectionRole.RISK)

    @property
    def resilience(self) -> SectionScore:
        """The first resilience section's score."""
        return self._first(SectionRole.RESILIENCE)

    def _first(self, role: SectionRole) -> SectionScore:
        for score in self.sections:
            if score.role is role:
                return score
        raise KeyError(role)


def score_assessment(
    instrument: Instrument,
    ratings: Ratings,
    adjustments: Mapping[str, BandAdjustment] | None = None,
) -> AssessmentScores:
    """Score every scored section; answers to other items in `ratings` are ignored."""
    adjustments = adjustments or {}
    scored_ids = {section.id for section in instrument.scored_sections}
    for section_id in adjustments:
        if section_id not in scored_ids:
            raise InvalidAdjustmentError(f'There is no scored section "{section_id}" to adjust.')

    scores = []
    for section in instrument.scored_sections:
        score = _score_section(instrument, section, ratings)
        adjustment = adjustments.get(section.id)
        if adjustment is not None:
            check_adjustment(instrument, score, adjustment)
            score = replace(score, adjustment=adjustment)
        scores.append(score)
    return AssessmentScores(tuple(scores))


def allowed_adjustments(instrument: Instrument, section_score: SectionScore) -> tuple[str, ...]:
    """The bands a practitioner may choose instead of the computed one, low to high."""
    if section_score.computed_band is None:
        return ()

    names = instrument.band_names(section_score.section_id)
    current = names.index(section_score.computed_band)
    # The override means "at least this band whatever the score", so no step may undo it.
    floor = names.index(section_score.override_floor) if section_score.override_floor else 0
    steps = (current - 1, current + 1)
    return tuple(names[step] for step in steps if floor <= step < len(names))


def check_adjustment(
    instrument: Instrument,
    section_score: SectionScore,
    adjustment: BandAdjustment,
) -> None:
    """Raise InvalidAdjustmentError unless the band and the reason are acceptable."""
    allowed = allowed_adjustments(instrument, section_score)
    if adjustment.band not in allowed:
        raise InvalidAdjustmentError(
            _why_not_allowed(instrument, section_score, adjustment.band, allowed),
        )

    min_words = instrument.thresholds.adjustment_reason_min_words
    if len(adjustment.reason.split()) < min_words:
        raise InvalidAdjustmentError(
            f"Say in at least {min_words} words why the {section_score.role} band should be "
            f'"{adjustment.band}".'
        )


def _why_not_allowed(
    instrument: Instrument,
    section_score: SectionScore,
    wanted: str,
    allowed: tuple[str, ...],
) -> str:
    role, computed, floor = (
        section_score.role,
        section_score.computed_band,
        section_score.override_floor,
    )
    if computed is None:
        return f"The {role} section has no score yet, so it has no band to change."

    names = instrument.band_names(section_score.section_id)
    below_floor = (
        floor is not None and wanted in names and names.index(wanted) < names.index(floor)
    )
    if floor is not None and (below_floor or not allowed):
        return (
            f'The {role} band cannot go below "{floor}" while the override applies '
            f"({section_score.override_reason})."
        )
    if not allowed:
        return f'The {role} band has to stay "{computed}": there is no other band to choose.'

    choices = " or ".join(f'"{name}"' for name in allowed)
    return f'The {role} band can move only one step from "{computed}": choose {choices}.'


def _score_section(instrument: Instrument, section: Section, ratings: Ratings) -> SectionScore:
    answered = {item.id: _checked_rating(section, item, ratings) for item in section.items}
    values = [answered.get(item.id) for item in section.items]
    unanswered = sum(item.id not in ratings for item in section.items)
    rated = sum(value is not None for value in values)
    unknown = len(values) - rated - unanswered

    score = _percent(values, section.max_value)
    score_band = _band_for(section, score)
    override = _Override.find(section, answered)
    computed_band = _higher(section, score_band, override.floor)

    return SectionScore(
        section_id=section.id,
        title=section.title,
        role=section.role,
        score=score,
        rated=rated,
        unknown=unknown,
        unanswered=unanswered,
        total=len(values),
        incomplete=_is_incomplete(instrument, len(values) - rated, len(values)),
        domains=_domain_scores(section, answered),
        score_band=score_band,
        override_applied=bool(override.items),
        override_items=override.items,
        override_reason=override.reason,
        override_floor=override.floor,
        computed_band=computed_band,
    )


def _checked_rating(section: Section, item: Item, ratings: Ratings) -> int | None:
    value = ratings.get(item.id)
    on_scale = isinstance(value, int) and not isinstance(value, bool)
    if value is not None and not (on_scale and 0 <= value <= section.max_value):
        raise InvalidRatingError(
            f'"{item.label}" was rated {value!r}, but the scale runs from 0 to '
            f"{section.max_value}; choose a point on the scale or Unknown."
        )
    return value


def _percent(values: Sequence[int | None], max_value: int) -> float | None:
    rated = [value for value in values if value is not None]
    if not rated:
        return None
    return round_half_up(Fraction(100 * sum(rated), max_value * len(rated)))


def _is_incomplete(instrument: Instrument, not_rated: int, total: int) -> bool:
    # str() keeps 0.3 as three tenths; Fraction(0.3) would sit just below it and tip
    # a section with exactly 30% Unknown into "incomplete".
    share = Fraction(str(instrument.thresholds.incomplete_unknown_share))
    return Fraction(not_rated, total) > share


def _domain_scores(
    section: Section, answered: Mapping[str, int | None]
) -> tuple[DomainScore, ...]:
    scores = []
    for name in section.domains:
        values = [answered[item.id] for item in section.items if item.domain == name]
        rated = sum(value is not None for value in values)
        score = _percent(values, section.max_value)
        scores.append(
            DomainScore(name=name, score=score, rated=rated, unknown=len(values) - rated)
        )
    return tuple(scores)


def _band_for(section: Section, score: float | None) -> str | None:
    if score is None:
        return None
    for band in section.bands:
        if band.min <= score and (band.below is None or score < band.below):
            return band.name
    # Unreachable for a loaded instrument: its bands are checked to cover 0 to 100.
    raise ValueError(f"no band of section {section.id!r} holds the score {score}")


def _higher(section: Section, band: str | None, floor: str | None) -> str | None:
    if band is None or floor is None:
        return band
    names = section.band_names
    return max(band, floor, key=names.index)


@dataclass(frozen=True)
class _Override:
    """The override rules a set of ratings triggers."""

    items: tuple[str, ...] = ()
    reason: str | None = None
    floor: str | None = None

    @classmethod
    def find(cls, section: Section, answered: Mapping[str, int | None]) -> _Override:
        items: dict[str, None] = {}
        reasons: dict[str, None] = {}
        floor: str | None = None
        for rule in section.override:
            hits = [item_id for item_id in rule.items if (answered[item_id] or 0) >= rule.at_least]
            if hits:
                items.update(dict.fromkeys(hits))
                reasons[rule.reason] = None
                floor = _higher(section, rule.min_band, floor)
        reason = "; ".join(reasons) if reasons else None
        return cls(items=tuple(items), reason=reason, floor=floor)
