"""The log of a whole case's assessments holds no answers, notes or Telegram names."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from apart_engine import default_instrument
from bot.logs import CHATTY, REVEALING, configure_logging
from tests.support.steps import assessment_steps, play
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bot.runtime import StandInBot

FIRST_NAME = "Quillon"


@pytest.fixture
def verbose_service_logging() -> Iterator[None]:
    """The library levels `apart-bot -v run` sets, put back as they were afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libraries = {name: logging.getLogger(name).level for name in (*REVEALING, *CHATTY)}
    configure_logging("text", verbose=True)
    root.handlers[:] = handlers
    yield
    root.setLevel(level)
    for name, library_level in libraries.items():
        logging.getLogger(name).setLevel(library_level)


def _secrets(vignette: dict[str, Any]) -> list[str]:
    """Every note, and every typed or chosen background answer long enough to be telling."""
    found = [note for a in vignette["assessments"] for note in a.get("notes", {}).values()]
    for value in vignette["background"].values():
        values = value if isinstance(value, list) else [value]
        found += [str(v) for v in values if len(str(v)) >= 6]
    return [FIRST_NAME, *found]


@pytest.mark.usefixtures("verbose_service_logging")
async def test_a_whole_case_leaves_no_answer_note_or_name_in_the_log(
    running: StandInBot, caplog: pytest.LogCaptureFixture
) -> None:
    vignette = json.loads((VIGNETTES_DIR / "YP-A1.json").read_text("utf-8"))
    client = running.client(5001, FIRST_NAME)
    caplog.set_level(logging.DEBUG)

    for index in range(len(vignette["assessments"])):
        await play(
            client, assessment_steps(default_instrument(), vignette, index, register=not index)
        )

    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "Assessment" in logged, "the run logged its own events"
    for secret in _secrets(vignette):
        assert secret not in logged, f"{secret!r} reached the log"
