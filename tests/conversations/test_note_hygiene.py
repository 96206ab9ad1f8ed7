"""Notes that look like contact details or a date of birth are held back for a second look."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.references import personal_data_in

if TYPE_CHECKING:
    from bot.harness import ChatClient
    from bot.runtime import StandInBot
    from bot.store import Staff


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Call her on 07700 900123 after school", "a phone number"),
        ("Contact sam.doe@example.org", "an email address"),
        ("Staying near SW1A 1AA most nights", "a postcode"),
        ("Born 12/03/2011", "a date (a date of birth?)"),
        ("DOB 12032011", "a date (a date of birth?)"),
        ("DOB March 3 2010", "a date (a date of birth?)"),
        ("born 3rd of March 2010", "a date (a date of birth?)"),
        ("Birthday is Sept 12th", "a date (a date of birth?)"),
        ("born on 3 Mar", "a date (a date of birth?)"),
    ],
)
def test_identifying_shapes_are_found_in_a_note(text: str, found: str) -> None:
    assert found in personal_data_in(text)


def test_an_ordinary_note_is_not_flagged() -> None:
    assert personal_data_in("Missing twice this month; new older friends; 3 episodes") == []
    assert personal_data_in("Seen at the market 3 times; 2 marches with friends") == []


async def _at_first_item(practitioner: ChatClient) -> None:
    await practitioner.send("/new")
    await practitioner.send("YP-N1")
    await practitioner.tap("Start the baseline")
    await practitioner.tap("Today")
    await practitioner.tap("Add note")


async def _notes(running: StandInBot, staff: Staff) -> dict[str, str]:
    store = running.services.store
    draft = await store.open_draft(staff)
    assert draft is not None
    return await store.notes(draft.id)


class TestFlaggedNotes:
    async def test_a_flagged_note_is_not_stored_until_confirmed(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await _at_first_item(practitioner)

        await practitioner.send("Mum's number is 07700 900123")

        assert await _notes(running, practitioner_staff) == {}
        assert not any("07700" in (m.text or "") for m in practitioner.messages)
        prompt = practitioner.last_bot_message.text or ""
        assert "seems to contain a phone number" in prompt
        assert "Save anyway" in practitioner.buttons()

        await practitioner.tap("Save anyway")

        assert list((await _notes(running, practitioner_staff)).values()) == [
            "Mum's number is 07700 900123"
        ]

    async def test_a_rewritten_note_replaces_the_flagged_one(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await _at_first_item(practitioner)
        await practitioner.send("Lives at SW1A 1AA")

        await practitioner.send("Housing unstable this month")

        assert list((await _notes(running, practitioner_staff)).values()) == [
            "Housing unstable this month"
        ]
        assert await running.services.store.awaiting(practitioner_staff) is None

    async def test_save_anyway_on_an_old_prompt_stores_nothing(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await _at_first_item(practitioner)
        await practitioner.send("Born 12/03/2011")
        prompt = practitioner.last_bot_message
        save = dict(button for row in prompt.buttons for button in row)["Save anyway"]
        assert save is not None
        await practitioner.tap("Cancel note")

        answer = await practitioner.tap_data(save, prompt.message_id)

        assert answer.answered
        assert await _notes(running, practitioner_staff) == {}

    async def test_erasing_the_case_drops_a_note_held_back(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        store = running.services.store
        await _at_first_item(practitioner)
        await practitioner.send("Mum's number is 07700 900123")
        case = await store.find_case("YP-N1")
        assert case is not None

        await store.erase_case(case.id, "a test")

        assert await store.awaiting(practitioner_staff) is None
