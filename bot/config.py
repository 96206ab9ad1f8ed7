"""Settings read from the environment and `.env`, checked once at start-up."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

TELEGRAM_API = "https://api.telegram.org/bot"

_TOKEN_SHAPE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")

# What to put in each setting, shown when it is missing or malformed.
_HINTS = {
    "TELEGRAM_BOT_TOKEN": "the token @BotFather gave you, like 123456789:AAE...",
    "TELEGRAM_API_BASE_URL": f"an http(s) URL ending in /bot, such as {TELEGRAM_API}",
    "APART_DB_PATH": "a file path for the database, such as /var/lib/apart/apart.db",
    "APART_TIMEZONE": "an IANA time zone name, such as Europe/London",
    "APART_INSTRUMENT": "the path of an instrument .toml file, or nothing for the default",
    "APART_IDLE_MINUTES": "a whole number of minutes from 1 to 1440, such as 30",
    "APART_WEBHOOK_URL": "the public https URL Telegram posts updates to, or nothing to poll",
    "APART_WEBHOOK_LISTEN": "the address the webhook server listens on, such as 127.0.0.1",
    "APART_WEBHOOK_PORT": "a port number from 1 to 65535, such as 8443",
    "APART_WEBHOOK_SECRET": (
        "16 to 256 letters, digits, _ or -; make one with "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
    ),
    "APART_LOG_FORMAT": "text (one plain line per event) or json (one JSON object per line)",
    "APART_DB_KEY": "a long passphrase for SQLCipher, or nothing for a plain database",
    "APART_RETENTION_MONTHS": "how many months after closure a case is kept, such as 72",
    "APART_BOT_USERNAME": "the bot's @username without the @, such as apart_north_bot",
    "APART_DUE_SOON_DAYS": "how many days before its due date a review is due soon, such as 7",
    "APART_QUIET_HOURS": "from-to local times with nothing sent, such as 21:00-08:00, or nothing",
    "APART_WEEKEND_SENDING": "true to send reminders and digests at weekends, else false",
    "APART_REMINDER_TIME": "the local time of the daily reminders, outside quiet hours: 09:00",
    "APART_DIGEST_DAY": "the weekday of the leads' digest, such as monday",
    "APART_DIGEST_TIME": "the local time of the leads' digest, outside quiet hours: 08:30",
}

_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")

_QUIET_SHAPE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Settings(BaseSettings):
    """Everything the bot is configured with."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(default=TELEGRAM_API, alias="TELEGRAM_API_BASE_URL")
    db_path: Path = Field(default=Path("apart.db"), alias="APART_DB_PATH")
    timezone: str = Field(default="Europe/London", alias="APART_TIMEZONE")
    instrument: Path | None = Field(default=None, alias="APART_INSTRUMENT")
    idle_minutes: int = Field(default=30, ge=1, le=1440, alias="APART_IDLE_MINUTES")
    webhook_url: str | None = Field(default=None, alias="APART_WEBHOOK_URL")
    webhook_listen: str = Field(default="127.0.0.1", min_length=1, alias="APART_WEBHOOK_LISTEN")
    webhook_port: int = Field(default=8443, ge=1, le=65535, alias="APART_WEBHOOK_PORT")
    webhook_secret: SecretStr | None = Field(
        default=None, validate_default=True, alias="APART_WEBHOOK_SECRET"
    )
    log_format: Literal["text", "json"] = Field(default="text", alias="APART_LOG_FORMAT")
    db_key: SecretStr | None = Field(default=None, alias="APART_DB_KEY")
    retention_months: int = Field(default=72, ge=1, le=1200, alias="APART_RETENTION_MONTHS")
    bot_username: str | None = Field(
        default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$", alias="APART_BOT_USERNAME"
    )
    # Reminders and digests; the times are local, in APART_TIMEZONE.
    due_soon_days: int = Field(default=7, ge=0, le=90, alias="APART_DUE_SOON_DAYS")
    quiet_hours: str | None = Field(default="21:00-08:00", alias="APART_QUIET_HOURS")
    weekend_sending: bool = Field(default=False, alias="APART_WEEKEND_SENDING")
    reminder_time: time = Field(default=time(9, 0), alias="APART_REMINDER_TIME")
    digest_day: str = Field(default="monday", alias="APART_DIGEST_DAY")
    digest_time: time = Field(default=time(8, 30), alias="APART_DIGEST_TIME")

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("db_key", "bot_username", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("db_key")
    @classmethod
    def _key_is_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 12:
            raise ValueError("is shorter than 12 characters")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_has_telegram_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TOKEN_SHAPE.match(value.get_secret_value()):
            raise ValueError("does not look like a bot token")
        return value

    @field_validator("db_path")
    @classmethod
    def _db_path_is_a_file_in_a_folder(cls, value: Path) -> Path:
        if value.is_dir():
            raise ValueError(f"names a folder ({value}), not a database file")
        folder = value.parent if str(value.parent) else Path()
        if not folder.is_dir():
            raise ValueError(f"is in a folder that does not exist ({folder})")
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("is not an http(s) URL")
        return value

    @field_validator("instrument", mode="before")
    @classmethod
    def _blank_instrument_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("instrument")
    @classmethod
    def _instrument_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no file at {value}")
        return value

    @field_validator("webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _blank_webhook_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_https(cls, value: str | None) -> str | None:
        # Telegram posts updates only to https URLs.
        if value is not None and not value.startswith("https://"):
            raise ValueError("is not an https URL")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_has_secret(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is not None and not _SECRET_SHAPE.match(value.get_secret_value()):
            raise ValueError("is not 16 to 256 letters, digits, _ or -")
        if value is None and info.data.get("webhook_url") is not None:
            raise ValueError("must be set when APART_WEBHOOK_URL is")
        return value

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _blank_quiet_hours_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_are_a_span(cls, value: str | None) -> str | None:
        if value is not None and not _QUIET_SHAPE.match(value.strip()):
            raise ValueError(f"{value!r} is not two times like 21:00-08:00")
        if value is not None and value.split("-")[0] == value.split("-")[1]:
            raise ValueError("starts and ends at the same time")
        return value.strip() if value is not None else None

    @field_validator("reminder_time", "digest_time")
    @classmethod
    def _time_is_outside_quiet_hours(cls, value: time, info: ValidationInfo) -> time:
        if value.tzinfo is not None:
            raise ValueError("must not carry a time zone: APART_TIMEZONE sets it")
        window = _quiet_window(info.data.get("quiet_hours"))
        if window is not None and in_quiet_hours(value, window):
            raise _FixedByError(
                f"{value:%H:%M} falls in the quiet hours, so nothing would be sent",
                fix=_outside_quiet_hours(value, window),
            )
        return value

    @field_validator("digest_day", mode="before")
    @classmethod
    def _digest_day_is_a_weekday(cls, value: object, info: ValidationInfo) -> object:
        day = str(value).strip().lower()
        if day not in WEEKDAYS:
            raise ValueError(f"{value!r} is not a day of the week")
        if WEEKDAYS.index(day) >= 5 and not info.data.get("weekend_sending"):
            raise ValueError("is at the weekend, but APART_WEEKEND_SENDING is false")
        return day

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """The local times from which and until which nothing is sent, if any."""
        return _quiet_window(self.quiet_hours)

    @property
    def digest_weekday(self) -> int:
        """The digest's day as a number, Monday being 0."""
        return WEEKDAYS.index(self.digest_day)

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone") from None
        return value

    @property
    def key(self) -> str | None:
        """The database key, or None when the database is not to be encrypted."""
        return self.db_key.get_secret_value() if self.db_key is not None else None

    @property
    def tz(self) -> ZoneInfo:
        """The service's local time zone."""
        return ZoneInfo(self.timezone)

    def require_token(self) -> str:
        """The bot token, or a ConfigError saying how to set it."""
        if self.telegram_bot_token is None:
            raise ConfigError(
                f"TELEGRAM_BOT_TOKEN is not set: put {_HINTS['TELEGRAM_BOT_TOKEN']} in .env "
                "or the environment (or try `apart-bot demo`, which needs none)."
            )
        return self.telegram_bot_token.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning the first problem into one plain line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # names are checked by pydantic
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "a setting"
        name = _alias_of(name)
        reason = str(first["msg"]).removeprefix("Value error, ")
        # The general hint's example can be the very value refused; a fix worked out from the
        # other settings says what would do instead.
        fix = getattr(first.get("ctx", {}).get("error"), "fix", None)
        hint = fix or _HINTS.get(name, "a valid value")
        raise ConfigError(f"{name} {reason}: put {hint}.") from None


class _FixedByError(ValueError):
    """A setting refused because of another setting, with what would work instead."""

    def __init__(self, reason: str, *, fix: str) -> None:
        super().__init__(reason)
        self.fix = fix


def _outside_quiet_hours(moment: time, window: tuple[time, time]) -> str:
    """What to set instead of a time that falls in the quiet hours."""
    start, end = window
    before = (start.hour * 60 + start.minute - 1) % (24 * 60)
    last = time(before // 60, before % 60)
    quiet = f"{start:%H:%M}-{end:%H:%M}"
    narrow = f"or narrow APART_QUIET_HOURS so that {moment:%H:%M} falls outside them"
    if last == end:
        return f"{end:%H:%M}, the only time outside the quiet hours {quiet}, {narrow}"
    return f"a time from {end:%H:%M} to {last:%H:%M}, outside the quiet hours {quiet}, {narrow}"


def in_quiet_hours(moment: time, window: tuple[time, time]) -> bool:
    """Whether a local time of day falls in the quiet window (which may span midnight)."""
    start, end = window
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def _quiet_window(value: str | None) -> tuple[time, time] | None:
    if value is None:
        return None
    start, end = value.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def _alias_of(name: str) -> str:
    field = Settings.model_fields.get(name)
    return field.alias if field is not None and field.alias else name
