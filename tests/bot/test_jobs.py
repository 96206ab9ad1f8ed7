"""Reminders, digests and sending, driven with a fixed clock and job callbacks called directly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from apart_engine import AssessmentKind, default_instrument
from bot import jobs
from bot.chat import screen
from bot.clock import FixedClock
from bot.config import load_settings
from bot.runtime import standin_bot
from bot.sender import Outcome, Photo, Sender
from bot.standin import RetryAfter, StandInBotAPI
from bot.store import CaseSummary, Role, YoungPerson
from conversations.digest import digest_figures, digest_screen
from conversations.reminders import due_reminders, reminder_screen
from tests.conftest import LEAD_ID, OTHER_PRACTITIONER_ID, PRACTITIONER_ID
from tests.support.seed import submit

if TYPE_CHECKING:
    from pathlib import Path

    from bot.config import Settings
    from bot.runtime import StandInBot
    from bot.store import Staff, Store

LONDON_NINE_GMT = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


async def _staff(store: Store, telegram_id: int) -> Staff:
    staff = await store.staff_by_telegram_id(telegram_id)
    assert staff is not None
    return staff


async def _case_due(store: Store, staff: Staff, reference: str, baseline: date) -> YoungPerson:
    young_person = await store.add_young_person(reference, staff)
    await submit(store, young_person, staff, AssessmentKind.BASELINE, baseline, 2)
    return young_person


def _sender(running: StandInBot, waits: list[float] | None = None) -> Sender:
    async def record(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    return Sender(running.app.bot, running.services.store, sleep=record)


def _texts(running: StandInBot, user_id: int) -> list[str]:
    chat = running.api.chats.get(user_id)
    if chat is None:
        return []
    return [m.text or m.caption or "" for m in chat.messages.values() if m.from_bot]


@pytest.fixture
def chats(running: StandInBot) -> None:
    """The enrolled staff have private chats with the bot, so it can write to them first."""
    for telegram_id in (PRACTITIONER_ID, LEAD_ID, OTHER_PRACTITIONER_ID):
        running.client(telegram_id)


class TestSchedule:
    async def test_the_job_queue_is_really_there(self, running: StandInBot) -> None:
        """C12: without python-telegram-bot's job-queue extra there would be no job queue."""
        assert running.app.job_queue is not None
        names = [job.name for job in running.app.job_queue.jobs()]
        assert names.count(jobs.SWEEP_JOB) == 1
        assert names.count(jobs.DIGEST_JOB) == 1

    async def test_setting_up_twice_never_doubles_the_jobs(self, running: StandInBot) -> None:
        await jobs.schedule_jobs(running.app)
        await jobs.schedule_jobs(running.app)
        assert running.app.job_queue is not None
        names = [job.name for job in running.app.job_queue.jobs()]
        assert sorted(n for n in names if n and n.startswith("apart-")) == sorted(
            [jobs.SWEEP_JOB, jobs.DIGEST_JOB]
        )

    @pytest.mark.parametrize(
        ("after", "expected_utc"),
        [
            # The clocks go forward on 29 March 2026: 09:00 BST is 08:00 UTC.
            (datetime(2026, 3, 28, 10, 0, tzinfo=UTC), datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),
            # And back on 25 October 2026: 09:00 GMT is 09:00 UTC.
            (datetime(2026, 10, 24, 10, 0, tzinfo=UTC), datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),
        ],
    )
    async def test_the_sweep_fires_at_nine_local_across_clock_changes(
        self, running: StandInBot, after: datetime, expected_utc: datetime
    ) -> None:
        assert running.app.job_queue is not None
        (job,) = running.app.job_queue.get_jobs_by_name(jobs.SWEEP_JOB)
        fire = job.job.trigger.get_next_fire_time(None, after)
        assert fire == expected_utc
        assert fire.astimezone(running.services.tz).hour == 9

    async def test_the_digest_fires_on_monday_at_half_past_eight(
        self, running: StandInBot
    ) -> None:
        assert running.app.job_queue is not None
        (job,) = running.app.job_queue.get_jobs_by_name(jobs.DIGEST_JOB)
        fire = job.job.trigger.get_next_fire_time(None, datetime(2026, 3, 26, tzinfo=UTC))
        local = fire.astimezone(running.services.tz)
        assert (local.date(), local.hour, local.minute) == (date(2026, 3, 30), 8, 30)

    def test_the_latest_slot_follows_local_time_across_the_march_change(self) -> None:
        settings = load_settings()
        before = datetime(2026, 3, 29, 7, 59, tzinfo=UTC)  # 08:59 BST
        after = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # 09:00 BST
        assert jobs.latest_slot(before, settings.reminder_time, settings.tz).day == 28
        assert jobs.latest_slot(after, settings.reminder_time, settings.tz) == after

    def test_month_end_reviews_count_from_the_baseline(self) -> None:
        """C10: a 30 November baseline is due 28 February, then 30 May; due soon 7 days before."""
        case = CaseSummary(
            YoungPerson(1, "YP-M1", 1, 1, None),
            date(2025, 11, 30),
            date(2025, 11, 30),
            "baseline",
            None,
        )
        instrument = default_instrument()
        assert due_reminders(instrument, [case], date(2026, 2, 20), 7) == []
        (soon,) = due_reminders(instrument, [case], date(2026, 2, 21), 7)
        assert (soon.due_on, soon.kind) == (date(2026, 2, 28), "due_soon")
        (late,) = due_reminders(instrument, [case], date(2026, 3, 1), 7)
        assert (late.due_on, late.kind) == (date(2026, 2, 28), "overdue")
        reviewed = CaseSummary(
            case.young_person, date(2025, 11, 30), date(2026, 2, 27), "review", None
        )
        (next_one,) = due_reminders(instrument, [reviewed], date(2026, 5, 25), 7)
        assert next_one.due_on == date(2026, 5, 30)


@pytest.mark.usefixtures("chats")
class TestReminders:
    async def test_one_message_per_practitioner_once_with_start_and_snooze(
        self, running: StandInBot
    ) -> None:
        store = running.services.store
        staff = await _staff(store, PRACTITIONER_ID)
        await _case_due(store, staff, "YP-R1", date(2026, 9, 1))  # due 1 Dec: overdue
        await _case_due(store, staff, "YP-R2", date(2026, 9, 8))  # due 8 Dec: due soon
        await _case_due(store, staff, "YP-R3", date(2026, 11, 1))  # due 1 Feb: not yet
        sender = _sender(running)

        first = await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)
        again = await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)

        assert first.sent == [staff.id]
        assert again.sent == []
        (text,) = _texts(running, PRACTITIONER_ID)
        assert "YP-R1 · review OVERDUE since" in text
        assert "YP-R2 · review due" in text
        assert "YP-R3" not in text
        client = running.client(PRACTITIONER_ID)
        assert client.buttons()[:3] == ["Start YP-R1", "Snooze 1 day", "Snooze 1 week"]

    async def test_start_opens_the_review_of_that_case(self, running: StandInBot) -> None:
        store = running.services.store
        staff = await _staff(store, PRACTITIONER_ID)
        await _case_due(store, staff, "YP-R1", date(2026, 9, 1))
        await jobs.run_reminder_sweep(running.services, _sender(running), LONDON_NINE_GMT)
        client = running.client(PRACTITIONER_ID)

        answer = await client.tap("Start YP-R1")

        assert answer.answered
        assert "Which assessment is this?" in (client.last_bot_message.text or "")

    async def test_closed_cases_are_never_reminded(self, running: StandInBot) -> None:
        store = running.services.store
        staff = await _staff(store, PRACTITIONER_ID)
        young_person = await _case_due(store, staff, "YP-R1", date(2026, 9, 1))
        await submit(store, young_person, staff, AssessmentKind.CLOSURE, date(2026, 11, 1), 0)

        report = await jobs.run_reminder_sweep(running.services, _sender(running), LONDON_NINE_GMT)

        assert report.sent == []
        assert _texts(running, PRACTITIONER_ID) == []

    async def test_snooze_holds_a_case_back_then_reminds_once_more(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        store = running.services.store
        staff = await _staff(store, PRACTITIONER_ID)
        await _case_due(store, staff, "YP-R1", date(2026, 9, 1))
        sender = _sender(running)
        clock.set(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))  # a Thursday
        await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)
        client = running.client(PRACTITIONER_ID)

        answer = await client.tap("Snooze 1 day")

        assert answer.answered
        assert "4 Dec" in (answer.text or "")
        assert "snoozed until" in (client.last_bot_message.text or "")
        clock.advance(timedelta(hours=1))
        assert (
            await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)
        ).sent == []
        clock.advance(timedelta(days=1))
        back = await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)
        assert back.sent == [staff.id]
        clock.advance(timedelta(days=4))
        assert (
            await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)
        ).sent == []

    async def test_a_forged_snooze_changes_nothing(self, running: StandInBot) -> None:
        store = running.services.store
        other = await _staff(store, OTHER_PRACTITIONER_ID)
        theirs = await _case_due(store, other, "YP-S1", date(2026, 9, 1))
        client = running.client(PRACTITIONER_ID)
        await client.send("/help")

        answer = await client.tap_data(
            f"rz:{theirs.id}:20261201:7", client.last_bot_message.message_id
        )

        assert answer.answered
        assert "out of date" in (answer.text or "")
        assert await store.snoozed(other, date(2026, 12, 4)) == {}

    @pytest.mark.parametrize(
        "moment",
        [
            datetime(2026, 12, 4, 22, 0, tzinfo=UTC),  # Friday night
            datetime(2026, 12, 5, 10, 0, tzinfo=UTC),  # Saturday morning
        ],
    )
    async def test_nothing_is_sent_in_quiet_hours_or_at_weekends(
        self, running: StandInBot, clock: FixedClock, moment: datetime
    ) -> None:
        store = running.services.store
        staff = await _staff(store, PRACTITIONER_ID)
        await _case_due(store, staff, "YP-R1", date(2026, 9, 1))
        clock.set(moment)

        report = await jobs.run_reminder_sweep(running.services, _sender(running), moment)

        assert not report.ran
        assert _texts(running, PRACTITIONER_ID) == []


class TestRestarts:
    async def _seed(self, settings: Settings, clock: FixedClock) -> StandInBotAPI:
        api = StandInBotAPI()
        async with standin_bot(settings, api=api, clock=clock) as bot:
            store = bot.services.store
            team = await store.add_team("North team")
            staff = await store.enrol(PRACTITIONER_ID, team, Role.PRACTITIONER)
            await _case_due(store, staff, "YP-R1", date(2026, 9, 1))
            api.add_private_chat(PRACTITIONER_ID, "Alex")
        return api

    async def test_a_sweep_missed_while_down_runs_at_start_up_once(
        self, settings: Settings
    ) -> None:
        """C9: down at 09:00; starting at 10:00 sends the reminder, and restarting does not."""
        clock = FixedClock(datetime(2026, 12, 3, 20, 0, tzinfo=UTC))
        api = await self._seed(settings, clock)
        clock.set(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))

        async with standin_bot(settings, api=api, clock=clock):
            pass
        async with standin_bot(settings, api=api, clock=clock) as bot:
            await jobs.run_reminder_sweep(bot.services, _sender(bot), LONDON_NINE_GMT)
            texts = _texts(bot, PRACTITIONER_ID)

        assert len(texts) == 1
        assert "YP-R1" in texts[0]

    async def test_start_up_alone_sends_the_missed_sweep_once(self, settings: Settings) -> None:
        """C9: nothing calls the sweep; starting at 10:00 after a missed 09:00 sends it once."""
        clock = FixedClock(datetime(2026, 12, 3, 20, 0, tzinfo=UTC))
        api = await self._seed(settings, clock)
        clock.set(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))

        async with standin_bot(settings, api=api, clock=clock) as bot:
            after_first = _texts(bot, PRACTITIONER_ID)
        async with standin_bot(settings, api=api, clock=clock) as bot:
            after_second = _texts(bot, PRACTITIONER_ID)

        assert len(after_first) == 1
        assert "YP-R1" in after_first[0]
        assert after_second == after_first

    async def test_two_instances_starting_at_once_send_the_missed_sweep_once(
        self, settings: Settings
    ) -> None:
        """C9: an overlapping deploy: two start-ups on one database, both catching up."""
        clock = FixedClock(datetime(2026, 12, 3, 20, 0, tzinfo=UTC))
        api = await self._seed(settings, clock)
        clock.set(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))

        async with contextlib.AsyncExitStack() as both:
            await asyncio.gather(
                both.enter_async_context(standin_bot(settings, api=api, clock=clock)),
                both.enter_async_context(standin_bot(settings, api=api, clock=clock)),
            )
            texts = [m.text or "" for m in api.chats[PRACTITIONER_ID].messages.values()]

        assert len(texts) == 1
        assert "YP-R1" in texts[0]

    async def test_two_instances_on_one_database_send_once(self, settings: Settings) -> None:
        clock = FixedClock(datetime(2026, 12, 3, 20, 0, tzinfo=UTC))
        api = await self._seed(settings, clock)

        async with (
            standin_bot(settings, api=api, clock=clock) as one,
            standin_bot(settings, api=api, clock=clock) as two,
        ):
            clock.set(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
            await asyncio.gather(
                jobs.run_reminder_sweep(one.services, _sender(one), LONDON_NINE_GMT),
                jobs.run_reminder_sweep(two.services, _sender(two), LONDON_NINE_GMT),
                jobs.catch_up(one.services, _sender(one)),
                jobs.catch_up(two.services, _sender(two)),
            )
            assert len(_texts(one, PRACTITIONER_ID)) == 1


@pytest.mark.usefixtures("chats")
class TestSending:
    async def test_flood_control_is_waited_out_and_everyone_gets_one(
        self, running: StandInBot
    ) -> None:
        """C7: "retry after 5" on the 30th of 100 digests: wait at least 5 s, resend, one each."""
        store = running.services.store
        team = await store.add_team("Big team")
        recipients = []
        for n in range(100):
            recipients.append(await store.enrol(7000 + n, team, Role.LEAD))
            running.api.add_private_chat(7000 + n, "Lead")
        waits: list[float] = []
        sender = _sender(running, waits)
        view = reminder_screen([])

        outcomes = []
        for index, recipient in enumerate(recipients):
            if index == 29:
                running.api.fail_next("sendMessage", RetryAfter(5))
            outcomes.append(await sender.deliver(recipient, view))

        assert outcomes == [Outcome.SENT] * 100
        assert waits == [5.0]
        assert all(len(_texts(running, 7000 + n)) == 1 for n in range(100))

    async def test_the_rate_limiter_retries_a_flood_refusal_itself(
        self, settings: Settings, clock: FixedClock
    ) -> None:
        """With PTB's AIORateLimiter, as in production, a 429 is retried inside the limiter."""
        from bot.app import build_application
        from bot.runtime import open_services
        from bot.standin import StandInRequest, standin_token

        api = StandInBotAPI()
        api.add_private_chat(PRACTITIONER_ID, "Alex")
        async with open_services(settings, clock=clock) as services:
            app = build_application(services, token=standin_token(), request=StandInRequest(api))
            async with app:
                team = await services.store.add_team("North team")
                staff = await services.store.enrol(PRACTITIONER_ID, team, Role.PRACTITIONER)
                # The smallest wait PTB reads as flood control; the limiter really waits it.
                api.fail_next("sendMessage", RetryAfter(1))
                outcome = await Sender(app.bot, services.store).deliver(staff, reminder_screen([]))
        assert outcome is Outcome.SENT
        assert len(api.calls_to("sendMessage")) == 2
        assert len(api.chats[PRACTITIONER_ID].messages) == 1

    async def test_a_blocked_recipient_is_skipped_until_they_write_again(
        self, running: StandInBot, caplog: pytest.LogCaptureFixture
    ) -> None:
        """C8: 1 and 3 get theirs; 2 is marked unreachable, skipped, and back once they write."""
        store = running.services.store
        team = await store.add_team("North team")
        ids = [PRACTITIONER_ID, 5004, 5005]
        for telegram_id in ids[1:]:
            await store.enrol(telegram_id, team, Role.PRACTITIONER)
        for number, telegram_id in enumerate(ids):
            staff = await _staff(store, telegram_id)
            await _case_due(store, staff, f"YP-B{number}", date(2026, 9, 1))
            running.api.add_private_chat(telegram_id, "Sam")
        running.api.block(5004)
        blocked = await _staff(store, 5004)
        sender = _sender(running)

        with caplog.at_level(logging.WARNING, logger="bot.sender"):
            report = await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)

        assert report.unreachable == [blocked.id]
        assert len(report.sent) == 2
        assert [r.getMessage() for r in caplog.records].count(
            f"Staff {blocked.id} cannot be reached (Forbidden: bot was blocked by the user); "
            "skipping them until they write again"
        ) == 1
        assert blocked.id not in [s.id for s in await store.reminder_recipients()]

        running.api.unblock(5004)
        await running.client(5004).send("/help")
        assert not await store.is_unreachable(blocked)
        again = await jobs.run_reminder_sweep(running.services, sender, LONDON_NINE_GMT)
        assert again.sent == [blocked.id]


# The smallest valid PNG: one transparent pixel.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class _TimedStandIn(StandInBotAPI):
    """The stand-in, noting when each sendMessage reached it and for which chat."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[tuple[object, float]] = []

    async def handle(
        self, method: str, params: dict[str, Any], files: dict[str, Any]
    ) -> tuple[int, bytes]:
        if method == "sendMessage":
            self.sends.append((params.get("chat_id"), time.monotonic()))
        return await super().handle(method, params, files)


class TestDigestFloodControl:
    async def test_the_digest_job_waits_out_a_flood_refusal_and_sends_each_lead_one(
        self, settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """C7: the real weekly job for 100 leads; "retry after 1" on the 30th is waited out.

        Only the drawing of the team chart is replaced (by a tiny PNG), to keep it quick.
        """
        from bot import charts

        async def tiny(self: charts.ChartDrawer, *args: object) -> bytes:
            return _TINY_PNG

        monkeypatch.setattr(charts.ChartDrawer, "draw", tiny)
        api = _TimedStandIn()
        clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))  # a Sunday: nothing at start-up
        leads = [7000 + n for n in range(100)]
        async with standin_bot(settings, api=api, clock=clock) as bot:
            team = await bot.services.store.add_team("Big team")
            for telegram_id in leads:
                await bot.services.store.enrol(telegram_id, team, Role.LEAD)
                api.add_private_chat(telegram_id, "Lead")
            clock.set(datetime(2026, 12, 7, 8, 30, tzinfo=UTC))
            api.fail_next("sendMessage", RetryAfter(1), chat_id=leads[29])
            assert bot.app.job_queue is not None
            (job,) = bot.app.job_queue.get_jobs_by_name(jobs.DIGEST_JOB)

            await job.run(bot.app)

        thirtieth = [at for chat_id, at in api.sends if chat_id == leads[29]]
        assert len(thirtieth) == 2
        assert thirtieth[1] - thirtieth[0] >= 1.0
        assert [chat_id for chat_id, _ in api.sends].index(leads[29]) == 29
        for telegram_id in leads:
            shown = [m for m in api.chats[telegram_id].messages.values() if m.from_bot]
            assert ["Weekly digest" in (m.text or "") for m in shown] == [True, False]
            assert shown[1].photo is not None


@pytest.mark.usefixtures("chats")
class TestDigest:
    async def _team(self, running: StandInBot, clock: FixedClock) -> None:
        store = running.services.store
        practitioner = await _staff(store, PRACTITIONER_ID)
        lead = await _staff(store, LEAD_ID)
        clock.set(datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
        rising = await store.add_young_person("YP-D1", practitioner)
        await submit(store, rising, practitioner, AssessmentKind.BASELINE, date(2026, 9, 1), 1)
        await _case_due(store, practitioner, "YP-D2", date(2026, 9, 8))  # due soon
        steady = await store.add_young_person("YP-D3", lead)
        await submit(store, steady, lead, AssessmentKind.BASELINE, date(2026, 11, 20), 1)
        # A review this week: risk up from 33.3 to 100, resilience down, newly High.
        clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
        await submit(
            store, rising, practitioner, AssessmentKind.REVIEW, date(2026, 12, 2), 3, resilience=0
        )
        # A draft opened 10 days ago and left.
        draft_case = await store.add_young_person("YP-D4", practitioner)
        clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
        await store.start_assessment(
            draft_case, AssessmentKind.BASELINE, "apart-default", "1.0", practitioner, "date"
        )
        clock.set(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
        # The other team's case never shows.
        other = await _staff(store, OTHER_PRACTITIONER_ID)
        await _case_due(store, other, "YP-X9", date(2026, 9, 1))

    async def test_the_figures_for_a_seeded_team(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        await self._team(running, clock)
        store = running.services.store
        lead = await _staff(store, LEAD_ID)
        practitioner = await _staff(store, PRACTITIONER_ID)
        now = clock.now()

        figures = digest_figures(
            running.services.instrument,
            await store.team_caseload(lead),
            await store.team_history(lead),
            await store.stale_drafts(lead, now - timedelta(days=7)),
            now=now,
            on=date(2026, 12, 4),
            due_soon_days=7,
        )

        assert figures.active_cases == 4
        assert figures.submitted == 1
        assert figures.due == {practitioner.id: ([], ["YP-D2"])}
        assert [(c.reference, c.before, c.after) for c in figures.risk_rose] == [
            ("YP-D1", 33.3, 100.0)
        ]
        assert [c.reference for c in figures.resilience_fell] == ["YP-D1"]
        assert [ref for _, ref in figures.newly_high] == ["YP-D1"]
        assert figures.stale_drafts == [("YP-D4", practitioner.id, 10)]

    async def test_a_practitioner_gets_no_team_figures(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        await self._team(running, clock)
        store = running.services.store
        practitioner = await _staff(store, PRACTITIONER_ID)
        assert await store.team_caseload(practitioner) == []
        assert await store.team_history(practitioner) == []

    async def test_the_weekly_digest_goes_to_each_lead_once_with_the_team_chart(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        await self._team(running, clock)
        clock.set(datetime(2026, 12, 7, 8, 30, tzinfo=UTC))
        slot = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
        sender = _sender(running)

        first = await jobs.run_weekly_digest(running.services, sender, slot)
        second = await jobs.run_weekly_digest(running.services, sender, slot)

        lead = await _staff(running.services.store, LEAD_ID)
        assert first.sent == [lead.id]
        assert second.sent == []
        text, caption = _texts(running, LEAD_ID)
        assert "Weekly digest · North team" in text
        assert "YP-X9" not in text
        assert "North team: scores since baseline" in caption
        assert running.client(LEAD_ID).buttons() == ["Chart YP-D1"]

    async def test_digest_on_request_is_for_leads_only(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        await self._team(running, clock)
        lead, practitioner = running.client(LEAD_ID), running.client(PRACTITIONER_ID)

        await practitioner.send("/digest")
        await lead.send("/digest")
        answer = await lead.tap("Chart YP-D1")

        assert "for team leads" in (practitioner.last_bot_message.text or "")
        assert answer.answered
        photo = lead.last_bot_message.photo
        assert photo is not None
        assert photo.filename == "YP-D1-progress.png"

    async def test_help_lists_the_commands_of_each_role(self, running: StandInBot) -> None:
        lead, practitioner = running.client(LEAD_ID), running.client(PRACTITIONER_ID)

        await lead.send("/help")
        await practitioner.send("/help")

        for_lead = lead.last_bot_message.text or ""
        for_practitioner = practitioner.last_bot_message.text or ""
        for command in ("/progress", "/digest", "/report", "/transfer", "/cases"):
            assert command in for_lead
        assert "/progress" in for_practitioner
        assert "/digest" not in for_practitioner
        assert "/report" not in for_practitioner

    async def test_a_leads_cases_points_to_the_teams_cases(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        await self._team(running, clock)
        lead, practitioner = running.client(LEAD_ID), running.client(PRACTITIONER_ID)

        await lead.send("/cases")
        await practitioner.send("/cases")

        assert "Your team has 4 active cases: /digest" in (lead.last_bot_message.text or "")
        assert "Your team" not in (practitioner.last_bot_message.text or "")

    async def test_a_baseline_that_starts_high_is_a_new_case_not_a_change(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        """A baseline has no previous assessment, so nothing is claimed to have changed."""
        store = running.services.store
        practitioner = await _staff(store, PRACTITIONER_ID)
        lead = await _staff(store, LEAD_ID)
        clock.set(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
        new = await store.add_young_person("YP-N1", practitioner)
        await submit(store, new, practitioner, AssessmentKind.BASELINE, date(2026, 12, 3), 3)
        clock.set(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
        now = clock.now()

        figures = digest_figures(
            running.services.instrument,
            await store.team_caseload(lead),
            await store.team_history(lead),
            [],
            now=now,
            on=date(2026, 12, 4),
            due_soon_days=7,
        )
        text = digest_screen(figures, "North team", lead, [lead], date(2026, 12, 4)).text

        assert [ref for _, ref in figures.started_high] == ["YP-N1"]
        assert figures.newly_high == []
        changes, started = text.split("New cases starting High")
        assert "YP-N1" not in changes
        assert "YP-N1" in started
        assert "No case rose in risk" in changes


class TestLongDigests:
    async def _big_team(self, running: StandInBot, cases: int) -> Staff:
        """A practitioner with `cases` overdue cases, enough to overflow one message."""
        store, instrument = running.services.store, running.services.instrument
        practitioner = await _staff(store, PRACTITIONER_ID)
        for number in range(cases):
            case = await store.add_young_person(f"YP-BIG-{number:04d}", practitioner)
            await store.add_submitted_assessment(
                case,
                practitioner,
                kind=AssessmentKind.BASELINE,
                assessed_on=date(2025, 1, 6),
                instrument_id=instrument.id,
                instrument_version=instrument.version,
                answers={},
                scores={"sections": []},
                risk=(20.0, "Low"),
                resilience=(50.0, "Medium"),
            )
        return practitioner

    async def test_a_big_teams_digest_goes_in_parts_each_once_through_a_flood_wait(
        self, running: StandInBot, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Over 4,096 characters: several messages; a 429 on part two resends part two only."""
        await self._big_team(running, 350)
        running.client(LEAD_ID)
        api, handle, seen = running.api, running.api.handle, [0]

        async def flood_on_second_part(
            method: str, params: dict[str, Any], files: dict[str, Any]
        ) -> tuple[int, bytes]:
            if method == "sendMessage" and params.get("chat_id") in (LEAD_ID, str(LEAD_ID)):
                seen[0] += 1
                if seen[0] == 2:
                    api.fail_next("sendMessage", RetryAfter(1), chat_id=LEAD_ID)
            return await handle(method, params, files)

        monkeypatch.setattr(api, "handle", flood_on_second_part)
        clock.set(datetime(2026, 12, 7, 8, 30, tzinfo=UTC))
        waits: list[float] = []

        report = await jobs.run_weekly_digest(
            running.services, _sender(running, waits), datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
        )

        lead = await _staff(running.services.store, LEAD_ID)
        assert report.sent == [lead.id]
        assert waits == [1]
        messages = [m for m in api.chats[LEAD_ID].messages.values() if m.from_bot]
        texts = [m.text or "" for m in messages if m.photo is None]
        assert len(texts) >= 2
        assert all(len(text) <= 4096 for text in texts)
        assert texts[0].startswith("Weekly digest · North team")
        joined = "".join(texts)
        for number in range(350):
            assert joined.count(f"YP-BIG-{number:04d}") == 1
        assert len(set(texts)) == len(texts)
        assert messages[-1].photo is not None

    async def test_a_long_caption_is_never_cut_the_rest_follows(self, running: StandInBot) -> None:
        running.client(LEAD_ID)
        lead = await _staff(running.services.store, LEAD_ID)
        caption = " ".join(f"word{n} <&>" for n in range(200))
        photo = Photo(_TINY_PNG, "chart.png", caption)

        outcome = await _sender(running).deliver(lead, screen("Digest"), photos=(photo,))

        assert outcome is Outcome.SENT
        messages = [m for m in running.api.chats[LEAD_ID].messages.values() if m.from_bot]
        assert [m.text for m in messages[:1]] == ["Digest"]
        assert messages[1].photo is not None
        assert len(messages[1].caption or "") <= 1024
        shown = [messages[1].caption or "", *(m.text or "" for m in messages[2:])]
        # Telegram trims the space at a break; every word arrives, in order.
        assert " ".join(" ".join(shown).split()) == caption

    async def test_a_lead_who_never_opened_the_chat_is_skipped_with_one_warning(
        self, running: StandInBot, clock: FixedClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Telegram says "chat not found": like a block, not an error at every digest."""
        lead = await _staff(running.services.store, LEAD_ID)
        sender = _sender(running)

        with caplog.at_level(logging.WARNING):
            for day in (7, 14):
                clock.set(datetime(2026, 12, day, 8, 30, tzinfo=UTC))
                slot = datetime(2026, 12, day, 8, 30, tzinfo=UTC)
                report = await jobs.run_weekly_digest(running.services, sender, slot)
                assert report.failed == []

        assert await running.services.store.is_unreachable(lead)
        assert [r.levelno for r in caplog.records if r.name == "bot.sender"] == [logging.WARNING]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_settings_refuse_a_sweep_in_quiet_hours(tmp_path: Path) -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="APART_REMINDER_TIME"):
        load_settings(APART_DB_PATH=tmp_path / "a.db", APART_REMINDER_TIME="23:00")
