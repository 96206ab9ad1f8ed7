"""Retrying Bot API calls that failed on the way, where doing them twice is harmless.

Telegram (or the network to it) sometimes answers with a server error, times out, or drops
the connection. An edit, a button answer or a deletion can simply be tried again: done twice
it changes nothing more than done once. A new message cannot, because a call that timed out
may have been delivered after all, and the practitioner would see it twice; it is retried
only when the connection was never made. What is still failing after the retries goes to
the application's error handler, which tells the practitioner once that their answers are
saved. Flood control (HTTP 429) is the rate limiter's to handle, not this module's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput
    from telegram.request import RequestData

logger = logging.getLogger(__name__)

# Methods whose second delivery changes nothing that the first did not.
IDEMPOTENT = frozenset(
    {
        "answerCallbackQuery",
        "deleteMessage",
        "deleteMyCommands",
        "deleteWebhook",
        "editMessageReplyMarkup",
        "editMessageText",
        "getChat",
        "getMe",
        "getMyCommands",
        "getWebhookInfo",
        "leaveChat",
        "sendChatAction",
        "setMyCommands",
        "setWebhook",
    }
)
# Failures before a connection existed: the call never reached Telegram.
_NOT_CONNECTED = ("httpx.ConnectError", "httpx.ConnectTimeout")
_SERVER_ERRORS = frozenset({500, 502, 503, 504})

ATTEMPTS = 3
FIRST_DELAY_S = 0.5


class RetryingRequest(BaseRequest):
    """Wraps another request object, retrying failed calls where that is safe."""

    __slots__ = ("_delay", "_inner")

    def __init__(self, inner: BaseRequest, *, first_delay: float = FIRST_DELAY_S) -> None:
        self._inner = inner
        self._delay = first_delay

    @property
    def read_timeout(self) -> float | None:
        """The wrapped request's read timeout, which PTB adds to the long-poll timeout."""
        return self._inner.read_timeout

    async def initialize(self) -> None:
        """Initialise the wrapped request."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Shut the wrapped request down."""
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make the call, trying again after a server error or a network failure if safe."""
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        delay = self._delay
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS
            try:
                status, body = await self._inner.do_request(
                    url,
                    method,
                    request_data,
                    read_timeout=read_timeout,
                    write_timeout=write_timeout,
                    connect_timeout=connect_timeout,
                    pool_timeout=pool_timeout,
                )
            except NetworkError as error:
                if last or not _safe_after(api_method, error):
                    raise
                logger.warning(
                    "%s failed (%s); trying again in %.1f s", api_method, error.message, delay
                )
            else:
                if last or status not in _SERVER_ERRORS or api_method not in IDEMPOTENT:
                    return status, body
                logger.warning("%s got HTTP %d; trying again in %.1f s", api_method, status, delay)
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")


def _safe_after(api_method: str, error: NetworkError) -> bool:
    if api_method in IDEMPOTENT:
        return True
    # A timeout may have been delivered; only a connection never made is safe to repeat.
    return not isinstance(error, TimedOut) and error.message.startswith(_NOT_CONNECTED)
