"""The Bot API stand-in served over HTTP on 127.0.0.1, for running `apart-bot` as a process.

Tests that start the bot as a subprocess (graceful stop, kills and restarts, `apart-bot
check`) point TELEGRAM_API_BASE_URL at this server, so the process talks HTTP exactly as it
would to Telegram while the chat's state lives in the test, surviving every restart. It
speaks just enough HTTP/1.1 for PTB's httpx client: keep-alive, Content-Length bodies, form
and multipart encodings. It listens on the loopback interface only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from telegram.error import NetworkError

from bot.standin import StandInBotAPI, StoredFile, standin_token

if TYPE_CHECKING:
    from types import TracebackType

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]

LOOPBACK = "127.0.0.1"

# Parameters PTB sends as plain strings; every other value arrives JSON-encoded.
_STRING_PARAMETERS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "url",
        "secret_token",
        "parse_mode",
        "action",
        "language_code",
        "ip_address",
        "photo",
        "document",
    }
)
_UNAUTHORIZED = b'{"ok": false, "error_code": 401, "description": "Unauthorized"}'


class StandInHTTPServer:
    """Serves one `StandInBotAPI` at http://127.0.0.1:PORT/bot<token>/<method>."""

    def __init__(self, api: StandInBotAPI | None = None, *, token: str | None = None) -> None:
        self.api = api or StandInBotAPI()
        self.token = token or standin_token()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        """The value for TELEGRAM_API_BASE_URL."""
        return f"http://{LOOPBACK}:{self.port}/bot"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._serve_connection, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> StandInHTTPServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._serve_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, NetworkError):
            # A client that goes away, or a Dropped/Timeout fault: the connection just ends.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        request_line = await reader.readline()
        if not request_line:
            return False
        _, target, _ = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))

        status, payload = await self._dispatch(target, headers.get("content-type", ""), body)
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        return True

    async def _dispatch(self, target: str, content_type: str, body: bytes) -> tuple[int, bytes]:
        path = unquote(urlsplit(target).path)
        prefix, _, method = path.rstrip("/").rpartition("/")
        if prefix.removeprefix("/bot") != self.token:
            return 401, _UNAUTHORIZED
        params, files = _decode_body(content_type, body)
        return await self.api.handle(method, params, files)


def _decode_body(content_type: str, body: bytes) -> tuple[JSONDict, dict[str, StoredFile]]:
    if content_type.startswith("multipart/form-data"):
        return _decode_multipart(content_type, body)
    if content_type.startswith("application/json") and body:
        return dict(json.loads(body)), {}
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    return {name: _decode_value(name, value) for name, value in pairs}, {}


def _decode_multipart(content_type: str, body: bytes) -> tuple[JSONDict, dict[str, StoredFile]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    params: JSONDict = {}
    files: dict[str, StoredFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = part.get_payload(decode=True)
        data = content if isinstance(content, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            params[name] = _decode_value(name, data.decode("utf-8"))
            continue
        mime = part.get_content_type()
        files[name] = StoredFile("document", "", filename, data, mime)
    return params, files


def _decode_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMETERS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
