"""Errors of the bot layer, all under the engine's one base error."""

from apart_engine.errors import ApartError

__all__ = [
    "ApartError",
    "ConfigError",
    "DatabaseTooNewError",
    "DuplicateReferenceError",
    "InvalidDateError",
    "InvalidReferenceError",
    "StoreError",
]


class ConfigError(ApartError):
    """A setting is missing or malformed; the message names it and what to put there."""


class StoreError(ApartError):
    """The database cannot be used as it is."""


class DatabaseTooNewError(StoreError):
    """The database was migrated by a newer version of the bot than this one."""


class DuplicateReferenceError(ApartError):
    """Another young person already has this case reference."""


class InvalidReferenceError(ApartError):
    """A typed case reference was refused; the message says why in plain words."""


class InvalidDateError(ApartError):
    """A typed assessment date was refused; the message says why in plain words."""
