"""The made-up young people in tests/fixtures/vignettes, read into typed records for any test."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from apart_engine import AssessmentKind, Instrument, ItemKind, default_instrument

VIGNETTES_DIR = Path(__file__).parent / "fixtures" / "vignettes"

Answer = int | str | tuple[str, ...]
"""A context answer as the vignettes write it: a number, an option label or a list of labels."""


@dataclass(frozen=True)
class Expected:
    """The figures the default instrument must give for one assessment."""

    risk_score: float | None
    risk_band: str | None
    harm_override: bool
    risk_incomplete: bool
    risk_domains: Mapping[str, float | None]
    resilience_score: float | None
    resilience_band: str | None
    resilience_incomplete: bool
    resilience_domains: Mapping[str, float | None]
    next_review_due: date | None


@dataclass(frozen=True)
class VignetteAssessment:
    """One assessment of a vignette, its answers split into ratings and context answers.

    `background` holds the context answers entered at this assessment: the vignette's
    background at the baseline, and the significant events (item "events") at a review or
    closure, where the stored background is only confirmed.
    """

    kind: AssessmentKind
    date: date
    ratings: Mapping[str, int | None]
    background: Mapping[str, Answer]
    notes: Mapping[str, str]
    events: tuple[str, ...]
    expected: Expected


@dataclass(frozen=True)
class Vignette:
    """A fictional young person with every assessment made of them."""

    reference: str
    path: Path
    background: Mapping[str, Answer]
    assessments: tuple[VignetteAssessment, ...]

    @property
    def baseline(self) -> VignetteAssessment:
        """The first assessment, which is always the baseline."""
        return self.assessments[0]


def load_vignettes(
    directory: Path = VIGNETTES_DIR,
    instrument: Instrument | None = None,
) -> tuple[Vignette, ...]:
    """Every vignette in `directory`, in file-name order."""
    return tuple(load_vignette(path, instrument) for path in sorted(directory.glob("*.json")))


def load_vignette(path: Path, instrument: Instrument | None = None) -> Vignette:
    """Read one vignette, sorting its answers by the instrument's item kinds."""
    instrument = instrument or default_instrument()
    raw = json.loads(path.read_text(encoding="utf-8"))
    background = _answers(raw["background"])
    assessments = tuple(_assessment(instrument, background, entry) for entry in raw["assessments"])
    return Vignette(
        reference=str(raw["reference"]),
        path=path,
        background=background,
        assessments=assessments,
    )


def _assessment(
    instrument: Instrument,
    background: Mapping[str, Answer],
    raw: Mapping[str, Any],
) -> VignetteAssessment:
    kind = AssessmentKind(raw["kind"])
    answers: Mapping[str, Any] = raw["answers"]
    is_rating = {item_id: instrument.item(item_id).kind is ItemKind.RATING for item_id in answers}
    ratings = {item_id: _rating(value) for item_id, value in answers.items() if is_rating[item_id]}
    entered = _answers({item_id: v for item_id, v in answers.items() if not is_rating[item_id]})
    events = tuple(str(event) for event in raw["events"])

    if kind is AssessmentKind.BASELINE:
        entered = {**background, **entered}
    else:
        entered = {**entered, "events": events}

    return VignetteAssessment(
        kind=kind,
        date=date.fromisoformat(raw["date"]),
        ratings=ratings,
        background=entered,
        notes={str(item_id): str(note) for item_id, note in raw["notes"].items()},
        events=events,
        expected=_expected(raw["expected"]),
    )


def _expected(raw: Mapping[str, Any]) -> Expected:
    due = raw["next_review_due"]
    return Expected(
        risk_score=_figure(raw["risk_score"]),
        risk_band=raw["risk_band"],
        harm_override=bool(raw["harm_override"]),
        risk_incomplete=bool(raw["risk_incomplete"]),
        risk_domains={str(name): _figure(score) for name, score in raw["risk_domains"].items()},
        resilience_score=_figure(raw["resilience_score"]),
        resilience_band=raw["resilience_band"],
        resilience_incomplete=bool(raw["resilience_incomplete"]),
        resilience_domains={
            str(name): _figure(score) for name, score in raw["resilience_domains"].items()
        },
        next_review_due=date.fromisoformat(due) if due is not None else None,
    )


def _answers(raw: Mapping[str, Any]) -> dict[str, Answer]:
    return {str(item_id): _answer(value) for item_id, value in raw.items()}


def _answer(value: Any) -> Answer:
    if isinstance(value, list):
        return tuple(str(label) for label in value)
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    raise ValueError(f"a vignette answer must be a number, a label or a list, not {value!r}")


def _rating(value: Any) -> int | None:
    return None if value is None else int(value)


def _figure(value: Any) -> float | None:
    return None if value is None else float(value)
