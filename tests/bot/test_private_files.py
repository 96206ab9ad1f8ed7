"""Every file the tool writes with case data is created readable by its owner only."""

from __future__ import annotations

import os
import stat
from datetime import date
from typing import TYPE_CHECKING

import pytest

from apart_engine import AssessmentKind
from bot.admin_cli import write_export
from bot.encryption import backup
from bot.export import export_to
from bot.reports import write_case_report, write_team_report
from bot.runtime import open_services
from bot.store import Role
from tests.support.seed import submit

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from bot.config import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A common umask, under which a file made the ordinary way would be 0644."""
    before = os.umask(0o022)
    yield
    os.umask(before)


async def test_the_database_and_its_wal_and_shm_are_created_0600(settings: Settings) -> None:
    async with open_services(settings) as services:
        await services.store.add_team("North team")
        wal = settings.db_path.with_name(settings.db_path.name + "-wal")
        shm = settings.db_path.with_name(settings.db_path.name + "-shm")
        assert [_mode(p) for p in (settings.db_path, wal, shm)] == [0o600] * 3


async def test_exports_reports_and_backups_are_0600(settings: Settings, tmp_path: Path) -> None:
    async with open_services(settings) as services:
        team = await services.store.add_team("North team")
        practitioner = await services.store.enrol(4001, team, Role.PRACTITIONER)
        case = await services.store.add_young_person("YP-F1", practitioner)
        await submit(
            services.store, case, practitioner, AssessmentKind.BASELINE, date(2026, 9, 1), 2
        )
        written = [
            *(await export_to(services, "csv", tmp_path / "all.csv"))[0],
            *(await export_to(services, "xlsx", tmp_path / "all.xlsx"))[0],
            (await write_team_report(services, tmp_path / "team.pdf", team=None)).path,
            (await write_case_report(services, tmp_path / "case.pdf", reference="YP-F1")).path,
        ]
    backup(settings.db_path, tmp_path / "copy.db", None)
    written.append(tmp_path / "copy.db")
    record = {"young_person": {"reference": "YP-F1"}, "assessments": []}
    written += write_export(record, tmp_path / "sar")

    assert len(written) == 8
    assert {path.name: _mode(path) for path in written} == {p.name: 0o600 for p in written}
