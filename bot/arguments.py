"""Argument types shared by the command line's modules: paths checked before any work starts."""

from __future__ import annotations

import argparse
from pathlib import Path


def new_file(text: str) -> Path:
    """An argument naming a file to write: its folder must exist and it must not be a folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; name a file in it")
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {folder} does not exist; create it first")
    return path


def existing_folder(text: str) -> Path:
    """An argument naming a folder to write into, which must exist."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {path} does not exist; create it first")
    return path
