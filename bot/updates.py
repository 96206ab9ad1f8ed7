"""Concurrent update processing that still handles each person's updates in order."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.logs import bind_update, unbind_update

if TYPE_CHECKING:
    from collections.abc import Awaitable


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Runs different people's updates side by side and one person's one at a time.

    A practitioner's double tap or quick second answer must see the first one's result, so
    updates from the same user queue behind each other; nobody waits for anyone else.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's processing behind any earlier update from the same user."""
        tokens = bind_update(update.update_id if isinstance(update, Update) else None)
        try:
            await self._in_order(update, coroutine)
        finally:
            unbind_update(tokens)

    async def _in_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        user_id = _user_id(update)
        if user_id is None:
            await coroutine
            return

        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._waiting[user_id] = self._waiting.get(user_id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[user_id] -= 1
            if self._waiting[user_id] == 0:
                # Nobody else holds or waits for this lock, so forgetting it is safe.
                del self._waiting[user_id]
                del self._locks[user_id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _user_id(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_user is not None:
        return update.effective_user.id
    return None
