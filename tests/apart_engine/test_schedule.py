"""Review slots, the window that lets a review meet its slot, and due reminders."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apart_engine.instrument import AssessmentKind, Timing
from apart_engine.schedule import (
    DueStatus,
    add_months,
    due_status,
    met_slot,
    next_due_after,
    next_review_due,
    review_slot,
)

TIMING = Timing()


class TestAddMonths:
    def test_keeps_the_day_of_the_month(self) -> None:
        assert add_months(date(2026, 1, 12), 3) == date(2026, 4, 12)

    def test_clamps_to_the_last_day_of_a_short_month(self) -> None:
        assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
        assert add_months(date(2026, 1, 31), 3) == date(2026, 4, 30)

    def test_february_has_29_days_in_a_leap_year(self) -> None:
        assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
        assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)

    def test_crosses_year_ends_both_ways(self) -> None:
        assert add_months(date(2025, 11, 30), 14) == date(2027, 1, 30)
        assert add_months(date(2026, 1, 15), -2) == date(2025, 11, 15)

    def test_zero_months_is_the_same_day(self) -> None:
        assert add_months(date(2026, 5, 31), 0) == date(2026, 5, 31)


class TestReviewSlots:
    def test_month_end_slots_count_from_the_baseline(self) -> None:
        """After a short February the slots go back to the 30th, not the 28th."""
        baseline = date(2025, 11, 30)

        slots = [review_slot(baseline, n, TIMING) for n in range(1, 5)]

        assert slots == [
            date(2026, 2, 28),
            date(2026, 5, 30),
            date(2026, 8, 30),
            date(2026, 11, 30),
        ]

    def test_a_31_january_baseline(self) -> None:
        baseline = date(2026, 1, 31)

        slots = [review_slot(baseline, n, TIMING) for n in range(1, 5)]

        assert slots == [
            date(2026, 4, 30),
            date(2026, 7, 31),
            date(2026, 10, 31),
            date(2027, 1, 31),
        ]

    def test_a_leap_day_baseline(self) -> None:
        baseline = date(2028, 2, 29)

        assert review_slot(baseline, 1, TIMING) == date(2028, 5, 29)
        assert review_slot(baseline, 4, TIMING) == date(2029, 2, 28)
        assert review_slot(baseline, 16, TIMING) == date(2032, 2, 29)

    def test_the_interval_comes_from_the_instrument(self) -> None:
        timing = Timing(review_interval_months=6, window_days=30)

        assert review_slot(date(2026, 1, 12), 1, timing) == date(2026, 7, 12)

    def test_slots_are_numbered_from_one(self) -> None:
        with pytest.raises(ValueError, match="numbered from 1"):
            review_slot(date(2026, 1, 12), 0, TIMING)


class TestNextReviewDue:
    def test_after_the_baseline_the_first_slot_is_due(self) -> None:
        assert next_review_due(date(2026, 1, 12), date(2026, 1, 12), TIMING) == date(2026, 4, 12)

    def test_a_late_review_moves_on_to_the_next_slot(self) -> None:
        baseline = date(2026, 1, 12)

        assert next_review_due(baseline, date(2026, 4, 14), TIMING) == date(2026, 7, 12)

    def test_an_early_review_within_the_window_meets_its_slot(self) -> None:
        baseline = date(2026, 1, 12)

        assert next_review_due(baseline, date(2026, 7, 10), TIMING) == date(2026, 10, 12)

    def test_a_review_exactly_30_days_early_meets_its_slot(self) -> None:
        baseline = date(2026, 1, 12)
        slot = date(2026, 4, 12)

        assert next_review_due(baseline, slot - timedelta(days=30), TIMING) == date(2026, 7, 12)

    def test_a_review_31_days_early_leaves_the_slot_due(self) -> None:
        baseline = date(2026, 1, 12)
        slot = date(2026, 4, 12)

        assert next_review_due(baseline, slot - timedelta(days=31), TIMING) == slot

    def test_a_very_late_review_skips_to_the_next_slot_beyond_the_window(self) -> None:
        assert next_review_due(date(2026, 1, 12), date(2026, 8, 1), TIMING) == date(2026, 10, 12)

    @given(
        st.dates(date(2020, 1, 1), date(2035, 12, 31)),
        st.integers(0, 2000),
        st.integers(1, 12),
        st.integers(0, 60),
    )
    def test_the_due_slot_is_the_earliest_beyond_the_window(
        self,
        baseline: date,
        days_later: int,
        interval: int,
        window: int,
    ) -> None:
        timing = Timing(review_interval_months=interval, window_days=window)
        latest = baseline + timedelta(days=days_later)

        due = next_review_due(baseline, latest, timing)

        slots = [review_slot(baseline, n, timing) for n in range(1, 400)]
        assert due in slots
        assert due > latest + timedelta(days=window)
        assert all(slot <= latest + timedelta(days=window) for slot in slots if slot < due)


class TestNextDueAfter:
    def test_a_closure_ends_the_schedule(self) -> None:
        baseline = date(2026, 1, 12)

        due = next_due_after(baseline, date(2026, 4, 10), AssessmentKind.CLOSURE, TIMING)

        assert due is None
        assert due_status(due, date(2027, 1, 1)) is DueStatus.CLOSED

    @pytest.mark.parametrize("kind", [AssessmentKind.BASELINE, AssessmentKind.REVIEW])
    def test_other_assessments_keep_it_going(self, kind: AssessmentKind) -> None:
        baseline = date(2026, 1, 12)

        assert next_due_after(baseline, baseline, kind, TIMING) == date(2026, 4, 12)


class TestMetSlot:
    def test_a_review_two_days_late_meets_its_slot(self) -> None:
        baseline = date(2026, 1, 12)

        assert met_slot(baseline, [], date(2026, 4, 14), TIMING) == date(2026, 4, 12)

    def test_a_review_two_days_early_meets_its_slot(self) -> None:
        baseline = date(2026, 1, 12)
        earlier = [date(2026, 4, 14)]

        assert met_slot(baseline, earlier, date(2026, 7, 10), TIMING) == date(2026, 7, 12)

    def test_an_extra_review_meets_no_slot(self) -> None:
        """YP-B2's review after a disclosure, seven weeks before its slot."""
        baseline = date(2026, 2, 3)
        earlier = [date(2026, 5, 4)]

        assert met_slot(baseline, earlier, date(2026, 6, 20), TIMING) is None

    def test_the_review_after_an_extra_one_still_meets_the_slot(self) -> None:
        baseline = date(2026, 2, 3)
        earlier = [date(2026, 5, 4), date(2026, 6, 20)]

        assert met_slot(baseline, earlier, date(2026, 8, 1), TIMING) == date(2026, 8, 3)

    def test_a_slot_is_met_once(self) -> None:
        baseline = date(2026, 1, 12)
        earlier = [date(2026, 4, 10)]

        assert met_slot(baseline, earlier, date(2026, 4, 12), TIMING) is None

    def test_a_very_late_review_meets_the_overdue_slot(self) -> None:
        baseline = date(2026, 1, 12)

        assert met_slot(baseline, [], date(2026, 8, 1), TIMING) == date(2026, 4, 12)

    def test_later_reviews_in_the_list_are_ignored(self) -> None:
        baseline = date(2026, 1, 12)
        reviews = [date(2026, 4, 14), date(2026, 7, 10)]

        assert met_slot(baseline, reviews, date(2026, 4, 14), TIMING) is None
        assert met_slot(baseline, reviews[:1], date(2026, 7, 10), TIMING) == date(2026, 7, 12)


class TestDueStatus:
    DUE = date(2026, 4, 12)

    def test_no_due_date_means_closed(self) -> None:
        assert due_status(None, self.DUE) is DueStatus.CLOSED

    def test_more_than_a_week_ahead_is_upcoming(self) -> None:
        assert due_status(self.DUE, self.DUE - timedelta(days=8)) is DueStatus.UPCOMING

    def test_a_week_ahead_is_due_soon(self) -> None:
        assert due_status(self.DUE, self.DUE - timedelta(days=7)) is DueStatus.DUE_SOON

    def test_the_due_date_itself_is_due_soon(self) -> None:
        assert due_status(self.DUE, self.DUE) is DueStatus.DUE_SOON

    def test_the_day_after_is_overdue(self) -> None:
        assert due_status(self.DUE, self.DUE + timedelta(days=1)) is DueStatus.OVERDUE

    def test_the_due_soon_period_can_be_set(self) -> None:
        today = self.DUE - timedelta(days=10)

        assert due_status(self.DUE, today, due_soon_days=14) is DueStatus.DUE_SOON
