"""Builds the Telegram application: services, context, handler groups, error handling."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackContext,
    ContextTypes,
    ExtBot,
    TypeHandler,
)
from telegram.request import HTTPXRequest

from bot import access
from bot.chat import answer, screen, send
from bot.errors import StorageUnavailableError
from bot.retry import FIRST_DELAY_S, RetryingRequest
from bot.updates import PerUserUpdateProcessor

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from telegram.request import BaseRequest

    from apart_engine.instrument import Instrument
    from bot.clock import Clock
    from bot.config import Settings
    from bot.store import Awaiting, Staff, Store

logger = logging.getLogger(__name__)

# Handler groups, in the order they run for every update.
GATE_GROUP = -2
ENROL_GROUP = -1  # reached only by `/start CODE` from someone the gate does not know
FLOW_GROUP = 0
AFTERCARE_GROUP = 1

COMMANDS = (
    BotCommand("assess", "Start or carry on an assessment"),
    BotCommand("cases", "Your caseload and review dates"),
    BotCommand("new", "Register a young person"),
    BotCommand("progress", "Charts of a case's progress: /progress YP-A1"),
    BotCommand("digest", "Your team's digest now (team leads)"),
    BotCommand("report", "Your team's outcomes report as a PDF (team leads)"),
    BotCommand("cancel", "Pause what you are doing"),
    BotCommand("help", "How to use this bot"),
)


@dataclass(frozen=True, slots=True)
class Services:
    """What every handler needs, configured once at start-up."""

    settings: Settings
    store: Store
    instrument: Instrument
    clock: Clock

    @property
    def tz(self) -> ZoneInfo:
        """The service's local time zone."""
        return self.settings.tz


class ApartContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with the services and who is talking.

    The gate fills in `staff` and `awaiting` before any flow handler runs. The update being
    handled is `current_update`: `update` is already CallbackContext's own method.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.current_update: Update | None = None
        self.staff: Staff | None = None
        self.awaiting: Awaiting | None = None
        self.callback_answered = False

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> ApartContext:
        """Build the context for one update, keeping the update at hand."""
        context = super().from_update(update, application)
        assert isinstance(context, ApartContext)
        if isinstance(update, Update):
            context.current_update = update
        return context

    @property
    def services(self) -> Services:
        """The configured services."""
        services = self.application.bot_data["services"]
        assert isinstance(services, Services)
        return services

    def require_staff(self) -> Staff:
        """The member of staff the gate let through."""
        if self.staff is None:
            raise RuntimeError("a flow handler ran without the gate's staff lookup")
        return self.staff


ApartApplication = Application[
    ExtBot[None], ApartContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]


def build_application(
    services: Services,
    *,
    token: str,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limit: bool = True,
    retry_delay: float = FIRST_DELAY_S,
) -> ApartApplication:
    """The bot with every flow registered, ready to initialise and run."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(services.settings.telegram_api_base_url)
        .context_types(ContextTypes(context=ApartContext))
        .concurrent_updates(PerUserUpdateProcessor())
        .post_init(_start_up)
        .post_shutdown(_shut_down)
    )
    # Edits and button answers that fail on the way are tried again (see bot/retry.py).
    inner = request or HTTPXRequest(connection_pool_size=256)
    builder = builder.request(RetryingRequest(inner, first_delay=retry_delay))
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if rate_limit:
        # PTB's builder types this slot for rate limiters without per-call arguments.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application: ApartApplication = builder.build()
    application.bot_data["services"] = services

    register_handlers(application)
    return application


def register_handlers(application: ApartApplication) -> None:
    """Wire the gate, every conversation and the aftercare, group by group."""
    from conversations import (
        admin,
        assessment,
        caseload,
        digest,
        enrol,
        register,
        reminders,
        report,
        start,
        typed,
    )

    application.add_handler(TypeHandler(Update, access.gate), group=GATE_GROUP)
    application.add_handlers(enrol.handlers(), group=ENROL_GROUP)
    flows = (start, register, caseload, admin, assessment, reminders, digest, report, typed)
    for flow in flows:
        application.add_handlers(flow.handlers(), group=FLOW_GROUP)
    application.add_handler(TypeHandler(Update, _finish_button_press), group=AFTERCARE_GROUP)
    application.add_handlers(assessment.aftercare_handlers(), group=AFTERCARE_GROUP + 1)
    application.add_handler(TypeHandler(Update, _reachable_again), group=AFTERCARE_GROUP + 2)
    application.add_error_handler(_report_error)


async def _start_up(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Set the command menu, the idle timers of open drafts, then the scheduled jobs."""
    from bot import jobs
    from conversations import assessment

    await _set_command_menu(application)
    await assessment.restore_idle_timers(application)
    await jobs.schedule_jobs(application)


async def _shut_down(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the chart worker processes, if any were started."""
    from bot import charts

    await charts.close_drawer(application)


async def _set_command_menu(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    await application.bot.set_my_commands(COMMANDS)


async def _reachable_again(update: Update, context: ApartContext) -> None:
    """Someone the bot could not reach wrote to it: reminders and digests reach them again."""
    staff = context.staff
    # The gate's staff row says whether there is a mark to clear, so most updates skip the
    # read. A mark set after that row was read is cleared by the person's next update.
    if (
        staff is not None
        and staff.unreachable
        and await context.services.store.mark_reachable(staff)
    ):
        logger.info("Staff %s wrote again; sending to them again", staff.id)


async def _finish_button_press(update: Update, context: ApartContext) -> None:
    """Answer any button press a handler left unanswered, so no phone keeps spinning."""
    await answer(context)


async def _report_error(update: object, context: ApartContext) -> None:
    """Log a failure and tell the practitioner briefly; drafts stay where they were."""
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("Update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if not access.was_admitted(update, context):
        return
    text = (
        "Sorry, something went wrong on our side. Everything you had answered is saved. "
        "Send /assess to carry on."
    )
    if isinstance(context.error, StorageUnavailableError):
        text = (
            "Sorry, I could not save that: the bot's storage is full or cannot be written "
            "just now. Your earlier answers are safe and your draft is where you left it. "
            "Please try that again later; if it keeps happening, tell your administrator."
        )
    try:
        await send(context, screen(html.escape(text)), chat_id=update.effective_chat.id)
    except TelegramError as error:
        # Telegram is failing as a whole; the log has the cause, and nothing is lost.
        logger.warning("Could not tell the practitioner about it: %s", error.message)
