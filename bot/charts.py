"""Progress charts as PNG bytes: one case over time, and a team since baseline.

Charts are drawn on the non-interactive Agg backend with `Figure` objects that pyplot never
sees, so no figure outlives its call. Every axes sits at a fixed place worked out in inches,
so no layout engine measures the text before drawing: that and few artists keep a case
chart well inside its time budget. The bot draws in a separate process (`ChartDrawer`),
because matplotlib holds the interpreter lock while it draws, which in a thread would stall
the event loop. Sizes and type are chosen for a phone held upright (960 pixels wide);
colours are the Okabe-Ito palette, which stays apart for the common kinds of colour
blindness, and every series also differs in marker and line. Charts carry the case
reference or the team's name, never anything else that identifies; a team chart hides any
group smaller than the analysis's minimum, as the PDF report does.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import os
import statistics
import textwrap
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg", force=True)

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from apart_engine.analysis import DEFAULT_MIN_GROUP
from apart_engine.instrument import SectionRole

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from matplotlib.axes import Axes

    from apart_engine.instrument import Instrument, Section
    from bot.store import ScoredAssessment

logger = logging.getLogger(__name__)

# Okabe-Ito colours.
RISK_COLOUR = "#D55E00"
RESILIENCE_COLOUR = "#0072B2"
BASELINE_COLOUR = "#E69F00"
LATEST_COLOUR = "#0072B2"
EVENT_COLOUR = "#555555"
# Band shading, lightest for the lowest band; grey so it never competes with the lines.
BAND_SHADES = ("#FFFFFF", "#EEEEEE", "#DDDDDD", "#CCCCCC", "#BBBBBB")

WIDTH_IN = 6.4
DPI = 150
FONT_SIZE = 12
EVENTS_ITEM = "events"
DRAWER_KEY = "chart-drawer"
# References of the synthetic cohort (bot.seed), marked as such on every chart.
SYNTHETIC_PREFIX = "SYN-"
_DAYS_PER_MONTH = 365.25 / 12
_EPOCH = date(1970, 1, 1)
SCORE_TICKS = (0, 50, 100)
# Fixed margins, in inches: the band names sit right of the plot, the scores left of it.
_LEFT_IN, _RIGHT_IN = 0.85, 1.1
# A date label is about this share of a time axis wide; closer labels are left out.
_DATE_LABEL_SHARE = 0.16
# A value label is about this share of the axis wide and this many score points high.
_VALUE_LABEL_SHARE = 0.1
_VALUE_LABEL_POINTS = 7.0
# How much lower than the bot's the chart workers' scheduling priority is (see `nice`).
_WORKER_NICENESS = 10
# Light PNG compression: a somewhat larger file (about 100 kB), much less time.
_PNG_OPTIONS = {"compress_level": 1}


@dataclass(frozen=True, slots=True)
class CasePoint:
    """One assessment on a case chart."""

    day: date
    kind: str
    risk: float | None
    resilience: float | None
    events: tuple[str, ...]
    """Labels of the significant events recorded at this assessment."""


@dataclass(frozen=True, slots=True)
class DomainPair:
    """One domain's score at baseline and at the latest assessment."""

    role: SectionRole
    domain: str
    baseline: float | None
    latest: float | None


@dataclass(frozen=True, slots=True)
class TeamSample:
    """One assessment of a team's case, placed by months since that case's baseline."""

    months: int
    risk: float | None
    resilience: float | None
    young_person_id: int


class ChartDrawer:
    """Draws charts in worker processes, so the event loop is never held while they draw.

    The workers are forked from a fork server that has this module loaded, and are started
    (and their fonts loaded) in a thread on first use, so even that start holds no update
    up; `aclose` (the application's shutdown) stops them.
    """

    def __init__(self, processes: int | None = None) -> None:
        # One core is left for the event loop: a worker on every core starves it of CPU.
        self._processes = processes or max(1, min(2, (os.cpu_count() or 2) - 1))
        self._pool: ProcessPoolExecutor | None = None
        self._starting = asyncio.Lock()

    async def draw(self, chart: Callable[..., bytes], *args: Any) -> bytes:
        """Draw `chart(*args)` in a worker process and return its PNG."""
        async with self._starting:
            if self._pool is None:
                self._pool = await asyncio.to_thread(self._start)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(chart, *args))

    async def aclose(self) -> None:
        """Stop the worker processes, if any started; a later draw starts them again."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        # Fork is unsafe with the bot's threads; a fork server starts clean, once.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        pool = ProcessPoolExecutor(
            self._processes, mp_context=context, initializer=_lower_priority
        )
        # A pool starts a process for each task that finds no idle one: starting them all
        # here means no later draw starts one on the event loop's thread.
        for started in [pool.submit(_warm_up) for _ in range(self._processes)]:
            started.result()
        logger.info("Chart workers started: %d processes", self._processes)
        return pool


def drawer_for(application: Any) -> ChartDrawer:
    """The application's chart drawer, made on first use; `close_drawer` stops it."""
    drawer = application.bot_data.get(DRAWER_KEY)
    if not isinstance(drawer, ChartDrawer):
        drawer = ChartDrawer()
        application.bot_data[DRAWER_KEY] = drawer
    return drawer


async def close_drawer(application: Any) -> None:
    """Stop the application's chart workers (a post_shutdown hook)."""
    drawer = application.bot_data.pop(DRAWER_KEY, None)
    if isinstance(drawer, ChartDrawer):
        await drawer.aclose()


async def render(chart: Callable[..., bytes], *args: Any) -> bytes:
    """Draw a chart in a worker thread (for one-off use outside the bot, such as a warm-up)."""
    return await asyncio.to_thread(chart, *args)


def _lower_priority() -> None:
    """Drawing is background work: on a busy machine the bot's own process goes first."""
    try:
        os.nice(_WORKER_NICENESS)
    except OSError:
        logger.info(
            "Chart worker %s keeps its priority; the system refused to lower it", os.getpid()
        )


def _warm_up() -> None:
    """Load a worker's fonts and caches by drawing once, so its first real chart is quick."""
    from apart_engine import default_instrument

    team_chart(default_instrument(), "Warm-up", [])


def case_points(instrument: Instrument, history: Sequence[ScoredAssessment]) -> list[CasePoint]:
    """The points of a case chart from the case's submitted assessments."""
    labels = _event_labels(instrument)
    return [
        CasePoint(
            day=a.assessed_on,
            kind=a.kind,
            risk=a.risk_score,
            resilience=a.resilience_score,
            events=tuple(labels.get(e, e) for e in a.events if e != "none"),
        )
        for a in history
    ]


def domain_pairs(instrument: Instrument, history: Sequence[ScoredAssessment]) -> list[DomainPair]:
    """Each scored domain at the baseline and at the latest assessment."""
    if not history:
        return []
    first, last = _domains(history[0]), _domains(history[-1])
    return [
        DomainPair(section.role, domain, first.get(domain), last.get(domain))
        for section in instrument.scored_sections
        for domain in section.domains
    ]


def team_samples(instrument: Instrument, history: Sequence[ScoredAssessment]) -> list[TeamSample]:
    """Every assessment of a team, by months since its case's baseline, to the nearest review."""
    interval = instrument.timing.review_interval_months
    baselines = {a.young_person_id: a.assessed_on for a in history if a.kind == "baseline"}
    samples = []
    for assessment in history:
        baseline = baselines.get(assessment.young_person_id)
        if baseline is None:
            continue
        months = (assessment.assessed_on - baseline).days / _DAYS_PER_MONTH
        samples.append(
            TeamSample(
                months=round(months / interval) * interval,
                risk=assessment.risk_score,
                resilience=assessment.resilience_score,
                young_person_id=assessment.young_person_id,
            )
        )
    return samples


def case_chart(
    instrument: Instrument,
    reference: str,
    points: Sequence[CasePoint],
    domains: Sequence[DomainPair],
) -> bytes:
    """Risk and resilience over time with bands and events, then baseline against latest."""
    synthetic = reference.startswith(SYNTHETIC_PREFIX)
    case = f"Case {reference}" + (", synthetic: made up for demonstration." if synthetic else ".")
    notes = [case, *_event_notes(points)]
    footnote = _wrap([f"{instrument.title}, version {instrument.version}.", *notes])
    layout = _Layout(WIDTH_IN, top=0.9)
    layout.reserve(2.1, gap=0.8)
    layout.reserve(2.1, gap=0.8)
    layout.reserve(0.42 * len(domains) + 0.3, gap=0.75, left=2.2, right=0.35)
    figure, axes, title_y, footnote_y = layout.figure(0.3 + 0.19 * footnote.count("\n"))
    risk_ax, resilience_ax, domain_ax = axes
    figure.suptitle(f"{reference}: progress", fontsize=FONT_SIZE + 3, fontweight="bold", y=title_y)

    days = [day_number(p.day) for p in points]
    for ax, role in ((risk_ax, SectionRole.RISK), (resilience_ax, SectionRole.RESILIENCE)):
        section = instrument.section(role)
        shade_bands(ax, section)
        values = [p.risk if role is SectionRole.RISK else p.resilience for p in points]
        span = date_axis(ax, [p.day for p in points])
        plot_series(ax, days, values, role, span)
        _mark_events(ax, points)
        better = "lower is better" if role is SectionRole.RISK else "higher is better"
        _heading(ax, f"{_plain(section.title)} score, 0 to 100 ({better})")
        ax.set_yticks(SCORE_TICKS)
    _domain_bars(domain_ax, domains)
    _footnote(figure, footnote_y, footnote)
    if synthetic:
        _synthetic_mark(figure)
    return _png(figure)


def team_chart(
    instrument: Instrument,
    team: str,
    samples: Sequence[TeamSample],
    min_group: int = DEFAULT_MIN_GROUP,
) -> bytes:
    """Median and middle half of the team's scores, by months since each case's baseline.

    A month with fewer than `min_group` young people is hidden, as in the PDF report: its
    count shows as "<5" and a line under the chart says how many were hidden.
    """
    layout = _Layout(WIDTH_IN, top=0.9)
    layout.reserve(2.9, gap=0.85)
    layout.reserve(2.9, gap=0.95)
    footnote_lines = [
        "Dots joined by a line: the median (middle) young person at each point.",
        "Vertical bar: the middle half of young people (from the 25th to the 75th percentile).",
        "Grey background: the score bands, named on the right.",
        "Figures along the bottom: how many young people.",
    ]
    hidden = _hidden_months(samples, min_group)
    if hidden:
        footnote_lines.append(
            f"Hidden to protect privacy: {len(hidden)} point(s) with fewer than {min_group} "
            "young people."
        )
    footnote = _wrap([f"{instrument.title}, version {instrument.version}.", *footnote_lines])
    figure, axes, title_y, footnote_y = layout.figure(0.3 + 0.19 * footnote.count("\n"))
    figure.suptitle(
        f"{team}: scores since baseline", fontsize=FONT_SIZE + 3, fontweight="bold", y=title_y
    )

    months = sorted({s.months for s in samples})
    for ax, role in zip(axes, (SectionRole.RISK, SectionRole.RESILIENCE), strict=True):
        section = instrument.section(role)
        shade_bands(ax, section)
        rows = [(m, _scores_at(samples, m, role)) for m in months]
        rows = [(m, values) for m, values in rows if values]
        _plot_spread(ax, rows, role, min_group)
        better = "lower is better" if role is SectionRole.RISK else "higher is better"
        _heading(ax, f"{_plain(section.title)} score, 0 to 100 ({better})")
        ax.set_yticks(SCORE_TICKS)
        _under(ax, "Months since baseline")
    _spread_legend(axes[0])
    _footnote(figure, footnote_y, footnote)
    return _png(figure)


# Layout


class _Layout:
    """Stacks axes top to bottom at fixed sizes in inches, then makes the figure to fit."""

    def __init__(self, width: float, *, top: float) -> None:
        self._width = width
        self._cursor = top
        self._slots: list[tuple[float, float, float, float]] = []

    def reserve(self, height: float, *, gap: float, left: float = 0, right: float = 0) -> None:
        """Reserve `height` inches for the next axes, with `gap` inches below for its labels."""
        self._slots.append((left or _LEFT_IN, right or _RIGHT_IN, self._cursor, height))
        self._cursor += height + gap

    def figure(self, footnote: float) -> tuple[Figure, list[Axes], float, float]:
        """The figure, its axes in place, and where the title and the footnote go."""
        total = self._cursor + footnote
        figure = Figure(figsize=(self._width, total), dpi=DPI)
        axes = [
            figure.add_axes(
                (
                    left / self._width,
                    1 - (top + height) / total,
                    (self._width - left - right) / self._width,
                    height / total,
                )
            )
            for left, right, top, height in self._slots
        ]
        return figure, axes, 1 - 0.3 / total, 1 - (self._cursor - 0.1) / total


# Drawing helpers


def shade_bands(ax: Axes, section: Section) -> None:
    """Grey bands behind the plot for the section's score bands, named right of the axes."""
    ax.set_ylim(0, 100)
    for index, band in enumerate(section.bands):
        top = 100 if band.below is None else band.below
        ax.axhspan(band.min, top, color=BAND_SHADES[index % len(BAND_SHADES)], zorder=0)
        ax.text(
            1.02,
            (band.min + top) / 2,
            band.name,
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=FONT_SIZE - 2,
        )


def plot_series(
    ax: Axes, days: list[float], values: list[float | None], role: SectionRole, span: float
) -> None:
    """One score over time, each point labelled with its value where the label has room."""
    shown = [(d, v) for d, v in zip(days, values, strict=True) if v is not None]
    if not shown:
        _no_data(ax)
        return
    xs, ys = zip(*shown, strict=True)
    ax.plot(
        xs,
        ys,
        color=_colour(role),
        marker=_marker(role),
        linestyle="-" if role is SectionRole.RISK else "--",
        linewidth=2.5,
        markersize=8,
        zorder=3,
    )
    for x, y, above in _value_labels(shown, span):
        ax.annotate(
            f"{y:.1f}",
            (x, y),
            textcoords="offset points",
            xytext=(0, 9 if above else -11),
            ha="center",
            va="bottom" if above else "top",
            fontsize=FONT_SIZE - 2,
            zorder=4,
        )


def _value_labels(
    shown: Sequence[tuple[float, float]], span: float
) -> list[tuple[float, float, bool]]:
    """Where each value label goes: above its point, below it, or (if both collide) nowhere."""
    width = span * _VALUE_LABEL_SHARE
    placed: list[tuple[float, float]] = []
    labels = []
    for x, y in shown:
        # Beside a close neighbour, the higher point's label goes above, the lower's below.
        lower = any(abs(x - nx) < width and ny > y for nx, ny in shown)
        for above in (False, True) if lower else (True, False):
            centre = y + (4 if above else -4)
            clash = any(
                abs(x - px) < width and abs(centre - py) < _VALUE_LABEL_POINTS for px, py in placed
            )
            if not clash and 4 <= centre <= 97:
                placed.append((x, centre))
                labels.append((x, y, above))
                break
    return labels


def _plot_spread(
    ax: Axes, rows: list[tuple[int, list[tuple[int, float]]]], role: SectionRole, min_group: int
) -> None:
    shown = [(m, values) for m, values in rows if _people(values) >= min_group]
    for month, values in rows:
        people = _people(values)
        count = str(people) if people >= min_group else f"<{min_group}"
        ax.text(month, 3, count, ha="center", fontsize=FONT_SIZE - 3, color=EVENT_COLOUR)
    if rows:
        ax.set_xticks([m for m, _ in rows])
        ax.set_xlim(min(m for m, _ in rows) - 1, max(m for m, _ in rows) + 1)
    if not shown:
        message = "No scores yet" if not rows else f"Every group has fewer than {min_group}"
        _no_data(ax, message)
        return
    xs = [m for m, _ in shown]
    low, mid, high = zip(*(_quartiles([v for _, v in values]) for _, values in shown), strict=True)
    ax.errorbar(
        xs,
        mid,
        yerr=[
            [m - lo for m, lo in zip(mid, low, strict=True)],
            [h - m for m, h in zip(mid, high, strict=True)],
        ],
        color=_colour(role),
        marker=_marker(role),
        linewidth=2.5,
        markersize=7,
        elinewidth=6,
        ecolor=_colour(role) + "66",
        capsize=0,
        zorder=3,
    )


def _spread_legend(ax: Axes) -> None:
    handles = [
        Line2D([], [], color=EVENT_COLOUR, marker="o", linewidth=2.5, label="Median"),
        Line2D([], [], color=EVENT_COLOUR + "66", linewidth=6, label="Middle half"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=FONT_SIZE - 3, framealpha=0.9)


def _mark_events(ax: Axes, points: Sequence[CasePoint]) -> None:
    days = [day_number(p.day) for p in points if p.events]
    if not days:
        return
    ax.vlines(days, 0, 100, color=EVENT_COLOUR, linestyle=":", linewidth=1.2, zorder=1)
    # One marker line for every number's circle: far cheaper than a boxed text each.
    ax.plot(
        days,
        [7] * len(days),
        linestyle="",
        marker="o",
        markersize=14,
        markerfacecolor="white",
        markeredgecolor=EVENT_COLOUR,
        zorder=5,
    )
    for number, x in enumerate(days, start=1):
        ax.text(
            x,
            7,
            str(number),
            ha="center",
            va="center_baseline",
            fontsize=FONT_SIZE - 3,
            fontweight="bold",
            color=EVENT_COLOUR,
            zorder=6,
        )


def _event_notes(points: Sequence[CasePoint]) -> list[str]:
    notes: list[str] = []
    for point in (p for p in points if p.events):
        notes.append(f"{len(notes) + 1}: {point.day:%-d %b %Y}, {', '.join(point.events)}.")
    if notes:
        notes.insert(0, "Dotted lines, numbered: significant events recorded at that assessment.")
    return notes


def date_axis(ax: Axes, days: Sequence[date]) -> float:
    """Ticks at the assessment dates, labelled where the labels have room; returns the span."""
    if not days:
        ax.set_xticks([])
        return 1.0
    first, last = min(days), max(days)
    pad = max(20.0, (last - first).days / 12)
    low, high = day_number(first) - pad, day_number(last) + pad
    ax.set_xlim(low, high)
    span = high - low
    unique = sorted(set(days))
    labels, year = [], None
    for day in _spaced(unique, span):
        # The year only on the first label and where it changes, to keep labels short.
        if day is None:
            labels.append("")
        else:
            labels.append(f"{day:%-d %b}" if day.year == year else f"{day:%-d %b %Y}")
            year = day.year
    ax.set_xticks([day_number(d) for d in unique], labels)
    return span


def _spaced(days: list[date], span: float) -> list[date | None]:
    """The days whose labels fit, latest first kept; None where a label would overlap."""
    kept: list[date | None] = []
    last_shown: float | None = None
    for day in reversed(days):
        x = day_number(day)
        if last_shown is None or last_shown - x >= span * _DATE_LABEL_SHARE:
            kept.append(day)
            last_shown = x
        else:
            kept.append(None)
    return list(reversed(kept))


def _domain_bars(ax: Axes, domains: Sequence[DomainPair]) -> None:
    _heading(ax, "Each area, 0 to 100: baseline and latest")
    _under(ax, "Risk: lower is better. Resilience: higher is better.")
    if not domains:
        _no_data(ax)
        return
    shown = list(reversed(domains))
    labels = [f"{_role_word(d.role)}:\n{textwrap.shorten(d.domain, 28)}" for d in shown]
    positions = [index * 1.4 for index in range(len(shown))]
    low, high = positions[0] - 0.8, positions[-1] + 0.8
    ax.set_ylim(low, high)
    # Bars as thick lines: two artists in all, where barh would make a patch per bar.
    figure = ax.get_figure(root=True)
    assert figure is not None  # the axes was made on a figure
    inches = figure.get_figheight() * ax.get_position().height
    points_per_unit = inches * 72 / (high - low)
    baseline_at = [p + 0.3 for p in positions]
    baselines = [d.baseline or 0 for d in shown]
    ax.hlines(baseline_at, 0, baselines, color=BASELINE_COLOUR, linewidth=0.2 * points_per_unit)
    ax.plot(baselines, baseline_at, linestyle="", marker="D", color=BASELINE_COLOUR)
    ax.hlines(
        [p - 0.2 for p in positions],
        0,
        [d.latest or 0 for d in shown],
        color=LATEST_COLOUR,
        linewidth=0.5 * points_per_unit,
    )
    # Plain text, not tick labels: ticks cost far more to lay out and draw.
    ax.set_yticks([])
    for position, label in zip(positions, labels, strict=True):
        ax.text(
            -0.02,
            position,
            label,
            ha="right",
            va="center",
            fontsize=FONT_SIZE - 3,
            transform=ax.get_yaxis_transform(),
        )
    ax.set_xlim(0, 100)
    ax.set_xticks((0, 50, 100))
    handles = [
        Line2D([], [], color=BASELINE_COLOUR, marker="D", linewidth=2, label="Baseline"),
        Line2D([], [], color=LATEST_COLOUR, linewidth=7, label="Latest"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=FONT_SIZE - 3, framealpha=0.9)


def _heading(ax: Axes, text: str) -> None:
    """A heading above the axes; set_title would measure the tick labels at every draw."""
    ax.text(0, 1.04, text, transform=ax.transAxes, fontsize=FONT_SIZE, va="bottom")


def _under(ax: Axes, text: str) -> None:
    """A line under the axes' tick labels, at a fixed place (no label positioning)."""
    ax.annotate(
        text,
        (0.5, 0),
        xycoords="axes fraction",
        xytext=(0, -24),
        textcoords="offset points",
        ha="center",
        va="top",
        fontsize=FONT_SIZE - 2,
    )


def _wrap(lines: Sequence[str]) -> str:
    return "\n".join(textwrap.fill(line, 76) for line in lines)


def _footnote(figure: Figure, y: float, text: str) -> None:
    figure.text(_LEFT_IN / WIDTH_IN / 3, y, text, fontsize=FONT_SIZE - 3, va="top", ha="left")


def _synthetic_mark(figure: Figure) -> None:
    figure.text(
        0.98,
        0.995,
        "SYNTHETIC DATA",
        ha="right",
        va="top",
        fontsize=FONT_SIZE - 2,
        fontweight="bold",
        color=RISK_COLOUR,
    )


def _no_data(ax: Axes, message: str = "No scores yet") -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # Unhinted glyphs draw a sixth faster and look the same at this resolution. The setting
    # is process-wide while it lasts: harmless in a drawing worker, which draws one at a time.
    with matplotlib.rc_context({"text.hinting": "no_hinting"}):
        figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs=_PNG_OPTIONS)
    return buffer.getvalue()


def day_number(day: date) -> float:
    """A date as matplotlib's date axis counts: days since its default epoch, 1 January 1970."""
    return float((day - _EPOCH).days)


def _colour(role: SectionRole) -> str:
    return RISK_COLOUR if role is SectionRole.RISK else RESILIENCE_COLOUR


def _marker(role: SectionRole) -> str:
    return "o" if role is SectionRole.RISK else "s"


def _role_word(role: SectionRole) -> str:
    return "Risk" if role is SectionRole.RISK else "Resilience"


def _plain(title: str) -> str:
    """A section title as a chart heading: 'Risk indicators' reads 'Risk'."""
    return title.removesuffix(" indicators")


def _scores_at(
    samples: Sequence[TeamSample], months: int, role: SectionRole
) -> list[tuple[int, float]]:
    """(young person, score) of every sample at `months` that has a score for `role`."""
    found = []
    for sample in samples:
        value = sample.risk if role is SectionRole.RISK else sample.resilience
        if sample.months == months and value is not None:
            found.append((sample.young_person_id, value))
    return found


def _people(values: Sequence[tuple[int, float]]) -> int:
    return len({person for person, _ in values})


def _hidden_months(samples: Sequence[TeamSample], min_group: int) -> list[tuple[int, str]]:
    hidden = []
    for role in (SectionRole.RISK, SectionRole.RESILIENCE):
        for month in sorted({s.months for s in samples}):
            people = _people(_scores_at(samples, month, role))
            if 0 < people < min_group:
                hidden.append((month, role.value))
    return hidden


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    low, mid, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, mid, high


def _event_labels(instrument: Instrument) -> dict[str, str]:
    try:
        item = instrument.item(EVENTS_ITEM)
    except KeyError:
        return {}
    return {option.id: option.label for option in item.options}


def _domains(assessment: ScoredAssessment) -> dict[str, float | None]:
    """Domain scores by name from the stored scores of one assessment."""
    found: dict[str, float | None] = {}
    for section in (assessment.scores or {}).get("sections", []):
        for domain in section.get("domains", []):
            found[domain["name"]] = domain.get("score")
    return found
