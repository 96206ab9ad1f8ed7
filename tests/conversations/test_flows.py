"""Registering, the caseload, and the assessment's side paths, through the real Application."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from apart_engine import default_instrument
from conversations.assessment import pause_if_idle
from tests.support.steps import assessment_steps, play, play_until
from tests.vignettes import VIGNETTES_DIR

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bot.clock import FixedClock
    from bot.harness import ChatClient
    from bot.runtime import StandInBot
    from bot.store import Staff


def _steps(name: str, index: int = 0) -> list[str]:
    vignette = json.loads((VIGNETTES_DIR / f"{name}.json").read_text("utf-8"))
    return assessment_steps(default_instrument(), vignette, index, register=index == 0)


def _shown(client: ChatClient) -> str:
    return client.last_bot_message.text or ""


class TestRegister:
    async def test_the_suggested_code_registers_in_one_tap(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await practitioner.send("/new")
        await practitioner.tap("Use YP-")
        cases = await running.services.store.caseload(practitioner_staff)
        assert len(cases) == 1
        assert cases[0].young_person.reference.startswith("YP-")
        assert "is on your caseload" in _shown(practitioner)

    async def test_a_name_is_refused_with_the_reason_and_nothing_is_stored(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await practitioner.send("/new")
        await practitioner.send("Jane")
        assert "could be a name" in _shown(practitioner)
        await practitioner.send("12/03/2011")
        assert "looks like a date" in _shown(practitioner)
        assert await running.services.store.caseload(practitioner_staff) == []

        await practitioner.send("CSE-2041")
        assert "CSE-2041 is on your caseload" in _shown(practitioner)

    async def test_a_reference_already_in_use_is_refused(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        await practitioner.send("/new")
        await practitioner.send("YP-A1")
        await practitioner.send("/new")
        await practitioner.send("yp-a1")
        assert "already in use" in _shown(practitioner)


class TestCaseload:
    async def test_cases_show_what_is_due(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        await play(practitioner, _steps("YP-A1"))
        await practitioner.send("/new")
        await practitioner.send("YP-Z9")
        await practitioner.send("/cases")
        text = _shown(practitioner)
        # Today is 4 Dec 2026 on the test clock, so the April review is long overdue.
        assert "YP-A1 · review OVERDUE since 12 Apr 2026" in text
        assert "YP-Z9 · baseline not done yet" in text
        assert text.index("YP-A1") < text.index("YP-Z9")

    async def test_a_practitioner_without_cases_is_told_how_to_add_one(
        self, practitioner: ChatClient
    ) -> None:
        await practitioner.send("/assess")
        assert "/new" in _shown(practitioner)


class TestDates:
    async def test_a_future_or_unreadable_date_is_refused_plainly(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await play(practitioner, ["/new", "YP-A1", "[Start the baseline]"])
        await practitioner.send("05/12/2026")
        assert "is in the future" in _shown(practitioner)
        await practitioner.send("sometime last week")
        assert "could not read that as a date" in _shown(practitioner)
        draft = await running.services.store.open_draft(practitioner_staff)
        assert draft is not None
        assert draft.assessed_on is None

    async def test_a_review_cannot_predate_the_last_assessment(
        self, practitioner: ChatClient
    ) -> None:
        await play(practitioner, _steps("YP-A1"))
        await play(practitioner, ["/assess", "[YP-A1 ·]", "[Review]", "11/01/2026"])
        assert "before the last assessment (12 Jan 2026)" in _shown(practitioner)

    async def test_today_is_one_tap(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await play(practitioner, ["/new", "YP-A1", "[Start the baseline]", "[Today, 4 Dec 2026]"])
        draft = await running.services.store.open_draft(practitioner_staff)
        assert draft is not None
        assert str(draft.assessed_on) == "2026-12-04"
        assert "Background 1 of" in _shown(practitioner)


class TestSummary:
    async def test_changing_an_item_from_the_summary_rescores_and_returns(
        self, practitioner: ChatClient
    ) -> None:
        steps = _steps("YP-A1")
        await play(practitioner, steps[:-2])
        assert "Risk 62.5 · High" in _shown(practitioner)

        await practitioner.tap("Change an item")
        await practitioner.tap("Next ›")
        await practitioner.tap("Current exploitation: 2")
        await practitioner.tap("0 ·")

        text = _shown(practitioner)
        assert "Summary" in text
        assert "Risk 58.3 · High" in text

    async def test_a_band_moves_one_step_only_with_a_reason(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        steps = _steps("YP-A1")
        await play(practitioner, steps[:-2])
        await practitioner.tap("Adjust resilience band")
        assert "Developing" in practitioner.buttons()
        assert "Strong" not in practitioner.buttons()
        await practitioner.tap("Developing")
        await practitioner.send("too short")
        assert "at least 3 words" in _shown(practitioner) or "3 words" in _shown(practitioner)
        await practitioner.send("Strong engagement with the new worker since October")

        assert "Band set to Developing by the practitioner (computed Low)" in _shown(practitioner)
        await play(practitioner, ["[Submit]", "[Yes, submit]"])
        history = await running.services.store.submitted(1)
        assert history[0].resilience_band == "Developing"
        assert history[0].resilience_score == 18.2

    async def test_the_overridden_risk_band_cannot_be_lowered(
        self, practitioner: ChatClient
    ) -> None:
        await play(practitioner, _steps("YP-A1")[:-2])
        await practitioner.tap("Adjust risk band")
        assert "cannot be moved" in _shown(practitioner)
        assert practitioner.buttons() == ["Back to summary"]


class TestPausing:
    async def test_cancel_keeps_the_draft_and_assess_offers_it_back(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        remaining = await play_until(practitioner, _steps("YP-A1"), "Risk 4 of 16")
        await practitioner.send("/cancel")
        assert "are saved" in _shown(practitioner)

        await practitioner.send("/assess")
        await practitioner.tap("Resume YP-A1")
        assert "Risk 4 of 16" in _shown(practitioner)
        await play(practitioner, remaining)
        assert "Submitted." in _shown(practitioner)

    async def test_discarding_needs_a_second_tap(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await play_until(practitioner, _steps("YP-A1"), "Risk 1 of 16")
        await practitioner.send("/start")
        await practitioner.tap("Discard")
        assert await running.services.store.open_draft(practitioner_staff) is not None
        await practitioner.tap("Yes, discard")
        assert await running.services.store.open_draft(practitioner_staff) is None

    async def test_an_idle_draft_is_paused_and_says_so(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        clock: FixedClock,
    ) -> None:
        """The idle job finds the draft untouched for the idle time and pauses it."""
        await play_until(practitioner, _steps("YP-A1"), "Risk 6 of 16")
        assert running.app.job_queue is not None
        jobs = running.app.job_queue.get_jobs_by_name(f"idle-{practitioner_staff.id}")
        assert len(jobs) == 1

        clock.advance(timedelta(minutes=31))
        await jobs[0].run(running.app)

        assert "Paused after 30 minutes without activity" in _shown(practitioner)
        assert practitioner.buttons() if practitioner.last_bot_message.buttons else True
        await practitioner.send("/assess")
        await practitioner.tap("Resume YP-A1")
        assert "Risk 6 of 16" in _shown(practitioner)

    async def test_a_recent_tap_keeps_the_idle_job_quiet(
        self, running: StandInBot, practitioner: ChatClient, clock: FixedClock
    ) -> None:
        await play_until(practitioner, _steps("YP-A1"), "Risk 6 of 16")
        before = _shown(practitioner)
        clock.advance(timedelta(minutes=5))
        assert running.app.job_queue is not None
        for job in running.app.job_queue.jobs():
            if job.callback is pause_if_idle:
                await job.run(running.app)
        assert _shown(practitioner) == before

    async def test_the_idle_job_moves_at_most_once_a_minute_and_never_comes_early(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        """A second update soon after the first leaves the job due a full idle spell away."""
        await play_until(practitioner, _steps("YP-A1"), "Risk 6 of 16")
        assert running.app.job_queue is not None
        scheduler = running.app.job_queue.scheduler
        due = scheduler.get_job(f"idle-{practitioner_staff.id}").next_run_time

        await practitioner.send("/cases")

        assert scheduler.get_job(f"idle-{practitioner_staff.id}").next_run_time == due
        assert due - datetime.now(UTC) >= timedelta(minutes=30)


class TestStrayInput:
    @pytest.mark.parametrize(
        ("fields", "reply"),
        [
            ({"message": {"text": "hello"}}, "not waiting for a typed message"),
            ({"message": {"text": "/frobnicate"}}, "do not know that command"),
            (
                {
                    "message": {
                        "sticker": {
                            "file_id": "s1",
                            "file_unique_id": "s1",
                            "type": "regular",
                            "width": 1,
                            "height": 1,
                            "is_animated": False,
                            "is_video": False,
                        }
                    }
                },
                "only read text",
            ),
        ],
    )
    async def test_stray_messages_get_a_plain_answer(
        self, practitioner: ChatClient, fields: dict[str, Any], reply: str
    ) -> None:
        if fields["message"].get("text", "").startswith("/"):
            await practitioner.send(fields["message"]["text"])
        else:
            await practitioner.send_raw(fields)
        assert reply in _shown(practitioner)

    async def test_a_stranger_gets_one_neutral_reply_and_nothing_runs(
        self, running: StandInBot
    ) -> None:
        stranger = running.client(9999, "Pat")
        await stranger.send("/start")
        await stranger.send("/assess")
        texts = [m.text for m in stranger.bot_messages]
        assert texts == ["Sorry, this bot is not available."]


class TestClosure:
    async def test_a_closure_ends_the_schedule_and_the_case_leaves_the_menu(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await play(practitioner, _steps("YP-A1"))
        closure = _steps("YP-A1", 1)
        closure[2] = "[Closure]"
        await play(practitioner, closure)

        assert "The case is closed: no more reviews are due." in _shown(practitioner)
        cases = await running.services.store.caseload(practitioner_staff)
        assert str(cases[0].young_person.closed_on) == "2026-04-14"
        await practitioner.send("/cases")
        assert "YP-A1 · closed 14 Apr 2026" in _shown(practitioner)
        await practitioner.send("/assess")
        assert "Every case is closed" in _shown(practitioner)


class TestChatHygiene:
    async def test_a_note_is_stored_then_deleted_from_the_chat(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        note = "Three missing episodes in six weeks, returned by police twice."
        await play_until(practitioner, _steps("YP-A1"), "Risk 3 of 16")

        visible = [m.text for m in practitioner.messages if not m.from_bot]
        assert note not in visible
        assert (await running.services.store.notes(1)) == {"R2": note}

    async def test_the_command_menu_is_set_at_start_up(self, running: StandInBot) -> None:
        commands = [c["command"] for c in next(iter(running.api.commands.values()))]
        assert commands == [
            "assess",
            "cases",
            "new",
            "progress",
            "digest",
            "report",
            "cancel",
            "help",
        ]


class TestAdjustmentLapses:
    async def _change(self, client: ChatClient, label: str, value: int) -> None:
        await client.tap("Change an item")
        while not any(b.startswith(label) for b in client.buttons()):
            await client.tap("Next ›")
        await client.tap(label)
        await client.tap(f"{value} ·")

    async def test_an_adjustment_lapses_when_changed_answers_move_the_computed_band(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        """A reason given against one computed band never stands beside another.

        Low raised to Developing, then answers make it Strong: Developing is still one step
        from Strong, but the reason was about Low, so the adjustment must go.
        """
        await play(practitioner, _steps("YP-A1")[:-2])
        await practitioner.tap("Adjust resilience band")
        await practitioner.tap("Developing")
        await practitioner.send("Strong engagement with the new worker since October")
        assert "Band set to Developing" in _shown(practitioner)

        for label in ("Protective carers", "Positive friends", "Healthy relationships"):
            await self._change(practitioner, label, 3)
        for label in ("Seeks help", "Self-worth", "Trusted adult"):
            await self._change(practitioner, label, 3)

        text = _shown(practitioner)
        assert "Resilience 69.7 · Strong" in text
        assert "Band set to" not in text
        said = [event.message.text or "" for event in practitioner.transcript]
        assert any("no longer applies" in shown for shown in said)


class TestReasons:
    async def test_a_reason_is_kept_as_typed_and_an_overlong_one_is_refused(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        await play(practitioner, _steps("YP-A1")[:-2])
        await practitioner.tap("Adjust resilience band")
        await practitioner.tap("Developing")
        await practitioner.send("word " * 61)
        assert "at most 300 characters" in _shown(practitioner)
        assert await running.services.store.adjustments(1) == {}

        reason = "Engages  well — <b>new</b> worker & carer since October"
        await practitioner.send(reason)
        stored = await running.services.store.adjustments(1)
        assert stored["resilience"].reason == reason
        assert stored["resilience"].computed_band == "Low"
        assert reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") not in (
            practitioner.last_bot_message.text or ""
        )
        assert "<b>new</b> worker & carer" in (practitioner.last_bot_message.text or "")


class TestStalePrompts:
    async def test_text_typed_long_after_a_note_prompt_is_not_taken_as_the_note(
        self, running: StandInBot, practitioner: ChatClient, clock: FixedClock
    ) -> None:
        """The wait for typed text lapses with the idle time, restart or not."""
        await play_until(practitioner, _steps("YP-A1"), "Risk 3 of 16")
        await practitioner.tap("Add note")
        clock.advance(timedelta(days=2))

        await practitioner.send("Running ten minutes late for the review meeting")

        assert "not waiting for a typed message" in _shown(practitioner)
        assert "R3" not in await running.services.store.notes(1)
        assert any(
            m.text == "Running ten minutes late for the review meeting"
            for m in practitioner.messages
        )


class TestParseDate:
    @pytest.mark.parametrize(
        ("typed", "day"),
        [
            ("12/01/2026", "2026-01-12"),
            ("12-1-26", "2026-01-12"),
            ("12.01.2026", "2026-01-12"),
            ("2026-01-12", "2026-01-12"),
            ("12 Jan 2026", "2026-01-12"),
            ("12 January, 2026", "2026-01-12"),
            ("29/02/2024", "2024-02-29"),
            ("Today", "2026-12-04"),
            (" yesterday ", "2026-12-03"),
        ],
    )
    def test_reads_the_ways_people_write_dates(self, typed: str, day: str) -> None:
        from datetime import date

        from conversations.assessment import parse_date

        assert parse_date(typed, date(2026, 12, 4)).isoformat() == day

    @pytest.mark.parametrize(
        ("typed", "reason"),
        [
            ("29/02/2026", "no such day"),
            ("31/04/2026", "no such day"),
            ("2026-13-01", "no such day"),
            ("next Tuesday", "could not read"),
        ],
    )
    def test_says_why_a_date_is_refused(self, typed: str, reason: str) -> None:
        from datetime import date

        from bot.errors import InvalidDateError
        from conversations.assessment import parse_date

        with pytest.raises(InvalidDateError, match=reason):
            parse_date(typed, date(2026, 12, 4))


class TestIdleAfterRestart:
    async def _restart_after(
        self, settings: Any, clock: FixedClock, away: timedelta
    ) -> AsyncIterator[StandInBot]:
        """Leave a draft on R3, stop the bot, wait `away`, and start it again."""
        from bot.runtime import standin_bot
        from bot.store import Role

        async with standin_bot(settings, clock=clock) as first:
            team = await first.services.store.add_team("North team")
            await first.services.store.enrol(5001, team, Role.PRACTITIONER)
            await play_until(first.client(5001), _steps("YP-A1"), "Risk 3 of 16")
            api = first.api

        clock.advance(away)
        async with standin_bot(settings, api=api, clock=clock) as restarted:
            yield restarted

    async def test_a_restart_puts_back_the_idle_timer_of_a_recent_draft(
        self, settings: Any, clock: FixedClock
    ) -> None:
        """The job queue starts empty; the draft still gets its "paused" after the restart."""
        async for restarted in self._restart_after(settings, clock, timedelta(minutes=45)):
            assert restarted.app.job_queue is not None
            staff = await restarted.services.store.staff_by_telegram_id(5001)
            assert staff is not None
            jobs = restarted.app.job_queue.get_jobs_by_name(f"idle-{staff.id}")
            assert len(jobs) == 1
            await jobs[0].run(restarted.app)
            assert "Paused after 30 minutes without activity" in _shown(restarted.client(5001))

    async def test_a_draft_left_for_days_gets_no_timer_after_a_restart(
        self, settings: Any, clock: FixedClock
    ) -> None:
        async for restarted in self._restart_after(settings, clock, timedelta(days=3)):
            assert restarted.app.job_queue is not None
            names = [job.name or "" for job in restarted.app.job_queue.jobs()]
            assert not [name for name in names if name.startswith("idle-")]
