"""PDF reports: a team's outcomes for commissioners, and one young person's progress.

Pages are drawn with matplotlib and gathered with PdfPages, so no other PDF library is
needed. Fonts are embedded as TrueType so that the text can be searched and copied.
Colours are the Okabe-Ito palette, which stays distinct for colour-blind readers.
"""

from __future__ import annotations

import asyncio
import logging
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from apart_engine.analysis import (
    ALL_BANDS,
    DEFAULT_MIN_GROUP,
    PERIOD_BOUNDS,
    CohortAnalysis,
    GroupStats,
    analyse,
    band_counts,
)
from apart_engine.errors import ApartError
from apart_engine.instrument import AssessmentKind, ItemKind, SectionRole
from apart_engine.schedule import add_months
from bot import charts
from bot.clock import today
from bot.export import records_from_rows
from bot.private_files import create_private

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import date
    from pathlib import Path

    from matplotlib.axes import Axes

    from apart_engine.instrument import Instrument, Section
    from bot.app import Services
    from bot.store import AnalysisRow, Staff

logger = logging.getLogger(__name__)
# fontTools logs every glyph it subsets into the PDF at INFO; that is noise in a CLI run.
logging.getLogger("fontTools").setLevel(logging.WARNING)

PAGE_SIZE = (8.27, 11.69)  # A4 portrait, inches
DEFAULT_SPLIT = "living_situation"

# Okabe-Ito: black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple.
PALETTE = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
_BAND_COLOURS = {
    ALL_BANDS: PALETTE[0],
    "Low": PALETTE[3],
    "Medium": PALETTE[1],
    "High": PALETTE[6],
}
_RC: dict[Any, Any] = {
    "pdf.fonttype": 42,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_MARGIN, _LINE = 0.07, 0.017
_WRAP = 100


@dataclass(frozen=True)
class ReportResult:
    """What a report run wrote."""

    path: Path
    pages: int
    young_people: int
    assessments: int


def team_report(
    path: Path,
    instrument: Instrument,
    rows: Sequence[AnalysisRow],
    *,
    team: str | None,
    from_date: date | None,
    to_date: date,
    generated_on: date,
    min_group: int,
    split: str = DEFAULT_SPLIT,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write the outcomes report of a team (or of every team when `team` is None)."""
    tell = progress or (lambda _: None)
    records = records_from_rows(instrument, rows)
    tell("analysing")
    # One analysis with the split, so that its groups and the band tables are protected together.
    result = analyse(
        instrument,
        records,
        min_group=min_group,
        from_date=from_date,
        to_date=to_date,
        split=split,
    )
    start = from_date or result.first_date or to_date
    scope = team or "All teams"
    synthetic = bool(rows) and all(r.reference.startswith("SYN-") for r in rows)

    create_private(path)
    with mpl.rc_context(_RC), PdfPages(path) as pdf:
        pages = _Pages(pdf, f"APART outcomes · {scope} · {start:%d %b %Y} to {to_date:%d %b %Y}")
        tell("summary")
        pages.text(
            "Outcomes report",
            _summary(instrument, result, scope, start, to_date, generated_on, synthetic),
        )
        tell("charts")
        pages.figure(_change_chart(instrument, result))
        pages.figure(_domain_chart(instrument, result))
        pages.figure(_caseload_chart(instrument, records, start, to_date))
        tell("tables")
        for section in instrument.scored_sections:
            pages.figure(_period_table(section, result))
        pages.figure(_split_table(instrument, result.splits, split, min_group))
        pages.text("How to read this report", _method(instrument, result, start, to_date))
        count = pages.count
    logger.info("Team report written: %s pages, %s young people", count, result.young_people)
    return ReportResult(path, count, result.young_people, result.assessments)


def case_report(
    path: Path,
    instrument: Instrument,
    rows: Sequence[AnalysisRow],
    *,
    reference: str,
    generated_on: date,
    with_notes: bool = False,
) -> ReportResult:
    """Write one young person's progress for a case review; notes only when asked for."""
    ordered = sorted(rows, key=lambda r: (r.assessed_on, r.assessment_id))
    create_private(path)
    with mpl.rc_context(_RC), PdfPages(path) as pdf:
        pages = _Pages(pdf, f"APART case progress · {reference}")
        pages.figure(_case_overview(instrument, ordered, reference, generated_on))
        pages.figure(_case_changes(instrument, ordered))
        if with_notes:
            pages.text("Notes", _case_notes(instrument, ordered))
        count = pages.count
    logger.info("Case report written: %s pages", count)
    return ReportResult(path, count, 1 if ordered else 0, len(ordered))


class _Pages:
    """Adds pages to a PDF, each with the same running title and a page number."""

    def __init__(self, pdf: PdfPages, running_title: str) -> None:
        self._pdf = pdf
        self._title = running_title
        self.count = 0

    def figure(self, fig: Figure) -> None:
        """Add a drawn page."""
        self.count += 1
        fig.text(_MARGIN, 0.975, self._title, fontsize=7, color="#555555")
        fig.text(1 - _MARGIN, 0.025, f"Page {self.count}", fontsize=7, ha="right")
        # PdfPages.savefig carries no annotations in matplotlib's stubs.
        self._pdf.savefig(fig)  # type: ignore[no-untyped-call]

    def text(self, heading: str, blocks: Sequence[tuple[str, str]]) -> None:
        """Add pages of text; blocks are (style, text) with style "h", "p", "b" or "small"."""
        fig, y = _new_text_page(heading)
        for style, text in blocks:
            size = {"h": 11, "p": 9.5, "b": 9.5, "small": 8}[style]
            indent = 0.03 if style == "b" else 0.0
            width = _WRAP - (4 if style == "b" else 0)
            lines = textwrap.wrap(text, width) if style != "h" else [text]
            needed = _LINE * (len(lines) + (1.6 if style == "h" else 0.6))
            if y - needed < _MARGIN:
                self.figure(fig)
                fig, y = _new_text_page(f"{heading} (continued)")
            if style == "h":
                y -= _LINE * 0.8
            for number, line in enumerate(lines):
                prefix = "•  " if style == "b" and number == 0 else ""
                x = _MARGIN + indent - (0.018 if prefix else 0)
                weight = "bold" if style == "h" else "normal"
                fig.text(x, y, prefix + line, fontsize=size, weight=weight, va="top")
                y -= _LINE * (size / 9.5)
            y -= _LINE * 0.5
        self.figure(fig)


def _caption(fig: Figure, text: str) -> None:
    """The line or two under a page's heading, wrapped to the page."""
    fig.text(_MARGIN, 0.915, "\n".join(textwrap.wrap(text, 120)), fontsize=8, va="top")


def _new_text_page(heading: str) -> tuple[Figure, float]:
    fig = Figure(figsize=PAGE_SIZE)
    fig.text(_MARGIN, 0.94, heading, fontsize=16, weight="bold", va="top")
    return fig, 0.89


def _summary(
    instrument: Instrument,
    result: CohortAnalysis,
    scope: str,
    start: date,
    end: date,
    generated_on: date,
    synthetic: bool,
) -> list[tuple[str, str]]:
    blocks: list[tuple[str, str]] = []
    if synthetic:
        blocks.append(
            ("p", "SYNTHETIC DATA: every young person here is made up, for demonstration.")
        )
    blocks += [
        (
            "small",
            f"Team: {scope}. Reviews from {start:%d %B %Y} to {end:%d %B %Y}, each compared "
            f"with the young person's baseline. Instrument: {instrument.title}, version "
            f"{instrument.version}. Produced on {generated_on:%d %B %Y}.",
        ),
        ("h", "In plain words"),
        (
            "b",
            f"{result.young_people} young people had a baseline assessment; "
            f"{result.with_follow_up} of them had at least one later assessment in this period. "
            f"There are {result.assessments} assessments in all.",
        ),
    ]
    risk = instrument.section(SectionRole.RISK)
    for section in instrument.scored_sections:
        blocks += _section_summary(section, result, instrument.thresholds.meaningful_change)
    if result.domain_movers:
        best = result.domain_movers[0]
        blocks.append(
            (
                "b",
                f'The area that improved most was "{best.name}" '
                f"({_section_word(instrument, best.section_id)}): "
                f"{_points(best.mean_change)} on average ({best.n} young people).",
            )
        )
    blocks.append(("h", "By risk at the start"))
    for band in risk.band_names:
        stats = _latest(result, risk.id, band)
        sentence = _sentence(stats, result.min_group)
        blocks.append(("b", f"{band} risk at baseline, change to latest review: {sentence}"))
    if result.caveats:
        blocks += [("h", "Please read with care"), *(("small", c) for c in result.caveats)]
    blocks.append(
        (
            "small",
            f"To protect privacy, any group of fewer than {result.min_group} young people is "
            "counted but its figures are not shown, and neither are those of a group beside it "
            "from which they could be worked out. The tables and the last page explain every "
            "figure.",
        )
    )
    return blocks


def _section_summary(
    section: Section, result: CohortAnalysis, threshold: float
) -> list[tuple[str, str]]:
    name = section.role.value.capitalize()
    latest = _latest(result, section.id, ALL_BANDS)
    text = f"{name}, baseline to latest review: {_sentence(latest, result.min_group)}"
    if latest.shown and latest.improved is not None and latest.worse is not None:
        text += (
            f" {_percent(latest.improved)} improved by {threshold:g} points or more; "
            f"{_percent(latest.worse)} got worse by as much."
        )
    long_term = result.row(section.id, "9-12").stats
    return [
        ("b", text),
        ("b", f"{name} after 9 to 12 months of support: {_sentence(long_term, result.min_group)}"),
    ]


def _sentence(stats: GroupStats, min_group: int) -> str:
    if stats.n == 0:
        return "no young people to compare."
    if stats.complementary:
        return "not shown, so that a smaller group's figures cannot be worked out from it."
    if stats.suppressed:
        return f"fewer than {min_group} young people, so no figures are shown."
    assert stats.mean is not None
    interval = ""
    if stats.ci_low is not None and stats.ci_high is not None:
        interval = f"95% confidence interval {_signed(stats.ci_low)} to {_signed(stats.ci_high)}; "
    return f"{_points(stats.mean)} on average ({interval}{stats.n} young people)."


def _points(change: float) -> str:
    if change == 0:
        return "no change"
    return f"{'fell' if change < 0 else 'rose'} by {abs(change):.1f} points"


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def _percent(share: float) -> str:
    return f"{round(share * 100)}%"


def _latest(result: CohortAnalysis, section_id: str, band: str) -> GroupStats:
    return next(
        row.stats
        for row in result.latest
        if row.section_id == section_id and row.baseline_band == band
    )


def _section_word(instrument: Instrument, section_id: str) -> str:
    return instrument.section_by_id(section_id).role.value


def _change_chart(instrument: Instrument, result: CohortAnalysis) -> Figure:
    fig = Figure(figsize=PAGE_SIZE)
    fig.suptitle("Change from baseline by months of support", x=_MARGIN, ha="left", y=0.94)
    _caption(
        fig,
        "Mean change with its 95% confidence interval, by risk band at baseline. Groups of "
        f"fewer than {result.min_group} young people are left out, and so are groups from "
        "which they could be worked out.",
    )
    axes = fig.subplots(2, 1, gridspec_kw={"top": 0.87, "bottom": 0.14, "hspace": 0.35})
    periods = list(result.periods)
    for ax, section in zip(axes, instrument.scored_sections, strict=False):
        bands = (ALL_BANDS, *result.baseline_bands)
        for offset, band in enumerate(bands):
            xs, means, lows, highs = [], [], [], []
            for index, period in enumerate(periods):
                stats = result.row(section.id, period, band).stats
                if stats.shown and stats.mean is not None:
                    xs.append(index + (offset - 1.5) * 0.08)
                    means.append(stats.mean)
                    lows.append(
                        stats.mean - (stats.ci_low if stats.ci_low is not None else stats.mean)
                    )
                    highs.append(
                        (stats.ci_high if stats.ci_high is not None else stats.mean) - stats.mean
                    )
            if xs:
                label = "everyone" if band == ALL_BANDS else f"{band} at baseline"
                ax.errorbar(
                    xs,
                    means,
                    yerr=[lows, highs],
                    marker="o",
                    capsize=3,
                    color=_BAND_COLOURS.get(band, PALETTE[5]),
                    linewidth=2.2 if band == ALL_BANDS else 1.2,
                    label=label,
                )
        ax.axhline(0, color="#888888", linewidth=0.8)
        ax.set_xticks(range(len(periods)), [f"{p} months" for p in periods])
        ax.set_xlim(-0.5, len(periods) - 0.5)
        better = "lower is better" if section.role is SectionRole.RISK else "higher is better"
        ax.set_title(f"{section.title}: change in score ({better})", loc="left", fontsize=10)
        ax.set_ylabel("points")
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=7, loc="best", frameon=False)
        else:
            ax.text(
                0.5, 0.5, "No group is large enough to show.", ha="center", transform=ax.transAxes
            )
    return fig


def _domain_chart(instrument: Instrument, result: CohortAnalysis) -> Figure:
    fig = Figure(figsize=PAGE_SIZE)
    fig.suptitle("Which areas moved most", x=_MARGIN, ha="left", y=0.94)
    _caption(
        fig,
        "Mean change from baseline to each young person's latest review, turned so that "
        "right is better for both scores.",
    )
    top, bottom = fig.subplots(
        2,
        1,
        gridspec_kw={"top": 0.87, "bottom": 0.08, "hspace": 0.3, "left": 0.45, "right": 0.95},
    )
    _movers_bars(top, instrument, result.domain_movers, "Domains (score points)", by_label=False)
    items = list(result.item_movers[:6]) + [
        m for m in result.item_movers[-4:] if m not in result.item_movers[:6]
    ]
    _movers_bars(
        bottom,
        instrument,
        items,
        "Items: most and least improved (rating points, 0-3)",
        by_label=True,
    )
    return fig


def _movers_bars(
    ax: Axes, instrument: Instrument, movers: Sequence[Any], title: str, *, by_label: bool
) -> None:
    ax.set_title(title, loc="left", fontsize=10)
    if not movers:
        ax.text(
            0.5,
            0.5,
            "Not enough young people with reviews to show.",
            ha="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return
    labels = []
    for mover in movers:
        name = instrument.item(mover.name).label if by_label else mover.name
        labels.append(f"{name} ({_section_word(instrument, mover.section_id)}, n={mover.n})")
    values = [m.improvement for m in movers]
    colours = [PALETTE[3] if v >= 0 else PALETTE[6] for v in values]
    positions = list(range(len(movers)))[::-1]
    ax.barh(positions, values, color=colours)
    ax.set_yticks(positions, labels, fontsize=7.5)
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.set_xlabel("improvement (positive is better)")


def _caseload_chart(
    instrument: Instrument, records: Sequence[Any], start: date, end: date
) -> Figure:
    risk = instrument.section(SectionRole.RISK)
    days = _month_steps(start, end)
    counts = band_counts(records, risk.id, days)
    fig = Figure(figsize=PAGE_SIZE)
    fig.suptitle("The caseload over time, by current risk band", x=_MARGIN, ha="left", y=0.94)
    _caption(
        fig,
        "Open cases on each date, by the band of their latest assessment on or before it. A "
        "case is open from its baseline until a closure assessment.",
    )
    ax = fig.add_axes((0.12, 0.5, 0.8, 0.38))
    bands = [*risk.band_names, "no score"]
    bottoms = [0] * len(days)
    for band in bands:
        heights = [counts[day].get(band, 0) for day in days]
        if any(heights):
            ax.bar(
                range(len(days)),
                heights,
                bottom=bottoms,
                color=_BAND_COLOURS.get(band, "#BBBBBB"),
                label=band,
                width=0.8,
            )
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_xticks(range(len(days)), [f"{d:%d %b %y}" for d in days], rotation=60, fontsize=7)
    ax.set_ylabel("open cases")
    if any(bottoms):
        ax.legend(frameon=False, fontsize=8, title="risk band")
    else:
        ax.text(0.5, 0.5, "No open cases in this period.", ha="center", transform=ax.transAxes)
    return fig


def _month_steps(start: date, end: date) -> list[date]:
    days, step = [], 0
    while (day := add_months(start, step)) <= end and step < 600:
        days.append(day)
        step += 1
    if not days or days[-1] != end:
        days.append(end)
    return days


_TABLE_HEAD = [
    "Months",
    "Baseline band",
    "n",
    "Mean",
    "Median",
    "95% CI",
    "dz",
    "Better",
    "Same",
    "Worse",
]


def _stats_cells(stats: GroupStats, min_group: int) -> list[str]:
    if stats.n == 0:
        return ["0", "", "", "", "", "", "", ""]
    if stats.complementary:
        # Its size would give away the smaller group's size by subtraction, so it stays hidden.
        return ["hidden", "not shown", "", "", "", "", "", ""]
    if stats.suppressed:
        return [f"<{min_group}", "not shown", "", "", "", "", "", ""]
    ci = ""
    if stats.ci_low is not None and stats.ci_high is not None:
        ci = f"{stats.ci_low:+.1f} to {stats.ci_high:+.1f}"
    shares = [stats.improved, stats.unchanged, stats.worse]
    return [
        str(stats.n),
        f"{stats.mean:+.1f}" if stats.mean is not None else "",
        f"{stats.median:+.1f}" if stats.median is not None else "",
        ci,
        f"{stats.effect_size:+.2f}" if stats.effect_size is not None else "",
        *(_percent(s) if s is not None else "" for s in shares),
    ]


def _period_table(section: Section, result: CohortAnalysis) -> Figure:
    rows = []
    for period in (*result.periods, "latest"):
        for band in (ALL_BANDS, *result.baseline_bands):
            if period == "latest":
                stats = _latest(result, section.id, band)
                label = "latest review"
            else:
                stats = result.row(section.id, period, band).stats
                label = period
            rows.append(
                [
                    label,
                    "everyone" if band == ALL_BANDS else band,
                    *_stats_cells(stats, result.min_group),
                ]
            )
    fig = Figure(figsize=PAGE_SIZE)
    better = "negative is better" if section.role is SectionRole.RISK else "positive is better"
    fig.suptitle(f"{section.title}: change from baseline ({better})", x=_MARGIN, ha="left", y=0.94)
    _caption(
        fig,
        "Each young person counts once per period, with their latest assessment in it. Better "
        "and worse mean a change of at least the meaningful-change threshold.",
    )
    _draw_table(fig, _TABLE_HEAD, rows, top=0.87)
    return fig


def _split_table(
    instrument: Instrument, splits: Sequence[Any], field: str, min_group: int
) -> Figure:
    item = instrument.item(field)
    fig = Figure(figsize=PAGE_SIZE)
    fig.suptitle(f"Change by {item.label.lower()} at baseline", x=_MARGIN, ha="left", y=0.94)
    _caption(
        fig,
        "Change from baseline to the latest review. A young person with several answers counts "
        f"under each. Groups of fewer than {min_group} are counted but not shown, nor are groups "
        "from which they could be worked out.",
    )
    rows = [
        [
            _section_word(instrument, split.section_id),
            split.value,
            *_stats_cells(split.stats, min_group),
        ]
        for split in splits
    ]
    head = ["Score", item.label, *_TABLE_HEAD[2:]]
    _draw_table(fig, head, rows, top=0.87)
    return fig


def _draw_table(
    fig: Figure, head: Sequence[str], rows: Sequence[Sequence[str]], *, top: float
) -> None:
    height = min(top - _MARGIN, 0.024 * (len(rows) + 1))
    ax = fig.add_axes((_MARGIN, top - height, 1 - 2 * _MARGIN, height))
    ax.set_axis_off()
    if not rows:
        ax.text(0, 0.5, "Nothing to show.", transform=ax.transAxes)
        return
    table = ax.table(
        cellText=[list(r) for r in rows], colLabels=list(head), loc="upper left", cellLoc="center"
    )
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.auto_set_column_width(list(range(len(head))))
    table.scale(1, 1.25)
    for (row, _), cell in table.get_celld().items():
        cell.set_edgecolor("#CCCCCC")
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#EEEEEE")


def _method(
    instrument: Instrument, result: CohortAnalysis, start: date, end: date
) -> list[tuple[str, str]]:
    bounds = ", ".join(str(b) for b in PERIOD_BOUNDS)
    threshold = instrument.thresholds.meaningful_change
    first = f"{result.first_date:%d %B %Y}" if result.first_date else "none"
    last = f"{result.last_date:%d %B %Y}" if result.last_date else "none"
    return [
        ("h", "What the figures are"),
        (
            "p",
            "Change is a later score minus the baseline score, on the rounded scores shown to "
            "practitioners. Risk and resilience run from 0 to 100. For risk a fall is an "
            "improvement; for resilience a rise is. Items answered Unknown are left out of a "
            "score.",
        ),
        (
            "p",
            f"Months of support are calendar months from the baseline date (period bounds "
            f"{bounds} months). A review falls in the period that ends on or after its date: "
            "one done on its 3-month date counts in 0-3, one done a day later in 3-6.",
        ),
        (
            "p",
            f"Better, same and worse: a change of at least {threshold:g} points in the better "
            "direction is better, as much in the other direction is worse, anything smaller is "
            "the same.",
        ),
        (
            "p",
            "The 95% confidence interval is the exact paired t interval of the mean change. "
            "dz is the mean change divided by the standard deviation of the changes (a paired "
            "effect size; about 0.2 is small, 0.5 medium, 0.8 large).",
        ),
        ("h", "What the figures cannot tell you"),
        *(("p", c) for c in result.caveats),
        (
            "p",
            "There is no comparison group, so the report cannot say what would have happened "
            "without support. Young people who stopped engaging may have no later review, and "
            "they may differ from those who stayed.",
        ),
        (
            "p",
            f"Groups of fewer than {result.min_group} young people are counted but not shown, "
            "so that no young person can be singled out. Because everyone is shown beside each "
            "group, a hidden group could be worked out by subtraction, so other groups are "
            'hidden with it (marked "hidden") until no figure of fewer than '
            f"{result.min_group} young people can be worked out from the figures shown. Small "
            "groups that are shown still have wide confidence intervals.",
        ),
        (
            "p",
            "The default instrument is modelled on the published design of APART (DMSS "
            "Research); it is not DMSS's form.",
        ),
        ("h", "The data"),
        (
            "p",
            f"Instrument {instrument.id}, version {instrument.version}. Assessments from "
            f"{first} to {last}; follow-ups counted from {start:%d %B %Y} to {end:%d %B %Y}. "
            "Only submitted assessments are used; drafts and discarded assessments are not.",
        ),
    ]


def _case_overview(
    instrument: Instrument, rows: Sequence[AnalysisRow], reference: str, generated_on: date
) -> Figure:
    fig = Figure(figsize=PAGE_SIZE)
    fig.suptitle(f"Case progress: {reference}", x=_MARGIN, ha="left", y=0.94, fontsize=16)
    team = rows[0].team if rows else "unknown"
    _caption(
        fig,
        f"Team: {team}. Instrument: {instrument.title}, version {instrument.version}. "
        f"Produced on {generated_on:%d %B %Y}.",
    )
    if reference.startswith(charts.SYNTHETIC_PREFIX):
        fig.text(
            1 - _MARGIN,
            0.94,
            "SYNTHETIC DATA: made up for demonstration",
            ha="right",
            fontsize=9,
            weight="bold",
            color=PALETTE[6],
        )
    records = records_from_rows(instrument, rows)
    days = [r.assessed_on for r in records]
    for top, section in zip((0.71, 0.52), instrument.scored_sections, strict=False):
        # The same drawing as the chat's chart: band shading, spaced dates, placed values.
        ax = fig.add_axes((0.1, top, 0.75, 0.15))
        charts.shade_bands(ax, section)
        span = charts.date_axis(ax, days)
        values = [r.scores.get(section.id) for r in records]
        charts.plot_series(ax, [charts.day_number(d) for d in days], values, section.role, span)
        better = "lower is better" if section.role is SectionRole.RISK else "higher is better"
        ax.text(0, 1.04, f"{section.title}, 0 to 100 ({better})", transform=ax.transAxes)

    head = [
        "Date",
        "Kind",
        *(f"{s.role.value.capitalize()} score" for s in instrument.scored_sections),
        *(f"{s.role.value.capitalize()} band" for s in instrument.scored_sections),
    ]
    table_rows = []
    for record in records:
        scores = [record.scores.get(s.id) for s in instrument.scored_sections]
        bands = [record.bands.get(s.id) or "" for s in instrument.scored_sections]
        table_rows.append(
            [
                f"{record.assessed_on:%d %b %Y}",
                record.kind.value,
                *(f"{s:.1f}" if s is not None else "no score" for s in scores),
                *bands,
            ]
        )
    _draw_table(fig, head, table_rows, top=0.44)
    return fig


def _case_changes(instrument: Instrument, rows: Sequence[AnalysisRow]) -> Figure:
    fig = Figure(figsize=PAGE_SIZE)
    fig.suptitle("Change from baseline to the latest assessment", x=_MARGIN, ha="left", y=0.94)
    records = records_from_rows(instrument, rows)
    baseline = next((r for r in records if r.kind is AssessmentKind.BASELINE), None)
    latest = records[-1] if records else None
    if baseline is None or latest is None or latest is baseline:
        fig.text(_MARGIN, 0.88, "There is no later assessment to compare with the baseline yet.")
        return fig
    _caption(
        fig,
        f"Baseline {baseline.assessed_on:%d %b %Y}, latest {latest.assessed_on:%d %b %Y}. "
        "Blank means Unknown. Change is latest minus baseline: for risk lower is better, so a "
        "fall is an improvement; for resilience higher is better.",
    )
    domain_rows = []
    for section in instrument.scored_sections:
        for domain in section.domains:
            before = baseline.domains.get((section.id, domain))
            after = latest.domains.get((section.id, domain))
            change = _change(before, after, section.role)
            domain_rows.append([section.role.value, domain, _num(before), _num(after), change])
    head = ["Score", "Domain", "Baseline", "Latest", "Change (better or worse)"]
    _draw_table(fig, head, domain_rows, top=0.87)
    item_rows = []
    for item in instrument.rating_items:
        before_r, after_r = baseline.ratings.get(item.id), latest.ratings.get(item.id)
        moved = _change(before_r, after_r, instrument.section_of(item.id).role)
        item_rows.append([item.id, item.label, _num(before_r), _num(after_r), moved])
    _draw_table(
        fig,
        ["Item", "Label", "Baseline", "Latest", "Change (better or worse)"],
        item_rows,
        top=0.87 - 0.024 * (len(domain_rows) + 2),
    )
    return fig


def _change(before: float | None, after: float | None, role: SectionRole) -> str:
    """The change with what it means: a fall in risk is better, a fall in resilience worse."""
    if before is None or after is None:
        return ""
    moved = after - before
    if moved == 0:
        return "0 (same)"
    better = moved < 0 if role is SectionRole.RISK else moved > 0
    shown = f"{moved:+d}" if isinstance(moved, int) else f"{moved:+.1f}"
    return f"{shown} ({'better' if better else 'worse'})"


def _case_notes(instrument: Instrument, rows: Sequence[AnalysisRow]) -> list[tuple[str, str]]:
    blocks: list[tuple[str, str]] = []
    for row in rows:
        if not row.notes:
            continue
        blocks.append(("h", f"{row.kind.capitalize()} of {row.assessed_on:%d %B %Y}"))
        for item_id, text in sorted(row.notes.items()):
            label = _label(instrument, item_id)
            blocks.append(("b", f"{label}: {text}"))
    return blocks or [("p", "No notes were written on these assessments.")]


def _label(instrument: Instrument, item_id: str) -> str:
    try:
        return instrument.item(item_id).label
    except KeyError:
        return item_id


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class ReportError(ApartError):
    """A report cannot be made as asked; the message says what to change."""


async def write_team_report(
    services: Services,
    path: Path,
    *,
    team: str | None,
    from_date: date | None = None,
    to_date: date | None = None,
    min_group: int = DEFAULT_MIN_GROUP,
    split: str = DEFAULT_SPLIT,
    viewer: Staff | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Read the team's submitted assessments (audited) and write its outcomes report."""
    instrument = services.instrument
    await _check_team(services, team)
    _check_split(instrument, split)
    if min_group < 1:
        raise ReportError("The smallest group shown must be at least 1; 5 is the default.")
    generated_on = today(services.clock, services.tz)
    end = to_date or generated_on
    if from_date is not None and from_date > end:
        raise ReportError(
            f"The report would start on {from_date:%d %B %Y}, after it ends on {end:%d %B %Y}; "
            "swap the dates."
        )
    if progress is not None:
        progress("reading assessments")
    rows = await services.store.analysis_rows(viewer, purpose="team report", team=team)
    # Drawing takes a second or two; a thread keeps the bot answering meanwhile.
    return await asyncio.to_thread(
        team_report,
        path,
        instrument,
        rows,
        team=team,
        from_date=from_date,
        to_date=end,
        generated_on=generated_on,
        min_group=min_group,
        split=split,
        progress=progress,
    )


async def write_case_report(
    services: Services,
    path: Path,
    *,
    reference: str,
    with_notes: bool = False,
    viewer: Staff | None = None,
) -> ReportResult:
    """Read one case's submitted assessments (audited) and write its progress report."""
    rows = await services.store.analysis_rows(
        viewer, purpose="case report", reference=reference, with_notes=with_notes
    )
    if not rows:
        raise ReportError(
            f"There is no submitted assessment for {reference}. Check the reference; a case "
            "needs at least its baseline submitted."
        )
    return await asyncio.to_thread(
        case_report,
        path,
        services.instrument,
        rows,
        reference=rows[0].reference,
        generated_on=today(services.clock, services.tz),
        with_notes=with_notes,
    )


async def _check_team(services: Services, team: str | None) -> None:
    if team is None:
        return
    names = await services.store.team_names()
    if team.casefold() not in {name.casefold() for name in names}:
        known = ", ".join(f'"{name}"' for name in names) or "none yet"
        raise ReportError(f'There is no team "{team}". The teams are: {known}.')


def _check_split(instrument: Instrument, split: str) -> None:
    context = instrument.section(SectionRole.CONTEXT)
    choices = [i.id for i in context.items if i.kind in (ItemKind.CHOICE, ItemKind.MULTICHOICE)]
    if split not in choices:
        raise ReportError(
            f'"{split}" is not a background question that can split the figures; choose one '
            f"of: {', '.join(choices)}."
        )
