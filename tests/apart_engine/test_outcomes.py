"""Change between two assessments, judged on the figures the practitioner sees."""

from dataclasses import replace

from apart_engine import AssessmentScores, SectionRole, default_instrument, score_assessment
from apart_engine.outcomes import compare
from tests.vignettes import VIGNETTES_DIR, load_vignette

INSTRUMENT = default_instrument()
YP_A1 = load_vignette(VIGNETTES_DIR / "YP-A1.json")


def _scores(index: int) -> AssessmentScores:
    return score_assessment(INSTRUMENT, YP_A1.assessments[index].ratings)


def _with_figures(scores: AssessmentScores, risk: float | None) -> AssessmentScores:
    return AssessmentScores(
        tuple(
            replace(section, score=risk) if section.role is SectionRole.RISK else section
            for section in scores.sections
        )
    )


class TestCompare:
    def test_yp_a1_first_review_shows_meaningful_improvement_in_both(self) -> None:
        risk, resilience = compare(INSTRUMENT, _scores(0), _scores(1))

        assert (risk.section_id, risk.before, risk.after) == ("risk", 62.5, 47.9)
        assert risk.delta == -14.6
        assert risk.meaningful
        assert risk.improved is True
        assert (risk.band_before, risk.band_after) == ("High", "Medium")
        assert (resilience.section_id, resilience.before, resilience.after) == (
            "resilience",
            18.2,
            39.4,
        )
        assert resilience.delta == 21.2
        assert resilience.meaningful
        assert resilience.improved is True

    def test_rising_risk_is_not_an_improvement(self) -> None:
        risk, _ = compare(INSTRUMENT, _scores(1), _scores(0))

        assert risk.delta == 14.6
        assert risk.improved is False

    def test_exactly_ten_points_is_meaningful(self) -> None:
        base = _scores(0)

        risk, _ = compare(INSTRUMENT, _with_figures(base, 37.5), _with_figures(base, 27.5))

        assert risk.delta == -10.0
        assert risk.meaningful

    def test_just_under_ten_points_is_not_meaningful(self) -> None:
        base = _scores(0)

        risk, _ = compare(INSTRUMENT, _with_figures(base, 37.5), _with_figures(base, 27.6))

        assert risk.delta == -9.9
        assert not risk.meaningful
        assert risk.improved is True

    def test_no_change_is_neither_better_nor_worse(self) -> None:
        risk, _ = compare(INSTRUMENT, _scores(0), _scores(0))

        assert risk.delta == 0
        assert risk.improved is None

    def test_a_missing_score_gives_no_change(self) -> None:
        base = _scores(0)

        risk, _ = compare(INSTRUMENT, _with_figures(base, None), base)

        assert risk.delta is None
        assert not risk.meaningful
        assert risk.improved is None
