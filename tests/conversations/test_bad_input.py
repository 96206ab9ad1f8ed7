"""Anything a person can send, at every point of the conversations, gets a plain answer.

Hypothesis pushes arbitrary text (control characters, right-to-left marks, emoji, markup
characters, 4,096-character messages), commands, stickers, photos, voice notes, documents,
forwarded and edited messages into each point where the bot waits: nothing awaited, a case
reference, an assessment date, an item on screen, a note and the summary. The real
application runs over the stand-in, which refuses HTML that Telegram would refuse; an
exception in a handler would reach the error handler and be logged at ERROR.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import InvalidReferenceError
from bot.references import check_reference
from bot.store import Status

if TYPE_CHECKING:
    import pytest

    from bot.harness import ChatClient
    from bot.runtime import StandInBot
    from bot.store import Staff

EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TAMPERED = ("Traceback", "Exception", "Error:", "sqlite", "None", "NoneType")

# Text as people type it, and as they paste it.
_ANY_TEXT = st.text(min_size=1, max_size=300)
_MARKUP = st.text(alphabet="<>&\"'/*_`[]()~|#\\ bia", min_size=1, max_size=60)
_TRICKY = st.sampled_from(
    [
        "\u200fYP-\u202eA1",
        "😀👩🏽‍⚕️🏳️‍🌈",
        "\x00\x01\x1b[31m\x7f",
        "<b>bold</b> & <script>",
        "&amp; &lt; &#0; &#xD800;",
        " ",
        "\n\n\t",
        "/unknowncommand",
        "/start@apart_demo_bot extra",
        "ا\u200fب",
    ]
)
_LONG = st.text(min_size=3000, max_size=4096) | st.just("x" * 4096) | st.just("😀" * 2048)
TEXTS = _ANY_TEXT | _MARKUP | _TRICKY | _LONG
# Well-formed references, so that the registering path is explored as well as refusals.
REFERENCES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/_-]{0,19}", fullmatch=True)

_PERSON = {"id": 777, "is_bot": False, "first_name": "Someone"}
NON_TEXT: list[dict[str, Any]] = [
    {
        "sticker": {
            "file_id": "st1",
            "file_unique_id": "ust1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    },
    {"photo": [{"file_id": "ph1", "file_unique_id": "uph1", "width": 90, "height": 90}]},
    {"voice": {"file_id": "vo1", "file_unique_id": "uvo1", "duration": 3}},
    {"document": {"file_id": "do1", "file_unique_id": "udo1", "file_name": "notes.pdf"}},
    {"location": {"latitude": 51.5, "longitude": -0.12}},
    {"text": "YP-F1", "forward_origin": {"type": "user", "date": 0, "sender_user": _PERSON}},
]


def _input() -> st.SearchStrategy[tuple[str, Any]]:
    return (
        TEXTS.map(lambda text: ("text", text))
        | st.sampled_from(NON_TEXT).map(lambda fields: ("raw", fields))
        | TEXTS.map(lambda text: ("edited", text))
    )


async def _give(client: ChatClient, given_input: tuple[str, Any]) -> None:
    kind, value = given_input
    if kind == "text":
        await client.send(value)
    elif kind == "raw":
        await client.send_raw({"message": dict(value)})
    else:
        # An edit of the person's own latest message.
        own = [message for message in client.messages if not message.from_bot][-1]
        edited = {**client.api.message_json(own), "text": value}
        edited.pop("entities", None)
        await client.send_raw({"edited_message": edited})


def _check_answered_plainly(
    client: ChatClient, mark: int, caplog: pytest.LogCaptureFixture
) -> list[str]:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    said = client.texts_since(mark)
    assert said, "the bot did not answer"
    for text in said:
        assert not any(word in text for word in TAMPERED), text
    assert client.unanswered_callbacks() == []
    return said


async def _draft(running: StandInBot, staff: Staff) -> Any:
    return await running.services.store.open_draft(staff)


async def _to_item(client: ChatClient) -> None:
    """A baseline for YP-Q1 open on its first background item."""
    await client.send("/assess")
    try:
        labels = client.buttons()
    except LookupError:
        labels = []
    if any(label.startswith("Resume YP-Q1") for label in labels):
        await client.tap("Resume YP-Q1")
        return
    await client.send("/new")
    await client.send("YP-Q1")
    await client.tap("Start the baseline")
    await client.tap("Today")


class TestAnythingAnywhere:
    @EXAMPLES
    @given(given_input=_input())
    async def test_when_nothing_is_awaited(
        self,
        practitioner: ChatClient,
        caplog: pytest.LogCaptureFixture,
        given_input: tuple[str, Any],
    ) -> None:
        await practitioner.send("/cancel")
        caplog.clear()
        mark = practitioner.mark()
        await _give(practitioner, given_input)
        _check_answered_plainly(practitioner, mark, caplog)

    @EXAMPLES
    @given(given_input=_input() | REFERENCES.map(lambda text: ("text", text)))
    async def test_when_a_reference_is_awaited(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        caplog: pytest.LogCaptureFixture,
        given_input: tuple[str, Any],
    ) -> None:
        await practitioner.send("/new")
        caplog.clear()
        before = {
            c.young_person.reference
            for c in await running.services.store.caseload(practitioner_staff)
        }
        mark = practitioner.mark()
        await _give(practitioner, given_input)
        _check_answered_plainly(practitioner, mark, caplog)

        after = {
            c.young_person.reference
            for c in await running.services.store.caseload(practitioner_staff)
        }
        added = after - before
        kind, value = given_input
        if kind != "text":
            assert added == set()
            return
        try:
            expected = check_reference(value)
        except InvalidReferenceError:
            assert added == set()
            return
        if expected in before:
            assert added == set()
            return
        assert added == {expected}, "a reference was stored other than as typed"

    @EXAMPLES
    @given(given_input=_input())
    async def test_when_a_date_is_awaited(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        caplog: pytest.LogCaptureFixture,
        given_input: tuple[str, Any],
    ) -> None:
        draft = await _draft(running, practitioner_staff)
        if draft is None:
            await practitioner.send("/new")
            await practitioner.send("YP-D1")
            await practitioner.tap("Start the baseline")
        else:
            await practitioner.send("/assess")
            await practitioner.tap("Resume YP-D1")
        draft = await _draft(running, practitioner_staff)
        assert draft is not None
        assert draft.step == "date"
        caplog.clear()
        mark = practitioner.mark()
        await _give(practitioner, given_input)
        _check_answered_plainly(practitioner, mark, caplog)

        moved = await _draft(running, practitioner_staff)
        if moved is not None and moved.step != "date":
            # A date was taken: put the draft back for the next example.
            await running.services.store.move(moved, step="date", current_item=None, editing=False)

    @EXAMPLES
    @given(given_input=_input())
    async def test_when_an_item_is_on_screen(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        caplog: pytest.LogCaptureFixture,
        given_input: tuple[str, Any],
    ) -> None:
        await _to_item(practitioner)
        before = await _draft(running, practitioner_staff)
        caplog.clear()
        mark = practitioner.mark()
        await _give(practitioner, given_input)
        _check_answered_plainly(practitioner, mark, caplog)
        after = await _draft(running, practitioner_staff)
        assert after.current_item == before.current_item
        assert await running.services.store.answers(
            after.id
        ) == await running.services.store.answers(before.id)

    @EXAMPLES
    @given(given_input=_input())
    async def test_when_a_note_is_awaited(
        self,
        running: StandInBot,
        practitioner: ChatClient,
        practitioner_staff: Staff,
        caplog: pytest.LogCaptureFixture,
        given_input: tuple[str, Any],
    ) -> None:
        await _to_item(practitioner)
        draft = await _draft(running, practitioner_staff)
        await practitioner.tap("Add note" if "Add note" in practitioner.buttons() else "Edit note")
        store = running.services.store
        notes_before = await store.notes(draft.id)
        caplog.clear()
        mark = practitioner.mark()
        await _give(practitioner, given_input)
        _check_answered_plainly(practitioner, mark, caplog)

        notes = await store.notes(draft.id)
        kind, value = given_input
        if notes != notes_before:
            assert kind == "text"
            assert notes[draft.current_item] == value.strip(), "the note was not kept as typed"
        await practitioner.send("/cancel")


class TestSubmittedNotesAreShownEscaped:
    async def test_a_note_full_of_markup_is_stored_and_shown_exactly(
        self, running: StandInBot, practitioner: ChatClient, practitioner_staff: Staff
    ) -> None:
        await _to_item(practitioner)
        await practitioner.tap("Add note")
        note = "<b>not bold</b> & &amp; <a href='x'>link</a> \u200f😀 1 < 2 > 0"
        await practitioner.send(note)

        draft = await _draft(running, practitioner_staff)
        assert draft.status == Status.DRAFT
        assert (await running.services.store.notes(draft.id))[draft.current_item] == note
        shown = practitioner.last_bot_message
        text = shown.text or ""
        assert "📝 <b>not bold</b> & &amp; <a href='x'>link</a>" in text
        # Shown as typed, not as markup: the stand-in parsed no tag out of the note.
        start = text.index("<b>not bold</b>")
        assert not [e for e in shown.entities if start <= e["offset"] < start + len(note)]
