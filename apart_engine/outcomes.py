"""Change between two assessments of the same young person."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from apart_engine.instrument import SectionRole
from apart_engine.scoring import round_half_up

if TYPE_CHECKING:
    from apart_engine.instrument import Instrument
    from apart_engine.scoring import AssessmentScores


@dataclass(frozen=True)
class ScoreChange:
    """How one section's score moved; `improved` gives the direction even when it is small."""

    section_id: str
    role: SectionRole
    before: float | None
    after: float | None
    delta: float | None
    meaningful: bool
    improved: bool | None
    band_before: str | None
    band_after: str | None


def compare(
    instrument: Instrument,
    earlier: AssessmentScores,
    later: AssessmentScores,
) -> tuple[ScoreChange, ...]:
    """The change in every scored section, judged on the rounded figures people see."""
    # Exact fractions of the shown figures: 47.9 - 62.5 in floats is -14.600000000000001,
    # which could tip a change of exactly 10 points to either side of the threshold.
    threshold = Fraction(str(instrument.thresholds.meaningful_change))
    changes = []
    for section in instrument.scored_sections:
        old, new = earlier.section(section.id), later.section(section.id)
        exact = None
        if old.score is not None and new.score is not None:
            exact = Fraction(str(new.score)) - Fraction(str(old.score))
        changes.append(
            ScoreChange(
                section_id=section.id,
                role=section.role,
                before=old.score,
                after=new.score,
                delta=None if exact is None else round_half_up(exact),
                meaningful=exact is not None and abs(exact) >= threshold,
                improved=_improved(section.role, exact),
                band_before=old.band,
                band_after=new.band,
            )
        )
    return tuple(changes)


def _improved(role: SectionRole, exact: Fraction | None) -> bool | None:
    if not exact:
        return None
    # Less risk is better; more resilience is better.
    return exact < 0 if role is SectionRole.RISK else exact > 0
