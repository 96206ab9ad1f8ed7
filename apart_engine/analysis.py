"""Outcomes across a cohort: change from baseline by months of support and baseline band.

Input is plain records of submitted assessments; nothing here reads a database or a clock.

Definitions used throughout (the README's "Outcomes and reports" says the same in words):

- Months of support are counted in calendar months from the baseline date, as the review
  schedule counts them. A follow-up belongs to the period "a-b" when it falls after the date
  `a` months from the baseline and on or before the date `b` months from it; "0-3" starts on
  the baseline day itself (a review done that day counts there), and "12+" holds everything
  after 12 months. So a review done on its 3-month slot counts in "0-3", and one done a day
  late counts in "3-6".
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
  no young person can be singled out. Because totals are shown beside their parts, a
  suppressed group could be worked out by subtraction (everyone minus the other bands), so
  other groups are suppressed with it; `protected_groups` says how.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from apart_engine.instrument import AssessmentKind, SectionRole
from apart_engine.schedule import add_months
from apart_engine.scoring import round_half_up

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
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
    complementary: bool = False
    """Suppressed though large enough, so that a smaller group cannot be worked out from it."""

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
    splits: tuple[SplitRow, ...] = ()
    """Change to the latest review by a background answer, when `analyse` was given one."""

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
    """The months-of-support period of an assessment on `day`; None before the baseline."""
    if day < baseline:
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
    hidden: bool = False,
) -> GroupStats:
    """The figures of one group of changes, suppressed when 0 < n < min_group or `hidden`."""
    n = len(changes)
    if n == 0 or n < min_group:
        return GroupStats(n=n, suppressed=n > 0)
    if hidden:
        return GroupStats(n=n, suppressed=True, complementary=True)

    mean = statistics.fmean(changes)
    low = high = effect = None
    if n >= 2:
        sd = statistics.stdev(changes)
        half_width = t_quantile_975(n - 1) * sd / math.sqrt(n)
        low, high = mean - half_width, mean + half_width
        effect = mean / sd if sd > 0 else None

    sign = -1 if role is SectionRole.RISK else 1
    limit = Fraction(str(threshold))
    # Each distinct change is made exact once: a cohort has thousands of changes but only
    # a few hundred distinct ones.
    exact = {c: Fraction(str(c)) * sign for c in set(changes)}
    better = sum(exact[c] >= limit for c in changes)
    worse = sum(exact[c] <= -limit for c in changes)
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
    split: str | None = None,
) -> CohortAnalysis:
    """Change from baseline for everyone with a baseline; follow-ups limited to the dates given.

    A follow-up counts when it is dated from `from_date` to `to_date` (inclusive); it is
    compared with the young person's baseline, whenever that was. With `split` (a context
    item id) the result also holds the change to the latest review by the baseline answer
    to that item, protected together with the band tables (see `protected_groups`).
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
    split_rows: list[SplitRow] = []
    for section in instrument.scored_sections:
        tables = _band_tables(cases, in_range, section.id, risk.id, bands)
        if split is not None:
            latest = dict(tables)[LATEST, ALL_BANDS]
            tables += _split_tables(instrument, cases, latest, split)
        hidden = protected_groups(
            [table.keys() for _, table in tables],
            min_group=min_group,
            partitions=_partitions([key for key, _ in tables]),
        )
        for index, ((period, group), table) in enumerate(tables):
            stats = group_stats(
                list(table.values()),
                role=section.role,
                threshold=threshold,
                min_group=min_group,
                hidden=index in hidden,
            )
            if period == _SPLIT:
                split_rows.append(SplitRow(section.id, group, stats))
            else:
                row = PeriodRow(section.id, period, group, stats)
                (latest_rows if period == LATEST else rows).append(row)

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
        splits=tuple(split_rows),
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
    may overlap. Young people with no answer count under "not recorded". The figures are
    those of `analyse` with `split`, protected together with its band tables.
    """
    result = analyse(
        instrument,
        records,
        min_group=min_group,
        from_date=from_date,
        to_date=to_date,
        split=item_id,
    )
    return result.splits


def protected_groups(
    groups: Sequence[Collection[Hashable]],
    *,
    min_group: int,
    partitions: Sequence[tuple[int, Sequence[int]]] = (),
) -> frozenset[int]:
    """The indexes of the groups to suppress so that no small group's figures can be worked out.

    A group of 0 < n < `min_group` members is suppressed. Totals are shown beside their parts,
    so a suppressed part could be worked out by subtraction: with five young people High and
    one Low at baseline, everyone's n x mean minus High's n x mean is the one Low young
    person's change, and counts and shares give it away the same way. So suppression is
    complementary: in each of the `partitions` (a total and its parts), when a part is
    suppressed the next-smallest shown part is suppressed too, until the suppressed parts
    (with anyone in the total but in no part) together hold at least `min_group`.

    Tables share members (a period's review is often the latest review too, and a split by
    a background question cuts the same young people again), so the groups are then checked
    together, exactly: while the sum over any set of fewer than `min_group` members can be
    made by adding and subtracting shown groups (which is all that n x mean, counts and
    shares allow), the smallest shown group so used is suppressed as well. Figures from
    separate reports are not compared: two reports whose dates differ by one review can
    still be subtracted from each other.
    """
    sizes = [len(group) for group in groups]
    suppressed = {i for i, n in enumerate(sizes) if 0 < n < min_group}
    for total, parts in partitions:
        while total not in suppressed:
            shown_parts = [i for i in parts if sizes[i] and i not in suppressed]
            covered = set().union(*(groups[i] for i in shown_parts))
            if not shown_parts or not 0 < sizes[total] - len(covered) < min_group:
                break
            suppressed.add(min(shown_parts, key=lambda i: (sizes[i], -i)))
    member_of: dict[Hashable, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        for member in group:
            member_of[member].append(index)
    # Members in exactly the same groups are one atom: no shown figure can tell them apart.
    atoms = Counter(frozenset(indexes) for indexes in member_of.values())
    keys, weights = list(atoms), list(atoms.values())
    while True:
        shown = [i for i, n in enumerate(sizes) if n and i not in suppressed]
        vectors = [[int(i in key) for key in keys] for i in shown]
        found = _small_sum(vectors, weights, min_group)
        if found is None:
            return frozenset(suppressed)
        secret = [int(atom in found) for atom in range(len(keys))]
        used = [shown[j] for j in _combination_for(vectors, secret) or []]
        # Past the search limit `found` may be no leak at all; hiding a group near it errs safe.
        used = used or [i for i in shown if any(i in keys[atom] for atom in found)]
        suppressed.add(min(used, key=lambda i: (sizes[i], -i)))


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
        # A review may be done the same day as the baseline; it is the first follow-up.
        later = [
            r
            for r in found
            if r.kind is not AssessmentKind.BASELINE and r.assessed_on >= baseline.assessed_on
        ]
        cases[reference] = (baseline, later)
    return cases


_Variable = tuple[str, int]
"""One follow-up of one young person: the reference and the follow-up's place in the list."""

LATEST = "latest"
_SPLIT = "split"


def _band_tables(
    cases: Mapping[str, tuple[AssessmentRecord, list[AssessmentRecord]]],
    follow_ups: Mapping[str, list[AssessmentRecord]],
    section_id: str,
    risk_id: str,
    bands: Sequence[str],
) -> list[tuple[tuple[str, str], dict[_Variable, float]]]:
    """A section's changes by (period, baseline band), "latest" last, each band after All."""
    score_of = _score_getter(section_id)
    per_period: dict[str, dict[_Variable, float]] = defaultdict(dict)
    for reference, later in follow_ups.items():
        baseline = cases[reference][0]
        chosen = _latest_per_period(baseline, later)
        finals = [i for i, record in enumerate(later) if score_of(record) is not None]
        if finals:
            chosen[LATEST] = finals[-1]
        for period, index in chosen.items():
            change = _change(score_of(baseline), score_of(later[index]))
            if change is not None:
                per_period[period][reference, index] = change
    tables = []
    for period in (*period_labels(), LATEST):
        changes = per_period[period]
        tables.append(((period, ALL_BANDS), changes))
        for band in bands:
            chosen_band = {
                variable: change
                for variable, change in changes.items()
                if cases[variable[0]][0].bands.get(risk_id) == band
            }
            tables.append(((period, band), chosen_band))
    return tables


def _partitions(keys: Sequence[tuple[str, str]]) -> list[tuple[int, list[int]]]:
    """Each table's total (All, or the latest All for a split) with the groups it is split into."""
    totals = {
        kind: i for i, (kind, group) in enumerate(keys) if group == ALL_BANDS and kind != _SPLIT
    }
    parts: dict[int, list[int]] = defaultdict(list)
    for index, (kind, group) in enumerate(keys):
        if kind == _SPLIT:
            parts[totals[LATEST]].append(index)
        elif group != ALL_BANDS:
            parts[totals[kind]].append(index)
    return list(parts.items())


def _split_tables(
    instrument: Instrument,
    cases: Mapping[str, tuple[AssessmentRecord, list[AssessmentRecord]]],
    latest: Mapping[_Variable, float],
    item_id: str,
) -> list[tuple[tuple[str, str], dict[_Variable, float]]]:
    """The latest changes by the baseline answer to a context item, as `_band_tables` has them."""
    item = instrument.item(item_id)
    labels = {option.id: option.label for option in item.options}
    groups: dict[str, dict[_Variable, float]] = {label: {} for label in labels.values()}
    for variable, change in latest.items():
        baseline = cases[variable[0]][0]
        for value in _values(baseline.background.get(item_id)):
            groups.setdefault(labels.get(value, value), {})[variable] = change
    return [((_SPLIT, label), group) for label, group in groups.items()]


def _small_sum(
    vectors: Sequence[Sequence[int]], weights: Sequence[int], min_group: int
) -> set[int] | None:
    """Atoms of fewer than `min_group` members in all whose sum the shown `vectors` give away.

    The sum over a set of atoms is a combination of the vectors exactly when the set's
    residuals (what is left of each atom after reducing it by the vectors) add up to zero,
    so the search adds up residuals of light atoms, lightest first.
    """
    width = len(weights)
    basis = _echelon(vectors)
    free = [a for a in range(width) if a not in basis]
    scale = math.lcm(*(row[pivot] for pivot, row in basis.items()))
    seen = {a for vector in vectors for a, value in enumerate(vector) if value}
    residuals: dict[int, tuple[int, ...]] = {}
    for atom in sorted(seen, key=lambda a: weights[a]):
        if weights[atom] >= min_group:
            continue
        if atom in basis:
            row = basis[atom]
            residuals[atom] = tuple(-row[f] * (scale // row[atom]) for f in free)
        else:
            residuals[atom] = tuple(scale * (f == atom) for f in free)
    residuals = _without_lone_coordinates(residuals)
    try:
        return _zero_sum(list(residuals.items()), weights, min_group - 1)
    except _SearchLimitError:
        return set(residuals)


class _SearchLimitError(Exception):
    """The subset search ran past its limit."""


_SEARCH_LIMIT = 200_000


def _zero_sum(
    residuals: Sequence[tuple[int, tuple[int, ...]]], weights: Sequence[int], room: int
) -> set[int] | None:
    """A set of atoms weighing at most `room` whose residuals add up to zero, if any."""
    steps = 0

    def search(
        start: int, room: int, total: tuple[int, ...], chosen: list[int]
    ) -> set[int] | None:
        nonlocal steps
        for index in range(start, len(residuals)):
            atom, residual = residuals[index]
            if weights[atom] > room:
                break  # lightest first, so every later atom is too heavy as well
            steps += 1
            if steps > _SEARCH_LIMIT:
                raise _SearchLimitError
            added = tuple(a + b for a, b in zip(total, residual, strict=True))
            if not any(added):
                return {*chosen, atom}
            found = search(index + 1, room - weights[atom], added, [*chosen, atom])
            if found is not None:
                return found
        return None

    if not residuals:
        return None
    return search(0, room, (0,) * len(residuals[0][1]), [])


def _without_lone_coordinates(
    residuals: dict[int, tuple[int, ...]],
) -> dict[int, tuple[int, ...]]:
    """Drop atoms with a coordinate no other atom has: no set holding them sums to zero."""
    while True:
        touching = Counter(
            f for residual in residuals.values() for f, v in enumerate(residual) if v
        )
        kept = {
            atom: residual
            for atom, residual in residuals.items()
            if all(touching[f] > 1 for f, v in enumerate(residual) if v)
        }
        if len(kept) == len(residuals):
            return kept
        residuals = kept


def _echelon(vectors: Sequence[Sequence[int]]) -> dict[int, list[int]]:
    """Integer rows spanning the vectors, by pivot column, each zero at every other pivot."""
    rows: dict[int, list[int]] = {}
    for vector in vectors:
        row = list(vector)
        for known, other in rows.items():
            row = _cancel(row, other, known)
        pivot = next((a for a, value in enumerate(row) if value), None)
        if pivot is None:
            continue
        for known, other in rows.items():
            rows[known] = _cancel(other, row, pivot)
        rows[pivot] = row
    return rows


def _cancel(row: list[int], other: Sequence[int], pivot: int) -> list[int]:
    """`row` less a multiple of `other` that clears its entry at `pivot`, without fractions."""
    factor = row[pivot]
    if not factor:
        return row
    lead = other[pivot]
    result = [a * lead - factor * b for a, b in zip(row, other, strict=True)]
    common = math.gcd(*result)
    return [a // common for a in result] if common > 1 else result


def _combination_for(vectors: Sequence[Sequence[int]], target: Sequence[int]) -> list[int] | None:
    """Positions of the `vectors` a combination of which is `target`, if it is one.

    Exact integer elimination: each vector is reduced against the earlier ones, carrying
    which vectors it was made of, so a target that reduces to nothing names its makers.
    """
    basis: list[tuple[int, list[int], list[int]]] = []
    for position, vector in enumerate(vectors):
        origin = [int(j == position) for j in range(len(vectors))]
        values, made_of = _reduce(list(vector), origin, basis)
        pivot = next((a for a, value in enumerate(values) if value), None)
        if pivot is not None:
            basis.append((pivot, values, made_of))
    values, made_of = _reduce(list(target), [0] * len(vectors), basis)
    if any(values):
        return None
    return [j for j, coefficient in enumerate(made_of) if coefficient]


def _reduce(
    values: list[int], made_of: list[int], basis: Sequence[tuple[int, list[int], list[int]]]
) -> tuple[list[int], list[int]]:
    for pivot, row, row_made_of in basis:
        factor = values[pivot]
        if not factor:
            continue
        lead = row[pivot]
        values = [a * lead - factor * b for a, b in zip(values, row, strict=True)]
        made_of = [a * lead - factor * b for a, b in zip(made_of, row_made_of, strict=True)]
        # Dividing out the common factor keeps the integers small without fractions.
        common = math.gcd(*values, *made_of)
        if common > 1:
            values = [a // common for a in values]
            made_of = [a // common for a in made_of]
    return values, made_of


def _latest_per_period(
    baseline: AssessmentRecord, later: Sequence[AssessmentRecord]
) -> dict[str, int]:
    """The place in `later` of the latest follow-up in each period."""
    chosen: dict[str, int] = {}
    for index, record in enumerate(later):
        period = period_of(baseline.assessed_on, record.assessed_on)
        if period is not None:
            chosen[period] = index  # oldest first, so the latest in the period wins
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
    if abs(before) < _TENTHS_EXACT_BELOW and abs(after) < _TENTHS_EXACT_BELOW:
        low, high = round(before * 10), round(after * 10)
        if low / 10 == before and high / 10 == after:
            # Both are figures to one decimal, as scores are stored, so the difference in
            # whole tenths is exact and already rounded: the result below, at far less cost.
            return (high - low) / 10
    # The exact difference of the shown figures, rounded half away from zero, as in
    # outcomes.compare. Decimal gives the same exact result as Fraction at a fraction of the
    # cost, which matters over hundreds of thousands of pairs in a cohort.
    exact = _EXACT.subtract(Decimal(repr(after)), Decimal(repr(before)))
    rounded = float(exact.quantize(_TENTH, rounding=ROUND_HALF_UP, context=_EXACT))
    return rounded or 0.0  # a change that rounds to nothing is 0.0, never -0.0


# Below this, a float is a whole number of tenths exactly when ten times it rounds to one.
_TENTHS_EXACT_BELOW = 2.0**40

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
