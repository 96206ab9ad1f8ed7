"""Progress charts as PNG bytes: one case over time, and a team since baseline.

Charts are drawn on the non-interactive Agg backend with `Figure` objects that pyplot never
sees, so no figure outlives its call and a worker thread can draw while the event loop keeps
answering taps: callers use `render` to run a chart function off the loop. Sizes and type are
chosen for a phone held upright; colours are the Okabe-Ito palette, which stays apart for
the common kinds of colour blindness, and every series also differs in marker and line.
Charts carry the case reference or the team's name, never anything else that identifies.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import textwrap
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg", force=True)

from matplotlib import dates as mdates
from matplotlib.figure import Figure

from apart_engine.instrument import SectionRole

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from matplotlib.axes import Axes

    from apart_engine.instrument import Instrument, Section
    from bot.store import ScoredAssessment

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
_DAYS_PER_MONTH = 365.25 / 12
_EPOCH = date(1970, 1, 1)


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


async def render(chart: Callable[..., bytes], *args: Any) -> bytes:
    """Draw a chart in a worker thread, so the bot keeps answering while it draws."""
    return await asyncio.to_thread(chart, *args)


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
    notes = [f"Case {reference}.", *_event_notes(points)]
    figure = Figure(figsize=(WIDTH_IN, 13), dpi=DPI, layout="constrained")
    risk_ax, resilience_ax, domain_ax, note_ax = figure.subplots(
        4, 1, height_ratios=[2.5, 2.5, 4.6, 0.25 + 0.2 * len(notes)]
    )
    figure.suptitle(f"{reference}: progress", fontsize=FONT_SIZE + 3, fontweight="bold")

    days = [_num(p.day) for p in points]
    for ax, role in ((risk_ax, SectionRole.RISK), (resilience_ax, SectionRole.RESILIENCE)):
        section = instrument.section(role)
        _shade_bands(ax, section)
        values = [p.risk if role is SectionRole.RISK else p.resilience for p in points]
        _plot_series(ax, days, values, role)
        _mark_events(ax, points)
        ax.set_title(f"{_plain(section.title)} score over time", loc="left")
        ax.set_ylabel("Score (0 to 100)")
        _date_axis(ax, [p.day for p in points])

    _domain_bars(domain_ax, domains)
    _footnote(note_ax, instrument, notes)
    return _png(figure)


def team_chart(instrument: Instrument, team: str, samples: Sequence[TeamSample]) -> bytes:
    """Median and middle half of the team's scores, by months since each case's baseline."""
    figure = Figure(figsize=(WIDTH_IN, 9.5), dpi=DPI, layout="constrained")
    risk_ax, resilience_ax, note_ax = figure.subplots(3, 1, height_ratios=[3, 3, 0.7])
    figure.suptitle(f"{team}: scores since baseline", fontsize=FONT_SIZE + 3, fontweight="bold")

    months = sorted({s.months for s in samples})
    for ax, role in ((risk_ax, SectionRole.RISK), (resilience_ax, SectionRole.RESILIENCE)):
        section = instrument.section(role)
        _shade_bands(ax, section)
        rows = [(m, _scores_at(samples, m, role)) for m in months]
        rows = [(m, values) for m, values in rows if values]
        if rows:
            _plot_spread(ax, rows, role)
        else:
            _no_data(ax)
        ax.set_title(f"{_plain(section.title)}: median and middle half", loc="left")
        ax.set_ylabel("Score (0 to 100)")
        ax.set_xlabel("Months since baseline")

    _footnote(
        note_ax,
        instrument,
        [
            "Line: the middle (median) case. Shaded: the middle half of cases. "
            "Figures along the bottom: how many assessments.",
        ],
    )
    return _png(figure)


# Drawing helpers


def _shade_bands(ax: Axes, section: Section) -> None:
    ax.set_ylim(0, 100)
    for index, band in enumerate(section.bands):
        top = 100 if band.below is None else band.below
        ax.axhspan(band.min, top, color=BAND_SHADES[index % len(BAND_SHADES)], zorder=0)
        ax.text(
            1.01,
            (band.min + top) / 2,
            band.name,
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=FONT_SIZE - 1,
        )


def _plot_series(
    ax: Axes, days: list[float], values: list[float | None], role: SectionRole
) -> None:
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
    for x, y in shown:
        ax.annotate(
            f"{y:.1f}",
            (x, y),
            textcoords="offset points",
            xytext=(0, 9),
            ha="center",
            fontsize=FONT_SIZE - 2,
            zorder=4,
        )


def _plot_spread(ax: Axes, rows: list[tuple[int, list[float]]], role: SectionRole) -> None:
    xs = [m for m, _ in rows]
    low, mid, high = zip(*(_quartiles(values) for _, values in rows), strict=True)
    ax.fill_between(xs, low, high, color=_colour(role), alpha=0.25, linewidth=0, zorder=2)
    ax.plot(xs, mid, color=_colour(role), marker=_marker(role), linewidth=2.5, markersize=7)
    for x, (_, values) in zip(xs, rows, strict=True):
        ax.text(x, 3, str(len(values)), ha="center", fontsize=FONT_SIZE - 2, color=EVENT_COLOUR)
    ax.set_xticks(xs)
    ax.set_xlim(min(xs) - 1, max(xs) + 1)


def _mark_events(ax: Axes, points: Sequence[CasePoint]) -> None:
    number = 0
    for point in points:
        if not point.events:
            continue
        number += 1
        x = _num(point.day)
        ax.axvline(x, color=EVENT_COLOUR, linestyle=":", linewidth=1.2, zorder=1)
        ax.text(
            x,
            4,
            str(number),
            ha="center",
            va="bottom",
            fontsize=FONT_SIZE - 3,
            fontweight="bold",
            color=EVENT_COLOUR,
            bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": EVENT_COLOUR},
            zorder=5,
        )


def _event_notes(points: Sequence[CasePoint]) -> list[str]:
    notes: list[str] = []
    for point in (p for p in points if p.events):
        notes.append(f"{len(notes) + 1}: {point.day:%-d %b %Y}, {', '.join(point.events)}.")
    if notes:
        notes.insert(0, "Dotted lines, numbered: significant events recorded at that assessment.")
    return notes


def _date_axis(ax: Axes, days: Sequence[date]) -> None:
    if days:
        first, last = min(days), max(days)
        pad = max(timedelta(days=20), (last - first) / 12)
        ax.set_xlim(_num(first - pad), _num(last + pad))
    # matplotlib.dates ships without type hints.
    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    )


def _domain_bars(ax: Axes, domains: Sequence[DomainPair]) -> None:
    ax.set_title("Each area: baseline and latest", loc="left")
    if not domains:
        _no_data(ax)
        return
    shown = list(reversed(domains))
    labels = [f"{_role_word(d.role)}:\n{textwrap.fill(d.domain, 20)}" for d in shown]
    positions = [index * 1.4 for index in range(len(shown))]
    height = 0.5
    ax.barh(
        [p + height / 2 for p in positions],
        [d.baseline or 0 for d in shown],
        height,
        color=BASELINE_COLOUR,
        hatch="//",
        edgecolor="white",
        label="Baseline",
    )
    ax.barh(
        [p - height / 2 for p in positions],
        [d.latest or 0 for d in shown],
        height,
        color=LATEST_COLOUR,
        label="Latest",
    )
    ax.set_yticks(positions, labels, fontsize=FONT_SIZE - 2)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Score (0 to 100). Risk: lower is better. Resilience: higher is better.")
    ax.legend(loc="lower right", fontsize=FONT_SIZE - 2, framealpha=0.9)


def _footnote(ax: Axes, instrument: Instrument, lines: Sequence[str]) -> None:
    text = [f"{instrument.title}, version {instrument.version}.", *lines]
    wrapped = "\n".join(textwrap.fill(line, 72) for line in text)
    ax.axis("off")
    ax.text(0, 1, wrapped, fontsize=FONT_SIZE - 3, va="top", ha="left", transform=ax.transAxes)


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "No scores yet", transform=ax.transAxes, ha="center", va="center")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _num(day: date) -> float:
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


def _scores_at(samples: Sequence[TeamSample], months: int, role: SectionRole) -> list[float]:
    values = (
        s.risk if role is SectionRole.RISK else s.resilience for s in samples if s.months == months
    )
    return [v for v in values if v is not None]


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
