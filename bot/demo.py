"""`apart-bot demo`: the real bot in a terminal, over the local Bot API stand-in.

The demo plays the shipped script first (YP-A1's baseline from the vignettes), then, at a
terminal, hands the chat to the person at the keyboard: a number taps a button of the
newest keyboard, anything else is sent as a message.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.clock import today
from bot.harness import render_event
from bot.runtime import standin_bot
from bot.store import Role

if TYPE_CHECKING:
    from bot.app import Services
    from bot.config import Settings
    from bot.harness import ChatClient
    from bot.standin import ChatEvent, StoredMessage

logger = logging.getLogger(__name__)

DEMO_USER_ID = 424242
DEMO_TEAM = "Demo team"
DEFAULT_DB = Path(".apart-demo") / "demo.db"
QUIT = ("/quit", "/exit")
# After the script: YP-A1's progress chart and the demo team's digest, with its team chart.
AFTER_SCRIPT = ("/progress YP-A1", "/digest")


def shipped_script() -> str:
    """The demo script that registers YP-A1 and completes its baseline."""
    return (resources.files("bot") / "demo_scripts" / "yp-a1-baseline.txt").read_text("utf-8")


def script_steps(text: str) -> list[str]:
    """The inputs of a script: one a line; blank lines and # comments are skipped."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


async def run_demo(
    settings: Settings,
    *,
    script: str | None,
    interactive: bool,
    out: TextIO = sys.stdout,
    stdin: TextIO = sys.stdin,
    cohort: bool = False,
    showcase: bool = False,
) -> int:
    """Run the demo; return the exit status (0, or 1 when a script step failed).

    With `showcase` (the shipped script), the demo goes on to show YP-A1's progress chart,
    the team's digest and, with a cohort, the team's report.
    """
    async with standin_bot(settings) as running:
        store = running.services.store
        team = await _demo_team(running.services, cohort=cohort)
        # A lead, so that /digest works too; leads hold a caseload like practitioners.
        await store.enrol(DEMO_USER_ID, team, Role.LEAD)
        client = running.client(DEMO_USER_ID, "Demo")
        chat = DemoChat(client, out, settings.db_path.parent)

        print(f"APART bot demo · database {settings.db_path} · no Telegram needed", file=out)
        if script is not None and not await chat.play(script_steps(script)):
            return 1
        if showcase:
            await chat.play([*AFTER_SCRIPT, *(["/report"] if cohort else [])])
        if interactive:
            await chat.converse(stdin)
    return 0


class DemoChat:
    """The terminal side of the demo: prints what the bot shows and saves what it sends."""

    def __init__(self, client: ChatClient, out: TextIO, folder: Path) -> None:
        self.client = client
        self.out = out
        self.folder = folder
        self._shown: dict[int, str | None] = {}

    async def play(self, steps: list[str]) -> bool:
        """Play script steps: [label] taps a button, anything else is sent; False on a miss."""
        for step in steps:
            try:
                await self._step(step, echo=True)
            except LookupError as error:
                print(f"\nThe script stopped at {step!r}: {error}", file=self.out)
                return False
        return True

    async def converse(self, stdin: TextIO) -> None:
        """Read lines from the person at the keyboard until /quit or end of input."""
        print(
            "\nYour turn. Type a button's number to tap it, or a message or command "
            "(/help, /new, /assess, /cases, /progress REF, /digest). /quit ends the demo.",
            file=self.out,
        )
        loop = asyncio.get_running_loop()
        while True:
            print("you> ", end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, stdin.readline)
            if not line or line.strip() in QUIT:
                print("", file=self.out)
                return
            text = line.strip()
            if not text:
                continue
            try:
                await self._step(text, echo=False)
            except LookupError as error:
                print(f"  {error}", file=self.out)

    async def _step(self, step: str, *, echo: bool) -> None:
        mark = self.client.mark()
        if not echo and step.isdecimal():
            await _tap_number(self.client, int(step))
        elif step.startswith("[") and step.endswith("]"):
            if echo:
                print(f'\n» tap "{step[1:-1]}"', file=self.out)
            await self.client.tap(step[1:-1])
        else:
            if echo:
                print(f"\n» {step}", file=self.out)
            await self.client.send(step)
        for event in self.client.events_since(mark):
            self._print(event)

    def _print(self, event: ChatEvent) -> None:
        message = event.message
        if event.kind == "deleted":
            print(render_event(event), file=self.out)
            return
        if not message.from_bot:
            return
        unchanged = self._shown.get(message.message_id) == message.text
        if event.kind == "edited" and not message.buttons and unchanged:
            # Only the buttons came off an older message: nothing new to read.
            return
        self._shown[message.message_id] = message.text
        print(render_event(event), file=self.out)
        if event.kind == "new":
            self._save(message)

    def _save(self, message: StoredMessage) -> None:
        sent = message.photo or message.document
        if sent is None:
            return
        path = self.folder / f"{message.message_id}-{sent.filename}"
        path.write_bytes(sent.content)
        what = "chart" if message.photo is not None else "report"
        print(f"({what} saved to {path})", file=self.out)


async def _tap_number(client: ChatClient, number: int) -> None:
    """Tap the button numbered `number` on the newest keyboard, as the demo printed it."""
    keyboards = [message for message in client.bot_messages if message.buttons]
    if not keyboards:
        raise LookupError("There are no buttons to tap just now.")
    message = keyboards[-1]
    buttons = [data for row in message.buttons for _, data in row]
    if not 1 <= number <= len(buttons) or buttons[number - 1] is None:
        raise LookupError(f"There is no button {number}; the newest keyboard has {len(buttons)}.")
    data = buttons[number - 1]
    assert data is not None
    await client.tap_data(data, message.message_id)


async def _demo_team(services: Services, *, cohort: bool) -> int:
    """The demo user's team: the first synthetic team, seeded first, when a cohort is asked for."""
    if not cohort:
        return await services.store.add_team(DEMO_TEAM)
    from bot.seed import TEAMS, seed_cohort

    summary = await seed_cohort(
        services.store,
        services.instrument,
        until=today(services.clock, services.tz),
        tz=services.tz,
    )
    logger.info("Demo cohort: %s synthetic assessments", summary.assessments)
    return await services.store.add_team(TEAMS[0])
