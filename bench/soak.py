"""Soak test: many practitioners assessing at once for minutes, with reminders and digests.

`python -m bench.soak` (or `make soak`) runs the real application over the Bot API stand-in,
in one process, on a fresh database: 200 made-up practitioners in 20 teams each register
cases (references SOAK-nnnnn) and play YP-A1's baseline tap by tap, over and over, for 10
minutes, while the reminder sweep and the weekly digest run every 30 seconds. It then checks
what the issue asks:

- memory flat: the resident set size in the last third of the run is within 10% (and 20 MB)
  of the middle third's;
- no errors logged: nothing at ERROR or above from any logger;
- every answer stored: each baseline a practitioner saw submitted holds exactly the
  vignette's answers and figures.

`--practitioners` and `--minutes` scale it down for a try-out. It exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.clock import FixedClock
    from bot.harness import ChatClient
    from bot.runtime import StandInBot

REPO = Path(__file__).resolve().parent.parent
# A Monday morning, outside quiet hours, so the sweep and the digest really send.
START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
JOBS_EVERY_S = 30.0
SAMPLE_EVERY_S = 2.0
FIRST_TELEGRAM_ID = 700_000
TEAM_SIZE = 10
KEEP_MESSAGES = 20
KEEP_CALLBACKS = 10_000


@dataclass
class Tally:
    """What happened during the run."""

    submitted: list[tuple[int, str]] = field(default_factory=list)
    """(Telegram id, reference) of every baseline the bot showed as submitted."""
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    job_runs: int = 0
    taps: int = 0


class ErrorCounter(logging.Handler):
    """Remembers every record at ERROR or above."""

    def __init__(self, tally: Tally) -> None:
        super().__init__(logging.ERROR)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the message (logs never hold answers or names, so it is safe to print)."""
        self.tally.errors.append(f"{record.name}: {record.getMessage()}")


def rss_mb() -> float:
    """The process's resident set size now, in megabytes (Linux), else the peak."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


async def practitioner(
    bot: StandInBot, telegram_id: int, steps: list[str], deadline: float, tally: Tally
) -> None:
    """Register a case and play the baseline, again and again, until the deadline."""
    client: ChatClient = bot.client(telegram_id, "Soak")
    rng = random.Random(telegram_id)
    round_number = 0
    while time.monotonic() < deadline:
        round_number += 1
        reference = f"SOAK-{telegram_id - FIRST_TELEGRAM_ID:03d}X{round_number:03d}"
        mine = [reference if step == steps[1] else step for step in steps]
        for step in mine:
            await give(client, step)
            tally.taps += 1
            # A person's pace: a moment between taps, so 200 people interleave.
            await asyncio.sleep(rng.uniform(0.0, 0.2))
        if "Submitted." in (client.last_bot_message.text or ""):
            tally.submitted.append((telegram_id, reference))


async def give(client: ChatClient, step: str) -> None:
    """Type a step, or tap its button on the newest message that has it.

    A reminder or digest can arrive between two taps, so the button is not always on the
    newest keyboard, as a person would find by scrolling up.
    """
    if not (step.startswith("[") and step.endswith("]")):
        await client.send(step)
        return
    label = step[1:-1]
    for message in reversed(client.bot_messages):
        if not message.buttons:
            continue
        labels = [text for row in message.buttons for text, _ in row]
        if label in labels or sum(text.startswith(label) for text in labels) == 1:
            answer = await client.tap(label, message_id=message.message_id)
            if not answer.answered:
                raise AssertionError(f"the tap on {step} was not answered")
            return
    raise LookupError(f"no message shows a button {label!r}")


async def jobs(bot: StandInBot, clock: FixedClock, deadline: float, tally: Tally) -> None:
    """Run the reminder sweep and the weekly digest every JOBS_EVERY_S until the deadline."""
    from bot.jobs import run_reminder_sweep, run_weekly_digest
    from bot.sender import sender_for

    started = time.monotonic()
    while (now := time.monotonic()) < deadline:
        clock.set(START + timedelta(seconds=now - started))
        slot = clock.now()
        await run_reminder_sweep(bot.services, sender_for(bot.app), slot)
        await run_weekly_digest(bot.services, sender_for(bot.app), slot)
        tally.job_runs += 1
        await asyncio.sleep(JOBS_EVERY_S)


async def sample_memory(bot: StandInBot, deadline: float, tally: Tally) -> None:
    """Sample the resident set size every SAMPLE_EVERY_S, after trimming the stand-in."""
    started = time.monotonic()
    while (now := time.monotonic()) < deadline:
        forget_standin_history(bot)
        tally.rss_mb.append((now - started, rss_mb()))
        await asyncio.sleep(SAMPLE_EVERY_S)


def forget_standin_history(bot: StandInBot) -> None:
    """Drop the stand-in's record of old calls, messages and answered button presses.

    The stand-in keeps everything for tests to inspect; over a soak that history, not the
    bot, would be what grows. Each chat keeps its latest messages, which the people need.
    """
    api = bot.api
    api.calls.clear()
    # The newest presses may still be being handled, and are read back after.
    for query_id in list(api.callbacks)[:-KEEP_CALLBACKS]:
        del api.callbacks[query_id]
    for chat in api.chats.values():
        chat.events.clear()
        for message_id in list(chat.messages)[:-KEEP_MESSAGES]:
            del chat.messages[message_id]


async def enrol_everyone(bot: StandInBot, practitioners: int) -> list[int]:
    """Teams of TEAM_SIZE practitioners, each team with a lead; the practitioners' ids."""
    from bot.store import Role

    store = bot.services.store
    ids = []
    for number in range(practitioners):
        team = await store.add_team(f"Soak team {number // TEAM_SIZE + 1}")
        if number % TEAM_SIZE == 0:
            lead = FIRST_TELEGRAM_ID - 1 - number
            await store.enrol(lead, team, Role.LEAD)
            # The lead has opened the chat with the bot, so the digest can reach them.
            bot.api.add_private_chat(lead, "Lead")
        await store.enrol(FIRST_TELEGRAM_ID + number, team, Role.PRACTITIONER)
        ids.append(FIRST_TELEGRAM_ID + number)
    return ids


async def check_stored(bot: StandInBot, vignette: dict[str, Any], tally: Tally) -> list[str]:
    """Every submitted baseline holds the vignette's answers and figures; problems, if any."""
    store = bot.services.store
    expected = vignette["assessments"][0]
    problems = []
    for telegram_id, reference in tally.submitted:
        staff = await store.staff_by_telegram_id(telegram_id)
        assert staff is not None
        case = next(
            (c for c in await store.caseload(staff) if c.young_person.reference == reference),
            None,
        )
        history = await store.submitted(case.young_person.id) if case else []
        if len(history) != 1:
            problems.append(f"{reference}: {len(history)} submitted assessments, not 1")
            continue
        answers = await store.answers(history[0].id)
        rated = {k: v for k, v in answers.items() if k in expected["answers"]}
        if rated != expected["answers"]:
            problems.append(f"{reference}: stored answers differ from those given")
        if history[0].risk_score != expected["expected"]["risk_score"]:
            problems.append(f"{reference}: risk score {history[0].risk_score}")
    return problems


def memory_verdict(samples: Sequence[tuple[float, float]]) -> tuple[bool, str]:
    """Flat when the last third's median RSS is within 10% (and 20 MB) of the middle third's."""
    values = [mb for _, mb in samples]
    if len(values) < 6:
        return True, f"too short to judge ({len(values)} samples)"
    third = len(values) // 3
    middle = statistics.median(values[third : 2 * third])
    last = statistics.median(values[2 * third :])
    grew = last - middle
    flat = grew <= max(0.10 * middle, 20.0)
    return flat, f"median RSS {middle:.0f} MB in the middle third, {last:.0f} MB in the last"


async def soak(practitioners: int, minutes: float, workdir: Path) -> int:
    """Run the soak and print the verdict; 0 when every check holds."""
    from apart_engine import default_instrument
    from bot.clock import FixedClock
    from bot.config import load_settings
    from bot.runtime import standin_bot
    from tests.support.steps import assessment_steps

    vignette = json.loads((REPO / "tests/fixtures/vignettes/YP-A1.json").read_text("utf-8"))
    steps = assessment_steps(default_instrument(), vignette, 0, register=True)
    settings = load_settings(APART_DB_PATH=workdir / "soak.db")
    clock = FixedClock(START)
    tally = Tally()
    logging.getLogger().addHandler(ErrorCounter(tally))

    async with standin_bot(settings, clock=clock) as bot:
        ids = await enrol_everyone(bot, practitioners)
        deadline = time.monotonic() + minutes * 60
        started = time.monotonic()
        outcomes = await asyncio.gather(
            jobs(bot, clock, deadline, tally),
            sample_memory(bot, deadline, tally),
            *(practitioner(bot, telegram_id, steps, deadline, tally) for telegram_id in ids),
            return_exceptions=True,
        )
        failures = [repr(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
        elapsed = time.monotonic() - started
        problems = await check_stored(bot, vignette, tally)

    flat, memory = memory_verdict(tally.rss_mb)
    print(f"Soak: {practitioners} practitioners for {elapsed / 60:.1f} minutes")
    print(f"  {tally.taps} inputs, {len(tally.submitted)} baselines submitted")
    print(f"  reminder sweep and digest ran {tally.job_runs} times")
    print(f"  memory {'flat' if flat else 'GREW'}: {memory}")
    print(f"  errors logged: {len(tally.errors)}")
    for line in tally.errors[:20]:
        print(f"    {line}")
    print(f"  simulated practitioners that failed: {len(failures)}")
    for line in failures[:10]:
        print(f"    {line}")
    print(f"  every answer stored: {'yes' if not problems else 'NO'}")
    for line in problems[:20]:
        print(f"    {line}")
    held = flat and not tally.errors and not problems and not failures and tally.submitted
    return 0 if held else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the scale and run the soak in a temporary folder."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--practitioners", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    # As the command line does: without it PTB warns while building RetryAfter.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    sys.path.insert(0, str(REPO))
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="apart-soak-") as workdir:
        return asyncio.run(soak(args.practitioners, args.minutes, Path(workdir)))


if __name__ == "__main__":
    sys.exit(main())
