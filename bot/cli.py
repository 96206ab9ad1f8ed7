"""The `apart-bot` command line. Heavy libraries are imported by the command that needs them."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot import admin_cli
from bot.arguments import new_file

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.config import Settings

logger = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `apart-bot` command and return its exit status."""
    # Telegram's retry_after as a timedelta, without PTB's deprecation warning.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)

    from bot.errors import ApartError

    try:
        return int(args.command(args))
    except ApartError as error:
        print(f"apart-bot: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # A file or folder named on the command line or in the settings cannot be used.
        where = f" {error.filename}" if error.filename else ""
        print(f"apart-bot: cannot use{where}: {error.strerror or error}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apart-bot",
        description="APART risk and resilience assessments in a Telegram chat.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="poll Telegram with the configured token")
    run.set_defaults(command=_run)

    demo = commands.add_parser("demo", help="the bot in this terminal, no Telegram needed")
    demo.add_argument(
        "--script",
        type=Path,
        help="replay inputs from FILE instead of the shipped YP-A1 baseline, then stop",
    )
    demo.add_argument("--no-script", action="store_true", help="skip the shipped script")
    demo.add_argument(
        "--db", type=Path, help="demo database (default: a fresh .apart-demo/demo.db)"
    )
    demo.add_argument(
        "--cohort",
        action="store_true",
        help="seed a synthetic cohort first, so /progress, /digest and /report have data",
    )
    demo.set_defaults(command=_demo)

    migrate = commands.add_parser("migrate", help="apply database migrations and stop")
    migrate.set_defaults(command=_migrate)

    check = commands.add_parser(
        "check", help="check settings, instrument, database and token; say how to fix them"
    )
    check.set_defaults(command=_check)

    team = commands.add_parser("team", help="manage teams")
    team_commands = team.add_subparsers(required=True, metavar="ACTION")
    team_add = team_commands.add_parser("add", help="create a team")
    team_add.add_argument("name")
    team_add.set_defaults(command=_team_add)

    staff = commands.add_parser("staff", help="manage staff")
    staff_commands = staff.add_subparsers(required=True, metavar="ACTION")
    staff_add = staff_commands.add_parser("add", help="enrol a Telegram user as staff")
    staff_add.add_argument("telegram_user_id", type=int)
    staff_add.add_argument("--team", required=True, help="the team's name (see `team add`)")
    staff_add.add_argument(
        "--role", choices=["practitioner", "lead", "admin"], default="practitioner"
    )
    staff_add.set_defaults(command=_staff_add)
    _add_outcome_commands(commands)
    admin_cli.register(commands, staff_commands)
    return parser


_PLAIN_HELP = "confirm a plain file may be written from an encrypted database"


def _add_outcome_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report", help="write a PDF: a team's outcomes, or one young person's progress"
    )
    scope = report.add_mutually_exclusive_group()
    scope.add_argument("--team", help="the team to report on (default: every team)")
    scope.add_argument("--case", metavar="REF", help="one young person's progress instead")
    report.add_argument("--from", dest="from_date", type=_iso_date, help="YYYY-MM-DD")
    report.add_argument("--to", dest="to_date", type=_iso_date, help="YYYY-MM-DD (default today)")
    report.add_argument("--out", type=new_file, required=True, help="the PDF file to write")
    report.add_argument(
        "--min-group",
        type=int,
        default=5,
        help="hide the figures of groups smaller than this (default 5)",
    )
    report.add_argument(
        "--split", default="living_situation", help="background question to split figures by"
    )
    report.add_argument(
        "--with-notes", action="store_true", help="include practitioners' notes (--case only)"
    )
    report.add_argument("--plain", action="store_true", help=_PLAIN_HELP)
    report.set_defaults(command=_report)

    export = commands.add_parser(
        "export", help="write every submitted assessment as CSV or XLSX, with a data dictionary"
    )
    export.add_argument("--format", choices=["csv", "xlsx"], required=True)
    export.add_argument("--out", type=new_file, required=True, help="the file to write")
    export.add_argument("--team", help="only this team (default: every team)")
    export.add_argument("--plain", action="store_true", help=_PLAIN_HELP)
    export.set_defaults(command=_export)

    seed = commands.add_parser(
        "seed-demo", help="fill an empty database with a clearly labelled synthetic cohort"
    )
    seed.add_argument("--young-people", type=int, metavar="N", help="default 52")
    seed.add_argument("--months", type=int, metavar="M", help="default 12")
    seed.add_argument("--seed", type=int, metavar="S", help="default 2041")
    seed.add_argument(
        "--until", type=_iso_date, help="last day of the cohort, YYYY-MM-DD (default today)"
    )
    seed.set_defaults(command=_seed_demo)


def _configure_logging(verbose: bool) -> None:
    from bot.logs import configure_logging

    configure_logging("text", verbose=verbose)


def _settings(**overrides: object) -> Settings:
    from bot.config import load_settings
    from bot.logs import configure_logging

    settings = load_settings(**overrides)
    # Logging starts as text so that a settings error can be logged; now the format is known.
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    configure_logging(settings.log_format, verbose=verbose)
    return settings


def _run(args: argparse.Namespace) -> int:
    from bot.runtime import serve

    settings = _settings()
    asyncio.run(serve(settings, settings.require_token()))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import DEFAULT_DB, run_demo, shipped_script

    db_path: Path = args.db or DEFAULT_DB
    if args.db is None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # A fresh demo every time: last run's database, charts and reports go.
        for pattern in (f"{db_path.name}*", "*.png", "*.pdf"):
            for leftover in db_path.parent.glob(pattern):
                leftover.unlink()
    settings = _settings(APART_DB_PATH=db_path)
    if not args.verbose:
        # The transcript is the demo's output; routine log lines would only interrupt it.
        logging.getLogger().setLevel(logging.WARNING)
    if args.script is not None:
        script: str | None = args.script.read_text(encoding="utf-8")
        interactive = False
    else:
        script = None if args.no_script else shipped_script()
        interactive = sys.stdin.isatty()
    showcase = args.script is None and not args.no_script
    return asyncio.run(
        run_demo(
            settings,
            script=script,
            interactive=interactive,
            cohort=args.cohort,
            showcase=showcase,
        )
    )


def _check(args: argparse.Namespace) -> int:
    from bot.check import Level, run_checks

    findings = asyncio.run(run_checks())
    for finding in findings:
        print(finding.line())
    failed = sum(finding.level is Level.FAIL for finding in findings)
    if failed:
        print(f"{failed} problem(s) to fix before `apart-bot run`.")
        return 1
    print("Ready to run.")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from bot.store import Store

    settings = _settings()

    async def migrate() -> int:
        store = await Store.open(settings.db_path, key=settings.key)
        try:
            return await store.schema_version()
        finally:
            await store.close()

    version = asyncio.run(migrate())
    print(f"{settings.db_path} is at schema version {version}.")
    return 0


def _team_add(args: argparse.Namespace) -> int:
    from bot.store import Store

    settings = _settings()

    async def add() -> int:
        store = await Store.open(settings.db_path, key=settings.key)
        try:
            return await store.add_team(args.name)
        finally:
            await store.close()

    team_id = asyncio.run(add())
    print(f"Team {args.name!r} is ready (id {team_id}).")
    return 0


def _staff_add(args: argparse.Namespace) -> int:
    from bot.errors import UnknownTeamError
    from bot.store import Role, Store

    settings = _settings()

    async def add() -> None:
        store = await Store.open(settings.db_path, key=settings.key)
        try:
            team_id = await store.team_id(args.team)
            if team_id is None:
                known = ", ".join(repr(name) for _, name in await store.teams()) or "none yet"
                raise UnknownTeamError(
                    f"There is no team {args.team!r} (the teams are: {known}). Create it with "
                    "`apart-bot team add NAME` first."
                )
            await store.enrol(args.telegram_user_id, team_id, Role(args.role))
        finally:
            await store.close()

    asyncio.run(add())
    print(f"Telegram user {args.telegram_user_id} is enrolled as {args.role} of {args.team!r}.")
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-31") from None


def _refuse_plain_copy(settings: Settings, args: argparse.Namespace, what: str) -> None:
    from bot.errors import ConfigError

    if settings.key is not None and not args.plain:
        raise ConfigError(
            f"The database is encrypted but {what} is a plain file. Add --plain to confirm, "
            "and keep the file somewhere as safe as the database."
        )


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def _report(args: argparse.Namespace) -> int:
    from bot.reports import write_case_report, write_team_report
    from bot.runtime import open_services

    settings = _settings()
    if args.case:
        _refuse_plain_copy(settings, args, "a case report")
    if args.with_notes and not args.case:
        print(
            "apart-bot: --with-notes goes with --case; a team report never shows notes.",
            file=sys.stderr,
        )
        return 2

    async def write() -> str:
        async with open_services(settings) as services:
            if args.case:
                _progress(f"reading {args.case}")
                case = await write_case_report(
                    services, args.out, reference=args.case, with_notes=args.with_notes
                )
                return f"{case.pages} pages, {case.assessments} assessments"
            team = await write_team_report(
                services,
                args.out,
                team=args.team,
                from_date=args.from_date,
                to_date=args.to_date,
                min_group=args.min_group,
                split=args.split,
                progress=_progress,
            )
            return f"{team.pages} pages, {team.young_people} young people"

    summary = asyncio.run(write())
    print(f"Wrote {args.out} ({summary}).")
    return 0


def _export(args: argparse.Namespace) -> int:
    from bot.export import export_to
    from bot.runtime import open_services

    settings = _settings()
    _refuse_plain_copy(settings, args, "an export")

    async def write() -> tuple[list[Path], int]:
        async with open_services(settings) as services:
            _progress("reading submitted assessments")
            return await export_to(services, args.format, args.out, team=args.team)

    files, rows = asyncio.run(write())
    print(f"Wrote {rows} assessments to {' and '.join(str(f) for f in files)}.")
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, time

    from bot.clock import FixedClock
    from bot.runtime import open_services
    from bot.seed import seed_cohort

    settings = _settings()
    until = args.until or datetime.now(settings.tz).date()
    # A clock fixed at the cohort's end makes every stored timestamp repeatable from the seed.
    clock = FixedClock(datetime.combine(until, time(12), tzinfo=UTC))

    def progress(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            _progress(f"{done} of {total} synthetic young people")

    async def seed() -> str:
        async with open_services(settings, clock=clock) as services:
            chosen = {"young_people": args.young_people, "months": args.months, "seed": args.seed}
            summary = await seed_cohort(
                services.store,
                services.instrument,
                until=until,
                tz=settings.tz,
                progress=progress,
                **{name: value for name, value in chosen.items() if value is not None},
            )
        return (
            f"{summary.young_people} synthetic young people and {summary.assessments} "
            f"assessments from {summary.first_date} to {summary.last_date}"
        )

    written = asyncio.run(seed())
    print(f"Wrote {written} to {settings.db_path}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
