"""When reviews fall due: slots every few calendar months, counted from the baseline.

A closure ends the schedule. Callers ask `next_due_after`, which gives None after a
closure, and `due_status` turns None into CLOSED, so no reminder follows a closed case.
"""

import calendar
from collections.abc import Sequence
from datetime import date, timedelta
from enum import StrEnum

from apart_engine.instrument import AssessmentKind, Timing


class DueStatus(StrEnum):
    """How close a young person's next review is."""

    UPCOMING = "upcoming"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    CLOSED = "closed"


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or that month's last day if it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last_day))


def review_slot(baseline: date, n: int, timing: Timing) -> date:
    """The n-th review slot (n from 1), counted from the baseline, not the previous slot."""
    if n < 1:
        raise ValueError(f"review slots are numbered from 1, not {n}")
    # Counting from the baseline keeps a 30 November case on the 30th after a short February.
    return add_months(baseline, n * timing.review_interval_months)


def next_review_due(baseline: date, latest: date, timing: Timing) -> date:
    """The earliest slot falling more than `window_days` after the latest assessment."""
    window_closes = latest + timedelta(days=timing.window_days)
    n = 1
    while review_slot(baseline, n, timing) <= window_closes:
        n += 1
    return review_slot(baseline, n, timing)


def next_due_after(
    baseline: date,
    latest: date,
    latest_kind: AssessmentKind,
    timing: Timing,
) -> date | None:
    """The next review date after an assessment of this kind; None once the case is closed."""
    if latest_kind is AssessmentKind.CLOSURE:
        return None
    return next_review_due(baseline, latest, timing)


def met_slot(
    baseline: date,
    earlier_reviews: Sequence[date],
    review: date,
    timing: Timing,
) -> date | None:
    """The slot a review meets, or None for an extra review that leaves the schedule standing.

    `earlier_reviews` are the reviews submitted before this one. A review meets the slot that
    was due when it was done if it falls no more than `window_days` before that slot, or any
    time after it; a very late review therefore meets the overdue slot.
    """
    previous = max([baseline, *(day for day in earlier_reviews if day <= review)])
    due = next_review_due(baseline, previous, timing)
    opens = due - timedelta(days=timing.window_days)
    return due if review >= opens else None


def due_status(due: date | None, today: date, due_soon_days: int = 7) -> DueStatus:
    """Whether a review due on `due` is upcoming, due soon or overdue on `today`."""
    if due is None:
        return DueStatus.CLOSED
    if today > due:
        return DueStatus.OVERDUE
    if today >= due - timedelta(days=due_soon_days):
        return DueStatus.DUE_SOON
    return DueStatus.UPCOMING
