"""Outcomes across a cohort: change from baseline by months of support and baseline band.

Input is plain records of submitted assessments; nothing here reads a database or a clock.

Definitions used throughout (the README's "Outcomes and reports" says the same in words):

- Months of support are counted in calendar months from the baseline date, as the review
  schedule counts them. A follow-up belongs to the period "a-b" when it falls after the date
  `a` months from the baseline and on or before the date `b` months from it; "0-3" starts the
  day after the baseline, and "12+" holds everything after 12 months. So a review done on
  its 3-month slot counts in "0-3", and one done a day late counts in "3-6".
- In each period a young person counts once, with their latest assessment in that period.
- Change is the later score minus the baseline score, on the rounded figures people see.
  For risk a fall is an improvement; for resilience a rise is.
- Improved, unchanged and worse use the instrument's meaningful-change threshold (10 points
  by default): a change of at least that size in the better direction is "improved".
- The 95% confidence interval of the mean change is the exact paired t interval.
- The effect size is Cohen's dz: mean change divided by the standard deviation of the
  changes (n - 1 denominator). It keeps the sign of the change.
- Any group with fewer young people than `min_group` (default 5) but more than none is
  suppressed: its size is reported as "fewer than min_group" and no figure is given, so that
  no young person can be singled out.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from apart_engine.instrument import AssessmentKind, SectionRole
from apart_engine.schedule import add_months
from apart_engine.scoring import round_half_up

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import date

    from apart_engine.instrument import Instrument

DEFAULT_MIN_GROUP = 5

PERIOD_BOUNDS = (0, 3, 6, 9, 12)
"""Boundaries of the months-of-support periods; the last period is open ended."""

ALL_BANDS = "All"

REGRESSION_CAVEAT = (
    "Young people who start with high risk have the most room to improve, and scores that "
    "start unusually high tend to come down on their own at the next measurement "
    "(regression to the mean). Part of the faster improvement of the high-risk group may be "
    "that, not the support. There is no comparison group of young people who were not "
    "supported, so these figures show change during support, not change caused by it."
)

BackgroundValue = int | str | list[str] | None


@dataclass(frozen=True)
class AssessmentRecord:
    """One submitted assessment, as the analysis needs it."""

    reference: str
    assessed_on: date
    kind: AssessmentKind
    scores: Mapping[str, float | None]
    """Score by section id."""
    bands: Mapping[str, str | None]
    """The band acted on (after any adjustment), by section id."""
    domains: Mapping[tuple[str, str], float | None] = field(default_factory=dict)
    """Score by (section id, domain name)."""
    ratings: Mapping[str, int | None] = field(default_factory=dict)
    """Rating by item id; None is Unknown."""
    background: Mapping[str, BackgroundValue] = field(default_factory=dict)
    """Answers to context items, by item id."""


@dataclass(frozen=True)
class GroupStats:
    """The change figures of one group; every figure is None when the group is suppressed."""

    n: int
    suppressed: bool
    mean: float | None = None
    median: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    effect_size: float | None = None
    improved: float | None = None
    unchanged: float | None = None
    worse: float | None = None

    @property
    def shown(self) -> bool:
        """Whether the group has figures to show."""
        return self.n > 0 and not self.suppressed


@dataclass(frozen=True)
class PeriodRow:
    """One line of the table of change by months of support."""

    section_id: str
    period: str
    baseline_band: str
    stats: GroupStats


@dataclass(frozen=True)
class Mover:
    """How much a domain or an item moved from baseline to the latest follow-up."""

    section_id: str
    name: str
    n: int
    mean_change: float
    improvement: float
    """The mean change with its sign turned so that positive is always better."""


@dataclass(frozen=True)
class SplitRow:
    """Change from baseline to the latest follow-up for one value of a background field."""

    section_id: str
    value: str
    stats: GroupStats


@dataclass(frozen=True)
class CohortAnalysis:
    """Everything a report shows about a cohort's outcomes."""

    instrument_id: str
    instrument_version: str
    min_group: int
    young_people: int
    with_follow_up: int
    assessments: int
    first_date: date | None
    last_date: date | None
    periods: tuple[str, ...]
    baseline_bands: tuple[str, ...]
    by_period: tuple[PeriodRow, ...]
    latest: tuple[PeriodRow, ...]
    domain_movers: tuple[Mover, ...]
    item_movers: tuple[Mover, ...]
    caveats: tuple[str, ...]

    def row(self, section_id: str, period: str, baseline_band: str = ALL_BANDS) -> PeriodRow:
        """The period row for a section, period and baseline band (KeyError if none)."""
        for row in self.by_period:
            if (row.section_id, row.period, row.baseline_band) == (
                section_id,
                period,
                baseline_band,
            ):
                return row
        raise KeyError((section_id, period, baseline_band))


def period_labels() -> tuple[str, ...]:
    """The names of the months-of-support periods, in order."""
    pairs = itertools.pairwise(PERIOD_BOUNDS)
    return (*(f"{low}-{high}" for low, high in pairs), f"{PERIOD_BOUNDS[-1]}+")


def period_of(baseline: date, day: date) -> str | None:
    """The months-of-support period of an assessment on `day`; None on or before baseline."""
    if day <= baseline:
        return None
    labels = period_labels()
    for label, high in zip(labels, PERIOD_BOUNDS[1:], strict=False):
        if day <= add_months(baseline, high):
            return label
    return labels[-1]


def months_between(baseline: date, day: date) -> float:
    """Months of support from baseline to `day`: whole calendar months plus the part-month."""
    months = 0
    while add_months(baseline, months + 1) <= day:
        months += 1
    start, end = add_months(baseline, months), add_months(baseline, months + 1)
    return months + (day - start).days / (end - start).days


def group_stats(
    changes: Sequence[float],
    *,
    role: SectionRole,
    threshold: float,
    min_group: int = DEFAULT_MIN_GROUP,
) -> GroupStats:
    """The figures of one group of changes, suppressed when 0 < n < min_group."""
    n = len(changes)
    if n == 0 or n < min_group:
        return GroupStats(n=n, suppressed=n > 0)

    mean = statistics.fmean(changes)
    low = high = effect = None
    if n >= 2:
        sd = statistics.stdev(changes)
        half_width = t_quantile_975(n - 1) * sd / math.sqrt(n)
        low, high = mean - half_width, mean + half_width
        effect = mean / sd if sd > 0 else None

    sign = -1 if role is SectionRole.RISK else 1
    limit = Fraction(str(threshold))
    better = sum(Fraction(str(c)) * sign >= limit for c in changes)
    worse = sum(Fraction(str(c)) * sign <= -limit for c in changes)
    return GroupStats(
        n=n,
        suppressed=False,
        mean=_r(mean),
        median=_r(statistics.median(changes)),
        ci_low=_r(low),
        ci_high=_r(high),
        effect_size=None if effect is None else round_half_up(effect, 2),
        improved=better / n,
        unchanged=(n - better - worse) / n,
        worse=worse / n,
    )


def t_quantile_975(df: int) -> float:
    """The 97.5th percentile of Student's t with `df` degrees of freedom (two-sided 95%)."""
    if df < 1:
        raise ValueError(f"t needs at least one degree of freedom, not {df}")
    low, high = 0.0, 1000.0
    # Bisection on the exact integer-df distribution function; 100 halvings reach float limits.
    for _ in range(100):
        middle = (low + high) / 2
        if _t_central_probability(middle, df) < 0.95:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _t_central_probability(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer df (Abramowitz and Stegun 26.7.3 and 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    sin, cos = math.sin(theta), math.cos(theta)
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for k in range(2, df, 2):
            term *= cos * cos * (k - 1) / k
            total += term
        return sin * total
    if df == 1:
        return 2 * theta / math.pi
    term, total = cos, cos
    for k in range(3, df, 2):
        term *= cos * cos * (k - 1) / k
        total += term
    return 2 / math.pi * (theta + sin * total)


def analyse(
    instrument: Instrument,
    records: Iterable[AssessmentRecord],
    *,
    min_group: int = DEFAULT_MIN_GROUP,
    from_date: date | None = None,
    to_date: date | None = None,
) -> CohortAnalysis:
    """Change from baseline for everyone with a baseline; follow-ups limited to the dates given.

    A follow-up counts when it is dated from `from_date` to `to_date` (inclusive); it is
    compared with the young person's baseline, whenever that was.
    """
    if min_group < 1:
        raise ValueError(f"the smallest group shown must be at least 1, not {min_group}")
    cases, in_range = _follow_ups(records, from_date, to_date)
    threshold = instrument.thresholds.meaningful_change
    risk = instrument.section(SectionRole.RISK)
    bands = risk.band_names
    periods = period_labels()

    rows: list[PeriodRow] = []
    latest_rows: list[PeriodRow] = []
    for section in instrument.scored_sections:
        for band in (ALL_BANDS, *bands):
            chosen = {
                ref: later
                for ref, later in in_range.items()
                if band == ALL_BANDS or cases[ref][0].bands.get(risk.id) == band
            }
            per_period: dict[str, list[float]] = defaultdict(list)
            latest: list[float] = []
            for reference, later in chosen.items():
                baseline = cases[reference][0]
                by_period = _latest_per_period(baseline, later)
                for period, record in by_period.items():
                    change = _change(
                        baseline.scores.get(section.id), record.scores.get(section.id)
                    )
                    if change is not None:
                        per_period[period].append(change)
                final = _last_with(later, _score_getter(section.id))
                if final is not None:
                    change = _change(baseline.scores.get(section.id), final.scores.get(section.id))
                    assert change is not None
                    latest.append(change)
            for period in periods:
                stats = group_stats(
                    per_period[period], role=section.role, threshold=threshold, min_group=min_group
                )
                rows.append(PeriodRow(section.id, period, band, stats))
            stats = group_stats(
                latest, role=section.role, threshold=threshold, min_group=min_group
            )
            latest_rows.append(PeriodRow(section.id, "latest", band, stats))

    all_records = [r for baseline, later in cases.values() for r in (baseline, *later)]
    dates = sorted(r.assessed_on for r in all_records)
    high_band = bands[-1]
    high_shown = any(
        row.baseline_band == high_band and row.stats.shown for row in (*rows, *latest_rows)
    )
    return CohortAnalysis(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        min_group=min_group,
        young_people=len(cases),
        with_follow_up=sum(1 for later in in_range.values() if later),
        assessments=len(all_records),
        first_date=dates[0] if dates else None,
        last_date=dates[-1] if dates else None,
        periods=periods,
        baseline_bands=bands,
        by_period=tuple(rows),
        latest=tuple(latest_rows),
        domain_movers=movers(instrument, cases, in_range, by="domain", min_group=min_group),
        item_movers=movers(instrument, cases, in_range, by="item", min_group=min_group),
        caveats=(REGRESSION_CAVEAT,) if high_shown else (),
    )


def split_by(
    instrument: Instrument,
    records: Iterable[AssessmentRecord],
    item_id: str,
    *,
    min_group: int = DEFAULT_MIN_GROUP,
    from_date: date | None = None,
    to_date: date | None = None,
) -> tuple[SplitRow, ...]:
    """Change from baseline to the latest follow-up, by the baseline answer to a context item.

    For a multichoice item a young person counts under every option picked, so the groups
    may overlap. Young people with no answer count under "not recorded".
    """
    item = instrument.item(item_id)
    labels = {option.id: option.label for option in item.options}
    cases, in_range = _follow_ups(records, from_date, to_date)
    threshold = instrument.thresholds.meaningful_change
    rows = []
    for section in instrument.scored_sections:
        groups: dict[str, list[float]] = {label: [] for label in labels.values()}
        for reference, later in in_range.items():
            baseline = cases[reference][0]
            final = _last_with(later, _score_getter(section.id))
            if final is None:
                continue
            change = _change(baseline.scores.get(section.id), final.scores.get(section.id))
            if change is None:
                continue
            for value in _values(baseline.background.get(item_id)):
                groups.setdefault(labels.get(value, value), []).append(change)
        for value, changes in groups.items():
            stats = group_stats(
                changes, role=section.role, threshold=threshold, min_group=min_group
            )
            rows.append(SplitRow(section.id, value, stats))
    return tuple(rows)


def movers(
    instrument: Instrument,
    cases: Mapping[str, tuple[AssessmentRecord, list[AssessmentRecord]]],
    follow_ups: Mapping[str, list[AssessmentRecord]],
    *,
    by: str,
    min_group: int = DEFAULT_MIN_GROUP,
) -> tuple[Mover, ...]:
    """Mean change of each domain ("domain") or item ("item"), most improved first.

    Each young person counts once, with their latest follow-up that rated the domain or item.
    Domains or items with fewer than `min_group` young people are left out.
    """
    found: list[Mover] = []
    for section in instrument.scored_sections:
        sign = -1 if section.role is SectionRole.RISK else 1
        keys: list[tuple[str, Callable[[AssessmentRecord], float | None]]]
        if by == "domain":
            keys = [(d, _domain_getter(section.id, d)) for d in section.domains]
        else:
            keys = [(i.id, _rating_getter(i.id)) for i in section.items]
        for name, value_of in keys:
            changes = []
            for reference, later in follow_ups.items():
                baseline = cases[reference][0]
                final = _last_with(later, value_of)
                if final is not None:
                    change = _change(value_of(baseline), value_of(final))
                    if change is not None:
                        changes.append(change)
            if len(changes) >= max(min_group, 1):
                mean = statistics.fmean(changes)
                found.append(
                    Mover(section.id, name, len(changes), _r(mean) or 0.0, _r(mean * sign) or 0.0)
                )
    return tuple(sorted(found, key=lambda m: (-m.improvement, m.section_id, m.name)))


def band_counts(
    records: Iterable[AssessmentRecord],
    section_id: str,
    days: Sequence[date],
) -> dict[date, dict[str, int]]:
    """How many open cases were in each band on each day, by their latest assessment then.

    A case is open from its baseline until a closure assessment; a case whose latest band is
    missing counts under "no score".
    """
    cases = _cases(records, None)
    counts: dict[date, dict[str, int]] = {}
    for day in days:
        tally: dict[str, int] = defaultdict(int)
        for baseline, later in cases.values():
            if baseline.assessed_on > day:
                continue
            latest = [r for r in (baseline, *later) if r.assessed_on <= day][-1]
            if latest.kind is AssessmentKind.CLOSURE:
                continue
            tally[latest.bands.get(section_id) or "no score"] += 1
        counts[day] = dict(tally)
    return counts


def _follow_ups(
    records: Iterable[AssessmentRecord], from_date: date | None, to_date: date | None
) -> tuple[
    dict[str, tuple[AssessmentRecord, list[AssessmentRecord]]], dict[str, list[AssessmentRecord]]
]:
    """The cases up to `to_date`, and each case's follow-ups from `from_date` on."""
    cases = _cases(records, to_date)
    in_range = {
        reference: [r for r in later if from_date is None or r.assessed_on >= from_date]
        for reference, (_, later) in cases.items()
    }
    return cases, in_range


def _cases(
    records: Iterable[AssessmentRecord], to_date: date | None
) -> dict[str, tuple[AssessmentRecord, list[AssessmentRecord]]]:
    """Each young person's baseline and later assessments, oldest first; no baseline, no case."""
    by_reference: dict[str, list[AssessmentRecord]] = defaultdict(list)
    for record in records:
        if to_date is None or record.assessed_on <= to_date:
            by_reference[record.reference].append(record)
    cases = {}
    for reference, found in sorted(by_reference.items()):
        found.sort(key=lambda r: r.assessed_on)
        baseline = next((r for r in found if r.kind is AssessmentKind.BASELINE), None)
        if baseline is None:
            continue
        later = [r for r in found if r is not baseline and r.assessed_on > baseline.assessed_on]
        cases[reference] = (baseline, later)
    return cases


def _latest_per_period(
    baseline: AssessmentRecord, later: Sequence[AssessmentRecord]
) -> dict[str, AssessmentRecord]:
    chosen: dict[str, AssessmentRecord] = {}
    for record in later:
        period = period_of(baseline.assessed_on, record.assessed_on)
        if period is not None:
            chosen[period] = record  # oldest first, so the latest in the period wins
    return chosen


def _last_with(
    later: Sequence[AssessmentRecord], value_of: Callable[[AssessmentRecord], float | None]
) -> AssessmentRecord | None:
    return next((r for r in reversed(later) if value_of(r) is not None), None)


def _score_getter(section_id: str) -> Callable[[AssessmentRecord], float | None]:
    return lambda record: record.scores.get(section_id)


def _domain_getter(section_id: str, domain: str) -> Callable[[AssessmentRecord], float | None]:
    return lambda record: record.domains.get((section_id, domain))


def _rating_getter(item_id: str) -> Callable[[AssessmentRecord], float | None]:
    def value_of(record: AssessmentRecord) -> float | None:
        rating = record.ratings.get(item_id)
        return None if rating is None else float(rating)

    return value_of


def _change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None:
        return None
    # The exact difference of the shown figures, rounded half away from zero, as in
    # outcomes.compare. Decimal gives the same exact result as Fraction at a fraction of the
    # cost, which matters over hundreds of thousands of pairs in a cohort.
    exact = _EXACT.subtract(Decimal(repr(after)), Decimal(repr(before)))
    rounded = float(exact.quantize(_TENTH, rounding=ROUND_HALF_UP, context=_EXACT))
    return rounded or 0.0  # a change that rounds to nothing is 0.0, never -0.0


# Wide enough that no difference of two printed floats is ever rounded before it is shown.
_EXACT = Context(prec=800, Emin=-999_999, Emax=999_999)
_TENTH = Decimal("0.1")


def _values(answer: BackgroundValue) -> list[str]:
    if answer is None or answer == []:
        return ["not recorded"]
    if isinstance(answer, list):
        return [str(value) for value in answer]
    return [str(answer)]


def _r(value: float | None) -> float | None:
    return None if value is None else round_half_up(value)
