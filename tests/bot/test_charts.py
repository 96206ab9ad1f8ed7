"""Charts decoded back from their PNG bytes."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import date
from typing import TYPE_CHECKING

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np

from apart_engine import default_instrument
from bot import charts

if TYPE_CHECKING:
    import pytest
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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
        charts.TeamSample(0, 60.0, 20.0, 1),
        charts.TeamSample(0, 40.0, 30.0, 2),
        charts.TeamSample(3, 30.0, 50.0, 1),
    ]
    history_png = charts.team_chart(default_instrument(), "North team", samples)
    assert history_png.startswith(b"\x89PNG")
    assert plt.get_fignums() == []


class TestTeamPrivacy:
    """A team chart hides groups below the analysis's minimum, as the PDF report does."""

    def _drawn(self, monkeypatch: pytest.MonkeyPatch, samples: list[charts.TeamSample]) -> Drawn:
        drawn = Drawn()
        monkeypatch.setattr(charts, "_png", drawn.capture)
        charts.team_chart(default_instrument(), "North team", samples)
        return drawn

    def test_a_group_of_one_young_person_is_hidden_and_the_chart_says_so(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        samples = [charts.TeamSample(0, 40.0 + n, 50.0, n) for n in range(6)]
        samples.append(charts.TeamSample(12, 10.0, 90.0, 0))

        drawn = self._drawn(monkeypatch, samples)

        assert drawn.plotted_x() == [[0.0], [0.0]]
        assert "<5" in drawn.texts
        assert any("fewer than 5 young people" in t for t in drawn.texts)

    def test_one_young_person_assessed_twice_is_still_a_group_of_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        samples = [charts.TeamSample(3, 40.0 + n, 50.0, 7) for n in range(6)]

        drawn = self._drawn(monkeypatch, samples)

        assert drawn.plotted_x() == []
        assert any("fewer than 5" in t for t in drawn.texts)

    def test_the_legend_tells_the_spread_from_the_band_shading(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        samples = [charts.TeamSample(0, 40.0 + n, 50.0, n) for n in range(6)]

        drawn = self._drawn(monkeypatch, samples)

        assert "Middle half" in drawn.legend
        assert not any(t.startswith("Shaded") for t in drawn.texts)
        assert any("Grey background: the score bands" in t for t in drawn.texts)


class TestCaseReadability:
    def _drawn(
        self, monkeypatch: pytest.MonkeyPatch, reference: str, points: list[charts.CasePoint]
    ) -> Drawn:
        drawn = Drawn()
        monkeypatch.setattr(charts, "_png", drawn.capture)
        charts.case_chart(default_instrument(), reference, points, [])
        return drawn

    def test_close_dates_do_not_overlap_and_a_single_baseline_shows_its_own_date(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        close = [
            charts.CasePoint(date(2026, 1, 12), "baseline", 62.5, 18.2, ()),
            charts.CasePoint(date(2026, 4, 17), "review", 57.1, 30.3, ()),
            charts.CasePoint(date(2026, 4, 22), "review", 51.5, 33.0, ()),
        ]
        labels = self._drawn(monkeypatch, "YP-A1", close).tick_labels()
        assert [label for label in labels if label] == ["12 Jan 2026", "22 Apr"]

        single = [charts.CasePoint(date(2026, 1, 12), "baseline", 62.5, 18.2, ())]
        labels = self._drawn(monkeypatch, "YP-A1", single).tick_labels()
        assert labels == ["12 Jan 2026"]

    def test_value_labels_of_close_points_go_either_side(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        points = [
            charts.CasePoint(date(2026, 1, 12), "baseline", 62.5, 18.2, ()),
            charts.CasePoint(date(2026, 4, 17), "review", 57.1, 30.3, ()),
            charts.CasePoint(date(2026, 4, 22), "review", 51.5, 33.0, ()),
        ]
        drawn = self._drawn(monkeypatch, "YP-A1", points)
        offsets = drawn.value_offsets()
        assert offsets["57.1"] > 0 > offsets["51.5"]
        assert offsets["33.0"] > 0 > offsets["30.3"]

    def test_a_synthetic_case_is_labelled_synthetic(self, monkeypatch: pytest.MonkeyPatch) -> None:
        point = [charts.CasePoint(date(2026, 1, 12), "baseline", 62.5, 18.2, ())]
        assert "SYNTHETIC DATA" in self._drawn(monkeypatch, "SYN-0001", point).texts
        assert "SYNTHETIC DATA" not in self._drawn(monkeypatch, "YP-A1", point).texts


class Drawn:
    """The artists of a chart, captured instead of rendered to PNG."""

    def __init__(self) -> None:
        self.figure: Figure | None = None

    def capture(self, figure: Figure) -> bytes:
        self.figure = figure
        return b""

    @property
    def _axes(self) -> list[Axes]:
        assert self.figure is not None
        return list(self.figure.axes)

    @property
    def texts(self) -> list[str]:
        assert self.figure is not None
        found = [t.get_text() for t in self.figure.texts]
        found += [t.get_text() for ax in self._axes for t in ax.texts]
        return found

    @property
    def legend(self) -> list[str]:
        legends = [ax.get_legend() for ax in self._axes]
        return [t.get_text() for legend in legends if legend for t in legend.get_texts()]

    def plotted_x(self) -> list[list[float]]:
        return [
            np.asarray(line.get_xdata(), dtype=float).tolist()
            for ax in self._axes
            for line in ax.lines
            if line.get_marker() in ("o", "s")
        ]

    def tick_labels(self) -> list[str]:
        return [label.get_text() for label in self._axes[0].get_xticklabels()]

    def value_offsets(self) -> dict[str, float]:
        return {
            t.get_text(): t.xyann[1]
            for ax in self._axes[:2]
            for t in ax.texts
            if hasattr(t, "xyann")
        }


async def test_charts_are_drawn_in_another_process_and_the_loop_stays_free() -> None:
    """The drawer's workers are processes: matplotlib never holds the loop's interpreter lock."""
    drawer = charts.ChartDrawer(processes=1)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        png = await drawer.draw(charts.team_chart, default_instrument(), "North team", [])
        pid = await drawer.draw(_pid)
    finally:
        ticker.cancel()
        await drawer.aclose()

    assert png.startswith(b"\x89PNG")
    assert int(pid) != os.getpid()
    assert ticks > 0


def _pid() -> bytes:
    return str(os.getpid()).encode()
