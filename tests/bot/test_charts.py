"""Charts decoded back from their PNG bytes."""

from __future__ import annotations

import io
from datetime import date

import matplotlib.image
import matplotlib.pyplot as plt

from apart_engine import default_instrument
from bot import charts


def _decode(png: bytes) -> tuple[int, int]:
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    height, width = pixels.shape[:2]
    return width, height


def test_a_case_chart_is_a_phone_width_png_and_leaves_no_figure_open() -> None:
    instrument = default_instrument()
    points = [
        charts.CasePoint(date(2026, 1, 12), "baseline", 62.5, 18.2, ()),
        charts.CasePoint(date(2026, 4, 10), "review", 54.2, 30.3, ("missing episode",)),
    ]
    domains = [
        charts.DomainPair(section.role, domain, 50.0, 40.0)
        for section in instrument.scored_sections
        for domain in section.domains
    ]

    png = charts.case_chart(instrument, "YP-A1", points, domains)

    width, height = _decode(png)
    assert width == charts.WIDTH_IN * charts.DPI
    assert height > width
    assert plt.get_fignums() == []


def test_a_team_chart_with_no_assessments_still_draws() -> None:
    png = charts.team_chart(default_instrument(), "North team", [])
    assert _decode(png)[0] == charts.WIDTH_IN * charts.DPI
    assert plt.get_fignums() == []


def test_a_team_chart_draws_the_spread_by_months_since_baseline() -> None:
    samples = [
        charts.TeamSample(0, 60.0, 20.0),
        charts.TeamSample(0, 40.0, 30.0),
        charts.TeamSample(3, 30.0, 50.0),
    ]
    history_png = charts.team_chart(default_instrument(), "North team", samples)
    assert history_png.startswith(b"\x89PNG")
    assert plt.get_fignums() == []


async def test_charts_are_drawn_off_the_event_loop() -> None:
    """`render` runs in a worker thread: the loop stays free while a chart draws."""
    import asyncio
    import threading

    loop_thread = threading.get_ident()
    seen: list[int] = []

    def draw() -> bytes:
        seen.append(threading.get_ident())
        return b"png"

    assert await charts.render(draw) == b"png"
    assert seen
    assert seen[0] != loop_thread
    await asyncio.sleep(0)
