"""Time as the bot sees it: always timezone-aware, swappable in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current moment, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current moment, in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and demos."""

    def __init__(self, moment: datetime) -> None:
        self._moment = _aware(moment)

    def now(self) -> datetime:
        """The moment the clock was set to."""
        return self._moment

    def set(self, moment: datetime) -> None:
        """Move the clock to `moment`."""
        self._moment = _aware(moment)

    def advance(self, delta: timedelta) -> None:
        """Move the clock on by `delta`."""
        self._moment += delta


def today(clock: Clock, tz: ZoneInfo) -> date:
    """The date it is now in the service's time zone."""
    return clock.now().astimezone(tz).date()


def to_db(moment: datetime) -> str:
    """A stored timestamp: ISO 8601 in UTC; a naive datetime is refused."""
    return _aware(moment).astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    """A timestamp read back from the store; one without an offset is refused."""
    return _aware(datetime.fromisoformat(text))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"refusing a naive timestamp {moment.isoformat()}: give it a time zone")
    return moment
