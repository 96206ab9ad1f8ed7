"""Drive `apart-bot` running as a separate process against the HTTP stand-in.

The bot process polls (or takes webhooks from) the test, so the chat survives every stop,
kill and restart of the bot; `RemoteChat` plays the person and waits for the bot's replies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from bot.callbacks import unpack
from bot.standin import standin_token
from bot.store import Role, Store
from conversations.screens import Act

if TYPE_CHECKING:
    from pathlib import Path

    from bot.standin import StandInBotAPI, StoredMessage
    from bot.standin_http import StandInHTTPServer

REPLY_LIMIT_S = 10.0
QUIET_S = 0.03


async def enrol(db_path: Path, telegram_user_id: int, team: str = "North team") -> None:
    """Enrol a practitioner in the database the bot process will open."""
    store = await Store.open(db_path)
    try:
        team_id = await store.add_team(team)
        await store.enrol(telegram_user_id, team_id, Role.PRACTITIONER)
    finally:
        await store.close()


def bot_environment(server: StandInHTTPServer, db_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process that talks to `server` and keeps data in `db_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APART_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=standin_token(),
        TELEGRAM_API_BASE_URL=server.base_url,
        APART_DB_PATH=str(db_path),
        PTB_TIMEDELTA="true",
        **extra,
    )
    return env


async def start_bot(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """Start `apart-bot run` (or other arguments) as a process; its log goes to a pipe."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *(args or ("run",)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop_bot(process: asyncio.subprocess.Process, signum: int = signal.SIGTERM) -> str:
    """Signal the process, wait for it to end, and return its log."""
    if process.returncode is None:
        process.send_signal(signum)
    _, stderr = await asyncio.wait_for(process.communicate(), REPLY_LIMIT_S)
    return stderr.decode("utf-8", "replace")


async def wait_until_polling(api: StandInBotAPI, since: int = 0) -> None:
    """Wait until the bot process has asked for updates after `since` calls to getUpdates."""
    async with asyncio.timeout(REPLY_LIMIT_S):
        # The stand-in offers no event for its call log, so poll it briefly.
        while len(api.calls_to("getUpdates")) <= since:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class RemoteChat:
    """One made-up person whose messages and taps reach the bot process by getUpdates."""

    def __init__(self, api: StandInBotAPI, user_id: int, first_name: str = "Sam") -> None:
        self.api = api
        self.user_id = user_id
        self.chat = api.add_private_chat(user_id, first_name)

    def mark(self) -> int:
        """A position in the chat's events, to wait for what comes after it."""
        return len(self.chat.events)

    async def send(self, text: str) -> int:
        """Queue a typed message; return the mark before it."""
        mark = self.mark()
        entities = []
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            entities = [{"type": "bot_command", "offset": 0, "length": length}]
        stored = self.api.receive_user_message(self.user_id, text, entities)
        await self._enqueue({"message": self.api.message_json(stored)})
        return mark

    async def tap(self, label: str) -> tuple[int, str]:
        """Queue a press of the button starting with `label` on the newest keyboard.

        Returns the mark before the press and the callback query's id.
        """
        message = self.keyboard_message()
        buttons = [button for row in message.buttons for button in row]
        exact = [data for text, data in buttons if text == label]
        found = exact or [data for text, data in buttons if text.startswith(label)]
        if len(found) != 1 or found[0] is None:
            raise LookupError(f"no single button {label!r} in {[t for t, _ in buttons]}")
        data = found[0]
        mark = self.mark()
        query = self.api.issue_callback_query(self.user_id, message.message_id, data)
        await self._enqueue({"callback_query": query})
        return mark, str(query["id"])

    async def _enqueue(self, fields: dict[str, Any]) -> None:
        await self.api.enqueue_update({"update_id": self.api.next_update_id(), **fields})

    def keyboard_message(self, *, newest_only: bool = False) -> StoredMessage:
        """The newest bot message with buttons; with `newest_only`, the newest at all."""
        shown = [m for m in self.chat.messages.values() if m.from_bot and not m.deleted]
        if not newest_only:
            shown = [m for m in shown if m.buttons]
        if not shown or not shown[-1].buttons:
            raise LookupError("no bot message with buttons is the newest")
        return shown[-1]

    def current_item(self, *, newest_only: bool = True) -> str | None:
        """The item id a keyboard answers, read from its buttons' payloads.

        By default only the newest bot message counts: an older keyboard left on screen is
        stale, and a driver following it would answer a closed assessment.
        """
        try:
            message = self.keyboard_message(newest_only=newest_only)
        except LookupError:
            return None
        for row in message.buttons:
            for _, data in row:
                callback = unpack(data)
                if callback.action == Act.VALUE:
                    return callback.arg(1)
        return None

    def replied_since(self, mark: int) -> bool:
        """Whether the bot sent or edited anything after the mark."""
        return any(event.message.from_bot for event in self.chat.events[mark:])

    async def reply(self, mark: int, query_id: str | None = None) -> None:
        """Wait until the bot has replied after `mark` (and answered `query_id`, if given).

        A reply can be several changes (a keyboard taken off, then a new message), so the
        chat must also have been still for QUIET_S.
        """
        async with asyncio.timeout(REPLY_LIMIT_S):
            # The stand-in offers no event for a reply, so poll the chat briefly.
            while not self.replied_since(mark) or (  # noqa: ASYNC110
                query_id is not None and self.api.callbacks[query_id].attempts == 0
            ):
                await asyncio.sleep(0.005)
            seen = -1
            while seen != len(self.chat.events):
                seen = len(self.chat.events)
                await asyncio.sleep(QUIET_S)

    def last_text(self) -> str:
        """The text of the newest visible bot message."""
        bot_messages = [m for m in self.chat.messages.values() if m.from_bot and not m.deleted]
        return bot_messages[-1].text or "" if bot_messages else ""
