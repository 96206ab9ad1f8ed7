"""The assessment flow driven through the real Application and the Bot API stand-in."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from apart_engine import default_instrument
from tests.support.steps import assessment_steps, play, play_until
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


def _a1_baseline() -> list[str]:
    return assessment_steps(default_instrument(), _vignette("YP-A1"), 0, register=True)


async def _draft(running: StandInBot, staff: Staff) -> Any:
    draft = await running.services.store.open_draft(staff)
    assert draft is not None
    return draft


def _data_of(message: Any, label_start: str) -> str:
    """The callback data of the one button on `message` whose label starts so."""
    (data,) = [d for row in message.buttons for label, d in row if label.startswith(label_start)]
    assert data is not None
    return str(data)


# SQLite's largest rowid: every number a payload carries is widened to it for the size check.
LARGEST_ID = 2**63 - 1


async def _tour_every_keyboard(running: StandInBot, *, faults: bool) -> ChatClient:
    """A lead who also administers presses a button of every kind the product builds.

    Register (cancel, the suggested code, start the baseline), a whole baseline, the case
    menu, review or closure, discard, a reminder's snooze and start, the digest's chart,
    /transfer and /invite. With `faults`, a worded 400 refusing an edit (the snooze, the
    transfer, the invitation) or a message (the invite button) sends each to the error
    handler.
    """
    from apart_engine import AssessmentKind
    from bot import jobs
    from bot.sender import sender_for
    from bot.standin import Refusal
    from tests.conftest import LEAD_ID, PRACTITIONER_ID
    from tests.support.seed import submit

    store, api = running.services.store, running.api
    refusal = Refusal("Bad Request: can't parse entities: Unsupported start tag at byte offset 0")
    async with store.transaction() as db:
        await db.execute("UPDATE staff SET is_admin = 1 WHERE telegram_user_id = ?", (LEAD_ID,))
    lead = running.client(LEAD_ID, "Robin")
    practitioner = await store.staff_by_telegram_id(PRACTITIONER_ID)
    assert practitioner is not None
    rising = await store.add_young_person("YP-D1", practitioner)
    await submit(store, rising, practitioner, AssessmentKind.BASELINE, date(2026, 9, 1), 1)
    await submit(store, rising, practitioner, AssessmentKind.REVIEW, date(2026, 12, 2), 3)
    staff = await store.staff_by_telegram_id(LEAD_ID)
    assert staff is not None
    overdue = await store.add_young_person("YP-L2", staff)
    await submit(store, overdue, staff, AssessmentKind.BASELINE, date(2026, 9, 1), 1)

    await play(lead, ["/new", "[Cancel]", "/new", "[Use ]", "[Start the baseline]"])
    await play(lead, _a1_baseline()[3:])
    await play(lead, ["/assess", "[YP-L2]", "[Review]", "/assess", "[Discard]", "[Yes, discard]"])
    await play(lead, ["/digest", "[Chart YP-D1]", "/progress YP-D1"])

    clock = running.services.clock
    await jobs.run_reminder_sweep(running.services, sender_for(running.app), clock.now())
    reminder = lead.last_bot_message.message_id
    if faults:
        api.fail_next("editMessageText", refusal)
    # The earliest due, the registered case, is snoozed; YP-L2 is started.
    snooze = next(
        d for row in lead.last_bot_message.buttons for label, d in row if "1 day" in label
    )
    assert snooze is not None
    assert (await lead.tap_data(snooze, reminder)).answered
    await lead.tap("Start YP-L2", message_id=reminder)
    await play(lead, ["[‹ Back]"])

    await play(lead, ["/transfer", "[YP-D1]"])
    if faults:
        api.fail_next("editMessageText", refusal)
    await play(lead, ["[You]", "/transfer", "[YP-D1]", "[Practitioner #]"])

    # "ad:new" opens /invite from a button; its handler leaves the press to the aftercare.
    if faults:
        api.fail_next("sendMessage", refusal)
    await lead.tap_data("ad:new", lead.last_bot_message.message_id)
    await play(lead, ["/invite", "[North team]"])
    if faults:
        api.fail_next("editMessageText", refusal)
        await play(lead, ["[Practitioner]", "/invite", "[North team]"])
    await play(lead, ["[Practitioner]"])
    return lead


def _widened(data: str) -> str:
    """The payload with every number in it as long as the largest id."""
    return ":".join(str(LARGEST_ID) if part.isdecimal() else part for part in data.split(":"))


class TestKnownFailures:
    async def test_an_old_rating_button_neither_answers_nor_moves_the_current_item(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        """C1: a rating tapped for R5 while R7 is on screen changes nothing."""
        await play_until(practitioner, _a1_baseline(), "Risk 7 of 16")
        draft = await _draft(running, practitioner_staff)
        message = practitioner.last_bot_message

        answer = await practitioner.tap_data(f"va:{draft.id}:R5:0", message.message_id)

        assert answer.text is not None
        assert "moved on" in answer.text
        after = await _draft(running, practitioner_staff)
        assert after.current_item == "R7"
        answers = await running.services.store.answers(draft.id)
        assert answers["R5"] == 2
        assert "R7" not in answers
        assert "Online risk" in (practitioner.last_bot_message.text or "")

    async def test_a_button_of_another_assessment_changes_nothing(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        """C1: the keyboard of an abandoned, discarded draft is refused plainly."""
        await play_until(practitioner, _a1_baseline(), "Risk 1 of 16")
        old = await _draft(running, practitioner_staff)
        old_message = practitioner.last_bot_message.message_id
        await practitioner.send("/assess")
        await practitioner.tap("Discard")
        await practitioner.tap("Yes, discard")

        answer = await practitioner.tap_data(f"va:{old.id}:R1:3", old_message)

        assert answer.text is not None
        assert "no longer open" in answer.text
        assert "R1" not in await running.services.store.answers(old.id)

    async def test_a_button_of_an_abandoned_draft_leaves_the_open_one_alone(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        """C1: draft B open on another case at the same item; A's old keyboard changes nothing."""
        await play_until(practitioner, _a1_baseline(), "Risk 1 of 16")
        abandoned = await _draft(running, practitioner_staff)
        old_message = practitioner.last_bot_message.message_id
        await practitioner.send("/assess")
        await practitioner.tap("Discard")
        await practitioner.tap("Yes, discard")
        other_case = ["/new", "YP-B2", *_a1_baseline()[2:]]
        await play_until(practitioner, other_case, "Risk 1 of 16")
        open_one = await _draft(running, practitioner_staff)
        store = running.services.store
        answers_before = await store.answers(open_one.id)
        shown = practitioner.last_bot_message
        mark = practitioner.mark()

        answer = await practitioner.tap_data(f"va:{abandoned.id}:R1:3", old_message)

        assert answer.text is not None
        assert "no longer open" in answer.text
        assert open_one.reference == "YP-B2"
        assert open_one.id != abandoned.id
        after = await _draft(running, practitioner_staff)
        assert (after.id, after.current_item, after.step) == (open_one.id, "R1", open_one.step)
        assert await store.answers(open_one.id) == answers_before
        assert "R1" not in await store.answers(abandoned.id)
        left = await store.assessment(abandoned.id, practitioner_staff)
        assert left is None or left.status != "draft"
        assert practitioner.events_since(mark) == []
        assert practitioner.last_bot_message == shown

    @pytest.mark.parametrize("concurrent", [False, True], ids=["in-turn", "concurrent"])
    async def test_a_double_tap_stores_one_answer_and_advances_one_item(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        concurrent: bool,
    ) -> None:
        """C2: the same rating delivered twice stores once, moves once and shows no error."""
        await play_until(practitioner, _a1_baseline(), "Risk 3 of 16")
        if concurrent:
            first, second = await practitioner.tap_twice("3 ·")
        else:
            message = practitioner.last_bot_message
            data = next(d for row in message.buttons for label, d in row if label.startswith("3"))
            assert data is not None
            first = await practitioner.tap_data(data, message.message_id)
            second = await practitioner.tap_data(data, message.message_id)

        draft = await _draft(running, practitioner_staff)
        assert draft.current_item == "R4"
        assert (await running.services.store.answers(draft.id))["R3"] == 3
        assert first.answered
        assert second.answered
        assert not first.show_alert
        assert not second.show_alert
        assert all(a.text is None for a in (first, second))
        assert practitioner.callbacks_answered_more_than_once() == []

    async def test_redrawing_an_unchanged_item_is_not_an_error(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """C3: a redelivered Resume redraws the same screen; "not modified" is success."""
        await play_until(practitioner, _a1_baseline(), "Risk 2 of 16")
        await practitioner.send("/assess")
        menu = practitioner.last_bot_message
        resume = next(d for row in menu.buttons for label, d in row if label.startswith("Resume"))
        assert resume is not None
        await practitioner.tap_data(resume, menu.message_id)
        shown = practitioner.last_bot_message.text

        again = await practitioner.tap_data(resume, menu.message_id)

        refusals = [c for c in running.api.calls if c.status == 400]
        assert [c.method for c in refusals] == ["editMessageText"]
        assert again.answered
        assert again.text is None
        assert practitioner.last_bot_message.text == shown
        assert not [r for r in caplog.records if r.levelname == "ERROR"]

    async def test_other_edit_refusals_still_reach_the_error_handler(
        self, running: StandInBot, practitioner: ChatClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        """C3: only "not modified" counts as success; other refusals are reported."""
        await play_until(practitioner, _a1_baseline(), "Risk 1 of 16")
        from bot.standin import ServerError

        # Edits are retried (bot/retry.py), so the failure must outlast every attempt.
        running.api.fail_next("editMessageText", ServerError(), times=3)
        await practitioner.tap("1 ·")

        assert any(r.levelname == "ERROR" for r in caplog.records)
        assert "Everything you had answered is saved" in (practitioner.last_bot_message.text or "")

    @pytest.mark.parametrize(
        "description",
        [
            'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
            "Bad Request: BUTTON_DATA_INVALID",
        ],
        ids=["unparsable", "button-data"],
    )
    async def test_a_bad_request_on_an_edit_is_reported_and_the_draft_kept(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        caplog: pytest.LogCaptureFixture,
        description: str,
    ) -> None:
        """C3: a 400 other than "not modified" reaches the error handler; R1 stays answered."""
        from telegram.error import BadRequest

        from bot.standin import Refusal

        await play_until(practitioner, _a1_baseline(), "Risk 1 of 16")
        running.api.fail_next("editMessageText", Refusal(description))

        tapped = await practitioner.tap("1 ·")

        assert tapped.answered
        (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
        assert error.exc_info is not None
        assert isinstance(error.exc_info[1], BadRequest)
        assert "Everything you had answered is saved" in (practitioner.last_bot_message.text or "")
        draft = await _draft(running, practitioner_staff)
        assert draft.current_item == "R2"
        assert (await running.services.store.answers(draft.id))["R1"] == 1
        await practitioner.send("/assess")
        await practitioner.tap("Resume YP-A1")
        assert "Risk 2 of 16" in (practitioner.last_bot_message.text or "")

    async def test_back_then_the_chosen_rating_again_redraws_without_an_error(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """C3: back to R2, its ticked rating (forward to R3), then that rating once more."""
        await play_until(practitioner, _a1_baseline(), "Risk 3 of 16")
        before = practitioner.last_bot_message
        await practitioner.tap("‹ Back")
        chosen = _data_of(practitioner.last_bot_message, "✓")

        forward = await practitioner.tap_data(chosen, before.message_id)
        again = await practitioner.tap_data(chosen, before.message_id)

        shown = practitioner.last_bot_message
        assert (shown.message_id, shown.text, shown.buttons) == (
            before.message_id,
            before.text,
            before.buttons,
        )
        (refused,) = [c for c in running.api.calls if c.status == 400]
        assert refused is running.api.calls_to("editMessageText")[-1]
        assert forward.answered
        assert again.answered
        assert again.text is None
        draft = await _draft(running, practitioner_staff)
        assert draft.current_item == "R3"
        assert (await running.services.store.answers(draft.id))["R2"] == 3
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
        assert not any("went wrong" in (m.text or "") for m in practitioner.bot_messages)

    async def test_a_restart_resumes_at_the_next_item_with_answers_intact(
        self, settings: Any, clock: Any
    ) -> None:
        """C4: after a restart on the same database /start offers resume, and it carries on."""
        from bot.runtime import standin_bot
        from bot.store import Role

        async with standin_bot(settings, clock=clock) as first:
            team = await first.services.store.add_team("North team")
            await first.services.store.enrol(5001, team, Role.PRACTITIONER)
            remaining = await play_until(first.client(5001), _a1_baseline(), "Risk 10 of 16")
            api = first.api

        async with standin_bot(settings, api=api, clock=clock) as restarted:
            again = restarted.client(5001)
            await again.send("/start")
            assert "unfinished" in (again.last_bot_message.text or "")
            await again.tap("Resume YP-A1")
            assert "Risk 10 of 16" in (again.last_bot_message.text or "")
            await play(again, remaining)
            assert "Submitted." in (again.last_bot_message.text or "")
            history = await restarted.services.store.submitted(1)
            assert history[0].risk_score == 62.5
            assert again.unanswered_callbacks() == []

    async def test_a_tap_after_a_restart_lands_on_the_same_item(
        self, settings: Any, clock: Any
    ) -> None:
        """C4: a rating tapped on the message shown before the restart is taken as usual."""
        from bot.runtime import standin_bot
        from bot.store import Role

        async with standin_bot(settings, clock=clock) as first:
            team = await first.services.store.add_team("North team")
            await first.services.store.enrol(5001, team, Role.PRACTITIONER)
            await play_until(first.client(5001), _a1_baseline(), "Risk 10 of 16")
            api = first.api

        async with standin_bot(settings, api=api, clock=clock) as restarted:
            again = restarted.client(5001)
            await again.tap("2 ·")
            assert "Risk 11 of 16" in (again.last_bot_message.text or "")
            answers = await restarted.services.store.answers(1)
            assert answers["R10"] == 2
            assert [answers[f"R{n}"] for n in range(1, 10)] == [2, 3, 3, 3, 2, 2, 1, 2, 1]

    async def test_every_keyboard_the_product_builds_fits_64_bytes_with_the_largest_ids(
        self, running: StandInBot
    ) -> None:
        """C5: every payload shown on the tour, every number widened to SQLite's largest id."""
        lead = await _tour_every_keyboard(running, faults=False)

        shown = {
            data
            for event in lead.transcript
            for row in event.message.buttons
            for _, data in row
            if data is not None
        }
        actions = {data.split(":")[0] for data in shown}
        too_long = [d for d in shown if len(_widened(d).encode("utf-8")) > 64]

        assert too_long == []
        assert {"nc", "ns", "pc", "st", "dx", "dy", "va", "rz", "pg", "tr", "ad"} <= actions

    @pytest.mark.parametrize("faults", [False, True], ids=["clean", "edits-refused"])
    async def test_every_kind_of_button_press_is_answered_exactly_once(
        self, running: StandInBot, faults: bool
    ) -> None:
        """C6: register, reminder, digest, transfer and invite presses, errors included."""
        lead = await _tour_every_keyboard(running, faults=faults)

        pressed = {record.data.split(":")[0] for record in running.api.callbacks.values()}
        assert {"nc", "ns", "pc", "st", "dx", "dy", "rz", "pg", "tr", "ad"} <= pressed
        assert lead.unanswered_callbacks() == []
        assert lead.callbacks_answered_more_than_once() == []
        apologies = [m for m in lead.bot_messages if "went wrong" in (m.text or "")]
        assert len(apologies) == (4 if faults else 0)

    async def test_every_button_press_is_answered_exactly_once(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        """C6: a whole baseline, errors and stale taps included, leaves no spinner."""
        from bot.standin import ServerError

        steps = _a1_baseline()
        remaining = await play_until(practitioner, steps, "Risk 5 of 16")
        running.api.fail_next("editMessageText", ServerError())
        await practitioner.tap("1 ·")
        await practitioner.tap_data("va:999999:R1:1", practitioner.last_bot_message.message_id)
        await practitioner.tap_data("nonsense", practitioner.last_bot_message.message_id)
        await practitioner.send("/assess")
        await practitioner.tap("Resume YP-A1")
        await play(practitioner, remaining[1:])

        assert practitioner.unanswered_callbacks() == []
        assert practitioner.callbacks_answered_more_than_once() == []
