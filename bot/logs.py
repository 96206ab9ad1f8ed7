"""Log lines for an unattended service: one line per event, plain text or JSON.

Every line written while an update is handled carries that update's id and the internal
staff id of the person who sent it (never a Telegram name), so one practitioner's trouble
can be followed through the log without anything they typed being in it. The ids are kept
in context variables: the update processor binds the update, the gate binds the staff id.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]

_update_id: ContextVar[int | None] = ContextVar("apart_update_id", default=None)
_staff_id: ContextVar[int | None] = ContextVar("apart_staff_id", default=None)

TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [update=%(update_id)s staff=%(staff_id)s]: %(message)s"
)

# Libraries that would otherwise log every HTTP request or scheduler tick.
CHATTY = ("httpx", "httpcore", "apscheduler", "telegram.ext.Application", "tornado.access")
# Libraries whose debug lines carry message texts, names or SQL parameters: never below INFO,
# even with --verbose.
REVEALING = ("telegram", "aiosqlite")


def bind_update(update_id: int | None) -> tuple[Token[int | None], Token[int | None]]:
    """Bind an update id (and no staff yet) to the log lines of the current task."""
    return _update_id.set(update_id), _staff_id.set(None)


def unbind_update(tokens: tuple[Token[int | None], Token[int | None]]) -> None:
    """Put back what was bound before `bind_update`."""
    update_token, staff_token = tokens
    _staff_id.reset(staff_token)
    _update_id.reset(update_token)


def bind_staff(staff_id: int | None) -> None:
    """Bind the internal staff id of the person whose update is being handled."""
    _staff_id.set(staff_id)


class UpdateContextFilter(logging.Filter):
    """Adds `update_id` and `staff_id` to every record ("-" outside an update)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record with the ids bound to the current task; never drops it."""
        update_id = _update_id.get()
        staff_id = _staff_id.get()
        record.update_id = "-" if update_id is None else update_id
        record.staff_id = "-" if staff_id is None else staff_id
        return True


class OneLineFormatter(logging.Formatter):
    """Plain text with any traceback folded onto the same line, so one event is one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Format as usual, then escape line breaks."""
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record; the message is rendered from its %-style arguments."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "update_id": _none_for_dash(getattr(record, "update_id", None)),
            "staff_id": _none_for_dash(getattr(record, "staff_id", None)),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time, so a replaced stderr is followed."""

    @property
    def stream(self) -> TextIO:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        """Ignore the stream StreamHandler's constructor sets."""


def configure_logging(log_format: LogFormat = "text", *, verbose: bool = False) -> None:
    """Send every log line to stderr in the chosen format; turn chatty libraries down.

    Calling it again replaces its own handler and leaves any other (a test's) in place.
    """
    handler = StderrHandler()
    handler.addFilter(UpdateContextFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else OneLineFormatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in REVEALING:
        logging.getLogger(name).setLevel(logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)


def _none_for_dash(value: object) -> object:
    return None if value == "-" else value
