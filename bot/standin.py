"""An in-process stand-in for the Telegram Bot API, plugged into PTB through its request layer.

`StandInBotAPI` keeps the state of one bot (chats, messages, callback queries, commands) and
answers Bot API methods with the status codes and payloads Telegram really sends, so PTB turns
refusals into the same `telegram.error` exceptions it raises in production. `StandInRequest`
is the `BaseRequest` that routes the Bot's calls to it. Nothing here touches the network.

Known limits: only `parse_mode="HTML"` is parsed (Markdown is refused with a stand-in message);
inline messages, groups and channels are not modelled; a bare `&` that forms no entity is
refused although real Telegram keeps it literally, because the Bot API docs require escaping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from telegram._utils.types import ODVInput
    from telegram.request import RequestData

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]

BOT_ID: Final = 100000001
BOT_USERNAME: Final = "apart_demo_bot"
BOT_FIRST_NAME: Final = "APART bot"

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)


def standin_token() -> str:
    """Return a well-formed fake token for the stand-in bot."""
    return f"{BOT_ID}:STANDIN-local-fake-token-not-valid-at-telegram"


# --- faults -------------------------------------------------------------------------------


class Fault:
    """A failure to inject into the next matching call; see `StandInBotAPI.fail_next`."""


@dataclass(frozen=True)
class RetryAfter(Fault):
    """Flood control: HTTP 429 with `parameters.retry_after`; the call is not applied."""

    seconds: int


@dataclass(frozen=True)
class ServerError(Fault):
    """HTTP 502 "Bad Gateway"; the call is not applied."""


@dataclass(frozen=True)
class Timeout(Fault):
    """`telegram.error.TimedOut`, raised before or after Telegram applied the call."""

    applied: bool = False


@dataclass(frozen=True)
class Refusal(Fault):
    """A refusal Telegram words itself, such as a 400 "Bad Request: can't parse entities: ..."."""

    description: str
    status: int = 400


@dataclass(frozen=True)
class Dropped(Fault):
    """`telegram.error.NetworkError`: the connection broke before the call arrived."""


@dataclass
class _FaultRule:
    method: str
    fault: Fault
    remaining: int
    chat_id: int | None


# --- stored state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    """A photo or document the bot sent (or referenced by file_id)."""

    kind: Literal["photo", "document"]
    file_id: str
    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class StoredMessage:
    """One message in a private chat, as it stands now; edits replace the whole record."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None
    entities: tuple[JSONDict, ...] = ()
    html: bool = False
    reply_markup: JSONDict | None = None
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False
    photo: StoredFile | None = None
    document: StoredFile | None = None
    caption: str | None = None
    sender_id: int | None = None
    """Who wrote a user's message in a group chat (a private chat's sender is its user)."""

    @property
    def buttons(self) -> tuple[tuple[tuple[str, str | None], ...], ...]:
        """Return the inline keyboard as rows of (label, callback data)."""
        if not self.reply_markup or "inline_keyboard" not in self.reply_markup:
            return ()
        return tuple(
            tuple((button["text"], button.get("callback_data")) for button in row)
            for row in self.reply_markup["inline_keyboard"]
        )


@dataclass(frozen=True)
class ChatEvent:
    """Something visible that changed in a chat: a new, edited or deleted message."""

    kind: Literal["new", "edited", "deleted"]
    message: StoredMessage


@dataclass
class StoredChat:
    """A private chat between the bot and one user, or a group the bot was added to."""

    chat_id: int
    first_name: str
    blocked: bool = False
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    events: list[ChatEvent] = field(default_factory=list)
    next_message_id: int = 1
    type: Literal["private", "group"] = "private"


@dataclass
class CallbackRecord:
    """A callback query issued to the bot and every attempt the bot made to answer it."""

    query_id: str
    chat_id: int
    message_id: int
    data: str
    attempts: int = 0
    text: str | None = None
    show_alert: bool = False
    url: str | None = None

    @property
    def answered(self) -> bool:
        """Say whether the bot answered this query at least once."""
        return self.attempts > 0


@dataclass
class ApiCall:
    """One call the Bot made, with its parameters and the HTTP status it got (0 if raised)."""

    method: str
    params: JSONDict
    status: int = 0


class _Refusal(Exception):
    """Internal: the stand-in refuses a call the way Telegram would."""

    def __init__(self, description: str, status: int = 400, **parameters: Any) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.parameters = parameters


# --- HTML parsing ---------------------------------------------------------------------------

_SIMPLE_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE: Final = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_TAG_NAME_RE: Final = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTRIBUTE_RE: Final = re.compile(
    r"\s*([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?"
)


class _HtmlError(ValueError):
    """Internal: the text is not HTML that Telegram would accept."""


@dataclass
class _OpenTag:
    name: str
    offset: int
    entity: JSONDict | None


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, index: int) -> tuple[str, int]:
    """Decode the HTML entity at `index`; return the character and the index after it."""
    match = _ENTITY_RE.match(source, index)
    if match is None:
        raise _HtmlError(
            f"Character '&' at byte offset {_byte_offset(source, index)} must be escaped as &amp;"
        )
    name = match.group(1)
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], match.end()
    code_point = -1
    if name.startswith(("#x", "#X")):
        code_point = int(name[2:], 16)
    elif name.startswith("#"):
        code_point = int(name[1:])
    if not 0 < code_point <= 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
        raise _HtmlError(
            f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(source, index)}'
        )
    return chr(code_point), match.end()


def _start_tag_entity(name: str, attributes: dict[str, str], where: int) -> JSONDict | None:
    """Return the entity a start tag opens, or raise if Telegram does not support the tag."""
    if name in _SIMPLE_TAGS:
        entity: JSONDict = {"type": _SIMPLE_TAGS[name]}
        if name == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        if name == "code" and attributes.get("class", "").startswith("language-"):
            entity["language"] = attributes["class"].removeprefix("language-")
        return entity
    if name == "span":
        if attributes.get("class") != "tg-spoiler":
            raise _HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {where}')
        return {"type": "spoiler"}
    if name == "a":
        href = attributes.get("href", "")
        return {"type": "text_link", "url": href} if href else None
    raise _HtmlError(f'Unsupported start tag "{name}" at byte offset {where}')


def _parse_start_tag(source: str, index: int) -> tuple[str, dict[str, str], int]:
    """Parse `<name attr="v">` at `index`; return the name, attributes and index after it."""
    where = _byte_offset(source, index)
    name_match = _TAG_NAME_RE.match(source, index + 1)
    if name_match is None:
        raise _HtmlError(f'Unsupported start tag "" at byte offset {where}')
    position = name_match.end()
    attributes: dict[str, str] = {}
    while True:
        attribute = _ATTRIBUTE_RE.match(source, position)
        if attribute is None:
            break
        value = next((group for group in attribute.groups()[1:] if group is not None), "")
        attributes[attribute.group(1).lower()] = value
        position = attribute.end()
    while position < len(source) and source[position].isspace():
        position += 1
    if position >= len(source) or source[position] != ">":
        raise _HtmlError(f"Unclosed start tag at byte offset {where}")
    return name_match.group(0).lower(), attributes, position + 1


def _close_tag(source: str, index: int, stack: list[_OpenTag], out_length: int) -> int:
    """Close the innermost open tag with the end tag at `index`; return the index after it."""
    where = _byte_offset(source, index)
    end = source.find(">", index)
    if end < 0:
        raise _HtmlError(f"Unclosed end tag at byte offset {where}")
    name = source[index + 2 : end].strip().lower()
    if not stack:
        raise _HtmlError(f"Unexpected end tag at byte offset {where}")
    opened = stack.pop()
    if name != opened.name:
        raise _HtmlError(
            f'Unmatched end tag at byte offset {where}, expected "</{opened.name}>", '
            f'found "</{name}>"'
        )
    if opened.entity is not None and out_length > opened.offset:
        opened.entity["offset"] = opened.offset
        opened.entity["length"] = out_length - opened.offset
    return end + 1


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into plain text and entities (offsets in UTF-16 units)."""
    pieces: list[str] = []
    out_length = 0
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char == "<" and source.startswith("</", index):
            index = _close_tag(source, index, stack, out_length)
            continue
        if char == "<":
            name, attributes, after = _parse_start_tag(source, index)
            entity = _start_tag_entity(name, attributes, _byte_offset(source, index))
            if entity is not None:
                entities.append(entity)
            stack.append(_OpenTag(name, out_length, entity))
            index = after
            continue
        if char == "&":
            char, index = _decode_entity(source, index)
        else:
            index += 1
        pieces.append(char)
        out_length += _utf16_length(char)
    if stack:
        raise _HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return "".join(pieces), _merge_code_into_pre(
        [entity for entity in entities if "length" in entity]
    )


def _merge_code_into_pre(entities: list[JSONDict]) -> list[JSONDict]:
    """Fold `<pre><code class="language-x">` into one pre entity with a language, as Telegram."""
    merged: list[JSONDict] = []
    for entity in entities:
        outer = merged[-1] if merged else None
        if outer is not None and _names_language_of(entity, outer):
            outer["language"] = entity["language"]
            continue
        merged.append(entity)
    return sorted(merged, key=lambda entity: (entity["offset"], -entity["length"]))


def _names_language_of(code: JSONDict, pre: JSONDict) -> bool:
    same_span = (code["offset"], code["length"]) == (pre["offset"], pre["length"])
    return same_span and pre["type"] == "pre" and code["type"] == "code" and "language" in code


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip surrounding whitespace as Telegram does, keeping entities on the same characters."""
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    total = _utf16_length(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# --- the API --------------------------------------------------------------------------------


class StandInBotAPI:
    """In-memory state of one bot, answering Bot API methods the way Telegram does."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.chats: dict[int, StoredChat] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.sent_files: list[StoredFile] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.left_chats: list[int] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook: JSONDict = {}
        self.calls: list[ApiCall] = []
        self._faults: list[_FaultRule] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._pending_updates: list[JSONDict] = []
        self._confirmed_below = 0
        self._poll_generation = 0
        self._updates_changed = asyncio.Condition()
        self._methods: dict[str, Callable[[JSONDict, dict[str, StoredFile]], Any]] = {
            "getMe": self._get_me,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "leaveChat": self._leave_chat,
            "getChat": self._get_chat,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    # -- test controls --

    def add_private_chat(self, user_id: int, first_name: str) -> StoredChat:
        """Make a user known, with a private chat to the bot (idempotent)."""
        if user_id not in self.chats:
            self.chats[user_id] = StoredChat(chat_id=user_id, first_name=first_name)
        return self.chats[user_id]

    def add_group_chat(self, chat_id: int, title: str) -> StoredChat:
        """Make a group chat known (ids of groups are negative, as on Telegram)."""
        if chat_id not in self.chats:
            self.chats[chat_id] = StoredChat(chat_id=chat_id, first_name=title, type="group")
        return self.chats[chat_id]

    def receive_group_message(self, chat_id: int, user_id: int, text: str) -> StoredMessage:
        """Store a message a user wrote in a group chat."""
        chat = self.chats[chat_id]
        message = StoredMessage(
            message_id=self._allocate_message_id(chat),
            chat_id=chat_id,
            from_bot=False,
            date=int(self.clock()),
            text=text,
            entities=tuple(_bot_command_entity(text)),
            sender_id=user_id,
        )
        self._store(chat, message, "new")
        return message

    def bot_added_json(self, chat_id: int, user_id: int) -> JSONDict:
        """The my_chat_member update body Telegram sends when a user adds the bot to a chat."""
        bot = self.bot_user_json()
        return {
            "chat": self.chat_json(self.chats[chat_id]),
            "from": self.user_json(self.chats[user_id]),
            "date": int(self.clock()),
            "old_chat_member": {"user": bot, "status": "left"},
            "new_chat_member": {"user": bot, "status": "member"},
        }

    def fail_next(
        self,
        method: str,
        fault: Fault,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next `times` calls of `method` (to `chat_id`, if given) fail with `fault`."""
        self._faults.append(_FaultRule(method, fault, times, chat_id))

    def block(self, user_id: int) -> None:
        """Mark the bot as blocked by this user: sends to them get 403 Forbidden."""
        self.chats[user_id].blocked = True

    def unblock(self, user_id: int) -> None:
        """Let this user receive messages from the bot again."""
        self.chats[user_id].blocked = False

    def calls_to(self, method: str) -> list[ApiCall]:
        """Return the logged calls of one method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def unanswered_callbacks(self) -> list[CallbackRecord]:
        """Return the callback queries the bot has not answered."""
        return [record for record in self.callbacks.values() if record.attempts == 0]

    def callbacks_answered_more_than_once(self) -> list[CallbackRecord]:
        """Return the callback queries the bot tried to answer more than once."""
        return [record for record in self.callbacks.values() if record.attempts > 1]

    # -- the user's side, used by the chat harness --

    def next_update_id(self) -> int:
        """Allocate the next update_id."""
        return next(self._update_ids)

    def receive_user_message(
        self,
        user_id: int,
        text: str | None,
        entities: list[JSONDict] | None = None,
    ) -> StoredMessage:
        """Store a message the user sent; sending unblocks the bot, as Telegram's app does."""
        chat = self.chats[user_id]
        chat.blocked = False
        message = StoredMessage(
            message_id=self._allocate_message_id(chat),
            chat_id=user_id,
            from_bot=False,
            date=int(self.clock()),
            text=text,
            entities=tuple(entities or ()),
        )
        self._store(chat, message, "new")
        return message

    def issue_callback_query(self, user_id: int, message_id: int, data: str) -> JSONDict:
        """Record a button press and return the callback_query object Telegram would send."""
        query_id = f"{BOT_ID}{next(self._query_ids):08d}"
        self.callbacks[query_id] = CallbackRecord(query_id, user_id, message_id, data)
        chat = self.chats[user_id]
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            message = {"chat": self.chat_json(chat), "message_id": message_id, "date": 0}
        else:
            message = self.message_json(stored)
        return {
            "id": query_id,
            "from": self.user_json(chat),
            "chat_instance": f"ci{user_id}",
            "message": message,
            "data": data,
        }

    async def enqueue_update(self, update: JSONDict) -> None:
        """Queue an update for getUpdates (polling delivery) and wake a waiting poll."""
        async with self._updates_changed:
            self._pending_updates.append(update)
            self._updates_changed.notify_all()

    async def wait_confirmed(self, update_id: int) -> None:
        """Wait until a getUpdates call confirmed `update_id` with a higher offset."""
        async with self._updates_changed:
            await self._updates_changed.wait_for(lambda: self._confirmed_below > update_id)

    # -- JSON shapes --

    def bot_user_json(self) -> JSONDict:
        """Return the bot's own User object."""
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }

    def user_json(self, chat: StoredChat) -> JSONDict:
        """Return the User object of the person in a private chat."""
        return {
            "id": chat.chat_id,
            "is_bot": False,
            "first_name": chat.first_name,
            "language_code": "en",
        }

    def chat_json(self, chat: StoredChat) -> JSONDict:
        """Return the Chat object of a private chat (or of a group, titled by its name)."""
        if chat.type == "group":
            return {"id": chat.chat_id, "type": "group", "title": chat.first_name}
        return {"id": chat.chat_id, "type": "private", "first_name": chat.first_name}

    def message_json(self, message: StoredMessage) -> JSONDict:
        """Return the Message object Telegram would send for a stored message."""
        chat = self.chats[message.chat_id]
        sender = self.bot_user_json() if message.from_bot else self.user_json(chat)
        if message.sender_id is not None:
            sender = self.user_json(self.chats[message.sender_id])
        data: JSONDict = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chat_json(chat),
            "from": sender,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = list(message.entities)
        if message.caption is not None:
            data["caption"] = message.caption
            if message.entities:
                data["caption_entities"] = list(message.entities)
        if message.photo is not None:
            data["photo"] = [self._photo_size_json(message.photo)]
        if message.document is not None:
            data["document"] = self._document_json(message.document)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    # -- dispatch --

    async def handle(
        self,
        method: str,
        params: JSONDict,
        files: dict[str, StoredFile],
    ) -> tuple[int, bytes]:
        """Serve one Bot API call; return the HTTP status and body, or raise a network fault."""
        call = ApiCall(method, params)
        self.calls.append(call)
        fault = self._take_fault(method, params)
        early = self._fault_before_call(fault)
        if early is not None:
            call.status = early[0]
            return early
        try:
            if method == "getUpdates":
                result = await self._get_updates(params)
            elif method in self._methods:
                result = self._methods[method](params, files)
            else:
                raise _Refusal("Not Found", status=404)
        except _Refusal as refusal:
            call.status = refusal.status
            logger.debug("stand-in refused %s: %s", method, refusal.description)
            return refusal.status, _error_body(refusal)
        if isinstance(fault, Timeout):
            raise TimedOut("stand-in: timed out after the call was applied")
        call.status = 200
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _take_fault(self, method: str, params: JSONDict) -> Fault | None:
        for rule in self._faults:
            if rule.method != method:
                continue
            if rule.chat_id is not None and _optional_int(params.get("chat_id")) != rule.chat_id:
                continue
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._faults.remove(rule)
            return rule.fault
        return None

    def _fault_before_call(self, fault: Fault | None) -> tuple[int, bytes] | None:
        """Apply the part of a fault that happens before Telegram does any work."""
        if isinstance(fault, RetryAfter):
            refusal = _Refusal(
                f"Too Many Requests: retry after {fault.seconds}",
                status=429,
                retry_after=fault.seconds,
            )
            return 429, _error_body(refusal)
        if isinstance(fault, ServerError):
            return 502, _error_body(_Refusal("Bad Gateway", status=502))
        if isinstance(fault, Refusal):
            return fault.status, _error_body(_Refusal(fault.description, status=fault.status))
        if isinstance(fault, Timeout) and not fault.applied:
            raise TimedOut("stand-in: timed out before the call was applied")
        if isinstance(fault, Dropped):
            raise NetworkError("stand-in: connection dropped")
        return None

    # -- chats and messages --

    def _chat(self, params: JSONDict, *, writing: bool = True) -> StoredChat:
        chat_id = _optional_int(params.get("chat_id"))
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _Refusal("Bad Request: chat not found")
        if writing and chat.blocked:
            raise _Refusal("Forbidden: bot was blocked by the user", status=403)
        return chat

    def _allocate_message_id(self, chat: StoredChat) -> int:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def _store(
        self,
        chat: StoredChat,
        message: StoredMessage,
        kind: Literal["new", "edited", "deleted"],
    ) -> None:
        chat.messages[message.message_id] = message
        chat.events.append(ChatEvent(kind, message))

    def _existing(self, chat: StoredChat, params: JSONDict, missing: str) -> StoredMessage:
        message_id = _optional_int(params.get("message_id"))
        if message_id is None:
            raise _Refusal("Bad Request: message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise _Refusal(missing)
        return message

    def _new_bot_message(self, chat: StoredChat, **fields: Any) -> JSONDict:
        message = StoredMessage(
            message_id=self._allocate_message_id(chat),
            chat_id=chat.chat_id,
            from_bot=True,
            date=int(self.clock()),
            **fields,
        )
        self._store(chat, message, "new")
        return self.message_json(message)

    # -- methods --

    def _get_me(self, params: JSONDict, files: dict[str, StoredFile]) -> JSONDict:
        return {
            **self.bot_user_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_my_commands(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        commands = params.get("commands", [])
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise _Refusal("Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise _Refusal("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_commands_key(params)] = list(commands)
        return True

    def _get_my_commands(self, params: JSONDict, files: dict[str, StoredFile]) -> list[JSONDict]:
        return self.commands.get(_commands_key(params), [])

    def _delete_my_commands(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        self.commands.pop(_commands_key(params), None)
        return True

    def _send_message(self, params: JSONDict, files: dict[str, StoredFile]) -> JSONDict:
        chat = self._chat(params)
        text, entities, html = _formatted(params, "text", MAX_TEXT_LENGTH)
        markup = _checked_markup(params.get("reply_markup"))
        return self._new_bot_message(
            chat,
            text=text,
            entities=tuple(entities),
            html=html,
            reply_markup=markup,
        )

    def _edit_message_text(self, params: JSONDict, files: dict[str, StoredFile]) -> JSONDict:
        chat = self._chat(params)
        message = self._existing(chat, params, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise _Refusal("Bad Request: message can't be edited")
        if message.text is None:
            raise _Refusal("Bad Request: there is no text in the message to edit")
        text, entities, html = _formatted(params, "text", MAX_TEXT_LENGTH)
        # Telegram drops the keyboard when an edit of the text does not repeat it.
        markup = _checked_markup(params.get("reply_markup"))
        return self._edit(
            chat, message, text=text, entities=tuple(entities), html=html, reply_markup=markup
        )

    def _edit_message_reply_markup(
        self,
        params: JSONDict,
        files: dict[str, StoredFile],
    ) -> JSONDict:
        chat = self._chat(params)
        message = self._existing(chat, params, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise _Refusal("Bad Request: message can't be edited")
        markup = _checked_markup(params.get("reply_markup"))
        return self._edit(chat, message, reply_markup=markup)

    def _edit(self, chat: StoredChat, message: StoredMessage, **changes: Any) -> JSONDict:
        edited = dataclasses.replace(message, **changes)
        if _visible_content(edited) == _visible_content(message):
            raise _Refusal(NOT_MODIFIED)
        edited = dataclasses.replace(edited, edited=True, edit_date=int(self.clock()))
        self._store(chat, edited, "edited")
        return self.message_json(edited)

    def _delete_message(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        chat = self._chat(params, writing=False)
        message = self._existing(chat, params, "Bad Request: message to delete not found")
        self._store(chat, dataclasses.replace(message, deleted=True), "deleted")
        return True

    def _answer_callback_query(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        record = self.callbacks.get(str(params.get("callback_query_id", "")))
        if record is None:
            raise _Refusal(QUERY_TOO_OLD)
        record.attempts += 1
        if record.attempts > 1:
            raise _Refusal(QUERY_TOO_OLD)
        record.text = params.get("text")
        record.show_alert = bool(params.get("show_alert", False))
        record.url = params.get("url")
        return True

    def _send_photo(self, params: JSONDict, files: dict[str, StoredFile]) -> JSONDict:
        return self._send_file(params, files, "photo")

    def _send_document(self, params: JSONDict, files: dict[str, StoredFile]) -> JSONDict:
        return self._send_file(params, files, "document")

    def _send_file(
        self,
        params: JSONDict,
        files: dict[str, StoredFile],
        kind: Literal["photo", "document"],
    ) -> JSONDict:
        chat = self._chat(params)
        stored = self._resolve_file(params, files, kind)
        caption: str | None = None
        entities: list[JSONDict] = []
        html = False
        if params.get("caption"):
            caption, entities, html = _formatted(params, "caption", MAX_CAPTION_LENGTH)
        self.sent_files.append(stored)
        return self._new_bot_message(
            chat,
            caption=caption,
            entities=tuple(entities),
            html=html,
            reply_markup=_checked_markup(params.get("reply_markup")),
            **{kind: stored},
        )

    def _resolve_file(
        self,
        params: JSONDict,
        files: dict[str, StoredFile],
        kind: Literal["photo", "document"],
    ) -> StoredFile:
        reference = params.get(kind)
        if isinstance(reference, str) and reference.startswith("attach://"):
            reference = None
            upload = files.get(params[kind].removeprefix("attach://"))
        else:
            upload = files.get(kind)
        if upload is not None:
            return dataclasses.replace(upload, kind=kind, file_id=self._new_file_id(kind))
        if isinstance(reference, str):
            known = next((f for f in self.sent_files if f.file_id == reference), None)
            if known is not None:
                return known
            return StoredFile(kind, self._new_file_id(kind), reference, b"", "")
        raise _Refusal(f"Bad Request: there is no {kind} in the request")

    def _new_file_id(self, kind: str) -> str:
        return f"standin-{kind}-{next(self._file_ids)}"

    def _send_chat_action(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        chat = self._chat(params)
        self.chat_actions.append((chat.chat_id, str(params.get("action"))))
        return True

    def _leave_chat(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        chat = self._chat(params, writing=False)
        self.left_chats.append(chat.chat_id)
        return True

    def _get_chat(self, params: JSONDict, files: dict[str, StoredFile]) -> JSONDict:
        chat = self._chat(params, writing=False)
        return {
            **self.chat_json(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _delete_webhook(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        if params.get("drop_pending_updates"):
            self._pending_updates.clear()
        self.webhook = {}
        return True

    def _set_webhook(self, params: JSONDict, files: dict[str, StoredFile]) -> bool:
        url = params.get("url")
        if not isinstance(url, str) or not url:
            return self._delete_webhook(params, files)
        if not url.startswith("https://"):
            raise _Refusal("Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _Refusal("Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending_updates.clear()
        self.webhook = {"url": url, **{k: v for k, v in params.items() if k != "url"}}
        return True

    def _get_webhook_info(self, params: JSONDict, files: dict[str, StoredFile]) -> JSONDict:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending_updates),
        }

    # -- getUpdates --

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        offset = _optional_int(params.get("offset")) or 0
        limit = _optional_int(params.get("limit")) or 100
        timeout = float(params.get("timeout") or 0)
        async with self._updates_changed:
            self._confirm(offset)
            self._poll_generation += 1
            generation = self._poll_generation
            self._updates_changed.notify_all()
            if not self._pending_updates and timeout > 0:
                try:
                    await asyncio.wait_for(
                        self._updates_changed.wait_for(
                            lambda: (
                                bool(self._pending_updates) or self._poll_generation != generation
                            )
                        ),
                        timeout,
                    )
                except TimeoutError:
                    return []
            if self._poll_generation != generation:
                raise _Refusal(
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                    status=409,
                )
            if offset < 0:
                return self._pending_updates[offset:][:limit]
            return self._pending_updates[:limit]

    def _confirm(self, offset: int) -> None:
        if offset <= 0:
            return
        self._pending_updates = [u for u in self._pending_updates if u["update_id"] >= offset]
        self._confirmed_below = max(self._confirmed_below, offset)

    # -- small JSON helpers --

    def _photo_size_json(self, photo: StoredFile) -> JSONDict:
        return {
            "file_id": photo.file_id,
            "file_unique_id": f"u{photo.file_id}",
            "width": 800,
            "height": 600,
            "file_size": len(photo.content),
        }

    def _document_json(self, document: StoredFile) -> JSONDict:
        return {
            "file_id": document.file_id,
            "file_unique_id": f"u{document.file_id}",
            "file_name": document.filename,
            "mime_type": document.mime_type,
            "file_size": len(document.content),
        }


def _error_body(refusal: _Refusal) -> bytes:
    body: JSONDict = {
        "ok": False,
        "error_code": refusal.status,
        "description": refusal.description,
    }
    if refusal.parameters:
        body["parameters"] = refusal.parameters
    return json.dumps(body).encode()


def _bot_command_entity(text: str) -> list[JSONDict]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_length(command)}]


def _optional_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _commands_key(params: JSONDict) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _formatted(params: JSONDict, key: str, limit: int) -> tuple[str, list[JSONDict], bool]:
    """Check and parse a text or caption; return plain text, entities and the HTML flag."""
    source = params.get(key)
    if not isinstance(source, str):
        source = ""
    parse_mode = params.get("parse_mode")
    html = isinstance(parse_mode, str) and parse_mode.upper() == "HTML"
    entities_key = "caption_entities" if key == "caption" else "entities"
    entities: list[JSONDict] = list(params.get(entities_key) or [])
    text = source
    if html:
        try:
            text, entities = parse_html(source)
        except _HtmlError as error:
            raise _Refusal(f"Bad Request: can't parse entities: {error}") from error
    elif parse_mode:
        raise _Refusal(
            f"Bad Request: can't parse entities: the stand-in parses only HTML, not {parse_mode}"
        )
    text, entities = _trim(text, entities)
    if not text:
        raise _Refusal(f"Bad Request: message {key} is empty")
    if len(text) > limit:
        what = "message is too long" if key == "text" else "message caption is too long"
        raise _Refusal(f"Bad Request: {what}")
    return text, entities, html


def _checked_markup(markup: object) -> JSONDict | None:
    """Validate a reply_markup dict the way Telegram does for inline keyboards."""
    if not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is None:
                continue
            size = len(str(data).encode("utf-8"))
            if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                raise _Refusal("Bad Request: BUTTON_DATA_INVALID")
    return markup


def _visible_content(message: StoredMessage) -> tuple[object, ...]:
    inline = message.reply_markup if message.reply_markup else None
    return (message.text, message.caption, message.entities, json.dumps(inline, sort_keys=True))


# --- the request class ----------------------------------------------------------------------


class StandInRequest(BaseRequest):
    """A `BaseRequest` that serves every call from a `StandInBotAPI`, without any network."""

    __slots__ = ("_api", "_read_timeout")

    def __init__(self, api: StandInBotAPI, read_timeout: float | None = 5.0) -> None:
        self._api = api
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """Return the default read timeout PTB adds to getUpdates' long-poll timeout."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Do nothing: there is no connection pool."""

    async def shutdown(self) -> None:
        """Do nothing: there is no connection pool."""

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
        """Route one Bot API call to the stand-in; the method is the URL's last segment."""
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        files = _uploaded_files(request_data)
        return await self._api.handle(api_method, params, files)


def _uploaded_files(request_data: RequestData | None) -> dict[str, StoredFile]:
    """Read the multipart uploads of a request into stored files keyed by part name."""
    if request_data is None or not request_data.contains_files:
        return {}
    uploads: dict[str, StoredFile] = {}
    for part, (filename, content, mime_type) in request_data.multipart_data.items():
        data = content if isinstance(content, bytes) else _read_all(content)
        uploads[part] = StoredFile("document", "", filename, data, mime_type)
    return uploads


def _read_all(handle: IO[bytes]) -> bytes:
    return handle.read()
