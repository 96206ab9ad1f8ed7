"""Section, domain and band scores, the harm override and band adjustments."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apart_engine import (
    Band,
    BandAdjustment,
    Instrument,
    InvalidAdjustmentError,
    InvalidRatingError,
    Ratings,
    Section,
    SectionRole,
    allowed_adjustments,
    check_adjustment,
    default_instrument,
    round_half_up,
    score_assessment,
)

INSTRUMENT = default_instrument()
RISK_IDS = [item.id for item in INSTRUMENT.section(SectionRole.RISK).items]
RESILIENCE_IDS = [item.id for item in INSTRUMENT.section(SectionRole.RESILIENCE).items]
RATING_IDS = RISK_IDS + RESILIENCE_IDS

WORKED_EXAMPLE: Ratings = {
    "R1": 2,
    "R2": 3,
    "R3": 1,
    "R4": 2,
    "R5": 1,
    "R6": None,
    "R7": 2,
    "R8": 1,
    "R9": 0,
    "R10": 2,
    "R11": 2,
    "R12": 3,
    "R13": 1,
    "R14": 2,
    "R15": 0,
    "R16": 1,
}

REASON = "seen with the same men again"

ratings_strategy = st.dictionaries(st.sampled_from(RATING_IDS), st.none() | st.integers(0, 3))


def _all(value: int | None, item_ids: list[str] = RATING_IDS) -> dict[str, int | None]:
    return dict.fromkeys(item_ids, value)


def _with_sections(*replacements: Section) -> Instrument:
    """A checked copy of the default with some scored sections replaced by role."""
    by_role = {section.role: section for section in replacements}
    sections = tuple(by_role.get(section.role, section) for section in INSTRUMENT.scored_sections)
    return Instrument(
        id="variant",
        version="1",
        title="A variant of the default",
        rating_window=INSTRUMENT.rating_window,
        sections=sections,
    )


def _ten_item_instrument() -> Instrument:
    """A copy of the default whose risk section has exactly ten items."""
    risk = INSTRUMENT.section(SectionRole.RISK)
    return _with_sections(risk.model_copy(update={"items": risk.items[:10]}))


class TestRoundHalfUp:
    def test_a_half_rounds_up(self) -> None:
        assert round_half_up(6.25) == 6.3

    def test_a_half_rounds_away_from_zero_below_zero(self) -> None:
        assert round_half_up(-6.25) == -6.3

    def test_exact_fractions_round_from_their_true_value(self) -> None:
        assert round_half_up(Fraction(2300, 45)) == 51.1
        assert round_half_up(Fraction(200, 3)) == 66.7
        assert round_half_up(Fraction(100, 3)) == 33.3
        assert round_half_up(Fraction(300, 48)) == 6.3

    def test_a_float_rounds_as_the_decimal_it_prints_as(self) -> None:
        """0.15 and 2.675 sit just below their halves in binary; people see the half."""
        assert round_half_up(0.15) == 0.2
        assert round_half_up(2.675, places=2) == 2.68

    def test_whole_places(self) -> None:
        assert round_half_up(Fraction(5, 2), places=0) == 3


class TestSectionScores:
    def test_worked_example_from_the_spec(self) -> None:
        risk = score_assessment(INSTRUMENT, WORKED_EXAMPLE).risk

        assert (risk.rated, risk.unknown, risk.unanswered, risk.total) == (15, 1, 0, 16)
        assert risk.score == 51.1
        assert risk.score_band == "High"
        assert risk.computed_band == "High"
        assert risk.band == "High"
        assert risk.override_applied
        assert risk.override_items == ("R2",)
        assert risk.override_reason
        assert not risk.incomplete

    def test_unknown_items_leave_the_denominator(self) -> None:
        ratings = {**_all(None, RISK_IDS), "R1": 3, "R2": 0}

        assert score_assessment(INSTRUMENT, ratings).risk.score == 50.0

    def test_a_quarter_point_rounds_up(self) -> None:
        """Three points out of 48 is 6.25%, shown as 6.3."""
        ratings = {**_all(0, RISK_IDS), "R7": 1, "R10": 1, "R16": 1}

        assert score_assessment(INSTRUMENT, ratings).risk.score == 6.3

    def test_domain_scores_are_scored_the_same_way(self) -> None:
        domains = score_assessment(INSTRUMENT, WORKED_EXAMPLE).risk.domains

        assert [(d.name, d.score, d.rated, d.unknown) for d in domains] == [
            ("Exploitation and harm", 61.1, 6, 1),
            ("Health and wellbeing", 33.3, 3, 0),
            ("Context", 50.0, 6, 0),
        ]

    def test_all_unknown_section_has_no_score_and_no_band(self) -> None:
        resilience = score_assessment(INSTRUMENT, _all(None, RESILIENCE_IDS)).resilience

        assert resilience.score is None
        assert resilience.score_band is None
        assert resilience.band is None
        assert resilience.incomplete
        assert all(domain.score is None for domain in resilience.domains)
        assert allowed_adjustments(INSTRUMENT, resilience) == ()

    def test_unanswered_items_are_counted_apart_from_unknown(self) -> None:
        risk = score_assessment(INSTRUMENT, {"R1": 1, "R2": None}).risk

        assert (risk.rated, risk.unknown, risk.unanswered) == (1, 1, 14)
        assert risk.score == 33.3
        assert risk.incomplete

    def test_answers_to_other_items_are_ignored(self) -> None:
        with_context: dict[str, int | None] = {**WORKED_EXAMPLE, "age": 14}

        assert score_assessment(INSTRUMENT, with_context) == score_assessment(
            INSTRUMENT,
            WORKED_EXAMPLE,
        )

    @pytest.mark.parametrize("value", [4, -1, True])
    def test_a_rating_off_the_scale_is_refused(self, value: int) -> None:
        with pytest.raises(InvalidRatingError, match="the scale runs from 0 to 3"):
            score_assessment(INSTRUMENT, {"R1": value})

    def test_bands_use_the_rounded_score(self) -> None:
        """Two thirds is 66.666...%, shown as 66.7, so a band starting at 66.7 holds it."""
        resilience = INSTRUMENT.section(SectionRole.RESILIENCE)
        bands = (
            Band(name="Low", min=0, below=33.4),
            Band(name="Developing", min=33.4, below=66.7),
            Band(name="Strong", min=66.7),
        )
        instrument = _with_sections(resilience.model_copy(update={"bands": bands}))

        scores = score_assessment(instrument, _all(2, RESILIENCE_IDS)).resilience

        assert scores.score == 66.7
        assert scores.band == "Strong"


class TestIncomplete:
    def test_four_of_eleven_unknown_is_incomplete(self) -> None:
        ratings = {**_all(1, RESILIENCE_IDS), "P3": None, "P4": None, "P7": None, "P10": None}

        assert score_assessment(INSTRUMENT, ratings).resilience.incomplete

    def test_three_of_eleven_unknown_is_complete(self) -> None:
        ratings = {**_all(1, RESILIENCE_IDS), "P3": None, "P4": None, "P7": None}

        assert not score_assessment(INSTRUMENT, ratings).resilience.incomplete

    def test_exactly_thirty_percent_unknown_is_not_incomplete(self) -> None:
        instrument = _ten_item_instrument()
        ratings = {**_all(1, RISK_IDS[:10]), "R1": None, "R2": None, "R3": None}

        assert not score_assessment(instrument, ratings).risk.incomplete

    def test_just_over_thirty_percent_unknown_is_incomplete(self) -> None:
        instrument = _ten_item_instrument()
        ratings = {**_all(1, RISK_IDS[:10]), "R1": None, "R2": None, "R3": None, "R4": None}

        assert score_assessment(instrument, ratings).risk.incomplete

    def test_unanswered_items_count_towards_incomplete(self) -> None:
        ratings = {item_id: 1 for item_id in RESILIENCE_IDS[:7]}

        assert score_assessment(INSTRUMENT, ratings).resilience.incomplete


class TestHarmOverride:
    def test_a_serious_harm_rating_lifts_a_low_score_to_high(self) -> None:
        risk = score_assessment(INSTRUMENT, {**_all(0, RISK_IDS), "R1": 3}).risk

        assert risk.score == 6.3
        assert risk.score_band == "Low"
        assert risk.computed_band == "High"
        assert risk.override_applied
        assert risk.override_items == ("R1",)

    def test_a_rating_below_three_does_not_trigger_it(self) -> None:
        risk = score_assessment(INSTRUMENT, {**_all(2, RISK_IDS), "R7": 3}).risk

        assert not risk.override_applied
        assert risk.override_items == ()
        assert risk.override_reason is None
        assert risk.computed_band == risk.score_band == "High"

    def test_every_triggering_item_is_named(self) -> None:
        risk = score_assessment(INSTRUMENT, {**_all(0, RISK_IDS), "R3": 3, "R2": 3}).risk

        assert risk.override_items == ("R2", "R3")

    def test_unknown_harm_items_do_not_trigger_it(self) -> None:
        risk = score_assessment(INSTRUMENT, {**_all(0, RISK_IDS), "R1": None}).risk

        assert not risk.override_applied


class TestAdjustments:
    def test_a_medium_band_may_move_one_step_either_way(self) -> None:
        risk = score_assessment(INSTRUMENT, {**_all(1, RISK_IDS), "R16": 3}).risk

        assert risk.computed_band == "Medium"
        assert allowed_adjustments(INSTRUMENT, risk) == ("Low", "High")

    def test_a_low_band_may_only_move_up_one_step(self) -> None:
        risk = score_assessment(INSTRUMENT, _all(0, RISK_IDS)).risk

        assert allowed_adjustments(INSTRUMENT, risk) == ("Medium",)
        with pytest.raises(InvalidAdjustmentError, match='only one step from "Low"'):
            check_adjustment(INSTRUMENT, risk, BandAdjustment("High", REASON))

    def test_an_adjustment_keeps_the_computed_band(self) -> None:
        ratings = {**_all(1, RISK_IDS), "R16": 3}
        adjustment = BandAdjustment("High", REASON)

        risk = score_assessment(INSTRUMENT, ratings, {"risk": adjustment}).risk

        assert risk.band == "High"
        assert risk.computed_band == "Medium"
        assert risk.adjustment == adjustment

    def test_the_reason_needs_three_words(self) -> None:
        risk = score_assessment(INSTRUMENT, _all(0, RISK_IDS)).risk

        with pytest.raises(InvalidAdjustmentError, match="at least 3 words"):
            check_adjustment(INSTRUMENT, risk, BandAdjustment("Medium", "  new   concerns "))
        check_adjustment(INSTRUMENT, risk, BandAdjustment("Medium", "new concerns today"))

    def test_the_override_floor_cannot_be_adjusted_away(self) -> None:
        risk = score_assessment(INSTRUMENT, {**_all(0, RISK_IDS), "R2": 3}).risk

        assert allowed_adjustments(INSTRUMENT, risk) == ()
        with pytest.raises(InvalidAdjustmentError, match='cannot go below "High"'):
            check_adjustment(INSTRUMENT, risk, BandAdjustment("Medium", REASON))

    def test_the_same_band_is_not_an_adjustment(self) -> None:
        risk = score_assessment(INSTRUMENT, _all(0, RISK_IDS)).risk

        with pytest.raises(InvalidAdjustmentError, match='choose "Medium"'):
            check_adjustment(INSTRUMENT, risk, BandAdjustment("Low", REASON))

    def test_a_section_without_a_score_cannot_be_adjusted(self) -> None:
        with pytest.raises(InvalidAdjustmentError, match="no score yet"):
            score_assessment(INSTRUMENT, {}, {"resilience": BandAdjustment("Low", REASON)})

    def test_score_assessment_checks_adjustments(self) -> None:
        with pytest.raises(InvalidAdjustmentError):
            score_assessment(INSTRUMENT, _all(0), {"risk": BandAdjustment("High", REASON)})

    def test_an_unknown_section_cannot_be_adjusted(self) -> None:
        with pytest.raises(InvalidAdjustmentError, match='no scored section "context"'):
            score_assessment(INSTRUMENT, _all(0), {"context": BandAdjustment("Low", REASON)})


class TestProperties:
    @given(ratings_strategy)
    def test_scores_stay_between_0_and_100(self, ratings: dict[str, int | None]) -> None:
        for section in score_assessment(INSTRUMENT, ratings).sections:
            figures = [section.score, *(domain.score for domain in section.domains)]
            assert all(0 <= figure <= 100 for figure in figures if figure is not None)
            assert section.rated + section.unknown + section.unanswered == section.total

    @given(ratings_strategy, st.data())
    def test_marking_an_unanswered_item_unknown_changes_no_score(
        self,
        ratings: dict[str, int | None],
        data: st.DataObject,
    ) -> None:
        unanswered = [item_id for item_id in RATING_IDS if item_id not in ratings]
        if not unanswered:
            return
        item_id = data.draw(st.sampled_from(unanswered))

        before = score_assessment(INSTRUMENT, ratings)
        after = score_assessment(INSTRUMENT, {**ratings, item_id: None})

        for old, new in zip(before.sections, after.sections, strict=True):
            assert new.score == old.score
            assert new.band == old.band
            assert new.incomplete == old.incomplete
            assert new.domains == old.domains

    @given(ratings_strategy, st.sampled_from(RISK_IDS), st.data())
    def test_raising_a_risk_rating_never_lowers_the_score_or_band(
        self,
        ratings: dict[str, int | None],
        item_id: str,
        data: st.DataObject,
    ) -> None:
        low = data.draw(st.integers(0, 2))
        high = data.draw(st.integers(low + 1, 3))
        bands = INSTRUMENT.band_names("risk")

        before = score_assessment(INSTRUMENT, {**ratings, item_id: low}).risk
        after = score_assessment(INSTRUMENT, {**ratings, item_id: high}).risk

        assert before.score is not None
        assert after.score is not None
        assert after.score >= before.score
        assert before.band is not None
        assert after.band is not None
        assert bands.index(after.band) >= bands.index(before.band)
