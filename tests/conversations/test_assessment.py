"""The assessment flow driven through the real Application and the Bot API stand-in."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from apart_engine import default_instrument
from tests.support.steps import assessment_steps, play
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from bot.harness import ChatClient
    from bot.runtime import StandInBot
    from bot.store import Staff

VIGNETTE_FILES = sorted(VIGNETTES_DIR.glob("*.json"))


def _vignette(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VIGNETTES_DIR / f"{name}.json").read_text("utf-8"))
    return data


class TestVignettes:
    @pytest.mark.parametrize("path", VIGNETTE_FILES, ids=lambda p: p.stem)
    async def test_every_assessment_gives_the_vignette_figures(
        self,
        path: Any,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
    ) -> None:
        """Each assessment, typed in tap by tap, stores and shows the vignette's figures."""
        vignette = json.loads(path.read_text("utf-8"))
        store = running.services.store
        for index, assessment in enumerate(vignette["assessments"]):
            steps = assessment_steps(default_instrument(), vignette, index, register=index == 0)
            await play(practitioner, steps)

            expected = assessment["expected"]
            shown = practitioner.last_bot_message.text or ""
            assert "Submitted." in shown
            assert f"Risk {expected['risk_score']:.1f} · {expected['risk_band']}" in shown
            assert (
                f"Resilience {expected['resilience_score']:.1f} · {expected['resilience_band']}"
                in shown
            )
            due = date.fromisoformat(expected["next_review_due"])
            assert f"Next review due: {due.day} {due:%B %Y}" in shown
            assert ("harm override" in shown.lower()) is expected["harm_override"]

            cases = await store.caseload(practitioner_staff)
            history = await store.submitted(cases[0].young_person.id)
            stored = history[-1]
            assert stored.assessed_on == date.fromisoformat(assessment["date"])
            assert stored.risk_score == expected["risk_score"]
            assert stored.risk_band == expected["risk_band"]
            assert stored.resilience_score == expected["resilience_score"]
            assert stored.resilience_band == expected["resilience_band"]
            answers = await store.answers(stored.id)
            for item_id, value in assessment["answers"].items():
                assert answers[item_id] == value
            assert await store.notes(stored.id) == assessment["notes"]

        assert practitioner.unanswered_callbacks() == []
        assert practitioner.callbacks_answered_more_than_once() == []

    async def test_the_shipped_demo_script_is_yp_a1s_baseline(self) -> None:
        """The demo's script is exactly what the vignette asks a practitioner to enter."""
        from bot.demo import script_steps, shipped_script

        steps = assessment_steps(default_instrument(), _vignette("YP-A1"), 0, register=True)
        assert script_steps(shipped_script()) == steps
