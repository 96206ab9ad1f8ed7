"""`apart-bot run` as a process: loud without a key, encrypted with one, stopped by a wrong one."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from bot.runtime import NO_KEY_WARNING
from bot.standin_http import StandInHTTPServer
from bot.store import Role, Store
from tests.support.remote import (
    RemoteChat,
    bot_environment,
    start_bot,
    stop_bot,
    wait_until_polling,
)

if TYPE_CHECKING:
    from pathlib import Path

KEY = "a made-up service passphrase"
PRACTITIONER_ID = 5001
WARNING_START = NO_KEY_WARNING.split("%s")[0]


async def _database(path: Path, key: str | None) -> None:
    store = await Store.open(path, key=key)
    try:
        team = await store.add_team("North team")
        staff = await store.enrol(PRACTITIONER_ID, team, Role.PRACTITIONER)
        await store.add_young_person("YP-E1", staff)
    finally:
        await store.close()


async def _run_and_ask_for_cases(db_path: Path, **extra: str) -> tuple[str, str]:
    """Run the bot, ask it for the caseload, stop it; return its log and its answer."""
    async with StandInHTTPServer() as server:
        chat = RemoteChat(server.api, PRACTITIONER_ID)
        process = await start_bot(bot_environment(server, db_path, **extra))
        await wait_until_polling(server.api)
        mark = await chat.send("/cases")
        await chat.reply(mark)
        log = await stop_bot(process)
    assert process.returncode == 0, log
    return log, chat.last_text()


class TestStartUp:
    async def test_without_a_key_it_runs_and_warns_once(self, tmp_path: Path) -> None:
        db_path = tmp_path / "apart.db"
        await _database(db_path, None)

        log, shown = await _run_and_ask_for_cases(db_path)

        assert "YP-E1" in shown
        assert log.count(WARNING_START) == 1

    async def test_with_a_key_it_runs_on_the_encrypted_file_without_the_warning(
        self, tmp_path: Path
    ) -> None:
        db_path = tmp_path / "apart.db"
        await _database(db_path, KEY)

        log, shown = await _run_and_ask_for_cases(db_path, APART_DB_KEY=KEY)

        assert "YP-E1" in shown
        assert WARNING_START not in log
        assert b"YP-E1" not in db_path.read_bytes()

    async def test_a_wrong_key_stops_it_with_a_plain_message_and_changes_nothing(
        self, tmp_path: Path
    ) -> None:
        db_path = tmp_path / "apart.db"
        await _database(db_path, KEY)
        before = hashlib.sha256(db_path.read_bytes()).hexdigest()

        async with StandInHTTPServer() as server:
            env = bot_environment(server, db_path, APART_DB_KEY="not the right passphrase")
            process = await start_bot(env)
            # It must stop by itself; the limit only keeps a hanging process from hanging CI.
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        log = stderr.decode("utf-8", "replace")

        assert process.returncode == 2
        assert "APART_DB_KEY does not open" in log
        assert "Traceback" not in log
        assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
