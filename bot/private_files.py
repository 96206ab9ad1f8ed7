"""Files that hold case data are created readable by their owner only (mode 0600).

The mode is set as the file is created, not after it is written, so there is no moment in
which another user on the machine could open it; an existing file is narrowed too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PRIVATE_MODE = 0o600


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An `opener` for open(): the file is created 0600, and an existing one made 0600."""
    descriptor = os.open(path, flags, PRIVATE_MODE)
    os.fchmod(descriptor, PRIVATE_MODE)
    return descriptor


def create_private(path: Path) -> None:
    """Create `path` empty (or empty it) with mode 0600, for a library that writes it by name."""
    os.close(private_opener(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
