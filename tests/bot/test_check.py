"""`apart-bot check` finds each misconfiguration, says how to fix it, and exits non-zero."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from typing import TYPE_CHECKING

import pytest

from bot.check import latest_schema_version
from bot.cli import main
from bot.standin import standin_token
from bot.standin_http import StandInHTTPServer
from bot.store import Store
from tests.support.remote import bot_environment, start_bot

if TYPE_CHECKING:
    from pathlib import Path

TOKEN = standin_token()
KEY = "correct horse battery staple"


async def _migrated(path: Path, key: str | None = None) -> Path:
    store = await Store.open(path, key=key)
    await store.close()
    return path


def _check(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["check"])
    return status, capsys.readouterr().out


class TestCheckOffline:
    """Checks that need no Telegram: the token check meets a closed port on 127.0.0.1."""

    @pytest.fixture(autouse=True)
    def _unreachable_telegram(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9/bot")

    async def test_a_ready_database_passes_and_unreachable_telegram_is_only_a_warning(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("APART_DB_PATH", str(await _migrated(tmp_path / "apart.db")))
        status, out = await asyncio.to_thread(_check, capsys)
        assert status == 0, out
        assert "passes the integrity check" in out
        assert "WARN  Telegram: could not reach http://127.0.0.1:9/bot" in out
        assert "Ready to run." in out

    def test_a_missing_token_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path / "apart.db"))
        status, out = _check(capsys)
        assert status == 1
        assert "FAIL  Telegram: TELEGRAM_BOT_TOKEN is not set" in out

    @pytest.mark.parametrize(
        ("name", "value", "expected"),
        [
            ("TELEGRAM_BOT_TOKEN", "not-a-token", "TELEGRAM_BOT_TOKEN does not look like"),
            ("APART_TIMEZONE", "Mars/Olympus", "APART_TIMEZONE"),
            ("APART_WEBHOOK_URL", "https://bot.example.org/hook", "APART_WEBHOOK_SECRET must be"),
            (
                "APART_WEBHOOK_URL",
                "http://bot.example.org/hook",
                "APART_WEBHOOK_URL is not an https URL",
            ),
            ("APART_LOG_FORMAT", "xml", "APART_LOG_FORMAT"),
            ("APART_INSTRUMENT", "/nowhere/instrument.toml", "APART_INSTRUMENT no file at"),
        ],
    )
    def test_a_malformed_setting_fails_naming_it(
        self,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        name: str,
        value: str,
        expected: str,
    ) -> None:
        monkeypatch.setenv(name, value)
        status, out = _check(capsys)
        assert status == 1
        assert out.startswith("FAIL  Settings: ")
        assert expected in out

    def test_a_reminder_in_quiet_hours_is_told_a_time_that_would_work(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The hint used to suggest 09:00, the very time refused."""
        monkeypatch.setenv("APART_QUIET_HOURS", "00:00-23:59")
        monkeypatch.setenv("APART_REMINDER_TIME", "09:00")
        status, out = _check(capsys)
        assert status == 1
        assert "APART_REMINDER_TIME 09:00 falls in the quiet hours" in out
        assert "put 23:59, the only time outside the quiet hours 00:00-23:59" in out
        assert "narrow APART_QUIET_HOURS so that 09:00 falls outside them" in out
        assert "quiet hours: 09:00" not in out

    def test_a_broken_instrument_file_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        broken = tmp_path / "instrument.toml"
        broken.write_text("id = [unclosed\n", encoding="utf-8")
        monkeypatch.setenv("APART_INSTRUMENT", str(broken))
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path / "apart.db"))
        status, out = _check(capsys)
        assert status == 1
        assert "FAIL  Instrument: instrument.toml: the file is not valid TOML" in out

    def test_a_missing_database_folder_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path / "no-such-folder" / "apart.db"))
        status, out = _check(capsys)
        assert status == 1
        assert "APART_DB_PATH is in a folder that does not exist" in out
        assert "no-such-folder" in out

    def test_a_file_that_is_not_a_database_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        garbage = tmp_path / "apart.db"
        garbage.write_bytes(b"this is not a database at all" * 100)
        monkeypatch.setenv("APART_DB_PATH", str(garbage))
        status, out = _check(capsys)
        assert status == 1
        assert "FAIL  Database:" in out

    def test_a_database_behind_on_migrations_fails_and_names_migrate(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        old = tmp_path / "apart.db"
        with sqlite3.connect(old) as connection:
            connection.execute("CREATE TABLE placeholder (id INTEGER)")
            connection.execute("PRAGMA user_version = 1")
        connection.close()
        monkeypatch.setenv("APART_DB_PATH", str(old))
        assert latest_schema_version() > 1
        status, out = _check(capsys)
        assert status == 1
        assert "is at schema version 1 but this bot needs" in out
        assert "run `apart-bot migrate`" in out

    def test_a_database_from_a_newer_bot_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        newer = tmp_path / "apart.db"
        with sqlite3.connect(newer) as connection:
            connection.execute(f"PRAGMA user_version = {latest_schema_version() + 1}")
        connection.close()
        monkeypatch.setenv("APART_DB_PATH", str(newer))
        status, out = _check(capsys)
        assert status == 1
        assert "newer than this bot knows" in out

    def test_a_key_set_for_a_plain_database_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        plain = asyncio.run(_migrated(tmp_path / "apart.db"))
        monkeypatch.setenv("APART_DB_PATH", str(plain))
        monkeypatch.setenv("APART_DB_KEY", KEY)
        status, out = _check(capsys)
        assert status == 1
        assert "plain, unencrypted database but APART_DB_KEY is set" in out

    @pytest.mark.parametrize(
        "key", ["a-different-passphrase-entirely", None], ids=["wrong", "none"]
    )
    def test_an_encrypted_database_without_its_key_fails(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        key: str | None,
    ) -> None:
        encrypted = asyncio.run(_migrated(tmp_path / "apart.db", key=KEY))
        monkeypatch.setenv("APART_DB_PATH", str(encrypted))
        if key is not None:
            monkeypatch.setenv("APART_DB_KEY", key)
        status, out = _check(capsys)
        assert status == 1
        assert "FAIL  Database:" in out
        assert "APART_DB_KEY" in out

    def test_an_encrypted_database_with_its_key_passes_without_the_warning(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        encrypted = asyncio.run(_migrated(tmp_path / "apart.db", key=KEY))
        monkeypatch.setenv("APART_DB_PATH", str(encrypted))
        monkeypatch.setenv("APART_DB_KEY", KEY)
        status, out = _check(capsys)
        assert status == 0, out
        assert "passes the integrity check" in out
        assert "not encrypted" not in out

    def test_a_database_that_fails_the_integrity_check_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        damaged = asyncio.run(_migrated(tmp_path / "apart.db"))
        with sqlite3.connect(damaged) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.execute("PRAGMA journal_mode = DELETE")
        connection.close()
        data = bytearray(damaged.read_bytes())
        # Give the second page (the first table's b-tree) a page type that does not exist.
        page_size = int.from_bytes(data[16:18], "big")
        data[page_size] = 0x00
        damaged.write_bytes(bytes(data))
        monkeypatch.setenv("APART_DB_PATH", str(damaged))
        status, out = _check(capsys)
        assert status == 1
        assert "FAIL  Database:" in out

    def test_a_webhook_port_in_use_is_a_warning_as_the_bot_may_hold_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with socket.create_server(("127.0.0.1", 0)) as taken:
            self._webhook(monkeypatch, tmp_path, "127.0.0.1", taken.getsockname()[1])
            status, out = _check(capsys)
        assert "WARN  Updates: 127.0.0.1:" in out
        assert "is in use. If the bot is running, that is it" in out
        assert status == 0

    def test_a_webhook_address_not_on_this_server_fails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # 192.0.2.1 is reserved for documentation: no server has it.
        self._webhook(monkeypatch, tmp_path, "192.0.2.1", 8443)
        status, out = _check(capsys)
        assert status == 1
        assert "FAIL  Updates: the webhook server cannot listen on 192.0.2.1:8443" in out

    def _webhook(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, listen: str, port: int
    ) -> None:
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path / "apart.db"))
        monkeypatch.setenv("APART_WEBHOOK_URL", "https://bot.example.org/hook")
        monkeypatch.setenv("APART_WEBHOOK_SECRET", "a-long-enough-secret-0123")
        monkeypatch.setenv("APART_WEBHOOK_LISTEN", listen)
        monkeypatch.setenv("APART_WEBHOOK_PORT", str(port))


class TestCheckAgainstTelegram:
    """The token check against the stand-in served over HTTP on 127.0.0.1."""

    async def test_a_working_token_passes(self, tmp_path: Path) -> None:
        db_path = await _migrated(tmp_path / "apart.db")
        async with StandInHTTPServer() as server:
            process = await start_bot(bot_environment(server, db_path), "check")
            out, err = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, err.decode()
        assert "ok    Telegram: the token works for @apart_demo_bot" in out.decode()

    async def test_a_refused_token_fails(self, tmp_path: Path) -> None:
        db_path = await _migrated(tmp_path / "apart.db")
        async with StandInHTTPServer(token="123456789:another-token-that-is-not-ours") as server:
            process = await start_bot(bot_environment(server, db_path), "check")
            out, _ = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 1
        assert "FAIL  Telegram: Telegram refused TELEGRAM_BOT_TOKEN" in out.decode()
