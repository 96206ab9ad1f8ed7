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


def folder_to_fill(text: str) -> Path:
    """An argument naming a folder to write into: it may be new, but its parent must exist."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder")
    parent = path.parent if str(path.parent) else Path()
    if not path.exists() and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {parent} does not exist; create it first")
    return path
