"""Settings: one plain line naming any setting that is missing or malformed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.config import load_settings
from bot.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path


class TestSettings:
    def test_defaults_need_nothing_set(self) -> None:
        settings = load_settings()
        assert settings.timezone == "Europe/London"
        assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
        assert settings.instrument is None

    def test_reads_the_environment_and_dot_env(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        (tmp_path / ".env").write_text("APART_TIMEZONE=Europe/Dublin\n", "utf-8")
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path / "x.db"))
        settings = load_settings()
        assert settings.timezone == "Europe/Dublin"
        assert settings.db_path == tmp_path / "x.db"

    @pytest.mark.parametrize(
        ("name", "value", "hint"),
        [
            ("APART_TIMEZONE", "Europe/Lundon", "IANA time zone"),
            ("TELEGRAM_BOT_TOKEN", "not-a-token", "@BotFather"),
            ("TELEGRAM_API_BASE_URL", "ftp://example.invalid", "http(s) URL"),
            ("APART_INSTRUMENT", "/nowhere/form.toml", "instrument .toml"),
            ("APART_IDLE_MINUTES", "soon", "whole number of minutes"),
        ],
    )
    def test_a_malformed_setting_is_named_with_what_to_put_there(
        self, monkeypatch: pytest.MonkeyPatch, name: str, value: str, hint: str
    ) -> None:
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError) as raised:
            load_settings()
        message = str(raised.value)
        assert message.startswith(name)
        assert hint in message
        assert "\n" not in message

    @pytest.mark.parametrize(
        ("quiet", "name", "value", "fix"),
        [
            ("21:00-08:00", "APART_REMINDER_TIME", "07:00", "a time from 08:00 to 20:59"),
            ("08:00-08:45", "APART_DIGEST_TIME", "08:30", "a time from 08:45 to 07:59"),
            ("00:00-23:59", "APART_REMINDER_TIME", "09:00", "23:59, the only time outside"),
        ],
    )
    def test_a_time_in_quiet_hours_is_told_what_would_work(
        self, monkeypatch: pytest.MonkeyPatch, quiet: str, name: str, value: str, fix: str
    ) -> None:
        monkeypatch.setenv("APART_QUIET_HOURS", quiet)
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError) as raised:
            load_settings()
        message = str(raised.value)
        assert message.startswith(f"{name} {value} falls in the quiet hours")
        assert f"put {fix}" in message
        assert f"so that {value} falls outside them" in message
        assert f"quiet hours: {value}" not in message

    def test_run_without_a_token_says_how_to_set_it(self) -> None:
        with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN is not set"):
            load_settings().require_token()
