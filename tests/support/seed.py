"""Submitted assessments written straight through the store, for scheduling and digest tests."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from apart_engine import AssessmentKind, default_instrument, score_assessment

if TYPE_CHECKING:
    from datetime import date

    from bot.store import Staff, Store, YoungPerson


async def submit(
    store: Store,
    young_person: YoungPerson,
    staff: Staff,
    kind: AssessmentKind,
    day: date,
    rating: int,
    *,
    resilience: int | None = None,
    events: list[str] | None = None,
) -> None:
    """Submit an assessment with every risk item at `rating` (resilience items likewise)."""
    instrument = default_instrument()
    ratings = {item.id: rating for item in instrument.section_by_id("risk").items}
    level = rating if resilience is None else resilience
    ratings |= {item.id: level for item in instrument.section_by_id("resilience").items}
    scores = score_assessment(instrument, ratings)
    draft = await store.start_assessment(
        young_person, kind, instrument.id, instrument.version, staff, "date"
    )
    assert await store.set_assessed_on(draft, day, step="item", current_item=None)
    dated = await store.assessment(draft.id, staff)
    assert dated is not None
    draft = dated
    if events is not None:
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO answers (assessment_id, item_id, value, answered_by, answered_at)"
                " VALUES (?, 'events', ?, ?, '2026-01-01T00:00:00+00:00')",
                (draft.id, json.dumps(events), staff.id),
            )
    record = {
        "instrument": {"id": instrument.id, "version": instrument.version},
        "sections": [dataclasses.asdict(section) for section in scores.sections],
    }
    assert await store.submit(
        draft,
        staff,
        scores=record,
        risk=(scores.risk.score, scores.risk.band),
        resilience=(scores.resilience.score, scores.resilience.band),
        closes_case=kind is AssessmentKind.CLOSURE,
    )
