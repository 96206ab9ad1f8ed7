"""Log lines: one per event, text or JSON, stamped with the update and the staff id only."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import pytest

from bot.logs import (
    TEXT_FORMAT,
    JsonFormatter,
    OneLineFormatter,
    UpdateContextFilter,
    configure_logging,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bot.harness import ChatClient
    from bot.store import Staff

SECRET_NOTE = "Sleeps at a friend's flat on Tuesdays"


@pytest.fixture
def lines() -> Iterator[list[logging.LogRecord]]:
    """Every record logged while the test runs, after the context filter stamped it."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(UpdateContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    # The level `apart-bot run` logs at.
    root.setLevel(logging.INFO)
    yield records
    root.setLevel(level)
    root.removeHandler(handler)


class TestLogContext:
    async def test_every_line_of_an_update_names_the_update_and_the_staff_id(
        self,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        lines: list[logging.LogRecord],
    ) -> None:
        await practitioner.send("/new")
        await practitioner.send("YP-Z9")
        await practitioner.tap("Start the baseline")
        ours = [r for r in lines if r.name.startswith(("bot", "conversations"))]
        assert ours
        handled = [r for r in ours if _ids(r)[0] != "-"]
        assert handled
        assert {_ids(r)[1] for r in handled} == {practitioner_staff.id}

    async def test_nothing_typed_or_the_telegram_name_reaches_the_log(
        self, practitioner: ChatClient, lines: list[logging.LogRecord]
    ) -> None:
        await practitioner.send("/new")
        await practitioner.send("YP-Z9")
        await practitioner.tap("Start the baseline")
        await practitioner.send(SECRET_NOTE)
        await practitioner.send(SECRET_NOTE)
        text = "\n".join(OneLineFormatter(TEXT_FORMAT).format(r) for r in lines)
        assert SECRET_NOTE not in text
        assert "Alex" not in text

    def test_verbose_logging_keeps_libraries_that_log_texts_and_names_at_info(self) -> None:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            configure_logging("text", verbose=True)
            assert root.level == logging.DEBUG
            for name in ("telegram.ext.ExtBot", "telegram.Bot", "aiosqlite"):
                assert not logging.getLogger(name).isEnabledFor(logging.DEBUG)
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)

    def test_outside_an_update_the_ids_are_dashes(self, lines: list[logging.LogRecord]) -> None:
        logging.getLogger("bot.test").info("Starting")
        assert _ids(lines[-1]) == ("-", "-")


class TestFormats:
    def _record(self) -> logging.LogRecord:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record = logging.LogRecord(
                "bot.x", logging.ERROR, __file__, 1, "Update %s failed", (7,), sys.exc_info()
            )
        UpdateContextFilter().filter(record)
        return record

    def test_text_keeps_a_traceback_on_the_same_line(self) -> None:
        line = OneLineFormatter(TEXT_FORMAT).format(self._record())
        assert "\n" not in line
        assert "ERROR bot.x [update=- staff=-]: Update 7 failed" in line
        assert "ValueError: boom" in line

    def test_json_is_one_object_per_line(self) -> None:
        line = JsonFormatter().format(self._record())
        assert "\n" not in line
        entry = json.loads(line)
        assert entry["message"] == "Update 7 failed"
        assert entry["level"] == "ERROR"
        assert entry["update_id"] is None
        assert "ValueError: boom" in entry["exception"]


def _ids(record: logging.LogRecord) -> tuple[object, object]:
    return getattr(record, "update_id", None), getattr(record, "staff_id", None)
