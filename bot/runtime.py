"""Start-up shared by every way of running the bot: settings, store, instrument, services."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from apart_engine.instrument import default_instrument, load_instrument
from bot.app import ApartApplication, Services, build_application
from bot.clock import Clock, SystemClock
from bot.harness import ChatClient
from bot.standin import StandInBotAPI, StandInRequest, standin_token
from bot.store import Store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from apart_engine.instrument import Instrument
    from bot.config import Settings

logger = logging.getLogger(__name__)


def instrument_for(settings: Settings) -> Instrument:
    """The instrument the settings name, or the bundled default."""
    if settings.instrument is None:
        return default_instrument()
    return load_instrument(settings.instrument)


@asynccontextmanager
async def open_services(
    settings: Settings, *, clock: Clock | None = None
) -> AsyncIterator[Services]:
    """The instrument loaded and the store opened and migrated; the store closes after."""
    instrument = instrument_for(settings)
    store = await Store.open(settings.db_path, clock=clock, key=settings.key)
    try:
        yield Services(
            settings=settings, store=store, instrument=instrument, clock=clock or SystemClock()
        )
    finally:
        await store.close()


async def after_initialize(app: ApartApplication) -> None:
    """Run the application's post_init hook, as PTB's own run_polling would.

    We drive the application's life cycle ourselves (for graceful stops and the stand-in),
    and PTB calls post_init only from its run_* methods.
    """
    if app.post_init is not None:
        await app.post_init(app)


async def after_shutdown(app: ApartApplication) -> None:
    """Run the application's post_shutdown hook, as PTB's own run_polling would."""
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


# The stand-in's faults are over as soon as they are served, so retries need not wait long.
STANDIN_RETRY_DELAY_S = 0.01


@dataclass(frozen=True, slots=True)
class StandInBot:
    """The real application running against the local Bot API stand-in."""

    api: StandInBotAPI
    app: ApartApplication
    services: Services

    def client(self, user_id: int, first_name: str = "Sam") -> ChatClient:
        """A made-up person in a private chat with this bot."""
        return ChatClient(self.api, self.app, user_id, first_name)


@asynccontextmanager
async def standin_bot(
    settings: Settings, *, api: StandInBotAPI | None = None, clock: Clock | None = None
) -> AsyncIterator[StandInBot]:
    """Run the bot, job queue and all, against the stand-in; pass `api` to restart on it."""
    api = api or StandInBotAPI()
    async with open_services(settings, clock=clock) as services:
        app = build_application(
            services,
            token=standin_token(),
            request=StandInRequest(api),
            get_updates_request=StandInRequest(api),
            # The stand-in has no flood limits, and waiting for made-up ones slows every test.
            rate_limit=False,
            retry_delay=STANDIN_RETRY_DELAY_S,
        )
        await app.initialize()
        await after_initialize(app)
        await app.start()
        try:
            yield StandInBot(api, app, services)
        finally:
            await app.stop()
            await app.shutdown()
            await after_shutdown(app)


ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]

NO_KEY_WARNING = (
    "APART_DB_KEY IS NOT SET: the database %s is NOT ENCRYPTED. Anyone who can read the "
    "file can read every assessment. Set APART_DB_KEY and run `apart-bot encrypt-db`."
)


# How long updates in flight and running jobs get to finish once a stop is asked for; the
# process must be gone within 10 s of SIGTERM, and closing the database takes the rest.
STOP_GRACE_S = 8.0


async def serve(settings: Settings, token: str) -> None:
    """Take updates from Telegram until SIGINT or SIGTERM, then finish in-flight work and close.

    Updates come by polling, or by webhook when APART_WEBHOOK_URL is set.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if settings.key is None:
        logger.warning(NO_KEY_WARNING, settings.db_path)
    try:
        async with open_services(settings) as services:
            app = build_application(services, token=token)
            await run_until(app, settings, stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    logger.info("Stopped; the database is closed")


async def run_until(app: ApartApplication, settings: Settings, stop: asyncio.Event) -> None:
    """Run `app` by polling or webhook until `stop` is set, then stop it within the grace time.

    Stopping takes no new updates, lets the ones in flight finish, and stops the jobs. If
    they are not done within STOP_GRACE_S the application is left as it is: every answer a
    practitioner was shown as saved is already committed, and the caller closes the database.
    """
    await app.initialize()
    await after_initialize(app)
    await app.start()
    assert app.updater is not None
    instrument = app.bot_data["services"].instrument
    if settings.webhook_url is not None:
        assert settings.webhook_secret is not None  # Settings refuses a webhook without one
        await app.updater.start_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
        logger.info(
            "Taking updates by webhook on %s:%d; instrument %s %s",
            settings.webhook_listen,
            settings.webhook_port,
            instrument.id,
            instrument.version,
        )
    else:
        await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        logger.info("Polling Telegram; instrument %s %s", instrument.id, instrument.version)

    await stop.wait()
    logger.info("Stopping: finishing updates in flight")
    try:
        async with asyncio.timeout(STOP_GRACE_S):
            await app.updater.stop()
            await app.stop()
    except TimeoutError:
        logger.error("Work still running after %.0f s; stopping without it", STOP_GRACE_S)
        return
    await app.shutdown()
    await after_shutdown(app)
