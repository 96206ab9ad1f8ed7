"""Start-up shared by every way of running the bot: settings, store, instrument, services."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    store = await Store.open(settings.db_path, clock=clock)
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
        )
        await app.initialize()
        await after_initialize(app)
        await app.start()
        try:
            yield StandInBot(api, app, services)
        finally:
            await app.stop()
            await app.shutdown()


ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


async def serve(settings: Settings, token: str) -> None:
    """Poll Telegram until SIGINT or SIGTERM, then finish in-flight work and close cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async with open_services(settings) as services:
        app = build_application(services, token=token)
        async with app:
            await after_initialize(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            logger.info(
                "Polling Telegram; instrument %s %s",
                services.instrument.id,
                services.instrument.version,
            )
            await stop.wait()
            logger.info("Stopping: finishing updates in flight")
            await app.updater.stop()
            await app.stop()
