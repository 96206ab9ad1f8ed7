"""Cohort outcomes checked against figures worked out by hand on a small fixed cohort."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apart_engine.analysis import (
    ALL_BANDS,
    REGRESSION_CAVEAT,
    AssessmentRecord,
    PeriodRow,
    SplitRow,
    analyse,
    band_counts,
    group_stats,
    months_between,
    period_labels,
    period_of,
    split_by,
    t_quantile_975,
)
from apart_engine.instrument import AssessmentKind, Instrument, SectionRole, default_instrument

if TYPE_CHECKING:
    from collections.abc import Callable

BASELINE_DAY = date(2026, 1, 10)
NINE_TO_TWELVE = date(2026, 11, 20)
EXPLOITATION = ("risk", "Exploitation and harm")
CONTEXT = ("risk", "Context")


def _record(
    reference: str,
    day: date,
    kind: AssessmentKind,
    risk: float | None,
    band: str | None,
    *,
    resilience: float | None = 30.0,
    domains: dict[tuple[str, str], float | None] | None = None,
    living: str | None = None,
) -> AssessmentRecord:
    return AssessmentRecord(
        reference=reference,
        assessed_on=day,
        kind=kind,
        scores={"risk": risk, "resilience": resilience},
        bands={"risk": band, "resilience": "Low"},
        domains=domains or {},
        ratings={"R1": 2 if kind is AssessmentKind.BASELINE else 1},
        background={"living_situation": living} if living else {},
    )


def _cohort() -> list[AssessmentRecord]:
    """Five high-risk young people, one medium, one with only a baseline."""
    records = []
    high = {"H1": (60, 45), "H2": (70, 50), "H3": (55, 50), "H4": (65, 40), "H5": (80, 70)}
    for reference, (before, after) in high.items():
        records += [
            _record(
                reference,
                BASELINE_DAY,
                AssessmentKind.BASELINE,
                before,
                "High",
                domains={EXPLOITATION: 70.0, CONTEXT: 50.0},
                living="residential_care",
            ),
            _record(
                reference,
                NINE_TO_TWELVE,
                AssessmentKind.REVIEW,
                after,
                "Medium",
                domains={EXPLOITATION: 40.0, CONTEXT: 50.0},
            ),
        ]
    records += [
        _record("M1", BASELINE_DAY, AssessmentKind.BASELINE, 40, "Medium", living="with_family"),
        _record("M1", NINE_TO_TWELVE, AssessmentKind.REVIEW, 30, "Medium"),
        _record("B1", date(2026, 6, 1), AssessmentKind.BASELINE, 20, "Low", living="with_family"),
    ]
    return records


@pytest.fixture
def instrument() -> Instrument:
    """The shipped instrument."""
    return default_instrument()


class TestPeriods:
    def test_periods_are_named_in_order(self) -> None:
        assert period_labels() == ("0-3", "3-6", "6-9", "9-12", "12+")

    def test_a_review_on_its_slot_closes_the_period_and_a_day_later_opens_the_next(
        self,
    ) -> None:
        assert period_of(BASELINE_DAY, date(2026, 4, 10)) == "0-3"
        assert period_of(BASELINE_DAY, date(2026, 4, 11)) == "3-6"
        assert period_of(BASELINE_DAY, date(2027, 1, 10)) == "9-12"
        assert period_of(BASELINE_DAY, date(2027, 1, 11)) == "12+"

    def test_the_baseline_day_itself_is_in_the_first_period_and_earlier_in_none(self) -> None:
        assert period_of(BASELINE_DAY, BASELINE_DAY) == "0-3"
        assert period_of(BASELINE_DAY, date(2026, 1, 11)) == "0-3"
        assert period_of(BASELINE_DAY, date(2026, 1, 9)) is None

    def test_months_count_calendar_months_from_a_month_end(self) -> None:
        assert months_between(date(2025, 11, 30), date(2026, 2, 28)) == 3
        assert months_between(BASELINE_DAY, date(2026, 2, 24)) == pytest.approx(1.5)


class TestStatistics:
    @pytest.mark.parametrize(
        ("df", "expected"), [(1, 12.7062), (4, 2.7764), (5, 2.5706), (30, 2.0423)]
    )
    def test_t_quantiles_match_the_published_table(self, df: int, expected: float) -> None:
        assert t_quantile_975(df) == pytest.approx(expected, abs=1e-4)

    def test_a_group_smaller_than_the_minimum_shows_no_figures(self) -> None:
        stats = group_stats([-10.0], role=SectionRole.RISK, threshold=10, min_group=5)
        assert stats.suppressed
        assert stats.n == 1
        assert stats.mean is None
        assert not stats.shown

    def test_an_empty_group_is_empty_not_suppressed(self) -> None:
        stats = group_stats([], role=SectionRole.RISK, threshold=10)
        assert (stats.n, stats.suppressed, stats.shown) == (0, False, False)

    def test_a_single_change_has_a_mean_but_no_interval_when_shown(self) -> None:
        stats = group_stats([12.0], role=SectionRole.RESILIENCE, threshold=10, min_group=1)
        assert (stats.mean, stats.ci_low, stats.effect_size) == (12.0, None, None)
        assert stats.improved == 1

    def test_resilience_improves_upwards_and_exactly_ten_points_is_meaningful(self) -> None:
        stats = group_stats(
            [10.0, 9.9, -10.0, 0.0], role=SectionRole.RESILIENCE, threshold=10, min_group=1
        )
        assert (stats.improved, stats.unchanged, stats.worse) == (0.25, 0.5, 0.25)


class TestCohort:
    def test_the_high_baseline_group_at_nine_to_twelve_months(
        self, instrument: Instrument
    ) -> None:
        """Changes -15, -20, -5, -25, -10: mean -15, SD sqrt(62.5), t(4) = 2.7764.

        With the default minimum the group is hidden beside the single Medium young person
        (see TestComplementarySuppression), so the figures are checked with every group shown.
        """
        stats = analyse(instrument, _cohort(), min_group=1).row("risk", "9-12", "High").stats

        assert stats.n == 5
        assert (stats.mean, stats.median) == (-15.0, -15.0)
        assert (stats.ci_low, stats.ci_high) == (-24.8, -5.2)
        assert stats.effect_size == -1.9
        assert (stats.improved, stats.unchanged, stats.worse) == (0.8, 0.2, 0.0)

    def test_everyone_at_nine_to_twelve_months(self, instrument: Instrument) -> None:
        """Adding M1's -10: mean -85/6, median -12.5, SD sqrt(54.17), t(5) = 2.5706."""
        stats = analyse(instrument, _cohort()).row("risk", "9-12", ALL_BANDS).stats

        assert stats.n == 6
        assert (stats.mean, stats.median) == (-14.2, -12.5)
        assert (stats.ci_low, stats.ci_high) == (-21.9, -6.4)
        assert stats.effect_size == -1.92
        assert stats.improved == pytest.approx(5 / 6)

    def test_the_single_medium_young_person_is_suppressed(self, instrument: Instrument) -> None:
        stats = analyse(instrument, _cohort()).row("risk", "9-12", "Medium").stats
        assert (stats.n, stats.suppressed, stats.mean) == (1, True, None)

    def test_empty_groups_have_no_young_people(self, instrument: Instrument) -> None:
        result = analyse(instrument, _cohort())
        assert result.row("risk", "9-12", "Low").stats.n == 0
        assert result.row("risk", "3-6", ALL_BANDS).stats.n == 0

    def test_a_baseline_alone_counts_as_a_young_person_but_not_a_change(
        self, instrument: Instrument
    ) -> None:
        result = analyse(instrument, _cohort())
        assert (result.young_people, result.with_follow_up, result.assessments) == (7, 6, 13)
        assert (result.first_date, result.last_date) == (BASELINE_DAY, NINE_TO_TWELVE)

    def test_a_case_without_a_baseline_is_left_out(self, instrument: Instrument) -> None:
        orphan = _record("X1", NINE_TO_TWELVE, AssessmentKind.REVIEW, 10, "Low")
        assert analyse(instrument, [*_cohort(), orphan]).young_people == 7

    def test_follow_ups_outside_the_dates_do_not_count(self, instrument: Instrument) -> None:
        result = analyse(instrument, _cohort(), to_date=date(2026, 11, 1))
        assert result.row("risk", "9-12", ALL_BANDS).stats.n == 0
        assert result.with_follow_up == 0

    def test_high_baseline_comparisons_carry_the_regression_caveat(
        self, instrument: Instrument
    ) -> None:
        assert analyse(instrument, _cohort(), min_group=1).caveats == (REGRESSION_CAVEAT,)
        without_high = [r for r in _cohort() if not r.reference.startswith("H")]
        assert analyse(instrument, without_high, min_group=1).caveats == ()

    def test_the_domain_that_fell_most_moved_most(self, instrument: Instrument) -> None:
        movers = analyse(instrument, _cohort()).domain_movers
        assert [(m.name, m.n, m.mean_change, m.improvement) for m in movers] == [
            ("Exploitation and harm", 5, -30.0, 30.0),
            ("Context", 5, 0.0, 0.0),
        ]

    def test_items_are_ranked_by_how_much_they_improved(self, instrument: Instrument) -> None:
        movers = analyse(instrument, _cohort()).item_movers
        assert [(m.name, m.n, m.mean_change) for m in movers] == [("R1", 6, -1.0)]

    def test_a_minimum_below_one_is_refused(self, instrument: Instrument) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            analyse(instrument, _cohort(), min_group=0)


class TestSplits:
    def test_groups_of_a_background_field_are_suppressed_below_the_minimum(
        self, instrument: Instrument
    ) -> None:
        rows = {
            row.value: row.stats
            for row in split_by(instrument, _cohort(), "living_situation")
            if row.section_id == "risk"
        }
        assert rows["residential care"].n == 5
        assert (rows["with family"].n, rows["with family"].suppressed) == (1, True)
        assert rows["foster care"].n == 0

    def test_the_group_beside_a_suppressed_one_is_hidden_too(self, instrument: Instrument) -> None:
        """Everyone (six) less residential care (five) would be the one living with family."""
        rows = {
            row.value: row.stats
            for row in split_by(instrument, _cohort(), "living_situation")
            if row.section_id == "risk"
        }
        assert (rows["with family"].n, rows["with family"].suppressed) == (1, True)
        assert rows["residential care"].suppressed
        assert rows["residential care"].complementary
        assert rows["residential care"].mean is None

    def test_a_lower_minimum_shows_the_small_group(self, instrument: Instrument) -> None:
        rows = split_by(instrument, _cohort(), "living_situation", min_group=1)
        found = {r.value: r.stats.mean for r in rows if r.section_id == "risk"}
        assert (found["with family"], found["residential care"]) == (-10.0, -15.0)


class TestSameDayReview:
    def test_a_review_on_the_baseline_day_counts_in_the_first_period(
        self, instrument: Instrument
    ) -> None:
        records = [
            _record("S1", BASELINE_DAY, AssessmentKind.BASELINE, 60, "High"),
            _record("S1", BASELINE_DAY, AssessmentKind.REVIEW, 45, "Medium"),
        ]
        result = analyse(instrument, records, min_group=1)

        first = result.row("risk", "0-3").stats
        assert (first.n, first.mean) == (1, -15.0)
        assert result.with_follow_up == 1
        assert result.assessments == 2

    def test_an_assessment_dated_before_the_baseline_is_not_a_follow_up(
        self, instrument: Instrument
    ) -> None:
        records = [
            _record("S1", BASELINE_DAY, AssessmentKind.BASELINE, 60, "High"),
            _record("S1", date(2026, 1, 9), AssessmentKind.REVIEW, 45, "Medium"),
        ]
        assert analyse(instrument, records, min_group=1).with_follow_up == 0


def _one_review(
    reference: str, band: str | None, change: float, *, review: date = NINE_TO_TWELVE
) -> list[AssessmentRecord]:
    return [
        _record(reference, BASELINE_DAY, AssessmentKind.BASELINE, 50, band),
        _record(reference, review, AssessmentKind.REVIEW, 50 + change, band),
    ]


def _latest_by_band(instrument: Instrument, records: list[AssessmentRecord]) -> dict[str, Any]:
    return {
        row.baseline_band: row.stats
        for row in analyse(instrument, records).latest
        if row.section_id == "risk"
    }


class TestComplementarySuppression:
    def test_one_young_person_cannot_be_worked_out_from_everyone_less_the_rest(
        self, instrument: Instrument
    ) -> None:
        """The QA probe: five High and one Low; 6 x mean(All) - 5 x mean(High) was Low's change."""
        records = [r for i in range(5) for r in _one_review(f"H{i}", "High", -4.0 * (i + 1))]
        records += _one_review("L1", "Low", 27.1)

        stats = _latest_by_band(instrument, records)

        assert stats[ALL_BANDS].shown
        assert (stats["Low"].n, stats["Low"].suppressed) == (1, True)
        assert stats["High"].suppressed
        assert stats["High"].complementary
        assert stats["High"].mean is None
        assert stats["High"].improved is None

    def test_parts_are_hidden_until_the_hidden_ones_hold_the_minimum(
        self, instrument: Instrument
    ) -> None:
        """Low 1 and Medium 2 hold three between them, fewer than five, so High goes too."""
        records = _one_review("L1", "Low", 1.0)
        records += [r for i in range(2) for r in _one_review(f"M{i}", "Medium", 2.0)]
        records += [r for i in range(6) for r in _one_review(f"H{i}", "High", -3.0)]

        stats = _latest_by_band(instrument, records)

        assert stats[ALL_BANDS].shown
        assert [stats[b].suppressed for b in ("Low", "Medium", "High")] == [True, True, True]

    def test_the_next_smallest_part_is_enough_when_it_reaches_the_minimum(
        self, instrument: Instrument
    ) -> None:
        records = _one_review("L1", "Low", 1.0)
        records += [r for i in range(6) for r in _one_review(f"M{i}", "Medium", 2.0)]
        records += [r for i in range(7) for r in _one_review(f"H{i}", "High", -3.0)]

        stats = _latest_by_band(instrument, records)

        assert stats["Medium"].complementary
        assert stats["High"].shown
        assert stats[ALL_BANDS].shown

    def test_a_young_person_without_a_baseline_band_is_protected_as_well(
        self, instrument: Instrument
    ) -> None:
        """Everyone less High would otherwise be the one young person with no baseline band."""
        records = [r for i in range(5) for r in _one_review(f"H{i}", "High", -3.0)]
        records += _one_review("N1", None, 12.0)

        stats = _latest_by_band(instrument, records)

        assert stats[ALL_BANDS].shown
        assert stats["High"].complementary

    def test_an_early_review_cannot_be_worked_out_from_the_latest_less_a_period(
        self, instrument: Instrument
    ) -> None:
        """Six reviewed at 9-12 months and one at 0-3: latest less 9-12 would be that one."""
        records = [r for i in range(6) for r in _one_review(f"H{i}", "High", -3.0)]
        records += _one_review("E1", "High", 9.0, review=date(2026, 2, 1))

        result = analyse(instrument, records)
        latest = next(
            r.stats
            for r in result.latest
            if r.section_id == "risk" and r.baseline_band == ALL_BANDS
        )

        assert result.row("risk", "0-3").stats.suppressed
        assert not (latest.shown and result.row("risk", "9-12").stats.shown)


_DAYS = st.lists(st.integers(min_value=0, max_value=420), min_size=1, max_size=3, unique=True)
_PEOPLE = st.lists(
    st.tuples(
        st.sampled_from(["Low", "Medium", "High", None]),
        st.sampled_from(["with_family", "foster_care", "residential_care", None]),
        _DAYS,
    ),
    min_size=1,
    max_size=9,
)


class TestNothingSmallCanBeWorkedOut:
    @settings(max_examples=60, deadline=None)
    @given(people=_PEOPLE, min_group=st.integers(min_value=2, max_value=3))
    def test_no_sum_over_fewer_than_the_minimum_follows_from_the_groups_shown(
        self, people: list[tuple[str | None, str | None, list[int]]], min_group: int
    ) -> None:
        """Each shown n x mean is the sum of its group's changes; none may combine to a small sum.

        The groups are rebuilt here from their definitions (one unknown change per young person
        and period), so neither a suppressed group nor any set of fewer than `min_group`
        unknowns may be a combination of the groups shown.
        """
        instrument = default_instrument()
        records, members = _random_cohort(instrument, people)
        result = analyse(instrument, records, min_group=min_group, split="living_situation")

        rows: list[PeriodRow | SplitRow] = [*result.by_period, *result.latest, *result.splits]
        rows = [row for row in rows if row.section_id == "risk"]
        groups = [(members(row), row.stats) for row in rows]
        assert all(len(group) == stats.n for group, stats in groups)
        basis = _echelon([group for group, stats in groups if stats.shown])
        for group, stats in groups:
            if stats.suppressed and stats.n < min_group:
                assert not _in_span(basis, group)
        unknowns = sorted(set().union(*(group for group, _ in groups)))
        for size in range(1, min_group):
            for chosen in itertools.combinations(unknowns, size):
                assert not _in_span(basis, set(chosen)), chosen


_Unknown = tuple[str, str]


def _random_cohort(
    instrument: Instrument, people: list[tuple[str | None, str | None, list[int]]]
) -> tuple[list[AssessmentRecord], Callable[[Any], set[_Unknown]]]:
    """Records of made-up young people, and who (by reference and period) is in a table row."""
    labels = {o.id: o.label for o in instrument.item("living_situation").options}
    records: list[AssessmentRecord] = []
    per_period: dict[str, dict[str, _Unknown]] = {}
    latest: dict[str, _Unknown] = {}
    about: dict[str, tuple[str | None, str]] = {}
    for number, (band, living, days) in enumerate(people):
        reference = f"Y{number}"
        records.append(
            _record(reference, BASELINE_DAY, AssessmentKind.BASELINE, 50, band, living=living)
        )
        for day in sorted(days):
            on = BASELINE_DAY + timedelta(days=day)
            records.append(_record(reference, on, AssessmentKind.REVIEW, 40 + day % 9, band))
            period = period_of(BASELINE_DAY, on)
            assert period is not None
            per_period.setdefault(reference, {})[period] = (reference, period)
            latest[reference] = (reference, period)
        about[reference] = (band, labels[living] if living else "not recorded")

    def members(row: Any) -> set[_Unknown]:
        if isinstance(row, SplitRow):
            return {latest[ref] for ref, (_, value) in about.items() if value == row.value}
        chosen = [r for r, (band, _) in about.items() if row.baseline_band in (ALL_BANDS, band)]
        if row.period == "latest":
            return {latest[ref] for ref in chosen}
        return {per_period[ref][row.period] for ref in chosen if row.period in per_period[ref]}

    return records, members


def _echelon(groups: list[set[_Unknown]]) -> dict[_Unknown, dict[_Unknown, Fraction]]:
    """Reduced row echelon form of the groups' 0/1 rows, by pivot unknown."""
    rows: dict[_Unknown, dict[_Unknown, Fraction]] = {}
    for group in groups:
        row = {u: Fraction(1) for u in group}
        for pivot, other in rows.items():
            row = _minus(row, other, row.get(pivot, Fraction(0)))
        if not row:
            continue
        pivot = min(row)
        row = {u: v / row[pivot] for u, v in row.items()}
        rows = {p: _minus(other, row, other.get(pivot, Fraction(0))) for p, other in rows.items()}
        rows[pivot] = row
    return rows


def _minus(
    row: dict[_Unknown, Fraction], other: dict[_Unknown, Fraction], times: Fraction
) -> dict[_Unknown, Fraction]:
    result = dict(row)
    for u, v in other.items():
        result[u] = result.get(u, Fraction(0)) - times * v
    return {u: v for u, v in result.items() if v}


def _in_span(basis: dict[_Unknown, dict[_Unknown, Fraction]], group: set[_Unknown]) -> bool:
    """Whether the sum over `group` is a combination of the shown groups."""
    rest = {u: Fraction(1) for u in group}
    for pivot, row in basis.items():
        rest = _minus(rest, row, rest.get(pivot, Fraction(0)))
    return not rest


class TestCaseload:
    def test_open_cases_are_counted_by_their_latest_band(self, instrument: Instrument) -> None:
        days = [date(2026, 3, 1), date(2026, 7, 1), date(2026, 12, 1)]
        counts = band_counts(_cohort(), "risk", days)
        assert counts[days[0]] == {"High": 5, "Medium": 1}
        assert counts[days[1]] == {"High": 5, "Medium": 1, "Low": 1}
        assert counts[days[2]] == {"Medium": 6, "Low": 1}

    def test_a_closed_case_leaves_the_caseload(self, instrument: Instrument) -> None:
        closure = _record("B1", date(2026, 8, 1), AssessmentKind.CLOSURE, 10, "Low")
        counts = band_counts([*_cohort(), closure], "risk", [date(2026, 9, 1)])
        assert "Low" not in counts[date(2026, 9, 1)]
