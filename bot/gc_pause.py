"""Pausing Python's cyclic garbage collector while a bulk read builds a cohort's objects."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; it stays off if it was off already.

    Decoding 40,000 assessments builds millions of dicts and lists that all stay alive, and
    the collector walks every one of them again each time the live objects grow by a quarter:
    about half the time of a cohort read, to free nothing. Reference counting frees as
    usual while it is off. Use it only around work that does not await.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
