"""The operator's commands: invitations, staff, audit, export, erasure, retention, backups.

`bot.cli` wires these into `apart-bot`; like it, this module imports the store and the
settings only inside each command, so `apart-bot --help` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import os
import re
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.arguments import folder_to_fill, new_file
from bot.private_files import private_opener

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.config import Settings
    from bot.store import Store

_DURATION = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
ROLES = ("practitioner", "lead", "admin")


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    staff: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add the access and privacy commands to the `apart-bot` parser."""
    invite = commands.add_parser("invite", help="make a single-use invitation link")
    invite.add_argument("--team", help="the team they join (not needed for --role admin)")
    invite.add_argument("--role", choices=ROLES, default="practitioner")
    invite.add_argument(
        "--admin", action="store_true", help="a practitioner or lead who also administers"
    )
    invite.add_argument(
        "--expires", type=duration, default=timedelta(hours=72), help="e.g. 72h, 7d (72h)"
    )
    invite.set_defaults(command=_invite)

    staff_list = staff.add_parser("list", help="everyone enrolled, revoked or not")
    staff_list.set_defaults(command=_staff_list)

    revoke = commands.add_parser("revoke", help="revoke a member of staff at once")
    revoke.add_argument("telegram_user_id", type=int)
    revoke.set_defaults(command=_revoke)

    bootstrap = commands.add_parser(
        "bootstrap-admin", help="enrol the first administrator (only while there is none)"
    )
    bootstrap.add_argument("telegram_user_id", type=int)
    bootstrap.set_defaults(command=_bootstrap_admin)

    audit = commands.add_parser("audit", help="print the audit trail")
    audit.add_argument("--case", help="only entries about this case reference")
    audit.add_argument("--since", type=date.fromisoformat, help="from this day (YYYY-MM-DD)")
    audit.set_defaults(command=_audit)

    export = commands.add_parser(
        "export-case", help="write everything held about one case (JSON and CSV)"
    )
    export.add_argument("reference")
    export.add_argument(
        "--out", type=folder_to_fill, default=Path(), help="folder (default: here)"
    )
    export.add_argument(
        "--plain",
        action="store_true",
        help="confirm plain files may be written from an encrypted database",
    )
    export.set_defaults(command=_export_case)

    erase = commands.add_parser("erase-case", help="erase a case's answers, notes and scores")
    erase.add_argument("reference")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(command=_erase_case)

    retention = commands.add_parser(
        "retention", help="list closed cases past APART_RETENTION_MONTHS (--apply erases)"
    )
    retention.add_argument("--apply", action="store_true", help="erase the cases listed")
    retention.set_defaults(command=_retention)

    backup = commands.add_parser(
        "backup", help="copy the database safely while the bot runs (stays encrypted)"
    )
    backup.add_argument("path", type=new_file)
    backup.set_defaults(command=_backup)

    encrypt = commands.add_parser(
        "encrypt-db", help="encrypt a plain database in place with APART_DB_KEY (bot stopped)"
    )
    encrypt.add_argument(
        "--rotate",
        action="store_true",
        help="change the key instead: APART_DB_KEY opens it, APART_NEW_DB_KEY is the new key",
    )
    encrypt.set_defaults(command=_encrypt_db)


def duration(text: str) -> timedelta:
    """A duration such as 90m, 72h or 7d."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 72h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def actor() -> str:
    """Who runs the command, for the audit trail: the operating system's user name."""
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):
        # No user name in the environment or the password database; say so rather than fail.
        return "command line (unknown user)"


def _settings() -> Settings:
    from bot.config import load_settings

    return load_settings()


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    from bot.store import Store

    async def run() -> int:
        store = await Store.open(settings.db_path, key=settings.key)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _invite(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.errors import ConfigError
    from bot.store import Role
    from conversations.admin import invitation_link

    settings = _settings()
    role = Role(args.role)
    if role is not Role.ADMIN and not args.team:
        raise ConfigError("--team is needed for a practitioner or lead invitation.")

    async def work(store: Store) -> int:
        team_id = await store.team_id(args.team) if args.team else None
        if args.team and team_id is None:
            raise ConfigError(f"There is no team {args.team!r}: create it with `team add`.")
        expires = SystemClock().now() + args.expires
        code = await store.create_invitation(team_id, role, expires, None, is_admin=args.admin)
        print(f"Invitation code: {code}")
        print(f"Send this, to that person only: {invitation_link(settings.bot_username, code)}")
        local = expires.astimezone(settings.tz)
        print(f"It works once, until {local:%d %b %Y %H:%M} ({settings.timezone} time).")
        return 0

    return _with_store(settings, work)


def _staff_list(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        entries = await store.staff_list()
        if not entries:
            print("No one is enrolled yet. Start with `apart-bot bootstrap-admin TELEGRAM_ID`.")
        for entry in entries:
            staff = entry.staff
            role = staff.role.value + (" +admin" if staff.is_admin and staff.sees_cases else "")
            state = "REVOKED" if staff.revoked else "active"
            print(
                f"#{staff.id:<4} telegram {staff.telegram_user_id:<12} {role:<18} "
                f"{entry.team_name or '-':<16} cases {entry.cases:<4} {state}"
            )
        return 0

    return _with_store(_settings(), work)


def _revoke(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        revoked = await store.revoke(args.telegram_user_id, None, actor=actor())
        if revoked is None:
            print(f"No active member of staff has Telegram id {args.telegram_user_id}.")
            return 1
        print(
            f"Revoked #{revoked.id}: their next message is refused. Their cases and drafts "
            "stay; a lead can /transfer them."
        )
        return 0

    return _with_store(_settings(), work)


def _bootstrap_admin(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        staff = await store.bootstrap_admin(args.telegram_user_id)
        print(f"Telegram user {args.telegram_user_id} is the administrator (#{staff.id}).")
        print("They can now send /invite to the bot. This command will not work again.")
        return 0

    return _with_store(_settings(), work)


def _audit(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        young_person_id = None
        if args.case:
            case = await store.find_case(args.case)
            if case is None:
                print(f"There is no case {args.case!r}.", file=sys.stderr)
                return 1
            young_person_id = case.id
        since = datetime.combine(args.since, time(), tzinfo=UTC) if args.since else None
        for entry in await store.audit_entries(young_person_id=young_person_id, since=since):
            who = f"staff #{entry['staff_id']}" if entry["staff_id"] else "-"
            case_id = entry["young_person_id"] if entry["young_person_id"] is not None else "-"
            print(
                f"{entry['at']}  {entry['action']:<8} {who:<10} case {case_id!s:<5} "
                f"assessment {entry['assessment_id'] or '-'!s:<5} {entry['detail'] or ''}"
            )
        return 0

    return _with_store(_settings(), work)


def _export_case(args: argparse.Namespace) -> int:
    from bot.errors import ConfigError

    settings = _settings()
    if settings.key is not None and not args.plain:
        raise ConfigError(
            "The database is encrypted but an export is plain JSON and CSV. Add --plain to "
            "confirm, and keep the files somewhere as safe as the database."
        )

    async def work(store: Store) -> int:
        case = await store.find_case(args.reference)
        if case is None:
            print(f"There is no case {args.reference!r}.", file=sys.stderr)
            return 1
        record = await store.export_case(case.id, actor())
        json_path, csv_path = write_export(record, args.out)
        print(f"Wrote {json_path} and {csv_path}.")
        return 0

    return _with_store(settings, work)


def write_export(record: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write an export as one JSON file and one CSV of answers and notes; return the paths.

    CSV text that a spreadsheet would run as a formula (a note beginning with =, say) gets a
    leading ' (see `bot.export.inert`); the JSON keeps every text exactly as typed.
    """
    from bot.export import inert

    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", str(record["young_person"]["reference"]))
    json_path = folder / f"{stem}.json"
    csv_path = folder / f"{stem}.csv"
    with open(json_path, "w", encoding="utf-8", opener=private_opener) as handle:
        handle.write(json.dumps(record, indent=2, default=str))
    with open(csv_path, "w", newline="", encoding="utf-8", opener=private_opener) as handle:
        csv_writer = csv.writer(handle)

        def writerow(cells: list[Any]) -> None:
            csv_writer.writerow([inert(cell) for cell in cells])

        writerow(
            [
                "reference",
                "assessment_id",
                "kind",
                "status",
                "assessed_on",
                "item",
                "what",
                "value",
            ]
        )
        for assessment in record["assessments"]:
            lead = [
                record["young_person"]["reference"],
                assessment["id"],
                assessment["kind"],
                assessment["status"],
                assessment["assessed_on"] or "",
            ]
            for answer in assessment["answers"]:
                writerow([*lead, answer["item_id"], "answer", json.dumps(answer["value"])])
            for note in assessment["notes"]:
                writerow([*lead, note["item_id"], "note", note["text"]])
            for band in assessment["band_adjustments"]:
                value = f"{band['band']}: {band['reason']}"
                writerow([*lead, band["section_id"], "band adjustment", value])
    return json_path, csv_path


def _erase_case(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        case = await store.find_case(args.reference)
        if case is None:
            print(f"There is no case {args.reference!r}.", file=sys.stderr)
            return 1
        if not args.yes and not _confirmed(
            f"Erase every answer, note and score of {case.reference}? This cannot be undone."
        ):
            print("Nothing was erased.")
            return 1
        if not await store.erase_case(case.id, actor()):
            print(f"{case.reference} was already erased.")
            return 0
        print(f"Erased {case.reference}; the audit trail records it.")
        return 0

    return _with_store(_settings(), work)


def _retention(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock, today

    settings = _settings()

    async def work(store: Store) -> int:
        due = await store.retention_due(
            today(SystemClock(), settings.tz), settings.retention_months
        )
        months = settings.retention_months
        if not due:
            print(f"No closed case is older than {months} months.")
            return 0
        for case in due:
            done = ""
            if args.apply:
                await store.erase_case(case.id, f"retention after {months} months, {actor()}")
                done = "  erased"
            print(f"{case.reference:<20} closed {case.closed_on}{done}")
        if not args.apply:
            print(f"{len(due)} case(s) past {months} months. Run with --apply to erase them.")
        return 0

    return _with_store(settings, work)


def _backup(args: argparse.Namespace) -> int:
    from bot.encryption import backup

    settings = _settings()
    backup(settings.db_path, args.path, settings.key)
    state = "encrypted with APART_DB_KEY" if settings.key else "NOT encrypted"
    print(f"Backed up {settings.db_path} to {args.path} ({state}).")
    return 0


def _encrypt_db(args: argparse.Namespace) -> int:
    from bot.encryption import reencrypt
    from bot.errors import ConfigError

    settings = _settings()
    if settings.key is None:
        raise ConfigError("Set APART_DB_KEY to the key to encrypt the database with.")
    if args.rotate:
        new_key = os.environ.get("APART_NEW_DB_KEY", "")
        if len(new_key) < 12:
            raise ConfigError("Set APART_NEW_DB_KEY to the new key (12 characters or more).")
        reencrypt(settings.db_path, settings.key, new_key)
        print(f"{settings.db_path} now opens with the new key: set APART_DB_KEY to it.")
        return 0
    reencrypt(settings.db_path, None, settings.key)
    print(
        f"{settings.db_path} is encrypted. Keep APART_DB_KEY safe: without it, no one can read it."
    )
    return 0


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        print(f"{question} Add --yes to confirm when not at a terminal.", file=sys.stderr)
        return False
    return input(f"{question} Type yes to confirm: ").strip().lower() == "yes"
