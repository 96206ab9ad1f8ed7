"""/report in the chat: a lead receives the team's PDF; nobody else gets case data from it."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import TYPE_CHECKING

import pytest
from pypdf import PdfReader

from apart_engine.instrument import AssessmentKind
from apart_engine.scoring import score_assessment
from bot.seed import scores_record
from tests.conftest import LEAD_ID, OTHER_PRACTITIONER_ID, PRACTITIONER_ID

if TYPE_CHECKING:
    from bot.harness import ChatClient
    from bot.runtime import StandInBot
    from bot.store import Staff


async def _assess(running: StandInBot, staff: Staff, reference: str, ratings: list[int]) -> None:
    """A case with a baseline and reviews, every risk item at the rating given for each."""
    services = running.services
    instrument = services.instrument
    case = await services.store.add_young_person(reference, staff)
    days = [date(2026, 1, 5), date(2026, 4, 5), date(2026, 7, 5), date(2026, 10, 5)]
    for number, (day, rating) in enumerate(zip(days, ratings, strict=False)):
        answers = {item.id: rating for item in instrument.section_by_id("risk").items}
        answers |= {item.id: 3 - rating for item in instrument.section_by_id("resilience").items}
        scores = score_assessment(instrument, answers)
        await services.store.add_submitted_assessment(
            case,
            staff,
            kind=AssessmentKind.BASELINE if number == 0 else AssessmentKind.REVIEW,
            assessed_on=day,
            instrument_id=instrument.id,
            instrument_version=instrument.version,
            answers=dict(answers),
            scores=scores_record(instrument, scores),
            risk=(scores.risk.score, scores.risk.band),
            resilience=(scores.resilience.score, scores.resilience.band),
        )


@pytest.fixture
async def team_cases(running: StandInBot) -> None:
    """Six North cases and one South case, each with a year of assessments."""
    store = running.services.store
    north = await store.staff_by_telegram_id(PRACTITIONER_ID)
    south = await store.staff_by_telegram_id(OTHER_PRACTITIONER_ID)
    assert north is not None
    assert south is not None
    for number in range(6):
        await _assess(running, north, f"YP-N{number}", [3, 2, 2, 1])
    await _assess(running, south, "YP-S1", [2, 2, 1, 1])


def _document(client: ChatClient) -> bytes:
    documents = [m.document for m in client.bot_messages if m.document is not None]
    assert len(documents) == 1
    return documents[0].content


@pytest.mark.usefixtures("team_cases")
class TestReport:
    async def test_a_lead_receives_the_team_report_as_a_pdf(self, running: StandInBot) -> None:
        lead = running.client(LEAD_ID, "Jo")
        await lead.send("/report")

        pdf = _document(lead)
        pages = [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]
        assert pdf.startswith(b"%PDF")
        assert "Team: North team" in " ".join(pages[0].split())
        assert "6 young people had a baseline assessment" in " ".join(pages[0].split())
        assert lead.bot_messages[-1].document is not None
        assert lead.bot_messages[-1].document.filename.startswith("apart-north-team-")

    async def test_a_lead_can_ask_for_one_case_of_the_team(self, running: StandInBot) -> None:
        lead = running.client(LEAD_ID, "Jo")
        await lead.send("/report YP-N2")

        pages = PdfReader(BytesIO(_document(lead))).pages
        assert "Case progress: YP-N2" in pages[0].extract_text()

    async def test_a_case_of_another_team_is_not_found(self, running: StandInBot) -> None:
        lead = running.client(LEAD_ID, "Jo")
        await lead.send("/report YP-S1")

        assert not [m for m in lead.bot_messages if m.document is not None]
        assert "There is no submitted assessment for YP-S1" in (lead.last_bot_message.text or "")

    async def test_a_practitioner_is_told_reports_are_for_leads(
        self, practitioner: ChatClient
    ) -> None:
        await practitioner.send("/report")

        assert not [m for m in practitioner.bot_messages if m.document is not None]
        assert "Reports are for team leads" in (practitioner.last_bot_message.text or "")
