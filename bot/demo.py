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
) -> int:
    """Run the demo; return the exit status (0, or 1 when a script step failed)."""
    async with standin_bot(settings) as running:
        store = running.services.store
        team = await _demo_team(running.services, cohort=cohort)
        # A lead, so that /digest works too; leads hold a caseload like practitioners.
        await store.enrol(DEMO_USER_ID, team, Role.LEAD)
        client = running.client(DEMO_USER_ID, "Demo")

        print(f"APART bot demo · database {settings.db_path} · no Telegram needed", file=out)
        if script is not None and not await play(client, script_steps(script), out):
            return 1
        if script is not None:
            await play(client, list(AFTER_SCRIPT), out)
            save_photos(client, settings.db_path.parent, out)
        if script is not None and cohort:
            await play(client, ["/report"], out)
            save_documents(client, settings.db_path.parent, out)
        if interactive:
            await converse(client, out, stdin)
    return 0


def save_photos(client: ChatClient, folder: Path, out: TextIO) -> list[Path]:
    """Write every chart the bot sent in this chat to `folder`, printing where each went."""
    saved = []
    for message in client.bot_messages:
        if message.photo is None:
            continue
        path = folder / message.photo.filename
        path.write_bytes(message.photo.content)
        print(f"(chart saved to {path})", file=out)
        saved.append(path)
    return saved


async def play(client: ChatClient, steps: list[str], out: TextIO) -> bool:
    """Play script steps, printing the transcript; [label] taps a button, anything else is sent."""
    for step in steps:
        try:
            await _step(client, step, out)
        except LookupError as error:
            print(f"\nThe script stopped at {step!r}: {error}", file=out)
            return False
    return True


async def converse(client: ChatClient, out: TextIO, stdin: TextIO) -> None:
    """Read lines from the person at the keyboard until /quit or end of input."""
    print(
        "\nYour turn. Type a button's number to tap it, or a message or command "
        "(/help, /new, /assess, /cases). /quit ends the demo.",
        file=out,
    )
    loop = asyncio.get_running_loop()
    while True:
        print("you> ", end="", file=out, flush=True)
        line = await loop.run_in_executor(None, stdin.readline)
        if not line or line.strip() in QUIT:
            print("", file=out)
            return
        text = line.strip()
        if not text:
            continue
        try:
            await _step(client, text, out, echo=False)
        except LookupError as error:
            print(f"  {error}", file=out)


async def _step(client: ChatClient, step: str, out: TextIO, *, echo: bool = True) -> None:
    mark = client.mark()
    if not echo and step.isdecimal():
        await _tap_number(client, int(step))
    elif step.startswith("[") and step.endswith("]"):
        if echo:
            print(f"\n» tap {step}", file=out)
        await client.tap(step[1:-1])
    else:
        if echo:
            print(f"\n» {step}", file=out)
        await client.send(step)
    for event in client.events_since(mark):
        if event.message.from_bot or event.kind == "deleted":
            print(render_event(event), file=out)


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


def save_documents(client: ChatClient, folder: Path, out: TextIO) -> list[Path]:
    """Write every document (the /report PDF) the bot sent in this chat to `folder`."""
    saved = []
    for message in client.bot_messages:
        if message.document is not None:
            path = folder / message.document.filename
            path.write_bytes(message.document.content)
            print(f"(report saved to {path})", file=out)
            saved.append(path)
    return saved


async def _demo_team(services: Services, *, cohort: bool) -> int:
    """The demo user's team: the first synthetic team, seeded first, when a cohort is asked for."""
    if not cohort:
        return await services.store.add_team(DEMO_TEAM)
    from bot.seed import TEAMS, seed_cohort

    summary = await seed_cohort(
        services.store, services.instrument, until=today(services.clock, services.tz)
    )
    logger.info("Demo cohort: %s synthetic assessments", summary.assessments)
    return await services.store.add_team(TEAMS[0])
