"""The synthetic cohort: labelled, plausible, reproducible, and showing the pilot's findings."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from apart_engine.analysis import analyse
from apart_engine.instrument import default_instrument
from apart_engine.schedule import met_slot
from bot.cli import main
from bot.clock import FixedClock
from bot.export import records_from_rows
from bot.seed import SeedError, seed_cohort
from bot.store import Store

if TYPE_CHECKING:
    from pathlib import Path

UNTIL = date(2026, 12, 1)


async def _seed(path: Path, seed: int = 2041, young_people: int = 52) -> Store:
    store = await Store.open(path, clock=FixedClock(datetime(2026, 12, 1, 12, tzinfo=UTC)))
    await seed_cohort(
        store, default_instrument(), young_people=young_people, seed=seed, until=UNTIL
    )
    return store


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return list(connection.iterdump())


class TestReproducible:
    async def test_the_same_seed_writes_the_same_database(self, tmp_path: Path) -> None:
        for name in ("one.db", "two.db"):
            await (await _seed(tmp_path / name)).close()
        assert _dump(tmp_path / "one.db") == _dump(tmp_path / "two.db")

    async def test_another_seed_writes_another_cohort(self, tmp_path: Path) -> None:
        await (await _seed(tmp_path / "one.db", seed=1)).close()
        await (await _seed(tmp_path / "two.db", seed=2)).close()
        assert _dump(tmp_path / "one.db") != _dump(tmp_path / "two.db")

    async def test_a_database_with_cases_is_refused(self, tmp_path: Path) -> None:
        store = await _seed(tmp_path / "apart.db", young_people=2)
        try:
            with pytest.raises(SeedError, match="new file"):
                await seed_cohort(store, default_instrument(), until=UNTIL)
        finally:
            await store.close()


class TestShape:
    @pytest.fixture
    async def rows(self, tmp_path: Path) -> list[sqlite3.Row]:
        """Every submitted assessment of the default cohort, with its case and team."""
        await (await _seed(tmp_path / "apart.db")).close()
        with sqlite3.connect(tmp_path / "apart.db") as connection:
            connection.row_factory = sqlite3.Row
            return list(
                connection.execute(
                    "SELECT a.*, yp.reference, t.name AS team FROM assessments a"
                    " JOIN young_people yp ON yp.id = a.young_person_id"
                    " JOIN teams t ON t.id = yp.team_id ORDER BY yp.reference, a.assessed_on"
                )
            )

    def test_it_is_about_the_size_of_the_pilot_over_a_year(self, rows: list[sqlite3.Row]) -> None:
        assert 140 <= len(rows) <= 185
        days = [date.fromisoformat(r["assessed_on"]) for r in rows]
        assert (UNTIL - min(days)).days <= 366
        assert max(days) <= UNTIL

    def test_it_is_labelled_synthetic_everywhere(self, rows: list[sqlite3.Row]) -> None:
        assert all(re.fullmatch(r"SYN-\d{4}", r["reference"]) for r in rows)
        assert {r["team"] for r in rows} == {"Synthetic North team", "Synthetic South team"}

    def test_baselines_fall_in_every_risk_band(self, rows: list[sqlite3.Row]) -> None:
        bands = Counter(r["risk_band"] for r in rows if r["kind"] == "baseline")
        assert set(bands) == {"Low", "Medium", "High"}
        assert min(bands.values()) >= 5

    def test_some_close_some_drop_out_and_some_have_early_reviews(
        self, rows: list[sqlite3.Row]
    ) -> None:
        timing = default_instrument().timing
        by_case: dict[str, list[sqlite3.Row]] = {}
        for row in rows:
            by_case.setdefault(row["reference"], []).append(row)
        closed = [c for c in by_case.values() if c[-1]["kind"] == "closure"]
        dropped = [
            c
            for c in by_case.values()
            if c[-1]["kind"] != "closure"
            and (UNTIL - date.fromisoformat(c[-1]["assessed_on"])).days > 120
        ]
        early = 0
        for case in by_case.values():
            baseline = date.fromisoformat(case[0]["assessed_on"])
            reviews = [date.fromisoformat(r["assessed_on"]) for r in case[1:]]
            early += sum(
                met_slot(baseline, reviews[:i], day, timing) is None
                for i, day in enumerate(reviews)
            )
        assert closed
        assert dropped
        assert early

    def test_each_is_started_and_submitted_on_its_own_date_in_the_afternoon(
        self, rows: list[sqlite3.Row]
    ) -> None:
        """A digest counts seeded assessments in the week they were done, not the seeding day."""
        local = ZoneInfo("Europe/London")
        for row in rows:
            started = datetime.fromisoformat(row["started_at"]).astimezone(local)
            submitted = datetime.fromisoformat(row["submitted_at"]).astimezone(local)
            assert submitted.date().isoformat() == row["assessed_on"]
            assert started.date().isoformat() == row["assessed_on"]
            assert 12 <= started.hour < submitted.hour + 1 <= 18
            assert started <= submitted  # one done on the seeding day stops at its noon
        stamped = {r["submitted_at"][:10] for r in rows}
        assert len(stamped) > 100

    async def test_answers_include_unknowns_and_significant_events(self, tmp_path: Path) -> None:
        await (await _seed(tmp_path / "apart.db")).close()
        with sqlite3.connect(tmp_path / "apart.db") as connection:
            unknown = connection.execute(
                "SELECT count(*) FROM answers WHERE value = 'null'"
            ).fetchone()[0]
            events = connection.execute(
                "SELECT count(*) FROM answers WHERE item_id = 'events' AND value != '[\"none\"]'"
            ).fetchone()[0]
        assert unknown > 20
        assert events > 5


class TestPilotFindings:
    async def test_the_cohort_improves_by_nine_to_twelve_months_and_high_risk_fastest(
        self, tmp_path: Path
    ) -> None:
        instrument = default_instrument()
        store = await _seed(tmp_path / "apart.db")
        try:
            rows = await store.analysis_rows(None, purpose="test")
        finally:
            await store.close()
        result = analyse(instrument, records_from_rows(instrument, rows))

        risk, resilience = result.row("risk", "9-12").stats, result.row("resilience", "9-12").stats
        assert risk.shown
        assert resilience.shown
        assert risk.ci_high is not None
        assert risk.ci_high < 0
        assert resilience.ci_low is not None
        assert resilience.ci_low > 0
        latest = {r.baseline_band: r.stats.mean for r in result.latest if r.section_id == "risk"}
        high, medium, low = latest["High"], latest["Medium"], latest["Low"]
        assert high is not None
        assert medium is not None
        assert low is not None
        assert high < min(medium, low)

    def test_seed_demo_then_report_states_both_findings(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The commands a demo runs, end to end; the PDF's own words carry the findings."""
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path / "apart.db"))
        pdf = tmp_path / "report.pdf"
        assert main(["seed-demo", "--until", UNTIL.isoformat()]) == 0
        assert main(["report", "--to", UNTIL.isoformat(), "--out", str(pdf)]) == 0

        out = capsys.readouterr()
        assert out.out.splitlines()[-1] == f"Wrote {pdf} (8 pages, 52 young people)."
        assert "synthetic young people" in out.err
        summary = PdfReader(pdf).pages[0].extract_text()
        flat = " ".join(summary.split())
        assert "Risk after 9 to 12 months of support: fell by" in flat
        assert "Resilience after 9 to 12 months of support: rose by" in flat
        falls = {
            band: float(points)
            for band, points in re.findall(
                r"(Low|Medium|High) risk at baseline, change to latest review: fell by "
                r"([\d.]+) points",
                flat,
            )
        }
        assert falls["High"] > max(falls.get("Medium", 0), falls.get("Low", 0))
        assert "regression to the mean" in flat


def _reports_in(folder: Path) -> list[Path]:
    return list(folder.glob("*apart-synthetic-north-team-*.pdf"))


class TestDemo:
    async def test_the_demo_with_a_cohort_hands_the_lead_a_report(self, tmp_path: Path) -> None:
        from io import StringIO

        from bot.config import load_settings
        from bot.demo import run_demo, shipped_script

        out = StringIO()
        settings = load_settings(APART_DB_PATH=tmp_path / "demo.db")
        status = await run_demo(
            settings,
            script=shipped_script(),
            interactive=False,
            cohort=True,
            showcase=True,
            out=out,
        )

        assert status == 0, out.getvalue()
        reports = _reports_in(tmp_path)
        assert len(reports) == 1
        assert "Team: Synthetic North team" in PdfReader(reports[0]).pages[0].extract_text()
        assert "SYN-0" in out.getvalue()
