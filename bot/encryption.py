"""The database file, plain or encrypted with SQLCipher: opening it, copying it, encrypting it.

With a key, every connection is a `sqlcipher3` connection whose first statement is the key
pragma; without one it is the standard library's `sqlite3`. Both speak DB-API 2.0, but their
exception and row classes are distinct, so callers use `INTEGRITY_ERRORS` and `row_type`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

# sqlcipher3 ships no type information; its interface is sqlite3's.
import sqlcipher3  # type: ignore[import-untyped]

from bot.errors import StoreError
from bot.private_files import create_private

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

FileState = Literal["missing", "plain", "encrypted"]

# Every plain SQLite file starts with these 16 bytes; an SQLCipher file starts with a salt.
SQLITE_HEADER = b"SQLite format 3\x00"

INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, sqlcipher3.IntegrityError)
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.DatabaseError, sqlcipher3.DatabaseError)


class WrongKeyError(StoreError):
    """APART_DB_KEY does not open the database, or the database needs a key and has none."""


def file_state(path: Path) -> FileState:
    """Whether the file is missing (or empty), a plain SQLite database, or something else."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return "missing"
    if not header:
        return "missing"
    return "plain" if header == SQLITE_HEADER else "encrypted"


def connect(path: Path, key: str | None) -> sqlite3.Connection:
    """A connection in autocommit mode, keyed first when `key` is given."""
    if key is None:
        return sqlite3.connect(str(path), isolation_level=None)
    connection: Any = sqlcipher3.connect(str(path), isolation_level=None)
    # PRAGMA takes no bound parameters, so the key is quoted as an SQL string literal.
    connection.execute(f"PRAGMA key = {_quoted(key)}")
    # A wrong key is reported by our own message; SQLCipher's would go to stderr.
    connection.execute("PRAGMA cipher_log_level = NONE")
    # Same interface as sqlite3.Connection; typed as it so callers need not care.
    return connection  # type: ignore[no-any-return]


def connector(path: Path, key: str | None) -> Callable[[], sqlite3.Connection]:
    """A connection factory for aiosqlite, which opens the connection on its own thread."""
    return lambda: connect(path, key)


def row_type(key: str | None) -> type[Any]:
    """The row factory that fits connections made with this key."""
    return sqlite3.Row if key is None else sqlcipher3.Row


def check_opens(path: Path, key: str | None) -> FileState:
    """Refuse, changing nothing, a file that the key (or its absence) cannot open."""
    state = file_state(path)
    if state == "missing":
        return state
    if key is None and state == "encrypted":
        raise WrongKeyError(
            f"{path} is encrypted (or is not a database): set APART_DB_KEY to its key."
        )
    if key is not None and state == "plain":
        raise WrongKeyError(
            f"{path} is a plain, unencrypted database but APART_DB_KEY is set. Encrypt it "
            "first with `apart-bot encrypt-db`, or unset APART_DB_KEY."
        )
    if key is not None:
        _read_schema(path, key)
    return state


def _read_schema(path: Path, key: str | None) -> None:
    connection = connect(path, key)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DATABASE_ERRORS:
        raise WrongKeyError(
            f"APART_DB_KEY does not open {path}: the key is wrong. Nothing was changed. "
            "Set the key the database was encrypted with."
        ) from None
    finally:
        connection.close()


def backup(source: Path, target: Path, key: str | None) -> None:
    """Copy a live database with SQLite's online backup; an encrypted one stays encrypted.

    The copy is made beside `target` and renamed into place once it passes an integrity
    check, so a failed backup never leaves a half-written file under the chosen name.
    """
    check_opens(source, key)
    if file_state(source) == "missing":
        raise StoreError(f"There is no database at {source} to back up.")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    # An empty file is an empty database to SQLite; creating it first makes the copy 0600.
    create_private(partial)
    reader = connect(source, key)
    writer = connect(partial, key)
    try:
        reader.backup(writer)
    finally:
        writer.close()
        reader.close()
    verify(partial, key)
    os.replace(partial, target)
    logger.info("Backed up the database (%s)", "encrypted" if key else "plain")


def verify(path: Path, key: str | None) -> int:
    """Check a database file opens with `key` and passes SQLite's integrity check."""
    check_opens(path, key)
    connection = connect(path, key)
    try:
        result = connection.execute("PRAGMA integrity_check").fetchone()
        version = connection.execute("PRAGMA user_version").fetchone()
    finally:
        connection.close()
    if result is None or result[0] != "ok":
        raise StoreError(f"{path} failed SQLite's integrity check: {result[0] if result else ''}")
    return int(version[0]) if version else 0


def reencrypt(path: Path, old_key: str | None, new_key: str) -> None:
    """Encrypt a plain database (or change an encrypted one's key) safely in place.

    The data is exported to a new file beside the old, which is checked (it opens with the
    new key, passes the integrity check, and holds the same rows) before it replaces the old
    file in one rename. Stop the bot first: a running bot would keep writing to the old file.
    """
    if file_state(path) == "missing":
        raise StoreError(f"There is no database at {path} to encrypt.")
    check_opens(path, old_key)
    fresh = path.with_name(f".{path.name}.encrypting")
    fresh.unlink(missing_ok=True)

    source: Any = sqlcipher3.connect(str(path), isolation_level=None)
    try:
        if old_key is not None:
            source.execute(f"PRAGMA key = {_quoted(old_key)}")
        # Fold the write-ahead log in, so the export sees every committed row.
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = _row_counts(source)
        version = source.execute("PRAGMA user_version").fetchone()[0]
        source.execute("ATTACH DATABASE ? AS fresh KEY ?", (str(fresh), new_key))
        source.execute("SELECT sqlcipher_export('fresh')")
        # sqlcipher_export copies the schema and rows but not the user_version.
        source.execute(f"PRAGMA fresh.user_version = {int(version)}")
        source.execute("DETACH DATABASE fresh")
    finally:
        source.close()

    try:
        verify(fresh, new_key)
        check = connect(fresh, new_key)
        try:
            if _row_counts(check) != counts:
                raise StoreError("The encrypted copy does not hold the same rows; not swapped.")
        finally:
            check.close()
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(fresh, path)
    logger.info("Database encrypted in place")


def _row_counts(connection: Any) -> dict[str, int]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    # Table names come from sqlite_master itself, quoted as identifiers.
    return {
        name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables
    }


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
