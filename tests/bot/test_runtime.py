"""Running the bot as a service: webhook mode, and a graceful stop of a real process."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from typing import TYPE_CHECKING

import httpx
import pytest

from bot.app import build_application
from bot.config import load_settings
from bot.runtime import open_services, run_until
from bot.standin import RetryAfter, StandInBotAPI, StandInRequest, standin_token
from bot.standin_http import StandInHTTPServer
from tests.support.remote import RemoteChat, bot_environment, enrol, start_bot, stop_bot

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SECRET = "test-secret-token-0123456789"
PRACTITIONER_ID = 5001


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TestWebhook:
    async def test_updates_are_taken_only_with_telegrams_secret_token(
        self, tmp_path: Path
    ) -> None:
        """The webhook server refuses a post without the secret and handles one with it."""
        port = _free_port()
        settings = load_settings(
            APART_DB_PATH=tmp_path / "apart.db",
            APART_WEBHOOK_URL="https://bot.example.org/apart-hook",
            APART_WEBHOOK_LISTEN="127.0.0.1",
            APART_WEBHOOK_PORT=port,
            APART_WEBHOOK_SECRET=SECRET,
        )
        await enrol(settings.db_path, PRACTITIONER_ID)
        api = StandInBotAPI()
        chat = RemoteChat(api, PRACTITIONER_ID)
        stop = asyncio.Event()
        async with open_services(settings) as services:
            app = build_application(
                services, token=standin_token(), request=StandInRequest(api), rate_limit=False
            )
            running = asyncio.create_task(run_until(app, settings, stop))
            await _until(lambda: bool(api.webhook))
            assert api.webhook["url"] == "https://bot.example.org/apart-hook"
            assert api.webhook["secret_token"] == SECRET

            message = api.message_json(api.receive_user_message(PRACTITIONER_ID, "/help"))
            body = json.dumps({"update_id": 1, "message": message})
            url = f"http://127.0.0.1:{port}/apart-hook"
            headers = {"Content-Type": "application/json"}
            async with httpx.AsyncClient() as client:
                forged = await client.post(url, content=body, headers=headers)
                wrong = await client.post(
                    url,
                    content=body,
                    headers={**headers, "X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
                )
                await asyncio.sleep(0.1)
                assert not chat.replied_since(0)
                mark = chat.mark()
                genuine = await client.post(
                    url,
                    content=body,
                    headers={**headers, "X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                await chat.reply(mark)

            stop.set()
            await running

        assert forged.status_code == 403
        assert wrong.status_code == 403
        assert genuine.status_code == 200


class TestGracefulStop:
    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
    async def test_an_update_in_flight_finishes_before_the_process_exits(
        self, tmp_path: Path, signum: int
    ) -> None:
        """A stop during a reply held up by flood control still sends the reply, then exits."""
        db_path = tmp_path / "apart.db"
        await enrol(db_path, PRACTITIONER_ID)
        async with StandInHTTPServer() as server:
            chat = RemoteChat(server.api, PRACTITIONER_ID)
            process = await start_bot(bot_environment(server, db_path))
            await _until(lambda: bool(server.api.calls_to("getUpdates")))

            # Telegram asks the bot to wait a second before this reply: it is in flight.
            server.api.fail_next("sendMessage", RetryAfter(1), chat_id=PRACTITIONER_ID)
            mark = await chat.send("/assess")
            await _until(lambda: bool(server.api.calls_to("sendMessage")))
            log = await stop_bot(process, signum)

        assert process.returncode == 0, log
        assert chat.replied_since(mark), log
        assert "Stopping: finishing updates in flight" in log
        assert "Stopped; the database is closed" in log


async def _until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    async with asyncio.timeout(limit):
        # The stand-in offers no event for these conditions, so poll them briefly.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class TestLogsOfAProcess:
    async def test_json_logs_are_one_object_a_line_with_the_update_and_staff_ids(
        self, tmp_path: Path
    ) -> None:
        db_path = tmp_path / "apart.db"
        await enrol(db_path, PRACTITIONER_ID)
        async with StandInHTTPServer() as server:
            chat = RemoteChat(server.api, PRACTITIONER_ID)
            env = bot_environment(server, db_path, APART_LOG_FORMAT="json")
            process = await start_bot(env)
            await _until(lambda: bool(server.api.calls_to("getUpdates")))
            await chat.reply(await chat.send("/new"))
            await chat.reply(await chat.send("YP-J7"))
            log = await stop_bot(process)

        entries = [json.loads(line) for line in log.splitlines() if line.strip()]
        assert entries
        registered = [e for e in entries if "registered" in e["message"]]
        assert len(registered) == 1
        assert registered[0]["update_id"] is not None
        assert registered[0]["staff_id"] == 1
        assert "YP-J7" not in log
        assert "Sam" not in log
