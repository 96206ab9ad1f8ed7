"""Button payloads: short, colon-separated, and never over Telegram's 64-byte limit."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64
SEPARATOR = ":"


class CallbackDataTooLongError(ValueError):
    """A button payload would not fit Telegram's limit; the instrument's ids are too long."""


@dataclass(frozen=True, slots=True)
class Callback:
    """A decoded button payload: an action code and its arguments."""

    action: str
    args: tuple[str, ...]

    def arg(self, index: int) -> str:
        """The argument at `index`, or an empty string when the payload is short."""
        return self.args[index] if index < len(self.args) else ""

    def int_arg(self, index: int) -> int | None:
        """The argument at `index` as a whole number, or None when it is not one."""
        text = self.arg(index)
        return int(text) if text.isdecimal() and len(text) < 19 else None


def pack(action: str, *args: object) -> str:
    """Encode a button payload, refusing one that Telegram would reject."""
    data = SEPARATOR.join((action, *(str(arg) for arg in args)))
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise CallbackDataTooLongError(f"button data {data!r} is over {MAX_BYTES} bytes")
    return data


def unpack(data: str | None) -> Callback:
    """Decode a button payload; anything malformed decodes to an empty action."""
    if not data:
        return Callback("", ())
    action, *args = data.split(SEPARATOR)
    return Callback(action, tuple(args))


def pattern(action: str) -> str:
    """The regular expression that routes payloads of one action to their handler."""
    return f"^{action}(:|$)"
