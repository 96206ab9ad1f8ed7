"""The engine reproduces every figure the shared vignettes expect."""

from pathlib import Path

import pytest

from apart_engine import SectionScore, default_instrument, next_due_after, score_assessment
from tests.vignettes import (
    VIGNETTES_DIR,
    Vignette,
    VignetteAssessment,
    load_vignette,
    load_vignettes,
)

INSTRUMENT = default_instrument()
SHARED_VIGNETTES = Path(__file__).resolve().parents[2].parent / "shared" / "vignettes"

CASES = [
    pytest.param(vignette, assessment, id=f"{vignette.reference}-{assessment.date}")
    for vignette in load_vignettes()
    for assessment in vignette.assessments
]


def _figures(section: SectionScore) -> dict[str, object]:
    return {
        "score": section.score,
        "band": section.band,
        "incomplete": section.incomplete,
        "domains": {domain.name: domain.score for domain in section.domains},
    }


@pytest.mark.parametrize(("vignette", "assessment"), CASES)
class TestVignetteFigures:
    def test_risk_figures(self, vignette: Vignette, assessment: VignetteAssessment) -> None:
        expected = assessment.expected

        risk = score_assessment(INSTRUMENT, assessment.ratings).risk

        assert _figures(risk) == {
            "score": expected.risk_score,
            "band": expected.risk_band,
            "incomplete": expected.risk_incomplete,
            "domains": expected.risk_domains,
        }
        assert risk.override_applied == expected.harm_override

    def test_resilience_figures(self, vignette: Vignette, assessment: VignetteAssessment) -> None:
        expected = assessment.expected

        resilience = score_assessment(INSTRUMENT, assessment.ratings).resilience

        assert _figures(resilience) == {
            "score": expected.resilience_score,
            "band": expected.resilience_band,
            "incomplete": expected.resilience_incomplete,
            "domains": expected.resilience_domains,
        }

    def test_next_review_due(self, vignette: Vignette, assessment: VignetteAssessment) -> None:
        due = next_due_after(
            vignette.baseline.date,
            assessment.date,
            assessment.kind,
            INSTRUMENT.timing,
        )

        assert due == assessment.expected.next_review_due


def test_every_vignette_is_covered() -> None:
    assert {vignette.reference for vignette in load_vignettes()} == {"YP-A1", "YP-B2", "YP-C3"}


def test_every_rating_item_is_answered_in_every_vignette() -> None:
    rating_ids = {item.id for item in INSTRUMENT.rating_items}

    for vignette in load_vignettes():
        for assessment in vignette.assessments:
            assert set(assessment.ratings) == rating_ids, vignette.reference


@pytest.mark.skipif(not SHARED_VIGNETTES.is_dir(), reason="no ../shared/vignettes beside the repo")
def test_fixture_copies_match_the_shared_vignettes() -> None:
    shared = {path.name: path.read_bytes() for path in SHARED_VIGNETTES.iterdir()}
    copies = {path.name: path.read_bytes() for path in VIGNETTES_DIR.iterdir()}

    assert copies == shared


def test_answers_are_split_into_ratings_and_context_answers() -> None:
    yp_a1 = load_vignette(VIGNETTES_DIR / "YP-A1.json")
    baseline, first_review = yp_a1.assessments[:2]

    assert baseline.ratings["R2"] == 3
    assert baseline.background["living_situation"] == "residential care"
    assert baseline.background["type_of_concern"] == ("boyfriend model", "group or organised")
    assert "events" not in baseline.background
    assert first_review.background == {"events": ("missing episode",)}
