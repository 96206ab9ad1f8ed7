"""Button payloads."""

from __future__ import annotations

import pytest

from bot.callbacks import CallbackDataTooLongError, pack, pattern, unpack


class TestPack:
    def test_round_trips_an_action_and_its_arguments(self) -> None:
        callback = unpack(pack("va", 12, "R7", 2))
        assert callback.action == "va"
        assert callback.args == ("12", "R7", "2")
        assert callback.int_arg(0) == 12

    def test_refuses_a_payload_over_64_utf8_bytes(self) -> None:
        """Counted in bytes: 32 two-byte characters are already 64."""
        pack("x", "é" * 31)
        with pytest.raises(CallbackDataTooLongError):
            pack("x", "é" * 32)

    def test_malformed_payloads_decode_harmlessly(self) -> None:
        assert unpack(None).action == ""
        assert unpack("va").int_arg(0) is None
        assert unpack("va:12x").int_arg(0) is None
        assert unpack("va:" + "9" * 40).int_arg(0) is None

    def test_patterns_match_whole_actions_only(self) -> None:
        import re

        assert re.match(pattern("dx"), "dx:1")
        assert not re.match(pattern("d"), "dx:1")
