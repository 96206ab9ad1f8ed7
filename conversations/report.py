"""/report: a team lead receives the team's outcomes report (or one case's) as a PDF."""

from __future__ import annotations

import html
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CommandHandler

from bot.chat import screen, send
from bot.clock import today
from bot.reports import ReportError, write_case_report, write_team_report
from bot.store import Role

if TYPE_CHECKING:
    from telegram import Update

    from bot.app import ApartContext

logger = logging.getLogger(__name__)

NOT_A_LEAD = (
    "Reports are for team leads. Ask your lead for the team's report, or send /cases to see "
    "your own caseload."
)


async def send_report(update: Update, context: ApartContext) -> None:
    """/report: the lead's team report; /report REF: one case's progress report."""
    staff = context.require_staff()
    if staff.role is not Role.LEAD or staff.team_id is None:
        await send(context, screen(NOT_A_LEAD))
        return

    services = context.services
    team = await services.store.team_name(staff.team_id)
    reference = context.args[0] if context.args else None
    what = f"the report for {reference}" if reference else f"the report for {team}"
    await send(context, screen(f"Preparing {html.escape(what)}. This takes a few seconds."))

    with tempfile.TemporaryDirectory(prefix="apart-report-") as folder:
        path = Path(folder) / "report.pdf"
        try:
            if reference:
                await write_case_report(services, path, reference=reference, viewer=staff)
            else:
                await write_team_report(services, path, team=team, viewer=staff)
        except ReportError as error:
            await send(context, screen(html.escape(str(error))))
            return
        pdf = path.read_bytes()

    day = today(services.clock, services.tz)
    name = _file_name(reference or team or "team", day.isoformat())
    logger.info("Report sent to staff %s (%s bytes)", staff.id, len(pdf))
    await context.bot.send_document(
        staff.telegram_user_id,
        pdf,
        filename=name,
        caption="Outcomes report. It holds case references only; store it securely.",
    )


def _file_name(subject: str, day: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in subject.lower()).strip("-")
    return f"apart-{slug}-{day}.pdf"


def handlers() -> list[BaseHandler[Update, ApartContext, Any]]:
    """/report."""
    return [CommandHandler("report", send_report)]
