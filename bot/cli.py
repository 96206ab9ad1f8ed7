"""The `apart-bot` command line. Heavy libraries are imported by the command that needs them."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

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
    demo.set_defaults(command=_demo)

    migrate = commands.add_parser("migrate", help="apply database migrations and stop")
    migrate.set_defaults(command=_migrate)

    team = commands.add_parser("team", help="manage teams")
    team_commands = team.add_subparsers(required=True, metavar="ACTION")
    team_add = team_commands.add_parser("add", help="create a team")
    team_add.add_argument("name")
    team_add.set_defaults(command=_team_add)

    staff = commands.add_parser("staff", help="manage staff")
    staff_commands = staff.add_subparsers(required=True, metavar="ACTION")
    staff_add = staff_commands.add_parser("add", help="enrol a Telegram user as staff")
    staff_add.add_argument("telegram_user_id", type=int)
    staff_add.add_argument("--team", required=True, help="team name (created if new)")
    staff_add.add_argument(
        "--role", choices=["practitioner", "lead", "admin"], default="practitioner"
    )
    staff_add.set_defaults(command=_staff_add)
    return parser


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
        for leftover in db_path.parent.glob(f"{db_path.name}*"):
            leftover.unlink()
    settings = _settings(APART_DB_PATH=db_path)
    if args.script is not None:
        script: str | None = args.script.read_text(encoding="utf-8")
        interactive = False
    else:
        script = None if args.no_script else shipped_script()
        interactive = sys.stdin.isatty()
    return asyncio.run(run_demo(settings, script=script, interactive=interactive))


def _migrate(args: argparse.Namespace) -> int:
    from bot.store import Store

    settings = _settings()

    async def migrate() -> int:
        store = await Store.open(settings.db_path)
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
        store = await Store.open(settings.db_path)
        try:
            return await store.add_team(args.name)
        finally:
            await store.close()

    team_id = asyncio.run(add())
    print(f"Team {args.name!r} is ready (id {team_id}).")
    return 0


def _staff_add(args: argparse.Namespace) -> int:
    from bot.store import Role, Store

    settings = _settings()

    async def add() -> None:
        store = await Store.open(settings.db_path)
        try:
            team_id = await store.add_team(args.team)
            await store.enrol(args.telegram_user_id, team_id, Role(args.role))
        finally:
            await store.close()

    asyncio.run(add())
    print(f"Telegram user {args.telegram_user_id} is enrolled as {args.role} of {args.team!r}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
