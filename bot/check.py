"""`apart-bot check`: everything that can be wrong with a deployment, found before it runs.

Each check says what it looked at and, when something is wrong, what to do about it. A
problem (FAIL) means `apart-bot run` would not work or would be unsafe; a warning (WARN)
means it would run, but something needs a look.
"""

from __future__ import annotations

import enum
import errno
import os
import socket
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from apart_engine.errors import InstrumentError
from bot.errors import ApartError, ConfigError

if TYPE_CHECKING:
    from bot.config import Settings

# How long to wait for Telegram before reporting it unreachable.
TELEGRAM_TIMEOUT_S = 10.0


class Level(enum.Enum):
    """How much a finding matters."""

    OK = "ok"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing checked: what it was, how it stands, and what to do if it is not fine."""

    level: Level
    subject: str
    message: str

    def line(self) -> str:
        """The finding as one line for the terminal."""
        return f"{self.level.value:<4}  {self.subject}: {self.message}"


async def run_checks(**overrides: object) -> list[Finding]:
    """Check the settings, then the instrument, the database and the Telegram token."""
    from bot.config import load_settings

    try:
        settings = load_settings(**overrides)
    except ConfigError as error:
        return [Finding(Level.FAIL, "Settings", str(error))]

    findings = [Finding(Level.OK, "Settings", "every setting is well formed")]
    findings.append(_check_updates_mode(settings))
    findings.append(_check_instrument(settings))
    findings.extend(_check_database(settings))
    findings.append(await _check_token(settings))
    return findings


def _check_updates_mode(settings: Settings) -> Finding:
    if settings.webhook_url is None:
        return Finding(Level.OK, "Updates", "polling Telegram (APART_WEBHOOK_URL is not set)")
    address = (settings.webhook_listen, settings.webhook_port)
    try:
        with socket.create_server(address):
            pass
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return Finding(
                Level.WARN,
                "Updates",
                f"{address[0]}:{address[1]} is in use. If the bot is running, that is it; if "
                "not, stop whatever uses the port or change APART_WEBHOOK_PORT.",
            )
        return Finding(
            Level.FAIL,
            "Updates",
            f"the webhook server cannot listen on {address[0]}:{address[1]} ({error.strerror}). "
            "Use an address of this server in APART_WEBHOOK_LISTEN (127.0.0.1 behind a "
            "reverse proxy, 0.0.0.0 in a container) and a free APART_WEBHOOK_PORT.",
        )
    return Finding(
        Level.OK,
        "Updates",
        f"webhook at {settings.webhook_url}, served on {address[0]}:{address[1]} with a secret",
    )


def _check_instrument(settings: Settings) -> Finding:
    from bot.runtime import instrument_for

    try:
        instrument = instrument_for(settings)
    except InstrumentError as error:
        return Finding(Level.FAIL, "Instrument", f"{error} (APART_INSTRUMENT)")
    source = "the bundled default" if settings.instrument is None else str(settings.instrument)
    return Finding(
        Level.OK, "Instrument", f"{instrument.id} {instrument.version} from {source} is valid"
    )


def _check_database(settings: Settings) -> list[Finding]:
    from bot import encryption

    # The settings already refuse a path whose folder does not exist.
    path = settings.db_path
    folder = path.parent if str(path.parent) else None
    if encryption.file_state(path) == "missing":
        return [
            Finding(
                Level.WARN,
                "Database",
                f"there is no database at {path} yet. Run `apart-bot migrate` to create it.",
            )
        ]

    findings: list[Finding] = []
    try:
        version = encryption.verify(path, settings.key)
    except ApartError as error:
        return [Finding(Level.FAIL, "Database", f"{error} Restore the last good backup.")]
    except encryption.DATABASE_ERRORS as error:
        return [
            Finding(
                Level.FAIL,
                "Database",
                f"{path} cannot be read as a database ({error}). Check APART_DB_PATH, or "
                "restore the last good backup.",
            )
        ]
    latest = latest_schema_version()
    if version < latest:
        findings.append(
            Finding(
                Level.FAIL,
                "Database",
                f"{path} is at schema version {version} but this bot needs {latest}. Back it "
                "up, then run `apart-bot migrate`.",
            )
        )
    elif version > latest:
        findings.append(
            Finding(
                Level.FAIL,
                "Database",
                f"{path} is at schema version {version}, newer than this bot knows ({latest}). "
                "Upgrade apart-bot, or point APART_DB_PATH at another database.",
            )
        )
    else:
        findings.append(
            Finding(Level.OK, "Database", f"{path} passes the integrity check, schema {version}")
        )
    if not os.access(path, os.W_OK) or (folder is not None and not os.access(folder, os.W_OK)):
        findings.append(
            Finding(
                Level.FAIL,
                "Database",
                f"{path} or its folder is not writable by this user. Give the bot's user "
                "ownership of both.",
            )
        )
    if settings.key is None:
        findings.append(
            Finding(
                Level.WARN,
                "Database",
                "APART_DB_KEY is not set, so the database is not encrypted. Set it and run "
                "`apart-bot encrypt-db`.",
            )
        )
    return findings


def latest_schema_version() -> int:
    """The number of the newest migration this version of the bot ships."""
    numbers = [
        int(entry.name[:4])
        for entry in resources.files("migrations").iterdir()
        if entry.name.endswith(".sql") and entry.name[:4].isdigit()
    ]
    return max(numbers, default=0)


async def _check_token(settings: Settings) -> Finding:
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError
    from telegram.request import HTTPXRequest

    if settings.telegram_bot_token is None:
        return Finding(
            Level.FAIL,
            "Telegram",
            "TELEGRAM_BOT_TOKEN is not set. Put the token @BotFather gave you in .env or the "
            "environment.",
        )
    token = settings.telegram_bot_token.get_secret_value()
    request = HTTPXRequest(connect_timeout=TELEGRAM_TIMEOUT_S, read_timeout=TELEGRAM_TIMEOUT_S)
    bot = Bot(token, base_url=settings.telegram_api_base_url, request=request)
    try:
        async with bot:
            me = bot.bot
    except InvalidToken:
        return Finding(
            Level.FAIL,
            "Telegram",
            "Telegram refused TELEGRAM_BOT_TOKEN. Copy the token again from @BotFather "
            "(/mybots, API Token); if it was revoked, put the new one in.",
        )
    except NetworkError as error:
        return Finding(
            Level.WARN,
            "Telegram",
            f"could not reach {settings.telegram_api_base_url} ({error.message}), so the token "
            "was not checked. Check this server's network, proxy and TELEGRAM_API_BASE_URL.",
        )
    except TelegramError as error:
        return Finding(Level.FAIL, "Telegram", f"Telegram answered: {error.message}")
    return Finding(Level.OK, "Telegram", f"the token works for @{me.username}")
