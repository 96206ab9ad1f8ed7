"""Scheduled work: the daily reminder sweep and the leads' weekly digest.

Both are set up at start-up through python-telegram-bot's job queue (APScheduler) under
fixed job ids, so setting them up twice replaces rather than doubles them. Each run records
the scheduled moment it served; at start-up a run whose moment passed while the bot was down
happens at once. What was sent is claimed in the store before sending, so a restart, a
second run or a second instance on the same database never sends the same thing twice.
Nothing is sent in the quiet hours, nor at weekends unless APART_WEEKEND_SENDING is set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bot.charts import ChartDrawer, drawer_for
from bot.clock import today
from bot.config import in_quiet_hours
from bot.errors import ConfigError
from bot.sender import Outcome, sender_for
from conversations.digest import build_digest
from conversations.reminders import due_reminders, reminder_screen

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.app import ApartApplication, ApartContext, Services
    from bot.config import Settings
    from bot.sender import Sender

logger = logging.getLogger(__name__)

# Outcomes after which the message is not sent again: even a partial delivery, since a part
# sent twice would confuse more than one that is missing.
_DELIVERED = (Outcome.SENT, Outcome.UNCERTAIN, Outcome.PARTIAL)
SWEEP_JOB = "apart-reminder-sweep"
DIGEST_JOB = "apart-weekly-digest"


@dataclass
class RunReport:
    """What one run did, for logs and tests."""

    ran: bool = True
    sent: list[int] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def may_send(settings: Settings, moment: datetime) -> bool:
    """Whether proactive messages may go out at this moment (quiet hours, weekends)."""
    local = moment.astimezone(settings.tz)
    if local.weekday() >= 5 and not settings.weekend_sending:
        return False
    window = settings.quiet_window
    return window is None or not in_quiet_hours(local.time().replace(tzinfo=None), window)


def latest_slot(moment: datetime, at: time, tz: ZoneInfo, weekday: int | None = None) -> datetime:
    """The most recent local `at` (on `weekday`, if given) at or before `moment`."""
    local_day = moment.astimezone(tz).date()
    for back in range(8):
        day = local_day - timedelta(days=back)
        slot = datetime.combine(day, at, tzinfo=tz)
        if slot <= moment and (weekday is None or day.weekday() == weekday):
            return slot
    raise AssertionError("a weekly slot always falls within eight days")


async def run_reminder_sweep(services: Services, sender: Sender, slot: datetime) -> RunReport:
    """Send each practitioner one message listing their cases due soon and overdue."""
    now = services.clock.now()
    if not may_send(services.settings, now):
        logger.info("Reminder sweep skipped: quiet hours or weekend")
        return RunReport(ran=False)

    store, report = services.store, RunReport()
    on = today(services.clock, services.tz)
    for recipient in await store.reminder_recipients():
        cases = await store.caseload(recipient)
        due = due_reminders(services.instrument, cases, on, services.settings.due_soon_days)
        claim = await store.claim_reminders(recipient, due, on)
        if not claim.claimed:
            continue
        shown = [item for item in due if item.young_person_id not in claim.snoozed]
        outcome = await sender.deliver(recipient, reminder_screen(shown))
        delivered = outcome in _DELIVERED
        await store.settle_reminders(recipient, claim.claimed, sent=delivered)
        _tally(report, recipient.id, outcome)
    await store.record_job_run(SWEEP_JOB, slot)
    logger.info("Reminder sweep: %d sent, %d failed", len(report.sent), len(report.failed))
    return report


async def run_weekly_digest(
    services: Services, sender: Sender, slot: datetime, drawer: ChartDrawer | None = None
) -> RunReport:
    """Send every team lead their team's digest for the week of `slot`, once.

    The team charts are drawn by `drawer`; without one, by worker processes of this run's own.
    """
    if not may_send(services.settings, services.clock.now()):
        logger.info("Weekly digest skipped: quiet hours or weekend")
        return RunReport(ran=False)
    if drawer is None:
        own = ChartDrawer()
        try:
            return await run_weekly_digest(services, sender, slot, own)
        finally:
            await own.aclose()

    store, report = services.store, RunReport()
    week_of = slot.astimezone(services.tz).date()
    for lead in await store.digest_recipients():
        if lead.team_id is None or not await store.claim_digest(lead, week_of):
            continue
        team = await store.team_name(lead.team_id) or "Your team"
        view, chart = await build_digest(services, lead, team, drawer)
        outcome = await sender.deliver(lead, view, photos=(chart,))
        delivered = outcome in _DELIVERED
        await store.settle_digest(lead, week_of, sent=delivered)
        _tally(report, lead.id, outcome)
    await store.record_job_run(DIGEST_JOB, slot)
    logger.info("Weekly digest: %d sent, %d failed", len(report.sent), len(report.failed))
    return report


async def schedule_jobs(application: ApartApplication) -> None:
    """Set up the sweep and the digest (replacing any already set up), then catch up."""
    job_queue = application.job_queue
    if job_queue is None:
        raise ConfigError(
            "The job queue is missing, so no reminders or digests can be sent: install "
            "python-telegram-bot with its job-queue extra (pip install -e .)."
        )
    services = _services(application)
    settings, tz = services.settings, services.tz
    job_queue.run_daily(
        _sweep_callback,
        time=settings.reminder_time.replace(tzinfo=tz),
        name=SWEEP_JOB,
        job_kwargs={"id": SWEEP_JOB, "replace_existing": True},
    )
    job_queue.run_daily(
        _digest_callback,
        time=settings.digest_time.replace(tzinfo=tz),
        days=(_ptb_day(settings.digest_weekday),),
        name=DIGEST_JOB,
        job_kwargs={"id": DIGEST_JOB, "replace_existing": True},
    )
    await catch_up(services, sender_for(application))


async def catch_up(services: Services, sender: Sender) -> list[str]:
    """Run each job whose latest scheduled moment passed without a run; return their names."""
    now, settings, tz = services.clock.now(), services.settings, services.tz
    due = [
        (SWEEP_JOB, latest_slot(now, settings.reminder_time, tz), run_reminder_sweep),
        (
            DIGEST_JOB,
            latest_slot(now, settings.digest_time, tz, settings.digest_weekday),
            run_weekly_digest,
        ),
    ]
    caught = []
    for name, slot, run in due:
        last = await services.store.last_job_slot(name)
        if last is not None and last >= slot:
            continue
        logger.info("Running %s for %s, missed while the bot was down", name, slot.isoformat())
        if (await run(services, sender, slot)).ran:
            caught.append(name)
    return caught


async def _sweep_callback(context: ApartContext) -> None:
    services = context.services
    slot = latest_slot(services.clock.now(), services.settings.reminder_time, services.tz)
    await run_reminder_sweep(services, sender_for(context.application), slot)


async def _digest_callback(context: ApartContext) -> None:
    services = context.services
    settings = services.settings
    slot = latest_slot(
        services.clock.now(), settings.digest_time, services.tz, settings.digest_weekday
    )
    application = context.application
    await run_weekly_digest(services, sender_for(application), slot, drawer_for(application))


def _tally(report: RunReport, staff_id: int, outcome: Outcome) -> None:
    if outcome is Outcome.UNREACHABLE:
        report.unreachable.append(staff_id)
    elif outcome in (Outcome.FAILED, Outcome.PARTIAL):
        report.failed.append(staff_id)
    else:
        report.sent.append(staff_id)


def _ptb_day(weekday: int) -> int:
    """PTB counts days from Sunday (0) to Saturday (6); Python from Monday (0)."""
    return (weekday + 1) % 7


def _services(application: Any) -> Services:
    from bot.app import Services

    services = application.bot_data["services"]
    assert isinstance(services, Services)
    return services
