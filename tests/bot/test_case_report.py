"""The case PDF reads on its own: bands behind the scores, synthetic cases marked, and
change columns that say which way is better."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pypdf import PdfReader

from apart_engine import AssessmentKind
from bot.reports import write_case_report
from bot.runtime import open_services
from bot.store import Role
from tests.support.seed import submit

if TYPE_CHECKING:
    from pathlib import Path

    from bot.config import Settings


async def _report(settings: Settings, tmp_path: Path, reference: str) -> list[str]:
    async with open_services(settings) as services:
        team = await services.store.add_team("North team")
        staff = await services.store.enrol(4201, team, Role.PRACTITIONER)
        case = await services.store.add_young_person(reference, staff)
        await submit(services.store, case, staff, AssessmentKind.BASELINE, date(2026, 6, 1), 2)
        await submit(services.store, case, staff, AssessmentKind.REVIEW, date(2026, 9, 1), 1)
        result = await write_case_report(services, tmp_path / "case.pdf", reference=reference)
    return [" ".join(page.extract_text().split()) for page in PdfReader(result.path).pages]


async def test_page_one_shades_the_bands_and_marks_a_synthetic_case(
    settings: Settings, tmp_path: Path
) -> None:
    first, _ = await _report(settings, tmp_path, "SYN-0042")

    assert "SYNTHETIC DATA" in first
    for band in ("High", "Medium", "Low", "Strong", "Developing"):
        assert band in first
    assert "lower is better" in first


async def test_a_real_case_carries_no_synthetic_mark(settings: Settings, tmp_path: Path) -> None:
    first, _ = await _report(settings, tmp_path, "YP-C1")

    assert "SYNTHETIC" not in first


async def test_page_two_says_a_fall_in_risk_is_better(settings: Settings, tmp_path: Path) -> None:
    _, second = await _report(settings, tmp_path, "YP-C1")

    assert "for risk lower is better" in second
    assert "Change (better or worse)" in second
    assert "(better)" in second
    assert "(worse)" in second
