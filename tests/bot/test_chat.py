"""Long screens are split within Telegram's limits without breaking HTML or losing text."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app import ApartContext
from bot.chat import MAX_CAPTION, MAX_TEXT, screen, send, split_html
from bot.standin import MAX_TEXT_LENGTH, parse_html
from tests.conftest import PRACTITIONER_ID

if TYPE_CHECKING:
    from bot.harness import ChatClient
    from bot.runtime import StandInBot

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
_SEGMENT = st.tuples(
    st.sampled_from(["", "b", "i", "code"]), _TEXT, st.sampled_from(["", " ", "\n"])
)


def _html(segments: list[tuple[str, str, str]]) -> str:
    parts = []
    for tag, text, gap in segments:
        escaped = html.escape(text, quote=False)
        parts.append(f"<{tag}>{escaped}</{tag}>{gap}" if tag else escaped + gap)
    return "".join(parts)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _squeezed(text: str) -> str:
    return "".join(text.split())


class TestSplitHtml:
    def test_short_text_is_one_part_unchanged(self) -> None:
        assert split_html("<b>R1</b> Mostly fine &amp; settled") == [
            "<b>R1</b> Mostly fine &amp; settled"
        ]

    @settings(max_examples=50, deadline=None)
    @given(st.lists(_SEGMENT, max_size=40), st.integers(min_value=8, max_value=200))
    def test_every_part_is_valid_html_within_the_limit_and_nothing_is_lost(
        self, segments: list[tuple[str, str, str]], limit: int
    ) -> None:
        source = _html(segments)
        parts = split_html(source, limit)
        texts = [parse_html(part)[0] for part in parts]
        assert all(_utf16(text) <= limit for text in texts)
        assert _squeezed("".join(texts)) == _squeezed(parse_html(source)[0])

    def test_a_word_longer_than_a_part_is_cut_inside_bold_and_reopened(self) -> None:
        parts = split_html("<b>" + "x" * 25 + "</b>", 10)
        assert parts == ["<b>xxxxxxxxxx</b>", "<b>xxxxxxxxxx</b>", "<b>xxxxx</b>"]

    def test_emoji_count_as_two_units_as_telegram_counts_them(self) -> None:
        parts = split_html("😀" * 6, 4)
        assert parts == ["😀😀", "😀😀", "😀😀"]

    def test_captions_split_at_their_own_limit(self) -> None:
        parts = split_html("word " * 600, MAX_CAPTION)
        assert len(parts) == 3
        assert all(len(parse_html(part)[0]) <= MAX_CAPTION for part in parts)


class TestSendSplits:
    async def test_a_summary_full_of_long_notes_arrives_whole_over_several_messages(
        self, running: StandInBot, practitioner: ChatClient
    ) -> None:
        """Forty 500-character notes with markup characters, sent as one screen."""
        note = 'Says <she> & her friend meet "older lads" at the 🚉; worried. ' * 8
        lines = [f"<b>Item R{n}</b>\n{html.escape(note[:500], quote=False)}" for n in range(40)]
        view = screen("\n\n".join(lines), [[("Submit", "su:1")]])
        context = ApartContext(running.app, chat_id=PRACTITIONER_ID, user_id=PRACTITIONER_ID)

        last = await send(context, view, chat_id=PRACTITIONER_ID)

        shown = practitioner.bot_messages
        assert len(shown) > 1
        assert all(len(m.text or "") <= MAX_TEXT_LENGTH for m in shown)
        assert last is not None
        assert last.message_id == shown[-1].message_id
        assert [bool(m.buttons) for m in shown] == [False] * (len(shown) - 1) + [True]
        whole = "".join(m.text or "" for m in shown)
        assert _squeezed(whole) == _squeezed(parse_html(view.text)[0])
        assert _squeezed(whole).count(_squeezed(note[:500])) == 40
        assert MAX_TEXT == MAX_TEXT_LENGTH
