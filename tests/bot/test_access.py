"""The gate, enrolment, roles and cross-team buttons, through the real Application."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bot.access import ADMIN_ONLY_REPLY, GROUP_REPLY, NEUTRAL_REPLY
from bot.callbacks import pack
from bot.store import Role, Staff
from conversations.admin import TRANSFER
from conversations.screens import Act
from tests.conftest import LEAD_ID, OTHER_PRACTITIONER_ID, PRACTITIONER_ID, STRANGER_ID

if TYPE_CHECKING:
    from bot.clock import FixedClock
    from bot.harness import ChatClient
    from bot.runtime import StandInBot
    from bot.store import Store, YoungPerson

ADMIN_ID = 5010
GROUP_ID = -100200


async def _staff(store: Store, telegram_user_id: int) -> Staff:
    staff = await store.staff_by_telegram_id(telegram_user_id)
    assert staff is not None
    return staff


async def _case(running: StandInBot, telegram_user_id: int, reference: str) -> YoungPerson:
    store = running.services.store
    return await store.add_young_person(reference, await _staff(store, telegram_user_id))


async def _actions(store: Store) -> list[str]:
    return [entry["action"] for entry in await store.audit_entries()]


def _texts(client: ChatClient) -> list[str]:
    return [m.text or "" for m in client.bot_messages]


class TestGate:
    async def test_a_stranger_gets_one_neutral_reply_and_nothing_runs(
        self, running: StandInBot
    ) -> None:
        stranger = running.client(STRANGER_ID, "Kim")
        for text in ("/start", "/cases", "/new", "hello"):
            await stranger.send(text)

        assert _texts(stranger) == [NEUTRAL_REPLY]
        assert await running.services.store.staff_by_telegram_id(STRANGER_ID) is None
        assert "refused" in await _actions(running.services.store)

    async def test_the_neutral_reply_says_nothing_about_the_service(self) -> None:
        for word in ("CSE", "exploitation", "assessment", "APART", "invitation"):
            assert word.lower() not in NEUTRAL_REPLY.lower()

    async def test_a_strangers_button_press_is_answered_and_changes_nothing(
        self, running: StandInBot
    ) -> None:
        case = await _case(running, PRACTITIONER_ID, "YP-G1")
        stranger = running.client(STRANGER_ID, "Kim")
        await stranger.send("/start")

        answer = await stranger.tap_data(pack(Act.PICK_CASE, case.id), 1)

        assert answer.answered
        assert await running.services.store.draft_for(case.id) is None

    async def test_a_revoked_practitioner_is_refused_at_the_next_update(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        await practitioner.send("/new")
        await practitioner.send("YP-R1")
        await practitioner.tap("Start the baseline")
        staff = await _staff(store, PRACTITIONER_ID)

        revoked = await store.revoke(PRACTITIONER_ID, None)
        mark = practitioner.mark()
        await practitioner.send("/cases")

        assert revoked is not None
        assert revoked.revoked
        assert practitioner.texts_since(mark) == [NEUTRAL_REPLY]
        assert await store.open_draft(staff) is not None, "the draft is kept for reassignment"
        assert "revoke" in await _actions(store)

    async def test_the_bot_added_to_a_group_says_so_and_leaves(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        await practitioner.add_bot_to_group(GROUP_ID, "Team chat")

        assert [m.text for m in practitioner.group_messages(GROUP_ID)] == [GROUP_REPLY]
        assert GROUP_ID in running.api.left_chats

    async def test_a_command_in_a_group_shows_no_case_data(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        await _case(running, PRACTITIONER_ID, "YP-G2")

        await practitioner.send_in_group(GROUP_ID, "/cases")

        bot_texts = [m.text or "" for m in practitioner.group_messages(GROUP_ID) if m.from_bot]
        assert bot_texts == [GROUP_REPLY]
        assert not any("YP-G2" in (m.text or "") for m in practitioner.bot_messages)


class TestEnrolment:
    async def _invite(
        self, running: StandInBot, role: Role = Role.PRACTITIONER, hours: int = 72
    ) -> str:
        store = running.services.store
        team = await store.team_id("North team")
        expires = running.services.clock.now() + timedelta(hours=hours)
        return await store.create_invitation(team, role, expires, None)

    async def test_an_invitation_link_enrols_the_person_with_its_team_and_role(
        self, running: StandInBot
    ) -> None:
        code = await self._invite(running, Role.LEAD)
        newcomer = running.client(6001, "Robin")

        await newcomer.send(f"/start {code}")
        await newcomer.send("/cases")

        staff = await _staff(running.services.store, 6001)
        assert staff.role is Role.LEAD
        assert staff.team_id == await running.services.store.team_id("North team")
        assert "You are enrolled" in _texts(newcomer)[0]
        assert "no young people yet" in _texts(newcomer)[-1]

    async def test_an_invitation_works_once(self, running: StandInBot) -> None:
        code = await self._invite(running)
        await running.client(6001, "Robin").send(f"/start {code}")
        second = running.client(6002, "Jo")

        await second.send(f"/start {code}")

        assert await running.services.store.staff_by_telegram_id(6002) is None
        assert "expired or has already been used" in _texts(second)[0]

    async def test_an_expired_invitation_enrols_no_one(
        self, running: StandInBot, clock: FixedClock
    ) -> None:
        code = await self._invite(running, hours=1)
        clock.advance(timedelta(hours=2))
        newcomer = running.client(6001, "Robin")

        await newcomer.send(f"/start {code}")

        assert await running.services.store.staff_by_telegram_id(6001) is None
        assert "expired" in _texts(newcomer)[0]

    async def test_a_made_up_code_gets_the_neutral_reply(self, running: StandInBot) -> None:
        guesser = running.client(6003, "Sam")

        await guesser.send("/start AAAAAAAAAAAAAAAAAAAAAA")

        assert _texts(guesser) == [NEUTRAL_REPLY]
        assert await running.services.store.staff_by_telegram_id(6003) is None

    async def test_the_code_is_stored_only_as_a_hash(self, running: StandInBot) -> None:
        code = await self._invite(running)

        row = await running.services.store._fetchone("SELECT * FROM invitations")

        assert row is not None
        assert code not in [str(value) for value in tuple(row)]
        assert len(row["code_hash"]) == 64

    async def test_only_an_administrator_may_create_an_invitation(
        self, running: StandInBot
    ) -> None:
        store = running.services.store
        lead = await _staff(store, LEAD_ID)
        expires = running.services.clock.now() + timedelta(hours=1)

        with pytest.raises(Exception, match="Only an administrator"):
            await store.create_invitation(lead.team_id, Role.PRACTITIONER, expires, lead)

    async def test_an_admin_invites_in_the_chat_and_the_link_enrols(
        self, running: StandInBot
    ) -> None:
        await running.services.store.bootstrap_admin(ADMIN_ID)
        admin = running.client(ADMIN_ID, "Ash")

        await admin.send("/invite")
        await admin.tap("North team")
        await admin.tap("Practitioner")
        link = re.search(r"https://t\.me/\w+\?start=([\w-]+)", admin.last_bot_message.text or "")
        assert link is not None
        newcomer = running.client(6004, "Lee")
        await newcomer.send(f"/start {link.group(1)}")

        staff = await _staff(running.services.store, 6004)
        assert staff.role is Role.PRACTITIONER
        assert "invite" in await _actions(running.services.store)

    async def test_an_admin_creates_a_team_in_the_chat(self, running: StandInBot) -> None:
        await running.services.store.bootstrap_admin(ADMIN_ID)
        admin = running.client(ADMIN_ID, "Ash")

        await admin.send("/team West team")
        await admin.send("/team")
        await admin.send("/help")

        assert await running.services.store.team_id("West team") is not None
        texts = _texts(admin)
        assert "West team is ready" in texts[0]
        assert "Send the team's name" in texts[1]
        assert "/invite" in texts[2]
        assert "/assess" not in texts[2]

    async def test_the_first_admin_can_be_bootstrapped_only_once(
        self, running: StandInBot
    ) -> None:
        store = running.services.store
        await store.bootstrap_admin(ADMIN_ID)

        with pytest.raises(Exception, match="already an administrator"):
            await store.bootstrap_admin(6009)


class TestRoles:
    """Each role against each action: register, caseload, open a case, transfer, invite."""

    async def test_an_admin_sees_no_case_data(self, running: StandInBot) -> None:
        await _case(running, PRACTITIONER_ID, "YP-M1")
        store = running.services.store
        admin_staff = await store.bootstrap_admin(ADMIN_ID)
        admin = running.client(ADMIN_ID, "Ash")

        for command in ("/cases", "/assess", "/new", "/transfer"):
            await admin.send(command)
        case = await store.find_case("YP-M1")
        assert case is not None
        answer = await admin.tap_data(pack(Act.PICK_CASE, case.id), 1)

        assert set(_texts(admin)) == {ADMIN_ONLY_REPLY}
        assert answer.answered
        assert answer.text == ADMIN_ONLY_REPLY
        assert await store.young_person(case.id, admin_staff) is None
        assert await store.team_cases(admin_staff) == []

    async def test_an_admin_may_not_register_a_case_in_the_store(
        self, running: StandInBot
    ) -> None:
        store = running.services.store
        admin = await store.enrol(ADMIN_ID, await store.team_id("North team"), Role.ADMIN)

        with pytest.raises(Exception, match="register"):
            await store.add_young_person("YP-M2", admin)

    async def test_a_lead_sees_the_teams_cases_and_a_practitioner_only_their_own(
        self, running: StandInBot
    ) -> None:
        store = running.services.store
        own = await _case(running, PRACTITIONER_ID, "YP-M3")
        other_team = await _case(running, OTHER_PRACTITIONER_ID, "YP-M4")
        lead = await _staff(store, LEAD_ID)
        practitioner = await _staff(store, PRACTITIONER_ID)
        colleague = await store.enrol(5004, lead.team_id, Role.PRACTITIONER)

        assert await store.young_person(own.id, practitioner) is not None
        assert await store.young_person(own.id, lead) is not None
        assert await store.young_person(own.id, colleague) is None
        assert await store.young_person(other_team.id, lead) is None
        assert await store.young_person(other_team.id, practitioner) is None
        assert [c.reference for c in await store.team_cases(lead)] == ["YP-M3"]
        assert await store.team_cases(practitioner) == []

    async def test_a_lead_and_admin_keeps_case_access_and_may_invite(
        self, running: StandInBot
    ) -> None:
        store = running.services.store
        own = await _case(running, PRACTITIONER_ID, "YP-M5")
        team = await store.team_id("North team")
        code = await store.create_invitation(
            team, Role.LEAD, running.services.clock.now() + timedelta(hours=1), None, is_admin=True
        )
        both = await store.redeem_invitation(code, 6010)

        assert both.can_administer
        assert both.sees_cases
        assert await store.young_person(own.id, both) is not None
        await store.create_invitation(
            team, Role.PRACTITIONER, running.services.clock.now() + timedelta(hours=1), both
        )

    async def test_a_practitioner_cannot_use_admin_commands(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        await practitioner.send("/invite")
        answer = await practitioner.tap_data(pack("ad", "r", 1, "a"), 1)

        assert _texts(practitioner)[-1] == "Only an administrator can do that."
        assert answer.answered
        assert answer.show_alert
        assert await running.services.store._fetchone("SELECT 1 FROM invitations") is None

    async def test_a_revoked_lead_sees_nothing(self, running: StandInBot) -> None:
        store = running.services.store
        case = await _case(running, PRACTITIONER_ID, "YP-M6")
        await store.revoke(LEAD_ID, None)
        lead = await _staff(store, LEAD_ID)

        assert await store.young_person(case.id, lead) is None
        assert await store.team_cases(lead) == []


class TestCrossTeamButtons:
    async def test_a_forged_case_button_of_another_team_shows_nothing(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        theirs = await _case(running, OTHER_PRACTITIONER_ID, "YP-S1")
        await practitioner.send("/assess")
        mark = practitioner.mark()

        answer = await practitioner.tap_data(pack(Act.PICK_CASE, theirs.id), 1)

        assert answer.answered
        assert answer.show_alert
        assert answer.text == "That case is not available to you."
        assert not any("YP-S1" in text for text in practitioner.texts_since(mark))
        assert await store.draft_for(theirs.id) is None
        refusals = [e for e in await store.audit_entries() if e["action"] == "refused"]
        assert refusals[-1]["young_person_id"] == theirs.id

    @pytest.mark.parametrize("act", [Act.RESUME, Act.TODAY, Act.DISCARD_CONFIRMED, Act.SUMMARY])
    async def test_a_forged_draft_button_of_another_team_changes_nothing(
        self, act: Act, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        other = running.client(OTHER_PRACTITIONER_ID, "Jamie")
        await other.send("/new")
        await other.send("YP-S2")
        await other.tap("Start the baseline")
        case = await store.find_case("YP-S2")
        assert case is not None
        draft = await store.draft_for(case.id)
        assert draft is not None
        await practitioner.send("/help")
        mark = practitioner.mark()

        answer = await practitioner.tap_data(pack(act, draft.id), 1)

        assert answer.answered
        assert not any("YP-S2" in text for text in practitioner.texts_since(mark))
        after = await store.draft_for(case.id)
        assert after is not None
        assert after.step == draft.step
        assert after.assessed_on is None
        refusals = [e for e in await store.audit_entries() if e["action"] == "refused"]
        assert refusals[-1]["assessment_id"] == draft.id


class TestTransfer:
    async def test_a_lead_transfers_a_case_with_its_open_draft(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        await practitioner.send("/new")
        await practitioner.send("YP-T1")
        await practitioner.tap("Start the baseline")
        await practitioner.tap("Today")
        colleague = await store.enrol(5004, await store.team_id("North team"), Role.PRACTITIONER)
        lead = running.client(LEAD_ID, "Pat")

        await lead.send("/transfer")
        await lead.tap("YP-T1")
        await lead.tap(f"Practitioner #{colleague.id}")

        case = await store.find_case("YP-T1")
        assert case is not None
        assert case.practitioner_id == colleague.id
        assert "now belongs to" in (lead.last_bot_message.text or "")
        newcomer = running.client(5004, "Chris")
        await newcomer.send("/assess")
        await newcomer.tap("Resume")
        assert "Background 1 of" in (newcomer.last_bot_message.text or "")
        moved = await store.open_draft(colleague)
        assert moved is not None
        assert moved.reference == "YP-T1"
        assert await store.caseload(await _staff(store, PRACTITIONER_ID)) == []
        assert "transfer" in await _actions(store)

    async def test_a_practitioner_cannot_transfer(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        case = await _case(running, PRACTITIONER_ID, "YP-T2")
        colleague = await store.enrol(5004, case.team_id, Role.PRACTITIONER)

        await practitioner.send("/transfer")
        answer = await practitioner.tap_data(pack(TRANSFER, case.id, colleague.id), 1)

        assert _texts(practitioner)[-1] == "Only a team lead can transfer cases."
        assert answer.answered
        after = await store.find_case("YP-T2")
        assert after is not None
        assert after.practitioner_id == case.practitioner_id

    async def test_a_case_cannot_go_to_another_team(self, running: StandInBot) -> None:
        store = running.services.store
        case = await _case(running, PRACTITIONER_ID, "YP-T3")
        lead = await _staff(store, LEAD_ID)
        outsider = await _staff(store, OTHER_PRACTITIONER_ID)

        assert not await store.transfer(case, outsider, lead)
        after = await store.find_case("YP-T3")
        assert after is not None
        assert after.practitioner_id == case.practitioner_id


class TestTeamMoves:
    """A practitioner moved to another team leaves their old cases behind."""

    async def _moved(self, running: StandInBot, practitioner: ChatClient) -> Staff:
        store = running.services.store
        await practitioner.send("/new")
        await practitioner.send("YP-M1")
        south = await store.team_id("South team")
        assert south is not None
        return await store.enrol(PRACTITIONER_ID, south, Role.PRACTITIONER)

    async def test_the_old_teams_cases_leave_the_caseload(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        moved = await self._moved(running, practitioner)

        assert await store.caseload(moved) == []
        assert await store.case_by_reference("YP-M1", moved) is None
        await practitioner.send("/cases")
        assert "YP-M1" not in (practitioner.last_bot_message.text or "")
        await practitioner.send("/progress YP-M1")
        assert "I cannot find a case YP-M1" in _texts(practitioner)[-1]
        assert not [m for m in practitioner.bot_messages if m.photo is not None]

    async def test_the_old_teams_lead_still_sees_the_case_to_transfer_it(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        store = running.services.store
        await self._moved(running, practitioner)
        lead = await _staff(store, LEAD_ID)

        assert await store.case_by_reference("YP-M1", lead) is not None


class TestLeadsReadButDoNotAnswer:
    async def test_a_lead_cannot_answer_or_start_a_practitioners_assessment(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        """Leads see the team's cases; only the responsible practitioner assesses them."""
        store = running.services.store
        await practitioner.send("/new")
        await practitioner.send("YP-L1")
        await practitioner.tap("Start the baseline")
        await practitioner.tap("Today")
        draft = await store.open_draft(await _staff(store, PRACTITIONER_ID))
        assert draft is not None
        lead = running.client(LEAD_ID, "Pat")
        await lead.send("/help")
        message = lead.last_bot_message.message_id

        first_item = draft.current_item
        answered = await lead.tap_data(pack(Act.VALUE, draft.id, "age", 14), message)
        started = await lead.tap_data(pack(Act.PICK_CASE, draft.young_person_id), message)

        assert answered.text is not None
        assert "no longer open" in answered.text
        assert started.text is not None
        assert "not available" in started.text
        assert await store.answers(draft.id) == {}
        after = await store.open_draft(await _staff(store, PRACTITIONER_ID))
        assert after is not None
        assert after.current_item == first_item
