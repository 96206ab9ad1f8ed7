"""The assessment's screens, checked without Telegram."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from apart_engine.instrument import (
    DEFAULT_INSTRUMENT_PATH,
    AssessmentKind,
    Instrument,
    load_instrument,
)
from apart_engine.scoring import score_assessment
from bot.callbacks import MAX_BYTES
from bot.store import Assessment, Status
from conversations.screens import (
    ItemView,
    adjust_screen,
    change_screen,
    item_screen,
    summary_screen,
)

if TYPE_CHECKING:
    from pathlib import Path

    from bot.chat import Screen

# The largest ids a draft can have: SQLite's biggest rowid.
LARGEST_ID = 2**63 - 1


def _longest_ids_instrument(tmp_path: Path) -> Instrument:
    """The default instrument with every item and section id stretched to 16 characters."""
    text = DEFAULT_INSTRUMENT_PATH.read_text("utf-8")
    ids = set(re.findall(r'^id = "([A-Za-z0-9_]+)"$', text, flags=re.MULTILINE))
    ids.discard("apart-default")
    renamed = {old: f"{n:03d}".ljust(16, "x") for n, old in enumerate(sorted(ids))}

    def stretch(line: str) -> str:
        if not line.startswith(("id = ", "items = [")):
            return line
        return re.sub(r'"([A-Za-z0-9_]+)"', lambda m: f'"{renamed.get(m[1], m[1])}"', line)

    text = "\n".join(stretch(line) for line in text.splitlines())
    path = tmp_path / "longest.toml"
    path.write_text(text, "utf-8")
    return load_instrument(path)


def _draft(instrument: Instrument, editing: bool = False) -> Assessment:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return Assessment(
        id=LARGEST_ID,
        young_person_id=LARGEST_ID,
        reference="R" * 20,
        kind=AssessmentKind.REVIEW.value,
        status=Status.DRAFT,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        assessed_on=date(2026, 1, 1),
        step="item",
        current_item=None,
        editing=editing,
        chat_id=None,
        message_id=None,
        started_at=moment,
        updated_at=moment,
        risk_score=None,
        risk_band=None,
        resilience_score=None,
        resilience_band=None,
    )


def _payloads(view: Screen) -> list[str]:
    return [data for row in view.rows for _, data in row]


class TestButtonData:
    def test_every_payload_fits_telegrams_limit_with_the_longest_ids(self, tmp_path: Path) -> None:
        """C5: item, summary, change and adjustment screens of every item, in UTF-8 bytes."""
        instrument = _longest_ids_instrument(tmp_path)
        payloads: list[str] = []
        for editing in (False, True):
            draft = _draft(instrument, editing)
            for kind in AssessmentKind:
                items = instrument.items_for(kind)
                for item in items:
                    view = ItemView(draft, item, 1, 1, None, True, "n", "x", True, True)
                    payloads += _payloads(item_screen(instrument, view))
                for page in range(len(items) // 8 + 1):
                    payloads += _payloads(change_screen(instrument, draft, items, {}, page))
            ratings = {item.id: 3 for item in instrument.rating_items}
            scores = score_assessment(instrument, ratings)
            payloads += _payloads(summary_screen(instrument, draft, scores, {}))
            for section in instrument.scored_sections:
                names = instrument.band_names(section.id)
                result = scores.section(section.id)
                payloads += _payloads(
                    adjust_screen(draft, section.title, section.id, result, names, names)
                )

        assert len(payloads) > 500
        too_long = [p for p in payloads if len(p.encode("utf-8")) > MAX_BYTES]
        assert too_long == []
